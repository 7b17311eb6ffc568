"""The MCP server: dialogsearch's search, entries and writes as tools an agent can call.

Built on the official SDK's MCPServer (mcp.server.mcpserver, FastMCP's new name): each tool
is a typed function, so the SDK publishes its JSON schema and checks the arguments; the
work is searchsvc.agents.tools.DialogTools, over the same search stack as the web API.

Errors: a domain error (searchsvc.exceptions) becomes an MCP tool error (`is_error`) whose
text is the message the API puts in its error shape; anything else is the SDK's generic
"Error executing tool <name>" with the traceback in the server's log only. Messages never
carry a path on disk (`PathScrubber`). Resources: every dialog file below the root as
`dialog://<relative path>`, read as Markdown.

Writes (`add_entry`) exist only when the server was started with --allow-writes. Over
stdio the client that started the process may write; over streamable HTTP a write needs
`Authorization: Bearer <token>`, exactly as the API's writes (searchsvc.web.auth), and
reads stay open, as the API's do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import Resource, ToolAnnotations
from pydantic import Field

from searchsvc.agents.tools import ARGUMENT_OF_PARAMETER, MAX_CONTEXT, MAX_HITS, DialogTools
from searchsvc.exceptions import DialogsearchError, InvalidParameter, Unavailable
from searchsvc.web.auth import check_bearer

SERVER_NAME = "dialogsearch"
URI_SCHEME = "dialog://"
INSTRUCTIONS = (
    "Full-text search over Lupopedia dialog files: Markdown conversations between agents "
    "and people. Use search_dialogs to find who said what (the query language of the web "
    'search: words, "phrases", OR, -word, prefix*, and speaker:/target:/mood:/file:/'
    "since:/until: operators), get_entry to read one entry with what came before and after "
    "it, list_speakers and stats for who talks to whom, how much and when. Every dialog "
    "file is also a resource, dialog://<path>, readable as Markdown."
)
#: Entry ids are below 2**53 (dialogfile.identity), as the API's OpenAPI document says.
MAX_ENTRY_ID = 2**53 - 1
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
APPENDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

Values = Annotated[
    str | list[str] | None,
    Field(description="One value, or a list of alternatives (any of them matches)"),
]

Scope = Annotated[
    Literal["entries", "text", "all"] | None,
    Field(
        description="entries: dialog entries; text: the files' text outside entries; "
        "all: both (default: the API's, entries)"
    ),
]


class PathScrubber:
    """Replaces the server's own paths on disk in a message (the root, the database, cwd)."""

    def __init__(self, root: Path | None, db: Path | None) -> None:
        paths: dict[str, str] = {}
        for path, name in ((db, "<db>"), (root, "<root>")):
            if path is not None:
                for form in (str(Path(path).resolve()), str(Path(path).absolute())):
                    paths[form] = name
        if db is not None:
            for form in (str(Path(db).resolve().parent), str(Path(db).absolute().parent)):
                paths.setdefault(form, "<db folder>")
        paths.setdefault(os.getcwd(), ".")
        # The longest first: the database may lie below the root, or the root below cwd.
        self.paths = sorted(paths.items(), key=lambda item: -len(item[0]))

    def __call__(self, message: str) -> str:
        for path, name in self.paths:
            if len(path) > 1:
                message = message.replace(path, name)
        return message


def error_text(error: DialogsearchError) -> str:
    """The API's error message, naming the tool argument when the API names a parameter."""
    text = error.message
    if isinstance(error, InvalidParameter):
        argument = ARGUMENT_OF_PARAMETER.get(error.parameter, error.parameter)
        text += f" (argument: {argument})"
    elif isinstance(error, Unavailable):
        text += f" (nothing changed; try again in {error.retry_after} s)"
    return text


