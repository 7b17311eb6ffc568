"""SqliteRepository: search, entries, stats and health from the SQLite + FTS5 database.

Connections are read-only, one per thread, reopened when the database file is
replaced. Before each read the file must still exist under its path with the
inode we opened (an open connection to an unlinked file does not count), and a
changed file must still start with the SQLite header. A missing, unreadable,
corrupt or locked database, or a query stopped by the time limit while the
database itself is slow, raises StoreUnavailable; a query stopped by the time
limit on a healthy database raises QueryTooExpensive (a 400: "no input gives a 5xx").

What the speed tricks change for users (all exact up to CANDIDATE_LIMIT matches):
- Matches are read in rowid order. Ids are hashes, so the first N matches by id
  are a uniform random sample of all matches.
- When a query matches more than CANDIDATE_LIMIT entries, relevance ranks that
  sample (extended until the page is full) instead of every match: the best hits
  are among the best of the sample; `ranked` says how many were ranked.
- Then facet counts are the sample's counts scaled to the whole match count
  (`facets_exact: false`); with filters the total is estimated the same way
  (`total_exact: false`); without filters it is exact. sort=newest/oldest stays exact.
- Totals, facets, match samples and stats are cached per database version
  (PRAGMA data_version), so any write empties the cache.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer.model import Entry
from searchsvc import sqlite_sql as sql
from searchsvc.filters import Filters, mood_family, target_variants
from searchsvc.fts_query import QueryError, match_expression, parse_raw, tokenize
from searchsvc.matching import (
    EntryAttrs,
    FilterCheck,
    count_facets,
    day_of,
    newest_key,
    oldest_key,
    top_counts,
)
from searchsvc.repository import (
    FACET_LIMIT,
    FacetCount,
    QueryTooExpensive,
    SearchPage,
    SearchQuery,
    StoredEntry,
    StoreUnavailable,
)
from searchsvc.snippets import Highlighter, make_snippet

log = logging.getLogger("searchsvc.repo_sqlite")

SQLITE_HEADER = b"SQLite format 3\x00"
MAX_ID = 2**63 - 1
#: Stats read everything; they may take this many times the query time limit.
STATS_TIME_FACTOR = 10
PAIRS_LIMIT = 500
MMAP_BYTES = 0
_PROGRESS_STEPS = 10_000
#: Rough bytes the answer cache may hold (see _footprint); least recently used go first.
CACHE_BYTES = 32_000_000


class _Local(threading.local):
    conn: sqlite3.Connection | None = None
    identity: tuple[int, int] | None = None
    epoch: int = 0
    data_version: int | None = None
    deadline: float | None = None
    validator: sqlite3.Connection | None = None


class _Rows(Sequence[tuple[int, float]]):
    """(id, relevance) pairs held in two arrays: 16 bytes a match instead of about 120."""

    __slots__ = ("ids", "scores")

    def __init__(self, rows: Iterable[tuple[int, float]] = ()) -> None:
        pairs = list(rows)
        self.ids = array("q", [pair[0] for pair in pairs])
        self.scores = array("d", [pair[1] for pair in pairs])

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return zip(self.ids, self.scores, strict=True)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return _Rows(zip(self.ids[index], self.scores[index], strict=True))
        return (self.ids[index], self.scores[index])


@dataclass(frozen=True)
class _Matches:
    """The matches of one expression read so far, in rowid order, with relevance."""

    rows: _Rows
    complete: bool
    attrs: dict[int, EntryAttrs] = field(default_factory=dict)
    total: int | None = None


def _footprint(value: Any) -> int:
    """Rough bytes a cached value holds (matches: 16 a row, about 260 an entry's attributes)."""
    if isinstance(value, _Matches):
        return 100 + 16 * len(value.rows) + 260 * len(value.attrs)
    if isinstance(value, list):
        return 100 + 100 * len(value)
    return 100


def _interned(value: str | None) -> str | None:
    """One shared string object per distinct speaker, mood, file or format."""
    return None if value is None else sys.intern(value)


class _Cache:
    """A small thread-safe LRU of computed answers; keys carry the database generation.

    Bounded by `size` items and by `max_bytes` as _footprint estimates them.
    """

    def __init__(self, size: int, max_bytes: int = CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._bytes: dict[Any, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The cached value for `key`, computing (outside the lock) and storing it if absent."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        self.put(key, value)
        return value

    def put(self, key: Any, value: Any) -> None:
        """Store `value`, dropping the least recently used items beyond the size."""
        size = _footprint(value)
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._total += size - self._bytes.get(key, 0)
            self._bytes[key] = size
            while len(self._items) > 1 and (
                len(self._items) > self.size or self._total > self.max_bytes
            ):
                dropped, _ = self._items.popitem(last=False)
                self._total -= self._bytes.pop(dropped)


def store_error(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable for a database error raised elsewhere (e.g. by reindex), else None.

    The error or one of its causes (a MigrationError wraps the sqlite3 error) counts;
    undecodable text read from the database is corruption.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, sqlite3.Error):
            return _classify(cause)
        if isinstance(cause, UnicodeDecodeError):
            return _corrupt_text(cause)
        cause = cause.__cause__
    return None


def _corrupt_text(error: UnicodeDecodeError) -> StoreUnavailable:
    """Text in the database (or its schema) that is not UTF-8: a damaged file."""
    return StoreUnavailable(
        f"the database is corrupt (text is not UTF-8: {error.reason})", "corrupt"
    )


def _classify(error: sqlite3.Error) -> StoreUnavailable:
    """A StoreUnavailable naming what went wrong (the message holds no file path)."""
    message = str(error)
    lowered = message.lower()
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in lowered or "busy" in lowered:
            return StoreUnavailable(f"the database is locked ({message})", "locked")
        if "unable to open" in lowered:
            return StoreUnavailable("the database file cannot be opened", "missing")
        if "no such table" in lowered or "no such index" in lowered:
            return StoreUnavailable(f"the database has no dialog tables ({message})", "empty")
        if "interrupted" in lowered:
            return StoreUnavailable("the database did not answer within the time limit", "timeout")
        return StoreUnavailable(f"the database failed ({message})", "error")
    return StoreUnavailable(f"the database is corrupt ({message})", "corrupt")


class SqliteRepository:
    """The Repository over one SQLite database file (read-only)."""

    name = "fts5"
    source = "database"

    def __init__(
        self,
        db_path: str | Path,
        *,
        time_limit_ms: int = 1500,
        busy_timeout_ms: int = 1000,
        candidate_limit: int = 2000,
        cache_size: int = 128,
    ) -> None:
        self.db_path = Path(db_path).absolute()
        self.time_limit = time_limit_ms / 1000
        self.busy_timeout_ms = busy_timeout_ms
        self.candidate_limit = max(1, candidate_limit)
        self._local = _Local()
        self._lock = threading.Lock()
        self._connections: set[sqlite3.Connection] = set()
        # Connections inside _reading now: close() leaves them to their own thread, as
        # closing one under a running statement (and its progress handler) can crash.
        self._busy: set[sqlite3.Connection] = set()
        self._generation = 0
        self._epoch = 0  # bumped by close(): threads then reopen instead of using a closed one
        self._wal_inode: int | None = None  # the -wal file our open connections read through
        self._checked_stamp: tuple[int, int, int] | None = None
        self._cache = _Cache(cache_size)

    # ---- connections and failures ------------------------------------------------

    def _check_file(self) -> os.stat_result:
        """The database file's stat; StoreUnavailable when it is gone or not SQLite."""
        try:
            stat = os.stat(self.db_path)
        except FileNotFoundError:
            raise StoreUnavailable("the database file is missing", "missing") from None
        except OSError as error:
            raise StoreUnavailable(
                f"the database file cannot be read ({error.strerror})", "unreadable"
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._checked_stamp:
            if stat.st_size == 0:
                raise StoreUnavailable("the database file is empty", "empty")
            try:
                with open(self.db_path, "rb") as handle:
                    header = handle.read(len(SQLITE_HEADER))
            except OSError as error:
                raise StoreUnavailable(
                    f"the database file cannot be read ({error.strerror})", "unreadable"
                ) from None
            if header != SQLITE_HEADER:
                raise StoreUnavailable("the database file is not a SQLite database", "corrupt")
            self._checked_stamp = stamp
        self._check_wal()
        return stat

    def _check_wal(self) -> None:
        """StoreUnavailable("behind") when the -wal file was removed or replaced under us.

        SQLite never deletes or replaces the WAL while another connection (ours) is
        open, so someone else did, and the commits it held are gone from the
        database: the files hold them, and recovery syncs them back.
        """
        try:
            inode: int | None = os.stat(f"{self.db_path}-wal").st_ino
        except OSError:
            inode = None
        with self._lock:
            seen = self._wal_inode
            if seen is not None and inode != seen and self._connections:
                raise StoreUnavailable(
                    "the database's -wal file was removed or replaced under the service; "
                    "its last commits are re-read from the files",
                    "behind",
                )
            if inode is not None or not self._connections:
                self._wal_inode = inode

    def _open(self) -> sqlite3.Connection:
        uri = f"{self.db_path.as_uri()}?mode=ro"
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.busy_timeout_ms / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            # No memory-mapped reads (mmap_size 0): a database file truncated under a
            # mapping kills the whole server with SIGBUS instead of a fallback to the files.
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # Check b-tree cell sizes as pages are read: a damaged page is then an
            # SQLITE_CORRUPT error (and a fallback) more often than a crash.
            conn.execute("PRAGMA cell_size_check = ON")
            conn.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)
            if conn.execute(sql.CHECK_SCHEMA).fetchone() is None:
                raise StoreUnavailable("the database has no dialog tables", "empty")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._connections.add(conn)
        return conn

    def _past_deadline(self) -> int:
        deadline = self._local.deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0

    def _connection(self) -> sqlite3.Connection:
        stat = self._check_file()
        local = self._local
        identity = (stat.st_dev, stat.st_ino)
        if local.conn is not None and (local.identity != identity or local.epoch != self._epoch):
            self._drop_connection()
        if local.conn is None:
            local.epoch = self._epoch
            local.conn = self._open()
            local.identity = identity
            local.data_version = None
        return local.conn

    def _drop_connection(self) -> None:
        conn, self._local.conn = self._local.conn, None
        self._local.identity = None
        if conn is not None:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _sync_generation(self, conn: sqlite3.Connection, before: int) -> int:
        """The cache generation, bumped when this connection sees another's commit.

        `before` is the generation read before this request's snapshot was taken: when
        the connection saw no commit, that one (not a later bump by another thread, made
        for a newer snapshot than ours) labels what this request caches.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._local.data_version:
            with self._lock:
                self._generation += 1
                bumped = self._generation
            self._local.data_version = version
            return bumped
        return before

    @contextmanager
    def _reading(self, time_limit: float | None = None) -> Iterator[tuple[sqlite3.Connection, int]]:
        """(connection, generation) for one request's reads, failures mapped (see module doc)."""
        local = self._local
        conn = None
        try:
            conn = self._claim()
            # One read transaction per request: every statement sees the same snapshot, so
            # matches read in one statement still exist when the next reads their rows.
            before = self._generation
            conn.execute("BEGIN")
            conn.execute(sql.PROBE).fetchone()
            generation = self._sync_generation(conn, before)
            local.deadline = time.monotonic() + (time_limit or self.time_limit)
            yield conn, generation
        except StoreUnavailable:
            self._drop_connection()
            raise
        except sqlite3.OperationalError as error:
            if "interrupted" in str(error).lower() and self._answers_quickly():
                raise QueryTooExpensive(
                    f"The search took longer than {self.time_limit * 1000:.0f} ms and was "
                    "stopped; add words or filters, or use a longer prefix"
                ) from error
            self._drop_connection()
            raise _classify(error) from error
        except sqlite3.DatabaseError as error:
            self._drop_connection()
            raise _classify(error) from error
        except UnicodeDecodeError as error:
            # sqlite3 decodes a damaged schema's names in its error messages: not a 500.
            self._drop_connection()
            raise _corrupt_text(error) from error
        finally:
            local.deadline = None
            if conn is not None and local.conn is conn and conn.in_transaction:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    self._drop_connection()
            if conn is not None:
                self._release(conn)

    def _claim(self) -> sqlite3.Connection:
        """This thread's connection, marked busy so that close() leaves it alone."""
        for _ in range(3):
            conn = self._connection()
            with self._lock:
                if conn in self._connections:
                    self._busy.add(conn)
                    return conn
            self._local.conn = None  # close() took it meanwhile: open a new one
        raise StoreUnavailable("the database connections are being reset", "busy")

    def _release(self, conn: sqlite3.Connection) -> None:
        """Unmark `conn`; close it here if close() skipped it while it was busy."""
        with self._lock:
            self._busy.discard(conn)
            orphan = conn not in self._connections
        if orphan:
            conn.close()
            if self._local.conn is conn:
                self._local.conn = None

    def _answers_quickly(self) -> bool:
        """Whether the database answers a trivial query within a quarter second."""
        conn = self._local.conn
        if conn is None:
            return False
        self._local.deadline = time.monotonic() + 0.25
        try:
            conn.execute(sql.PROBE).fetchone()
            return True
        except sqlite3.Error:
            return False

    def _validate(self, expression: str, text: str) -> None:
        """Check an FTS5 expression on an empty in-memory table: QueryError with the reason."""
        validator = self._local.validator
        if validator is None:
            validator = sqlite3.connect(":memory:", check_same_thread=False)
            validator.execute(sql.VALIDATOR_SCHEMA)
            self._local.validator = validator
        try:
            validator.execute(sql.VALIDATE, (expression,)).fetchall()
        except sqlite3.Error as error:
            raise QueryError(str(error), text) from error

    def close(self) -> None:
        """Close every connection this repository opened (a later read opens a new one)."""
        with self._lock:
            connections, self._connections = self._connections, set()
            self._epoch += 1
            self._wal_inode = None
            idle = [conn for conn in connections if conn not in self._busy]
        for conn in idle:  # a busy one is closed by its own thread when its read ends
            conn.close()
        self._local.conn = None

    def database_behind(self, reason: str) -> None:
        """Nothing to switch to: the database alone answers."""

    def reload_file(self, rel: str) -> None:
        """Nothing to do: the writer updates the database; data_version empties the cache."""

    # ---- search ----------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets for `query` (see the module docstring for the limits)."""
        with self._reading() as (conn, generation):
            if query.match is None:
                return self._search_plain(conn, generation, query, None)
            include, exclude = match_expression(query.match)
            self._validate(include or exclude or "", query.text)
            if include is None:
                return self._search_plain(conn, generation, query, exclude)
            return self._search_text(conn, generation, query, include)

    def _known_moods(self, conn: sqlite3.Connection, generation: int) -> list[str]:
        return self._cache.get(
            ("moods", generation), lambda: [row[0] for row in conn.execute(sql.SELECT_MOODS)]
        )

    def _where(
        self, conn: sqlite3.Connection, generation: int, filters: Filters, skip: str | None = None
    ) -> sql.Where:
        moods = self._known_moods(conn, generation) if filters.moods and skip != "mood" else []
        return sql.filter_where(filters, moods, skip=skip)

    def _cached_rows(
        self, conn: sqlite3.Connection, generation: int, text: str, params: list[object]
    ) -> list[tuple[Any, ...]]:
        key = ("rows", generation, text, tuple(params))
        return self._cache.get(key, lambda: conn.execute(text, params).fetchall())

    def _search_plain(
        self, conn: sqlite3.Connection, generation: int, query: SearchQuery, exclude: str | None
    ) -> SearchPage:
        """No words to match: filters (and words to exclude) over every entry, by date."""

        def where_for(skip: str | None = None) -> sql.Where:
            where = self._where(conn, generation, query.filters, skip)
            if exclude is not None:
                where.add(f"e.dialog_entry_id NOT IN ({sql.MATCHING_IDS})", exclude)
            return where

        where = where_for()
        total = self._cached_rows(conn, generation, sql.count_where(where), where.params)[0][0]
        ids = self._ordered_ids(conn, where, query.sort, query.offset, query.per_page)
        facets = {
            name: tuple(
                FacetCount(str(value), count)
                for value, count in self._cached_rows(
                    conn,
                    generation,
                    sql.facet_sql(name, where_for(name), FACET_LIMIT),
                    where_for(name).params,
                )
            )
            for name in query.facets
        }
        hits = self._hits(conn, ids, Highlighter([]))
        return SearchPage(hits=hits, total=total, source=self.source, facets=facets)

    def _ordered_ids(
        self,
        conn: sqlite3.Connection,
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

    def _matches(
        self, conn: sqlite3.Connection, generation: int, expression: str, at_least: int
    ) -> _Matches:
        """At least `at_least` matches (or all) in rowid order, cached and grown on demand."""
        key = ("matches", generation, expression)
        found = self._cache.get(key, lambda: _Matches(rows=_Rows(), complete=False))
        if found.complete or len(found.rows) >= at_least:
            return found
        rows = list(found.rows)
        want = max(at_least, self.candidate_limit)
        after = rows[-1][0] if rows else -(2**63)
        rows += conn.execute(
            sql.SELECT_MATCHES, (expression, after, want - len(rows) + 1)
        ).fetchall()
        complete = len(rows) <= want
        grown = replace(found, rows=_Rows(rows[:want]), complete=complete)
        self._cache.put(key, grown)
        return grown

    def _with_attrs(
        self, conn: sqlite3.Connection, generation: int, expression: str, found: _Matches
    ) -> _Matches:
        """`found` with the attributes of every row read so far."""
        missing = [entry_id for entry_id, _ in found.rows if entry_id not in found.attrs]
        if not missing:
            return found
        attrs = dict(found.attrs)
        attrs.update(self._fetch_attrs(conn, missing))
        grown = replace(found, attrs=attrs)
        key = ("matches", generation, expression)
        self._cache.put(key, grown)
        if any(entry_id not in attrs for entry_id in missing):
            # Matches read under another snapshot that this one no longer holds (a
            # commit raced the cache's generation): leave them out of this answer.
            grown = replace(grown, rows=_Rows(row for row in grown.rows if row[0] in attrs))
        return grown

    def _fetch_attrs(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, EntryAttrs]:
        payload = json.dumps(ids)
        targets: dict[int, list[str]] = {}
        for entry_id, target in conn.execute(sql.SELECT_TARGETS_BY_IDS, (payload,)):
            targets.setdefault(entry_id, []).append(sys.intern(target))
        return {
            entry_id: EntryAttrs(
                entry_id,
                _interned(speaker),
                tuple(targets.get(entry_id, ())),
                _interned(mood),
                _interned(dialog_file),  # type: ignore[arg-type]
                _interned(fmt),  # type: ignore[arg-type]
                stamp,
            )
            for entry_id, speaker, mood, dialog_file, fmt, stamp in conn.execute(
                sql.SELECT_ATTRS_BY_IDS, (payload,)
            )
        }

    def _total_matches(
        self, conn: sqlite3.Connection, generation: int, expression: str, found: _Matches
    ) -> int:
        if found.complete:
            return len(found.rows)
        key = ("count", generation, expression)
        return self._cache.get(
            key, lambda: conn.execute(sql.COUNT_MATCHES, (expression,)).fetchone()[0]
        )

    def _scan(
        self,
        conn: sqlite3.Connection,
        generation: int,
        expression: str,
        query: SearchQuery,
        check: FilterCheck,
        *,
        attrs: bool,
        has_filters: bool,
    ) -> tuple[_Matches, list[tuple[int, float]]]:
        """Matches of `expression` read far enough for the page, and those passing the filters.

        `has_filters`: some filter is left to check here (not settled by narrow()).
        """
        needed = query.offset + query.per_page
        found = self._matches(conn, generation, expression, self.candidate_limit)
        if attrs or has_filters:
            found = self._with_attrs(conn, generation, expression, found)
        passing = self._passing(found, check, has_filters)
        # Read more matches until the page is full (relevance) or the estimate has hits.
        extend = query.sort == "relevance" or has_filters
        while extend and not found.complete and len(passing) < needed:
            found = self._matches(conn, generation, expression, len(found.rows) * 4)
            if attrs or has_filters:
                found = self._with_attrs(conn, generation, expression, found)
            passing = self._passing(found, check, has_filters)
        return found, passing

    def _search_text(
        self, conn: sqlite3.Connection, generation: int, query: SearchQuery, expression: str
    ) -> SearchPage:
        """Words to match: rank, filter and facet the matches (a sample when there are many)."""
        filters = query.filters
        has_filters = filters != Filters() and not self._narrowing_is_exact(
            conn, generation, filters
        )
        needed = query.offset + query.per_page
        check = FilterCheck(filters)
        narrowed = narrow(expression, filters)
        self._validate(narrowed, query.text)
        need_attrs = bool(query.facets) or query.sort != "relevance"
        found, passing = self._scan(
            conn, generation, narrowed, query, check, attrs=need_attrs, has_filters=has_filters
        )
        fts_total = self._total_matches(conn, generation, narrowed, found)
        scanned = len(found.rows)
        if found.complete or not has_filters:
            total, total_exact = (len(passing) if has_filters else fts_total), True
        else:
            total = max(len(passing), round(len(passing) * fts_total / max(1, scanned)))
            total_exact = False
        facets: dict[str, tuple[FacetCount, ...]] = {}
        facets_exact = True
        for name in query.facets:
            source, source_total = found, fts_total
            own = narrow(expression, filters.without(name))
            if own != narrowed:
                # The speaker/target facet counts over matches without its own filter.
                source, _ = self._scan(
                    conn, generation, own, query, check, attrs=True, has_filters=True
                )
                source_total = self._total_matches(conn, generation, own, source)
            scale = source_total / max(1, len(source.rows))
            rows = (source.attrs[entry_id] for entry_id, _ in source.rows)
            facets.update(count_facets(rows, check, (name,), 1.0 if source.complete else scale))
            facets_exact = facets_exact and source.complete
        ranked = None
        if query.sort == "relevance":
            best = heapq.nsmallest(needed, passing, key=lambda row: (-row[1], row[0]))
            ids = [entry_id for entry_id, _ in best[query.offset :]]
            ranked = None if found.complete else scanned
        elif found.complete:
            key = newest_key if query.sort == "newest" else oldest_key
            ordered_attrs = sorted((found.attrs[entry_id] for entry_id, _ in passing), key=key)
            ids = [attrs.entry_id for attrs in ordered_attrs[query.offset : needed]]
        else:
            where = self._where(conn, generation, filters)
            where.add(f"e.dialog_entry_id IN ({sql.MATCHING_IDS})", narrowed)
            ids = self._ordered_ids(
                conn, where, query.sort, query.offset, query.per_page, "idx_entries_timestamp"
            )
        hits = self._hits(conn, ids, _highlighter(query))
        return SearchPage(
            hits=hits,
            total=total,
            source=self.source,
            facets=facets,
            total_exact=total_exact,
            facets_exact=facets_exact,
            ranked=ranked,
        )

    def _narrowing_is_exact(
        self, conn: sqlite3.Connection, generation: int, filters: Filters
    ) -> bool:
        """Whether narrow() alone applies `filters` exactly (then no row needs checking).

        True when only speaker/target filters are set and no other speaker (or
        target) in the database holds one of their token sequences.
        """
        if filters.without("speaker").without("target") != Filters():
            return False

        def known(sql_text: str) -> list[str]:
            rows = self._cached_rows(conn, generation, sql_text, [])
            return [row[0] for row in rows if row[0] is not None]

        speakers = set(filters.speakers)
        for value in known(sql.DISTINCT_SPEAKERS) if speakers else ():
            if value not in speakers and any(_contains(value, wanted) for wanted in speakers):
                return False
        variants = {v for target in filters.targets for v in target_variants(target)}
        for value in known(sql.DISTINCT_TARGETS) if variants else ():
            if value not in variants and any(_contains(value, wanted) for wanted in variants):
                return False
        return all(len(tokenize(target)) == 1 for target in filters.targets)

    @staticmethod
    def _passing(found: _Matches, check: FilterCheck, has_filters: bool) -> list[tuple[int, float]]:
        if not has_filters:
            return list(found.rows)
        return [row for row in found.rows if check.passes(found.attrs[row[0]])]

    def _hits(
        self, conn: sqlite3.Connection, ids: list[int], highlighter: Highlighter
    ) -> tuple[StoredEntry, ...]:
        if not ids:
            return ()
        rows = {row[0]: row for row in conn.execute(sql.SELECT_ENTRIES_BY_IDS, (json.dumps(ids),))}
        hits = []
        for entry_id in ids:
            row = rows.get(entry_id)
            if row is None:
                continue
            entry = _entry(row)
            snippet = make_snippet([entry.message, entry.title, entry.body], highlighter)
            hits.append(StoredEntry(entry_id, entry, snippet=snippet))
        return tuple(hits)

    # ---- single entries, stats, health ----------------------------------------

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """The entry and the ids of its neighbours in the file (by line), or None."""
        if not 0 < entry_id <= MAX_ID:
            return None
        with self._reading() as (conn, _):
            row = conn.execute(sql.SELECT_ENTRY, (entry_id,)).fetchone()
            if row is None:
                return None
            entry = _entry(row)
            place = (entry.dialog_file, entry.line, entry.line, entry_id)
            before = conn.execute(sql.SELECT_ENTRY_BEFORE, place).fetchone()
            after = conn.execute(sql.SELECT_ENTRY_AFTER, place).fetchone()
        return StoredEntry(
            entry_id,
            entry,
            before=before[0] if before else None,
            after=after[0] if after else None,
        )

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """Counts over every entry (or those `query` matches); cached per database version."""
        with self._reading(self.time_limit * STATS_TIME_FACTOR) as (conn, generation):
            where = sql.Where()
            if query is not None:
                where = self._where(conn, generation, query.filters)
                if query.match is not None:
                    include, exclude = match_expression(query.match)
                    self._validate(include or exclude or "", query.text)
                    if include is not None:
                        where.add(f"e.dialog_entry_id IN ({sql.MATCHING_IDS})", include)
                    if exclude is not None:
                        where.add(f"e.dialog_entry_id NOT IN ({sql.MATCHING_IDS})", exclude)
            key = ("stats", generation, where.sql(), tuple(where.params))
            result = self._cache.get(key, lambda: self._compute_stats(conn, where))
            return {**result, "database_size_bytes": self._size()}

    def _compute_stats(self, conn: sqlite3.Connection, where: sql.Where) -> dict[str, Any]:
        def counts(facet: str) -> list[tuple[Any, int]]:
            return conn.execute(sql.facet_sql(facet, where, None), where.params).fetchall()

        formats = dict(conn.execute(sql.FORMAT_TOTALS_SQL.format(where=where.sql()), where.params))
        moods = counts("mood")
        families: dict[str, int] = {}
        for mood, count in moods:
            family = mood_family(mood)
            if family is not None:
                families[family] = families.get(family, 0) + count
        dated = where.extended("e.timestamp_utc IS NOT NULL")
        days = conn.execute(sql.DAYS_SQL.format(where=dated.sql()), dated.params).fetchall()
        spoken = where.extended("e.speaker IS NOT NULL")
        pairs = conn.execute(
            sql.PAIRS_SQL.format(where=spoken.sql()), [*spoken.params, PAIRS_LIMIT]
        ).fetchall()
        files_total, last_sync = conn.execute(sql.FILES_TOTAL).fetchone()
        speakers = counts("speaker")
        targets = counts("target")
        entries = sum(formats.values())
        return {
            "totals": {
                "entries": entries,
                "dialog_entries": entries - formats.get("section", 0),
                "sections": formats.get("section", 0),
                "files": files_total,
                "speakers": len(speakers),
                "targets": len(targets),
            },
            "speakers": _count_list(speakers),
            "targets": _count_list(targets),
            "moods": _count_list(moods),
            "mood_families": _count_list(families.items()),
            "files": _count_list(counts("file")),
            "formats": _count_list(formats.items()),
            "days": [
                {"value": day_of(day * 1000000), "count": count} for day, count in days if day
            ],
            "pairs": [
                {"speaker": speaker, "target": target, "count": count}
                for speaker, target, count in pairs
            ],
            "last_sync_utc": last_sync,
            "mode": self.source,
            "source": self.source,
        }

    def _size(self) -> int | None:
        total = None
        for suffix in ("", "-wal"):
            try:
                total = (total or 0) + os.stat(f"{self.db_path}{suffix}").st_size
            except OSError:
                continue
        return total

    def health(self) -> dict[str, Any]:
        """Whether the database answers now, and its counts (no file system path shown)."""
        info: dict[str, Any] = {"file": self.db_path.name, "size_bytes": self._size()}
        try:
            with self._reading(0.5) as (conn, generation):
                entries = self._cache.get(
                    ("entries", generation),
                    lambda: conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0],
                )
                files, last_sync = conn.execute(sql.FILES_TOTAL).fetchone()
            info.update(status="ok", entries=entries, files=files, last_sync_utc=last_sync)
            return {"ok": True, "mode": self.source, "database": info, "last_error": None}
        except (StoreUnavailable, QueryTooExpensive) as error:
            reason = getattr(error, "reason", "timeout")
            info.update(status=reason, error=str(error))
            return {"ok": False, "mode": self.source, "database": info, "last_error": str(error)}

    def probe(self) -> None:
        """Raise StoreUnavailable unless the database answers a small search right now."""
        with self._reading(0.5) as (conn, _):
            conn.execute(sql.PROBE).fetchone()
            conn.execute(f"SELECT rowid FROM {sql.FTS} LIMIT 1").fetchall()


def narrow(expression: str, filters: Filters) -> str:
    """`expression` AND the speaker/target filters as FTS5 column filters.

    A column filter matches tokens, so this is a superset of the exact filter
    (speaker "CAPTAIN" also matches "CAPTAIN WOLFIE"), which FilterCheck then
    applies; it lets FTS5 skip most non-matching rows in C. A value without
    tokens does not narrow.
    """
    parts = []
    for column, values in (("speaker", filters.speakers), ("target", filters.targets)):
        if not values or any(not tokenize(value) for value in values):
            continue
        quoted = " OR ".join(
            '"' + value.replace("\x00", " ").replace('"', '""') + '"' for value in values
        )
        parts.append(f"{column} : ({quoted})")
    if not parts:
        return expression
    return f"({expression}) AND " + " AND ".join(parts)


def _contains(value: str, wanted: str) -> bool:
    """Whether the tokens of `wanted` occur, in a row, among the tokens of `value`."""
    haystack, needle = tokenize(value), tokenize(wanted)
    if not needle:
        return True
    return any(
        haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1)
    )


def _highlighter(query: SearchQuery) -> Highlighter:
    match = query.match
    if match is None:
        return Highlighter([])
    if match.raw is not None:
        try:
            return Highlighter(parse_raw(match.raw).positive_phrases())
        except QueryError:
            return Highlighter([])
    return Highlighter(match.positive_phrases())


def _entry(row: tuple[Any, ...]) -> Entry:
    """An Entry from a row in sqlite_sql.ENTRY_COLUMNS order."""
    (_, dialog_file, fmt, speaker, target, mood_rgb, mood_raw, stamp) = row[:8]
    (message, title, body, system_version, line, end_line, metadata_json) = row[8:]
    try:
        metadata = json.loads(metadata_json) if metadata_json else {}
    except ValueError:
        metadata = {}
    return Entry(
        dialog_file=dialog_file,
        format=fmt,
        line=line,
        end_line=end_line,
        speaker=speaker,
        target=target,
        mood_rgb=mood_rgb,
        mood_raw=mood_raw,
        timestamp_utc=stamp,
        message=message,
        title=title,
        body=body or "",
        system_version=system_version,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def _count_list(pairs: Any) -> list[dict[str, Any]]:
    return [{"value": str(c.value), "count": c.count} for c in top_counts(pairs, limit=None)]
