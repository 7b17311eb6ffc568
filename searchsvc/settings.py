"""The service's settings, read once: defaults, then the environment, then the caller's.

Precedence, lowest first: DEFAULTS, environment variables `DIALOGSEARCH_<KEY>` (e.g.
DIALOGSEARCH_ROOT, DIALOGSEARCH_DB), the plain MEILI_URL / MEILI_API_KEY / MEILI_INDEX
(as Meilisearch's own tools name them), then the mapping given to create_app (the CLI
puts its options there). `load_config` merges them into the Flask config and
`Settings.from_config` reads the typed values out of it; nothing else reads
`os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "DIALOGSEARCH_"
#: Where create_app keeps the Settings: app.extensions[SETTINGS_KEY].
SETTINGS_KEY = "dialogsearch.settings"
#: Settings also read without the prefix, under Meilisearch's own names.
PLAIN_ENV = ("MEILI_URL", "MEILI_API_KEY", "MEILI_INDEX")
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")

DEFAULTS: dict[str, Any] = {
    # Folder of dialog files and the SQLite database (either may be None).
    "ROOT": None,
    "DB": None,
    # A query running longer than this is stopped (a 400 when the database is fine).
    "QUERY_TIME_LIMIT_MS": 1500,
    # SQLite steps a search (FTS5) may take, then a 400 too_expensive: work, not time, so
    # a loaded machine stops nothing more (the search budget, searchsvc/query/budget.py,
    # keeps searches far below it; about 0.1-0.2 s of work on the benchmark machine).
    "SEARCH_STEPS": 5_000_000,
    # How long a read waits for a lock before the database counts as unavailable.
    "BUSY_TIMEOUT_MS": 1000,
    # Matches ranked/faceted exactly before repo_sqlite switches to a uniform sample.
    "CANDIDATE_LIMIT": 2000,
    # While answering from files, probe the database at most this often.
    "PROBE_SECONDS": 5.0,
    # Move a corrupt database aside and rebuild it from the files during recovery.
    "REBUILD": True,
    # The in-memory file index (the fallback): "auto" builds it when the database first
    # fails and drops it once the database answers again (at start-up when there is no
    # database); "on" builds it at start-up and keeps it; "off" is "auto".
    "FALLBACK_PRELOAD": "auto",
    # How long a search waits for the file index while it is being built (then a 503
    # with Retry-After): about 8 s of building per 100k entries on 2 idle cores.
    "FALLBACK_WAIT_SECONDS": 10.0,
    # Longest accepted `q`, in characters.
    "MAX_QUERY_CHARS": 1000,
    "JSON_SORT_KEYS": False,
    # Search backend: "sqlite" (database, file fallback) or "meilisearch" in front of it,
    # with MEILI_URL, MEILI_API_KEY, MEILI_INDEX (also read without the prefix) and
    # MEILI_TIMEOUT_SECONDS / MEILI_RETRY_SECONDS (see docs/meilisearch.md).
    "SEARCH_BACKEND": "sqlite",
    "MEILI_URL": None,
    "MEILI_API_KEY": None,
    "MEILI_INDEX": "dialog_entries",
    "MEILI_TIMEOUT_SECONDS": 2.0,
    "MEILI_RETRY_SECONDS": 5.0,
    # With MEILI_URL set, `serve` keeps the index following the database: every change
    # (a watched file, an API write, a sync) is pushed by itself (searchsvc/meili_follow.py),
    # whatever SEARCH_BACKEND says; "off" leaves pushing to `reindex --meili-url`.
    "MEILI_FOLLOW": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # The embedded top-k search index beside the database (docs/search-index.md):
    # "auto" answers searches from it when the index is fresh (SQLite + FTS5
    # otherwise), "off" never. TOPK_DIR defaults to <DB>.topk/.
    "TOPK": "auto",
    "TOPK_DIR": None,
    # The index catches up at least this often, and this long after the first write it
    # lacks (the delta answers meanwhile: one commit to the big index takes many writes).
    "TOPK_SYNC_SECONDS": 5.0,
    "TOPK_CATCH_UP_SECONDS": 0.5,
    # Writes: the file a POST without dialog_file appends to, and how long a write
    # waits for the dialogs' write lock before it answers 503.
    "DIALOG_FILE": None,
    "WRITE_LOCK_WAIT_SECONDS": None,
    # While a write request runs, read requests that arrive wait for it, for at most this
    # many ms (searchsvc/web/write_first.py; 0: reads never wait).
    "WRITE_FIRST_MS": 250,
    # How many searches run at once; the others wait for a slot, holding no CPU
    # ("auto": the number of cores, at least 2; 0: no limit).
    "SEARCH_SLOTS": "auto",
    # `serve` follows the dialogs root (searchsvc/watcher.py): "on" (inotify), "poll"
    # (polling, e.g. on network file systems) or "off". A burst of changes becomes one
    # reindex once no change came for WATCH_SETTLE_MS, or WATCH_MAX_DELAY_MS after its
    # first change; every WATCH_RESCAN_SECONDS a plain incremental reindex catches
    # anything an event missed. WATCH_POLL_MS: the polling interval. A changed file is
    # read once it has not changed for WATCH_FILE_SETTLE_MS (a file still being written
    # waits for the next round).
    "WATCH": "on",
    "WATCH_SETTLE_MS": 200,
    "WATCH_FILE_SETTLE_MS": 300,
    "WATCH_MAX_DELAY_MS": 2000,
    "WATCH_RESCAN_SECONDS": 300.0,
    "WATCH_POLL_MS": 300,
    # How often an open search page asks whether the index changed (0: never).
    "PAGE_REFRESH_SECONDS": 5.0,
    # GET /metrics (Prometheus): "open", "token" (Authorization: Bearer <API token>, as
    # writes), "off" (no such page), or "auto": open when serve listens on loopback only,
    # else the token (an app not started by serve: the token).
    "METRICS": "auto",
}

BACKENDS = ("sqlite", "meilisearch")
WATCH_MODES = ("on", "poll", "off")
METRICS_ACCESS = ("auto", "open", "token", "off")


def switch(value: Any, *, name: str = "setting") -> bool | None:
    """A yes/no setting: True, False, or None for "auto"; ValueError for anything else."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    if text in ("auto", ""):
        return None
    raise ValueError(f"{name}={value!r} is not one of yes/no/on/off/true/false/1/0/auto")


