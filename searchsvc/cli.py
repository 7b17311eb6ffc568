"""The `dialogsearch` command group: the indexer's commands plus the service's.

`serve` and `mcp` are loaded only when run (or listed by --help), so that `parse`,
`reindex` and `verify` never import Flask, waitress or the MCP SDK (click's lazy
subcommands).
"""

from __future__ import annotations

import importlib

import click

from indexer.cli import parse, reindex, verify

#: Commands imported on first use: name -> "module:attribute".
LAZY_COMMANDS = {"serve": "searchsvc.serve:serve", "mcp": "searchsvc.agents.command:mcp"}


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
