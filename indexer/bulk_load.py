"""What a big reindex drops before its load and rebuilds after: indexes, triggers, targets.

Inside the run's one transaction (indexer.reindex, through BulkLoad): building a
secondary index or the FTS5 index once, after the rows are in, is faster than updating
it row by row. Each `drop_*` returns the CREATE SQL it dropped, to run again at the
end; the SQL comes from the migrations, so nothing here repeats the schema.

A load into an empty database feeds FTS5 while it writes: every FEED_ROWS new rows
(in entry_rowid order, as FTS5 likes them) go to the index in one statement, so the
index grows while the parse workers keep both cores busy, instead of being built from
scratch after the last file (a tail that runs on one core). `--full` over a database
that has rows rebuilds the index at the end instead, which also repairs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dialogfile.names import target_tokens
from indexer.database import SqliteError
from indexer.load_sqlite import INSERT_TARGET, refresh_copies

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
    "WHERE target IS NOT NULL ORDER BY entry_rowid"
)
REBUILD_FTS = "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts) VALUES ('rebuild')"
# The rows after a rowid, as FTS5 indexes them (the view the index reads, sql/0003).
FEED_FTS = """
INSERT INTO lupo_dialog_entries_fts (rowid, title, message, body, speaker, target)
SELECT entry_rowid, title, message, body, speaker, target FROM lupo_dialog_entries_fts_content
WHERE entry_rowid > ? ORDER BY entry_rowid
"""
LAST_ROWID = "SELECT max(entry_rowid) FROM lupo_dialog_entries"
SET_FTS_HASHSIZE = (
    "INSERT INTO lupo_dialog_entries_fts (lupo_dialog_entries_fts, rank) VALUES ('hashsize', ?)"
)
#: FTS5's own default for the index data it holds in memory before writing a segment.
DEFAULT_FTS_HASHSIZE = 1024 * 1024
#: ... and what a bulk load may hold: 16 MiB writes fewer, bigger segments that need
#: less merging (a third less CPU for the rebuild of 136k rows).
REBUILD_FTS_HASHSIZE = 16 * 1024 * 1024
#: Rows written before an empty database's load feeds them to FTS5 in one statement
#: (each statement ends in a segment: 20,000 rows cost 15 % more CPU than one rebuild,
#: 5,000 rows 30 %, on the 100k corpus).
FEED_ROWS = 20_000


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

    For a bulk load, inside its transaction: BulkLoad then feeds the index in big
    chunks or rebuilds it once from the entry rows, which is cheaper than triggers
    feeding it batch after batch.
    """
    triggers = list(conn.execute(SELECT_FTS_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


def drop_change_log(conn: Connection) -> list[str]:
    """Drop the change-log triggers (sql/0005) for a full reindex; return their CREATE SQL.

    A bulk load writes every row, so logging each one only to rebuild the top-k
    index from scratch afterwards is wasted work: BulkLoad.finish resets the log
    and the store id instead.
    """
    triggers = list(conn.execute(SELECT_CHANGE_LOG_TRIGGERS))
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in triggers]


@dataclass
class BulkLoad:
    """A big load inside the run's transaction: what it dropped, and how FTS5 keeps up.

    `empty`: the database has no rows (a first load): the secondary indexes go too,
    and FTS5 is fed as the rows arrive (after_write). `full` on a database with rows:
    the FTS5 index is rebuilt at the end. Neither: nothing is dropped.
    """

    index_sql: list[str] = field(default_factory=list)
    trigger_sql: list[str] = field(default_factory=list)
    change_log_sql: list[str] = field(default_factory=list)
    #: The last entry_rowid fed to FTS5 (an empty database's load); None: rebuild at the end.
    fed: int | None = None

    @classmethod
    def start(cls, conn: Connection, *, full: bool, empty: bool) -> BulkLoad:
        """Drop what this kind of load builds better at the end (see the class docstring)."""
        bulk = cls()
        if empty:
            bulk.index_sql = drop_bulk_indexes(conn)
            bulk.fed = 0
        if full or empty:
            bulk.trigger_sql = drop_fts_triggers(conn)
            bulk.change_log_sql = drop_change_log(conn)
            conn.execute(SET_FTS_HASHSIZE, (REBUILD_FTS_HASHSIZE,))
        return bulk

    @property
    def fts_triggers(self) -> bool:
        """Whether the FTS5 triggers still feed the index row by row."""
        return not self.trigger_sql

    def after_write(self, conn: Connection) -> None:
        """Feed FTS5 the rows written since the last feed, once there are FEED_ROWS of them."""
        if self.fed is not None:
            self._feed(conn, FEED_ROWS)

    def _feed(self, conn: Connection, at_least: int) -> None:
        (last,) = conn.execute(LAST_ROWID).fetchone()
        if last is not None and self.fed is not None and last - self.fed >= at_least:
            conn.execute(FEED_FTS, (self.fed,))
            self.fed = last

    def finish(self, conn: Connection, *, repair_targets: bool) -> None:
        """Indexes, copies, FTS5 and triggers back; the target rows rebuilt if `repair_targets`."""
        for sql in self.index_sql:
            conn.execute(sql)
        if self.index_sql or self.trigger_sql:
            refresh_copies(conn, None)  # every key at once
        if not self.trigger_sql:
            return
        if self.fed is None:
            conn.execute(REBUILD_FTS)
        else:
            self._feed(conn, 1)
        conn.execute(SET_FTS_HASHSIZE, (DEFAULT_FTS_HASHSIZE,))
        for sql in self.trigger_sql:
            conn.execute(sql)
        for sql in self.change_log_sql:
            conn.execute(sql)
        for sql in RESET_CHANGE_LOG:
            conn.execute(sql)
        if repair_targets:
            rebuild_targets(conn)


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


def use_rollback_journal(conn: Connection) -> bool:
    """Switch the writer `conn` from WAL to a rollback journal, for a first load.

    One transaction that writes gigabytes is slow in WAL mode: every page goes to the
    WAL and again into the database, a page written twice makes SQLite re-read the WAL
    behind it to checksum it again at the commit, and every page read looks through the
    WAL's index (a quarter of the writer's CPU at 1M entries). A rollback journal keeps
    only the pages a transaction changes that existed before it, so for a database
    without rows it stays a few pages long, and the rows are written once. It is as
    atomic: a killed run leaves `<db>-journal`, and the next writer rolls the database
    back with it (read-only readers report an error until then). Readers cannot read
    while the run writes; the service answers from the files meanwhile. synchronous
    FULL: a power cut cannot corrupt the database either.

    False, changing nothing, when another connection has the database open: leaving
    WAL needs the file alone.
    """
    (saved,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        ((mode,),) = conn.execute("PRAGMA journal_mode = DELETE").fetchall()
    except SqliteError as error:
        if not _locked(error):
            raise
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(saved)}")
    if mode != "delete":
        return False
    conn.execute("PRAGMA synchronous = FULL")
    return True


def use_wal(conn: Connection) -> bool:
    """Back to WAL and synchronous NORMAL after use_rollback_journal (outside a transaction).

    False when a reader kept the switch waiting past the busy timeout: the database
    stays in rollback mode, which works, until the next writer opens it
    (Database.open_writer switches every database it opens to WAL).
    """
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        ((mode,),) = conn.execute("PRAGMA journal_mode = WAL").fetchall()
    except SqliteError as error:
        if not _locked(error):
            raise
        return False
    return mode == "wal"


def _locked(error: SqliteError) -> bool:
    message = str(error)
    return "locked" in message or "busy" in message
