from dataclasses import replace

import pytest
from support.fixtures_api import bold
from support.write_work import counted_work

from dialogfile.identity import (
    ID_BITS,
    appended_id,
    entry_key,
    explicit_id,
    id_for,
    keyed_entries,
    remembered_keys,
)
from dialogfile.model import Entry
from dialogfile.parse import parse_file


def make(message: str, line: int = 1, **metadata: str) -> Entry:
    return Entry("a.md", "bold", line, line + 2, speaker="KIRO", message=message, metadata=metadata)


def test_key_ignores_position_but_not_content():
    assert entry_key(make("hi", line=1)) == entry_key(make("hi", line=40))
    assert entry_key(make("hi")) != entry_key(make("ho"))


def test_ids_survive_an_entry_inserted_above():
    before = keyed_entries([make("one", 1), make("two", 5)])
    after = keyed_entries([make("zero", 1), make("one", 5), make("two", 9)])
    assert [i for i, _, _ in before] == [i for i, _, _ in after[1:]]


def test_identical_entries_get_distinct_ids_in_order():
    ids = [i for i, _, _ in keyed_entries([make("same", 1), make("same", 5)])]
    assert len(set(ids)) == 2
    assert ids == [i for i, _, _ in keyed_entries([make("same", 10), make("same", 50)])]


def test_ids_fit_javascript_numbers_and_depend_on_the_file():
    key = entry_key(make("x"))
    assert 0 < id_for("a.md", key, 0) < 2**ID_BITS
    assert id_for("a.md", key, 0) != id_for("b.md", key, 0)


def test_explicit_id_wins_over_content():
    edited = make("edited text", dialog_entry_id="4242")
    assert keyed_entries([edited])[0][0] == 4242


def test_duplicate_explicit_id_falls_back_to_computed():
    first, second = keyed_entries(
        [make("a", 1, dialog_entry_id="7"), make("b", 5, dialog_entry_id="7")]
    )
    assert first[0] == 7
    assert second[0] != 7


def test_explicit_id_rejects_junk():
    for value in ["", "abc", "-3", "0", "1.5", "９", str(2**ID_BITS), "12345678901234567"]:
        assert explicit_id(make("x", dialog_entry_id=value)) is None, value
    assert explicit_id(make("x", dialog_entry_id='"12"')) == 12


NOTATION_FILE = (
    "---\ndialog:\n  speaker: LILITH\n  target: @everyone\n"
    '  mood_RGB: "`{00}|FF|[[00]]`"\n  message: "Header in the notation."\n---\n\n'
    "**Speaker:** KIRO\n**Mood:** `{80}|20|[[00]]` (Command/Tired/Final)\n"
    '**Message:** "Bold in the notation."\n\n---\n\n'
    '**Speaker:** CURSOR\n**Mood:** `{ff}|a5|[[00]]`\n**Message:** "Lower case."\n'
)


def test_moods_in_lupopedia_notation_keep_their_ids():
    keyed = keyed_entries(parse_file(NOTATION_FILE, "dialogs/notation.md").entries)
    # The parser reads the notation as no colour (the index decodes it): the ids it gave.
    assert [(i, e.mood_rgb) for i, _, e in keyed] == [
        (7880475962283379, None),
        (8987213127460399, None),
        (3853748300951527, None),
    ]
    # A 6-hex mood still keys by its colour.
    plain = make("x")
    assert entry_key(replace(plain, mood_rgb="00FF00", mood_raw="00FF00")) != entry_key(
        replace(plain, mood_rgb=None, mood_raw="00FF00")
    )


def test_remembered_keys_give_the_same_ids_and_spare_the_repeated_keys() -> None:
    text = "".join(
        bold(speaker, message, day="2026-01-12", target="@everyone", mood="FF0000", title="t")
        for speaker, message in (("KIRO", "one"), ("LILITH", "two"), ("KIRO", "three"))
    )
    entries = parse_file(text, "memo.md").entries
    memo: dict = {}
    with remembered_keys(memo):
        first = keyed_entries(entries)
        again = keyed_entries(entries)
    assert first == again == keyed_entries(entries)  # the same (id, key, entry) as computed
    assert len(memo) == len(set(entries)) >= 3
    assert set(memo.values()) == {key for _, key, _ in first}


def test_remembered_keys_follow_an_entry_that_moved() -> None:
    """Keys are remembered by content: an edit above an entry moves it, not its key."""
    memo: dict = {}
    moved = [replace(make("one", 1), line=9, end_line=11), replace(make("two", 5), line=13)]
    with remembered_keys(memo):
        first = keyed_entries([make("one", 1), make("two", 5)])
        calls, _ = counted_work(lambda: keyed_entries(moved))
    assert calls["entries keyed"] == 0
    assert [i for i, _, _ in keyed_entries(moved)] == [i for i, _, _ in first]


def test_a_parse_is_keyed_once_while_files_are_remembered() -> None:
    entries = tuple(make(f"m{n}", n * 4 + 1) for n in range(50))
    with remembered_keys({}, {}):
        first = keyed_entries(entries)
        calls, _ = counted_work(lambda: keyed_entries(entries))
        assert keyed_entries(entries) == first == keyed_entries(list(entries))
    assert calls["ids computed"] == calls["entries keyed"] == 0


@pytest.mark.parametrize(
    "messages",
    [["a", "b"], ["a", "a", "a"], [], ["x"]],
)
def test_appended_id_is_the_id_a_whole_file_gives(messages: list[str]) -> None:
    before = [make(m, n * 4 + 1) for n, m in enumerate(messages)]
    for new in (make("a", 99), make("x", 99), make("z", 99, dialog_entry_id="7")):
        expected = keyed_entries([*before, new])[-1][0]
        assert appended_id(keyed_entries(before), new) == expected


def test_appended_id_moves_off_an_id_the_file_uses() -> None:
    explicit = make("first", 1, dialog_entry_id="7")
    before = keyed_entries([explicit])
    taken = make("second", 5, dialog_entry_id="7")
    assert appended_id(before, taken) == keyed_entries([explicit, taken])[-1][0] != 7
