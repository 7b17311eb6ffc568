"""FileRepository: the same answers as the database, from an in-memory index of the files.

Used when the database cannot answer (see repo_fallback). Same ids, filters,
facets, snippets and response shape as SqliteRepository, with `"source": "files"`.
Ranking is bm25 over one weighted field (see file_index), so it is close to,
not identical with, the database's per-column bm25. Everything is exact: no
sampling. Raw FTS5 syntax (raw=1) is read by fts_query.parse_raw: column
filters, `^` and NEAR distances are ignored.

The index is built in a background thread (`start_build`); a search waits for
it up to `wait_seconds`, then raises StoreUnavailable("building").
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import os
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from datetime import UTC, datetime
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any

from dialogfile.fields import TEXT_FIELDS
from indexer.discover import find_dialog_files
from searchsvc.engines.file_index import (
    DOC_INDEX,
    FileIndex,
    build_index,
    chunk_for_file,
    doc_entry,
)
from searchsvc.engines.matching import (
    EntryAttrs,
    FilterCheck,
    count_facets,
    day_of,
    newest_key,
    oldest_key,
    top_counts,
)
from searchsvc.engines.snippets import Highlighter, make_snippet
from searchsvc.query.filters import Filters, mood_family
from searchsvc.query.fts_query import (
    AllOf,
    AnyOf,
    MatchQuery,
    Node,
    Phrase,
    Without,
    parse_raw,
    tokenize,
)
from searchsvc.repository import (
    SearchPage,
    SearchQuery,
    StoredEntry,
    StoreUnavailable,
)

log = logging.getLogger("searchsvc.engines.repo_files")

# bm25 parameters, as FTS5 uses them.
K1 = 1.2
B = 0.75
PAIRS_LIMIT = 500
#: Most postings whose bm25 weights are kept (8 bytes each); beyond it the cache restarts.
WEIGHTS_CACHE_POSTINGS = 2_000_000
#: The searchable fields of a Doc (dialogfile.fields.TEXT_FIELDS).
_TEXT_VALUES = itemgetter(*(DOC_INDEX[name] for name in TEXT_FIELDS))


class FileRepository:
    """The Repository over the dialog files below `root`, held in memory."""

    name = "files"
    source = "files"

    def __init__(self, root: str | Path, *, wait_seconds: float = 60.0) -> None:
        self.root = Path(root)
        self.wait_seconds = wait_seconds
        self._index: FileIndex | None = None
        self._lock = threading.RLock()
        self._ready = threading.Event()
        self._builder: threading.Thread | None = None
        self.state = "not built"
        self.build_seconds: float | None = None
        self.built_at: str | None = None
        self.last_error: str | None = None
        self._reloaded_while_building: set[str] = set()

    # ---- building ----------------------------------------------------------------

    def start_build(self) -> None:
        """Build the index in a background thread (once; later calls do nothing)."""
        with self._lock:
            if self._builder is not None:
                return
            self.state = "building"
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
            # read them again before the index goes live (reload_file queued them).
            with self._lock:
                pending, self._reloaded_while_building = self._reloaded_while_building, set()
                if not pending:
                    self._index = index
                    break
            for rel in sorted(pending):
                _reload_into(index, self.root, rel)
        with self._lock:
            self.build_seconds = round(time.monotonic() - started, 3)
            self.built_at = datetime.now(UTC).isoformat(timespec="seconds")
            self.state = "ready"
        self._ready.set()
        log.info(
            '{"event": "file_index_built", "entries": %d, "files": %d, "seconds": %.3f}',
            index.alive,
            len(index.stamps),
            self.build_seconds,
        )

    def build_now(self) -> None:
        """Build the index in this thread and wait for it (tests, benchmarks)."""
        self.start_build()
        self._ready.wait()
        if self._index is None:
            raise StoreUnavailable(f"the file index could not be built ({self.last_error})")

    def _ready_index(self) -> FileIndex:
        """The built index, waiting for a build in progress up to wait_seconds."""
        if self._index is None:
            if self.state == "failed":
                with self._lock:
                    self._builder = None
                    self._ready.clear()
            self.start_build()
            if not self._ready.wait(self.wait_seconds) or self._index is None:
                raise StoreUnavailable(
                    "the file index is still being built; retry in a few seconds", "building"
                )
        return self._index

    def database_behind(self, reason: str) -> None:
        """Nothing to do: the files are what answers."""

    def reload_file(self, rel: str) -> None:
        """Re-read one file (changed, created or deleted) into the index."""
        with self._lock:
            if self._index is None:
                # No index yet: a build running now may have read the file before this
                # change, so it reads the file again before going live.
                self._reloaded_while_building.add(rel)
                return
            index = self._index
        _reload_into(index, self.root, rel, self._lock)

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

    # ---- search --------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Hits, total and facets for `query`, exact."""
        index = self._ready_index()
        with self._lock:
            match = _effective_match(query.match)
            candidates = self._candidates(index, match)
            check = FilterCheck(query.filters)
            has_filters = query.filters != Filters()
            attrs = index.attrs
            rows = [attrs[n] for n in candidates] if has_filters or query.facets else []
            passing = list(compress(candidates, check.mask(rows))) if has_filters else candidates
            facets = {}
            if query.facets:
                facets = count_facets(rows, check, query.facets)
            end = query.offset + query.per_page
            if query.sort == "relevance" and match is not None and match.include is not None:
                scores = self._scores(index, match, set(passing))
                best = heapq.nlargest(end, scores.items(), key=itemgetter(1))
                page = [number for number, _ in best[query.offset :]]
            else:
                key = oldest_key if query.sort == "oldest" else newest_key
                page = sorted(passing, key=lambda n: key(attrs[n]))[query.offset : end]
            highlighter = Highlighter(match.positive_phrases() if match else [])
            hits = tuple(self._stored(index, n, highlighter) for n in page)
        return SearchPage(hits=hits, total=len(passing), source=self.source, facets=facets)

    def _candidates(self, index: FileIndex, match: MatchQuery | None) -> list[int]:
        """Doc numbers of the live docs matching `match` (all when None), ascending."""
        alive = index.docs
        if match is None:
            return [n for n, doc in enumerate(alive) if doc is not None]
        if match.include is not None:
            found = self._evaluate(index, match.include)
        else:
            found = {n for n, doc in enumerate(alive) if doc is not None}
        if match.exclude is not None:
            found -= self._evaluate(index, match.exclude)
        return [n for n in found if alive[n] is not None]

    def _evaluate(self, index: FileIndex, node: Node) -> set[int]:
        if isinstance(node, Phrase):
            return self._phrase_docs(index, node)
        if isinstance(node, Without):
            return self._evaluate(index, node.base) - self._evaluate(index, node.excluded)
        sets = [self._evaluate(index, child) for child in node.children]
        if isinstance(node, AnyOf):
            return set().union(*sets)
        assert isinstance(node, AllOf)
        sets.sort(key=len)
        result = sets[0]
        for other in sets[1:]:
            result = result & other
        return result

    def _expand(self, index: FileIndex, token: str, prefix: bool) -> list[str]:
        """The indexed tokens a query token stands for (itself, or all with the prefix)."""
        if not prefix:
            return [token] if token in index.postings else []
        vocabulary = index.vocabulary()
        start = bisect_left(vocabulary, token)
        end = bisect_left(vocabulary, token + "\U0010ffff")
        return vocabulary[start:end]

    def _token_docs(self, index: FileIndex, token: str, prefix: bool) -> set[int]:
        result: set[int] = set()
        for expanded in self._expand(index, token, prefix):
            result.update(index.postings[expanded][0])
        return result

    def _phrase_docs(self, index: FileIndex, phrase: Phrase) -> set[int]:
        tokens = phrase.tokens
        if not tokens:
            return set()
        sets = [
            self._token_docs(index, token, phrase.prefix and i == len(tokens) - 1)
            for i, token in enumerate(tokens)
        ]
        sets.sort(key=len)
        found = sets[0]
        for other in sets[1:]:
            found = found & other
        if len(tokens) == 1:
            return found
        docs = index.docs
        return {n for n in found if docs[n] is not None and _has_phrase(index.doc(n), phrase)}

    def _scores(self, index: FileIndex, match: MatchQuery, docs: set[int]) -> dict[int, float]:
        """bm25 of each doc in `docs` for the query's positive phrases.

        A word counts once per phrase; a prefix counts as one word whose
        frequency is that of all the words it expands to (as FTS5 sees it).
        """
        scores = dict.fromkeys(docs, 0.0)
        for phrase in match.positive_phrases():
            for i, token in enumerate(phrase.tokens):
                expansions = self._expand(
                    index, token, phrase.prefix and i == len(phrase.tokens) - 1
                )
                if len(expansions) == 1:
                    _add_weights(
                        scores, index.postings[expansions[0]][0], _weights(index, expansions[0])
                    )
                elif expansions:
                    _add_prefix_scores(scores, index, expansions)
        return scores

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
                match = _effective_match(query.match)
                check = FilterCheck(query.filters)
                rows = check.select([index.attrs[n] for n in self._candidates(index, match)])
            files_total = len(index.stamps)
        return _stats(rows, files_total, self.source)

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
        }
        ok = index is not None
        return {
            "ok": ok,
            "mode": self.source,
            "files_index": info,
            "last_error": None if ok else self.last_error,
        }


