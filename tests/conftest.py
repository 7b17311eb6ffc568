"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The API fixtures (dialogs_dir, db_path, repository over sqlite and files, app, client,
# live_server) live in tests/fixtures_api.py.
pytest_plugins = ["fixtures_api"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_CORPUS = SHARED / "corpus" / "lupopedia"
GEN_CORPUS = SHARED / "tools" / "gen_corpus.py"
SAMPLE_DIALOGS = REPO_ROOT / "dialogs"


def require_shared(path: Path) -> Path:
    """`path` from ../shared, or a skip that says why (a failure when CI=true)."""
    if path.exists():
        return path
    message = f"{path} is absent: the shared test data lives beside the project in ../shared"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI always has it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The real Lupopedia corpus, read in place (never copied into the project)."""
    return require_shared(SHARED_CORPUS)


@pytest.fixture(scope="session")
def gen_corpus_script() -> Path:
    """../shared/tools/gen_corpus.py, the generator of large realistic corpora."""
    return require_shared(GEN_CORPUS)
