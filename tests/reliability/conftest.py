"""Fixtures of the reliability checks: a generated corpus shared by the heavy checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from rel_reindex_crash import GEN_CORPUS, generate


@pytest.fixture(scope="session")
def generated_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gen_corpus.py -n 10000 --seed 5 (about 13,500 rows), generated once per session."""
    if not GEN_CORPUS.exists():
        pytest.skip(f"{GEN_CORPUS} is absent (the shared tools live beside the project)")
    return generate(tmp_path_factory.mktemp("generated") / "corpus", 10_000, seed=5)
