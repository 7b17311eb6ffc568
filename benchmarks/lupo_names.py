"""Names as Lupopedia writes them: one person, several spellings; several people, one field.

Shared by the test tree builder (benchmarks.lupo_tree, which writes the variants into
entries) and the quality benchmark (benchmarks.quality, which counts them). The
canonical key is the issue's: casefold, `_` / `-` / white space collapsed to one space,
a leading `@` dropped.
"""

from __future__ import annotations

import random
import re

#: One person, the spellings seen in the real repository (issue 13), most common first.
SPEAKER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "captain wolfie": ("CAPTAIN_WOLFIE", "CAPTAIN WOLFIE", "Captain_Wolfie", "Captain Wolfie"),
    "cursor": ("CURSOR", "cursor", "Cursor"),
    "kiro": ("KIRO", "Kiro"),
    "stoned wolfie": ("STONED WOLFIE", "STONED_WOLFIE"),
    "wolfie": ("WOLFIE", "Wolfie"),
    "copilot": ("COPILOT", "Copilot"),
    "monday wolfie": ("MONDAY_WOLFIE", "MONDAY WOLFIE"),
}
#: One addressee, several spellings (with and without the `@`).
TARGET_SPELLINGS: dict[str, tuple[str, ...]] = {
    "fleet": ("@fleet", "@FLEET", "@Fleet", "FLEET"),
    "everyone": ("@everyone", "@EVERYONE", "@Everyone", "everyone"),
    "captain wolfie": ("@Captain_Wolfie", "@CAPTAIN_WOLFIE", "@captain_wolfie", "@Captain Wolfie"),
    "cursor": ("@CURSOR", "@cursor", "@Cursor"),
    "kiro": ("@KIRO", "@Kiro"),
}
#: How a field names several people (`CAPTAIN WOLFIE / WOLFIE / LILITH`, `A, B`, `A & B`).
GROUP_JOINERS = (" / ", " / ", " / ", ", ", " & ")
_SPLIT = re.compile(r"\s+/\s+|\s*,\s*|\s+&\s+")
_SEPARATORS = re.compile(r"[\s_\-]+")
_LUPO_MOOD = re.compile(r"\{[0-9A-Fa-f]{2}\}\|[0-9A-Fa-f]{2}\|\[\[[0-9A-Fa-f]{2}\]\]")


def canonical(name: str | None) -> str:
    """The key of a name: casefold, `_`/`-`/white space runs as one space, no leading `@`."""
    if not name:
        return ""
    text = name.strip().lstrip("@").casefold()
    return _SEPARATORS.sub(" ", text).strip()


def people(field: str | None) -> list[str]:
    """The canonical names a speaker field holds (`A / B / C`, `A, B`, `A & B`: three, two)."""
    if not field:
        return []
    return [key for key in (canonical(part) for part in _SPLIT.split(field)) if key]


def respell_speaker(speaker: str, rng: random.Random) -> str | None:
    """Another spelling of the same person, or None when the name has no known variants."""
    spellings = SPEAKER_SPELLINGS.get(canonical(speaker))
    if not spellings:
        return None
    others = [s for s in spellings if s != speaker]
    return rng.choice(others) if others else None


def respell_targets(target: str, rng: random.Random, rate: float) -> str:
    """`target` with some of its @names written another way (each with probability `rate`)."""
    words = target.split(" ")
    for index, word in enumerate(words):
        spellings = TARGET_SPELLINGS.get(canonical(word))
        if spellings and rng.random() < rate:
            words[index] = rng.choice([s for s in spellings if s != word] or [word])
    return " ".join(words)


def several_people(first: str, rng: random.Random) -> str:
    """A field naming `first` and one to three more people, joined as Lupopedia does."""
    pool = [spellings[0] for spellings in SPEAKER_SPELLINGS.values()] + ["LILITH", "ARA"]
    others = rng.sample([p for p in pool if canonical(p) != canonical(first)], rng.randint(1, 3))
    return rng.choice(GROUP_JOINERS).join([first, *others])


def lupo_mood(rgb: str, rng: random.Random) -> str:
    """A 6-hex colour in Lupopedia's notation `{RR}|GG|[[BB]]`, sometimes with its words."""
    written = f"`{{{rgb[0:2]}}}|{rgb[2:4]}|[[{rgb[4:6]}]]`"
    if rng.random() < 0.5:
        words = rng.sample(["Calm", "Alert", "Holding", "Precise", "Cosmic", "Stable"], 3)
        written += f" ({'/'.join(words)})"
    return written


def is_lupo_mood(raw: str | None) -> bool:
    """Whether a raw mood is written in the `{RR}|GG|[[BB]]` notation."""
    return bool(raw) and _LUPO_MOOD.search(raw or "") is not None
