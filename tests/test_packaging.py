"""What pyproject.toml declares: every runtime dependency is one the product imports."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("dialogfile", "indexer", "searchsvc")


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for package in PRODUCT_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def test_every_runtime_dependency_is_imported_by_the_product() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["project"]["dependencies"]
    }
    imported = _imported_top_level_modules()
    distributions = {
        name.lower().replace("_", "-")
        for module, names in packages_distributions().items()
        if module in imported
        for name in names
    }
    assert declared - distributions == set(), "declared but never imported"
