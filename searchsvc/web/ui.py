"""Blueprint `/`: the search page, the entry permalink and the stats page.

The pages are server-rendered shells; results come from the JSON API, which the
page's own scripts call. The entry page renders the entry and its neighbours in
the file with the same repository call the API makes (`get_entry`).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup, escape

from searchsvc.engines.snippets import strip_markdown
from searchsvc.query.parameters import DEFAULT_SCOPE
from searchsvc.repository import SCOPES, Repository, StoredEntry, StoreUnavailable
from searchsvc.settings import SETTINGS_KEY, Settings
from searchsvc.web.api import repository as app_repository
from searchsvc.web.markdown_render import render_markdown

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

#: How many dialog entries on each side the entry page shows.
CONTEXT_EACH_SIDE = 3
#: How many neighbours (sections included) the entry page looks at on each side.
MAX_CONTEXT_STEPS = 20
#: The search page's scope tabs, in the order shown (the API's `scope` values).
SCOPE_LABELS = {"entries": "Dialog entries", "text": "Text sections", "all": "All"}
#: Entry ids are positive SQLite integers.
MAX_ENTRY_ID = 2**63 - 1
_ENTRY_ID = re.compile(r"[0-9]{1,19}")
#: At most this many cross-reference terms go into the search for related entries.
MAX_XREF_TERMS = 6

_FILE_NAME = re.compile(
    r"(?<![\w.-])((?:[\w.-]+/)*[\w.-]*\w\.(?:md|py|php|js|ts|sql|json|ya?ml|txt|sh|ps1|css|html))\b",
    re.IGNORECASE,
)
# Ids such as PT_001, ISSUE-42, lupo_dialog_entries: letters joined by _ or - to a
# number or to another word part (plain words and version numbers are left out).
_IDENTIFIER = re.compile(
    r"(?<![\w.-])([A-Z][A-Z0-9]*[_-]\d+[A-Z0-9]*|[a-z][a-z0-9]*(?:_[a-z0-9]+){2,})(?![\w-])"
)


def xref_terms(text: str, *, limit: int = MAX_XREF_TERMS) -> list[str]:
    """File names and ids mentioned in `text`, first occurrence first, without repeats."""
    found: dict[str, str] = {}
    for match in _FILE_NAME.finditer(text):
        name = match.group(1).rsplit("/", 1)[-1]
        found.setdefault(name.lower(), name)
    for match in _IDENTIFIER.finditer(text):
        found.setdefault(match.group(1).lower(), match.group(1))
    return list(found.values())[:limit]


def format_timestamp(value: int | str | None) -> str:
    """`2026-01-16 07:15 UTC` from 20260116071500; the time left out at midnight."""
    digits = str(value or "")
    if not re.fullmatch(r"\d{14}", digits):
        return digits
    day = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}"
    if digits[8:] == "000000":
        return day
    return f"{day} {digits[8:10]}:{digits[10:12]} UTC"


def iso_timestamp(value: int | str | None) -> str:
    """`2026-01-16T07:15:00Z` from 20260116071500 (for <time datetime>)."""
    digits = str(value or "")
    if not re.fullmatch(r"\d{14}", digits):
        return ""
    return (
        f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}Z"
    )


def path_breaks(path: str | None) -> Markup:
    """`path` escaped, with a line-break opportunity (<wbr>) after each "/"."""
    return Markup("/<wbr>").join(escape(part) for part in str(path or "").split("/"))


def plain_text(text: str | None) -> str:
    """Markdown `text` as plain text (its syntax left out), for short previews."""
    return strip_markdown(text or "")


bp.add_app_template_filter(format_timestamp, "human_datetime")
bp.add_app_template_filter(iso_timestamp, "iso_datetime")
bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_filter(plain_text, "plain_text")
bp.add_app_template_filter(path_breaks, "path_breaks")


def _neighbours(repository: Repository, stored: StoredEntry) -> tuple[list[dict], list[dict]]:
    """Up to CONTEXT_EACH_SIDE dialog entries before and after `stored` in its file.

    Text sections between them (headings, rules) are stepped over: they repeat
    what the entries' titles say. At most MAX_CONTEXT_STEPS lookups per side.
    """
    before: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    for attribute, out in (("before", before), ("after", after)):
        neighbour_id = getattr(stored, attribute)
        steps = 0
        while neighbour_id is not None and len(out) < CONTEXT_EACH_SIDE:
            steps += 1
            if steps > MAX_CONTEXT_STEPS:
                break
            neighbour = repository.get_entry(neighbour_id)
            if neighbour is None:
                break
            if neighbour.entry.format != "section":
                out.append(neighbour.to_dict())
            neighbour_id = getattr(neighbour, attribute)
    before.reverse()
    return before, after


def _heading(entry: dict[str, Any]) -> str:
    """A title for the page: the entry's title, else speaker → target, else its place."""
    if entry.get("title"):
        return str(entry["title"])
    if entry.get("speaker"):
        target = f" → {entry['target']}" if entry.get("target") else ""
        return f"{entry['speaker']}{target}"
    return f"{entry['dialog_file']}:{entry['line']}"


@bp.get("/")
def search_page() -> str:
    """The search page; its script reads the whole state from the URL."""
    scope = request.args.get("scope", DEFAULT_SCOPE)
    settings: Settings | None = current_app.extensions.get(SETTINGS_KEY)
    refresh = settings.page_refresh_seconds if settings is not None else 5.0
    return render_template(
        "search.html",
        refresh_ms=int(refresh * 1000),
        q=request.args.get("q", ""),
        scope=scope if scope in SCOPES else DEFAULT_SCOPE,
        scope_labels=[(name, SCOPE_LABELS[name]) for name in SCOPES],
    )


@bp.get("/entry/<entry_id>")
def entry_page(entry_id: str) -> tuple[str, int] | str:
    """One entry, its neighbours in the file and its cross-references.

    :raise 404: when `entry_id` is not a number or no entry has it.
    :raise 503: when no store can answer (database down and files not ready).
    """
    if not _ENTRY_ID.fullmatch(entry_id) or int(entry_id) > MAX_ENTRY_ID:
        return _not_found(f"Entry id {entry_id!r} is not a number between 1 and {MAX_ENTRY_ID}.")
    repository = app_repository()
    try:
        stored = repository.get_entry(int(entry_id))
        if stored is None:
            return _not_found(f"Entry {entry_id} doesn't exist (deleted, or edited into another).")
        before, after = _neighbours(repository, stored)
    except StoreUnavailable as error:
        message = f"The search store is unavailable: {error}. Try again in a few seconds."
        return render_template("message.html", title="Unavailable", message=message), 503
    entry = stored.to_dict()
    text = "\n".join(str(entry.get(name) or "") for name in ("title", "message", "body"))
    return render_template(
        "entry.html",
        entry=entry,
        heading=_heading(entry),
        before=before,
        after=after,
        xref_terms=xref_terms(text),
    )


@bp.get("/stats")
def stats_page() -> str:
    """Timeline, moods and who-talks-to-whom, drawn by the page's script."""
    return render_template("stats.html")


def _not_found(message: str) -> tuple[str, int]:
    return render_template("message.html", title="Not found", message=message), 404
