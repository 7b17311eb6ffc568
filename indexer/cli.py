"""The indexer's click commands, `parse`, `reindex` and `verify`: wiring only.

Library errors become one-line `path:line: what (what to do)` messages here, at
the edge, and nowhere else.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

from dialogfile.model import ParsedFile
from dialogfile.parse import parse_file
from indexer.database import SqliteError
from indexer.discover import find_dialog_files, read_source
from indexer.migrate import MigrationError
from indexer.push_meili import DEFAULT_INDEX, MeiliPushSummary, push_database
from indexer.reindex import DEFAULT_WAIT_SECONDS, Progress, ReindexBusy, ReindexSummary
from indexer.reindex import reindex as run_reindex
from indexer.topk_index import catch_up
from indexer.verify import verify as run_verify

root_option = click.option(
    "--root",
    envvar="DIALOGSEARCH_ROOT",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of dialog files (every *.md below it). Env: DIALOGSEARCH_ROOT.",
)
db_option = click.option(
    "--db",
    "db_path",
    envvar="DIALOGSEARCH_DB",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite database file (created when missing). Env: DIALOGSEARCH_DB.",
)


@click.command()
@click.argument("root", type=click.Path(exists=True, path_type=Path))
@click.option("--ndjson", is_flag=True, help="Print one JSON object per entry.")
def parse(root: Path, ndjson: bool) -> None:
    """Parse dialog files and print what they hold.

    Prints a summary per file, or with --ndjson one JSON object per entry.
    ROOT is a folder (every *.md file below it) or one file. Paths are printed
    relative to ROOT (for one file: its name); problems go to stderr.

    Example:

    \b
        dialogsearch parse dialogs/ --ndjson > entries.ndjson
        dialogsearch parse dialogs/GOV_dialog.md
    """
    base, paths = (root.parent, [root.name]) if root.is_file() else (root, find_dialog_files(root))
    totals: Counter[str] = Counter()
    for path in paths:
        with _edge_errors():
            source = read_source(base, path)
        parsed = parse_file(source.text, source.path)
        for problem in parsed.problems:
            click.echo(str(problem), err=True)
        if ndjson:
            for entry in parsed.entries:
                click.echo(json.dumps(entry.to_dict(), ensure_ascii=False))
        else:
            click.echo(_file_summary(parsed))
            totals.update(entry.format for entry in parsed.entries)
            totals["problems"] += len(parsed.problems)
    if not ndjson:
        sections, problems = totals.pop("section", 0), totals.pop("problems", 0)
        click.echo(
            f"{len(paths)} files: {sum(totals.values())} entries, "
            f"{sections} sections, {problems} problems"
        )


@click.command()
@root_option
@db_option
@click.option("--full", is_flag=True, help="Re-parse and reload every file (backs up the DB).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another running reindex.",
)
@click.option(
    "--meili-url",
    envvar="MEILI_URL",
    metavar="URL",
    help="Then push changed files to Meilisearch at URL (see docs/meilisearch.md). Env: MEILI_URL.",
)
@click.option(
    "--meili-key", envvar="MEILI_API_KEY", help="Meilisearch API key. Env: MEILI_API_KEY."
)
@click.option(
    "--meili-index", default=DEFAULT_INDEX, show_default=True, help="Meilisearch index uid."
)
@click.option(
    "--meili-required",
    is_flag=True,
    help="Exit 1 when the push to Meilisearch fails (by default only the summary says so).",
)
@click.option(
    "--no-topk",
    is_flag=True,
    help="Leave the top-k search index (<db>.topk/) as it is (docs/search-index.md).",
)
@click.option(
    "--topk-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the top-k search index [default: <db>.topk beside the database].",
)
def reindex(
    root: Path,
    db_path: Path,
    full: bool,
    dry_run: bool,
    as_json: bool,
    wait: float,
    meili_url: str | None,
    meili_key: str | None,
    meili_index: str,
    meili_required: bool,
    no_topk: bool,
    topk_dir: Path | None,
) -> None:
    """Load changed dialog files into the database.

    Only files whose content changed are parsed, unless --full. The whole run
    is one transaction: interrupted, the database stays as it was. With
    --meili-url, the files changed since the last successful push then go to
    Meilisearch; if it is down or refuses them, the database is still
    complete, the summary lists what was not pushed and the next run pushes it.
    Then the top-k search index catches up with the database (or is built),
    unless --no-topk; its time is reported apart (topk_seconds).

    Example:

    \b
        dialogsearch reindex --root dialogs --db var/dialogs.db
        dialogsearch reindex --root dialogs --db var/dialogs.db --full --json
        dialogsearch reindex --root dialogs --db var/dialogs.db \\
            --meili-url http://127.0.0.1:7700 --meili-key "$MEILI_MASTER_KEY"
    """
    if not dry_run and not db_path.parent.is_dir():
        raise click.ClickException(
            f"{db_path}: folder {db_path.parent} does not exist (create it first)"
        )
    with ExitStack() as stack, _edge_errors(db_path):
        progress = _progress_bar(stack) if sys.stderr.isatty() and not as_json else None
        summary = run_reindex(
            root, db_path, full=full, dry_run=dry_run, progress=progress, wait=wait
        )
    meili: MeiliPushSummary | None = None
    if meili_url and not dry_run:
        with _edge_errors(db_path):
            meili = push_database(db_path, meili_url, meili_key, meili_index, full=full, wait=wait)
    topk = None if no_topk or dry_run else _sync_topk(db_path, topk_dir)
    _print_reindex(summary, db_path, meili, topk, as_json=as_json, meili_dry_run=bool(meili_url))
    if meili is not None and not meili.ok and meili_required:
        raise click.ClickException(
            f"the push to Meilisearch at {meili_url} failed (--meili-required): "
            f"{len(meili.files_not_pushed)} files not pushed; the database is up to date"
        )


def _print_reindex(
    summary: ReindexSummary,
    db_path: Path,
    meili: MeiliPushSummary | None,
    topk: dict[str, object] | None,
    *,
    as_json: bool,
    meili_dry_run: bool,
) -> None:
    """The reindex's report: one JSON object, or lines for a person."""
    if as_json:
        result = summary.to_dict()
        if meili is not None:
            result["meilisearch"] = meili.to_dict()
        if topk is not None:
            result["topk"] = topk
            result["topk_seconds"] = topk["seconds"]
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(_reindex_report(summary, db_path))
    if topk is not None:
        click.echo(_topk_report(topk))
    if meili_dry_run and summary.dry_run:
        click.echo("Dry run: nothing was pushed to Meilisearch.")
    for line in meili.lines() if meili is not None else []:
        click.echo(line)


