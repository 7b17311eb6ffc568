"""Blueprint for the writes under /api/dialog: entry POST/PUT/DELETE and sync.

Each view reads the request, checks the token, hands plain data to the
WriteService (writes.py) and answers JSON; the domain's errors it raises are
answered by errors.py, as for every endpoint. Writes need `Authorization: Bearer`;
GET /api/dialog/sync (a dry run) is a read and stays open. OPENAPI_PATHS and
OPENAPI_COMPONENTS describe these endpoints for openapi.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from searchsvc.exceptions import MalformedBody, UnsupportedBody
from searchsvc.repository import Repository
from searchsvc.settings import Settings
from searchsvc.web.auth import TOKEN_CONFIG_KEY, check_bearer
from searchsvc.writing.entry_input import validate_new_entry
from searchsvc.writing.service import DEFAULT_DIALOG_FILE, LOCK_WAIT_SECONDS, WriteService
from searchsvc.writing.sync import sync

bp = Blueprint("api_write", __name__, url_prefix="/api/dialog")

EXTENSION_KEY = "dialogsearch_writes"


def write_service() -> WriteService:
    """The app's WriteService (built by init_app)."""
    return current_app.extensions[EXTENSION_KEY]


def require_token() -> None:
    """Check the request's bearer token against the configured one (see searchsvc.web.auth)."""
    check_bearer(request.headers.get("Authorization"), current_app.config.get(TOKEN_CONFIG_KEY))


def _json_body() -> Any:
    """The request's JSON value. :raise UnsupportedBody: not JSON. :raise MalformedBody."""
    if not request.is_json:
        raise UnsupportedBody(request.mimetype or None)
    body = request.get_json(silent=True)
    if body is None:
        raise MalformedBody()
    return body


@bp.post("/entry")
def create_entry() -> tuple[Response, int, dict[str, str]]:
    """Append a new entry to `dialog_file` (default api_dialog.md) as an inline block.

    :raise 400: bad dialog_file. :raise 401/403: token. :raise 409: the file
        cannot take the block. :raise 413/415/422: body too big, not JSON, invalid.
    """
    require_token()
    new = validate_new_entry(_json_body())
    stored = write_service().create(new)
    location = f"/api/dialog/entry/{stored.entry_id}"
    return jsonify(stored.to_dict()), 201, {"Location": location}


@bp.put("/entry/<int:entry_id>")
def update_entry(entry_id: int) -> Response:
    """Change the given fields of an entry in its file; answer the whole entry.

    :raise 404: unknown id. :raise 405: a section. :raise 409: the file changed.
    """
    require_token()
    stored = write_service().update(entry_id, _json_body())
    return jsonify(stored.to_dict())


@bp.delete("/entry/<int:entry_id>")
def delete_entry(entry_id: int) -> Response:
    """Remove an entry's lines from its file.

    :raise 404: unknown id. :raise 405: a section. :raise 409: the file changed.
    """
    require_token()
    write_service().delete(entry_id)
    return jsonify({"ok": True, "deleted": entry_id})


@bp.get("/sync")
def sync_dry_run() -> Response:
    """What a sync would change, both ways; writes nothing."""
    return jsonify(sync(write_service(), dry_run=True))


@bp.post("/sync")
def sync_now() -> Response:
    """Database -> files (write back missing entries), then files -> database (reindex)."""
    require_token()
    return jsonify(sync(write_service(), dry_run=False))


def init_app(app: Flask, repository: Repository, settings: Settings) -> None:
    """Build the WriteService from the settings (ROOT, DB, DIALOG_FILE) and register the views."""
    assert settings.root is not None and settings.db is not None
    app.extensions[EXTENSION_KEY] = WriteService(
        settings.root,
        settings.db,
        repository,
        default_file=settings.dialog_file or DEFAULT_DIALOG_FILE,
        lock_wait=settings.write_lock_wait_seconds or LOCK_WAIT_SECONDS,
    )
    app.register_blueprint(bp)


# --- OpenAPI ----------------------------------------------------------------------------------

