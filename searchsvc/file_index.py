"""An in-memory inverted index of the parsed dialog files, for the file fallback.

Each entry (section records included, as in the database) gets a doc number;
`postings[token]` holds the doc numbers containing the token (ascending) and a
weighted term frequency: body tokens count once, title and message tokens three
times, speaker and target tokens twice (title and message weigh more, as in the
database's bm25). Ids come from indexer.identity, so they equal the database's.

Building parses files in worker processes when there is much to read (both
cores), each returning a compact chunk that `FileIndex.add_chunk` merges.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.discover import find_dialog_files, read_source
from indexer.identity import keyed_entries
from indexer.model import Entry
from indexer.parse import parse_file
from indexer.store_rows import target_tokens
from searchsvc.fts_query import tokenize
from searchsvc.matching import EntryAttrs

#: Extra weight of title/message tokens (on top of their count in the body) and of
#: speaker/target tokens.
TITLE_MESSAGE_EXTRA = 2
SPEAKER_TARGET_WEIGHT = 2
#: Parse in worker processes when the files to read are at least this big.
POOL_MIN_BYTES = 8_000_000
POOL_PROCESSES = 2

#: A stored entry as a plain tuple (cheap to pickle): its id, then DOC_FIELDS.
Doc = tuple[Any, ...]
DOC_FIELDS = (
    "dialog_file",
    "format",
    "line",
    "end_line",
    "speaker",
    "target",
    "mood_rgb",
    "mood_raw",
    "timestamp_utc",
    "message",
    "title",
    "body",
    "system_version",
    "metadata",
)


@dataclass
class Chunk:
    """What one worker read from a list of files: docs, lengths, postings (local doc numbers)."""

    files: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, size, mtime, docs
    docs: list[Doc] = field(default_factory=list)
    lengths: array = field(default_factory=lambda: array("I"))
    postings: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def doc_of(entry_id: int, entry: Entry) -> Doc:
    """The Doc tuple of an entry."""
    return (entry_id, *(getattr(entry, name) for name in DOC_FIELDS))


def doc_entry(doc: Doc) -> Entry:
    """The Entry a Doc tuple holds."""
    return Entry(**dict(zip(DOC_FIELDS, doc[1:], strict=True)))


def doc_tokens(doc: Doc) -> tuple[Counter[str], int]:
    """Weighted token counts of a Doc and its length in tokens."""
    (_, _, _, _, _, speaker, target, _, _, _, message, title, body, _, _) = doc
    body = tokenize(body or "")
    emphasised = tokenize(title or "") + tokenize(message or "")
    people = tokenize(speaker or "") + tokenize(target or "")
    counts = Counter(body)
    counts.update(emphasised * TITLE_MESSAGE_EXTRA)
    counts.update(people * SPEAKER_TARGET_WEIGHT)
    return counts, len(body) + len(emphasised) + len(people)


def read_chunk(job: tuple[str, list[str]]) -> Chunk:
    """Read, parse, key and tokenize the files `job` names (runs in a worker process)."""
    root, paths = job
    chunk = Chunk()
    for rel in paths:
        try:
            source = read_source(Path(root), rel)
        except (OSError, ValueError):
            chunk.failed.append(rel)
            continue
        parsed = parse_file(source.text, source.path)
        keyed = keyed_entries(parsed.entries)
        chunk.files.append((rel, source.size_bytes, source.mtime_ns, len(keyed)))
        chunk.docs.extend(doc_of(entry_id, entry) for entry_id, _, entry in keyed)
    _fill_postings(chunk)
    return chunk


def doc_attrs(doc: Doc) -> EntryAttrs:
    """The attributes filters and facets look at."""
    (entry_id, dialog_file, fmt, _, _, speaker, target, mood_rgb, _, stamp) = doc[:10]
    targets = tuple(target_tokens(target)) if target else ()
    return EntryAttrs(entry_id, speaker, targets, mood_rgb, dialog_file, fmt, stamp)


class FileIndex:
    """Docs, attributes and postings; a removed doc leaves None in its place."""

    def __init__(self) -> None:
        self.docs: list[Doc | None] = []
        self.attrs: list[EntryAttrs | None] = []
        self.lengths = array("I")
        self.postings: dict[str, tuple[array, array]] = {}
        self.by_id: dict[int, int] = {}
        self.file_docs: dict[str, list[int]] = {}
        self.stamps: dict[str, tuple[int, int]] = {}
        self.total_length = 0
        self.alive = 0
        self._vocabulary: list[str] | None = None
        self.failed: list[str] = []
        #: Per-token bm25 contributions, filled by repo_files and emptied on any change.
        self.weights: dict[str, list[float]] = {}

    @property
    def average_length(self) -> float:
        """Mean doc length in tokens (for bm25)."""
        return self.total_length / self.alive if self.alive else 1.0

    def vocabulary(self) -> list[str]:
        """Every token, sorted (for prefix searches)."""
        if self._vocabulary is None:
            self._vocabulary = sorted(self.postings)
        return self._vocabulary

    def add_chunk(self, chunk: Chunk) -> None:
        """Append a worker's chunk, renumbering its docs after ours."""
        self.weights = {}
        base = len(self.docs)
        self.docs.extend(chunk.docs)
        self.attrs.extend(map(doc_attrs, chunk.docs))
        for number, doc in enumerate(chunk.docs, start=base):
            entry_id = doc[0]
            if entry_id in self.by_id:
                # Ids are 53-bit hashes: a collision across files is vanishingly rare;
                # the first file (in path order) keeps the id, as in a full reindex.
                continue
            self.by_id[entry_id] = number
        self.lengths.extend(chunk.lengths)
        self.total_length += sum(chunk.lengths)
        self.alive += len(chunk.docs)
        position = base
        for rel, size, mtime_ns, count in chunk.files:
            self.file_docs[rel] = list(range(position, position + count))
            self.stamps[rel] = (size, mtime_ns)
            position += count
        self.failed.extend(chunk.failed)
        add = base.__add__
        for token, (doc_bytes, tf_bytes) in chunk.postings.items():
            numbers = array("I")
            numbers.frombytes(doc_bytes)
            if base:
                numbers = array("I", map(add, numbers))
            frequencies = array("I")
            frequencies.frombytes(tf_bytes)
            pair = self.postings.get(token)
            if pair is None:
                self.postings[token] = (numbers, frequencies)
                self._vocabulary = None
            else:
                pair[0].extend(numbers)
                pair[1].extend(frequencies)

    def remove_file(self, rel: str) -> None:
        """Forget a file's docs (their postings stay, pointing at None)."""
        self.weights = {}
        for number in self.file_docs.pop(rel, []):
            doc = self.docs[number]
            if doc is None:
                continue
            if self.by_id.get(doc[0]) == number:
                del self.by_id[doc[0]]
            self.docs[number] = None
            self.attrs[number] = None
            self.total_length -= self.lengths[number]
            self.alive -= 1
        self.stamps.pop(rel, None)

    def compact_if_needed(self) -> None:
        """Drop removed docs from the postings once they are a quarter of all docs."""
        dead = len(self.docs) - self.alive
        if dead < 1000 or dead * 4 < len(self.docs):
            return
        rebuilt = FileIndex()
        for rel in sorted(self.file_docs):
            chunk = Chunk()
            for number in self.file_docs[rel]:
                doc = self.docs[number]
                if doc is not None:
                    chunk.docs.append(doc)
            chunk.files.append((rel, *self.stamps.get(rel, (0, 0)), len(chunk.docs)))
            _fill_postings(chunk)
            rebuilt.add_chunk(chunk)
        self.__dict__.update(rebuilt.__dict__)


