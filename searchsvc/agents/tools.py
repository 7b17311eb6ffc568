"""What an agent may ask, as plain data: search, entries in context, speakers, stats, a write.

No protocol here (searchsvc/agents/mcp_server.py speaks MCP over these): every answer is
a JSON-ready dict, bounded in size, and every refusal one of the domain's errors
(searchsvc.exceptions), the same ones the web API maps to its error shape. The arguments
become a SearchQuery through searchsvc.query.parameters, as the API's query string does,
so the same text means the same search for a person and for an agent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dialogfile.file_io import read_dialog_file
from indexer.discover import find_dialog_files
from searchsvc.exceptions import EntryNotFound, InvalidParameter, PermissionDenied
from searchsvc.query.budget import partial_of
from searchsvc.query.parameters import search_query
from searchsvc.repository import Repository, SearchQuery, StoredEntry
from searchsvc.settings import Settings
from searchsvc.writing.dialog_paths import UnsafePath, resolve_dialog_path
from searchsvc.writing.entry_input import validate_new_entry
from searchsvc.writing.service import WriteService

#: Most hits one search answers (the API allows 100 per page; an agent's context is smaller).
MAX_HITS = 50
#: Longest plain-text snippet, in characters.
SNIPPET_CHARS = 300
#: Most neighbours get_entry shows on each side.
MAX_CONTEXT = 10
#: Longest text shown for a neighbour, and for the entry itself.
NEIGHBOUR_CHARS = 500
ENTRY_CHARS = 20_000
#: Most values each list of `stats` shows (the busiest first), and speakers list_speakers shows.
TOP_VALUES = 20
MAX_SPEAKERS = 200
#: Most targets shown per speaker by list_speakers.
TARGETS_PER_SPEAKER = 10
#: The tool argument that stands for each query parameter, where the names differ.
ARGUMENT_OF_PARAMETER = {"q": "query", "per_page": "limit", "from": "since", "to": "until"}
ELLIPSIS = "…"
_MARK = re.compile(r"</?mark>")
_SPACE = re.compile(r"\s+")


class ToolParameters:
    """Tool arguments in the shape of query parameters (searchsvc.query.parameters.Parameters)."""

    def __init__(self, values: Mapping[str, str | Iterable[str] | None]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in values.items():
            if value is None:
                continue
            items = [value] if isinstance(value, str) else list(value)
            self._values[name] = [str(item) for item in items]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of `key`, or `default`."""
        values = self._values.get(key)
        return values[0] if values else default

    def getlist(self, key: str) -> list[str]:
        """Every value of `key`."""
        return list(self._values.get(key, ()))


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (an ellipsis marks a cut)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def plain_text(snippet: str) -> str:
    """A snippet as plain text: no <mark>, HTML entities decoded, white space collapsed."""
    return _SPACE.sub(" ", html.unescape(_MARK.sub("", snippet))).strip()


def iso_time(stamp: int | None) -> str | None:
    """YYYYMMDDHHMMSS (UTC) as ISO 8601, e.g. 2026-01-12T09:00:00Z."""
    if stamp is None:
        return None
    text = f"{stamp:014d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:]}Z"


def _text_of(stored: StoredEntry) -> str:
    entry = stored.entry
    return _SPACE.sub(" ", entry.message or entry.title or entry.body or "").strip()


def _where(stored: StoredEntry) -> dict[str, Any]:
    """Who, to whom, when and where: what every answer says about an entry."""
    entry = stored.entry
    return {
        "dialog_entry_id": stored.entry_id,
        "speaker": entry.speaker,
        "target": entry.target,
        "mood_rgb": entry.mood_rgb,
        "time": iso_time(entry.timestamp_utc),
        "file": entry.dialog_file,
        "line": entry.line,
        "location": f"{entry.dialog_file}:{entry.line}",
        "format": entry.format,
    }


def hit_dict(stored: StoredEntry) -> dict[str, Any]:
    """One search hit: where it is and a plain-text snippet of at most SNIPPET_CHARS."""
    snippet = plain_text(stored.snippet) if stored.snippet else _text_of(stored)
    found = {**_where(stored), "snippet": clip(snippet, SNIPPET_CHARS)}
    if stored.copies:  # the same text in other files, folded into this hit
        found["also_in"] = [f"{path}:{line}" for path, line, _ in stored.also_in or ()]
        found["copies"] = stored.copies
    return found


def _top(items: list[dict[str, Any]], limit: int = TOP_VALUES) -> list[dict[str, Any]]:
    return items[:limit]


