"""The query kinds measured, as request paths for our API and for Datasette.

The generator's mix is in FTS5 syntax (term, two_terms, "phrase", pre*, term +
speaker). Both servers get the same meaning: our `q` is user text, where a
completed word is followed by a space (otherwise the last word is also searched
as a prefix, as while typing: that is the `as_you_type` kind); Datasette gets
the FTS5 text with `_searchmode=raw` (its default mode would quote `pre*` and
the phrase quotes away). Both ask for 20 hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from benchmarks.raw_load import TABLE

#: Query kinds, in table order: the generator's five, then variants of `term`.
KINDS = (
    "term",
    "two_terms",
    "phrase",
    "prefix",
    "term+speaker",
    "as_you_type",
    "facets",
    "newest",
)
#: The generator's kind each measured kind takes its queries from.
SOURCE_KIND = {"as_you_type": "term", "facets": "term", "newest": "term"}
PER_PAGE = 20
OUR_FACETS = "speaker,target,mood,file"
DATASETTE_FACETS = ("speaker", "target", "mood_rgb", "dialog_file")
DATASETTE_DB = "raw"


def queries_of(mix: Sequence[dict[str, str]], kind: str) -> list[dict[str, str]]:
    """The mix's queries that `kind` uses, in order."""
    source = SOURCE_KIND.get(kind, kind)
    return [query for query in mix if query["kind"] == source]


def our_path(query: dict[str, str], kind: str) -> str:
    """GET path of /api/dialog/search for one query of `kind`."""
    text = query["q"]
    params: dict[str, str] = {
        "q": text if kind in ("prefix", "phrase", "as_you_type") else text + " ",
        "per_page": str(PER_PAGE),
        "sort": "newest" if kind == "newest" else "relevance",
    }
    if query.get("speaker"):
        params["speaker"] = query["speaker"]
    if kind == "facets":
        params["facets"] = OUR_FACETS
    return "/api/dialog/search?" + urlencode(params)


def datasette_path(query: dict[str, str], kind: str, *, shape_array: bool) -> str:
    """GET path of Datasette's table JSON with `_search` for one query of `kind`."""
    text = query["q"]
    params: list[tuple[str, str]] = [
        ("_search", text + "*" if kind == "as_you_type" else text),
        ("_searchmode", "raw"),
        ("_size", str(PER_PAGE)),
    ]
    if query.get("speaker"):
        params.append(("speaker", query["speaker"]))
    if kind == "facets":
        params.extend(("_facet", column) for column in DATASETTE_FACETS)
    if kind == "newest":
        params.append(("_sort_desc", "timestamp_utc"))
    if shape_array:
        params.append(("_shape", "array"))
    return f"/{DATASETTE_DB}/{TABLE}.json?" + urlencode(params)
