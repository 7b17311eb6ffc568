"""Search filters: the Filters value, its validation, and the mood colour families.

Within one filter several values are alternatives (speaker=A&speaker=B is A or B);
different filters must all hold. Both repositories apply exactly these rules.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass, replace

from indexer.model import FORMATS

_HEX = re.compile(r"#?[0-9A-Fa-f]{6}")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_STAMP = re.compile(r"\d{14}")
_DAY = re.compile(r"\d{8}")

#: Mood families, by the hue of the colour (degrees) when it is saturated enough.
#: A colour whose HSV saturation is below 0.2 is grey, unless its value is below
#: 0.2 (black) or above 0.9 with saturation below 0.1 (white); a dark colour
#: (value < 0.2) is black whatever its hue. Otherwise the hue picks the family:
#: red [345, 15), orange [15, 45), yellow [45, 70), green [70, 165),
#: cyan [165, 195), blue [195, 255), purple [255, 290), pink [290, 345).
MOOD_FAMILIES = (
    "red",
    "orange",
    "yellow",
    "green",
    "cyan",
    "blue",
    "purple",
    "pink",
    "grey",
    "black",
    "white",
)
_HUE_FAMILIES = (
    (15, "red"),
    (45, "orange"),
    (70, "yellow"),
    (165, "green"),
    (195, "cyan"),
    (255, "blue"),
    (290, "purple"),
    (345, "pink"),
    (360, "red"),
)
_FAMILY_ALIASES = {"gray": "grey", "violet": "purple", "magenta": "pink"}


class FilterError(ValueError):
    """A filter value that cannot be read; `parameter` names the query parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class Filters:
    """Validated filters. Moods are 6 upper-case hex digits or family names."""

    speakers: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None

    def without(self, facet: str) -> Filters:
        """These filters minus the one a facet of that name counts over."""
        name = {
            "speaker": "speakers",
            "target": "targets",
            "mood": "moods",
            "file": "files",
            "format": "formats",
        }[facet]
        return replace(self, **{name: ()})

    def merged(self, other: Filters) -> Filters:
        """Both sets of filters: values of one filter add up, dates take the narrower."""
        since = max((v for v in (self.since, other.since) if v is not None), default=None)
        until = min((v for v in (self.until, other.until) if v is not None), default=None)
        return Filters(
            speakers=_union(self.speakers, other.speakers),
            targets=_union(self.targets, other.targets),
            moods=_union(self.moods, other.moods),
            files=_union(self.files, other.files),
            formats=_union(self.formats, other.formats),
            since=since,
            until=until,
        )


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a + b))


def mood_family(mood_rgb: str | None) -> str | None:
    """The family (see MOOD_FAMILIES) of a 6-hex colour, or None for no colour."""
    if not mood_rgb or not _HEX.fullmatch(mood_rgb):
        return None
    digits = mood_rgb.lstrip("#")
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    if value < 0.2:
        return "black"
    if saturation < 0.1 and value > 0.9:
        return "white"
    if saturation < 0.2:
        return "grey"
    degrees = hue * 360
    return next(name for limit, name in _HUE_FAMILIES if degrees < limit)


def parse_mood(value: str, parameter: str = "mood") -> str:
    """A mood filter value: 6 hex digits (a leading # allowed) or a family name."""
    text = value.strip()
    if _HEX.fullmatch(text):
        return text.lstrip("#").upper()
    family = _FAMILY_ALIASES.get(text.lower(), text.lower())
    if family in MOOD_FAMILIES:
        return family
    raise FilterError(
        parameter,
        f"{parameter}={value!r} is neither 6 hex digits (e.g. FF0000) nor a colour "
        f"family ({', '.join(MOOD_FAMILIES)})",
    )


def mood_matches(mood_rgb: str | None, moods: tuple[str, ...]) -> bool:
    """Whether an entry's colour satisfies a moods filter (hex values or families)."""
    if not moods:
        return True
    if mood_rgb is None:
        return False
    return mood_rgb in moods or mood_family(mood_rgb) in moods


def parse_timestamp(value: str, parameter: str, *, end_of_day: bool = False) -> int:
    """YYYY-MM-DD, YYYYMMDD or YYYYMMDDHHMMSS as an int; a day ends at 235959 if asked."""
    text = value.strip()
    match = _DATE.fullmatch(text)
    if match:
        day = "".join(match.groups())
    elif _DAY.fullmatch(text):
        day = text
    elif _STAMP.fullmatch(text):
        return _checked(int(text), parameter, value)
    else:
        raise FilterError(
            parameter, f"{parameter}={value!r} is not a date (YYYY-MM-DD or YYYYMMDDHHMMSS)"
        )
    return _checked(int(day + ("235959" if end_of_day else "000000")), parameter, value)


def _checked(stamp: int, parameter: str, value: str) -> int:
    month, day = stamp // 100000000 % 100, stamp // 1000000 % 100
    hour, minute, second = stamp // 10000 % 100, stamp // 100 % 100, stamp % 100
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise FilterError(parameter, f"{parameter}={value!r} is not a valid date")
    return stamp


def parse_format(value: str, parameter: str = "format") -> str:
    """One of indexer.model.FORMATS."""
    text = value.strip().lower()
    if text not in FORMATS:
        raise FilterError(parameter, f"{parameter}={value!r} is not one of {', '.join(FORMATS)}")
    return text


def parse_file(value: str, parameter: str = "file") -> str:
    """A relative '/'-separated path or folder; a trailing '/' means a folder only."""
    text = value.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if not text or text.startswith("/") or "\x00" in text:
        raise FilterError(parameter, f"{parameter}={value!r} is not a relative path")
    return text


def file_matches(dialog_file: str, files: tuple[str, ...]) -> bool:
    """Whether `dialog_file` is one of `files` or lies in one of them taken as folders."""
    if not files:
        return True
    for wanted in files:
        folder = wanted.rstrip("/") + "/"
        if (dialog_file == wanted and not wanted.endswith("/")) or dialog_file.startswith(folder):
            return True
    return False


def target_variants(value: str) -> tuple[str, ...]:
    """The spellings a target filter matches: with and without its leading '@'."""
    bare = value.strip().lstrip("@")
    if not bare:
        return ()
    return (f"@{bare}", bare)