def _reload_into(
    index: FileIndex, root: Path, rel: str, lock: threading.RLock | None = None
) -> None:
    """Replace one file's entries in `index` by what the file holds now (or none)."""
    chunk = chunk_for_file(root, rel) if (root / rel).is_file() else None
    with lock if lock is not None else contextlib.nullcontext():
        index.remove_file(rel)
        if chunk is not None and chunk.files:
            index.add_chunk(chunk)
        index.compact_if_needed()


def _add_weights(scores: dict[int, float], numbers: Any, weights: array) -> None:
    """Add one word's per-doc weights to the docs in `scores` (looping over the smaller side)."""
    if len(numbers) <= len(scores):
        for number, weight in zip(numbers, weights, strict=True):
            if number in scores:
                scores[number] += weight
    else:
        by_doc = dict(zip(numbers, weights, strict=True))
        get = by_doc.get
        for number in scores:
            scores[number] += get(number, 0.0)


def _add_prefix_scores(scores: dict[int, float], index: FileIndex, expansions: list[str]) -> None:
    """bm25 of a prefix taken as one word: frequencies summed over its expansions."""
    frequencies: dict[int, int] = {}
    get = frequencies.get
    for token in expansions:
        numbers, counts = index.postings[token]
        for number, count in zip(numbers, counts, strict=True):
            if number in scores:
                frequencies[number] = get(number, 0) + count
    total = max(1, index.alive)
    having = len(frequencies)
    idf = max(1e-6, math.log((total - having + 0.5) / (having + 0.5)))
    average, lengths = index.average_length, index.lengths
    for number, frequency in frequencies.items():
        norm = K1 * (1 - B + B * lengths[number] / average)
        scores[number] += idf * frequency * (K1 + 1) / (frequency + norm)


