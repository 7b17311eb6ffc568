"""Search filters: the Filters value, reading it from parameters, and the mood colour families.

Which filters there are comes from dialogfile.fields.FILTERS; how a value is read depends
on the filter's kind. Within one filter several values are alternatives
(speaker=A&speaker=B, or speaker=A,B, is A or B); different filters must all hold; an
excluded value (`-speaker:A` in q) must not hold. Every engine applies exactly these rules.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from dialogfile.fields import (
    FIELD,
    FILTER,
    MOOD,
    PATH,
    SINCE_PARAMETERS,
    UNTIL_PARAMETERS,
    VALUE_FILTERS,
    Filter,
)

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


@dataclass(frozen=True, init=False)
class Filters:
    """Validated filters: the values of each filter of dialogfile.fields.FILTERS, and a date range.

    Filters({"speaker": ("KIRO",)}) and Filters(speakers=("KIRO",)) are the same: a
    filter's keyword is its name plus "s", and reads back the same way
    (`filters.speakers`). Filters without values are left out, so Filters(speakers=())
    equals Filters(). Moods are 6 upper-case hex digits or family names.
    """

    values: tuple[tuple[str, tuple[str, ...]], ...]
    since: int | None
    until: int | None
    excluded: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(
        self,
        values: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]] | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        excluded: Mapping[str, Iterable[str]] | None = None,
        **by_keyword: Iterable[str],
    ) -> None:
        given = {name: tuple(items) for name, items in dict(values or ()).items()}
        for keyword, items in by_keyword.items():
            if keyword not in _NAME_OF_KEYWORD:
                raise TypeError(f"Filters() got an unexpected keyword argument {keyword!r}")
            given[_NAME_OF_KEYWORD[keyword]] = tuple(items)
        object.__setattr__(self, "values", _ordered(given))
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "excluded", _ordered(dict(excluded or {})))

    def __getattr__(self, keyword: str) -> tuple[str, ...]:
        """A filter's values by its keyword: `filters.speakers`."""
        name = _NAME_OF_KEYWORD.get(keyword)
        if name is None:
            raise AttributeError(keyword)
        return self.get(name)

    def get(self, name: str) -> tuple[str, ...]:
        """The values of the filter `name` (empty when it is not set)."""
        return next((items for key, items in self.values if key == name), ())

    def items(self) -> list[tuple[Filter, tuple[str, ...]]]:
        """The filters that are set, in FILTERS order, with their values (dates aside)."""
        return [(FILTER[name], items) for name, items in self.values]

    def excluded_items(self) -> list[tuple[Filter, tuple[str, ...]]]:
        """The filters whose values must not hold, in FILTERS order, with those values."""
        return [(FILTER[name], items) for name, items in self.excluded]

    def get_excluded(self, name: str) -> tuple[str, ...]:
        """The excluded values of the filter `name` (empty when none)."""
        return next((items for key, items in self.excluded if key == name), ())

    def replaced(self, name: str, values: Iterable[str], excluded: Iterable[str]) -> Filters:
        """These filters with the values (and excluded values) of `name` replaced."""
        kept = {key: items for key, items in self.values if key != name}
        out = {key: items for key, items in self.excluded if key != name}
        kept[name], out[name] = tuple(values), tuple(excluded)
        return Filters(kept, since=self.since, until=self.until, excluded=out)

    def has(self, kind: str, skip: str | None = None) -> bool:
        """Whether a filter of `kind` (other than the one named `skip`) is set or excluded."""
        return any(spec.kind == kind and spec.name != skip for spec, _ in self.items()) or any(
            spec.kind == kind for spec, _ in self.excluded_items()
        )

    def without(self, facet: str) -> Filters:
        """These filters minus the one a facet of that name counts over (its values to
        hold and its values to exclude)."""
        if facet not in _NAME_OF_KEYWORD.values():
            raise KeyError(facet)
        kept = {name: items for name, items in self.values if name != facet}
        out = {name: items for name, items in self.excluded if name != facet}
        return Filters(kept, since=self.since, until=self.until, excluded=out)

    def allows(self, name: str, value: str) -> bool:
        """Whether the filter `name` lets an entry with this (EXACT) value through."""
        wanted = self.get(name)
        return (not wanted or value in wanted) and value not in self.get_excluded(name)

    def merged(self, other: Filters) -> Filters:
        """Both sets of filters: values of one filter add up, dates take the narrower."""
        since = max((v for v in (self.since, other.since) if v is not None), default=None)
        until = min((v for v in (self.until, other.until) if v is not None), default=None)
        names = dict.fromkeys(name for name, _ in (*self.values, *other.values))
        values = {name: _union(self.get(name), other.get(name)) for name in names}
        names = dict.fromkeys(name for name, _ in (*self.excluded, *other.excluded))
        out = {name: _union(self.get_excluded(name), other.get_excluded(name)) for name in names}
        return Filters(values, since=since, until=until, excluded=out)

    def negated(self) -> Filters:
        """Filters whose values are these filters' values excluded (no dates)."""
        return Filters(excluded=dict(self.values))


