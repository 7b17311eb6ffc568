"""A real `dialogsearch serve` over a copy of the Lupopedia corpus, in both modes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fixtures_api import LiveServer, wait_until
from test_api_read import HOSTILE

# Every non-section entry of the corpus (../shared/corpus/README.md).
CORPUS_ENTRIES = 1091


@pytest.fixture(scope="module")
def corpus_server(shared_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    work = tmp_path_factory.mktemp("corpus")
    root = shutil.copytree(shared_corpus / "dialogs", work / "root" / "dialogs")
    env = {"DIALOGSEARCH_PROBE_SECONDS": "0.2", "DIALOGSEARCH_FALLBACK_PRELOAD": "1"}
    server = LiveServer(root.parent, work / "dialogs.db", env)
    yield server
    server.stop()


def _mode(server: LiveServer) -> str:
    return server.get("/api/dialog/health").json()["mode"]


def _check_every_read_endpoint(server: LiveServer, source: str) -> None:
    formats = {
        row["value"]: row["count"] for row in server.get("/api/dialog/stats").json()["formats"]
    }
    assert sum(formats[f] for f in ("header", "inline", "bold", "begin_end")) == CORPUS_ENTRIES
    page = server.get("/api/dialog/search", q="wolfie", facets="speaker,target,mood,file")
    assert page.status_code == 200 and page.json()["source"] == source
    assert page.json()["total"] > 0 and page.json()["facets"]["speaker"]
    first = page.json()["hits"][0]
    entry = server.get(f"/api/dialog/entry/{first['dialog_entry_id']}")
    assert entry.status_code == 200 and entry.json()["dialog_file"] == first["dialog_file"]
    listed = server.get("/api/dialog/entries", speaker="CURSOR", per_page=5)
    assert listed.status_code == 200 and {h["speaker"] for h in listed.json()["hits"]} == {"CURSOR"}
    assert server.get("/api/openapi.json").status_code == 200
    assert server.get("/api/dialog/sync").status_code == 200
    for raw in ("0", "1"):
        for text in HOSTILE:
            response = server.get("/api/dialog/search", q=text, raw=raw)
            assert response.status_code < 500, (text, raw, response.text)


def test_every_read_endpoint_over_the_corpus_in_database_mode(corpus_server) -> None:
    assert _mode(corpus_server) == "database"
    _check_every_read_endpoint(corpus_server, "database")


def test_every_read_endpoint_over_the_corpus_in_files_mode(corpus_server) -> None:
    corpus_server.db.unlink()
    wait_until(lambda: corpus_server.get("/api/dialog/search", q="x").json()["source"] == "files")
    _check_every_read_endpoint(corpus_server, "files")
    # The database is rebuilt from the files and the service switches back by itself.
    wait_until(lambda: _mode(corpus_server) == "database", timeout=120)