def _fill_postings(chunk: Chunk) -> None:
    """Tokenize a chunk's docs into its lengths and postings (local doc numbers)."""
    collected: dict[str, tuple[array, array]] = {}
    get = collected.get
    lengths = chunk.lengths
    for number, doc in enumerate(chunk.docs):
        counts, length = doc_tokens(doc)
        lengths.append(length)
        for token, count in counts.items():
            pair = get(token)
            if pair is None:
                pair = collected[token] = (array("I"), array("I"))
            pair[0].append(number)
            pair[1].append(count)
    chunk.postings = {t: (d.tobytes(), f.tobytes()) for t, (d, f) in collected.items()}


def build_index(root: Path) -> FileIndex:
    """Read every dialog file below `root` into a new FileIndex."""
    paths = find_dialog_files(root)
    index = FileIndex()
    for chunk in _read_chunks(str(root), paths):
        index.add_chunk(chunk)
    return index


def _read_chunks(root: str, paths: list[str]) -> Any:
    """Chunks in path order; in worker processes when the files are big."""
    total = 0
    for rel in paths:
        try:
            total += os.stat(os.path.join(root, rel)).st_size
        except OSError:
            continue
    if total < POOL_MIN_BYTES or len(paths) < 2:
        yield read_chunk((root, paths))
        return
    # Enough chunks to balance the two workers, few enough to keep the merging cheap.
    count = max(POOL_PROCESSES * 4, 1)
    size = -(-len(paths) // count)
    jobs = [(root, paths[i : i + size]) for i in range(0, len(paths), size)]
    # "fork", as indexer.reindex does: "spawn" would re-run the caller's __main__. The
    # workers only read, parse and tokenize, touching no lock another thread may hold.
    with multiprocessing.get_context("fork").Pool(POOL_PROCESSES) as pool:
        yield from pool.imap(read_chunk, jobs)


def chunk_for_file(root: Path, rel: str) -> Chunk:
    """One file read into a chunk (for reloading it)."""
    return read_chunk((str(root), [rel]))
