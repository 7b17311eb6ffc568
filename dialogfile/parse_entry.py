"""Turn an entry as found (RawEntry) into an Entry with normalised values and problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from dialogfile.model import Entry, Problem
from dialogfile.parse_values import (
    is_emoji_mood,
    is_notation_mood,
    normalise_mood,
    normalise_name,
    parse_timestamp,
)


@dataclass
class RawEntry:
    """An entry as found, before values are normalised. `line`/`end` are 0-based indexes."""

    line: int
    end: int
    speaker: str | None
    target: str | None = None
    mood: str | None = None
    #: Timestamp field values in order of preference; the first that parses wins.
    timestamps: list[str] = field(default_factory=list)
    #: Where the timestamp comes from when no field parses (a heading, a file date).
    fallback_timestamp: str | None = None
    message: str | None = None
    title: str | None = None
    system_version: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


def build_entry(
    raw: RawEntry, entry_format: str, path: str, lines: list[str]
) -> tuple[Entry, list[Problem]]:
    """The Entry for `raw` (values normalised, body cut from `lines`) and what was unreadable."""
    problems: list[Problem] = []
    line_number = raw.line + 1
    timestamp = None
    for candidate in raw.timestamps:
        timestamp = parse_timestamp(candidate)
        if timestamp is not None:
            break
    if timestamp is None and raw.timestamps:
        problems.append(
            Problem(
                path,
                line_number,
                f"timestamp {_short(raw.timestamps[0])!r} is not a date"
                " (write YYYYMMDDHHMMSS or YYYY-MM-DD HH:MM:SS)",
            )
        )
    if timestamp is None:
        timestamp = parse_timestamp(raw.fallback_timestamp)
    mood_rgb = normalise_mood(raw.mood)
    mood_raw = raw.mood if raw.mood and raw.mood.strip() else None
    if mood_rgb is None and mood_raw is not None and not _known_mood_notation(mood_raw):
        problems.append(
            Problem(
                path,
                line_number,
                f"mood {_short(mood_raw)!r} is not an RRGGBB colour; kept as mood_raw"
                ' (write six hex digits, e.g. "0066FF")',
            )
        )
    entry = Entry(
        dialog_file=path,
        format=entry_format,
        line=line_number,
        end_line=raw.end + 1,
        speaker=normalise_name(raw.speaker),
        target=normalise_name(raw.target),
        mood_rgb=mood_rgb,
        mood_raw=mood_raw,
        timestamp_utc=timestamp,
        message=raw.message,
        title=raw.title,
        body="\n".join(lines[raw.line : raw.end + 1]),
        system_version=raw.system_version,
        metadata=raw.metadata,
    )
    return entry, problems


def _known_mood_notation(mood: str) -> bool:
    """Moods written as a picture or in Lupopedia's notation: no colour, and no problem."""
    return is_emoji_mood(mood) or is_notation_mood(mood)
