"""The Flask app factory: settings, the search stack, blueprints, error handlers, metrics.

Settings come from searchsvc.settings (defaults, then DIALOGSEARCH_* environment
variables, then the mapping given to create_app), read once into a Settings value in
app.extensions["dialogsearch.settings"]. The repository (the search stack of
searchsvc.stack, unless one is given) lives in app.extensions["dialogsearch"].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from searchsvc.repository import Repository
from searchsvc.settings import SETTINGS_KEY, Settings, load_config
from searchsvc.stack import build_stack
from searchsvc.web import api, api_write, errors, metrics, security_headers, ui, write_first


def create_app(
    config: Mapping[str, Any] | None = None, *, repository: Repository | None = None
) -> Flask:
    """The dialogsearch app; `repository` replaces the stack the settings would build."""
    app = Flask(__name__)
    app.config.from_mapping(load_config(config))
    app.json.sort_keys = bool(app.config["JSON_SORT_KEYS"])  # type: ignore[attr-defined]
    settings = Settings.from_config(app.config)
    app.extensions[SETTINGS_KEY] = settings
    if repository is None:
        repository = build_stack(settings)
    app.extensions["dialogsearch"] = repository
    errors.init_app(app)
    security_headers.init_app(app)
    metrics.init_app(app, repository, settings)
    app.register_blueprint(api.bp)
    if settings.root is not None and settings.db is not None:
        api_write.init_app(app, repository, settings)
    app.register_blueprint(ui.bp)
    write_first.init_app(app, settings.write_first_ms, settings.search_slots)
    return app
