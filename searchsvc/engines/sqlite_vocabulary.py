"""The database's vocabulary for typo correction (searchsvc.query.typos), from FTS5 itself,
and its terms' counts for the search budget when there is no top-k index.

Two fts5vocab tables over lupo_dialog_entries_fts, created in each read connection's
`temp` schema (nothing is written to the database file, so a read-only connection
can hold them): `instance` answers "does any term equal (or start with) this word"
in the request's snapshot in tens of microseconds; `row` lists every term with the
number of entries holding it, read once into TermBuckets (0.3 s at 100,000 entries:
fts5vocab reads every doclist) when a correction is first needed.

The buckets are read again when the database changed (its change log's last seq, or
another store uuid), in one background thread and at most every REFRESH_FACTOR times
the last read's duration; meanwhile the older buckets answer, and every candidate
they offer is checked against the current snapshot, so a correction never names a
term that is gone. A term new since the last read is offered once the read is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from indexer.database import Database
from indexer.store_errors import QueryTooExpensive, StoreUnavailable
from indexer.topk_index import store_point
from searchsvc.engines.sqlite_sql import FTS
from searchsvc.query.budget import TermTable
from searchsvc.query.typos import Candidate, TermBuckets, Word

log = logging.getLogger("searchsvc.engines.sqlite_vocabulary")

INSTANCES = "temp.lupo_vocabulary_instances"
ROWS = "temp.lupo_vocabulary_rows"
CREATE_INSTANCES = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {INSTANCES} USING fts5vocab(main, {FTS}, 'instance')"
)
CREATE_ROWS = f"CREATE VIRTUAL TABLE IF NOT EXISTS {ROWS} USING fts5vocab(main, {FTS}, 'row')"
HAS_TERM = f"SELECT 1 FROM {INSTANCES} WHERE term = ? LIMIT 1"
HAS_PREFIX = f"SELECT 1 FROM {INSTANCES} WHERE term >= ? AND term < ? LIMIT 1"
SELECT_TERMS = f"SELECT term, doc FROM {ROWS}"
#: Above every character: `prefix + PAST_PREFIX` bounds the terms starting with `prefix`.
PAST_PREFIX = "\U0010ffff"
#: The time limit of reading every term (a request's own limit is far shorter).
READ_TIME_LIMIT_SECONDS = 120.0
#: After a read that took t seconds, the next waits until REFRESH_FACTOR * t have passed.
REFRESH_FACTOR = 10.0


class DatabaseVocabulary:
    """The FTS5 index's terms, as typo correction asks about them (typos.Vocabulary)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()  # held while the first buckets are read
        self._buckets: TermBuckets | None = None
        self._table: TermTable | None = None
        self._version: tuple[str | None, int] | None = None  # what the buckets hold
        self._seen: tuple[str | None, int] | None = None  # what the last lookup saw
        self._next_read = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        #: How long the last read of every term took.
        self.read_seconds: float | None = None

    @property
    def size(self) -> int:
        """How many terms the buckets hold (0 before the first read)."""
        return self._buckets.size if self._buckets is not None else 0

    def missing(self, words: Sequence[Word]) -> set[Word]:
        """The words no term of the current snapshot equals (a prefix: starts with)."""
        with self.database.reading() as (conn, _):
            conn.execute(CREATE_INSTANCES)
            self._seen = store_point(conn)
            found = set()
            for word in words:
                token, prefix = word
                if prefix:
                    held = conn.execute(HAS_PREFIX, (token, token + PAST_PREFIX)).fetchone()
                else:
                    held = conn.execute(HAS_TERM, (token,)).fetchone()
                if held is None:
                    found.add(word)
            return found

    def near(self, word: str, distance: int) -> list[Candidate]:
        """Terms at most `distance` edits from `word` that the current snapshot holds."""
        found = self.buckets().near(word, distance)
        if not found:
            return []
        gone = self.missing([(candidate.term, False) for candidate in found])
        return [candidate for candidate in found if (candidate.term, False) not in gone]

    def buckets(self) -> TermBuckets:
        """The terms by length and ends: read now the first time, then refreshed behind."""
        with self._lock:
            if self._buckets is None:
                self._buckets, self._table, self._version = self._read()
            elif self._seen is not None and self._seen != self._version:
                self._refresh_later()
            return self._buckets

    @property
    def counted_terms(self) -> int | None:
        """How many terms the search budget's table holds (None: not read yet)."""
        return len(self._table.terms) if self._table is not None else None

    def term_stats(self) -> TermTable | None:
        """Every term and its entry count, for the search budget (searchsvc.query.budget)
        when the database has no top-k index: as last read, or None until the first read
        is done (it starts now, in the background: no search waits for it)."""
        if self._table is None:
            self._refresh_later()
        return self._table

    def _read(self) -> tuple[TermBuckets, TermTable, tuple[str | None, int] | None]:
        """Every term and its entry count, in one snapshot (empty when that takes too long)."""
        started = time.monotonic()
        try:
            with self.database.reading(READ_TIME_LIMIT_SECONDS) as (conn, _):
                conn.execute(CREATE_ROWS)
                version: tuple[str | None, int] | None = store_point(conn)
                terms = conn.execute(SELECT_TERMS).fetchall()
        except QueryTooExpensive:
            log.warning("reading the vocabulary took too long: no typo corrections for now")
            terms, version = [], None
        self.read_seconds = time.monotonic() - started
        self._next_read = time.monotonic() + REFRESH_FACTOR * self.read_seconds
        return TermBuckets(terms), TermTable(terms), version

    def _refresh_later(self) -> None:
        """Wake the background reader (started on first need)."""
        if self._refresher is None:
            self._stop = threading.Event()
            self._refresher = threading.Thread(
                target=self._refresh_loop,
                args=(self._stop,),
                name="dialogsearch-vocabulary",
                daemon=True,
            )
            self._refresher.start()
        self._wake.set()

    def _refresh_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait()
            self._wake.clear()
            delay = self._next_read - time.monotonic()
            if stop.is_set() or (delay > 0 and stop.wait(delay)):
                return
            try:
                buckets, table, version = self._read()
            except StoreUnavailable as error:  # the stack falls back; read again when asked
                log.warning("reading the vocabulary failed: %s", error)
                continue
            with self._lock:
                self._buckets, self._table, self._version = buckets, table, version

    def close(self) -> None:
        """Stop the background reader (a later lookup starts it again)."""
        with self._lock:
            refresher, self._refresher = self._refresher, None
        self._stop.set()
        self._wake.set()
        if refresher is not None and refresher is not threading.current_thread():
            refresher.join(timeout=60)
