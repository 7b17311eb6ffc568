"""`dialogsearch serve`: bring the database up to date, then serve the app with waitress.

Why waitress: on 2 cores one process with a thread pool shares the caches (match
samples, facet counts) and the one in-memory file index between requests, and
needs no fork. Measured on 100k generated entries, the 500-query mix over HTTP
(2 busy cores): waitress 8 threads 116 req/s, p50 6.7 ms / p99 40 ms at
concurrency 1, 115 req/s at 8; gunicorn 2 sync workers 73 req/s, p50 9.2 /
p99 73 ms at 1 (each worker warms its own caches), 108 req/s at 8; gunicorn 2x4
gthread 114 / 97 req/s. Same throughput at best, and gunicorn would hold one
file index per worker (about 220 MB each at 100k entries).
"""

from __future__ import annotations

import ctypes
import errno
import gc
import logging
import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from indexer.cli import db_option, root_option
from searchsvc.exceptions import WriteUnavailable
from searchsvc.settings import Settings, load_config
from searchsvc.web.api_write import EXTENSION_KEY
from searchsvc.web.app import create_app
from searchsvc.web.metrics import access_for
from searchsvc.web.server_errors import use_json_errors

#: glibc malloc arenas for the whole process. By default each request thread that
#: allocates gets its own arena (up to 8 per core), and every arena keeps the memory
#: its peak request freed: measured on the 1M-entry database, 8 threads over the query
#: mix, RSS 194 MB with the default and 143 MB with 2 arenas, at the same speed.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt() parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before starting threads); False where there is no mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): nothing to cap
    return bool(mallopt(_M_ARENA_MAX, arenas))


