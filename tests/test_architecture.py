"""The shape docs/architecture.md describes, held by the code's own imports and sizes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("dialogfile", "indexer", "searchsvc")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(path for package in PRODUCT for path in (REPO_ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _importers(prefix: str) -> dict[str, list[str]]:
    found = {}
    for path in _modules():
        hits = sorted(n for n in _imports(path) if n == prefix or n.startswith(prefix + "."))
        if hits:
            found[_name(path)] = hits
    return found


@pytest.mark.parametrize(
    ("package", "must_not_import"),
    [
        ("dialogfile", "indexer"),
        ("dialogfile", "searchsvc"),
        ("indexer", "searchsvc"),
        ("searchsvc.query", "searchsvc.engines"),
        ("searchsvc.query", "searchsvc.web"),
        ("searchsvc.engines", "searchsvc.web"),
        ("searchsvc.writing", "searchsvc.web"),
        ("searchsvc.stack", "searchsvc.web"),
        ("searchsvc.query", "searchsvc.agents"),
        ("searchsvc.engines", "searchsvc.agents"),
        ("searchsvc.writing", "searchsvc.agents"),
        ("searchsvc.stack", "searchsvc.agents"),
        ("searchsvc.watcher", "searchsvc.agents"),
        ("searchsvc.web", "searchsvc.agents"),
    ],
)
def test_imports_only_go_downwards(package: str, must_not_import: str) -> None:
    offenders = {
        module: names
        for module, names in _importers(must_not_import).items()
        if module == package or module.startswith(package + ".")
    }
    assert offenders == {}


def test_web_libraries_stay_in_the_web_layer() -> None:
    for library in ("flask", "werkzeug", "waitress", "jinja2"):
        users = set(_importers(library))
        assert users <= {n for n in users if n.startswith("searchsvc.web.")} | {
            "searchsvc.serve"
        }, library


def test_the_agents_take_nothing_of_the_web_but_its_token_check() -> None:
    users = {
        module: names
        for module, names in _importers("searchsvc.web").items()
        if module.startswith("searchsvc.agents")
    }
    assert {name for names in users.values() for name in names} <= {
        "searchsvc.web.auth",
        "searchsvc.web.auth.check_bearer",
        "searchsvc.web.auth.ensure_api_token",
        "searchsvc.web.auth.TOKEN_CONFIG_KEY",
    }


def test_the_mcp_sdk_stays_with_the_agents_and_prometheus_with_the_metrics() -> None:
    assert {module.rsplit(".", 1)[0] for module in _importers("mcp")} <= {"searchsvc.agents"}
    assert set(_importers("prometheus_client")) <= {"searchsvc.web.metrics"}


def test_only_the_database_class_opens_sqlite() -> None:
    allowed = {"indexer.database", "indexer.header_check", "indexer.migrate"}
    assert set(_importers("sqlite3")) <= allowed


def test_only_the_settings_read_the_environment() -> None:
    readers = [
        _name(path)
        for path in _modules()
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text()
    ]
    assert readers == ["searchsvc.settings"]


def test_no_module_or_function_is_too_long() -> None:
    too_long = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{_name(path)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{_name(path)}.{node.name}: {length} lines")
    assert too_long == []
