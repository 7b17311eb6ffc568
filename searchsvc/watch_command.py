"""`dialogsearch reindex --watch`: after the reindex, follow the root as `serve` does.

For deployments where indexing runs apart from serving. The same DialogWatcher as
`serve` (searchsvc/watcher.py: batching, settling, the periodic rescan, the same
DIALOGSEARCH_WATCH_* settings), with no stack: each change is an incremental reindex,
then the top-k index catches up. One line per applied change on stdout; warnings (an
unreadable file, a failed reindex) on stderr. Ctrl-C or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from pathlib import Path

import click

from indexer.reindex import ReindexSummary
from indexer.topk_index import catch_up
from searchsvc.settings import Settings, load_config
from searchsvc.watcher import DialogWatcher, watcher_for


def follow(root: Path, db_path: Path, *, topk: bool, topk_dir: Path | None) -> None:
    """Follow `root` into `db_path` until Ctrl-C or SIGTERM."""
    try:
        settings = Settings.from_config(load_config())
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    def on_reindex(summary: ReindexSummary, rescan: bool) -> None:
        files = summary.files_changed + summary.files_removed
        if rescan and not files:
            return  # a rescan that found nothing is not a change
        if topk:
            _catch_up_topk(db_path, topk_dir)
        entries = summary.entries_added + summary.entries_updated + summary.entries_deleted
        click.echo(
            f"{datetime.now().isoformat(timespec='seconds')} "
            f"{'rescan' if rescan else 'change'}: {files} files, {entries} entries changed "
            f"(+{summary.entries_added} ~{summary.entries_updated} -{summary.entries_deleted})"
            f" in {summary.seconds:.2f} s"
        )

    watcher = watcher_for(None, settings, root, db_path, on_reindex=on_reindex)
    _run_until_stopped(watcher, root)


def _run_until_stopped(watcher: DialogWatcher, root: Path) -> None:
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        watcher.start()
        click.echo(f"Watching {root} ({watcher.mode}); Ctrl-C stops.")
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo("Stopped.")


def _catch_up_topk(db_path: Path, topk_dir: Path | None) -> None:
    """The top-k index follows the database; a failure is said, never fatal (FTS5 answers)."""
    try:
        catch_up(db_path, topk_dir)
    except Exception as error:  # noqa: BLE001 - the database is complete
        click.echo(f"top-k index did not catch up: {type(error).__name__}: {error}", err=True)
