"""The top-k engine skips the copies' work when a search's words are in no copy
(searchsvc/engines/topk_copies.py): the same answers as FTS5 and the file index, with the
shortcut and without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine_stacks import ask, make_stacks
from support.fixtures_store import write_dialog

from searchsvc.engines import topk_copies
from searchsvc.engines.topk_copies import CopyWords, without_copy_exclusion
from searchsvc.query.filters import Filters
from searchsvc.query.fts_query import AllOf, AnyOf, MatchQuery, Phrase, Without
from searchsvc.web.app import create_app


def entry(speaker: str, message: str, day: int) -> str:
    return (
        f"## 2026-02-{day:02d} — {speaker}\n\n**Speaker:** {speaker}\n**Target:** @fleet\n"
        f'**Message:** "{message}"\n\n---\n\n'
    )


COPIED = entry("KIRO", "Harbour lanterns relit before the storm", 3)


def tree(root: Path) -> Path:
    write_dialog(root, "log.md", COPIED, entry("CURSOR", "Lanterns stay dark in the archive", 4))
    write_dialog(root, "backup/log.md", COPIED)  # the copy
    write_dialog(root, "other.md", entry("WOLFIE", "Storm drills for the night watch", 5))
    return root


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("copywords")
    made = make_stacks(tree(tmp / "dialogs"), tmp)
    yield made
    for stack in made.values():
        stack.close()


def phrase(*tokens: str, prefix: bool = False) -> Phrase:
    return Phrase(" ".join(tokens), tokens, prefix=prefix)


def test_a_search_may_match_a_copy_only_with_every_word_it_needs() -> None:
    words = CopyWords(("harbour", "lanterns", "relit", "storm"))
    assert words.may_match(MatchQuery(phrase("harbour")))
    assert words.may_match(MatchQuery(phrase("harbour", "lan", prefix=True)))
    assert not words.may_match(MatchQuery(phrase("harbour", "dark")))
    assert not words.may_match(MatchQuery(phrase("lamp", prefix=True)))
    assert not words.may_match(MatchQuery(AllOf((phrase("storm"), phrase("drills")))))
    assert words.may_match(MatchQuery(AnyOf((phrase("storm"), phrase("drills")))))
    assert words.may_match(MatchQuery(Without(phrase("storm"), phrase("harbour"))))
    assert words.may_match(None)  # no words: every record, copies too
    assert words.may_match(MatchQuery(None, exclude=phrase("storm")))
    assert CopyWords(None).may_match(MatchQuery(phrase("lamp")))  # too many copies to know
    assert not CopyWords(()).may_match(MatchQuery(phrase("storm")))  # no copy at all


def test_only_the_exclusion_of_copies_is_dropped() -> None:
    folded = Filters(excluded={"copy": ("copy",)})
    assert without_copy_exclusion(folded) == Filters()
    speaker_too = Filters({"speaker": ("kiro",)}, excluded={"copy": ("copy",)})
    assert without_copy_exclusion(speaker_too) == Filters({"speaker": ("kiro",)})
    asked = Filters({"copy": ("copy",)})
    assert without_copy_exclusion(asked) == asked


@pytest.mark.parametrize("limit", [topk_copies.COPY_WORDS_LIMIT, -1])
@pytest.mark.parametrize(
    ("q", "total", "folded"),
    [
        ("lanterns", 2, 1),  # in the copy: the copy is folded under its original
        ("dark", 1, 0),  # in no copy: nothing to fold, the same page
        ("drill*", 1, 0),
        ("storm -harbour", 1, 0),
        ("storm", 2, 1),
    ],
)
def test_every_engine_agrees_with_the_shortcut_and_without_it(
    stacks, monkeypatch: pytest.MonkeyPatch, limit: int, q: str, total: int, folded: int
) -> None:
    # limit -1: every index holds "too many" copies, so the top-k engine counts them all.
    monkeypatch.setattr(topk_copies, "COPY_WORDS_LIMIT", limit)
    stacks["topk"].topk._view.copies = None
    page = ask(stacks, q=q, per_page="50")
    assert (page.total, page.folded) == (total, folded)
    words = stacks["topk"].topk._view.copies.words
    assert (words is None) == (limit < 0)


def test_a_search_of_exclusions_alone_counts_each_scope_once(tmp_path: Path) -> None:
    root = tree(tmp_path / "dialogs")
    (root / "notes.md").write_text("# Notes\n\nPlain prose about the harbour.\n", encoding="utf-8")
    made = make_stacks(root, tmp_path)
    try:
        page = ask(made, q="-lanterns", per_page="50")
        everything = ask(made, q="-zzzz", per_page="50")
        assert page.scopes is not None and everything.scopes is not None
        # Every record but the two lantern entries (and the copy, folded): each scope
        # counted once, whatever side the exclusion's words live on.
        assert page.scopes["entries"] == everything.scopes["entries"] - 2
        assert page.scopes["text"] == everything.scopes["text"]
        assert page.total == page.scopes["entries"]
        assert ask(made, q="-lanterns", scope="text").total == everything.scopes["text"]
    finally:
        for stack in made.values():
            stack.close()


def test_words_only_a_copy_holds_find_it_unfolded(tmp_path: Path) -> None:
    # A backup whose text was garbled (UTF-8 read as cp1252) is a copy of its original
    # (copy keys repair mojibake), yet only it holds the garbled words: a search for them
    # shows the copy instead of nothing, in every engine.
    original = entry("KIRO", "Café lanterns relit before the storm", 3)
    garbled = original.replace("Café", "Café".encode().decode("cp1252"))
    assert garbled != original
    root = tmp_path / "dialogs"
    write_dialog(root, "log.md", original)
    write_dialog(root, "backup/log.md", garbled)
    made = make_stacks(root, tmp_path)
    try:
        folded = ask(made, q="lanterns", per_page="50")
        assert (folded.total, folded.folded) == (1, 1)  # the copy folds as before
        assert [h.entry.dialog_file for h in folded.hits] == ["log.md"]
        found = ask(made, q="cafa", per_page="50")  # "CafÃ©" indexes as "cafa"
        assert found.total == 1 and found.folded is None
        assert [h.entry.dialog_file for h in found.hits] == ["backup/log.md"]
        assert ask(made, q="zzzz", per_page="50").total == 0
    finally:
        for stack in made.values():
            stack.close()
    # The JSON says the answer did not fold (and folds otherwise, as asked).
    client = create_app({"ROOT": str(root), "DB": str(tmp_path / "dialogs.db")}).test_client()
    answer = client.get("/api/dialog/search", query_string={"q": "cafa"}).get_json()
    assert (answer["total"], answer["collapse"], answer["folded"]) == (1, False, None)
    answer = client.get("/api/dialog/search", query_string={"q": "lanterns"}).get_json()
    assert (answer["total"], answer["collapse"], answer["folded"]) == (1, True, 1)
