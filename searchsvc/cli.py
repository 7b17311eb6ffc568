"""The `dialogsearch` command group: the indexer's commands plus the service's.

`serve` and `mcp` are loaded only when run (or listed by --help), so that `parse`,
`reindex` and `verify` never import Flask, waitress or the MCP SDK (click's lazy
subcommands). `reindex` is the indexer's, plus `--watch`: following the root is the
service's DialogWatcher, imported only when asked for (the indexer imports no searchsvc).
"""

from __future__ import annotations

import importlib
import inspect

import click

from indexer.cli import parse, verify
from indexer.cli import reindex as index_once

#: Commands imported on first use: name -> "module:attribute".
LAZY_COMMANDS = {"serve": "searchsvc.serve:serve", "mcp": "searchsvc.agents.command:mcp"}


WATCH_HELP = """With --watch it then keeps following ROOT as `dialogsearch serve` does (for
indexing apart from serving): each burst of changes is one incremental reindex
(then the top-k index catches up), printed as one line; files still being
written are read once they settle. With --meili-url, each change then reaches
Meilisearch too (pushed in the background, retried while it is down). Ctrl-C or
SIGTERM stops it (exit 0).

\b
    dialogsearch reindex --root dialogs --db var/dialogs.db --watch
"""


def _reindex_command() -> click.Command:
    """The indexer's `reindex`, plus --watch (searchsvc.watch_command, loaded when used)."""

    def run(watch: bool, **options: object) -> None:
        if watch and options["dry_run"]:
            raise click.UsageError("--watch writes: it cannot be used with --dry-run")
        assert index_once.callback is not None
        index_once.callback(**options)
        if watch:
            follow = importlib.import_module("searchsvc.watch_command").follow
            follow(
                options["root"],
                options["db_path"],
                topk=not options["no_topk"],
                topk_dir=options["topk_dir"],
                meili=(options["meili_url"], options["meili_key"], options["meili_index"]),
            )

    watch = click.Option(
        ["--watch"],
        is_flag=True,
        help="Then keep following ROOT and apply each change (Ctrl-C stops).",
    )
    return click.Command(
        "reindex",
        params=[*index_once.params, watch],
        callback=run,
        help=inspect.cleandoc(index_once.help or "") + "\n\n" + WATCH_HELP,
        short_help=index_once.short_help,
    )


reindex = _reindex_command()


class LazyGroup(click.Group):
    """A click group whose LAZY_COMMANDS are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dialogsearch")
def main() -> None:
    """Full-text search over Lupopedia dialog Markdown files.

    Example:

    \b
        dialogsearch reindex --root dialogs --db var/dialogs.db
        dialogsearch verify --root dialogs --db var/dialogs.db
    """


main.add_command(parse)
main.add_command(reindex)
main.add_command(verify)

if __name__ == "__main__":
    main()
