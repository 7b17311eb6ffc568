"""FileRepository: the same answers as the database, from an in-memory index of the files.

The last engine of the stack, and every read while the database is down
(searchsvc/stack.py, searchsvc/recovery.py). Same ids, filters, facets, snippets and
response shape as SqliteRepository, with `"source": "files"`. Which docs match is
file_match's (exact, but phrases are checked in at most the budget's `phrase_checks`
docs; raw FTS5 syntax read by fts_query.parse_raw), their ranking file_bm25's (bm25
over one weighted field, so close to, not identical with, the database's per-column
bm25), the stats file_stats'. Past the budget's `exact_matches` matches, an even spread
of them is ranked, filtered and counted (searchsvc.query.budget).

The index is built in a background thread (`start_build`): at start-up when there is
no database (or FALLBACK_PRELOAD=on), else when the database first fails (searchsvc.stack
`build_stack`, searchsvc.recovery). A search waits for it up to `wait_seconds`, then
raises StoreUnavailable("building"), a 503 with Retry-After. Unless `resident`, the
index is dropped again once the database answers (`drop`): a healthy server holds none
of it (about 2.3 MB of memory per MB of Markdown).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import heapq
import logging
import math
import os
import threading
import time
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from typing import Any

from indexer.discover import find_dialog_files
from searchsvc.engines.file_bm25 import best_by_score, bm25_scores
from searchsvc.engines.file_copies import copies_of, refresh_copies, weigh_by_copies
from searchsvc.engines.file_index import (
    DOC_INDEX,
    Chunk,
    FileIndex,
    build_index,
    chunk_for_file,
    doc_entry,
)
from searchsvc.engines.file_match import effective_match, matching, matching_docs
from searchsvc.engines.file_stats import stats_of_attrs
from searchsvc.engines.file_vocabulary import FileVocabulary
from searchsvc.engines.matching import (
    FilterCheck,
    count_facets,
    newest_key,
    oldest_key,
)
from searchsvc.engines.snippets import Highlighter, make_snippet
from searchsvc.query.budget import Cut, budget_for, check_raw
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import MatchQuery
from searchsvc.query.names import NameIndex
from searchsvc.repository import (
    ALSO_IN_LIMIT,
    Copies,
    SearchPage,
    SearchQuery,
    StoredEntry,
    StoreUnavailable,
)

log = logging.getLogger("searchsvc.engines.repo_files")


class FileRepository:
    """The Repository over the dialog files below `root`, held in memory."""

    name = "files"
    source = "files"

    def __init__(
        self, root: str | Path, *, wait_seconds: float = 60.0, resident: bool = False
    ) -> None:
        self.root = Path(root)
        self.wait_seconds = wait_seconds
        #: Kept once built (True), or dropped when the database answers again (`drop`).
        self.resident = resident
        #: How many times the index was built and dropped (health, tests).
        self.builds = 0
        self.drops = 0
        #: A drop asked for while a build runs: the build's index is discarded.
        self._drop_after_build = False
        self._index: FileIndex | None = None
        self._lock = threading.RLock()
        self._ready = threading.Event()
        #: (index, its NameIndex), made on first need and dropped when a file changes.
        self._names: tuple[FileIndex, NameIndex] | None = None
        #: Files changed while a compacted index is being built (None: none is).
        self._compacting: set[str] | None = None
        self.compactions = 0
        self._builder: threading.Thread | None = None
        self.state = "not built"
        self.build_seconds: float | None = None
        self.built_at: str | None = None
        self.last_error: str | None = None
        self._reloaded_while_building: set[str] = set()
        #: The index's tokens, for typo correction (searchsvc.query.typos).
        self.vocabulary = FileVocabulary(self._ready_index, self._lock)

    # ---- building ----------------------------------------------------------------

    def start_build(self) -> None:
        """Build the index in a background thread (nothing to do while one is built or runs)."""
        with self._lock:
            self._drop_after_build = False
            if self._builder is not None or self._index is not None:
                return
            self.state = "building"
            self._ready.clear()
            self._builder = threading.Thread(
                target=self._build, name="dialogsearch-file-index", daemon=True
            )
            self._builder.start()

    def _build(self) -> None:
        started = time.monotonic()
        try:
            index = build_index(self.root)
        except Exception as error:  # noqa: BLE001 - reported through health, then retried
            log.exception("building the file index failed")
            with self._lock:
                self.state, self.last_error, self._builder = "failed", str(error), None
            self._ready.set()
            return
        while True:
            # Files written while the build ran may have been read before the write:
            # read them again before the index goes live (reload_file queued them). The
            # last check and going live are one step under the lock: a write after it
            # finds the index live and applies itself.
            with self._lock:
                pending, self._reloaded_while_building = self._reloaded_while_building, set()
                if not pending:
                    dropped = self._go_live(index, started)
                    break
            for rel in sorted(pending):
                _reload_into(index, self.root, rel)
        self._ready.set()
        if dropped:
            del index
            release_memory()
            with self._lock:
                self.drops += 1
            return
        log.info(
            '{"event": "file_index_built", "entries": %d, "files": %d, "seconds": %.3f}',
            index.alive,
            len(index.stamps),
            self.build_seconds,
        )

    def _go_live(self, index: FileIndex, started: float) -> bool:
        """Put a finished build in place (the caller holds the lock); True when it is not
        wanted any more (the database came back while it was built: `drop`)."""
        self._builder = None
        self.builds += 1
        self.build_seconds = round(time.monotonic() - started, 3)
        self.built_at = datetime.now(UTC).isoformat(timespec="seconds")
        dropped = self._drop_after_build
        self._drop_after_build = False
        if dropped:
            self.state = "not built"
        else:
            self._index = index
            self.state = "ready"
        return dropped

    def build_now(self) -> None:
        """Build the index in this thread and wait for it (tests, benchmarks)."""
        self.start_build()
        self._ready.wait()
        if self._index is None:
            raise StoreUnavailable(f"the file index could not be built ({self.last_error})")

    def _ready_index(self) -> FileIndex:
        """The built index (building it first when there is none), waiting for a build
        in progress up to wait_seconds; StoreUnavailable("building") after that."""
        index = self._index
        if index is None:
            self.start_build()
            self._ready.wait(self.wait_seconds)
            index = self._index
            if index is None:
                raise StoreUnavailable(
                    "the file index is still being built; retry in a few seconds", "building"
                )
        return index

    def drop(self) -> bool:
        """Forget the index (the database answers again), giving its memory back to the
        system; the next need builds it anew. False when it is `resident` or not built."""
        with self._lock:
            if self.resident:
                return False
            if self._builder is not None:
                self._drop_after_build = True
                return False
            if self._index is None:
                return False
            self._index = None
            self._names = None
            self._compacting = None
            self.vocabulary.forget()
            self.state = "not built"
            self._ready.clear()
        release_memory()
        with self._lock:
            self.drops += 1  # counted once the memory is handed back
        log.info('{"event": "file_index_dropped", "drops": %d}', self.drops)
        return True

    def database_behind(self, reason: str) -> None:
        """Nothing to do: the files are what answers."""

    def reload_file(self, rel: str) -> None:
        """Re-read one file (changed, created or deleted) into the index.

        When removed docs pile up, a compacted index is built in a background thread
        from a snapshot (tokenizing every doc again takes seconds at 100k entries: no
        search or change waits for it); changes applied meanwhile are applied to it again
        before it replaces this one.
        """
        with self._lock:
            if self._index is None:
                # No index yet: a build running now may have read the file before this
                # change, so it reads the file again before going live (with no build
                # running, the next build reads every file anyway).
                if self._builder is not None:
                    self._reloaded_while_building.add(rel)
                return
        chunk = _read(self.root, rel)
        with self._lock:
            index = self._index
            _apply(index, rel, chunk)
            if self._compacting is not None:
                self._compacting.add(rel)  # the snapshot being compacted lacks this
            self._names = None
            snapshot = self.begin_compaction() if index.needs_compaction() else None
        if snapshot is not None:
            threading.Thread(
                target=self._compact, args=(snapshot,), name="dialogsearch-compact", daemon=True
            ).start()

    def begin_compaction(self) -> FileIndex | None:
        """A snapshot to compact (None: a compaction is under way, or no index yet).

        From now until finish_compaction, every file changed is noted, to be applied to
        the compacted index again.
        """
        with self._lock:
            if self._compacting is not None or self._index is None:
                return None
            self._compacting = set()
            return self._index.snapshot()

    def _compact(self, snapshot: FileIndex) -> None:
        """Build the compacted index (no lock held) and put it in place."""
        try:
            rebuilt = snapshot.compacted()
        except Exception:  # noqa: BLE001 - the live index stays as it is; the next reload retries
            log.exception("compacting the file index failed")
            with self._lock:
                self._compacting = None
            return
        self.finish_compaction(rebuilt)

    def finish_compaction(self, rebuilt: FileIndex) -> None:
        """Put a compacted index in place, with the changes made since its snapshot."""
        with self._lock:
            pending, self._compacting = self._compacting or set(), None
            for rel in sorted(pending):
                _apply(rebuilt, rel, _read(self.root, rel))
            self._index = rebuilt
            self._names = None
            self.compactions += 1

    def refresh(self) -> int:
        """Reload every file whose size or mtime changed, appeared or vanished; how many."""
        index = self._index
        if index is None:
            return 0
        current = set(find_dialog_files(self.root))
        changed = [rel for rel in index.stamps if rel not in current]
        for rel in sorted(current):
            try:
                stat = os.stat(self.root / rel)
            except OSError:
                continue
            if index.stamps.get(rel) != (stat.st_size, stat.st_mtime_ns):
                changed.append(rel)
        for rel in changed:
            self.reload_file(rel)
        return len(changed)

    def close(self) -> None:
        """Nothing to release (the build thread is a daemon)."""

    def names(self) -> NameIndex:
        """Every spelling of the speakers and @targets in the files."""
        index = self._ready_index()
        with self._lock:
            names = self._names
            if names is None or names[0] is not index:
                alive = [attrs for attrs in index.attrs if attrs is not None]
                names = (
                    index,
                    NameIndex(
                        (attrs.speaker for attrs in alive),
                        (target for attrs in alive for target in attrs.targets),
                    ),
                )
                self._names = names
        return names[1]

    def copies_of(self, entry_ids: list[int]) -> Copies:
        """Where the copies of each entry are (the first ALSO_IN_LIMIT) and how many."""
        index = self._ready_index()
        found: Copies = {}
        with self._lock:
            for entry_id in entry_ids:
                number = index.by_id.get(entry_id)
                others = copies_of(index, number) if number is not None else []
                if others:
                    places = tuple(
                        (index.attrs[n].dialog_file, index.lines[n], index.attrs[n].entry_id)
                        for n in others[:ALSO_IN_LIMIT]
                    )
                    found[entry_id] = (places, len(others))
        return found

    # ---- search --------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets for `query`: exact up to the budget's `exact_matches`
        matches (and `phrase_checks` docs read for phrases), over an even spread of
        them past it (scaled; `total_exact`, `facets_exact` false and a "sampled" cut)."""
        budget = budget_for(self.name)
        check_raw(query.match, query.postings, budget)
        index = self._ready_index()
        with self._lock:
            match = effective_match(query.match)
            matched = matching(index, match, budget.phrase_checks)
            candidates, share = matched.docs, matched.share
            if len(candidates) > budget.exact_matches:
                picked = candidates[:: math.ceil(len(candidates) / budget.exact_matches)]
                share *= len(picked) / len(candidates)
            else:
                picked = candidates
            check = FilterCheck(query.filters)
            has_filters = query.filters != Filters()
            attrs = index.attrs
            rows = [attrs[n] for n in picked] if has_filters or query.facets else []
            passing = list(compress(picked, check.mask(rows))) if has_filters else picked
            facets = count_facets(rows, check, query.facets, 1 / share) if query.facets else {}
            if query.sort != "relevance" and picked is not candidates:
                # By date, the page is the newest of every match, not of the sample's.
                every = candidates
                if has_filters:
                    every = list(compress(candidates, check.mask([attrs[n] for n in candidates])))
                page = self._page(index, query, match, every)
            else:
                page = self._page(index, query, match, passing)
            highlighter = Highlighter(match.positive_phrases() if match else [])
            hits = tuple(self._stored(index, n, highlighter) for n in page)
        total = len(passing) if share == 1 else max(len(hits), round(len(passing) / share))
        cuts = () if share == 1 else (Cut("sampled", "", len(picked), total),)
        return SearchPage(
            hits=hits,
            total=total,
            source=self.source,
            facets=facets,
            total_exact=share == 1,
            facets_exact=share == 1,
            cuts=cuts,
        )

    @staticmethod
    def _page(
        index: FileIndex, query: SearchQuery, match: MatchQuery | None, passing: list[int]
    ) -> list[int]:
        """The doc numbers of the page: the best by bm25, or by date."""
        end = query.offset + query.per_page
        if query.sort == "relevance" and match is not None and match.include is not None:
            scores = bm25_scores(index, match, set(passing))
            weigh_by_copies(index, scores)
            return best_by_score(index, scores, end)[query.offset :]
        attrs = index.attrs
        key = oldest_key if query.sort == "oldest" else newest_key
        return heapq.nsmallest(end, passing, key=lambda n: key(attrs[n]))[query.offset :]

    def _stored(self, index: FileIndex, number: int, highlighter: Highlighter) -> StoredEntry:
        doc = index.doc(number)
        assert doc is not None
        entry = doc_entry(doc)
        snippet = make_snippet([entry.message, entry.title, entry.body], highlighter)
        return StoredEntry(doc[0], entry, snippet=snippet)

    # ---- single entries, stats, health ------------------------------------------

    def get_entry(self, entry_id: int) -> StoredEntry | None:
        """The entry with `entry_id` and the ids of its neighbours in the file, or None."""
        index = self._ready_index()
        with self._lock:
            number = index.by_id.get(entry_id)
            if number is None or index.docs[number] is None:
                return None
            doc = index.doc(number)
            assert doc is not None
            lines, attrs = index.lines, index.attrs
            siblings = sorted(
                (lines[n], a.entry_id)
                for n in index.file_docs.get(doc[DOC_INDEX["dialog_file"]], ())
                if (a := attrs[n]) is not None
            )
            position = siblings.index((doc[DOC_INDEX["line"]], doc[0]))
            before = siblings[position - 1][1] if position > 0 else None
            after = siblings[position + 1][1] if position + 1 < len(siblings) else None
            return StoredEntry(doc[0], doc_entry(doc), before=before, after=after)

    def stats(self, query: SearchQuery | None = None) -> dict[str, Any]:
        """Counts over every entry (or those `query` matches), computed from the index."""
        index = self._ready_index()
        with self._lock:
            if query is None:
                rows = [a for a in index.attrs if a is not None]
            else:
                match = effective_match(query.match)
                check = FilterCheck(query.filters)
                rows = check.select([index.attrs[n] for n in matching_docs(index, match)])
            files_total = len(index.stamps)
        return stats_of_attrs(rows, files_total, self.source)

    def health(self) -> dict[str, Any]:
        """The index's state and size."""
        index = self._index
        info: dict[str, Any] = {
            "state": self.state,
            "entries": index.alive if index else None,
            "files": len(index.stamps) if index else None,
            "unreadable_files": len(index.failed) if index else None,
            "build_seconds": self.build_seconds,
            "built_at": self.built_at,
            "resident": self.resident,
            "builds": self.builds,
            "drops": self.drops,
        }
        ok = index is not None
        return {
            "ok": ok,
            "mode": self.source,
            "files_index": info,
            "last_error": None if ok else self.last_error,
        }


def release_memory() -> None:
    """Collect garbage and hand the heap's free pages back to the system (glibc's
    malloc_trim; nothing elsewhere): after a big index is dropped, RSS falls with it."""
    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _reload_into(
    index: FileIndex, root: Path, rel: str, lock: threading.RLock | None = None
) -> None:
    """Replace one file's entries in `index` by what the file holds now (or none)."""
    chunk = _read(root, rel)
    with lock if lock is not None else contextlib.nullcontext():
        _apply(index, rel, chunk)


def _read(root: Path, rel: str) -> Chunk | None:
    """What the file holds now, read and tokenized (None: it is gone)."""
    return chunk_for_file(root, rel) if (root / rel).is_file() else None


def _apply(index: FileIndex, rel: str, chunk: Chunk | None) -> None:
    """Replace one file's docs in `index` by `chunk`'s (the caller holds the lock)."""
    keys = {index.copy_keys[number] for number in index.file_docs.get(rel, ())}
    index.remove_file(rel)
    if chunk is not None and chunk.files:
        index.add_chunk(chunk)
        keys.update(chunk.copy_keys)
    refresh_copies(index, keys)
