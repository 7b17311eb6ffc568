"""Generated prose documentation in Lupopedia's shape: front matter, many headed sections.

Most of the real repository is documentation, not dialog: files headed by a WOLFIE header
(title, description, tags beside a `dialog:` entry) over tens of `##` sections. Text comes
from ../shared/tools/gen_corpus.py's vocabulary model (real-corpus word frequencies); each
file has a handful of topic words that recur in its sections and in its entries, so an
entry competes with the sections around it, as in the real files.
"""

from __future__ import annotations

import importlib.util
import random
import warnings
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from benchmarks.corpus import GEN_CORPUS
from benchmarks.lupo_names import lupo_mood, respell_speaker, respell_targets, several_people

BULLETS = ("- ", "- ", "- ✅ ", "- ⚠️ ", "* ", "1. ")
CATEGORIES = ("documentation", "doctrine", "agents", "migration", "dialog", "governance")


@dataclass(frozen=True)
class Writer:
    """The generator module, its word model and this file's random source and topic words."""

    gen: ModuleType
    model: Any
    rng: random.Random
    topic: tuple[str, ...]


@cache
def generator() -> tuple[ModuleType, Any]:
    """gen_corpus.py loaded as a module, and its Model over vocab.txt (loaded once)."""
    if not GEN_CORPUS.exists():
        raise RuntimeError(f"{GEN_CORPUS} is absent: the generator lives beside the project")
    spec = importlib.util.spec_from_file_location("gen_corpus_for_quality", GEN_CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():  # its docstring has a `\`` escape Python warns about
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # its name before Python 3.12
        spec.loader.exec_module(module)
    return module, module.Model(GEN_CORPUS.parent / "vocab.txt")


def writer(rng: random.Random) -> Writer:
    """A Writer with 6 topic words from the middle of the vocabulary."""
    gen, model = generator()
    topic = tuple(rng.sample(model.vocab[300:4000], 6))
    return Writer(gen, model, rng, topic)


def paragraph(w: Writer) -> str:
    """20-120 words; a few of them the file's topic words."""
    words = w.gen.gen_message(w.rng, w.model).split(" ")
    for _ in range(w.rng.randint(0, 3)):
        words[w.rng.randrange(len(words))] = w.rng.choice(w.topic)
    return " ".join(words)


def title(w: Writer) -> str:
    """A heading: 3-7 capitalised words, sometimes with a topic word."""
    text = w.gen.gen_title(w.rng, w.model)
    if w.rng.random() < 0.4:
        text += " " + w.rng.choice(w.topic).capitalize()
    return text


def speaker(w: Writer) -> str:
    """A speaker drawn like the real corpus's, sometimes respelled or naming several people."""
    name = w.rng.choices(w.model.spk, cum_weights=w.model.spk_cum)[0]
    draw = w.rng.random()
    if draw < 0.03:
        return several_people(name, w.rng)
    if draw < 0.3:
        return respell_speaker(name, w.rng) or name
    return name


def target(w: Writer) -> str:
    """One or two @targets, their spellings varied."""
    names = [w.rng.choices(w.model.tgt, cum_weights=w.model.tgt_cum)[0]]
    if w.rng.random() < 0.3:
        names.append(w.rng.choices(w.model.tgt, cum_weights=w.model.tgt_cum)[0])
    return respell_targets(" ".join(dict.fromkeys(names)), w.rng, 0.3)


def mood(w: Writer, *, yaml: bool) -> str:
    """A 6-hex mood, 3% of the time in Lupopedia's `{RR}|GG|[[BB]]` notation."""
    rgb = w.rng.choices(w.model.moods, cum_weights=w.model.mood_cum)[0]
    if w.rng.random() < 0.03:
        written = lupo_mood(rgb, w.rng)
        return '"' + written.replace("`", "") + '"' if yaml else written
    return f'"{rgb}"' if yaml else f"`{rgb}`"


def front_matter(w: Writer, name: str, doc_title: str, *, with_dialog: bool) -> str:
    """A WOLFIE header (invalid YAML, as most real ones) or a short title/description one."""
    g = w.gen
    stamp = g.ts_str(w.rng.randrange(g.SPAN_MIN))
    description = paragraph(w).split(". ")[0].rstrip(".") + "."
    tags = ", ".join(f'"{c}"' for c in w.rng.sample(CATEGORIES, 3))
    dialog = ""
    if with_dialog:
        dialog = (
            f"dialog:\n  speaker: {speaker(w)}\n  target: {target(w)}\n"
            f'  mood_RGB: {mood(w, yaml=True)}\n  message: "{paragraph(w)}"\n'
        )
    if w.rng.random() < 0.25:
        return (
            f'---\ntitle: "{doc_title}"\ndescription: "{description}"\n'
            f"tags: [{tags}]\nstatus: published\n{dialog}---\n\n"
        )
    return (
        f"---\nwolfie.headers: {w.rng.choice(g.HEADER_LINES)}\n"
        f"file.last_modified_system_version: {w.rng.choice(g.VERSIONS)}\n"
        f"file.last_modified_utc: {stamp}\n"
        "header_atoms:\n  - GLOBAL_CURRENT_LUPOPEDIA_VERSION\n  - GLOBAL_CURRENT_AUTHORS\n"
        f'{dialog}tags:\n  categories: [{tags}]\n  collections: ["core-docs"]\n'
        f'  channels: ["dev"]\nfile:\n  name: "{name}"\n  title: "{doc_title}"\n'
        f'  description: "{description}"\n  version: GLOBAL_CURRENT_LUPOPEDIA_VERSION\n'
        "  status: published\n  author: GLOBAL_CURRENT_AUTHORS\n---\n\n"
    )


def section(w: Writer, level: int) -> str:
    """One headed section: paragraphs, sometimes a list, a table or a fenced block."""
    parts = [f"{'#' * level} {title(w)}\n"]
    for _ in range(w.rng.choice((1, 1, 2, 2, 3))):
        parts.append(paragraph(w) + "\n")
    draw = w.rng.random()
    if draw < 0.3:
        items = [w.rng.choice(BULLETS) + title(w).lower() for _ in range(w.rng.randint(2, 6))]
        parts.append("\n".join(items) + "\n")
    elif draw < 0.4:
        rows = [f"| {title(w)} | {w.rng.choice(w.topic)} |" for _ in range(w.rng.randint(2, 5))]
        parts.append("| Item | Note |\n|---|---|\n" + "\n".join(rows) + "\n")
    elif draw < 0.47:
        key = w.rng.choice(w.topic)
        parts.append(f"```yaml\n{key}:\n  status: {title(w).lower()}\n```\n")
    return "\n".join(parts) + "\n"


def bold_entry(w: Writer) -> str:
    """A BOLD entry under a dated heading, as the dialog logs at the end of some docs."""
    stamp = w.gen.ts_str(w.rng.randrange(w.gen.SPAN_MIN))
    who = speaker(w)
    return (
        f"### {stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} — {who}: {title(w)}\n\n"
        f"**Speaker:** {who}\n**Target:** {target(w)}\n**Mood:** {mood(w, yaml=False)}\n"
        f'**Message:** "{paragraph(w)}"\n\n---\n\n'
    )


def inline_entry(w: Writer) -> str:
    """An inline `DIALOG:` block between two `---` lines."""
    stamp = w.gen.ts_str(w.rng.randrange(w.gen.SPAN_MIN))
    return (
        f"---\nDIALOG:\n  speaker: {speaker(w)}\n  target: {target(w)}\n"
        f'  message: "{paragraph(w)}"\n  date_ymdhis: {stamp}\n'
        f"  mood_RGB: {mood(w, yaml=True)}\n---\n\n"
    )


def prose_doc(rng: random.Random, name: str, sections: int) -> str:
    """A documentation file: front matter (most), a title, `sections` sections, some entries."""
    w = writer(rng)
    doc_title = title(w)
    draw = rng.random()
    head = "" if draw < 0.08 else front_matter(w, name, doc_title, with_dialog=draw >= 0.22)
    parts = [head, f"# {doc_title}\n\n{paragraph(w)}\n\n"]
    for index in range(max(sections - 1, 0)):
        parts.append(section(w, 3 if index and rng.random() < 0.3 else 2))
        if rng.random() < 0.006:
            parts.append(inline_entry(w))
    if rng.random() < 0.15:
        parts.append("## Dialog log\n\n")
        parts.extend(bold_entry(w) for _ in range(rng.randint(1, 3)))
    return "".join(parts)


def with_front_matter(rng: random.Random, name: str, text: str) -> str:
    """An existing Markdown document (the project's own docs) headed by a WOLFIE header."""
    w = writer(rng)
    first = next((line for line in text.splitlines() if line.startswith("# ")), f"# {name}")
    return front_matter(w, name, first[2:].strip(), with_dialog=True) + text
