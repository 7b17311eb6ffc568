"""The top-k index's schema and documents: one tantivy document per entry row.

Text fields (title, message, body, speaker, target) are tokenized like FTS5's
`unicode61 remove_diacritics 2`: runs of letters and digits (tantivy's simple
tokenizer: Rust's char::is_alphanumeric; a regex tokenizer is 5x slower), lower
case, with diacritics removed (done here in Python, only for non-ASCII text, as
searchsvc.fts_query.fold_token does), positions kept for phrases. Raw fast
fields hold the exact values the filters and facets use; `newest` and `oldest`
are i64 sort keys that put undated entries last in both orders.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

import tantivy

from indexer import fields

#: The text fields: the FTS5 columns, in their order (indexer.fields).
TEXT_FIELDS = fields.TEXT_FIELDS
#: Raw (untokenized) fast fields, per facet name: exact filters and facet counts.
FACET_FIELDS = {
    "speaker": "f_speaker",
    "target": "f_target",
    "mood": "f_mood",
    "file": "f_file",
    "format": "f_format",
}
TOKENIZER = "fts5like"
#: The `oldest` key of an undated entry (the `newest` key is -1): last in both orders.
UNDATED_OLDEST = -(2**63)

#: Columns read per entry, in this order; targets come from lupo_dialog_entry_targets.
ROW_COLUMNS = (
    "dialog_entry_id",
    "title",
    "message",
    "body",
    "speaker",
    "target",
    "mood_rgb",
    "dialog_file",
    "format",
    "timestamp_utc",
)


def build_schema() -> tantivy.Schema:
    """The schema of a top-k index (the same for every generation of one format)."""
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", stored=True, indexed=True, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=TOKENIZER, index_option="position")
    for name in FACET_FIELDS.values():
        builder.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("newest", indexed=True, fast=True)
    builder.add_integer_field("oldest", fast=True)
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
    entry_id, title, message, body, speaker, target, mood, dialog_file, fmt, stamp = row
    fields: dict[str, Any] = {
        "id": entry_id,
        "f_format": fmt,
        "newest": stamp if stamp is not None else -1,
        "oldest": -stamp if stamp is not None else UNDATED_OLDEST,
    }
    for name, value in zip(TEXT_FIELDS, (title, message, body, speaker, target), strict=True):
        if value:
            fields[name] = fold(value)
    for name, value in (("speaker", speaker), ("mood", mood), ("file", dialog_file)):
        if value is not None:
            fields[FACET_FIELDS[name]] = value
    values = list(targets)
    if values:
        fields[FACET_FIELDS["target"]] = values
    # One from_dict call is several times faster than a Document built field by field.
    return tantivy.Document.from_dict(fields, schema)
