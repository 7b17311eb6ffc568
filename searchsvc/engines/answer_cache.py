"""The SQLite repository's answer cache, and the match lists it mostly holds.

Keys carry the database generation (`Database.reading()`), so a commit makes every
older answer unreachable; the least recently used go first once the cache holds
`size` items or about `max_bytes` (as `footprint` estimates them).
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from searchsvc.engines.matching import EntryAttrs

#: Rough bytes the answer cache may hold (see footprint); least recently used go first.
CACHE_BYTES = 32_000_000


class MatchRows(Sequence[tuple[int, float]]):
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
            return MatchRows(zip(self.ids[index], self.scores[index], strict=True))
        return (self.ids[index], self.scores[index])


@dataclass(frozen=True)
class Matches:
    """The matches of one expression read so far (all, or a sample), with relevance."""

    rows: MatchRows
    complete: bool
    attrs: dict[int, EntryAttrs] = field(default_factory=dict)
    total: int | None = None
    #: The hash threshold read up to (sqlite_matches); None until something is read.
    sampled: int | None = None


def footprint(value: Any) -> int:
    """Rough bytes a cached value holds (matches: 16 a row, about 260 an entry's attributes)."""
    if isinstance(value, Matches):
        return 100 + 16 * len(value.rows) + 260 * len(value.attrs)
    if isinstance(value, list):
        return 100 + 100 * len(value)
    return 100


class AnswerCache:
    """A small thread-safe LRU of computed answers; keys carry the database generation.

    Bounded by `size` items and by `max_bytes` as footprint estimates them.
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

    def cached(self, key: Any) -> Any:
        """The value stored for `key` (now the most recently used), or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        """Store `value`, dropping the least recently used items beyond the size."""
        size = footprint(value)
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
