"""The fields of an entry and the search filters, declared once: every engine derives from here.

Pure data, no I/O. From FIELDS come the entry field order (`parse --ndjson`, Entry.to_dict),
the stored columns of `lupo_dialog_entries`, the FTS5 columns and their bm25 weights, the
top-k index's text fields and row columns, and Meilisearch's searchable attributes.

From FILTERS come the Filters value (searchsvc.query.filters), the query parameters and the
`name:` operators of q, the facets, the top-k index's fast fields (and its fingerprint:
an index of other fields is rebuilt), Meilisearch's filterable attributes, the OpenAPI
parameters, and the in-memory attributes (searchsvc.engines.matching.EntryAttrs). Each engine
compiles a filter by its kind, so a new filter of an existing kind is one entry here.

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
    `type` is its JSON type (string, integer, object), `nullable` whether it may be
    null, `choices` the only values it takes (when set); `column` is its column in
    lupo_dialog_entries (the same name unless said). A field with a `weight` is
    searchable full text: FTS5 column number `fts_position` ranked with that bm25
    weight, a tantivy text field boosted by it, and a Meilisearch searchable attribute
    (in FTS5 column order).
    """

    name: str
    type: str = "string"
    nullable: bool = True
    column: str = ""
    weight: float | None = None
    fts_position: int | None = None
    choices: tuple[str, ...] = ()

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
    Field("dialog_file", nullable=False),
    Field("format", nullable=False, choices=FORMATS),
    Field("speaker", weight=2.0, fts_position=3),
    Field("target", weight=1.0, fts_position=4),
    Field("mood_rgb"),
    Field("mood_raw"),
    Field("timestamp_utc", "integer"),
    Field("message", weight=4.0, fts_position=1),
    Field("title", weight=4.0, fts_position=0),
    Field("body", nullable=False, weight=1.0, fts_position=2),
    Field("system_version"),
    Field("line", "integer", nullable=False),
    Field("end_line", "integer", nullable=False),
    # Free-form keys: stored as JSON text, never indexed one by one.
    Field("metadata", "object", nullable=False, column="metadata_json"),
)
#: Fields the store derives from every file together, not the parser from one: stored
#: as columns of lupo_dialog_entries and filtered on, but no part of an Entry. `copy`
#: says whether a record is the original of its copies (dialogfile.copies).
STORE_FIELDS = (Field("copy", nullable=False, column="copy_state", choices=("original", "copy")),)
FIELD = {field.name: field for field in (*FIELDS, *STORE_FIELDS)}

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


# ---- filters -------------------------------------------------------------------------

#: Filter kinds: how a filter's values select entries. Each engine compiles each kind
#: once (searchsvc.engines.sqlite_sql.filter_where, searchsvc.engines.matching.FilterCheck,
#: searchsvc.engines.topk_query.filter_queries, searchsvc.engines.meili_query.meili_filter).
EXACT = "exact"  # the field equals one of the values
TARGETS = "targets"  # one of the entry's @targets is a value (with or without its '@')
MOOD = "mood"  # the colour is one of the 6-hex values, or in one of the named families
PATH = "path"  # the file is one of the paths, or lies below one of them taken as a folder
DATE = "date"  # the timestamp lies between `since` and `until`; undated entries never do
KINDS = (EXACT, TARGETS, MOOD, PATH, DATE)

#: The query parameters (and q operators) of the date range: its first day, its last.
SINCE_PARAMETERS = ("from", "since")
UNTIL_PARAMETERS = ("to", "until")


@dataclass(frozen=True)
class Filter:
    """One search filter over one entry field.

    `name` is the query parameter, the `name:` operator in q, the facet's name and the
    key of the filter's values in searchsvc.query.filters.Filters (`name` + "s" is its
    keyword there: Filters(speakers=...)); a DATE filter is read from SINCE_PARAMETERS
    and UNTIL_PARAMETERS instead; it accepts only its field's `choices` when it has
    some (in any case). `fast_field` is the raw fast field of the top-k index that holds the
    values; `meili_attribute` the filterable Meilisearch attribute (`meili_folders`: the
    one listing every folder above a PATH filter's path). `description` documents the
    parameter (searchsvc.web.openapi). A `names` filter compares people's names by
    their canonical key (dialogfile.names): any spelling finds every spelling.
    """

    name: str
    field: str
    kind: str
    fast_field: str
    meili_attribute: str
    description: str = ""
    facet: bool = False
    meili_folders: str = ""
    names: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown filter kind {self.kind!r}")
        if self.field not in FIELD:
            raise ValueError(f"{self.name}: no entry field {self.field!r}")

    @property
    def keyword(self) -> str:
        """The keyword of its values in Filters(...): the name plus "s"."""
        return f"{self.name}s"


#: Every filter, in the order engines apply them (and list them in documentation).
FILTERS = (
    Filter(
        "speaker",
        "speaker",
        EXACT,
        fast_field="f_speaker",
        meili_attribute="speaker",
        description="By this speaker, any spelling (repeat or comma-separate for several)",
        facet=True,
        names=True,
    ),
    Filter(
        "target",
        "target",
        TARGETS,
        fast_field="f_target",
        meili_attribute="targets",
        description="Entries addressed to this @target, any spelling (with or without the @)",
        facet=True,
        names=True,
    ),
    Filter(
        "mood",
        "mood_rgb",
        MOOD,
        fast_field="f_mood",
        meili_attribute="mood_rgb",
        description="6 hex digits (FF0000, #ff0000) or a colour family",
        facet=True,
    ),
    Filter(
        "file",
        "dialog_file",
        PATH,
        fast_field="f_file",
        meili_attribute="dialog_file",
        meili_folders="dialog_folders",
        description="A file path relative to the root, or a folder (prefix)",
        facet=True,
    ),
    Filter(
        "format",
        "format",
        EXACT,
        fast_field="f_format",
        meili_attribute="format",
        description="The entry's format",
        facet=True,
    ),
    Filter(
        "system_version",
        "system_version",
        EXACT,
        fast_field="f_system_version",
        meili_attribute="system_version",
        description="Entries written under this system version (e.g. 4.0.46)",
    ),
    Filter(
        "copy",
        "copy",
        EXACT,
        fast_field="f_copy",
        meili_attribute="copy",
        description="original: one of each set of copies (what collapse=on shows); copy: the rest",
        facet=True,
    ),
    Filter(
        "date",
        "timestamp_utc",
        DATE,
        # The top-k index's i64 date key (undated entries hold -1, below every date).
        fast_field="newest",
        meili_attribute="timestamp_utc",
    ),
)
FILTER = {spec.name: spec for spec in FILTERS}
#: The filters that hold values (every kind but DATE), in FILTERS order.
VALUE_FILTERS = tuple(spec for spec in FILTERS if spec.kind != DATE)
#: The date range filter.
DATE_FILTER = next(spec for spec in FILTERS if spec.kind == DATE)
#: The facets a search may count, in FILTERS order.
FACETS = tuple(spec.name for spec in FILTERS if spec.facet)
#: The `name:` operators of q (and the filter query parameters).
OPERATORS = (*(spec.name for spec in VALUE_FILTERS), *SINCE_PARAMETERS, *UNTIL_PARAMETERS)
