"""The five measurements of issue 13, asked of the real API (`GET /api/dialog/search`).

The API is changing while this is written: `scope=entries|text|all` (JSON `scopes`),
`collapse=on|off` (JSON `folded`, hits with `also_in`) and canonical speaker facets (facet
values with `variants`) are being added. `Api.detect` asks which of them the app answers
to (a parameter it does not know is ignored today, or refused with a 400 later) and the
measurements send a parameter only where it is understood.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.lupo_names import canonical
from benchmarks.lupo_respell import DIALOG_FORMATS
from benchmarks.quality_corpus import KnownItem, Phrase, normalised, text_key

SEARCH = "/api/dialog/search"
PER_PAGE = 20


class ApiError(RuntimeError):
    """The API answered a measurement's request with an error."""


@dataclass
class Api:
    """A Flask test client (or anything with .get(path, query_string=)) of the app."""

    client: Any
    features: dict[str, bool] = field(default_factory=dict)
    engines: Counter = field(default_factory=Counter)

    def get(self, **params: Any) -> dict[str, Any]:
        """The JSON of a search; ApiError on any status but 200."""
        body, status = self.try_get(**params)
        if status != 200:
            raise ApiError(f"{SEARCH} {params} -> {status}: {str(body)[:300]}")
        self.engines[body.get("engine", "?")] += 1
        return body

    def try_get(self, **params: Any) -> tuple[dict[str, Any], int]:
        """The JSON and the status of a search."""
        answer = self.client.get(SEARCH, query_string=params)
        return answer.get_json(silent=True) or {}, answer.status_code

    def detect(self, word: str) -> dict[str, bool]:
        """Which of the new API features answer (probed with a search for `word`)."""
        body, status = self.try_get(q=word, scope="entries", per_page=PER_PAGE)
        scope = status == 200 and isinstance(body.get("scopes"), dict)
        body, status = self.try_get(q=word, collapse="off", per_page=PER_PAGE)
        collapse = status == 200 and "folded" in body
        facets, _ = self.try_get(q="", facets="speaker", per_page=1)
        values = facets.get("facets", {}).get("speaker", [])
        self.features = {
            "scope": scope,
            "collapse": collapse,
            "speaker_variants": any("variants" in v for v in values),
        }
        return self.features

    def extra(self, *, scope: str | None = None, collapse: str | None = None) -> dict[str, str]:
        """The new parameters, for the features this app has."""
        found: dict[str, str] = {}
        if scope and self.features.get("scope"):
            found["scope"] = scope
        if collapse and self.features.get("collapse"):
            found["collapse"] = collapse
        return found


def hit_paths(hit: dict[str, Any]) -> set[str]:
    """The file of a hit and the files its folded copies are in (`also_in`)."""
    paths = {hit.get("dialog_file")}
    for other in hit.get("also_in") or ():
        if isinstance(other, dict):
            other = other.get("dialog_file") or other.get("path")
        paths.add(other)
    return {p for p in paths if p}


def known_item(api: Api, items: list[KnownItem]) -> dict[str, Any]:
    """hit@1 and hit@10: the entry (or a copy: same text) first / in the top 10."""
    return score_known(items, [api.get(q=" ".join(i.words), per_page=10)["hits"] for i in items])


def _is_item(item: KnownItem, hit: dict[str, Any]) -> bool:
    """The hit is the entry or a copy of it: the same text, or the API folded the entry under
    the hit (its place is in the hit's `also_in`)."""
    if text_key(hit) == item.key:
        return True
    return any(
        isinstance(place, dict)
        and place.get("dialog_file") == item.path
        and place.get("line") == item.line
        for place in hit.get("also_in") or ()
    )


def score_known(items: list[KnownItem], answers: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """hit@1 and hit@10 of each item's top 10 (the entry or a copy, see _is_item); hit@1 by
    the same text alone; and how often the first hit is neither but has the entry's message
    (a near-copy: the same entry edited elsewhere, not folded)."""
    at1 = same_text = at10 = near = 0
    for item, hits in zip(items, answers, strict=True):
        found = [_is_item(item, hit) for hit in hits[:10]]
        at1 += bool(found) and found[0]
        same_text += bool(hits) and text_key(hits[0]) == item.key
        at10 += any(found)
        near += bool(found) and not found[0] and normalised(hits[0].get("message")) == item.message
    n = max(len(items), 1)
    return {
        "queries": len(items),
        "hit_at_1": at1 / n,
        "hit_at_1_same_text": same_text / n,
        "hit_at_10": at10 / n,
        "first_is_near_copy": near / n,
    }


def first_pages(api: Api, words: list[str]) -> list[list[dict[str, Any]]]:
    """Page 1 (PER_PAGE hits, default parameters) of each word."""
    return [api.get(q=word, per_page=PER_PAGE)["hits"] for word in words]


def page_shares(pages: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean share of page-1 hits that are dialog entries, and that repeat an earlier hit's text."""
    entry_shares, repeat_shares = [], []
    for hits in pages:
        if not hits:
            continue
        entry_shares.append(sum(h.get("format") in DIALOG_FORMATS for h in hits) / len(hits))
        seen: set[str] = set()
        repeats = 0
        for hit in hits:
            key = text_key(hit)
            repeats += key in seen
            seen.add(key)
        repeat_shares.append(repeats / len(hits))
    n = max(len(entry_shares), 1)
    return {
        "queries": len(pages),
        "queries_with_hits": len(entry_shares),
        "entry_share": sum(entry_shares) / n,
        "repeat_share": sum(repeat_shares) / n,
    }


def phrases_found(api: Api, found: list[Phrase]) -> dict[str, Any]:
    """Share of phrases found in their own file (`file=`, `scope=all` where known)."""
    hits_found, misses, front = 0, [], 0
    for phrase in found:
        params = {"q": '"' + " ".join(phrase.words) + '"', "file": phrase.path, "per_page": 5}
        hits = api.get(**params, **api.extra(scope="all"))["hits"]
        if any(phrase.path in hit_paths(hit) for hit in hits):
            hits_found += 1
        else:
            misses.append(f"{phrase.path}:{phrase.line}: {' '.join(phrase.words)}")
            front += phrase.in_front_matter
    return {
        "phrases": len(found),
        "found": hits_found / max(len(found), 1),
        "misses_in_front_matter": front,
        "misses": misses,
    }


def speaker_facet(api: Api) -> dict[str, Any]:
    """Persons under several spellings in the speaker facet of an empty search."""
    values = api.get(q="", facets="speaker", per_page=1)["facets"].get("speaker", [])
    groups: dict[str, list[str]] = {}
    for value in values:
        groups.setdefault(canonical(value["value"]), []).append(value["value"])
    several = {key: names for key, names in sorted(groups.items()) if len(names) > 1}
    return {"facet_values": len(values), "persons_with_spellings": several}


def speaker_filter(api: Api, spelling: str) -> int:
    """How many entries `speaker=<spelling>` finds (copies not folded where that is known)."""
    return int(api.get(speaker=spelling, per_page=1, **api.extra(collapse="off"))["total"])