_NAME_OF_KEYWORD = {spec.keyword: spec.name for spec in VALUE_FILTERS}


def _ordered(given: dict[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The filters with values, in FILTERS order; ValueError names an unknown filter."""
    unknown = set(given) - set(_NAME_OF_KEYWORD.values())
    if unknown:
        raise ValueError(f"no filter named {', '.join(sorted(unknown))}")
    return tuple(
        (spec.name, tuple(given[spec.name])) for spec in VALUE_FILTERS if given.get(spec.name)
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


def parse_choice(value: str, choices: tuple[str, ...], parameter: str) -> str:
    """One of `choices` (case does not matter)."""
    text = value.strip().lower()
    if text not in choices:
        raise FilterError(parameter, f"{parameter}={value!r} is not one of {', '.join(choices)}")
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


def parse_value(spec: Filter, value: str, parameter: str) -> str:
    """One value of the filter `spec` as given in `parameter`, read by the filter's kind."""
    if spec.kind == MOOD:
        return parse_mood(value, parameter)
    if spec.kind == PATH:
        return parse_file(value, parameter)
    choices = FIELD[spec.field].choices
    if choices:
        return parse_choice(value, choices, parameter)
    return value


def operator_filters(parameter: str, value: str, *, excluded: bool = False) -> Filters:
    """The filters one `parameter:value` of q stands for (dialogfile.fields.OPERATORS).

    `excluded` (`-parameter:value`) gives the value to exclude; a date cannot be excluded.
    """
    if parameter in SINCE_PARAMETERS or parameter in UNTIL_PARAMETERS:
        if excluded:
            raise FilterError(parameter, f"-{parameter}: a date range cannot be excluded")
        if parameter in SINCE_PARAMETERS:
            return Filters(since=parse_timestamp(value, parameter))
        return Filters(until=parse_timestamp(value, parameter, end_of_day=True))
    filters = Filters({parameter: _parsed_values(FILTER[parameter], [value], parameter)})
    return filters.negated() if excluded else filters


def _parsed_values(spec: Filter, given: Iterable[str], parameter: str) -> tuple[str, ...]:
    """The values of a filter: each read by its kind; a comma separates several (not in paths)."""
    parts = (
        part.strip()
        for value in given
        for part in ((value,) if spec.kind == PATH else value.split(","))
    )
    return tuple(dict.fromkeys(parse_value(spec, part, parameter) for part in parts if part))


def filters_from_parameters(values: Callable[[str], list[str]]) -> Filters:
    """The filters of a query string; `values(name)` lists a parameter's non-empty values.

    A repeated value counts once; several dates keep the narrowest range.
    """
    since = [parse_timestamp(v, name) for name in SINCE_PARAMETERS for v in values(name)]
    until = [
        parse_timestamp(v, name, end_of_day=True) for name in UNTIL_PARAMETERS for v in values(name)
    ]
    return Filters(
        {spec.name: _parsed_values(spec, values(spec.name), spec.name) for spec in VALUE_FILTERS},
        since=max(since) if since else None,
        until=min(until) if until else None,
    )
