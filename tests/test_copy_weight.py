"""A record held in more places ranks a little higher (dialogfile.copies.copy_weight): of
two near-copies that score alike, the one its copies keep comes first, in every engine;
a clearly better match still wins; the count follows every write (issue 13)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine_stacks import ENGINES, ask, make_stacks
from support.fixtures_store import write_dialog
from werkzeug.datastructures import MultiDict

from dialogfile.copies import COPY_WEIGHT_MOST_PLACES, copy_weight
from indexer.database import Database
from indexer.migrate import apply_migrations, migration_files
from indexer.reindex import reindex
from indexer.store_rows import ENTRY_COLUMNS
from indexer.verify import verify
from searchsvc.engines import topk_copies
from searchsvc.query.parameters import search_query
from searchsvc.stack import SearchStack


def entry(speaker: str, message: str, day: int) -> str:
    return (
        f"## 2026-02-{day:02d} — Harbour report\n\n**Speaker:** {speaker}\n**Target:** @fleet\n"
        f'**Message:** "{message}"\n\n---\n\n'
    )


MESSAGE = "Harbour lanterns relit before the storm reached the northern quay"
#: The entry a changelog and its mirror keep, and the same message edited elsewhere:
#: one person fewer in the speaker field, so a little shorter (bm25 ranks it first alone).
KEPT = entry("KIRO / CURSOR", MESSAGE, 3)
EDITED = entry("KIRO", MESSAGE, 3)
#: A word once in a long message (kept in two places), and in a short one (alone).
LONG = entry(
    "LILITH",
    "The beacon of the old harbour was counted twice over by the night watch before "
    "the storm, and then the ledger was closed for the winter season at last",
    10,
)
SHORT = entry("ROSE", "Beacon relit", 9)


def tree(root: Path) -> Path:
    write_dialog(root, "changelog.md", KEPT, SHORT, LONG)
    write_dialog(root, "docs/changelog.md", KEPT, LONG)  # the mirror: copies
    write_dialog(root, "edited.md", EDITED)
    return root


def ranked(stacks: dict[str, SearchStack], q: str) -> dict[str, list[tuple[str, str]]]:
    """Each engine's hits for `q`, in order: (speaker, file)."""
    query = search_query(MultiDict({"q": q, "per_page": "10"}), max_query_chars=1000)
    return {
        name: [(h.entry.speaker, h.entry.dialog_file) for h in stacks[name].search(query).hits]
        for name in ENGINES
    }


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[dict[str, SearchStack]]:
    made = make_stacks(tree(tmp_path / "dialogs"), tmp_path)
    yield made
    for stack in made.values():
        stack.close()


def test_the_weight_grows_with_each_doubling_of_the_places_up_to_its_most() -> None:
    assert copy_weight(1) == copy_weight(0) == 1.0
    assert copy_weight(2) == pytest.approx(1.1)
    assert copy_weight(4) == pytest.approx(1.2)
    weights = [copy_weight(n) for n in range(1, COPY_WEIGHT_MOST_PLACES + 1)]
    assert weights == sorted(set(weights))  # each place more weighs more
    assert copy_weight(COPY_WEIGHT_MOST_PLACES) == copy_weight(1000) == pytest.approx(1.3)


@pytest.mark.parametrize("limit", [topk_copies.COPY_WORDS_LIMIT, -1])
def test_the_near_copy_kept_in_more_places_ranks_first_in_every_engine(
    stacks, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    # limit -1: the top-k engine knows no copy's words, so it weighs every search (the
    # default knows them: it weighs only a search that may match a copy).
    monkeypatch.setattr(topk_copies, "COPY_WORDS_LIMIT", limit)
    stacks["topk"].topk._view.copies = None
    page = ask(stacks, q="lanterns storm northern", per_page="10")  # same hits everywhere
    assert page.total == 2 and page.folded == 1
    want = [("KIRO / CURSOR", "changelog.md"), ("KIRO", "edited.md")]
    assert ranked(stacks, "lanterns storm northern") == dict.fromkeys(ENGINES, want)
    (kept,) = [hit for hit in page.hits if hit.entry.speaker == "KIRO / CURSOR"]
    assert [place[0] for place in kept.also_in] == ["docs/changelog.md"]


def test_a_clearly_better_match_still_ranks_above_a_copied_one(stacks) -> None:
    assert ask(stacks, q="beacon", per_page="10").total == 2
    want = [("ROSE", "changelog.md"), ("LILITH", "changelog.md")]  # copied, but long
    assert ranked(stacks, "beacon") == dict.fromkeys(ENGINES, want)


def test_the_count_follows_writes_and_the_ranking_with_it(stacks, tmp_path: Path) -> None:
    db, root = tmp_path / "dialogs.db", tmp_path / "dialogs"
    counts = "SELECT dialog_file, copy_count FROM lupo_dialog_entries WHERE speaker = ?"
    with sqlite3.connect(db) as conn:
        found = sorted(conn.execute(counts, ("KIRO / CURSOR",)))
    assert found == [("changelog.md", 2), ("docs/changelog.md", 2)]
    (root / "docs" / "changelog.md").unlink()  # the mirror goes: the entry is alone again
    reindex(root, db)
    stacks["files"].files.reload_file("docs/changelog.md")  # type: ignore[union-attr]
    # The index catches up (a delta's scores have the delta's own statistics meanwhile).
    stacks["topk"].topk.sync_now()  # type: ignore[union-attr]
    with sqlite3.connect(db) as conn:
        assert sorted(conn.execute(counts, ("KIRO / CURSOR",))) == [("changelog.md", 1)]
    assert verify(root, db).ok
    want = [("KIRO", "edited.md"), ("KIRO / CURSOR", "changelog.md")]
    assert ranked(stacks, "lanterns storm northern") == dict.fromkeys(ENGINES, want)


def test_verify_names_a_wrong_count(stacks, tmp_path: Path) -> None:
    db = tmp_path / "dialogs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE lupo_dialog_entries SET copy_count = 1 WHERE speaker = 'LILITH'")
    messages = [str(difference) for difference in verify(tmp_path / "dialogs", db).differences]
    assert len(messages) == 2
    assert all("counts 1 places of its copies, 2 is right" in m for m in messages), messages


