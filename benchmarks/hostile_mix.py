"""The hostile searches: queries made to be as expensive as the API allows.

`EXPENSIVE` is the reliability suite's list (tests/reliability/test_expensive_queries.py);
`hostile_mix()` adds what issue 15 names (`a*`, every letter's prefix, 50 frequent words
joined by OR, phrases of 20 frequent words, a 1,000-character q, `-word` alone, facets
on `a*`), made of a corpus' most frequent words so that they are expensive on it.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

WORDS = ["search", "index", "dialog", "release", "migration", "routing", "deploy", "fleet"]
EXPENSIVE: list[dict[str, str]] = [
    {"q": "a*"},
    {"q": "a"},
    {"q": "s", "facets": "speaker,target,mood,file"},
    {"q": "e", "sort": "oldest"},
    {"q": " OR ".join(WORDS * 8)},
    {"q": " ".join(f"-{w}" for w in WORDS)},
    {"q": " ".join(f'"{w} {w}"' for w in WORDS)},
    {"q": " OR ".join(f"{c}*" for c in string.ascii_lowercase), "raw": "1"},
    {"q": "NEAR(" + " ".join(f"{c}*" for c in "abcdefgh") + ", 50)", "raw": "1"},
    {"q": "(" * 50 + "a" + ")" * 50, "raw": "1"},
    {"q": "a* AND b* AND c* AND d* NOT e*", "raw": "1"},
    {"q": "*"},
    {"q": "a* b* c* d* e* f* g*"},
]
FACETS = "speaker,target,mood,file"
#: Longest q the API accepts (settings MAX_QUERY_CHARS).
MAX_Q = 1000
_WORD = re.compile(r"[a-z]{2,}")


def frequent_words(root: Path, count: int = 200, sample_bytes: int = 4_000_000) -> list[str]:
    """The `count` most frequent words (letters only) of the first Markdown under `root`."""
    counts: Counter[str] = Counter()
    read = 0
    for path in sorted(root.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        counts.update(_WORD.findall(text))
        read += len(text)
        if read >= sample_bytes:
            break
    return [word for word, _ in counts.most_common(count)]


def hostile_mix(frequent: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(label, query string) of every hostile search, the reliability list first."""
    mix = [(_label(params), params) for params in EXPENSIVE]
    mix += [(f"{c}*", {"q": f"{c}*"}) for c in string.ascii_lowercase if c != "a"]
    mix.append(("a* +facets", {"q": "a*", "facets": FACETS}))
    mix.append(("* +facets", {"q": "*", "facets": FACETS}))
    mix.append(("50 frequent words OR", {"q": " OR ".join(frequent[:50])}))
    mix.append(
        ("50 frequent words OR +facets", {"q": " OR ".join(frequent[:50]), "facets": FACETS})
    )
    for start in (0, 20, 40):
        phrase = " ".join(frequent[start : start + 20])
        mix.append((f"phrase of 20 words #{start // 20 + 1}", {"q": f'"{phrase}"'}))
    long_q = " ".join(frequent)[:MAX_Q].rsplit(" ", 1)[0]
    mix.append(("1,000-char q", {"q": long_q}))
    mix.append(("1,000-char q, sort=newest", {"q": long_q, "sort": "newest"}))
    for word in frequent[:3]:
        mix.append((f"-{word}", {"q": f"-{word}"}))
    mix.append((f"{frequent[0]} sort=newest", {"q": frequent[0] + " ", "sort": "newest"}))
    mix.append((f"{frequent[0]} +facets", {"q": frequent[0] + " ", "facets": FACETS}))
    return mix


def _label(params: dict[str, str]) -> str:
    text = params["q"] if len(params["q"]) <= 28 else params["q"][:27] + "…"
    extras = [f"{key}={value}" for key, value in params.items() if key != "q"]
    return " ".join([text, *extras])
