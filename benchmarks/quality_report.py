"""The quality benchmark's Markdown: issue 13's table, per tree, beside the FTS5 baseline."""

from __future__ import annotations

from typing import Any

GOALS = (
    "≥ 95% at 1, ≥ 99% in top 10",
    "≥ 80%",
    "≤ 2%",
    "100%",
    "0; any spelling finds them all",
)
WHAT = (
    "known-item: 3 rarer words of a dialog entry, any order; the entry (or its copy) first",
    "page 1 of a common word (≥ 20 dialog entries use it): share of hits that are dialog entries",
    "page 1: share of hits repeating an earlier hit's text",
    "3-word phrases from random lines of random files, limited to that file: found",
    "one person, several spellings in the speaker facet",
)
LABELS = {"tree": "test tree", "lupopedia": "shared lupopedia"}


def pct(value: float) -> str:
    """0.7634 -> '76%' (one decimal below 10%)."""
    return f"{value * 100:.1f}%" if 0 < value < 0.1 else f"{value * 100:.0f}%"


def _known(known: dict[str, Any]) -> str:
    near = known["hit_at_1"] + known["first_is_near_copy"]
    same = known.get("hit_at_1_same_text", known["hit_at_1"])
    exact = f"{pct(same)} the same text; " if same != known["hit_at_1"] else ""
    return (
        f"{pct(known['hit_at_1'])} at 1 ({exact}{pct(near)} with unfolded near-copies), "
        f"{pct(known['hit_at_10'])} in top 10"
    )


def _phrases(found: dict[str, Any]) -> str:
    misses = len(found["misses"])
    text = pct(found["found"])
    if misses:
        text += f" ({found['misses_in_front_matter']} of {misses} misses in front matter)"
    return text


def _speakers(now: dict[str, Any]) -> str:
    groups = now["speaker_facet"]["persons_with_spellings"]
    shown = ", ".join(" / ".join(names) for names in list(groups.values())[:3])
    more = ", …" if len(groups) > 3 else ""
    text = f"{len(groups)}" + (f" ({shown}{more})" if groups else "")
    for spelling, counts in now["speaker_filter"].items():
        text += f"; `speaker={spelling}` finds {counts['found']} of {counts['all']}"
    return text


def cells(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(now, baseline) per row of the table, for one tree's run."""
    now, base = run["now"], run["baseline"]
    return [
        (_known(now["known_item"]), _known(base["known_item"])),
        (pct(now["pages"]["entry_share"]), pct(base["pages"]["entry_share"])),
        (pct(now["pages"]["repeat_share"]), pct(base["pages"]["repeat_share"])),
        (_phrases(now["phrases"]), "—"),
        (_speakers(now), "—"),
    ]


def markdown_table(report: dict[str, Any]) -> str:
    """The table, then the facts needed to read it (trees, API features, engines, timing)."""
    runs = report["runs"]
    columns = [(name, cells(run)) for name, run in runs.items()]
    head = ["what"]
    for name, _ in columns:
        head += [f"{LABELS.get(name, name)}: now", f"{LABELS.get(name, name)}: FTS5 baseline"]
    lines = ["| " + " | ".join([*head, "goal"]) + " |", "|" + "---|" * (len(head) + 1)]
    for row, what in enumerate(WHAT):
        values = [v for _, rows in columns for v in rows[row]]
        lines.append("| " + " | ".join([what, *values, GOALS[row]]) + " |")
    lines += ["", *_notes(report)]
    return "\n".join(lines)


def _notes(report: dict[str, Any]) -> list[str]:
    notes = [f"Seed {report['seed']}; tree {report['tree_source']}; {report['seconds']} s in all."]
    for name, run in report["runs"].items():
        tree, index = run["tree"], run["index"]
        features = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in run["api_features"].items())
        notes.append(
            f"- {LABELS.get(name, name)}: {tree['files']} files, {tree['entries']} entries, "
            f"{tree['sections']} sections ({pct(tree['section_share'])} sections), "
            f"{tree['copied_files']} copied files, {tree['files_with_front_matter']} with front "
            f"matter, {tree['lupo_moods']} `{{RR}}|GG|[[BB]]` moods, "
            f"{len(tree['speakers_with_spellings'])} speakers spelled several ways in the data; "
            f"reindex {index['seconds']} s, measured in {run['measure_seconds']} s; "
            f"API features: {features}; engines: {run['engines']}; "
            f"{run['now']['known_item']['queries']} known-item, "
            f"{run['now']['pages']['queries']} common-word, "
            f"{run['now']['phrases']['phrases']} phrase queries."
        )
    notes.append(
        "- The entry or its copy: the first hit has the entry's text, or the API folded the"
        " entry under it (its file and line are in the hit's `also_in`: a copy that differs"
        " only in case, punctuation, mojibake or name spellings, dialogfile/copies.py). A"
        " near-copy is an entry with the same message but other words (title + message +"
        " body), e.g. the same changelog entry edited in another file: not folded, so a"
        " near-copy first is a miss at 1."
    )
    if "shared_absent" in report:
        notes.append(f"- shared corpus absent: {report['shared_absent']}")
    return notes
