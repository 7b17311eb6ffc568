"""The raw limit: stdlib sqlite3 bulk-loads the generator's NDJSON in one transaction.

A plain table plus an FTS5 external-content table, nothing else (no secondary
indexes, no parsing of Markdown, no ids to derive). `--fts same` gives the FTS5
table our schema's options, as the last migration that creates our FTS5 table sets
them (since sql/0008: unicode61 remove_diacritics 2, no prefix index); `--fts plain`
gives the defaults, as `sqlite-utils enable-fts` does (the bare load of issue 15), and
the result is what Datasette serves in the benchmark.

    python -m benchmarks.raw_load entries.ndjson out.db --fts same

Prints {"entries": N, "seconds": S} (S from the first byte read to COMMIT).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from indexer.migrate import migration_files

#: The table Datasette serves; its FTS table is TABLE_fts.
TABLE = "entries"
COLUMNS = (
    "dialog_file",
    "format",
    "line",
    "speaker",
    "target",
    "mood_rgb",
    "message",
    "timestamp_utc",
    "title",
)
FTS_COLUMNS = ("title", "message", "speaker", "target")
#: The options of our FTS5 table that change how it is built.
OUR_OPTIONS = re.compile(r"^\s*((?:tokenize|prefix)\s*=\s*'[^']*')", re.MULTILINE)
OUR_FTS_TABLE = "CREATE VIRTUAL TABLE lupo_dialog_entries_fts"


def our_fts_options() -> str:
    """`, tokenize = '...'` (and `, prefix = '...'`) as our latest FTS5 table has them."""
    found = ""
    for _, sql in migration_files():
        if OUR_FTS_TABLE in sql:
            table = sql[sql.rindex(OUR_FTS_TABLE) :].split(");", 1)[0]
            found = "".join(f", {option}" for option in OUR_OPTIONS.findall(table))
    return found


FTS_OPTIONS = {"same": our_fts_options(), "plain": ""}

CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    id INTEGER PRIMARY KEY, dialog_file TEXT, format TEXT, line INTEGER, speaker TEXT,
    target TEXT, mood_rgb TEXT, message TEXT, timestamp_utc TEXT, title TEXT
)
"""
INSERT_ROW = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
FILL_FTS = (
    f"INSERT INTO {TABLE}_fts (rowid, {', '.join(FTS_COLUMNS)}) "
    f"SELECT id, {', '.join(FTS_COLUMNS)} FROM {TABLE}"
)


def create_fts(fts: str) -> str:
    """The CREATE VIRTUAL TABLE statement for the `same` or `plain` variant."""
    return (
        f"CREATE VIRTUAL TABLE {TABLE}_fts USING fts5 ({', '.join(FTS_COLUMNS)}, "
        f"content=[{TABLE}], content_rowid=id{FTS_OPTIONS[fts]})"
    )


def rows(ndjson: Path) -> Iterator[tuple[object, ...]]:
    """The NDJSON entries as row tuples in COLUMNS order."""
    with open(ndjson, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            yield tuple(record.get(column) for column in COLUMNS)


def bulk_load(ndjson: Path, db_path: Path, fts: str) -> int:
    """Load every entry and fill the FTS5 table in one transaction; entries loaded."""
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")  # as our loader does
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN")
        conn.execute(CREATE_TABLE)
        conn.execute(create_fts(fts))
        conn.executemany(INSERT_ROW, rows(ndjson))
        conn.execute(FILL_FTS)
        count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return int(count)


def main(argv: list[str] | None = None) -> int:
    """Command line: load NDJSON into DB and print the count and seconds as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ndjson", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--fts", choices=sorted(FTS_OPTIONS), default="same")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    count = bulk_load(args.ndjson, args.db, args.fts)
    json.dump({"entries": count, "seconds": time.perf_counter() - started}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