@click.command()
@root_option
@db_option
def verify(root: Path, db_path: Path) -> None:
    """Check the database against the dialog files.

    Compares files, every entry field and id, target rows and timestamps, and
    runs the full-text index's integrity check. Exits 1 on any difference.

    Example:

    \b
        dialogsearch verify --root dialogs --db var/dialogs.db
    """
    with _edge_errors(db_path):
        report = run_verify(root, db_path)
    for difference in report.differences:
        click.echo(str(difference))
    if report.differences:
        click.echo(f"{len(report.differences)} differences between {root} and {db_path}", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {report.files_checked} files, {report.entries_checked} entries match {db_path}"
    )


def _file_summary(parsed: ParsedFile) -> str:
    formats = Counter(entry.format for entry in parsed.entries)
    sections = formats.pop("section", 0)
    detail = ", ".join(f"{name} {count}" for name, count in sorted(formats.items()))
    entries = sum(formats.values())
    text = f"{parsed.path}: {entries} entries" + (f" ({detail})" if detail else "")
    text += f", {sections} sections"
    if parsed.problems:
        text += f", {len(parsed.problems)} problems"
    return text


def _sync_topk(db_path: Path, topk_dir: Path | None) -> dict[str, object]:
    """Catch the top-k index up with the database (build it when missing); never fails the run."""
    started = time.monotonic()
    try:
        return catch_up(db_path, topk_dir).to_dict()
    except Exception as error:  # the database is complete; the server falls back to FTS5
        return {
            "action": "failed",
            "reason": f"{type(error).__name__}: {error}",
            "seconds": round(time.monotonic() - started, 3),
        }


def _topk_report(topk: dict[str, object]) -> str:
    action = topk["action"]
    text = {
        "built": "built",
        "caught_up": f"caught up ({topk.get('applied')} entries changed)",
        "fresh": "already up to date",
        "busy": "busy (another process is updating it; the server catches up by itself)",
    }.get(str(action), f"{action}: {topk.get('reason')}")
    return f"Top-k search index: {text} in {topk['seconds']} s"


def _reindex_report(summary: ReindexSummary, db_path: Path) -> str:
    verb = "Would index" if summary.dry_run else "Indexed"
    lines = [
        f"{verb} {summary.files_scanned} files into {db_path}: {summary.files_changed} "
        f"parsed, {summary.files_skipped} unchanged, {summary.files_removed} removed",
        f"Entries: {summary.entries_added} added, {summary.entries_updated} updated, "
        f"{summary.entries_deleted} deleted",
    ]
    if summary.backup_path:
        lines.append(f"Backup of the previous database: {summary.backup_path}")
    if summary.problems:
        lines.append(f"{len(summary.problems)} problems:")
        lines.extend(f"  {problem}" for problem in summary.problems)
    rate = summary.entries_parsed / summary.seconds if summary.seconds > 0 else 0.0
    lines.append(f"Took {summary.seconds:.2f} s ({rate:,.0f} entries/s)")
    if summary.dry_run:
        lines.append("Dry run: nothing was written.")
    return "\n".join(lines)


def _progress_bar(stack: ExitStack) -> Progress:
    """A Progress callback drawing a click progress bar on stderr, opened on first use."""
    bars: list = []

    def progress(path: str, done: int, total: int) -> None:
        if not bars:
            bars.append(
                stack.enter_context(
                    click.progressbar(length=total, label="Reading", file=sys.stderr)
                )
            )
        bars[0].update(1)

    return progress


@contextmanager
def _edge_errors(db_path: Path | None = None) -> Iterator[None]:
    """Turn library errors into one-line click errors."""
    try:
        yield
    except ReindexBusy as error:
        raise click.ClickException(str(error)) from error
    except MigrationError as error:
        raise click.ClickException(f"{db_path}: {error}") from error
    except SqliteError as error:
        raise click.ClickException(
            f"{db_path}: {error} (is it a dialogsearch database? pass another --db)"
        ) from error
    except (OSError, ValueError) as error:
        where = getattr(error, "filename", None) or db_path
        what = getattr(error, "strerror", None) or str(error)
        raise click.ClickException(
            f"{where}: {what} (check the path and its permissions)"
        ) from error
