"""One page of a SQLite answer: its ids in date order, then its entries as hits.

`load_hits` (an Entry per row, with its snippet for the query) is shared by the
engines that find ids elsewhere (FTS5, the top-k index) and read the entries
themselves from SQLite.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dialogfile.model import ENTRY_FIELDS, Entry
from searchsvc.engines import sqlite_sql as sql
from searchsvc.engines.snippets import Highlighter, make_snippet
from searchsvc.query.fts_query import QueryError, parse_raw
from searchsvc.repository import SearchQuery, StoredEntry

if TYPE_CHECKING:
    from indexer.database import Connection


def ordered_ids(
    conn: Connection,
    where: sql.Where,
    sort: str,
    offset: int,
    limit: int,
    index: str | None = None,
) -> list[int]:
    """One page of ids in `where` by date: newest first, or oldest first; undated last."""
    if sort != "oldest":
        order = "e.timestamp_utc DESC, e.dialog_entry_id DESC"
        text = sql.select_ids(where, order, index=index)
        return [row[0] for row in conn.execute(text, [*where.params, limit, offset])]
    dated = where.extended("e.timestamp_utc IS NOT NULL")
    text = sql.select_ids(dated, "e.timestamp_utc, e.dialog_entry_id", index=index)
    first = [row[0] for row in conn.execute(text, [*dated.params, limit, offset])]
    if len(first) == limit:
        return first
    if first:
        dated_count = offset + len(first)
    else:
        dated_count = conn.execute(sql.count_where(dated), dated.params).fetchone()[0]
    undated = where.extended("e.timestamp_utc IS NULL")
    text = sql.select_ids(undated, "e.dialog_entry_id", index=index)
    params = [*undated.params, limit - len(first), max(0, offset - dated_count)]
    return first + [row[0] for row in conn.execute(text, params)]


def load_hits(
    conn: Connection, ids: list[int], highlighter: Highlighter
) -> tuple[StoredEntry, ...]:
    """The entries `ids` (in that order, those still there) with their snippets."""
    if not ids:
        return ()
    rows = {row[0]: row for row in conn.execute(sql.SELECT_ENTRIES_BY_IDS, (json.dumps(ids),))}
    hits = []
    for entry_id in ids:
        row = rows.get(entry_id)
        if row is None:
            continue
        entry = entry_from_row(row)
        snippet = make_snippet([entry.message, entry.title, entry.body], highlighter)
        hits.append(StoredEntry(entry_id, entry, snippet=snippet))
    return tuple(hits)


def highlighter_for(query: SearchQuery) -> Highlighter:
    """What the snippets of `query`'s hits mark: the phrases it asks for."""
    match = query.match
    if match is None:
        return Highlighter([])
    if match.raw is not None:
        try:
            return Highlighter(parse_raw(match.raw).positive_phrases())
        except QueryError:
            return Highlighter([])
    return Highlighter(match.positive_phrases())


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """An Entry from a row in sqlite_sql.ENTRY_COLUMNS order (its id, then ENTRY_FIELDS)."""
    fields = dict(zip(ENTRY_FIELDS, row[1:], strict=True))
    try:
        metadata = json.loads(fields["metadata"]) if fields["metadata"] else {}
    except ValueError:
        metadata = {}
    fields["metadata"] = metadata if isinstance(metadata, dict) else {}
    fields["body"] = fields["body"] or ""
    return Entry(**fields)
