"""The Flask app factory: configuration, the repository, blueprints and error handlers.

Configuration, lowest precedence first: DEFAULTS, then environment variables
`DIALOGSEARCH_<KEY>` (e.g. DIALOGSEARCH_ROOT, DIALOGSEARCH_DB), then the mapping
given to create_app. The repository lives in app.extensions["dialogsearch"].
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from searchsvc import errors
from searchsvc.repository import Repository

ENV_PREFIX = "DIALOGSEARCH_"

DEFAULTS: dict[str, Any] = {
    # Folder of dialog files and the SQLite database (either may be None).
    "ROOT": None,
    "DB": None,
    # A query running longer than this is stopped (a 400 when the database is fine).
    "QUERY_TIME_LIMIT_MS": 1500,
    # How long a read waits for a lock before the database counts as unavailable.
    "BUSY_TIMEOUT_MS": 1000,
    # Matches ranked/faceted exactly before repo_sqlite switches to a uniform sample.
    "CANDIDATE_LIMIT": 2000,
    # While answering from files, probe the database at most this often.
    "PROBE_SECONDS": 5.0,
    # Move a corrupt database aside and rebuild it from the files during recovery.
    "REBUILD": True,
    # Build the in-memory file index at start-up ("auto": when the Markdown is small).
    "FALLBACK_PRELOAD": "auto",
    "FALLBACK_PRELOAD_MAX_MB": 96,
    # How long a search waits for the file index while it is being built.
    "FALLBACK_WAIT_SECONDS": 60.0,
    # Longest accepted `q`, in characters.
    "MAX_QUERY_CHARS": 1000,
    "JSON_SORT_KEYS": False,
    # Search backend: "sqlite" (database, file fallback) or "meilisearch" in front of it,
    # with MEILI_URL, MEILI_API_KEY, MEILI_INDEX (also read without the prefix) and
    # MEILI_TIMEOUT_SECONDS / MEILI_RETRY_SECONDS (see docs/meilisearch.md).
    "SEARCH_BACKEND": "sqlite",
    "MEILI_TIMEOUT_SECONDS": 2.0,
    "MEILI_RETRY_SECONDS": 5.0,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # The embedded top-k search index beside the database (docs/search-index.md):
    # "auto" answers searches from it when tantivy imports and the index is fresh
    # (SQLite + FTS5 otherwise), "off" never. TOPK_DIR defaults to <DB>.topk/.
    "TOPK": "auto",
    "TOPK_DIR": None,
    # The index catches up after every write and at least this often.
    "TOPK_SYNC_SECONDS": 5.0,
}


def load_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULTS, overridden by DIALOGSEARCH_* environment variables, then by `config`."""
    merged = dict(DEFAULTS)
    for name, value in os.environ.items():
        if name.startswith(ENV_PREFIX) and value != "":
            key = name[len(ENV_PREFIX) :]
            merged[key] = _convert(value, DEFAULTS.get(key))
    merged.update(config or {})
    return merged


def _convert(value: str, default: Any) -> Any:
    """An environment string as the type of the default it replaces."""
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def build_repository(config: Mapping[str, Any]) -> Repository:
    """The repository the configuration asks for: database with file fallback, or one of them.

    :raise ValueError: when neither ROOT nor DB is configured.
    """
    from searchsvc.repo_fallback import FallbackRepository
    from searchsvc.repo_files import FileRepository
    from searchsvc.repo_sqlite import SqliteRepository

    root, db = config.get("ROOT"), config.get("DB")
    if not root and not db:
        raise ValueError(
            "dialogsearch needs a dialogs folder and/or a database: set ROOT and DB "
            "(DIALOGSEARCH_ROOT, DIALOGSEARCH_DB)"
        )
    primary = None
    if db:
        primary = _with_topk(
            config,
            SqliteRepository(
                Path(db),
                time_limit_ms=int(config["QUERY_TIME_LIMIT_MS"]),
                busy_timeout_ms=int(config["BUSY_TIMEOUT_MS"]),
                candidate_limit=int(config["CANDIDATE_LIMIT"]),
            ),
        )
    if not root:
        assert primary is not None
        return primary
    files = FileRepository(Path(root), wait_seconds=float(config["FALLBACK_WAIT_SECONDS"]))
    if primary is None:
        files.start_build()
        return files
    fallback = FallbackRepository(
        primary,
        files,
        root=Path(root),
        probe_seconds=float(config["PROBE_SECONDS"]),
        rebuild=bool(config["REBUILD"]),
    )
    if _preload(config, Path(root)):
        files.start_build()
    fallback.check_now()
    return fallback


def _with_topk(config: Mapping[str, Any], sqlite: Any) -> Any:
    """`sqlite` behind the top-k index (repo_topk) unless TOPK is off or tantivy is missing."""
    setting = str(config.get("TOPK", "auto")).strip().lower()
    if setting in ("off", "0", "false", "no") or not _has_module("tantivy"):
        return sqlite
    from indexer.topk_index import default_index_dir
    from searchsvc.repo_topk import TopkRepository

    index_dir = config.get("TOPK_DIR") or default_index_dir(sqlite.db_path)
    return TopkRepository(
        sqlite, Path(index_dir), sync_seconds=float(config.get("TOPK_SYNC_SECONDS", 5.0))
    )


def _preload(config: Mapping[str, Any], root: Path) -> bool:
    """Whether to build the file index at start-up rather than on first need."""
    setting = config.get("FALLBACK_PRELOAD", "auto")
    if isinstance(setting, str) and setting.lower() == "auto":
        limit = float(config.get("FALLBACK_PRELOAD_MAX_MB", 96)) * 1024 * 1024
        total = 0
        for directory, _, names in os.walk(root):
            for name in names:
                if name.lower().endswith(".md"):
                    try:
                        total += os.stat(os.path.join(directory, name)).st_size
                    except OSError:
                        continue
                    if total > limit:
                        return False
        return True
    if isinstance(setting, str):
        return setting.strip().lower() in ("1", "true", "yes", "on")
    return bool(setting)


def create_app(
    config: Mapping[str, Any] | None = None, *, repository: Repository | None = None
) -> Flask:
    """The dialogsearch app; `repository` replaces the one the configuration would build."""
    app = Flask(__name__)
    app.config.from_mapping(load_config(config))
    app.json.sort_keys = bool(app.config["JSON_SORT_KEYS"])  # type: ignore[attr-defined]
    if repository is None:
        repository = build_repository(app.config)
        if str(app.config["SEARCH_BACKEND"]).strip().lower() != "sqlite":
            # Meilisearch in front of the database (docs/meilisearch.md); imported only here.
            from searchsvc.repo_meili import meili_in_front

            repository = meili_in_front(app.config, repository)
    app.extensions["dialogsearch"] = repository
    errors.init_app(app)

    from searchsvc import api

    app.register_blueprint(api.bp)
    _register_optional_parts(app, repository)
    return app


def _register_optional_parts(app: Flask, repository: Repository) -> None:
    """The write API (needs ROOT and DB), the web page and security headers, when present."""
    if _has_module("searchsvc.security_headers"):
        importlib.import_module("searchsvc.security_headers").init_app(app)
    if _has_module("searchsvc.api_write") and app.config.get("ROOT") and app.config.get("DB"):
        importlib.import_module("searchsvc.api_write").init_app(app, repository)
    if _has_module("searchsvc.ui"):
        app.register_blueprint(importlib.import_module("searchsvc.ui").bp)


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
