"""Random damage to the database file, read and written as the service does: every failure
is a StoreUnavailable (the fallback's trigger), never another exception, never a crash.

The fault check "random bytes" damages one live database per run; this damages many
copies (seeded), in a child process with faulthandler on, so that a crash inside SQLite
fails the test with the Python stack instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from support.rel_result import CheckResult, save_if_asked
from support.rel_server import REPO_ROOT, SAMPLE_DIALOGS

from indexer.reindex import reindex

#: Damaged copies (scripts/soak sets more through the environment).
COPIES = int(os.environ.get("RELIABILITY_DAMAGED_COPIES", "40"))

DAMAGE = """
import collections, json, random, shutil, sys
from pathlib import Path
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import parse_user_query
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.repository import QueryTooExpensive, SearchQuery, StoreUnavailable
from searchsvc.writing.entry_input import validate_new_entry
from searchsvc.writing.service import WriteService

source, root, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
copies, rng = int(sys.argv[4]), random.Random(int(sys.argv[5]))
words = ("search", "migration", "index", "dialog", "fleet", "deploy", "release", "zeb")
files = FileRepository(root)
files.build_now()
outcomes = collections.Counter()
for number in range(copies):
    db = work / f"copy{number}.db"
    shutil.copy(source, db)
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        for _ in range(64):
            handle.seek(rng.randrange(100, size))
            handle.write(rng.randbytes(512))
    repository = SqliteRepository(db, candidate_limit=50)
    for _ in range(25):
        text = " ".join(rng.sample(words, rng.choice((1, 2))))
        match, filters = parse_user_query(text, prefix_last=rng.random() < 0.5)
        roll = rng.random()
        try:
            if roll < 0.4:
                facets = ("speaker", "target", "mood", "file") if roll < 0.2 else ()
                query = SearchQuery(match=match, text=text, filters=filters, facets=facets)
                repository.search(query)
            elif roll < 0.5:
                files_only = Filters(files=("ops/",))
                repository.search(SearchQuery(match=match, text=text, filters=files_only))
            elif roll < 0.6:
                repository.stats()
            elif roll < 0.7:
                repository.probe()
            elif roll < 0.8:
                repository.health()
            else:
                repository.get_entry(rng.randrange(1, 2**53))
            outcomes["answered"] += 1
        except StoreUnavailable as error:
            outcomes[error.reason] += 1
        except QueryTooExpensive:
            outcomes["too expensive"] += 1
    repository.close()
    writes = WriteService(root, db, files)
    body = {"speaker": "KIRO", "message": f"damaged {number}", "dialog_file": "damage.md"}
    writes.create(validate_new_entry(body))  # any exception fails the run
    outcomes["writes kept"] += 1
print(json.dumps(outcomes))
"""


def test_a_randomly_damaged_database_only_ever_raises_store_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    root.mkdir()
    for path in sorted(SAMPLE_DIALOGS.rglob("*.md"))[:6]:
        (root / path.name).write_bytes(path.read_bytes())
    source = tmp_path / "dialogs.db"
    reindex(root, source)
    sqlite_checkpoint(source)
    work = tmp_path / "copies"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", DAMAGE, source, root, work, str(COPIES), "7"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    result = CheckResult(
        "Damaged database copies (read and written in place)",
        did={"copies": COPIES, "damage": "64 x 512 random bytes", "reads": 25 * COPIES},
        command="pytest tests/reliability/test_db_corruption.py",
    )
    if done.returncode != 0:
        result.held = {"crashes or other exceptions": 1}
        result.problems.append(f"exit {done.returncode}: {done.stderr[-3000:]}")
    else:
        outcomes = json.loads(done.stdout.strip().splitlines()[-1])
        writes = outcomes.pop("writes kept")
        result.held = {
            "crashes or other exceptions": 0,
            "writes kept in the file": f"{writes}/{COPIES}",
            "reads": ", ".join(f"{kind} {count}" for kind, count in sorted(outcomes.items())),
        }
    print(result.as_row())
    save_if_asked(result)
    assert done.returncode == 0, (done.returncode, done.stderr[-4000:])
    assert writes == COPIES
    assert outcomes.get("corrupt", 0) > 0  # the damage was seen, not missed


def sqlite_checkpoint(db: Path) -> None:
    """Move the WAL into the file, so that the damage hits every committed page."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
