"""The quality benchmark (issue 13) runs end to end on a tiny Lupopedia-shaped tree.

Structural checks only: every row is computed, shares are shares, the baseline is there,
the tree has what the real repository has. The goal figures are not asserted here (the
features land in parallel); `python -m benchmarks.quality` prints them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.lupo_names import canonical, people
from benchmarks.lupo_tree import MANIFEST, build_tree
from benchmarks.quality import parse_args, run
from benchmarks.quality_api import Api, hit_paths
from benchmarks.quality_misses import classify, misses
from benchmarks.quality_misses import report as misses_table
from benchmarks.quality_report import WHAT, markdown_table
from dialogfile.model import Entry

CLASSES = (
    "near-copy: other speaker field",
    "near-copy: other title or body",
    "other entry",
    "text section",
    "no hit",
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_tree(
    tmp_path_factory: pytest.TempPathFactory, shared_corpus: Path, gen_corpus_script: Path
) -> Path:
    root = tmp_path_factory.mktemp("quality") / "tree"
    build_tree(root, seed=7, size="tiny")
    return root


@pytest.fixture(scope="module")
def report(tiny_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    options = parse_args(
        ["--tree", str(tiny_tree), "--no-shared", "--known", "40", "--words", "10"]
        + ["--phrases", "40", "--seed", "3"]
    )
    return run(options, tmp_path_factory.mktemp("quality-work"))


def test_the_tree_has_the_real_repository_s_features(tiny_tree: Path) -> None:
    copies = sorted((tiny_tree / "lupopedia" / "docs").rglob("*.md"))
    assert copies, "no file copied under lupopedia/docs/"
    for copy in copies:
        original = tiny_tree / copy.relative_to(tiny_tree / "lupopedia")
        assert copy.read_bytes() == original.read_bytes()
    real = sorted((tiny_tree / "dialogs").rglob("*.md"))
    assert len(real) == 88  # every file of the shared corpus
    assert (tiny_tree / "docs" / "dialogsearch" / "architecture.md").exists()

    summary = json.loads((tiny_tree / MANIFEST).read_text())
    assert summary["files_with_front_matter"] > summary["files"] / 2
    assert summary["lupo_moods"] > 0
    assert summary["several_people_fields"] > 0
    assert summary["section_share"] > 0.5
    spelled = summary["speakers_with_spellings"]
    for person in ("captain wolfie", "cursor", "kiro", "stoned wolfie"):
        assert len(spelled.get(person, [])) >= 2, person
    assert len(summary["targets_with_spellings"].get("fleet", [])) >= 2


def test_the_tree_is_deterministic_and_never_built_inside_the_project(
    tiny_tree: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    build_tree(again, seed=7, size="tiny")
    first = {p.relative_to(tiny_tree): p.read_bytes() for p in tiny_tree.rglob("*.md")}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*.md")}
    assert first == second
    with pytest.raises(ValueError, match="inside the project"):
        build_tree(REPO_ROOT / "var" / "quality-tree", size="tiny")
    with pytest.raises(ValueError, match="not empty"):
        build_tree(tiny_tree, size="tiny")


def _shares(run_report: dict[str, Any]) -> list[float]:
    now, base = run_report["now"], run_report["baseline"]
    return [
        now["known_item"]["hit_at_1"],
        now["known_item"]["hit_at_10"],
        now["pages"]["entry_share"],
        now["pages"]["repeat_share"],
        now["phrases"]["found"],
        base["known_item"]["hit_at_1"],
        base["known_item"]["hit_at_10"],
        base["pages"]["entry_share"],
        base["pages"]["repeat_share"],
    ]


def test_every_row_is_measured_through_the_api_beside_the_baseline(
    report: dict[str, Any],
) -> None:
    tree = report["runs"]["tree"]
    assert tree["index"]["entries_parsed"] > 0
    assert tree["engines"] and sum(tree["engines"].values()) > 0
    assert set(tree["api_features"]) == {"scope", "collapse", "speaker_variants"}
    assert tree["now"]["known_item"]["queries"] == 40
    assert tree["now"]["pages"]["queries"] == 10
    assert tree["now"]["phrases"]["phrases"] == 40
    assert all(0.0 <= share <= 1.0 for share in _shares(tree))
    assert tree["baseline"]["pages"]["entry_share"] == 1.0  # entries only, by construction
    assert tree["now"]["known_item"]["hit_at_10"] > 0  # the measurement finds things at all
    facet = tree["now"]["speaker_facet"]
    assert facet["facet_values"] > 0
    for spelling, counts in tree["now"]["speaker_filter"].items():
        assert counts["all"] > 0, spelling
        assert 0 <= counts["found"]


def test_the_table_has_the_issue_s_five_rows_and_the_baseline(report: dict[str, Any]) -> None:
    table = markdown_table(report)
    lines = table.splitlines()
    assert "FTS5 baseline" in lines[0]
    for what in WHAT:
        assert any(line.startswith(f"| {what} |") for line in lines), what
    assert "API features: scope" in table


class _Answer:
    def __init__(self, body: dict[str, Any], status: int) -> None:
        self.body, self.status_code = body, status

    def get_json(self, silent: bool = False) -> dict[str, Any]:
        return self.body


class _NewApi:
    """A stand-in for the API after issue 13: refuses an unknown scope, folds, has variants."""

    def get(self, path: str, query_string: dict[str, Any]) -> _Answer:
        if query_string.get("scope") not in (None, "entries", "text", "all"):
            return _Answer({"error": "scope"}, 400)
        speaker = [{"value": "CURSOR", "count": 3, "variants": ["CURSOR", "cursor"]}]
        body = {"hits": [], "total": 0, "folded": 0, "scopes": {"entries": 0, "text": 0}}
        return _Answer({**body, "facets": {"speaker": speaker}}, 200)


class _OldApi(_NewApi):
    """Today's API, but one that refuses parameters it does not know."""

    def get(self, path: str, query_string: dict[str, Any]) -> _Answer:
        if "scope" in query_string or "collapse" in query_string:
            return _Answer({"error": "unknown parameter"}, 400)
        return _Answer({"hits": [], "total": 0, "facets": {"speaker": []}}, 200)


