"""Options that `dialogsearch serve` and `dialogsearch mcp` share: the dialogs root and the
database, read from the same flags and environment variables in both."""

from __future__ import annotations

from pathlib import Path

import click

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