def test_the_migration_counts_the_copies_of_a_database_before_it(tmp_path: Path) -> None:
    """sql/0009 on a database of 0001-0008: every row of a key held twice counts 2."""
    root = tree(tmp_path / "dialogs")
    source = tmp_path / "source.db"
    reindex(root, source)
    old_sql = tmp_path / "old_sql"
    old_sql.mkdir()
    for name, text in migration_files():
        if name < "0009":
            (old_sql / f"{name}.sql").write_text(text)
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    apply_migrations(conn, old_sql)
    columns = ", ".join([*ENTRY_COLUMNS, "copy_state"])
    conn.execute("ATTACH DATABASE ? AS source", (str(source),))
    conn.execute("INSERT INTO lupo_dialog_files SELECT * FROM source.lupo_dialog_files")
    conn.execute(
        f"INSERT INTO lupo_dialog_entries ({columns}) "
        f"SELECT {columns} FROM source.lupo_dialog_entries"
    )
    conn.close()
    Database(db).open_writer().close()  # migrates
    counts = "SELECT dialog_entry_id, speaker, dialog_file, copy_count FROM lupo_dialog_entries"
    with sqlite3.connect(db) as migrated, sqlite3.connect(source) as written:
        assert sorted(migrated.execute(counts)) == sorted(written.execute(counts))
        found = {row[1:] for row in migrated.execute(counts)}
        assert ("LILITH", "docs/changelog.md", 2) in found


def test_equal_scores_rank_by_id_in_every_engine(tmp_path: Path) -> None:
    """Six entries alike but for who speaks (one name each: the same lengths), in six
    files: every engine orders them by id, whatever order an index build laid them out in."""
    root = tmp_path / "dialogs"
    for at, speaker in enumerate(("ROSE", "KIRO", "LILITH", "CURSOR", "JUNIE", "WOLFIE")):
        write_dialog(root, f"{'abcdef'[at]}.md", entry(speaker, "Quiet tide charts", 5))
    made = make_stacks(root, tmp_path)
    try:
        ids = sorted(hit.entry_id for hit in ask(made, q="tide charts", per_page="10").hits)
        query = search_query(MultiDict({"q": "tide charts"}), max_query_chars=1000)
        for name in ENGINES:
            assert [hit.entry_id for hit in made[name].search(query).hits] == ids, name
        files = [hit.entry.dialog_file for hit in made["fts5"].search(query).hits]
        assert files != sorted(files)  # the ids' order is not the files' (nor the build's)
    finally:
        for stack in made.values():
            stack.close()


def test_every_page_is_the_slice_of_the_whole_weighed_ranking(tmp_path: Path) -> None:
    # The top-k engine weighs only the entries with copies and merges them with the
    # search's own best (topk_page._weighed_best): each page must be the slice of the
    # ranking with every match weighed (one page that holds them all), folded or not.
    records = [
        entry(f"PILOT{n}", "Lantern " + " ".join(["watch"] * (n % 5)) + f" at the quay {n}", n)
        for n in range(1, 15)
    ]
    root = tmp_path / "dialogs"
    write_dialog(root, "log.md", *records)
    for place in range(3):  # records 2, 5, 8 in four places, 3 and 9 in two
        write_dialog(root, f"mirror{place}/log.md", records[1], records[4], records[7])
    write_dialog(root, "backup/log.md", records[2], records[8])
    made = make_stacks(root, tmp_path)
    topk = made["topk"]

    def ids(**parameters: str) -> list[int]:
        query = search_query(MultiDict({"q": "lantern watch", **parameters}), max_query_chars=1000)
        page = topk.search(query)
        assert page.engine == "topk"
        return [hit.entry_id for hit in page.hits]

    try:
        for collapse in ("on", "off"):
            whole = ids(per_page="100", collapse=collapse)
            assert len(whole) == (12 if collapse == "on" else 20)  # 5 and 10: no "watch"
            for page in range(1, 8):
                got = ids(per_page="4", page=str(page), collapse=collapse)
                assert got == whole[(page - 1) * 4 : page * 4], (collapse, page)
    finally:
        for stack in made.values():
            stack.close()
