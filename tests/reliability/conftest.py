"""Fixtures of the reliability checks: a generated corpus shared by the heavy checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.rel_reindex_crash import GEN_CORPUS, generate
from support.rel_server import own_folder


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """This test's own temporary folder (see rel_server.own_folder)."""
    yield from own_folder("reliability")


@pytest.fixture(scope="session")
def generated_corpus() -> Iterator[Path]:
    """gen_corpus.py -n 10000 --seed 5 (about 13,500 rows), generated once per session."""
    if not GEN_CORPUS.exists():
        message = f"{GEN_CORPUS} is absent (the shared tools live beside the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI always has it")
        pytest.skip(message)
    for folder in own_folder("generated"):
        yield generate(folder / "corpus", 10_000, seed=5)