def _weights(index: FileIndex, token: str) -> array:
    """Each posting's bm25 contribution for `token` (idf and length norm included), cached."""
    cached = index.weights.get(token)
    if cached is not None:
        return cached
    numbers, frequencies = index.postings[token]
    total = max(1, index.alive)
    # Postings keep removed docs until compaction: count only live ones, or `having`
    # can pass `total` and the logarithm fails ("math domain error", a 500).
    docs = index.docs
    having = sum(1 for number in numbers if docs[number] is not None)
    idf = max(1e-6, math.log((total - having + 0.5) / (having + 0.5)))
    average = index.average_length
    lengths = index.lengths
    factor = idf * (K1 + 1)
    weights = array(
        "d",
        [
            factor * frequency / (frequency + K1 * (1 - B + B * lengths[number] / average))
            for number, frequency in zip(numbers, frequencies, strict=True)
        ],
    )
    cached_postings = sum(map(len, index.weights.values()))
    if cached_postings + len(weights) > WEIGHTS_CACHE_POSTINGS:
        index.weights.clear()
    index.weights[token] = weights
    return weights


def _effective_match(match: MatchQuery | None) -> MatchQuery | None:
    """The query as the index evaluates it: raw FTS5 text read by parse_raw."""
    if match is not None and match.raw is not None and match.include is None:
        return parse_raw(match.raw)
    return match


def _has_phrase(doc: tuple[Any, ...], phrase: Phrase) -> bool:
    """Whether one field of the doc holds the phrase's tokens in a row."""
    wanted = phrase.tokens
    last = len(wanted) - 1
    # One searchable field at a time: a phrase never spans two fields.
    for text in _TEXT_VALUES(doc):
        if not text:
            continue
        tokens = tokenize(text)
        for start in range(len(tokens) - last):
            if tokens[start : start + last] == list(wanted[:last]) and (
                tokens[start + last].startswith(wanted[last])
                if phrase.prefix
                else tokens[start + last] == wanted[last]
            ):
                return True
    return False


def _stats(rows: list[EntryAttrs], files_total: int, source: str) -> dict[str, Any]:
    """The stats document (same shape as SqliteRepository.stats) from entry attributes."""
    speakers: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    moods: Counter[str] = Counter()
    families: Counter[str] = Counter()
    files: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    days: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for attrs in rows:
        formats[attrs.format] += 1
        files[attrs.dialog_file] += 1
        if attrs.speaker is not None:
            speakers[attrs.speaker] += 1
            for target in attrs.targets:
                pairs[(attrs.speaker, target)] += 1
        targets.update(attrs.targets)
        if attrs.mood_rgb is not None:
            moods[attrs.mood_rgb] += 1
            family = mood_family(attrs.mood_rgb)
            if family is not None:
                families[family] += 1
        day = day_of(attrs.timestamp_utc)
        if day is not None:
            days[day] += 1

    def listed(counter: Counter[str]) -> list[dict[str, Any]]:
        counts = top_counts(counter.items(), limit=None)
        return [{"value": c.value, "count": c.count} for c in counts]

    ordered_pairs = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:PAIRS_LIMIT]
    entries = len(rows)
    return {
        "totals": {
            "entries": entries,
            "dialog_entries": entries - formats.get("section", 0),
            "sections": formats.get("section", 0),
            "files": files_total,
            "speakers": len(speakers),
            "targets": len(targets),
        },
        "speakers": listed(speakers),
        "targets": listed(targets),
        "moods": listed(moods),
        "mood_families": listed(families),
        "files": listed(files),
        "formats": listed(formats),
        "days": [{"value": day, "count": count} for day, count in sorted(days.items())],
        "pairs": [
            {"speaker": speaker, "target": target, "count": count}
            for (speaker, target), count in ordered_pairs
        ],
        "last_sync_utc": None,
        "database_size_bytes": None,
        "mode": source,
        "source": source,
    }
