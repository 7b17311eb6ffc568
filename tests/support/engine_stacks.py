"""The same tree behind a search stack of each engine (top-k, FTS5, files), and one
question asked of all three, whose answers must agree (tests of issue 13's search model)."""

from __future__ import annotations

from pathlib import Path

from werkzeug.datastructures import MultiDict

from indexer.reindex import reindex
from indexer.topk_index import build
from searchsvc.engines.repo_files import FileRepository
from searchsvc.engines.repo_sqlite import SqliteRepository
from searchsvc.query.parameters import search_query
from searchsvc.repository import SearchPage
from searchsvc.stack import SearchStack
from support.fixtures_store import topk_stack

EXACT = 10**9
ENGINES = ("topk", "fts5", "files")


def make_stacks(root: Path, tmp: Path) -> dict[str, SearchStack]:
    """A stack of each engine over `root` (indexed into `tmp`)."""
    db = tmp / "dialogs.db"
    reindex(root, db)
    build(db, tmp / "topk")
    files = FileRepository(root)
    files.build_now()
    return {
        "topk": topk_stack(db, tmp / "topk", background=False),
        "fts5": SearchStack(database=SqliteRepository(db, candidate_limit=EXACT)),
        "files": SearchStack(files=files),
    }


def ask(stacks: dict[str, SearchStack], **parameters: str | list[str]) -> SearchPage:
    """The answer of every engine to the parameters; they must agree (hits as a set)."""
    query = search_query(MultiDict(parameters), max_query_chars=1000)
    pages = {name: stacks[name].search(query) for name in ENGINES}
    assert pages["topk"].engine == "topk"
    first = pages["fts5"]
    for name, page in pages.items():
        assert page.total == first.total, (name, parameters)
        assert page.scopes == first.scopes, (name, parameters)
        assert {h.entry_id for h in page.hits} == {h.entry_id for h in first.hits}, name
        assert page.facets == first.facets, (name, parameters)
        assert page.folded == first.folded, (name, parameters)
        assert {h.entry_id: (h.also_in, h.copies) for h in page.hits} == {
            h.entry_id: (h.also_in, h.copies) for h in first.hits
        }, (name, parameters)
    return first
