"""Read a `dialog:` block of YAML: with PyYAML when it is valid, line by line when not.

Most real headers are not valid YAML (`target: @everyone`), so the line-by-line
reader is the normal path; PyYAML only supplies values where the block parses.
Rules: ../shared/corpus/README.md ("HEADER").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from dialogfile.parse_layout import is_blank

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Blocks larger than this are only read line by line (PyYAML is slow on huge input).
_YAML_MAX_CHARS = 65_536
_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_BLOCK_INDICATOR = re.compile(r"[|>][-+0-9]{0,2}[ \t]*(?:#.*)?")
# Possessive (`*+`): the scan never backtracks, so it keeps no memory per character. The
# backtracking form `"(?:[^"\\]|\\.)*"` kept about 130 bytes per repetition (a character or
# a backslash pair): 94 MiB for an unclosed quote of 1.6M backslashes. Above glibc's 32 MiB
# mmap ceiling that stack was mapped afresh and page-faulted in on every call (11,719 faults
# at 800k characters, none at 400k), which took the scan from 20 to 55 ns per character:
# the 9x step from 400k to 800k characters (issue 11). Now about 10 ns/char at any size.
_DOUBLE_QUOTED = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_SINGLE_QUOTED = re.compile(r"'[^']*+(?:''[^']*+)*+'")


@dataclass
class DialogMapping:
    """One mapping of a dialog block: where it is and its key -> text values."""

    line: int
    end: int
    values: dict[str, str] = field(default_factory=dict)
    #: Indexes of lines the line-by-line reader could not place (empty when YAML read it all).
    unread: list[int] = field(default_factory=list)


@dataclass
class DialogBlock:
    """A `dialog:` key and what it holds."""

    line: int
    end: int
    mappings: list[DialogMapping]


def split_key(text: str) -> tuple[str, str] | None:
    """(key, rest) for a `key:` or `key: value` line at column 0 of `text`, else None."""
    colon = text.find(":")
    if colon <= 0:
        return None
    key = text[:colon]
    rest = text[colon + 1 :]
    if rest and rest[0] not in " \t":
        return None
    if not _KEY.fullmatch(key):
        return None
    return key, rest


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _strip_comment(text: str) -> str:
    for marker in (" #", "\t#"):
        position = text.find(marker)
        if position >= 0:
            text = text[:position]
    return text.strip()


def _load_yaml(source: str) -> Any:
    """`source` loaded with PyYAML's safe loader (the C one when available).

    :raise yaml.YAMLError: on invalid YAML.
    :raise ValueError: on impossible dates such as 2026-02-30 (PyYAML calls datetime()).
    :raise RecursionError: on very deep nesting.
    """
    return yaml.load(source, Loader=_YAML_LOADER)


def _yaml_scalar(source: str) -> str | None:
    """`source` loaded as a YAML document when that gives a string."""
    if len(source) > _YAML_MAX_CHARS:
        return None
    try:
        loaded = _load_yaml(source)
    except (yaml.YAMLError, ValueError, RecursionError):
        # ValueError: PyYAML builds dates like 2026-02-30 with datetime(); RecursionError: nesting.
        return None
    return loaded if isinstance(loaded, str) else None


def quoted_prefix(text: str) -> str | None:
    """The quoted scalar `text` starts with (quotes included), None when it is never closed.

    Double quotes end at the first `"` no backslash escapes. Single quotes end at the
    first quote of an odd run of quotes (`''` is a quote); when every run is even, at
    the second-to-last quote of the last run (what a backtracking regex gave: kept so
    that values read before stay the same). O(1) memory and one pass, however long.
    """
    if text[:1] == '"':
        match = _DOUBLE_QUOTED.match(text)
        return match.group(0) if match else None
    match = _SINGLE_QUOTED.match(text)
    if match:
        return match.group(0)
    last = text.rfind("'")
    return text[:last] if last > 0 else None


def _read_quoted(first: str, continuation: list[str]) -> str:
    text = "\n".join([first, *(line.strip() for line in continuation)]).rstrip()
    quoted = quoted_prefix(text)
    if quoted is None:
        return " ".join(part.strip() for part in text[1:].split("\n")).strip()
    if "\n" not in quoted:
        # The common case needs no YAML: no escapes, no line folding.
        if quoted[0] == "'":
            return quoted[1:-1].replace("''", "'")
        if "\\" not in quoted:
            return quoted[1:-1]
    loaded = _yaml_scalar(quoted)
    if loaded is not None:
        return loaded
    return " ".join(part.strip() for part in quoted[1:-1].split("\n"))


def _read_block_scalar(indicator: str, continuation: list[str]) -> str:
    loaded = _yaml_scalar("\n".join(["--- " + indicator, *continuation]))
    if loaded is not None:
        return loaded.strip()
    depth = min((_indent(line) for line in continuation if not is_blank(line)), default=0)
    lines = [line[depth:].rstrip() for line in continuation]
    joiner = "\n" if indicator.startswith("|") else " "
    return joiner.join(lines).strip()


def _read_plain(first: str, continuation: list[str]) -> str:
    parts = [_strip_comment(first)] if first.strip() else []
    for line in continuation:
        stripped = line.strip()
        if stripped.startswith("#"):
            break
        parts.append(_strip_comment(stripped) if stripped else "")
    # YAML folding: a line break is a space, an empty line a newline.
    pieces: list[str] = []
    for part in parts:
        if not part:
            pieces.append("\n")
        elif pieces and pieces[-1] != "\n":
            pieces.append(" " + part)
        else:
            pieces.append(part)
    return "".join(pieces).strip()


def read_scalar(rest: str, continuation: list[str]) -> str:
    """The text value of `key: rest` whose more-indented lines are `continuation`."""
    first = rest.strip()
    if first[:1] in ('"', "'"):
        return _read_quoted(first, continuation)
    if first[:1] in ("|", ">") and _BLOCK_INDICATOR.fullmatch(first):
        return _read_block_scalar(first, continuation)
    return _read_plain(first, continuation)


def _read_mapping(rows: list[tuple[int, str]]) -> tuple[dict[str, str], list[int]]:
    """key (lower case) -> text for the `key: value` rows at the first row's indentation.

    Also returns the indexes of the rows that are neither such a key, nor a
    comment, nor part of a value.
    """
    values: dict[str, str] = {}
    unread: list[int] = []
    depth = next((_indent(text) for _, text in rows if not is_blank(text)), 0)
    position = 0
    while position < len(rows):
        index, text = rows[position]
        position += 1
        if is_blank(text) or text.lstrip().startswith("#"):
            continue
        parsed = split_key(text[depth:]) if _indent(text) == depth else None
        if parsed is None:
            unread.append(index)
            continue
        following = position
        while following < len(rows) and (
            is_blank(rows[following][1]) or _indent(rows[following][1]) > depth
        ):
            following += 1
        continuation = [row for _, row in rows[position:following]]
        while continuation and is_blank(continuation[-1]):
            continuation.pop()
        values.setdefault(parsed[0].lower(), read_scalar(parsed[1], continuation))
        position = following
    return values, unread


def _last_filled(lines: list[str], start: int, stop: int) -> int:
    """The last index in start..stop-1 that is not blank (start when all are)."""
    for index in range(stop - 1, start, -1):
        if not is_blank(lines[index]):
            return index
    return start


def _yaml_values(block_text: str, key: str) -> list[dict[str, Any]] | None:
    if len(block_text) > _YAML_MAX_CHARS:
        return None
    try:
        loaded = _load_yaml(block_text)
    except (yaml.YAMLError, ValueError, RecursionError):
        # Invalid YAML is the normal case (`target: @everyone`): the line reader has the values.
        return None
    if not isinstance(loaded, dict):
        return None
    value = loaded.get(key)
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        return None
    return [{str(name).lower(): item[name] for name in item} for item in items]


def read_dialog_block(lines: list[str], start: int, stop: int) -> DialogBlock:
    """The `dialog:` key on line `start` (column 0) and its mappings, before index `stop`."""
    end = start + 1
    while end < stop:
        line = lines[end]
        if not (is_blank(line) or line[0] in " \t" or line.startswith("- ") or line == "-"):
            break
        end += 1
    last = _last_filled(lines, start, end)
    key, rest = lines[start].split(":", 1)
    mappings: list[DialogMapping] = []
    first_item = next((i for i in range(start + 1, last + 1) if not is_blank(lines[i])), None)
    if first_item is None or rest.strip():
        # `dialog: {speaker: X}` or `dialog:` with nothing below: only YAML can read it.
        values = _yaml_values("\n".join(lines[start : last + 1]), key)
        if values and len(values) == 1:
            text_values = {name: str(value) for name, value in values[0].items()}
            mappings.append(DialogMapping(start, last, text_values))
        return DialogBlock(start, last, mappings)
    item_line = lines[first_item]
    item_depth = _indent(item_line)
    if item_line[item_depth:].startswith("- ") or item_line[item_depth:] == "-":
        starts = [
            index
            for index in range(first_item, last + 1)
            if _indent(lines[index]) == item_depth
            and (lines[index][item_depth:].startswith("- ") or lines[index][item_depth:] == "-")
        ]
        for number, item_start in enumerate(starts):
            item_stop = starts[number + 1] if number + 1 < len(starts) else last + 1
            head = lines[item_start]
            rows = [(item_start, " " * (item_depth + 2) + head[item_depth + 2 :])]
            rows += [(index, lines[index]) for index in range(item_start + 1, item_stop)]
            item_end = _last_filled(lines, item_start, item_stop)
            mappings.append(DialogMapping(item_start, item_end, *_read_mapping(rows)))
    else:
        rows = [(index, lines[index]) for index in range(start + 1, last + 1)]
        mappings.append(DialogMapping(start, last, *_read_mapping(rows)))
    _overlay_yaml(mappings, "\n".join(lines[start : last + 1]), key)
    return DialogBlock(start, last, mappings)


def _overlay_yaml(mappings: list[DialogMapping], block_text: str, key: str) -> None:
    """Where the block is valid YAML, take its string values over the line-by-line ones."""
    loaded = _yaml_values(block_text, key)
    if loaded is None or len(loaded) != len(mappings):
        return
    for mapping, values in zip(mappings, loaded, strict=True):
        mapping.unread = []
        for name, value in values.items():
            if isinstance(value, str):
                mapping.values[name] = value
