"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The API fixtures (dialogs_dir, db_path, repository over sqlite and files, app, client,
# live_server) live in tests/support/fixtures_api.py.
pytest_plugins = ["support.fixtures_api"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_CORPUS = SHARED / "corpus" / "lupopedia"
GEN_CORPUS = SHARED / "tools" / "gen_corpus.py"
CHROMIUM = Path(os.environ.get("DIALOGSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).

    One per session for every browser test: Playwright's sync API runs an event
    loop for as long as it is open, so a second one in the same thread would fail.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium; "
            "run NEED_CHROMIUM=1 scripts/bootstrap (or sudo apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
