"""Rewrite some entries of a real dialog file the way the rest of Lupopedia writes them.

The shared corpus is one corner of the repository; the whole of it spells one speaker
several ways, names several people in one field, varies its @targets and writes 140
moods as `{RR}|GG|[[BB]]`. `respell_file` injects those into a copy of a real file's
text, entry by entry: the product's parser says where each entry's field lines are, and
only those lines change (everything else stays byte for byte).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from benchmarks.lupo_names import lupo_mood, respell_speaker, respell_targets, several_people
from dialogfile.parse import parse_file

#: The four dialog formats (a `section` is text outside every entry).
DIALOG_FORMATS = ("header", "inline", "bold", "begin_end")

_LABEL = {
    "speaker": re.compile(r"^(\*\*(?:Speaker|Agent):\*\*\s*|\s*(?:- )?speaker:\s*)(.*)$", re.I),
    "target": re.compile(r"^(\*\*Target:\*\*\s*|\s*(?:- )?target:\s*)(.*)$", re.I),
    "mood": re.compile(r"^(\*\*Mood(?:_RGB| RGB)?:\*\*\s*|\s*(?:- )?mood(?:_rgb)?:\s*)(.*)$", re.I),
}
_HEX6 = re.compile(r"^[0-9A-F]{6}$")


@dataclass(frozen=True)
class Rates:
    """How often an entry gets each change (probabilities per entry)."""

    speaker: float = 0.25  # another spelling of the same person
    several: float = 0.03  # one person becomes `A / B / C`
    target: float = 0.25  # per @name with known variants
    mood: float = 0.01  # a 6-hex mood rewritten as `{RR}|GG|[[BB]]`


def respell_file(text: str, path: str, rng: random.Random, rates: Rates) -> tuple[str, Counter]:
    """`text` with some entries' speaker, target and mood written otherwise; what changed."""
    lines = text.split("\n")
    changed: Counter = Counter()
    for entry in parse_file(text, path).entries:
        if entry.format not in DIALOG_FORMATS:
            continue
        # Line numbers are 1-based and a BOM adds none: the BOM stays on line 1's text.
        span = range(entry.line - 1, min(entry.end_line, len(lines)))
        if entry.speaker:
            new = _new_speaker(entry.speaker, rng, rates)
            if new and _replace(lines, span, "speaker", entry.speaker, new):
                changed["speaker" if "/" not in new and "," not in new else "several"] += 1
        if entry.target and entry.format != "begin_end":
            new = respell_targets(entry.target, rng, rates.target)
            if new != entry.target and _replace(lines, span, "target", entry.target, new):
                changed["target"] += 1
        rgb = entry.mood_rgb
        if rgb and _HEX6.match(rgb) and rng.random() < rates.mood:
            if _replace_value(lines, span, "mood", _yaml_safe(lupo_mood(rgb, rng), entry.format)):
                changed["mood"] += 1
    return "\n".join(lines), changed


def _new_speaker(speaker: str, rng: random.Random, rates: Rates) -> str | None:
    draw = rng.random()
    if draw < rates.several and "/" not in speaker:
        return several_people(speaker, rng)
    if draw < rates.several + rates.speaker:
        return respell_speaker(speaker, rng)
    return None


def _replace(lines: list[str], span: range, label: str, old: str, new: str) -> bool:
    """Replace `old` by `new` in the entry's first `label` line; False when not found there."""
    for index in span:
        match = _LABEL[label].match(lines[index])
        if match and old in match.group(2):
            lines[index] = match.group(1) + match.group(2).replace(old, new, 1)
            return True
    return False


def _replace_value(lines: list[str], span: range, label: str, value: str) -> bool:
    for index in span:
        match = _LABEL[label].match(lines[index])
        if match:
            lines[index] = match.group(1) + value
            return True
    return False


def _yaml_safe(mood: str, entry_format: str) -> str:
    """In a YAML block the notation goes in double quotes (a bare `{` opens a mapping)."""
    if entry_format in ("header", "inline"):
        return '"' + mood.replace("`", "") + '"'
    return mood