def load_config(
    config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """DEFAULTS, overridden by the environment, then by `config`."""
    environ = os.environ if environ is None else environ
    merged = dict(DEFAULTS)
    for name in PLAIN_ENV:
        if environ.get(name):
            merged[name] = environ[name]
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and value != "":
            key = name[len(ENV_PREFIX) :]
            merged[key] = _convert(value, DEFAULTS.get(key))
    merged.update({key: value for key, value in (config or {}).items()})
    return merged


def _convert(value: str, default: Any) -> Any:
    """An environment string as the type of the default it replaces."""
    if isinstance(default, bool):
        return bool(switch(value))
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def _path(value: Any) -> Path | None:
    return Path(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Settings:
    """The typed settings every part of the service is built from."""

    root: Path | None = None
    db: Path | None = None
    query_time_limit_ms: int = 1500
    search_steps: int = 5_000_000
    busy_timeout_ms: int = 1000
    candidate_limit: int = 2000
    probe_seconds: float = 5.0
    rebuild: bool = True
    #: True: build the file index at start-up and keep it; else on first need (dropped
    #: again when the database answers).
    fallback_preload: bool | None = None
    fallback_wait_seconds: float = 10.0
    max_query_chars: int = 1000
    search_backend: str = "sqlite"
    meili_url: str | None = None
    meili_api_key: str | None = None
    meili_index: str = "dialog_entries"
    meili_timeout_seconds: float = 2.0
    meili_retry_seconds: float = 5.0
    #: With meili_url: serve pushes every change to Meilisearch by itself.
    meili_follow: bool = True
    topk: bool = True
    topk_dir: Path | None = None
    topk_sync_seconds: float = 5.0
    topk_catch_up_seconds: float = 0.5
    dialog_file: str | None = None
    write_lock_wait_seconds: float | None = None
    #: How long a running write holds new reads back, ms (0: never).
    write_first_ms: int = 250
    #: How many searches run at once (0: no limit); "auto" in the config is the cores.
    search_slots: int = 0
    #: "on" (inotify), "poll" or "off": whether and how `serve` follows the dialogs root.
    watch: str = "on"
    watch_settle_ms: int = 200
    watch_file_settle_ms: int = 300
    watch_max_delay_ms: int = 2000
    watch_rescan_seconds: float = 300.0
    watch_poll_ms: int = 300
    #: How often an open search page asks whether the index changed (0: never).
    page_refresh_seconds: float = 5.0
    #: Who may read GET /metrics: "auto", "open", "token" or "off" (see DEFAULTS).
    metrics: str = "auto"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The typed settings of a merged config (load_config); ValueError names a bad one."""
        backend = str(config.get("SEARCH_BACKEND") or "sqlite").strip().lower()
        if backend in ("database", "default"):
            backend = "sqlite"
        if backend not in BACKENDS:
            raise ValueError(
                f"DIALOGSEARCH_SEARCH_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}"
            )
        lock_wait = config.get("WRITE_LOCK_WAIT_SECONDS")
        watch = _watch_mode(config.get("WATCH", "on"))
        return cls(
            root=_path(config.get("ROOT")),
            db=_path(config.get("DB")),
            query_time_limit_ms=int(config["QUERY_TIME_LIMIT_MS"]),
            search_steps=int(config["SEARCH_STEPS"]),
            busy_timeout_ms=int(config["BUSY_TIMEOUT_MS"]),
            candidate_limit=int(config["CANDIDATE_LIMIT"]),
            probe_seconds=float(config["PROBE_SECONDS"]),
            rebuild=bool(switch(config["REBUILD"], name="REBUILD")),
            fallback_preload=switch(config["FALLBACK_PRELOAD"], name="FALLBACK_PRELOAD"),
            fallback_wait_seconds=float(config["FALLBACK_WAIT_SECONDS"]),
            max_query_chars=int(config["MAX_QUERY_CHARS"]),
            search_backend=backend,
            meili_url=config.get("MEILI_URL") or None,
            meili_api_key=config.get("MEILI_API_KEY") or None,
            meili_index=str(config.get("MEILI_INDEX") or DEFAULTS["MEILI_INDEX"]),
            meili_timeout_seconds=float(config["MEILI_TIMEOUT_SECONDS"]),
            meili_retry_seconds=float(config["MEILI_RETRY_SECONDS"]),
            meili_follow=switch(config.get("MEILI_FOLLOW", True), name="MEILI_FOLLOW") is not False,
            topk=switch(config["TOPK"], name="TOPK") is not False,
            topk_dir=_path(config.get("TOPK_DIR")),
            topk_sync_seconds=float(config["TOPK_SYNC_SECONDS"]),
            topk_catch_up_seconds=float(config["TOPK_CATCH_UP_SECONDS"]),
            dialog_file=config.get("DIALOG_FILE") or None,
            write_lock_wait_seconds=float(lock_wait) if lock_wait not in (None, "") else None,
            write_first_ms=max(0, int(config["WRITE_FIRST_MS"])),
            search_slots=_search_slots(config["SEARCH_SLOTS"]),
            watch=watch,
            watch_settle_ms=int(config["WATCH_SETTLE_MS"]),
            watch_file_settle_ms=int(config["WATCH_FILE_SETTLE_MS"]),
            watch_max_delay_ms=int(config["WATCH_MAX_DELAY_MS"]),
            watch_rescan_seconds=float(config["WATCH_RESCAN_SECONDS"]),
            watch_poll_ms=int(config["WATCH_POLL_MS"]),
            page_refresh_seconds=max(0.0, float(config["PAGE_REFRESH_SECONDS"])),
            metrics=_metrics_access(config.get("METRICS", "auto")),
        )


def _search_slots(value: Any) -> int:
    """SEARCH_SLOTS as a count: "auto" (or empty) is the cores and one more, at least 3
    (docs/benchmarks.md, "Search under writes"); ValueError else."""
    text = str(value if value is not None else "auto").strip().lower()
    if text in ("auto", ""):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(3, (cores or 2) + 1)
    try:
        return max(0, int(text))
    except ValueError:
        raise ValueError(
            f"DIALOGSEARCH_SEARCH_SLOTS={value!r} is not a number of searches or auto"
        ) from None


def _watch_mode(value: Any) -> str:
    """WATCH as "on", "poll" or "off" (yes/no words too); ValueError names a bad one."""
    text = str(value if value is not None else "on").strip().lower()
    if text in ("poll", "polling"):
        return "poll"
    if text in ("inotify", "auto", ""):
        return "on"
    try:
        return "on" if switch(text, name="DIALOGSEARCH_WATCH") is not False else "off"
    except ValueError:
        raise ValueError(
            f"DIALOGSEARCH_WATCH={value!r} is not one of {', '.join(WATCH_MODES)}"
        ) from None


def _metrics_access(value: Any) -> str:
    """METRICS as one of METRICS_ACCESS; ValueError names a bad one."""
    text = str(value if value is not None else "auto").strip().lower() or "auto"
    if text not in METRICS_ACCESS:
        raise ValueError(
            f"DIALOGSEARCH_METRICS={value!r} is not one of {', '.join(METRICS_ACCESS)}"
        )
    return text
