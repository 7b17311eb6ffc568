"""`dialogsearch mcp`: index the dialog files, then speak MCP over stdio (or streamable HTTP).

Stdout is the protocol's channel over stdio: everything this command reports goes to
stderr. The stack is the web service's (searchsvc.stack.build_stack, the same settings),
it follows the dialogs folder as `serve` does (searchsvc.watcher; with MEILI_URL,
Meilisearch follows too: searchsvc.meili_follow), and writes go through
the same WriteService, so a server and `dialogsearch serve` can share a root and database.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from indexer.cli import db_option, root_option
from searchsvc.settings import Settings, load_config

#: Where streamable HTTP listens: loopback only (the MCP spec's advice for local servers).
HTTP_HOST = "127.0.0.1"
HTTP_PATH = "/mcp"


@click.command()
@root_option
@db_option
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Offer the add_entry tool (over HTTP it needs the API token, as the API's writes).",
)
@click.option(
    "--http",
    "http_port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve streamable HTTP on http://127.0.0.1:PORT/mcp instead of stdio.",
)
@click.option("--no-reindex", is_flag=True, help="Serve without bringing the database up to date.")
@click.option("--no-watch", is_flag=True, help="Do not follow the dialogs folder.")
def mcp(
    root: Path,
    db_path: Path,
    allow_writes: bool,
    http_port: int | None,
    no_reindex: bool,
    no_watch: bool,
) -> None:
    """Serve the dialogs to AI agents over the Model Context Protocol (MCP).

    Tools: search_dialogs, get_entry, list_speakers, stats (and add_entry with
    --allow-writes); every dialog file is a resource, dialog://<path>. Speaks MCP
    over stdin/stdout (an MCP client starts it), or streamable HTTP with --http.

    Example:

    \b
        dialogsearch mcp --root dialogs --db var/dialogs.db
        dialogsearch mcp --root dialogs --db var/dialogs.db --allow-writes --http 8765
    """
    started = time.time()
    config: dict[str, Any] = {"ROOT": str(root), "DB": str(db_path)}
    if no_watch:
        config["WATCH"] = "off"
    try:  # a bad setting or a busy port in one line, before any work
        merged = load_config(config)
        settings = Settings.from_config(merged)
        sock = _listen(http_port) if http_port is not None else None
    except (ValueError, OSError) as error:
        click.echo(f"dialogsearch: {error}", err=True)
        sys.exit(2)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if not no_reindex:
        _say(_reindex_first(root, db_path))
    _serve(settings, merged, started, allow_writes=allow_writes, sock=sock)


def _serve(
    settings: Settings,
    config: dict[str, Any],
    started: float,
    *,
    allow_writes: bool,
    sock: socket.socket | None,
) -> None:
    """Build the stack and the server, run it until the client leaves, close the stack."""
    from searchsvc.agents.mcp_server import build_server
    from searchsvc.agents.tools import DialogTools
    from searchsvc.meili_follow import follow_meilisearch
    from searchsvc.stack import build_stack

    stack = build_stack(settings)
    try:
        writes = _write_service(settings, stack, started) if allow_writes else None
        _say(_follow(stack, settings))
        following = follow_meilisearch(stack, settings)
        if following:
            _say(following)
        token = None
        if allow_writes and sock is not None:
            token = _write_token(config)
        server = build_server(
            DialogTools(stack, settings, writes), allow_writes=allow_writes, write_token=token
        )
        if sock is None:
            server.run("stdio")
        else:
            _run_http(server, sock)
    except KeyboardInterrupt:
        pass
    finally:
        stack.close()


def _say(message: str) -> None:
    click.echo(f"dialogsearch: {message}", err=True)


def _listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:PORT. :raise OSError: the port is taken (one line)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HTTP_HOST, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(f"port {port} is in use; try another --http port") from None
        raise OSError(f"cannot listen on {HTTP_HOST}:{port}: {error.strerror}") from None
    return sock


def _reindex_first(root: Path, db: Path) -> str:
    """Incremental reindex (creates the database when missing); a one-line report."""
    from indexer.reindex import reindex

    try:
        summary = reindex(root, db)
    except Exception as error:  # noqa: BLE001 - the server starts anyway, from the files
        return f"reindex failed ({type(error).__name__}); answering from the files for now"
    return (
        f"indexed {summary.files_scanned} files: {summary.files_changed} changed, "
        f"{summary.entries_added} entries added in {summary.seconds:.1f} s"
    )


def _follow(stack: Any, settings: Settings) -> str:
    """Follow the dialogs folder (searchsvc.watcher) unless WATCH is off; a report."""
    from searchsvc.watcher import start_watcher

    if settings.watch == "off":
        return "not following the dialogs folder (watch off)"
    try:
        watcher = start_watcher(stack, settings)
    except (OSError, RuntimeError) as error:
        return f"cannot follow the dialogs folder ({type(error).__name__}): changes need reindex"
    return f"following the dialogs folder ({watcher.mode})" if watcher else "not following"


def _write_service(settings: Settings, stack: Any, started: float) -> Any:
    """The WriteService the API's writes use, over the same stack (see web/api_write.py)."""
    from searchsvc.exceptions import WriteUnavailable
    from searchsvc.writing.service import DEFAULT_DIALOG_FILE, LOCK_WAIT_SECONDS, WriteService

    assert settings.root is not None and settings.db is not None
    writes = WriteService(
        settings.root,
        settings.db,
        stack,
        default_file=settings.dialog_file or DEFAULT_DIALOG_FILE,
        lock_wait=settings.write_lock_wait_seconds or LOCK_WAIT_SECONDS,
    )
    try:
        writes.remove_stale_temp_files(started)
    except WriteUnavailable as error:
        _say(f"temp files of interrupted writes not checked ({error.message})")
    return writes


def _write_token(config: dict[str, Any]) -> str:
    """The API token (DIALOGSEARCH_API_TOKEN), or one generated now and shown once on stderr."""
    from searchsvc.web.auth import TOKEN_CONFIG_KEY, ensure_api_token

    generated = ensure_api_token(config)
    if generated:
        _say(f"API token for add_entry over HTTP (shown once): {generated}")
    return str(config[TOKEN_CONFIG_KEY])


def _run_http(server: Any, sock: socket.socket) -> None:
    """Streamable HTTP on the bound socket (uvicorn, as the SDK runs it), loopback only."""
    import anyio
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=HTTP_HOST)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    _say(f"MCP over streamable HTTP on http://{HTTP_HOST}:{port}{HTTP_PATH}")
    sys.stderr.flush()
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))