def test_new_api_features_are_detected_and_only_then_sent() -> None:
    new = Api(_NewApi())
    assert new.detect("fleet") == {"scope": True, "collapse": True, "speaker_variants": True}
    assert new.extra(scope="all", collapse="off") == {"scope": "all", "collapse": "off"}
    old = Api(_OldApi())
    assert old.detect("fleet") == {"scope": False, "collapse": False, "speaker_variants": False}
    assert old.extra(scope="all", collapse="off") == {}


def test_folded_copies_count_as_their_files() -> None:
    hit = {"dialog_file": "docs/a.md", "also_in": ["lupopedia/docs/a.md", {"dialog_file": "b.md"}]}
    assert hit_paths(hit) == {"docs/a.md", "lupopedia/docs/a.md", "b.md"}


def test_names_are_keyed_as_the_issue_says() -> None:
    spellings = ["CAPTAIN_WOLFIE", "CAPTAIN WOLFIE", "Captain_Wolfie", "Captain Wolfie"]
    assert {canonical(s) for s in spellings} == {"captain wolfie"}
    assert canonical("@FLEET") == canonical("fleet") == "fleet"
    assert people("CAPTAIN WOLFIE / WOLFIE / LILITH") == ["captain wolfie", "wolfie", "lilith"]
    assert people("KIRO, Cursor") == ["kiro", "cursor"] and people("A & B") == ["a", "b"]


def test_misses_are_classed_by_what_ranked_first() -> None:
    entry = Entry("log.md", "bold", 3, 9, speaker="KIRO / CURSOR", message="Lanterns relit.")
    same = {"format": "bold", "message": "lanterns  relit.", "speaker": "cursor / kiro"}
    assert classify(entry, {**same, "speaker": "KIRO"}) == "near-copy: other speaker field"
    assert classify(entry, {**same, "speaker": "Kiro / Cursor"}) == "near-copy: other title or body"
    assert classify(entry, {**same, "message": "Lanterns dark."}) == "other entry"
    assert classify(entry, {**same, "format": "section"}) == "text section"


def test_the_misses_are_listed_with_their_class(tiny_tree: Path, tmp_path: Path) -> None:
    found, queries = misses(tiny_tree, tmp_path / "tree.db", seed=3, count=40)
    assert queries == 40 and len(found) < queries
    text = misses_table("tree", found, queries)
    assert text.startswith(f"### tree: {len(found)} misses at 1 of 40 queries")
    assert all(miss["class"] in CLASSES for miss in found)
