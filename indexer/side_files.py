"""The files SQLite keeps beside a database, found by its name: -wal, -shm, -journal.

A database deleted under its connections (a search's, a write's: `rm dialogs.db` while
serving) leaves its -wal and -shm while one of them has them open. A new database made
at the same path (recovery's rebuild, the watcher's or the CLI's reindex) would take them
for its own and be corrupt from its first commit ("file is not a database"). So before a
database is created, side files without a database are renamed, never deleted.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("indexer.database")


#: The files SQLite keeps beside a database and finds by its name.
SIDE_FILES = ("-wal", "-shm", "-journal")


def set_aside_orphans(path: Path) -> str | None:
    """Before a database is created at `path`: rename the side files of one deleted there
    to `<db>.orphan-<YYYYmmddHHMMSS><suffix>`. The name, or None (nothing to do)."""
    if path.exists():
        return None
    present = [suffix for suffix in SIDE_FILES if Path(f"{path}{suffix}").exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    target, number = path.with_name(f"{path.name}.orphan-{stamp}"), 1
    while any(Path(f"{target}{suffix}").exists() for suffix in SIDE_FILES):
        number += 1
        target = path.with_name(f"{path.name}.orphan-{stamp}-{number}")
    for suffix in present:
        try:
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
        except FileNotFoundError:  # its last connection closed meanwhile and removed it
            continue
    log.warning(json.dumps({"event": "moved_aside", "file": target.name, "reason": "orphan"}))
    return target.name
