"""What the quality benchmark knows about a tree before it asks the API: the parsed records,
their words and document frequencies, and the query sets drawn from them (seeded).

The records come from the product's parser (benchmarks.lupo_tree.parse_tree): the ground
truth the answers are checked against. A hit "is" an entry when their normalised texts
are equal (casefold, white space collapsed, of title + message + body): a copy of an entry
in another file counts as the entry.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.lupo_respell import DIALOG_FORMATS
from benchmarks.lupo_tree import parse_tree
from dialogfile.model import Entry
from indexer.discover import find_dialog_files, read_source

#: A token as FTS5's unicode61 tokenizer cuts text: a run of letters and digits.
_TOKEN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")
#: Rarer words: a known-item query takes 3 of an entry's this-many rarest words.
RARE_POOL = 8
#: A common word is used by at least this many dialog entries.
COMMON_MIN_ENTRIES = 20


def text_key(record: Any) -> str:
    """The normalised text of a record or a hit: casefold, collapsed white space."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
    return normalised("\n".join(get(name) or "" for name in ("title", "message", "body")))


def normalised(text: str | None) -> str:
    """Casefold, white space collapsed."""
    return _SPACE.sub(" ", (text or "").casefold()).strip()


def words_of(record: Entry) -> set[str]:
    """The record's distinct searchable words of 4+ letters (casefolded)."""
    text = "\n".join(x or "" for x in (record.title, record.message, record.body))
    return {t for t in _TOKEN.findall(text.casefold()) if len(t) >= 4 and t.isalpha()}


@dataclass
class TreeText:
    """A tree's parsed records and word statistics."""

    root: Path
    records: list[Entry]
    entries: list[Entry] = field(init=False)
    words: list[set[str]] = field(init=False)  # per record, records order
    df: Counter = field(init=False)  # records (entries and sections) using a word
    entry_df: Counter = field(init=False)  # dialog entries using a word

    def __post_init__(self) -> None:
        self.entries = [r for r in self.records if r.format in DIALOG_FORMATS]
        self.words = [words_of(r) for r in self.records]
        self.df = Counter(w for ws in self.words for w in ws)
        self.entry_df = Counter(
            w
            for r, ws in zip(self.records, self.words, strict=True)
            if r.format in DIALOG_FORMATS
            for w in ws
        )


def read_tree(root: Path) -> TreeText:
    """Parse every file below `root`."""
    return TreeText(root, parse_tree(root))


@dataclass(frozen=True)
class KnownItem:
    """Three rarer words of an entry, shuffled, and the text the answer must have."""

    words: tuple[str, ...]
    key: str
    path: str
    message: str  # its normalised message alone (to tell near-copies apart in the JSON)
    line: int = 0  # where it starts in `path` (a hit's `also_in` names copies so)


def known_items(tree: TreeText, rng: random.Random, count: int) -> list[KnownItem]:
    """`count` random dialog entries (those with 3 words of 4+ letters), 3 rarer words each."""
    words = {id(r): ws for r, ws in zip(tree.records, tree.words, strict=True)}
    order = list(range(len(tree.entries)))
    rng.shuffle(order)
    items: list[KnownItem] = []
    for index in order:
        entry = tree.entries[index]
        rarest = sorted(words[id(entry)], key=lambda w: (tree.df[w], w))[:RARE_POOL]
        if len(rarest) < 3:
            continue
        picked = rng.sample(rarest, 3)
        message = normalised(entry.message)
        items.append(
            KnownItem(tuple(picked), text_key(entry), entry.dialog_file, message, entry.line)
        )
        if len(items) == count:
            break
    return items


def common_words(tree: TreeText, rng: random.Random, count: int) -> list[str]:
    """`count` random words (4+ letters) that at least COMMON_MIN_ENTRIES dialog entries use."""
    pool = sorted(w for w, n in tree.entry_df.items() if n >= COMMON_MIN_ENTRIES)
    return rng.sample(pool, min(count, len(pool)))


@dataclass(frozen=True)
class Phrase:
    """Three consecutive words of one line of one file (front matter included)."""

    path: str
    words: tuple[str, ...]
    line: int
    in_front_matter: bool


def phrases(tree: TreeText, rng: random.Random, count: int) -> list[Phrase]:
    """`count` phrases from random lines (with 3+ words) of random files."""
    files = find_dialog_files(tree.root)
    found: list[Phrase] = []
    while files and len(found) < count:
        path = rng.choice(files)
        lines = read_source(tree.root, path).text.split("\n")
        usable = [(n, _TOKEN.findall(t)) for n, t in enumerate(lines, 1)]
        usable = [(n, tokens) for n, tokens in usable if len(tokens) >= 3]
        if not usable:
            continue
        number, tokens = rng.choice(usable)
        start = rng.randrange(len(tokens) - 2)
        head = front_matter_lines(lines)
        found.append(Phrase(path, tuple(tokens[start : start + 3]), number, number <= head))
    return found


def front_matter_lines(lines: list[str]) -> int:
    """How many lines the front matter takes, both `---` lines included (0: none)."""
    if not lines or lines[0].lstrip("\ufeff").rstrip() != "---":
        return 0
    for number, line in enumerate(lines[1:], 2):
        if line.rstrip() == "---":
            return number
    return 0


def spellings_truth(tree: TreeText, person: str) -> dict[str, int]:
    """Entries naming `person` (canonical): alone, in a field with others, and both."""
    from benchmarks.lupo_names import canonical, people

    key = canonical(person)
    alone = sum(1 for e in tree.entries if canonical(e.speaker) == key)
    anywhere = sum(1 for e in tree.entries if key in people(e.speaker))
    return {"alone": alone, "with_others": anywhere - alone, "all": anywhere}
