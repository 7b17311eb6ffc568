"""The `dialogsearch` command group: the indexer's commands plus the service's."""

from __future__ import annotations

import click

from indexer.cli import parse, reindex, verify
from searchsvc.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
main.add_command(serve)

if __name__ == "__main__":
    main()
