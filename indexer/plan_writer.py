"""PlanWriter: plan a reindex's files one at a time and write them in batches.

Split from load_sqlite (which plans and writes one file, or a list of them) so that
each module keeps one job; it writes with load_sqlite's statements.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

from indexer.load_sqlite import (
    UPSERT_FILE,
    FilePlan,
    delete_entries,
    plan_file,
    refresh_copies,
    write_entries,
)
from indexer.store_rows import ID, PreparedFile

if TYPE_CHECKING:
    from indexer.database import Connection

#: Entry rows PlanWriter plans before it writes them: small enough that the parse
#: pool keeps parsing the next files (reindex.WINDOW_FILES) while a batch is written.
WRITE_BATCH_ROWS = 5_000


class PlanWriter:
    """Plan files one at a time as they arrive and write them in batches (caller's transaction).

    Gives the same plans and rows as plan_files + apply_plans over the same files
    in the same order: ids planned for files not yet written count as taken
    (`claimed`), those of files written are in the database, and the rows files no
    longer produce are deleted only at finish(), so every plan sees them as taken,
    as plan_files would. Memory holds one batch, not the whole run.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        synced_utc: int,
        known_paths: Container[str],
        batch_rows: int = WRITE_BATCH_ROWS,
        fts_triggers: bool = True,
    ) -> None:
        self.conn = conn
        self.fts_triggers = fts_triggers
        self.synced_utc = synced_utc
        self.known_paths = known_paths
        self.batch_rows = batch_rows
        self._pending: list[FilePlan] = []
        self._pending_rows = 0
        self._claimed: dict[int, str] = {}
        self._stale: list[int] = []
        #: The copy keys of every row written or deleted (see finish).
        self.copy_keys: set[str] = set()

    def add(self, prepared: PreparedFile) -> FilePlan:
        """Plan one file (written with the next batch); return its plan."""
        plan = plan_file(
            self.conn,
            prepared,
            synced_utc=self.synced_utc,
            claimed=self._claimed,
            has_rows=prepared.path in self.known_paths,
        )
        self._claimed.update((row[ID], plan.path) for row in plan.upserts)
        self._stale += plan.stale_ids
        self.copy_keys |= plan.copy_keys
        self._pending.append(plan)
        self._pending_rows += len(plan.upserts) + 1
        if self._pending_rows >= self.batch_rows:
            self.flush()
        return plan

    def flush(self) -> None:
        """Write the planned files not yet written."""
        if self._pending:
            self.conn.executemany(UPSERT_FILE, [plan.file_row for plan in self._pending])
            write_entries(self.conn, self._pending, fts_triggers=self.fts_triggers)
        self._pending, self._pending_rows = [], 0
        self._claimed.clear()  # now in the database, where claim_ids looks too

    def finish(self, *, copies: bool = True) -> None:
        """Write what is left and delete the rows the files no longer produce.

        Then mark originals and copies among the rows of the keys written, unless
        `copies` is False (the caller refreshes every key at once: refresh_copies).
        """
        self.flush()
        delete_entries(self.conn, self._stale)
        self._stale = []
        if copies:
            refresh_copies(self.conn, self.copy_keys)
