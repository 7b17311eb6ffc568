"""The "no text is lost" check shared by the corpus and property tests."""

from __future__ import annotations

from dialogfile.model import ParsedFile
from dialogfile.parse_layout import find_front_matter, heading_text, is_rule_line, split_lines


def lines_not_owned_once(text: str, parsed: ParsedFile) -> list[str]:
    """Lines that are not in exactly one record, as `line N: why`.

    Every non-blank line counts, the front matter's included (its text outside the
    `dialog:` entries is a section). A line may be in no record only when it carries
    no words of its own: a `---` line (the front matter's two included), or, after
    the front matter, a heading that is the title of one of the file's entries.
    """
    lines = split_lines(text[1:] if text.startswith("\ufeff") else text)
    owners = [0] * (len(lines) + 1)
    for entry in parsed.entries:
        for number in range(entry.line, min(entry.end_line, len(lines)) + 1):
            owners[number] += 1
    titles = {entry.title for entry in parsed.entries if entry.title}
    front_matter = find_front_matter(lines)
    body_start = front_matter[1] + 2 if front_matter else 1
    wrong = []
    for number in range(1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip() or owners[number] == 1:
            continue
        if owners[number] == 0 and is_rule_line(line):
            continue
        if owners[number] == 0 and number >= body_start and heading_text(line) in titles:
            continue
        wrong.append(f"line {number} is in {owners[number]} records: {line[:60]!r}")
    return wrong
