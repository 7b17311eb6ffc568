"""An in-memory inverted index of the parsed dialog files, for the file fallback.

Each entry (section records included, as in the database) gets a doc number;
`postings[token]` holds the doc numbers containing the token (ascending,
array('I')) and a weighted term frequency: body tokens count once, title and
message tokens three times, speaker and target tokens twice (title and message
weigh more, as in the database's bm25). Ids come from dialogfile.identity, so they
equal the database's.

Lean by design: filters and facets read one EntryAttrs per doc (strings shared);
the rest of an entry is kept as one marshal blob (a message that is part of its
body is stored as a span of it) and decoded only for hits and phrase checks.
Building parses files in worker processes when there is much to read (both
cores), each returning a compact chunk that `FileIndex.add_chunk` merges.
"""

from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from dialogfile.copies import COPY_FIELDS, ORIGINAL, copy_key_of
from dialogfile.fields import DATE_FILTER
from dialogfile.glyphs import glyph_words
from dialogfile.identity import keyed_entries
from dialogfile.model import ENTRY_FIELDS, Entry
from dialogfile.mojibake import repaired_text
from dialogfile.names import target_tokens
from dialogfile.parse import parse_file
from dialogfile.parse_values import indexed_mood
from indexer.discover import find_dialog_files, read_source
from searchsvc.engines.file_copies import refresh_copies
from searchsvc.engines.matching import ATTRIBUTES, COLUMN_ATTRIBUTES, EntryAttrs, entry_attrs
from searchsvc.query.fts_query import tokenize

#: Extra weight of title/message tokens (on top of their count in the body) and of
#: speaker/target tokens.
TITLE_MESSAGE_EXTRA = 2
SPEAKER_TARGET_WEIGHT = 2
#: Parse in worker processes when the files to read are at least this big.
POOL_MIN_BYTES = 8_000_000
POOL_PROCESSES = 2
#: Files per worker job: small enough to balance the workers, big enough to merge cheaply.
JOB_BYTES = 6_000_000

#: A decoded entry as a plain tuple: its id, then DOC_FIELDS (every entry field, in order).
Doc = tuple[Any, ...]
DOC_FIELDS = ENTRY_FIELDS
#: Where each field sits in a Doc.
DOC_INDEX = {name: at for at, name in enumerate(DOC_FIELDS, start=1)}
#: The fields a doc's blob holds: those neither in its EntryAttrs nor `line` (kept apart).
BLOB_FIELDS = tuple(name for name in DOC_FIELDS if name not in ATTRIBUTES and name != "line")
_BLOB_VALUES = itemgetter(*(DOC_INDEX[name] for name in BLOB_FIELDS))
#: The attributes a doc does not hold (the store's, e.g. `copy`) read as their first
#: choice (an original) from one slot past the doc's end.
_PAST_DOC = len(DOC_FIELDS) + 1
_ATTR_VALUES = itemgetter(*(DOC_INDEX.get(name, _PAST_DOC) for name in COLUMN_ATTRIBUTES))
_STORE_DEFAULT = (ORIGINAL,)
_COPY_VALUES = itemgetter(*(DOC_INDEX[name] for name in COPY_FIELDS))
_MESSAGE, _TITLE, _BODY = (BLOB_FIELDS.index(name) for name in ("message", "title", "body"))
#: A Doc from an entry's attrs, line and blob laid end to end.
_DOC_OF = itemgetter(
    *([*ATTRIBUTES, "line", *BLOB_FIELDS].index(name) for name in ("entry_id", *DOC_FIELDS))
)
#: EntryAttrs slots whose values are shared between docs: all but the id and the date.
_SHARED_SLOTS = tuple(
    at for at, name in enumerate(ATTRIBUTES) if name not in ("entry_id", DATE_FILTER.field)
)
#: A character that is part of a token, outside ASCII (or a combining mark, which joins one).
_NON_ASCII_TOKEN_CHAR = re.compile(
    r"[^\W_\x00-\x7f]|[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F]"
)
#: UTF-8 bytes to ASCII: letters and digits kept, every other byte a space.
_SEPARATE = bytes.maketrans(
    bytes(range(256)),
    bytes(byte if chr(byte).isascii() and chr(byte).isalnum() else 32 for byte in range(256)),
)
#: Characters that end any token and leave the case of their neighbours alone, so a
#: message bounded by them in its body tokenizes the same alone as inside the body.
_CLEAN_EDGES = frozenset(' \t\r\n"')


