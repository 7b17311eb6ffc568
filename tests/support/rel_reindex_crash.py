"""Reindex crash scenario: kill -9 `dialogsearch reindex` at random moments of a big run.

The database starts as the index of an older corpus (every other file, one of
them edited, plus a file the new corpus lacks), so the run adds, updates and
deletes rows. Each round copies that "before" database, starts the reindex of
the full generated corpus, and kills it at a random moment of the run's
measured length. The database must then be exactly "before" or exactly
"after" (a checksum of every (id, entry_key) and every (file, content hash)),
never a mix. At the end the next reindex completes and `dialogsearch verify`
passes.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support.rel_checks import run_verify
from support.rel_result import CheckResult
from support.rel_server import DIALOGSEARCH, REPO_ROOT

GEN_CORPUS = REPO_ROOT.parent / "shared" / "tools" / "gen_corpus.py"


def generate(out: Path, entries: int, seed: int = 1) -> Path:
    """gen_corpus.py -n `entries` into `out`."""
    subprocess.run(
        [
            sys.executable,
            str(GEN_CORPUS),
            "-n",
            str(entries),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


def fingerprint(db: Path) -> str:
    """sha256 of every (id, entry_key) and every (file, content hash), in order."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for row in conn.execute(
            "SELECT dialog_entry_id, entry_key FROM lupo_dialog_entries ORDER BY 1"
        ):
            digest.update(repr(row).encode())
        for row in conn.execute("SELECT file_path, content_hash FROM lupo_dialog_files ORDER BY 1"):
            digest.update(repr(row).encode())
        count = conn.execute("SELECT count(*) FROM lupo_dialog_entries").fetchone()[0]
        return f"{count}:{digest.hexdigest()[:16]}"
    finally:
        conn.close()


def _reindex(root: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # --no-topk: this checks the SQLite transaction; the top-k index is derived data
        # whose kill -9 safety tests/test_topk_sync.py checks.
        [DIALOGSEARCH, "reindex", "--root", str(root), "--db", str(db), "--json", "--no-topk"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _older_corpus(corpus: Path, old: Path) -> Path:
    """Every other file of `corpus`, one edited, plus a file the corpus lacks."""
    paths = sorted(p.relative_to(corpus) for p in corpus.rglob("*.md"))
    for rel in paths[::2]:
        (old / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / rel, old / rel)
    edited = old / paths[0]
    edited.write_text(edited.read_text(encoding="utf-8").replace("**Speaker:**", "**Speaker:** X"))
    (old / "gone_dialog.md").write_text(
        '---\nDIALOG:\n  speaker: "KIRO"\n  message: "an entry that goes away"\n---\n',
        encoding="utf-8",
    )
    return old


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


def reindex_crash_scenario(
    work: Path,
    *,
    entries: int,
    kills: int,
    seed: int = 5,
    budget_seconds: float | None = 120.0,
    command: str = "",
    corpus: Path | None = None,
) -> CheckResult:
    """See the module docstring; `corpus` (generated with `entries`) spares generating one.

    `budget_seconds` None: no time budget (the attempts are still at most 4 per kill), for
    a pass/fail check whose verdict must not depend on the machine's speed.
    """
    rng = random.Random(seed)
    result = CheckResult("Reindex crash (kill -9 mid-run)", command=command)
    if corpus is None:
        corpus = generate(work / "corpus", entries, seed)
    before_db = work / "before.db"
    subprocess.run(
        [
            DIALOGSEARCH,
            "reindex",
            "--root",
            str(_older_corpus(corpus, work / "old")),
            "--db",
            str(before_db),
            "--no-topk",
        ],
        check=True,
        capture_output=True,
    )
    sqlite3.connect(before_db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    before = fingerprint(before_db)
    db = work / "dialogs.db"
    _copy_db(before_db, db)
    started = time.monotonic()
    run = _reindex(corpus, db)
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err.decode(errors="replace")
    full_seconds = reference_seconds = time.monotonic() - started
    after = fingerprint(db)
    assert after != before
    states = {"before": 0, "after": 0}
    done = 0
    budget_end = time.monotonic() + budget_seconds if budget_seconds is not None else None
    attempts = 0
    while done < kills and attempts < kills * 4:
        attempts += 1
        if budget_end is not None and time.monotonic() > budget_end:
            result.notes.append(f"time budget spent after {done} kills")
            break
        _copy_db(before_db, db)
        # Half the kills anywhere, half near the end (the commit and the checkpoint).
        low = 0.05 if done % 2 == 0 else full_seconds * 0.75
        moment = rng.uniform(low, full_seconds * 0.98)
        proc = _reindex(corpus, db)
        launched = time.monotonic()
        try:
            proc.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
        if proc.returncode != -signal.SIGKILL:
            # It finished first (runs get faster once the files are cached): not a
            # kill; aim the next moments within the run time just seen.
            full_seconds = min(full_seconds, time.monotonic() - launched)
            continue
        done += 1
        state = fingerprint(db)
        if state == before:
            states["before"] += 1
        elif state == after:
            states["after"] += 1
        else:
            result.problems.append(f"kill at {moment:.2f} s: a mix of old and new ({state})")
    # The next run completes the work, and the result verifies.
    finish = _reindex(corpus, db)
    _, err = finish.communicate(timeout=600)
    if finish.returncode != 0:
        result.problems.append(f"the reindex after the kills failed: {err.decode()[-500:]}")
    if fingerprint(db) != after:
        result.problems.append("the reindex after the kills did not reach the full state")
    verified, output = run_verify(corpus, db)
    if not verified:
        result.problems.append(f"verify after the next reindex failed: {output}")
    rows = int(after.split(":")[0])
    result.did = {
        "corpus entries": entries,
        "rows": rows,
        "kills mid-run": done,
        "full run s": round(reference_seconds, 1),
    }
    result.held = {
        "left as before": states["before"],
        "left as after": states["after"],
        "mixed": len(result.problems),
        "verify after next reindex": "passed" if verified else "FAILED",
    }
    return result
