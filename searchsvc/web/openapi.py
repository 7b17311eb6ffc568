"""The OpenAPI 3.1 document: the read endpoints described here, plus the write API's.

searchsvc.web.api_write (when present) contributes OPENAPI_PATHS and
OPENAPI_COMPONENTS; operations on the same path are merged method by method.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from typing import Any

from dialogfile.fields import (
    FIELD,
    FIELDS,
    MOOD,
    SINCE_PARAMETERS,
    UNTIL_PARAMETERS,
    VALUE_FILTERS,
    Field,
    Filter,
)
from searchsvc.query.budget import CUT_KINDS
from searchsvc.query.filters import MOOD_FAMILIES
from searchsvc.repository import FACETS, SORTS

_NULLABLE_STRING = {"type": ["string", "null"]}
_COUNT_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/FacetCount"}}
#: The index's change point: a page compares it to learn whether its results may be stale.
_INDEX_STATE = {
    "type": ["object", "null"],
    "description": "The index's change point: `version` counts the changes since the "
    "service started, `changed_at` is when the last was (or the start)",
    "properties": {
        "version": {"type": "integer", "minimum": 0},
        "changed_at": {"type": "string", "format": "date-time"},
    },
}


#: What a search's budget left out (searchsvc/query/budget.py), or null: nothing.
_PARTIAL = {
    "type": ["object", "null"],
    "required": ["reason", "message", "cuts"],
    "description": "null, or what the search budget left out of a search too broad to "
    "answer in full: the answer holds the matches of what was searched",
    "properties": {
        "reason": {"type": "string", "enum": ["too_expensive"]},
        "message": {"type": "string", "description": "Every cut, in words"},
        "cuts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "text", "kept", "of"],
                "properties": {
                    "kind": {"type": "string", "enum": list(CUT_KINDS)},
                    "text": {"type": "string", "description": "The part of q it concerns"},
                    "kept": {"type": "integer", "description": "What was searched"},
                    "of": {"type": "integer", "description": "Out of how many"},
                },
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _list_param(name: str, description: str) -> dict[str, Any]:
    parameter = _param(name, description, {"type": "array", "items": {"type": "string"}})
    parameter.update(style="form", explode=True)
    return parameter


def _filter_description(spec: Filter) -> str:
    """A filter's description, with the values it accepts when they are few."""
    if spec.kind == MOOD:
        return f"{spec.description}: {', '.join(MOOD_FAMILIES)}"
    choices = FIELD[spec.field].choices
    if choices:
        return f"{spec.description}: {', '.join(choices)}"
    return spec.description


def _date_parameters() -> list[dict[str, Any]]:
    """The date range's parameters: its first and last day, then their other names."""
    since, until = SINCE_PARAMETERS[0], UNTIL_PARAMETERS[0]
    text = {"type": "string"}
    return [
        _param(since, "Earliest timestamp: YYYY-MM-DD or YYYYMMDDHHMMSS", text),
        _param(until, "Latest timestamp (a date includes its whole day)", text),
        *(_param(name, f"Same as {since}", text) for name in SINCE_PARAMETERS[1:]),
        *(_param(name, f"Same as {until}", text) for name in UNTIL_PARAMETERS[1:]),
    ]


FILTER_PARAMETERS = [
    *(_list_param(spec.name, _filter_description(spec)) for spec in VALUE_FILTERS),
    *_date_parameters(),
    _param("sort", "Order of hits", {"type": "string", "enum": list(SORTS)}),
    _param(
        "page",
        "Page number (page * per_page <= 10000)",
        {"type": "integer", "minimum": 1, "maximum": 10000},
    ),  # fmt: skip
    _param("per_page", "Hits per page", {"type": "integer", "minimum": 1, "maximum": 100}),
    _param(
        "facets",
        "Comma-separated facets to count: " + ", ".join(FACETS) + " (or all)",
        {"type": "string"},
    ),
]
_OPERATORS = (*(spec.name for spec in VALUE_FILTERS), SINCE_PARAMETERS[-1], UNTIL_PARAMETERS[-1])
TEXT_PARAMETERS = [
    _param(
        "q",
        'Words, "phrases", -exclude, OR, word*, and '
        + "/".join(f"{name}:" for name in _OPERATORS)
        + " operators",
        {"type": "string", "maxLength": 1000},
    ),
    _param("raw", "1: q is an FTS5 expression, passed through", {"type": "string"}),
    _param("prefix", "0: do not match the last word as a prefix", {"type": "string"}),
]
#: Searches only: the stats of q are not corrected.
TYPOS_PARAMETER = _param(
    "typos",
    "off: when nothing matches, do not search the words within an edit or two instead",
    {"type": "string"},
)


