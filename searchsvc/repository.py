"""What every store answers: the Repository protocol and the plain types it speaks.

A repository raises StoreUnavailable (the store cannot answer now: the search stack
answers from the files), QueryError (a 400 that repeats the query) and
QueryTooExpensive; the whole tree of the domain's errors is in searchsvc/exceptions.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The facets a search may count (dialogfile.fields.FILTERS marks them).
from dialogfile.fields import FACETS
from dialogfile.model import Entry
from searchsvc.exceptions import QueryError, QueryTooExpensive
from searchsvc.exceptions import StoreUnavailable as StoreUnavailable
from searchsvc.query.budget import Cut
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import MatchQuery

SORTS = ("relevance", "newest", "oldest")
#: What a search looks in: dialog entries (the default), the text sections between
#: them, or both. A format filter, when given, says it instead.
SCOPES = ("entries", "text", "all")
#: The format of text sections (every other format is a dialog entry).
SECTION_FORMAT = "section"

#: How many places of a hit's copies a search lists (StoredEntry.also_in).
ALSO_IN_LIMIT = 10
#: What copies_of answers: per hit id, (the places of its first copies, how many in all).
Copies = dict[int, tuple[tuple[tuple[str, int, int], ...], int]]

#: How many values each facet lists (the most frequent first).
FACET_LIMIT = 30
#: How many values an engine counts per facet, for the stack to fold spellings of one
#: name (searchsvc.query.names) before it keeps FACET_LIMIT.
ENGINE_FACET_LIMIT = 500


__all__ = ["FACETS", "QueryError", "QueryTooExpensive", "Repository", "SearchPage", "SearchQuery"]


@dataclass(frozen=True)
class SearchQuery:
    """One search: full-text match (or None), filters, order and the page wanted.

    `text` is the user's `q` as given (echoed in errors); `match` is what
    fts_query made of it. `sort` is one of SORTS, `facets` a subset of FACETS, `scope`
    one of SCOPES (the search stack turns it into a format filter; an engine asked
    directly sees only the filters); `collapse` folds copies (dialogfile.copies) into
    their original, as the `copy` filter (the stack too). `typos`: when nothing
    matches, search words within an edit or two (query.typos).
    """

    match: MatchQuery | None = None
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "newest"
    page: int = 1
    per_page: int = 20
    facets: tuple[str, ...] = ()
    scope: str = "all"
    collapse: bool = False
    #: q was given but holds nothing to search for (only punctuation): every entry the
    #: filters allow is listed, and the answer says why (`notice`).
    unsearchable: bool = False
    typos: bool = True
    #: Facets the stack added only for the scopes' and the folded counts (format, copy;
    #: query.plan.engine_query): an engine may answer SearchPage.scopes / .folded itself
    #: instead of counting their values.
    scope_facets: tuple[str, ...] = ()
    #: How many postings the search reads, as its budget estimated them (searchsvc.query.
    #: budget; None: not known). An engine reads this to choose a sample over every match.
    postings: int | None = None

    @property
    def offset(self) -> int:
        """How many hits come before this page."""
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class StoredEntry:
    """An entry with its id; `snippet` is set on search hits, `before`/`after` by get_entry."""

    entry_id: int
    entry: Entry
    snippet: str | None = None
    before: int | None = None
    after: int | None = None
    #: Where the copies of this hit are (dialog_file, line, id: the first ALSO_IN_LIMIT),
    #: and how many there are: set on a folded search.
    also_in: tuple[tuple[str, int, int], ...] | None = None
    copies: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The entry's ENTRY_FIELDS plus `dialog_entry_id` (and snippet/context when set)."""
        result: dict[str, Any] = {"dialog_entry_id": self.entry_id, **self.entry.to_dict()}
        if self.snippet is not None:
            result["snippet"] = self.snippet
        if self.also_in is not None:
            result["copies"] = self.copies
            result["also_in"] = [
                {"dialog_file": path, "line": line, "dialog_entry_id": entry_id}
                for path, line, entry_id in self.also_in
            ]
        return result


@dataclass(frozen=True)
class FacetCount:
    """One value of a facet and how many matching entries carry it.

    `variants`: for a name facet, every spelling counted (the most common first).
    """

    value: str
    count: int
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchPage:
    """One page of hits plus the numbers about the whole matching set.

    `total_exact` / `facets_exact` are False when the store estimated them from
    a uniform sample of the matches (see repo_sqlite); `ranked` is how many
    matches relevance ranking looked at when it did not rank them all (None
    when it ranked every match). `engine` names the index that answered when the
    source has more than one (the database: "topk" or "fts5"); None means the
    source's only one. `scopes`: the matches of this search in each scope (entries,
    text), set by the search stack when the search has a scope; `folded`: how many
    matches are copies folded into the hits shown (None: the search did not fold).
    `corrected` maps each word typo correction replaced to the word searched instead
    (searchsvc.query.typos); empty when none was. `cuts`: what the search's budget left
    out (searchsvc.query.budget), by the plan or by the engine; empty: nothing.
    """

    hits: tuple[StoredEntry, ...]
    total: int
    source: str
    facets: dict[str, tuple[FacetCount, ...]] = field(default_factory=dict)
    total_exact: bool = True
    facets_exact: bool = True
    ranked: int | None = None
    engine: str | None = None
    scopes: dict[str, int] | None = None
    folded: int | None = None
    corrected: dict[str, str] = field(default_factory=dict)
    cuts: tuple[Cut, ...] = ()


class Repository(Protocol):
    """What the API and the write service ask: the search stack (searchsvc.stack).

    A single store (SqliteRepository, FileRepository) is one too, for tests and tools.
    `source` is where answers come from now: "database" or "files".
    """

    source: str

    def search(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets for `query`; raises StoreUnavailable or QueryError."""
        ...

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """The entry with `entry_id` and its neighbours in the file, or None."""
        ...

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """Counts per speaker, target, mood, file, format and day; pairs; totals.

        With a query, the counts cover the entries it matches (filters included).
        """
        ...

    def health(self) -> dict[str, Any]:
        """What a person needs to see whether this store answers, and why not."""
        ...

    def reload_file(self, rel: str) -> None:
        """Tell the store that the file `rel` (relative to the root) changed on disk."""
        ...

    def database_behind(self, reason: str) -> None:
        """A write reached the files but not the database (answer from the files if you can)."""
        ...

    def close(self) -> None:
        """Release connections and stop background work."""
        ...
