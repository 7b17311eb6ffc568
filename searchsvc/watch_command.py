"""`dialogsearch reindex --watch`: after the reindex, follow the root as `serve` does.

For deployments where indexing runs apart from serving. The same DialogWatcher as
`serve` (searchsvc/watcher.py: batching, settling, the periodic rescan, the same
DIALOGSEARCH_WATCH_* settings), with no stack: each change is an incremental reindex,
then the top-k index catches up, and with --meili-url a MeiliFollower
(searchsvc/meili_follow.py) pushes it to Meilisearch in the background, as `serve`
does. One line per applied change and per push on stdout; warnings (an unreadable
file, a failed reindex or push) on stderr. Ctrl-C or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from pathlib import Path

import click

from indexer.push_meili import MeiliPushSummary
from indexer.reindex import ReindexSummary
from indexer.topk_index import catch_up
from searchsvc.meili_follow import MeiliFollower
from searchsvc.settings import Settings, load_config
from searchsvc.watcher import DialogWatcher, watcher_for

#: Meilisearch to push to: (url or None, API key, index uid), the reindex's --meili-* options.
MeiliOptions = tuple[str | None, str | None, str]


def follow(
    root: Path,
    db_path: Path,
    *,
    topk: bool,
    topk_dir: Path | None,
    meili: MeiliOptions = (None, None, "dialog_entries"),
) -> None:
    """Follow `root` into `db_path` (and Meilisearch, given a URL) until Ctrl-C or SIGTERM."""
    try:
        settings = Settings.from_config(load_config())
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    url, api_key, index_uid = meili
    follower = MeiliFollower(db_path, url, api_key, index_uid, on_push=_say_push) if url else None

    def on_reindex(summary: ReindexSummary, rescan: bool) -> None:
        files = summary.files_changed + summary.files_removed
        if rescan and not files:
            return  # a rescan that found nothing is not a change
        if topk:
            _catch_up_topk(db_path, topk_dir)
        if follower is not None:
            follower.request()  # pushed in the background: the next change is not held up
        entries = summary.entries_added + summary.entries_updated + summary.entries_deleted
        click.echo(
            f"{datetime.now().isoformat(timespec='seconds')} "
            f"{'rescan' if rescan else 'change'}: {files} files, {entries} entries changed "
            f"(+{summary.entries_added} ~{summary.entries_updated} -{summary.entries_deleted})"
            f" in {summary.seconds:.2f} s"
        )

    watcher = watcher_for(None, settings, root, db_path, on_reindex=on_reindex)
    _run_until_stopped(watcher, root, follower)


def _run_until_stopped(watcher: DialogWatcher, root: Path, follower: MeiliFollower | None) -> None:
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        if follower is not None:
            follower.start()
            follower.request()  # anything the first push left behind (Meilisearch was down)
        watcher.start()
        click.echo(f"Watching {root} ({watcher.mode}); Ctrl-C stops.")
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        if follower is not None:
            follower.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo("Stopped.")


def _say_push(summary: MeiliPushSummary) -> None:
    """A push that went through, as one line (a failure is logged once, on stderr)."""
    if summary.ok:
        click.echo(f"{datetime.now().isoformat(timespec='seconds')} {summary.lines()[0]}")


def _catch_up_topk(db_path: Path, topk_dir: Path | None) -> None:
    """The top-k index follows the database; a failure is said, never fatal (FTS5 answers)."""
    try:
        catch_up(db_path, topk_dir)
    except Exception as error:  # noqa: BLE001 - the database is complete
        click.echo(f"top-k index did not catch up: {type(error).__name__}: {error}", err=True)
