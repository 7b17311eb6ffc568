"""Issue 13's search model in every engine: entries first, copies folded, one name per
person, exclusions.

Each question is asked through a search stack of each engine (top-k, FTS5, files) over
the same tree, and the three answers must agree, besides being right.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine_stacks import ask, make_stacks
from support.fixtures_store import bold, write_dialog
from werkzeug.datastructures import MultiDict

from indexer.reindex import reindex
from searchsvc.exceptions import InvalidParameter
from searchsvc.query.parameters import search_query
from searchsvc.repository import SearchPage
from searchsvc.stack import SearchStack


def quality_tree(root: Path) -> Path:
    """Names spelled several ways, a field naming three people, sections beside entries."""
    write_dialog(
        root,
        "crew/harbor_dialog.md",
        bold("CAPTAIN_WOLFIE", "harbor lantern lit", day=10),
        bold("Captain Wolfie", "harbor beacon checked", day=11),
        bold("CAPTAIN WOLFIE / WOLFIE / LILITH", "joint harbor statement", day=12),
        bold("cursor", "lowercase harbor note", day=13, target="@fleet"),
        bold("CURSOR", "uppercase harbor note", day=14, target="@FLEET"),
        bold("KIRO", "kiro harbor reply", day=15, target="FLEET"),
        bold("Kiro", "kiro harbor answer", day=16, target="@Fleet @LILITH"),
        bold("STONED_WOLFIE", "stoned harbor song", day=17),
        "## Harbor notes\n\nThe harbor section text about harbor tides and the lantern.\n\n",
    )
    guide = write_dialog(
        root,
        "docs/harbor_guide.md",
        "## Harbor guide\n\nA guide section: harbor lantern rules and harbor etiquette.\n\n",
        bold("STONED WOLFIE", "harbor guide remark", day=18),
    )
    # The same file again deeper down, as Lupopedia holds docs/ and lupopedia/docs/.
    (root / "lupopedia/docs").mkdir(parents=True)
    (root / "lupopedia/docs/harbor_guide.md").write_bytes(guide.read_bytes())
    return root


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SearchStack]]:
    tmp = tmp_path_factory.mktemp("quality")
    made = make_stacks(quality_tree(tmp / "dialogs"), tmp)
    yield made
    for stack in made.values():
        stack.close()


def speakers(page: SearchPage) -> set[str]:
    return {hit.entry.speaker for hit in page.hits}


def test_the_default_scope_is_dialog_entries_and_counts_both_scopes(stacks) -> None:
    page = ask(stacks, q="harbor", per_page="50")
    assert page.hits and all(hit.entry.format != "section" for hit in page.hits)
    assert page.scopes == {"entries": 9, "text": 4}
    text = ask(stacks, q="harbor", scope="text")
    assert {hit.entry.format for hit in text.hits} == {"section"} and text.total == 4
    everything = ask(stacks, q="harbor", scope="all", per_page="50")
    assert everything.total == 13 and everything.scopes is None


def test_a_format_filter_says_the_scope_itself(stacks) -> None:
    page = ask(stacks, q="harbor", format="section", scope="entries")
    assert page.total == 4 and page.scopes is None


def test_a_bad_scope_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameter, match="scope='everything' is not one of"):
        search_query(MultiDict({"scope": "everything"}), max_query_chars=100)


@pytest.mark.parametrize(
    "spelling", ["cursor", "CURSOR", "Cursor", " cursor "], ids=lambda s: repr(s)
)
def test_any_spelling_of_a_speaker_finds_every_spelling(stacks, spelling: str) -> None:
    assert speakers(ask(stacks, speaker=spelling)) == {"cursor", "CURSOR"}


def test_a_field_naming_several_people_belongs_to_each(stacks) -> None:
    wolfie = ask(stacks, speaker="Captain Wolfie")
    assert speakers(wolfie) == {
        "CAPTAIN_WOLFIE",
        "Captain Wolfie",
        "CAPTAIN WOLFIE / WOLFIE / LILITH",
    }
    assert speakers(ask(stacks, speaker="lilith")) == {"CAPTAIN WOLFIE / WOLFIE / LILITH"}
    assert speakers(ask(stacks, speaker="stoned-wolfie")) == {"STONED_WOLFIE", "STONED WOLFIE"}
    # q's operator is the same filter.
    assert speakers(ask(stacks, q='speaker:"captain_wolfie"')) == speakers(wolfie)


def test_targets_match_in_any_spelling(stacks) -> None:
    page = ask(stacks, target="fleet")
    assert {hit.entry.message for hit in page.hits} == {
        "lowercase harbor note",
        "uppercase harbor note",
        "kiro harbor reply",
        "kiro harbor answer",
    }


def test_the_speaker_facet_shows_one_value_per_person(stacks) -> None:
    facet = {c.value: c for c in ask(stacks, facets="speaker,target").facets["speaker"]}
    keys = [value.casefold().replace("_", " ") for value in facet]
    assert len(keys) == len(set(keys)), facet  # no person twice
    wolfie = next(
        c for c in facet.values() if c.value.casefold().replace("_", " ") == "captain wolfie"
    )
    assert wolfie.count == 3
    assert set(wolfie.variants) == {"CAPTAIN_WOLFIE", "Captain Wolfie", "CAPTAIN WOLFIE"}
    assert facet["LILITH"].count == 1 and facet["WOLFIE"].count == 1
    cursor = next(c for c in facet.values() if c.value.casefold() == "cursor")
    assert cursor.count == 2 and set(cursor.variants) == {"cursor", "CURSOR"}


def test_minus_a_filter_excludes_its_values(stacks) -> None:
    every = ask(stacks, q="harbor", per_page="50")
    without = ask(stacks, q="harbor -speaker:cursor -speaker:KIRO", per_page="50")
    assert without.total == every.total - 4
    assert not speakers(without) & {"cursor", "CURSOR", "KIRO", "Kiro"}
    only = ask(stacks, q="-target:fleet", per_page="50")
    assert only.total == every.total - 4  # entries without any target stay


def test_excluding_a_date_is_a_clear_error() -> None:
    with pytest.raises(InvalidParameter, match="cannot be excluded"):
        search_query(MultiDict({"q": "harbor -since:2026-01-12"}), max_query_chars=100)


def test_filters_take_several_values_comma_separated(stacks) -> None:
    both = ask(stacks, speaker="cursor,lilith", per_page="50")
    assert speakers(both) == {"cursor", "CURSOR", "CAPTAIN WOLFIE / WOLFIE / LILITH"}
    repeated = ask(stacks, speaker=["cursor", "lilith"], per_page="50")
    assert {h.entry_id for h in repeated.hits} == {h.entry_id for h in both.hits}
    formats = ask(stacks, q="harbor", format="bold,section", per_page="50")
    assert formats.total == 13


COPY = "lupopedia/docs/harbor_guide.md"


def test_copies_fold_into_the_original_with_their_places(stacks) -> None:
    page = ask(stacks, q="harbor", per_page="50")
    assert page.folded == 1 and page.total == 9
    (guide,) = [hit for hit in page.hits if hit.entry.message == "harbor guide remark"]
    assert guide.entry.dialog_file == "docs/harbor_guide.md"  # the shallower one
    assert guide.copies == 1 and [place[0] for place in guide.also_in] == [COPY]
    others = [hit for hit in page.hits if hit is not guide]
    assert all(hit.also_in == () and hit.copies == 0 for hit in others)
    text = ask(stacks, q="harbor", scope="text", per_page="50")
    assert text.folded == 2 and text.total == 4  # the file's title and its section


def test_collapse_off_shows_every_copy(stacks) -> None:
    page = ask(stacks, q="harbor", collapse="off", per_page="50")
    assert page.folded is None and page.total == 10
    assert {hit.entry.dialog_file for hit in page.hits if "guide" in hit.entry.message} == {
        "docs/harbor_guide.md",
        COPY,
    }
    assert all(hit.also_in is None for hit in page.hits)


def test_a_search_in_some_files_shows_their_copies(stacks) -> None:
    page = ask(stacks, q="harbor", file="lupopedia/")
    assert [hit.entry.dialog_file for hit in page.hits] == [COPY]
    assert page.folded is None


def test_facets_count_what_is_shown(stacks) -> None:
    page = ask(stacks, q="harbor", facets="speaker,file")
    files = {item.value: item.count for item in page.facets["file"]}
    assert COPY not in files and files["docs/harbor_guide.md"] == 1


def test_the_copy_becomes_the_original_when_the_original_goes(tmp_path: Path) -> None:
    root = quality_tree(tmp_path / "dialogs")
    db = tmp_path / "dialogs.db"
    made = make_stacks(root, tmp_path)
    files = made["files"].files
    try:
        (root / "docs/harbor_guide.md").unlink()
        reindex(root, db)
        files.reload_file("docs/harbor_guide.md")
        made["topk"].topk.sync_now()
        page = ask(made, q='"harbor guide remark"')
        assert [hit.entry.dialog_file for hit in page.hits] == [COPY]
        assert page.folded == 0 and page.hits[0].also_in is None
        # ... and the original again when it is back.
        (root / "docs/harbor_guide.md").write_bytes((root / COPY).read_bytes())
        reindex(root, db)
        files.reload_file("docs/harbor_guide.md")
        made["topk"].topk.sync_now()
        page = ask(made, q='"harbor guide remark"')
        assert [hit.entry.dialog_file for hit in page.hits] == ["docs/harbor_guide.md"]
        assert page.folded == 1 and [place[0] for place in page.hits[0].also_in] == [COPY]
    finally:
        for stack in made.values():
            stack.close()


def test_moods_in_lupopedia_notation_are_filed_under_their_colour(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    write_dialog(
        root,
        "moods.md",
        '**Speaker:** KIRO\n**Mood:** `{00}|FF|[[00]]`\n**Message:** "meadow green"\n\n---\n\n',
        '**Speaker:** ROSE\n**Mood:** 00FF00\n**Message:** "meadow hex"\n\n---\n\n',
        '**Speaker:** LILITH\n**Mood:** 🐺\n**Message:** "meadow wolf"\n\n---\n\n',
    )
    made = make_stacks(root, tmp_path)
    try:
        page = ask(made, mood="00FF00", facets="mood")
        assert {hit.entry.message for hit in page.hits} == {"meadow green", "meadow hex"}
        assert {hit.entry.mood_rgb for hit in page.hits} == {"00FF00"}  # as indexed
        notation = next(hit for hit in page.hits if hit.entry.speaker == "KIRO")
        assert notation.entry.mood_raw == "`{00}|FF|[[00]]`"  # what the file says
        assert ask(made, mood="green").total == 2
        assert [(c.value, c.count) for c in page.facets["mood"]] == [("00FF00", 2)]
        wolf = ask(made, q="wolf")
        assert wolf.hits[0].entry.mood_rgb is None and wolf.hits[0].entry.mood_raw == "🐺"
    finally:
        for stack in made.values():
            stack.close()


def test_emoji_and_single_cjk_characters_are_found(tmp_path: Path) -> None:
    root = tmp_path / "dialogs"
    write_dialog(
        root,
        "glyphs.md",
        bold("KIRO", "the pack 🐺 howls at night", day=10),
        bold("ROSE", "東京 station at night", day=11),
        bold("CURSOR", "京都 temples at night", day=12),
        bold("LILITH", "a quiet night without pictures", day=13),
    )
    made = make_stacks(root, tmp_path)
    try:

        def messages(q: str) -> set[str]:
            return {hit.entry.message for hit in ask(made, q=q, per_page="50").hits}

        assert messages("🐺") == {"the pack 🐺 howls at night"}
        assert messages("🐺 night ") == {"the pack 🐺 howls at night"}
        assert messages("東") == {"東京 station at night"}
        assert messages("京") == {"東京 station at night", "京都 temples at night"}
        assert messages("東京") == {"東京 station at night"}
        assert messages("-🐺 night ") == {
            "東京 station at night",
            "京都 temples at night",
            "a quiet night without pictures",
        }
    finally:
        for stack in made.values():
            stack.close()


def test_a_q_with_nothing_to_search_for_says_so(tmp_path: Path) -> None:
    from searchsvc.web.app import create_app

    root = quality_tree(tmp_path / "dialogs")
    reindex(root, tmp_path / "x.db")
    client = create_app({"ROOT": str(root), "DB": str(tmp_path / "x.db")}).test_client()
    answer = client.get("/api/dialog/search", query_string={"q": "!!! ???"}).get_json()
    assert "no word to search for" in answer["notice"]
    assert answer["total"] == 9  # every dialog entry, as without q
    answer = client.get("/api/dialog/search", query_string={"q": "speaker:kiro"}).get_json()
    assert answer["notice"] is None and answer["total"] == 2
    answer = client.get("/api/dialog/search", query_string={"q": "harbor"}).get_json()
    assert answer["notice"] is None


def test_stats_speak_of_persons_in_every_store(stacks) -> None:
    from searchsvc.query.filters import Filters
    from searchsvc.repository import SearchQuery

    answers = {name: stacks[name].stats() for name in ("fts5", "files")}
    assert answers["fts5"]["speakers"] == answers["files"]["speakers"]
    assert answers["fts5"]["pairs"] == answers["files"]["pairs"]
    stats = answers["fts5"]
    keys = [s["value"].casefold().replace("_", " ") for s in stats["speakers"]]
    assert len(keys) == len(set(keys))  # one row per person
    wolfie = next(
        s for s in stats["speakers"] if s["value"].casefold().replace("_", " ") == "captain wolfie"
    )
    assert wolfie["count"] == 3 and len(wolfie["variants"]) == 3
    fleet = [p for p in stats["pairs"] if p["target"].lstrip("@").casefold() == "fleet"]
    assert len({p["target"] for p in fleet}) == 1  # @FLEET, @fleet, FLEET, @Fleet: one target
    assert sum(p["count"] for p in fleet) == 4
    narrowed = stacks["fts5"].stats(SearchQuery(filters=Filters(speakers=("cursor",))))
    assert narrowed["totals"]["dialog_entries"] == 2  # CURSOR and cursor
