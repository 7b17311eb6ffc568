"""The top-k index's schema and documents: one tantivy document per entry row.

Dialog entries and text sections keep their text in fields of their own (SIDE_FIELDS).

Every list here comes from dialogfile.fields. Text fields (the searchable ones: title,
message, body, speaker, target) are tokenized like FTS5's
`unicode61 remove_diacritics 2`: runs of letters and digits (tantivy's simple
tokenizer: Rust's char::is_alphanumeric; a regex tokenizer is 5x slower), lower
case, with diacritics removed (done here in Python, only for non-ASCII text, as
searchsvc.query.fts_query.fold_token does), positions kept for phrases. Raw fast
fields hold the exact values the filters and facets use; `newest` and `oldest`
are i64 sort keys that put undated entries last in both orders; COPY_WEIGHT holds
each entry's relevance factor for the places that hold it (dialogfile.copies.copy_weight).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from typing import Any

import tantivy

from dialogfile import fields
from dialogfile.copies import copy_weight

#: The text fields: the FTS5 columns, in their order (dialogfile.fields).
TEXT_FIELDS = fields.TEXT_FIELDS
#: The two sides of the index: dialog entries keep their text in TEXT_FIELDS, text
#: sections in the same fields under another name, so a search of one scope reads only
#: that scope's postings (no filter to check on every match) and the other scope's count
#: is a pass over the other side's postings alone.
ENTRY_SIDE, SECTION_SIDE = "entries", "text"
SIDE_FIELDS = {
    ENTRY_SIDE: TEXT_FIELDS,
    SECTION_SIDE: tuple(f"s_{name}" for name in TEXT_FIELDS),
}
#: The format whose records are on SECTION_SIDE.
SECTION_FORMAT = "section"
#: Raw (untokenized) fast fields, per filter with values: exact filters and facet counts.
FACET_FIELDS = {spec.name: spec.fast_field for spec in fields.VALUE_FILTERS}
TOKENIZER = "fts5like"
#: The `oldest` key of an undated entry (the `newest` key is -1): last in both orders.
UNDATED_OLDEST = -(2**63)
#: A float fast field that a relevance search weighs scores by (Searcher.search's
#: `weight_by_field`, which multiplies a score by log2(2 + value)): for an entry whose
#: copy_count is n, 2 ** copy_weight(n) - 2, so the factor is copy_weight(n), as FTS5's
#: and the file index's scores have it (0.0 for an entry alone: the score as it is).
COPY_WEIGHT = "copy_weight"
#: The column that says how many records share an entry's copy key (sql/0009).
COPY_COUNT_COLUMN = "copy_count"

_TARGET_FILTERS = [spec for spec in fields.VALUE_FILTERS if spec.kind == fields.TARGETS]
_COLUMN_FILTERS = [spec for spec in fields.VALUE_FILTERS if spec.kind != fields.TARGETS]
_DATE_COLUMN = fields.FIELD[fields.DATE_FILTER.field].column
#: Columns read per entry, in this order: the id, the text fields, the columns of the
#: filters (the @targets come from lupo_dialog_entry_targets), the date.
ROW_COLUMNS = tuple(
    dict.fromkeys(
        (
            "dialog_entry_id",
            *(fields.FIELD[name].column for name in TEXT_FIELDS),
            *(fields.FIELD[spec.field].column for spec in _COLUMN_FILTERS),
            _DATE_COLUMN,
            COPY_COUNT_COLUMN,
        )
    )
)
_TEXT_AT = [(name, ROW_COLUMNS.index(fields.FIELD[name].column)) for name in TEXT_FIELDS]
_FAST_AT = [
    (spec.fast_field, ROW_COLUMNS.index(fields.FIELD[spec.field].column))
    for spec in _COLUMN_FILTERS
]
_DATE_AT = ROW_COLUMNS.index(_DATE_COLUMN)
_COPY_COUNT_AT = ROW_COLUMNS.index(COPY_COUNT_COLUMN)
_FORMAT_AT = ROW_COLUMNS.index(fields.FIELD["format"].column)
_SECTION_TEXT_AT = [
    (side_name, at) for side_name, (_, at) in zip(SIDE_FIELDS[SECTION_SIDE], _TEXT_AT, strict=True)
]
#: Filters whose field takes a few known values (format, copy), in FILTERS order, with
#: those values. Together they are also one integer fast field, CHOICE_KEY: each
#: filter's value is a digit (its place among the choices; past them: none of them) of a
#: mixed-radix number, the first filter's the lowest, so one flat count over it gives
#: both facets at once (searchsvc.engines.topk_counts.joint_pairs).
CHOICE_FILTERS = tuple(
    (spec.name, fields.FIELD[spec.field].choices)
    for spec in _COLUMN_FILTERS
    if spec.kind == fields.EXACT and fields.FIELD[spec.field].choices
)
CHOICE_KEY = "choices"
_CHOICE_AT = [
    (choices, ROW_COLUMNS.index(fields.FIELD[fields.FILTER[name].field].column))
    for name, choices in CHOICE_FILTERS
]
#: Which fields an index holds and how: an index whose fingerprint differs is rebuilt
#: (indexer.topk_index), so adding a filter or a searchable field needs no manual step.
FINGERPRINT = hashlib.sha256(
    json.dumps(
        [
            TOKENIZER,
            SIDE_FIELDS,
            sorted(FACET_FIELDS.items()),
            ROW_COLUMNS,
            CHOICE_FILTERS,
            [COPY_WEIGHT, "indexed", [copy_weight(n) for n in range(1, 10)]],
        ]
    ).encode()
).hexdigest()[:16]


def build_schema() -> tantivy.Schema:
    """The schema of a top-k index (the same for every generation of one format)."""
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", stored=True, indexed=True, fast=True)
    for side in SIDE_FIELDS.values():
        for name in side:
            builder.add_text_field(name, tokenizer_name=TOKENIZER, index_option="position")
    for name in FACET_FIELDS.values():
        builder.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field(CHOICE_KEY, fast=True)
    builder.add_integer_field("newest", indexed=True, fast=True)
    builder.add_integer_field("oldest", fast=True)
    # Indexed too: the few entries with copies are found by their weight's terms, not by a
    # scan of the whole column (searchsvc.engines.topk_page._weighed_best).
    builder.add_float_field(COPY_WEIGHT, fast=True, indexed=True)
    return builder.build()


def analyzer() -> tantivy.TextAnalyzer:
    """The text analyzer registered as TOKENIZER on every index."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .build()
    )


