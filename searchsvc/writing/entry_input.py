"""Validate the JSON bodies of POST and PUT /api/dialog/entry: types, required fields, formats.

Every problem is collected and reported at once (InvalidEntry, each field named in
`errors`).
Strings are trimmed (the parser trims them when it reads the file back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialogfile.edits import EDITABLE_FIELDS
from dialogfile.model import ENTRY_FIELDS
from searchsvc.exceptions import InvalidEntry

#: Longest speaker / target accepted (characters).
MAX_NAME_CHARS = 200
#: Longest message accepted (characters); the request size cap applies too.
MAX_MESSAGE_CHARS = 100_000
POST_FIELDS = (*EDITABLE_FIELDS, "dialog_file")
#: Fields an entry answer carries that a PUT may repeat unchanged (GET, edit, PUT back).
READ_ONLY_FIELDS = tuple(
    name
    for name in (*ENTRY_FIELDS, "dialog_entry_id", "snippet", "before", "after")
    if name not in EDITABLE_FIELDS
)
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class NewEntry:
    """A validated POST body: the fields to write and the file to append to (None: default)."""

    fields: dict[str, Any]
    dialog_file: str | None


def _text(name: str, value: Any, problems: list[str], *, required: bool, one_line: bool) -> Any:
    """The trimmed string, None for an optional null/empty one; appends to `problems`."""
    if value is None:
        if required:
            problems.append(f"{name} is required")
        return None
    if not isinstance(value, str):
        problems.append(f"{name} must be a string")
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(f"{name} is not valid Unicode text (lone surrogate)")
        return None
    text = value.strip()
    if not text:
        if required:
            problems.append(f"{name} must not be empty")
        return None
    limit = MAX_NAME_CHARS if one_line else MAX_MESSAGE_CHARS
    if len(text) > limit:
        problems.append(f"{name} is longer than {limit} characters")
    if one_line and any(ord(char) < 0x20 or char in "\x7f\x85\u2028\u2029" for char in text):
        problems.append(f"{name} must be one line of text without control characters")
    if "\x00" in text:
        problems.append(f"{name} must not contain NUL characters")
    return text


def _mood(value: Any, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 6 or not set(value) <= _HEX:
        problems.append("mood_rgb must be 6 hex digits such as '0066FF' (or null)")
        return None
    return value.upper()


def _timestamp(value: Any, problems: list[str]) -> int | None:
    if value is None:
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and len(text) == 14 and text.isascii() and text.isdigit():
        try:
            datetime.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            pass
        else:
            return int(text)
    problems.append("timestamp_utc must be a date-time as YYYYMMDDHHMMSS, e.g. 20261126101500")
    return None


def _field(name: str, value: Any, problems: list[str], *, required: bool = False) -> Any:
    if name == "mood_rgb":
        return _mood(value, problems)
    if name == "timestamp_utc":
        return _timestamp(value, problems)
    return _text(name, value, problems, required=required, one_line=name != "message")


def _require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise InvalidEntry("The request body must be a JSON object")
    return body


def _unknown(body: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    return [
        f"unknown field {name!r} (allowed: {', '.join(allowed)})"
        for name in body
        if name not in allowed
    ]


def validate_new_entry(body: Any) -> NewEntry:
    """The POST body as a NewEntry; raises InvalidEntry listing every problem."""
    body = _require_object(body)
    problems = _unknown(body, POST_FIELDS)
    fields = {
        name: _field(name, body.get(name), problems, required=name in ("speaker", "message"))
        for name in EDITABLE_FIELDS
    }
    dialog_file = body.get("dialog_file")
    if dialog_file is not None and not isinstance(dialog_file, str):
        problems.append("dialog_file must be a string")
    if problems:
        raise InvalidEntry("The entry is not valid: " + "; ".join(problems), errors=problems)
    return NewEntry(fields, dialog_file)


def validate_changes(body: Any, current: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT body as {field: new value}; `current` is the entry as the API shows it.

    Read-only fields (line, body, dialog_entry_id, ...) may be sent back
    unchanged; a different value is an InvalidEntry, as is an unknown field.
    """
    body = _require_object(body)
    allowed = (*EDITABLE_FIELDS, *READ_ONLY_FIELDS)
    problems = _unknown(body, allowed)
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name in EDITABLE_FIELDS:
            required = name in ("speaker", "message")
            changes[name] = _field(name, value, problems, required=required)
        elif name in READ_ONLY_FIELDS and name in current and value != current[name]:
            problems.append(f"{name} is read-only (send it unchanged or leave it out)")
    if problems:
        raise InvalidEntry("The change is not valid: " + "; ".join(problems), errors=problems)
    return {name: value for name, value in changes.items() if value != current.get(name)}
