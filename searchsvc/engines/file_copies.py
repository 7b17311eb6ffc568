"""Copies in the file index: which doc of each set of copies is the original, as the
database marks them (indexer.load_sqlite.refresh_copies; dialogfile.copies), and the
relevance weight of the places that hold a doc (dialogfile.copies.copy_weight)."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from dialogfile.copies import COPY, ORIGINAL, copy_order, copy_weight

if TYPE_CHECKING:
    from searchsvc.engines.file_index import FileIndex


def refresh_copies(index: FileIndex, keys: set[int] | None) -> None:
    """Mark the original and the copies among the docs sharing `keys` (None: every key).

    As the database does (indexer.load_sqlite.refresh_copies); `index.copy_groups`
    keeps the doc numbers of every key held more than once.
    """
    keys_of, attrs = index.copy_keys, index.attrs
    groups: dict[int, list[int]] = {}
    if keys is None:
        index.copy_groups = {}
        for number, key in enumerate(keys_of):
            if attrs[number] is not None:
                groups.setdefault(key, []).append(number)
    else:
        # The docs of a few keys: found by searching the keys' bytes in C (a Python pass
        # over every doc per reloaded file made a burst of 1,000 files take seconds).
        raw = keys_of.tobytes()
        for key in keys:
            index.copy_groups.pop(key, None)
            numbers = [n for n in _positions(raw, key) if attrs[n] is not None]
            if numbers:
                groups[key] = numbers
    for key, numbers in groups.items():
        if len(numbers) > 1:
            numbers.sort(
                key=lambda n: copy_order(attrs[n].dialog_file, index.lines[n], attrs[n].entry_id)
            )
            index.copy_groups[key] = numbers
        for at, number in enumerate(numbers):
            state = ORIGINAL if at == 0 else COPY
            if attrs[number].copy != state:
                attrs[number] = attrs[number]._replace(copy=state)


def _positions(raw: bytes, key: int) -> list[int]:
    """The doc numbers whose copy key is `key`, in `raw` (copy_keys' bytes, 8 per doc)."""
    needle = array("Q", [key]).tobytes()
    found, at = [], raw.find(needle)
    while at >= 0:
        if at % 8 == 0:
            found.append(at // 8)
            at = raw.find(needle, at + 8)
        else:
            at = raw.find(needle, at + 1)
    return found


def copies_of(index: FileIndex, number: int) -> list[int]:
    """The other docs with the same copy key as doc `number` (the original first)."""
    group = index.copy_groups.get(index.copy_keys[number], ())
    return [other for other in group if other != number]


def weigh_by_copies(index: FileIndex, scores: dict[int, float]) -> None:
    """Each doc's score times the copy weight of the docs sharing its copy key, as the
    database's relevance has it (sqlite_sql.SELECT_MATCHES, topk_schema.COPY_WEIGHT)."""
    groups, keys = index.copy_groups, index.copy_keys
    if not groups:
        return
    for number, score in scores.items():
        group = groups.get(keys[number])
        if group is not None:
            scores[number] = score * copy_weight(len(group))