def register(index: tantivy.Index) -> tantivy.Index:
    """`index` with TOKENIZER registered (needed before writing or querying text fields)."""
    index.register_tokenizer(TOKENIZER, analyzer())
    return index


def fold(text: str) -> str:
    """`text` without diacritics (NFD, combining marks dropped); ASCII text as is."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    # Over the distinct characters only: a regex or a per-character pass is 10x slower.
    for mark in [c for c in set(decomposed) if c >= "\u0300" and unicodedata.combining(c)]:
        decomposed = decomposed.replace(mark, "")
    return decomposed


def document(
    row: tuple[Any, ...], targets: Iterable[str], schema: tantivy.Schema
) -> tantivy.Document:
    """The document of one entry row (ROW_COLUMNS order) and its target rows."""
    stamp = row[_DATE_AT]
    doc: dict[str, Any] = {
        "id": row[0],
        "newest": stamp if stamp is not None else -1,
        "oldest": -stamp if stamp is not None else UNDATED_OLDEST,
        COPY_WEIGHT: 2.0 ** copy_weight(row[_COPY_COUNT_AT] or 1) - 2.0,
    }
    for name, at in _SECTION_TEXT_AT if row[_FORMAT_AT] == SECTION_FORMAT else _TEXT_AT:
        if row[at]:
            doc[name] = fold(row[at])
    for name, at in _FAST_AT:
        if row[at] is not None:
            doc[name] = row[at]
    key, scale = 0, 1
    for choices, at in _CHOICE_AT:
        key += scale * (choices.index(row[at]) if row[at] in choices else len(choices))
        scale *= len(choices) + 1
    doc[CHOICE_KEY] = key
    values = list(targets)
    if values:
        for spec in _TARGET_FILTERS:
            doc[spec.fast_field] = values
    # One from_dict call is several times faster than a Document built field by field.
    return tantivy.Document.from_dict(doc, schema)
