"""What the Meilisearch index holds: its settings, the documents, their ids, filter expressions.

Pure data and pure functions (indexer/meili_client.py talks to the server,
indexer/push_meili.py pushes the database).

Ids: our `dialog_entry_id` (an int in 1..2**53-1) becomes the document id
`e<decimal id>`, e.g. `e4521`, which always matches Meilisearch's rule for ids
(`[A-Za-z0-9_-]{1,511}`); the int is kept in the document as `dialog_entry_id`.
The primary key attribute is `id`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from dialogfile.fields import DATE_FILTER, FILTERS, TARGETS, TEXT_FIELDS
from indexer.meili_sync import IndexedEntry

PRIMARY_KEY = "id"
#: Meilisearch's rule for document ids (its docs: "Primary field").
DOCUMENT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,511}")

#: The searchable fields, in FTS5 column order (Meilisearch ranks earlier ones higher).
SEARCHABLE_ATTRIBUTES = list(TEXT_FIELDS)
#: The attributes of the filters (dialogfile.fields.FILTERS), in their order.
FILTERABLE_ATTRIBUTES = [
    *(
        attribute
        for spec in FILTERS
        # A path filter's document also lists every folder above the path ("a/", "a/b/"),
        # so `file=a/` is an equality filter.
        for attribute in (spec.meili_attribute, spec.meili_folders)
        if attribute
    ),
    # Internal: which version of its file a document came from, so stale documents
    # of a changed file are deleted by one filter without knowing their ids.
    "file_version",
]
SORTABLE_ATTRIBUTES = [DATE_FILTER.meili_attribute]
# Meilisearch's default rules, then newest first as the last tie-breaker.
RANKING_RULES = [
    "words",
    "typo",
    "proximity",
    "attribute",
    "sort",
    "exactness",
    f"{DATE_FILTER.meili_attribute}:desc",
]
#: Largest total a search reports exactly (Meilisearch's default is 1000).
MAX_TOTAL_HITS = 10_000
#: Most values a facet lists (Meilisearch's default is 100).
MAX_VALUES_PER_FACET = 500
INDEX_SETTINGS: dict[str, Any] = {
    "searchableAttributes": SEARCHABLE_ATTRIBUTES,
    "filterableAttributes": FILTERABLE_ATTRIBUTES,
    "sortableAttributes": SORTABLE_ATTRIBUTES,
    "rankingRules": RANKING_RULES,
    "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    # Most frequent values first, so a long facet loses only its rarest values.
    "faceting": {"maxValuesPerFacet": MAX_VALUES_PER_FACET, "sortFacetValuesBy": {"*": "count"}},
}


def document_id(dialog_entry_id: int) -> str:
    """The Meilisearch id of an entry: `e` and the decimal id; ValueError if out of range."""
    if isinstance(dialog_entry_id, bool) or not isinstance(dialog_entry_id, int):
        raise ValueError(f"dialog_entry_id must be an int, not {dialog_entry_id!r}")
    if dialog_entry_id <= 0:
        raise ValueError(f"dialog_entry_id must be positive, not {dialog_entry_id}")
    return f"e{dialog_entry_id}"


def entry_id_from_document_id(doc_id: str) -> int:
    """The `dialog_entry_id` behind a Meilisearch id made by `document_id`."""
    if not (doc_id.startswith("e") and doc_id[1:].isascii() and doc_id[1:].isdigit()):
        raise ValueError(f"not an entry document id: {doc_id!r}")
    return int(doc_id[1:])


def file_version(dialog_file: str, content_hash: str) -> str:
    """A short key for one version of one file (its path and content together)."""
    return hashlib.sha256(f"{dialog_file}\0{content_hash}".encode()).hexdigest()[:24]


def folders_of(dialog_file: str) -> list[str]:
    """Every folder that holds `dialog_file`, outermost first, each ending in '/'."""
    parts = dialog_file.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def entry_document(stored: IndexedEntry, version: str) -> dict[str, Any]:
    """One entry as a Meilisearch document: the entry's fields, its id, its @targets."""
    document = {
        PRIMARY_KEY: document_id(stored.dialog_entry_id),
        "dialog_entry_id": stored.dialog_entry_id,
        **stored.fields,
        # A JSON string, not an object: free-form keys would each become an index field.
        "metadata_json": stored.metadata_json,
        "file_version": version,
    }
    for spec in FILTERS:
        if spec.kind == TARGETS:
            document[spec.meili_attribute] = list(stored.targets)
        elif spec.meili_folders:
            document[spec.meili_folders] = folders_of(stored.fields[spec.field])
    return document


def filter_value(value: str | int) -> str:
    """A value for a filter expression: a number as is, text double-quoted and escaped.

    Inside a quoted filter string Meilisearch reads `\\"` as `"` and `\\\\` as `\\`
    (since v1.4), so backslashes are doubled first, then quotes escaped.
    """
    if isinstance(value, bool):
        raise ValueError("a filter value cannot be a bool")
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_filter(attribute: str, values: Iterable[str | int]) -> str:
    """`attribute IN [v1, v2, ...]` with every value quoted and escaped."""
    return f"{attribute} IN [{', '.join(filter_value(value) for value in values)}]"