class DialogToolset:
    """The tools as the SDK registers them: typed arguments, docstrings for descriptions."""

    def __init__(
        self, tools: DialogTools, scrub: PathScrubber, write_token: str | None = None
    ) -> None:
        self.tools = tools
        self.scrub = scrub
        self.write_token = write_token

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """A domain error becomes a tool error carrying the API's message (no path on disk)."""
        try:
            yield
        except DialogsearchError as error:
            raise ToolError(self.scrub(error_text(error))) from None

    def search_dialogs(
        self,
        query: Annotated[
            str,
            Field(
                description='Words, "a phrase", a OR b, -word, prefix*, and operators '
                "speaker:KIRO target:@everyone mood:red file:ops/ since:2026-01-01 "
                "until:2026-02-01; empty: the newest entries matching the filters"
            ),
        ] = "",
        speaker: Values = None,
        target: Values = None,
        mood: Annotated[
            str | list[str] | None,
            Field(description="6 hex digits (FF0000) or a colour family (red, blue, grey, ...)"),
        ] = None,
        file: Annotated[
            str | list[str] | None,
            Field(description="A file path relative to the dialogs root, or a folder (ops/)"),
        ] = None,
        since: Annotated[
            str | None, Field(description="First day, YYYY-MM-DD (or YYYYMMDDHHMMSS)")
        ] = None,
        until: Annotated[
            str | None, Field(description="Last day, YYYY-MM-DD (or YYYYMMDDHHMMSS)")
        ] = None,
        scope: Scope = None,
        sort: Annotated[
            Literal["relevance", "newest", "oldest"] | None,
            Field(description="Default: relevance with words, else newest"),
        ] = None,
        page: Annotated[int, Field(ge=1, le=200, description="Page of hits (from 1)")] = 1,
        limit: Annotated[int, Field(ge=1, le=MAX_HITS, description="Hits per page")] = 10,
    ) -> dict[str, Any]:
        """Search the dialogs: who said what, to whom, when, where.

        Answers the matching entries, best first (or newest first without words), each with
        its dialog_entry_id, speaker, target, time (UTC), file:line and a plain-text snippet;
        `total` counts every match and `next_page` is the page to ask for next (null: none).
        Read one hit in full, with the entries around it, with get_entry.
        """
        arguments = {
            "speaker": speaker,
            "target": target,
            "mood": mood,
            "file": file,
            "since": since,
            "until": until,
            "scope": scope,
            "sort": sort,
            "page": str(page),
            "limit": limit,
        }
        with self._refusals():
            return self.tools.search(query, **arguments)

    def get_entry(
        self,
        dialog_entry_id: Annotated[
            int, Field(ge=1, le=MAX_ENTRY_ID, description="The id a search hit gave")
        ],
        context: Annotated[
            int, Field(ge=0, le=MAX_CONTEXT, description="Entries to show before and after it")
        ] = 2,
    ) -> dict[str, Any]:
        """One entry in full (message and its Markdown), with its neighbours in its file.

        `before` lists the entries above it (nearest last), `after` those below it (nearest
        first), each with a short text; ask get_entry again for any of them in full.
        """
        with self._refusals():
            return self.tools.entry(dialog_entry_id, context)

    def list_speakers(self) -> dict[str, Any]:
        """Every speaker, the busiest first: how many entries each wrote, and to whom."""
        with self._refusals():
            return self.tools.speakers()

    def stats(
        self,
        speaker: Annotated[
            str | None, Field(description="Only this speaker's entries (default: everyone's)")
        ] = None,
    ) -> dict[str, Any]:
        """How much is said, by whom, to whom, in which files and over what dates.

        Totals, first and last day, active and busiest days, the top speakers, targets,
        (speaker, target) pairs and files, formats and mood colour families.
        """
        with self._refusals():
            return self.tools.stats(speaker)

    def add_entry(
        self,
        speaker: Annotated[str, Field(description="Who speaks (one line, e.g. KIRO)")],
        message: Annotated[str, Field(description="What they say (Markdown)")],
        ctx: Context,
        target: Annotated[
            str | None, Field(description="Who it is addressed to, e.g. @everyone")
        ] = None,
        mood_rgb: Annotated[str | None, Field(description="6 hex digits such as 0066FF")] = None,
        dialog_file: Annotated[
            str | None,
            Field(description="A .md path relative to the dialogs root (default api_dialog.md)"),
        ] = None,
    ) -> dict[str, Any]:
        """Append a new dialog entry to a dialog file, timestamped now (UTC).

        The entry is written to the file first (atomically, under the dialogs' write lock),
        then indexed: the next search finds it. Answers its dialog_entry_id and file:line.
        """
        fields = {
            "speaker": speaker,
            "message": message,
            "target": target,
            "mood_rgb": mood_rgb,
            "dialog_file": dialog_file,
        }
        with self._refusals():
            self._check_write_token(ctx.headers)
            return self.tools.add_entry(fields)

    def _check_write_token(self, headers: Mapping[str, str] | None) -> None:
        """Over HTTP a write needs the API's bearer token; stdio has no headers (the client
        started this process)."""
        if headers is None:
            return
        authorization = next(
            (value for name, value in headers.items() if name.lower() == "authorization"), None
        )
        check_bearer(authorization, self.write_token)


class DialogMCPServer(MCPServer):
    """MCPServer whose resources are the dialog files as they are on disk now."""

    def __init__(self, tools: DialogTools, **options: Any) -> None:
        super().__init__(**options)
        self.dialog_tools = tools

    async def list_resources(self) -> list[Resource]:
        """The registered resources, then one `dialog://<path>` per dialog file (listed now)."""
        rels = await anyio.to_thread.run_sync(self.dialog_tools.files)
        files = [
            Resource(uri=dialog_uri(rel), name=rel, title=rel, mime_type="text/markdown")
            for rel in rels
        ]
        return [*await super().list_resources(), *files]


def dialog_uri(rel: str) -> str:
    """The resource URI of a dialog file: dialog://<relative path>, percent-encoded."""
    return URI_SCHEME + quote(rel, safe="/")


def build_server(
    tools: DialogTools,
    *,
    allow_writes: bool = False,
    write_token: str | None = None,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
) -> DialogMCPServer:
    """The MCP server over `tools` (add_entry only with `allow_writes`)."""
    from importlib.metadata import version

    scrub = PathScrubber(tools.settings.root, tools.settings.db)
    toolset = DialogToolset(tools, scrub, write_token)
    server = DialogMCPServer(
        tools,
        name=SERVER_NAME,
        title="Dialog search",
        instructions=INSTRUCTIONS,
        version=version("dialogsearch"),
        log_level=log_level,
    )
    for function, title in (
        (toolset.search_dialogs, "Search the dialogs"),
        (toolset.get_entry, "Read one entry in context"),
        (toolset.list_speakers, "List the speakers"),
        (toolset.stats, "Dialog statistics"),
    ):
        server.add_tool(function, title=title, annotations=READ_ONLY, structured_output=True)
    if allow_writes:
        server.add_tool(
            toolset.add_entry,
            title="Add a dialog entry",
            annotations=APPENDS,
            structured_output=True,
        )

    @server.resource(
        URI_SCHEME + "{+path}",
        name="dialog_file",
        title="A dialog file",
        description="A dialog file below the dialogs root, as Markdown",
        mime_type="text/markdown",
    )
    async def read_dialog(path: str) -> str:
        try:
            return await anyio.to_thread.run_sync(tools.read_file, path)
        except FileNotFoundError as error:
            raise ResourceNotFoundError(scrub(str(error))) from None

    return server