@dataclass
class Chunk:
    """What one worker read from a list of files: rows, blobs, lengths, postings (local numbers).

    `blobs` holds every entry's marshal blob end to end, `ends[i]` where entry i's ends;
    a posting's frequencies are packed as bytes ("B") or, past 255, as unsigned ints ("I").
    """

    files: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, size, mtime, docs
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # EntryAttrs values, then line
    blobs: bytes = b""
    ends: array = field(default_factory=lambda: array("I"))
    lengths: array = field(default_factory=lambda: array("I"))
    postings: dict[str, tuple[bytes, str, bytes]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    copy_keys: array = field(default_factory=lambda: array("Q"))  # dialogfile.copies, as ints


_DOC_VALUES = attrgetter(*DOC_FIELDS)
_AT_SPEAKER, _AT_TARGET, _AT_LINE = (DOC_INDEX[name] for name in ("speaker", "target", "line"))
_AT_MESSAGE, _AT_TITLE, _AT_BODY = (DOC_INDEX[name] for name in ("message", "title", "body"))
_AT_MOOD = DOC_INDEX["mood_rgb"]


def doc_of(entry_id: int, entry: Entry) -> Doc:
    """The Doc tuple of an entry, its mood the colour the stores index (indexed_mood)."""
    doc = (entry_id, *_DOC_VALUES(entry))
    if entry.mood_rgb is None and entry.mood_raw is not None:
        mood = indexed_mood(None, entry.mood_raw)
        if mood is not None:
            doc = (*doc[:_AT_MOOD], mood, *doc[_AT_MOOD + 1 :])
    return doc


def doc_entry(doc: Doc) -> Entry:
    """The Entry a Doc tuple holds."""
    return Entry(**dict(zip(DOC_FIELDS, doc[1:], strict=True)))


def span_in(body: str | None, part: str | None) -> tuple[int, int] | None:
    """Where `part` sits in `body` (start, end), or None when it is not part of it."""
    if not part or not body:
        return None
    start = body.find(part)
    return None if start < 0 else (start, start + len(part))


def index_tokens(text: str) -> list[str]:
    """fts_query.tokenize(text), faster when every token is ASCII (bytes split on spaces)."""
    lowered = text.lower()
    if not lowered.isascii() and _NON_ASCII_TOKEN_CHAR.search(lowered):
        return tokenize(text)
    return lowered.encode("utf-8", "surrogatepass").translate(_SEPARATE).decode("ascii").split()


def entry_tokens(
    body: str, message: str, title: str, span: tuple[int, int] | None
) -> tuple[list[str], list[str]]:
    """Tokens of the body and of title + message.

    A message whose span in the body has clean edges is tokenized once, inside the body.
    """
    glyphs = glyph_words(f"{title}\n{message}\n{body}")  # dialogfile.glyphs, as the writer
    fixed = repaired_text(title, message, body)  # dialogfile.mojibake, as the writer
    if fixed:
        glyphs = glyphs + index_tokens(fixed)
    if span is not None:
        start, end = span
        if (start == 0 or body[start - 1] in _CLEAN_EDGES) and (
            end == len(body) or body[end] in _CLEAN_EDGES
        ):
            said = index_tokens(message)
            text = index_tokens(body[:start]) + said + index_tokens(body[end:])
            return text + glyphs, index_tokens(title) + said
    return index_tokens(body) + glyphs, index_tokens(f"{title}\n{message}")


class _Collector:
    """Accumulates one chunk's rows, blobs, lengths and postings."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.lists: dict[str, list[int]] = {}
        self.blobs: list[bytes] = []
        #: Tokens and targets of the (speaker, target) pairs seen: they repeat a lot.
        self.people: dict[tuple[str | None, str | None], tuple[list[str], tuple[str, ...]]] = {}

    def add(self, doc: Doc) -> None:
        """Store and tokenize one decoded entry."""
        speaker, target = doc[_AT_SPEAKER], doc[_AT_TARGET]
        known = self.people.get((speaker, target))
        if known is None:
            named = index_tokens(f"{speaker or ''}\n{target or ''}")
            known = self.people[(speaker, target)] = (named, tuple(target_tokens(target)))
        named, targets = known
        chunk = self.chunk
        number = len(chunk.rows)
        values = _ATTR_VALUES((*doc, *_STORE_DEFAULT))
        chunk.rows.append((*entry_attrs(doc[0], values, targets), doc[_AT_LINE]))
        chunk.copy_keys.append(int(copy_key_of(_COPY_VALUES(doc)), 16))
        body, message, title = doc[_AT_BODY], doc[_AT_MESSAGE], doc[_AT_TITLE]
        span = span_in(body, message)
        stored = list(_BLOB_VALUES(doc))
        stored[_MESSAGE] = span or message
        stored[_TITLE] = span_in(body, title) or title
        self.blobs.append(marshal.dumps(tuple(stored)))
        text, emphasised = entry_tokens(body or "", message or "", title or "", span)
        chunk.lengths.append(len(text) + len(emphasised) + len(named))
        counts = Counter(text + emphasised * TITLE_MESSAGE_EXTRA + named * SPEAKER_TARGET_WEIGHT)
        lists = self.lists
        get = lists.get
        for token, count in counts.items():
            found = get(token)
            if found is None:
                lists[token] = [number, count]
            else:
                found += (number, count)

    def finish(self) -> Chunk:
        """The chunk with its postings packed as bytes (cheap to send between processes)."""
        chunk = self.chunk
        chunk.postings = {token: _packed(pairs) for token, pairs in self.lists.items()}
        chunk.blobs = b"".join(self.blobs)
        chunk.ends = array("I", accumulate(map(len, self.blobs)))
        self.lists, self.blobs = {}, []
        return chunk


def _packed(pairs: list[int]) -> tuple[bytes, str, bytes]:
    """Interleaved (number, frequency) pairs as numbers ("I"), typecode, frequencies."""
    frequencies = pairs[1::2]
    code = "B" if max(frequencies) < 256 else "I"
    return array("I", pairs[0::2]).tobytes(), code, array(code, frequencies).tobytes()


def read_chunk(job: tuple[str, list[str]]) -> Chunk:
    """Read, parse, key and tokenize the files `job` names (runs in a worker process)."""
    root, paths = job
    chunk = Chunk()
    collector = _Collector(chunk)
    for rel in paths:
        try:
            source = read_source(Path(root), rel)
        except (OSError, ValueError):
            chunk.failed.append(rel)
            continue
        parsed = parse_file(source.text, source.path)
        keyed = keyed_entries(parsed.entries)
        chunk.files.append((rel, source.size_bytes, source.mtime_ns, len(keyed)))
        for entry_id, _, entry in keyed:
            collector.add(doc_of(entry_id, entry))
    return collector.finish()


class FileIndex:
    """Attributes, blobs and postings; a removed doc leaves None in its attrs.

    Doc n's blob is stores[store_of[n]][starts[n]:ends[n]] (one bytes object per chunk).
    """

    def __init__(self) -> None:
        self.stores: list[bytes] = []
        self.store_of = array("I")
        self.starts = array("I")
        self.ends = array("I")
        self.attrs: list[EntryAttrs | None] = []
        self.lines = array("I")
        #: Each doc's copy key (dialogfile.copies.copy_key as an int), and the docs of
        #: every key held more than once (see refresh_copies).
        self.copy_keys = array("Q")
        self.copy_groups: dict[int, list[int]] = {}
        self.lengths = array("I")
        self.postings: dict[str, tuple[array, array]] = {}
        self.by_id: dict[int, int] = {}
        self.file_docs: dict[str, range] = {}
        self.stamps: dict[str, tuple[int, int]] = {}
        self.total_length = 0
        self.alive = 0
        self._vocabulary: list[str] | None = None
        self._shared: dict[Any, Any] = {}
        self.failed: list[str] = []
        #: Per-token bm25 contributions, filled by file_bm25 and emptied on any change.
        self.weights: dict[str, array] = {}

    @property
    def docs(self) -> list[EntryAttrs | None]:
        """One item per doc number, None for a removed doc (test with `is None`)."""
        return self.attrs

    @property
    def average_length(self) -> float:
        """Mean doc length in tokens (for bm25)."""
        return self.total_length / self.alive if self.alive else 1.0

    def vocabulary(self) -> list[str]:
        """Every token, sorted (for prefix searches)."""
        if self._vocabulary is None:
            self._vocabulary = sorted(self.postings)
        return self._vocabulary

    def doc(self, number: int) -> Doc | None:
        """The decoded Doc tuple of a doc number (None if removed)."""
        attrs = self.attrs[number]
        if attrs is None:
            return None
        blob = memoryview(self.stores[self.store_of[number]])[
            self.starts[number] : self.ends[number]
        ]
        stored = list(marshal.loads(blob))
        body = stored[_BODY]
        for at in (_MESSAGE, _TITLE):
            if isinstance(stored[at], tuple):
                stored[at] = body[stored[at][0] : stored[at][1]]
        return _DOC_OF((*attrs, self.lines[number], *stored))  # type: ignore[no-any-return]

    def entry(self, number: int) -> Entry | None:
        """The Entry of a doc number (None if removed)."""
        doc = self.doc(number)
        return None if doc is None else doc_entry(doc)

    def add_chunk(self, chunk: Chunk) -> None:
        """Append a worker's chunk, renumbering its docs after ours."""
        self.weights = {}
        base = len(self.attrs)
        share = self._shared.setdefault
        attrs = [self._shared_attrs(row) for row in chunk.rows]
        self.attrs.extend(attrs)
        count = len(chunk.rows)
        if count:
            self.store_of.extend(repeat(len(self.stores), count))
            self.stores.append(chunk.blobs)
            self.starts.append(0)
            self.starts.extend(chunk.ends[:-1])
            self.ends.extend(chunk.ends)
        self.lines.extend(row[-1] for row in chunk.rows)
        self.copy_keys.extend(chunk.copy_keys)
        by_id = self.by_id
        for number, row in enumerate(chunk.rows, start=base):
            # Ids are 53-bit hashes: a collision across files is vanishingly rare;
            # the first file (in path order) keeps the id, as in a full reindex.
            by_id.setdefault(row[0], number)
        self.lengths.extend(chunk.lengths)
        self.total_length += sum(chunk.lengths)
        self.alive += len(chunk.rows)
        position = base
        for rel, size, mtime_ns, count in chunk.files:
            self.file_docs[share(rel, rel)] = range(position, position + count)
            self.stamps[rel] = (size, mtime_ns)
            position += count
        self.failed.extend(chunk.failed)
        add = base.__add__
        postings = self.postings
        for token, (doc_bytes, code, tf_bytes) in chunk.postings.items():
            numbers = array("I")
            numbers.frombytes(doc_bytes)
            frequencies = array(code)
            frequencies.frombytes(tf_bytes)
            pair = postings.get(token)
            if pair is None:
                if base:
                    numbers = array("I", map(add, numbers))
                postings[token] = (numbers, frequencies)
                self._vocabulary = None
                continue
            pair[0].extend(map(add, numbers) if base else numbers)
            if pair[1].typecode != code:
                pair = postings[token] = (pair[0], array("I", pair[1]))
                frequencies = array("I", frequencies)
            pair[1].extend(frequencies)

    def _shared_attrs(self, row: tuple[Any, ...]) -> EntryAttrs:
        """The EntryAttrs of a chunk row, its strings shared with the docs that hold them too."""
        share = self._shared.setdefault
        values = list(row[:-1])
        for at in _SHARED_SLOTS:
            values[at] = share(values[at], values[at])
        return EntryAttrs._make(values)

    def remove_file(self, rel: str) -> None:
        """Forget a file's docs (their postings stay, pointing at None)."""
        self.weights = {}
        for number in self.file_docs.pop(rel, ()):
            attrs = self.attrs[number]
            if attrs is None:
                continue
            if self.by_id.get(attrs.entry_id) == number:
                del self.by_id[attrs.entry_id]
            self.attrs[number] = None
            self.total_length -= self.lengths[number]
            self.alive -= 1
        self.stamps.pop(rel, None)

    def needs_compaction(self) -> bool:
        """Whether removed docs are a quarter of all docs (and at least 1,000)."""
        dead = len(self.attrs) - self.alive
        return dead >= 1000 and dead * 4 >= len(self.attrs)

    def compact_if_needed(self) -> bool:
        """Drop removed docs from the postings, in this thread, when needed (True)."""
        if not self.needs_compaction():
            return False
        self.__dict__.update(self.snapshot().compacted().__dict__)
        return True

    def snapshot(self) -> FileIndex:
        """What compacted() reads, copied: the docs as they are now, for another thread.

        Cheap (lists and arrays copied, the stores' bytes shared); changes made to this
        index afterwards do not reach the snapshot.
        """
        copy = FileIndex()
        copy.stores, copy.store_of = list(self.stores), array("I", self.store_of)
        copy.starts, copy.ends = array("I", self.starts), array("I", self.ends)
        copy.attrs, copy.lines = list(self.attrs), array("I", self.lines)
        copy.file_docs, copy.stamps = dict(self.file_docs), dict(self.stamps)
        return copy

    def compacted(self) -> FileIndex:
        """A new index of the live docs only (tokenized again; seconds at 100k entries)."""
        rebuilt = FileIndex()
        for rel in sorted(self.file_docs):
            chunk = Chunk()
            collector = _Collector(chunk)
            for number in self.file_docs[rel]:
                doc = self.doc(number)
                if doc is not None:
                    collector.add(doc)
            chunk.files.append((rel, *self.stamps.get(rel, (0, 0)), len(chunk.rows)))
            rebuilt.add_chunk(collector.finish())
        refresh_copies(rebuilt, None)
        return rebuilt


def build_index(root: Path) -> FileIndex:
    """Read every dialog file below `root` into a new FileIndex."""
    paths = find_dialog_files(root)
    index = FileIndex()
    for chunk in _read_chunks(str(root), paths):
        index.add_chunk(chunk)
    refresh_copies(index, None)
    return index


def _read_chunks(root: str, paths: list[str]) -> Iterator[Chunk]:
    """Chunks in path order; in worker processes when the files are big."""
    sizes = []
    for rel in paths:
        try:
            sizes.append(os.stat(os.path.join(root, rel)).st_size)
        except OSError:
            sizes.append(0)
    if sum(sizes) < POOL_MIN_BYTES or len(paths) < 2:
        yield read_chunk((root, paths))
        return
    jobs: list[tuple[str, list[str]]] = []
    taken = JOB_BYTES
    for rel, size in zip(paths, sizes, strict=True):
        if taken >= JOB_BYTES:
            jobs.append((root, []))
            taken = 0
        jobs[-1][1].append(rel)
        taken += size
    # "fork", as indexer.reindex does: "spawn" would re-run the caller's __main__. The
    # workers only read, parse and tokenize, touching no lock another thread may hold.
    # They run without cyclic garbage collection (about 10% of their time): they make
    # many objects, few cycles, and exit when the build is done.
    with multiprocessing.get_context("fork").Pool(POOL_PROCESSES, initializer=gc.disable) as pool:
        yield from pool.imap(read_chunk, jobs)


def chunk_for_file(root: Path, rel: str) -> Chunk:
    """One file read into a chunk (for reloading it)."""
    return read_chunk((str(root), [rel]))