def _field_schema(field: Field) -> dict[str, Any]:
    """The JSON schema of one entry field."""
    schema: dict[str, Any] = {"type": [field.type, "null"] if field.nullable else field.type}
    if field.choices:
        schema["enum"] = list(field.choices)
    return schema


_ENTRY_PROPERTIES: dict[str, Any] = {
    "dialog_entry_id": {"type": "integer"},
    **{field.name: _field_schema(field) for field in FIELDS},
}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["ok", "error", "errors", "status"],
            "properties": {
                "ok": {"const": False},
                "error": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "string"}},
                "status": {"type": "integer"},
                "parameter": {"type": "string", "description": "The parameter at fault"},
                "query": {"type": "string", "description": "The query, repeated"},
            },
        },
        "Entry": {
            "type": "object",
            "required": list(_ENTRY_PROPERTIES),
            "properties": _ENTRY_PROPERTIES,
        },
        "Hit": {
            "allOf": [
                {"$ref": "#/components/schemas/Entry"},
                {
                    "type": "object",
                    "required": ["snippet"],
                    "properties": {
                        "snippet": {
                            "type": "string",
                            "description": "HTML: escaped text, matches in <mark>",
                        }
                    },
                },
            ]
        },
        "EntryWithContext": {
            "allOf": [
                {"$ref": "#/components/schemas/Entry"},
                {
                    "type": "object",
                    "required": ["before", "after"],
                    "properties": {
                        "before": {"type": ["integer", "null"]},
                        "after": {"type": ["integer", "null"]},
                    },
                },
            ]
        },
        "FacetCount": {
            "type": "object",
            "required": ["value", "count"],
            "properties": {"value": {"type": "string"}, "count": {"type": "integer"}},
        },
        "SearchResult": {
            "type": "object",
            "required": ["hits", "total", "page", "per_page", "facets", "took_ms", "source"],
            "properties": {
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "total": {"type": "integer", "minimum": 0},
                "total_exact": {"type": "boolean"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "sort": {"type": "string", "enum": list(SORTS)},
                "facets": {"type": "object", "additionalProperties": _COUNT_LIST},
                "facets_exact": {"type": "boolean"},
                "ranked": {"type": ["integer", "null"]},
                "took_ms": {"type": "number"},
                "index": _INDEX_STATE,
                "source": {"type": "string", "enum": ["database", "files", "meilisearch"]},
                "engine": {
                    "type": "string",
                    "enum": ["topk", "fts5", "files", "meilisearch"],
                    "description": "The index that answered: the top-k index or FTS5 "
                    "(both in the database), the file index, or Meilisearch",
                },
                "corrected": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Words of q that matched nothing, each with the word "
                    'searched instead ({"migraton": "migration"}); empty when none',
                },
                "partial": _PARTIAL,
            },
        },
        "Stats": {
            "type": "object",
            "required": [
                "totals",
                "speakers",
                "targets",
                "moods",
                "files",
                "formats",
                "days",
                "pairs",
                "mode",
            ],  # fmt: skip
            "properties": {
                "totals": {"type": "object"},
                "speakers": _COUNT_LIST,
                "targets": _COUNT_LIST,
                "moods": _COUNT_LIST,
                "mood_families": _COUNT_LIST,
                "files": _COUNT_LIST,
                "formats": _COUNT_LIST,
                "days": _COUNT_LIST,
                "pairs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["speaker", "target", "count"],
                        "properties": {
                            "speaker": {"type": "string"},
                            "target": {"type": "string"},
                            "count": {"type": "integer"},
                        },
                    },
                },
                "database_size_bytes": {"type": ["integer", "null"]},
                "last_sync_utc": {"type": ["integer", "null"]},
                "mode": {"type": "string"},
                "source": {"type": "string"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["ok", "mode"],
            "properties": {
                "ok": {"type": "boolean"},
                "mode": {"type": "string", "enum": ["database", "files", "meilisearch"]},
                "since": {"type": ["string", "null"]},
                "last_error": _NULLABLE_STRING,
                "index": _INDEX_STATE,
                "watcher": {
                    "type": "object",
                    "description": "Whether and how serve follows the dialogs folder",
                    "required": ["mode"],
                    "properties": {
                        "mode": {"type": "string", "enum": ["inotify", "polling", "off"]},
                        "last_event": _NULLABLE_STRING,
                        "pending_files": {"type": "array", "items": {"type": "string"}},
                        "reindexes": {"type": "integer"},
                        "last_reindex": {"type": ["object", "null"]},
                        "reindex_seconds_total": {"type": "number"},
                        "entries_reindexed": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                        },
                        "last_error": _NULLABLE_STRING,
                    },
                },
                "meilisearch_follow": {
                    "type": "object",
                    "description": "With MEILI_URL: the pushes of every change to Meilisearch",
                    "properties": {
                        "url": {"type": "string"},
                        "index": {"type": "string"},
                        "running": {"type": "boolean"},
                        "pushes": {
                            "type": "object",
                            "description": "Push attempts by outcome: ok, failed, busy, skipped",
                            "additionalProperties": {"type": "integer"},
                        },
                        "files_pushed": {"type": "integer"},
                        "documents_pushed": {"type": "integer"},
                        "last_push": {"type": ["object", "null"]},
                        "pending": {
                            "type": "integer",
                            "description": "Changed files asked for and not yet pushed",
                        },
                        "pending_files": {"type": "array", "items": {"type": "string"}},
                        "catch_up_pending": {"type": "boolean"},
                        "pushing": {"type": "boolean"},
                        "waiting_for_database": {"type": "boolean"},
                        "last_error": _NULLABLE_STRING,
                        "last_error_at": _NULLABLE_STRING,
                        "retry_in_seconds": {"type": ["number", "null"]},
                    },
                },
            },
        },
    }
}

