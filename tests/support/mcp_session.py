"""A real `dialogsearch mcp` process driven by the MCP SDK's own client, from synchronous tests.

The SDK's client is async; an anyio blocking portal runs its event loop in a thread, so a
session can live for a whole test module and each test calls it like a function.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

REPO_ROOT = Path(__file__).resolve().parents[2]


def server_parameters(root: Path, db: Path, *args: str, **env: str) -> StdioServerParameters:
    """`python -m searchsvc.cli mcp --root ROOT --db DB ARGS` from this checkout."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "searchsvc.cli", "mcp", "--root", str(root), "--db", str(db), *args],
        env={"PYTHONPATH": str(REPO_ROOT), **env},
        cwd=REPO_ROOT,
    )


@asynccontextmanager
async def _connect(parameters: StdioServerParameters, errlog: TextIO) -> AsyncIterator[Any]:
    async with stdio_client(parameters, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def _connect_http(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


class McpClient:
    """Blocking calls into one MCP session (tools, resources), and the server's stderr."""

    def __init__(self, portal: BlockingPortal, session: Any, log_path: Path) -> None:
        self.portal = portal
        self.session = session
        self.log_path = log_path

    def tools(self) -> dict[str, Any]:
        """The listed tools by name."""
        listed = self.portal.call(self.session.list_tools)
        return {tool.name: tool for tool in listed.tools}

    def call(self, name: str, **arguments: Any) -> CallToolResult:
        """The raw result of one tool call (error or not)."""
        return self.portal.call(self.session.call_tool, name, arguments)

    def answer(self, name: str, **arguments: Any) -> dict[str, Any]:
        """The structured answer of a call that must succeed."""
        result = self.call(name, **arguments)
        assert not result.is_error, error_text(result)
        assert result.structured_content is not None
        # The text content is the same answer, for clients that read only text.
        assert json.loads(result.content[0].text) == result.structured_content
        return result.structured_content

    def refusal(self, name: str, **arguments: Any) -> str:
        """The message of a call that must be a tool error."""
        result = self.call(name, **arguments)
        assert result.is_error, result.structured_content
        return error_text(result)

    def resources(self) -> list[Any]:
        """The listed resources."""
        return self.portal.call(self.session.list_resources).resources

    def read(self, uri: str) -> Any:
        """The contents of one resource."""
        return self.portal.call(self.session.read_resource, uri).contents

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def error_text(result: CallToolResult) -> str:
    """The text of a tool result (an error's message)."""
    return "\n".join(getattr(block, "text", "") for block in result.content)


@contextmanager
def mcp_client(parameters: StdioServerParameters, log_path: Path) -> Iterator[McpClient]:
    """A started, initialized session with a fresh server process; stopped on exit."""
    with open(log_path, "w", encoding="utf-8") as errlog, start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(_connect(parameters, errlog)) as session:
            yield McpClient(portal, session, log_path)


@contextmanager
def http_mcp_client(url: str, log_path: Path, headers: dict[str, str]) -> Iterator[McpClient]:
    """A session over streamable HTTP with a server already running (its stderr in log_path)."""
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(_connect_http(url, headers)) as session:
            yield McpClient(portal, session, log_path)
