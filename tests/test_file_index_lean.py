"""The lean file index: fast tokens equal fts_query.tokenize, stored entries decode exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.fixtures_api import wait_until

from dialogfile.glyphs import glyph_words
from dialogfile.identity import keyed_entries
from dialogfile.parse import parse_file
from dialogfile.parse_values import indexed_mood
from indexer.discover import find_dialog_files, read_source
from searchsvc.engines.file_index import (
    build_index,
    chunk_for_file,
    entry_tokens,
    index_tokens,
    span_in,
)
from searchsvc.engines.repo_files import FileRepository
from searchsvc.query.fts_query import parse_user_query, tokenize
from searchsvc.repository import SearchQuery

# Letters with and without case, digits, marks, separators, quotes, sigma, dotted I.
ALPHABET = st.sampled_from(
    list("aZ09 _\n\t\"'.:-") + ["é", "e\u0301", "Σ", "ς", "İ", "ß", "✅", "—", "😀", "Ж", "٣", "K"]
)
TEXT = st.lists(ALPHABET, max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_index_tokens_equal_tokenize(text: str) -> None:
    assert index_tokens(text) == tokenize(text)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, TEXT, TEXT)
def test_a_message_inside_its_body_gives_the_tokens_of_both_read_apart(
    before: str, message: str, after: str, title: str
) -> None:
    body = before + message + after
    span = span_in(body, message)
    text, emphasised = entry_tokens(body, message, title, span)
    # ... then the glyph words of its emoji and CJK characters (dialogfile.glyphs).
    assert text == tokenize(body) + glyph_words(f"{title}\n{message}\n{body}")
    assert emphasised == tokenize(title) + tokenize(message)


def _entries(root: Path) -> dict[int, object]:
    found = {}
    for rel in find_dialog_files(root):
        source = read_source(root, rel)
        for entry_id, _, entry in keyed_entries(parse_file(source.text, source.path).entries):
            # As the stores index it: a mood in Lupopedia's notation decoded.
            mood = indexed_mood(entry.mood_rgb, entry.mood_raw)
            found.setdefault(entry_id, replace(entry, mood_rgb=mood))
    return found


def test_every_entry_of_the_shared_corpus_decodes_as_parsed(shared_corpus: Path) -> None:
    root = shared_corpus / "dialogs"
    index = build_index(root)
    expected = _entries(root)
    assert index.alive == len(index.attrs) > 400
    decoded = {index.attrs[n].entry_id: index.entry(n) for n in range(len(index.attrs))}
    assert decoded == expected


def test_a_reloaded_file_replaces_its_entries_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        '## One\n\nThe "quoted harbour" note.\n\n## Two\n\nSecond harbour text.\n',
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("## Three\n\nThird entry, no match.\n", encoding="utf-8")
    index = build_index(tmp_path)
    before = index.alive
    index.remove_file("a.md")
    (tmp_path / "a.md").write_text("## One\n\nNo more.\n", encoding="utf-8")
    index.add_chunk(chunk_for_file(tmp_path, "a.md"))
    live = [index.entry(n) for n in range(len(index.attrs)) if index.attrs[n] is not None]
    assert index.alive == len(live) < before
    assert {entry.dialog_file for entry in live} == {"a.md", "b.md"}
    numbers, _ = index.postings["harbour"]
    assert all(index.attrs[n] is None for n in numbers)
    assert [index.attrs[n].dialog_file for n in index.postings["third"][0]] == ["b.md"]


def test_compaction_drops_removed_docs_and_keeps_every_live_one(tmp_path: Path) -> None:
    sections = "".join(f"## Part {i}\n\nHarbour note number w{i}.\n\n" for i in range(1200))
    (tmp_path / "big.md").write_text(sections, encoding="utf-8")
    (tmp_path / "small.md").write_text("## Kept\n\nA harbour that stays.\n", encoding="utf-8")
    index = build_index(tmp_path)
    kept_number = index.postings["stays"][0][0]
    kept, kept_id = index.entry(kept_number), index.attrs[kept_number].entry_id
    (tmp_path / "big.md").write_text("## Only\n\nOne harbour left.\n", encoding="utf-8")
    index.remove_file("big.md")
    index.add_chunk(chunk_for_file(tmp_path, "big.md"))
    index.compact_if_needed()
    assert len(index.attrs) == index.alive == 2
    assert all(attrs is not None for attrs in index.attrs)
    assert "w7" not in index.postings
    assert sorted(index.entry(n).dialog_file for n in index.postings["harbour"][0]) == [
        "big.md",
        "small.md",
    ]
    assert index.entry(index.by_id[kept_id]) == kept


def test_the_docs_of_a_copy_key_are_found_as_a_pass_over_them_would() -> None:
    import random
    from array import array

    from searchsvc.engines.file_copies import _positions

    rng = random.Random(7)
    key = 0x0102030405060708
    # Keys whose bytes hold the key's bytes across two slots (misaligned) must not count.
    shifted = [(key << 8) & (2**64 - 1), key >> 56, 0x0807060504030201]
    for _ in range(50):
        keys = array("Q", (rng.choice([key, *shifted, rng.getrandbits(64)]) for _ in range(200)))
        assert _positions(keys.tobytes(), key) == [n for n, k in enumerate(keys) if k == key]


def _big_then_small(tmp_path: Path) -> FileRepository:
    sections = "".join(f"## Part {i}\n\nHarbour note number w{i}.\n\n" for i in range(1200))
    (tmp_path / "big.md").write_text(sections, encoding="utf-8")
    (tmp_path / "small.md").write_text("## Kept\n\nA harbour that stays.\n", encoding="utf-8")
    repository = FileRepository(tmp_path)
    repository.build_now()
    return repository


def _files_with(repository: FileRepository, word: str) -> list[str]:
    query = SearchQuery(match=parse_user_query(word + " ")[0], per_page=100)
    return sorted(hit.entry.dialog_file for hit in repository.search(query).hits)


def test_the_repository_compacts_in_the_background(tmp_path: Path) -> None:
    repository = _big_then_small(tmp_path)
    (tmp_path / "big.md").write_text("## Only\n\nOne harbour left.\n", encoding="utf-8")
    repository.reload_file("big.md")  # 1,200 docs dead of 1,203: a compaction starts
    wait_until(lambda: repository.compactions == 1, 60)
    index = repository._ready_index()
    assert len(index.attrs) == index.alive == 2
    assert _files_with(repository, "harbour") == ["big.md", "small.md"]
    assert _files_with(repository, "w7") == []


def test_a_change_made_while_compacting_reaches_the_compacted_index(tmp_path: Path) -> None:
    repository = _big_then_small(tmp_path)
    snapshot = repository.begin_compaction()
    assert snapshot is not None and repository.begin_compaction() is None  # one at a time
    (tmp_path / "small.md").write_text("## Kept\n\nA lighthouse now.\n", encoding="utf-8")
    repository.reload_file("small.md")  # after the snapshot: noted
    repository.finish_compaction(snapshot.compacted())
    assert repository.compactions == 1
    assert _files_with(repository, "lighthouse") == ["small.md"]
    assert _files_with(repository, "stays") == []