# The error shape and the entry are the read API's schemas (searchsvc.web.openapi): one of each.
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_AUTH_ERRORS = {
    "401": _error("No `Authorization: Bearer <token>` header"),
    "403": _error("Wrong token, or no token configured"),
}
_BODY_ERRORS = {
    "400": _error("Malformed JSON, or dialog_file not a relative .md path inside the root"),
    "413": _error("Body larger than the configured limit"),
    "415": _error("Body is not application/json"),
    "422": _error("Invalid or unknown fields (each one named in `errors`)"),
}
_UNAVAILABLE = _error("The file cannot be written, or a write lock is held: nothing changed; retry")
_ENTRY_ID = {
    "name": "entry_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
}
_FIELD_PROPERTIES = {
    "speaker": {"type": "string", "minLength": 1, "maxLength": 200},
    "target": {"type": ["string", "null"], "maxLength": 200},
    "mood_rgb": {"type": ["string", "null"], "pattern": "^[0-9A-Fa-f]{6}$"},
    "message": {"type": "string", "minLength": 1},
    "timestamp_utc": {
        "type": ["integer", "null"],
        "description": "YYYYMMDDHHMMSS (UTC); POST defaults to now",
        "minimum": 10000101000000,
        "maximum": 99991231235959,
    },
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    "schemas": {
        "NewEntry": {
            "type": "object",
            "required": ["speaker", "message"],
            "additionalProperties": False,
            "properties": {
                **_FIELD_PROPERTIES,
                "dialog_file": {
                    "type": "string",
                    "description": "Relative .md path inside the root (default api_dialog.md)",
                },
            },
        },
        "EntryChange": {
            "type": "object",
            "description": "Only the fields given change; read-only fields may be sent unchanged",
            "properties": _FIELD_PROPERTIES,
        },
        "SyncReport": {
            "type": "object",
            "required": ["ok", "dry_run", "files_to_database", "database_to_files"],
            "properties": {
                "ok": {"const": True},
                "dry_run": {"type": "boolean"},
                "files_to_database": {"type": "object"},
                "database_to_files": {
                    "type": "object",
                    "properties": {
                        "entries": {"type": "array", "items": {"type": "object"}},
                        "written": {"type": "integer"},
                        "not_written": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
}

_WRITTEN = {"$ref": "#/components/schemas/Entry"}
_SYNC = {"$ref": "#/components/schemas/SyncReport"}
_SECURED = [{"bearerAuth": []}]

OPENAPI_PATHS: dict[str, Any] = {
    "/api/dialog/entry": {
        "post": {
            "summary": "Create an entry: appended to its file as an inline DIALOG block",
            "security": _SECURED,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewEntry"}}
                },
            },
            "responses": {
                "201": _ok("The entry as written and indexed", _WRITTEN),
                **_AUTH_ERRORS,
                **_BODY_ERRORS,
                "409": _error("The file cannot take the block"),
                "503": _UNAVAILABLE,
            },
        }
    },
    "/api/dialog/entry/{entry_id}": {
        "put": {
            "summary": "Change the given fields of an entry, in place in its file",
            "security": _SECURED,
            "parameters": [_ENTRY_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EntryChange"}}
                },
            },
            "responses": {
                "200": _ok("The whole entry after the change", _WRITTEN),
                **_AUTH_ERRORS,
                **_BODY_ERRORS,
                "404": _error("No entry has this id"),
                "405": _error("A section record: read-only"),
                "409": _error("The file changed under the entry since it was read"),
                "503": _UNAVAILABLE,
            },
        },
        "delete": {
            "summary": "Remove an entry's lines from its file",
            "security": _SECURED,
            "parameters": [_ENTRY_ID],
            "responses": {
                "200": _ok(
                    "Deleted",
                    {
                        "type": "object",
                        "required": ["ok", "deleted"],
                        "properties": {"ok": {"const": True}, "deleted": {"type": "integer"}},
                    },
                ),
                **_AUTH_ERRORS,
                "404": _error("No entry has this id"),
                "405": _error("A section record: read-only"),
                "409": _error("The file changed under the entry since it was read"),
                "503": _UNAVAILABLE,
            },
        },
    },
    "/api/dialog/sync": {
        "get": {
            "summary": "Dry run: what a sync would change in each direction",
            "responses": {
                "200": _ok("The report; nothing was written", _SYNC),
                "503": _error("The database cannot be read"),
            },
        },
        "post": {
            "summary": "Sync: database rows missing from unchanged files are written back,"
            " then files -> database (incremental reindex)",
            "security": _SECURED,
            "responses": {
                "200": _ok("What was done", _SYNC),
                **_AUTH_ERRORS,
                "503": _error("The database or a file cannot be written"),
            },
        },
    },
}
