"""The fields of an entry, declared once: every store and search engine derives its lists here.

Pure data, no I/O. From FIELDS come the entry field order (`parse --ndjson`, Entry.to_dict),
the stored columns of `lupo_dialog_entries`, the FTS5 columns and their bm25 weights, the
top-k index's text fields and row columns, and Meilisearch's searchable attributes.

The SQL migrations cannot be generated from this module (a merged migration never
changes); tests/test_fields.py holds them to it, so a change here without a migration
(or the other way round) fails there.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The four dialog formats of ../shared/corpus/README.md plus "section": text of a
#: file that lies outside every entry (kept so that every word stays findable).
FORMATS = ("header", "inline", "bold", "begin_end", "section")


@dataclass(frozen=True)
class Field:
    """One field of an entry.

    `name` is the Entry attribute and the key `dialogsearch parse --ndjson` prints;
    `column` is its column in lupo_dialog_entries (the same name unless said). A field
    with a `weight` is searchable full text: FTS5 column number `fts_position` ranked
    with that bm25 weight, a tantivy text field boosted by it, and a Meilisearch
    searchable attribute (in FTS5 column order).
    """

    name: str
    column: str = ""
    weight: float | None = None
    fts_position: int | None = None

    def __post_init__(self) -> None:
        if not self.column:
            object.__setattr__(self, "column", self.name)
        if (self.weight is None) != (self.fts_position is None):
            raise ValueError(f"{self.name}: a searchable field needs a weight and a position")

    @property
    def searchable(self) -> bool:
        """Whether the field is indexed as full text."""
        return self.weight is not None


#: Every field of an entry, in the order `parse --ndjson` prints them.
FIELDS = (
    Field("dialog_file"),
    Field("format"),
    Field("speaker", weight=2.0, fts_position=3),
    Field("target", weight=1.0, fts_position=4),
    Field("mood_rgb"),
    Field("mood_raw"),
    Field("timestamp_utc"),
    Field("message", weight=4.0, fts_position=1),
    Field("title", weight=4.0, fts_position=0),
    Field("body", weight=1.0, fts_position=2),
    Field("system_version"),
    Field("line"),
    Field("end_line"),
    # Free-form keys: stored as JSON text, never indexed one by one.
    Field("metadata", column="metadata_json"),
)
FIELD = {field.name: field for field in FIELDS}

#: Field names of an entry, in order.
ENTRY_FIELDS = tuple(field.name for field in FIELDS)
#: The columns of lupo_dialog_entries that hold an entry: its id, then FIELDS' columns.
STORED_ENTRY_COLUMNS = ("dialog_entry_id", *(field.column for field in FIELDS))
#: The searchable fields in FTS5 column order (the FTS5 column is the field's name).
TEXT_FIELDS = tuple(
    field.name
    for field in sorted((f for f in FIELDS if f.searchable), key=lambda f: f.fts_position or 0)
)
#: bm25 weights, in TEXT_FIELDS order.
TEXT_WEIGHTS = tuple(float(FIELD[name].weight or 0) for name in TEXT_FIELDS)