class ListenError(Exception):
    """The address cannot be listened on; the message says what to do."""


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to HOST:PORT for waitress, before any other work is done.

    :raise ListenError: the port is in use, not ours to take, or the host unknown.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ListenError(f"cannot listen on {host!r}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    if sys.platform != "win32":  # as waitress does: restart at once after a stop
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ListenError(
                f"port {port} is in use; try --port {_free_port(host, port)}"
            ) from None
        if error.errno == errno.EACCES:
            raise ListenError(
                f"port {port} needs privileges; try --port {_free_port(host, 8000)}"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def _free_port(host: str, after: int) -> int:
    """A port above `after` that is free now (0, any free port, when none is near)."""
    for candidate in range(after + 1, min(after + 100, 65536)):
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            probe.bind((host, candidate))
        except OSError:
            continue
        finally:
            probe.close()
        return candidate
    return 0


#: Allocations between two young-generation collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 7_000


def settle_garbage_collector() -> None:
    """Once the app is built: its objects (indexes, tables, caches' structures) are frozen
    out of every later collection, and the young generation is collected a tenth as often.

    A full collection walked every object of the process while each request thread waited
    for the GIL: under the 90/10 load at 1M, 24 full collections in 30 s, 500 ms in all,
    up to 30 ms each; with this, 4 in 60 s, 32 ms in all, at most 11 ms
    (docs/benchmarks.md, "Search under writes").
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def make_server(app: Any, sock: socket.socket, threads: int) -> Any:
    """The waitress server of `app` on `sock`. Its loop polls with poll(), not select():
    select() fails once any descriptor of the process is past 1023 (index segment
    files, connections), and the whole server loop with it."""
    import waitress

    return waitress.create_server(
        app, sockets=[sock], threads=threads, ident="dialogsearch", asyncore_use_poll=True
    )


def _reindex_first(root: Path, db: Path) -> str:
    """Incremental reindex (creates the database when missing); a one-line report."""
    from indexer.reindex import reindex

    try:
        summary = reindex(root, db, skip_unreadable=True)  # the watcher logs those
    except Exception as error:  # noqa: BLE001 - the service starts anyway, from the files
        return (
            f"reindex failed ({type(error).__name__}: {error}); "
            "serving from the files until the database recovers"
        )
    return (
        f"indexed {summary.files_scanned} files: {summary.files_changed} changed, "
        f"{summary.entries_added} entries added, {summary.entries_updated} updated, "
        f"{summary.entries_deleted} deleted in {summary.seconds:.1f} s"
        + (f"; {len(summary.unreadable)} files unreadable" if summary.unreadable else "")
    )


@click.command()
@root_option
@db_option
@click.option(
    "--host",
    envvar="DIALOGSEARCH_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Env: DIALOGSEARCH_HOST.",
)
@click.option(
    "--port",
    envvar="DIALOGSEARCH_PORT",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on. Env: DIALOGSEARCH_PORT.",
)
@click.option(
    "--threads",
    envvar="DIALOGSEARCH_THREADS",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads. Env: DIALOGSEARCH_THREADS.",
)
@click.option("--no-reindex", is_flag=True, help="Serve without bringing the database up to date.")
@click.option(
    "--no-watch",
    is_flag=True,
    help="Do not follow the dialogs folder (changes then need a reindex or sync). "
    "Env: DIALOGSEARCH_WATCH=off (or poll: follow it by polling).",
)
def serve(
    root: Path, db_path: Path, host: str, port: int, threads: int, no_reindex: bool, no_watch: bool
) -> None:
    """Index the dialog files, then serve the search page and JSON API.

    Runs an incremental reindex first (creating the database when it is
    missing), then serves with waitress on http://HOST:PORT/ until interrupted,
    following the dialogs folder: changed files reach search by themselves.
    Other settings come from DIALOGSEARCH_* environment variables.

    Example:

    \b
        dialogsearch serve --root dialogs --db var/dialogs.db
        dialogsearch serve --root dialogs --db var/dialogs.db --host 0.0.0.0 --port 8080
    """
    started = time.time()
    config: dict[str, Any] = {"ROOT": str(root), "DB": str(db_path)}
    if no_watch:
        config["WATCH"] = "off"
    try:  # before the reindex and the token: a bad setting or a busy port, in one line
        settings = Settings.from_config(load_config(config))
        sock = listen_socket(host, port)
    except (ValueError, ListenError) as error:
        click.echo(f"dialogsearch: {error}", err=True)
        sys.exit(2)
    # GET /metrics: open on loopback, behind the API token when others can reach the port.
    config["METRICS"] = access_for(settings.metrics, host)
    limit_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if not no_reindex:
        click.echo(f"dialogsearch: {_reindex_first(root, db_path)}", err=True)
    app = create_app(config)
    click.echo(f"dialogsearch: {_remove_temp_files(app, started)}", err=True)
    click.echo(f"dialogsearch: {_start_watcher(app)}", err=True)
    following = _follow_meilisearch(app)
    if following:
        click.echo(f"dialogsearch: {following}", err=True)
    token = _generated_token(app)
    if token:
        click.echo(f"dialogsearch: API token for writes (shown once): {token}", err=True)
    server = make_server(app, sock, threads)
    use_json_errors(server)  # oversized headers etc. in the error shape, with the headers
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"dialogsearch: serving on http://{shown_host}:{server.effective_port}/")
    sys.stdout.flush()
    settle_garbage_collector()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["dialogsearch"].close()


def _start_watcher(app: Any) -> str:
    """Follow the dialogs folder (searchsvc.watcher) unless WATCH is off; a report."""
    from searchsvc.settings import SETTINGS_KEY
    from searchsvc.stack import SearchStack
    from searchsvc.watcher import start_watcher

    stack = app.extensions["dialogsearch"]
    settings = app.extensions[SETTINGS_KEY]
    if not isinstance(stack, SearchStack) or settings.watch == "off":
        return "not following the dialogs folder (watch off): changes need reindex or sync"
    try:
        watcher = start_watcher(stack, settings)
    except (OSError, RuntimeError) as error:  # watchfiles' setup errors: serve anyway
        return f"cannot follow the dialogs folder ({error}): changes need reindex or sync"
    if watcher is None:
        return "not following the dialogs folder"
    return f"following {settings.root} ({watcher.mode})"


def _follow_meilisearch(app: Any) -> str | None:
    """Push every change to Meilisearch when MEILI_URL is set (searchsvc.meili_follow)."""
    from searchsvc.meili_follow import follow_meilisearch
    from searchsvc.settings import SETTINGS_KEY
    from searchsvc.stack import SearchStack

    stack = app.extensions["dialogsearch"]
    if not isinstance(stack, SearchStack):
        return None
    return follow_meilisearch(stack, app.extensions[SETTINGS_KEY])


def _remove_temp_files(app: Any, started: float) -> str:
    """Remove the temp files that writes killed mid-way left (see dialogfile.file_io); a report."""
    writes = app.extensions.get(EXTENSION_KEY)
    if writes is None:
        return "no write API: temp files left as they are"
    try:
        removed = writes.remove_stale_temp_files(started)
    except WriteUnavailable as error:
        return f"temp files of interrupted writes not checked ({error.message})"
    return f"removed {len(removed)} temp files left by interrupted writes"


def _generated_token(app: object) -> str | None:
    """A write token generated for this run when none is configured (see searchsvc.web.auth)."""
    try:
        from searchsvc.web.auth import ensure_api_token
    except ImportError:
        return None
    return ensure_api_token(app.config)  # type: ignore[attr-defined]