_SEARCH_ERRORS = {
    "400": _error(
        "A bad parameter (named in `parameter`), a raw FTS5 expression the store rejects "
        "(`reason` syntax), or one too expensive to run (`reason` too_expensive)"
    ),
    "503": _error("Neither the database nor the files can answer now"),
}

READ_PATHS: dict[str, Any] = {
    "/api/dialog/search": {
        "get": {
            "summary": "Full-text search with filters, facets, sort and paging",
            "parameters": [*TEXT_PARAMETERS, TYPOS_PARAMETER, *FILTER_PARAMETERS],
            "responses": {"200": _ok("One page of hits", "SearchResult"), **_SEARCH_ERRORS},
        }
    },
    "/api/dialog/entries": {
        "get": {
            "summary": "Entries matching the filters, newest first, paginated",
            "parameters": FILTER_PARAMETERS,
            "responses": {"200": _ok("One page of entries", "SearchResult"), **_SEARCH_ERRORS},
        }
    },
    "/api/dialog/entry/{entry_id}": {
        "get": {
            "summary": "One entry, with the ids of its neighbours in the same file",
            "parameters": [
                {
                    "name": "entry_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                }
            ],
            "responses": {
                "200": _ok("The entry", "EntryWithContext"),
                "404": _error("No entry has this id"),
                "503": _error("Neither the database nor the files can answer now"),
            },
        }
    },
    "/api/dialog/stats": {
        "get": {
            "summary": "Counts per speaker, target, mood, file, format and day; pairs; totals",
            "parameters": TEXT_PARAMETERS + FILTER_PARAMETERS,
            "responses": {"200": _ok("The counts", "Stats"), **_SEARCH_ERRORS},
        }
    },
    "/api/dialog/health": {
        "get": {
            "summary": "The mode (database or files) and what a person needs to diagnose it",
            "responses": {
                "200": _ok("The service answers searches", "Health"),
                "503": _ok("No store can answer searches", "Health"),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }  # fmt: skip
    },
}


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Add `extra` into `target` one level down (paths: per method; components: per name)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key].update(value)
        else:
            target[key] = value


def build_document() -> dict[str, Any]:
    """The whole OpenAPI document, read and write endpoints."""
    paths = copy.deepcopy(READ_PATHS)
    components = copy.deepcopy(COMPONENTS)
    if importlib.util.find_spec("searchsvc.web.api_write") is not None:
        writes = importlib.import_module("searchsvc.web.api_write")
        _merge(paths, copy.deepcopy(getattr(writes, "OPENAPI_PATHS", {})))
        _merge(components, copy.deepcopy(getattr(writes, "OPENAPI_COMPONENTS", {})))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dialogsearch",
            "version": "0.1.0",
            "description": "Full-text search over dialog Markdown files. Every error has the "
            'shape {"ok": false, "error": "...", "errors": ["..."], "status": N}.',
        },
        "paths": paths,
        "components": components,
    }
