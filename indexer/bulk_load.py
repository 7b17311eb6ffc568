"""What a big reindex drops before its load and rebuilds after: indexes, triggers, targets.

Inside the run's one transaction (indexer.reindex): building a secondary index or
the FTS5 index once, after the rows are in, is faster than updating it row by row.
Each `drop_*` returns the CREATE SQL it dropped, for its `restore_*`/`create_*` to
run again; the SQL comes from the migrations, so nothing here repeats the schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dialogfile.names import target_tokens
from indexer.load_sqlite import INSERT_TARGET

if TYPE_CHECKING:
    from indexer.database import Connection

# The secondary indexes of the entry and target tables, as the migrations created them.
SELECT_BULK_INDEXES = """
SELECT name, sql FROM sqlite_master
WHERE type = 'index' AND sql IS NOT NULL
  AND tbl_name IN ('lupo_dialog_entries', 'lupo_dialog_entry_targets')
ORDER BY name
"""
# The triggers that keep the FTS5 index in step with the entry rows.
SELECT_FTS_TRIGGERS = """
SELECT name, sql FROM sqlite_master
WHERE type = 'trigger' AND tbl_name = 'lupo_dialog_entries'
  AND sql LIKE '%lupo_dialog_entries_fts%'
ORDER BY name
"""
SELECT_CHANGE_LOG_TRIGGERS = """
SELECT name, sql FROM sqlite_master
WHERE type = 'trigger' AND tbl_name = 'lupo_dialog_entries'
  AND sql LIKE '%lupo_dialog_entry_changes%'
ORDER BY name
"""
# After a full reindex the change log starts over under a new store id: an index built
# from the old rows is rebuilt rather than caught up row by row.
RESET_CHANGE_LOG = (
    "DELETE FROM lupo_dialog_entry_changes",
    "UPDATE lupo_store_meta SET store_uuid = lower(hex(randomblob(16)))",
)
DELETE_ALL_TARGETS = "DELETE FROM lupo_dialog_entry_targets"
SELECT_ALL_TARGETS = (
    "SELECT dialog_entry_id, target FROM lupo_dialog_entries "
    "WHERE target IS NOT NULL ORDER BY dialog_entry_id"
)
REBUILD_FTS = "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts) VALUES ('rebuild')"
SET_FTS_HASHSIZE = (
    "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) VALUES ('hashsize', ?)"
)
#: FTS5's own default for the index data it holds in memory before writing a segment.
DEFAULT_FTS_HASHSIZE = 1024 * 1024
#: ... and what a rebuild may hold: 16 MiB writes fewer, bigger segments that need
#: less merging (a third less CPU for the rebuild of 136k rows).
REBUILD_FTS_HASHSIZE = 16 * 1024 * 1024


def drop_bulk_indexes(conn: Connection) -> list[str]:
    """Drop the secondary indexes of the entry and target tables; return their CREATE SQL.

    For a load into an empty database, inside its transaction: building each index
    once after the rows are in (create_indexes) is faster than updating it row by row.
    """
    indexes = list(conn.execute(SELECT_BULK_INDEXES))
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def drop_fts_triggers(conn: Connection) -> list[str]:
    """Drop the triggers that feed the FTS5 index row by row; return their CREATE SQL.

    For a full reindex, inside its transaction: the caller then rebuilds the
    index once from the entry rows (create_fts_triggers + REBUILD_FTS), in id
    order, instead of feeding it batch after batch of rows in random id order.
    """
    triggers = list(conn.execute(SELECT_FTS_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def drop_change_log(conn: Connection) -> list[str]:
    """Drop the change-log triggers (sql/0005) for a full reindex; return their CREATE SQL.

    A full reindex rewrites every row, so logging each one only to rebuild the
    top-k index from scratch afterwards is wasted work: restore_change_log resets
    the log and the store id instead.
    """
    triggers = list(conn.execute(SELECT_CHANGE_LOG_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def restore_change_log(conn: Connection, statements: Iterable[str]) -> None:
    """Create again the triggers drop_change_log dropped; empty the log, new store id."""
    statements = list(statements)
    for sql in statements:
        conn.execute(sql)
    if statements:
        for sql in RESET_CHANGE_LOG:
            conn.execute(sql)


def restore_fts_triggers(conn: Connection, statements: Iterable[str]) -> None:
    """Create again the triggers drop_fts_triggers dropped and rebuild the FTS5 index."""
    for sql in statements:
        conn.execute(sql)
    conn.execute(SET_FTS_HASHSIZE, (REBUILD_FTS_HASHSIZE,))
    conn.execute(REBUILD_FTS)
    conn.execute(SET_FTS_HASHSIZE, (DEFAULT_FTS_HASHSIZE,))


def create_indexes(conn: Connection, statements: Iterable[str]) -> None:
    """Create again the indexes drop_bulk_indexes dropped."""
    for sql in statements:
        conn.execute(sql)


def rebuild_targets(conn: Connection) -> None:
    """Rebuild the target rows from the entry rows."""
    conn.execute(DELETE_ALL_TARGETS)
    conn.executemany(
        INSERT_TARGET,
        [
            (entry_id, token)
            for entry_id, target in conn.execute(SELECT_ALL_TARGETS)
            for token in target_tokens(target)
        ],
    )