class DialogTools:
    """The tools over one repository (the search stack), and its WriteService when writes are on."""

    def __init__(
        self, repository: Repository, settings: Settings, writes: WriteService | None = None
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.writes = writes

    def _query(self, parameters: Mapping[str, str | Iterable[str] | None]) -> SearchQuery:
        return search_query(
            ToolParameters(parameters), max_query_chars=self.settings.max_query_chars
        )

    def search(self, query: str, **arguments: Any) -> dict[str, Any]:
        """Hits for `query` and the filters (speaker, target, mood, file, since, until, scope,
        sort, page, limit): the same query language as GET /api/dialog/search.

        :raise InvalidParameter: a bad argument. :raise QueryError: a query the store rejects.
        :raise StoreUnavailable: no store can answer now.
        """
        limit = arguments.pop("limit", None)
        if limit is not None and not 1 <= int(limit) <= MAX_HITS:
            raise InvalidParameter("per_page", f"limit={limit} is out of range (1 to {MAX_HITS})")
        search = self._query({**arguments, "q": query, "per_page": _text(limit)})
        page = self.repository.search(search)
        more = search.offset + len(page.hits) < page.total
        return {
            "total": page.total,
            "total_exact": page.total_exact,
            "page": search.page,
            "sort": search.sort,
            "next_page": search.page + 1 if more else None,
            # How many matches each scope has (entries, text sections), and how many
            # copies were folded into the hits: what to widen the search with.
            "scopes": page.scopes,
            "folded": page.folded,
            "source": page.source,
            "engine": page.engine or ("fts5" if page.source == "database" else page.source),
            # What the search budget left out of a search too broad to answer in full.
            "partial": partial_of(page.cuts),
            "hits": [hit_dict(hit) for hit in page.hits],
        }

    def entry(self, entry_id: int, context: int = 2) -> dict[str, Any]:
        """The entry with up to `context` neighbours on each side in its file (file order).

        :raise EntryNotFound: no entry has this id. :raise StoreUnavailable.
        """
        if not 0 <= context <= MAX_CONTEXT:
            raise InvalidParameter(
                "context", f"context={context} is out of range (0 to {MAX_CONTEXT})"
            )
        stored = self.repository.get_entry(entry_id)
        if stored is None:
            raise EntryNotFound(entry_id)
        entry = stored.entry
        main = {
            **_where(stored),
            "end_line": entry.end_line,
            "title": entry.title,
            "message": clip(entry.message or "", ENTRY_CHARS) if entry.message else None,
            "markdown": clip(entry.body, ENTRY_CHARS),
            "system_version": entry.system_version,
        }
        return {
            "entry": main,
            "before": self._neighbours(stored, "before", context)[::-1],
            "after": self._neighbours(stored, "after", context),
        }

    def _neighbours(self, stored: StoredEntry, side: str, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        current: StoredEntry | None = stored
        while current is not None and len(found) < count:
            next_id = getattr(current, side)
            current = self.repository.get_entry(next_id) if next_id is not None else None
            if current is not None:
                found.append({**_where(current), "text": clip(_text_of(current), NEIGHBOUR_CHARS)})
        return found

    def speakers(self) -> dict[str, Any]:
        """Every speaker (the busiest first, at most MAX_SPEAKERS) with the targets they address."""
        stats = self.repository.stats(None)
        targets: dict[str, list[dict[str, Any]]] = {}
        for pair in stats.get("pairs", []):
            listed = targets.setdefault(pair["speaker"], [])
            if len(listed) < TARGETS_PER_SPEAKER:
                listed.append({"target": pair["target"], "entries": pair["count"]})
        speakers = [
            {
                "speaker": item["value"],
                "entries": item["count"],
                "targets": targets.get(item["value"], []),
            }
            for item in stats.get("speakers", [])
        ]
        return {
            "speakers": speakers[:MAX_SPEAKERS],
            "total_speakers": len(speakers),
            "source": stats.get("source"),
        }

    def stats(self, speaker: str | None = None) -> dict[str, Any]:
        """How much, who to whom, what files and over what dates: all entries, or one speaker's.

        :raise InvalidParameter: a bad speaker value. :raise StoreUnavailable.
        """
        query = self._query({"speaker": speaker}) if speaker else None
        stats = self.repository.stats(query)
        days = stats.get("days", [])
        busiest = sorted(days, key=lambda day: (-day["count"], day["value"]))
        return {
            "speaker": speaker,
            "totals": stats.get("totals", {}),
            "first_day": days[0]["value"] if days else None,
            "last_day": days[-1]["value"] if days else None,
            "active_days": len(days),
            "busiest_days": _top(busiest, 10),
            "speakers": _top(stats.get("speakers", [])),
            "targets": _top(stats.get("targets", [])),
            "pairs": _top(stats.get("pairs", [])),
            "files": _top(stats.get("files", [])),
            "formats": stats.get("formats", []),
            "mood_families": stats.get("mood_families", []),
            "source": stats.get("source"),
        }

    def add_entry(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Append an entry through the write service (file first, under the write lock).

        :raise PermissionDenied: writes are off. :raise WriteUnavailable: a lock or the file
            refuses now (nothing was written; try again).
        :raise InvalidEntry: invalid fields. :raise InvalidParameter: a bad dialog_file.
        :raise EditConflict: the file cannot take the new block.
        """
        if self.writes is None:
            raise PermissionDenied(
                "Writes are disabled: the server was started without --allow-writes"
            )
        new = validate_new_entry(
            {name: value for name, value in fields.items() if value is not None}
        )
        stored = self.writes.create(new)
        return {
            "ok": True,
            **_where(stored),
            "message": clip(stored.entry.message or "", ENTRY_CHARS),
        }

    def files(self) -> list[str]:
        """The dialog files below the root, as '/'-separated relative paths."""
        root = self.settings.root
        return find_dialog_files(root) if root is not None else []

    def read_file(self, rel: str) -> str:
        """The Markdown of the dialog file `rel`.

        :raise FileNotFoundError: not a readable dialog file inside the root (the message is
            safe to show: it names `rel`, never a path on disk).
        """
        root = self.settings.root
        if root is None:
            raise FileNotFoundError("this server has no dialogs folder")
        try:
            path = resolve_dialog_path(Path(root), rel)
            return read_dialog_file(path)[0]
        except UnsafePath as error:
            raise FileNotFoundError(f"no dialog file {rel!r}: {error}") from None
        except OSError as error:
            raise FileNotFoundError(f"no dialog file {rel!r} ({error.strerror})") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
