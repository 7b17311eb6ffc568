"""A stand-in Meilisearch server for the tests: stdlib HTTP in a thread on a free loopback port.

It implements only the routes our code (through the official client) calls, and checks
their requests as Meilisearch's API reference describes them: `Authorization: Bearer
<key>`, `Content-Type: application/json`, known body fields of the right types. Answers
have the real shapes: summarized task objects (202) that become `succeeded` or
`failed` on `GET /tasks/{uid}`, error objects `{message, code, type, link}`, search
answers with `_formatted`, `facetDistribution` and either `estimatedTotalHits` or
`totalHits`/`totalPages`. Matching is plain word matching with a prefix on the last
query word: no typo tolerance, no proximity. Tests can make tasks fail
(`fail_next_task`), keep tasks `processing` for a few polls, stall every request
(`stall`) or take the server down (`down`).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.meili_standin_filter import FilterError, compile_filter

Document = dict[str, Any]

DEFAULT_RANKING_RULES = ["words", "typo", "proximity", "attribute", "sort", "exactness"]
_BUILTIN_RULES = set(DEFAULT_RANKING_RULES)
_CUSTOM_RULE = re.compile(r"^[A-Za-z0-9_.\-]+:(asc|desc)$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
_INDEX_UID = re.compile(r"^[A-Za-z0-9_-]{1,400}$")
_WORD = re.compile(r"\w+")


class ApiError(Exception):
    """An error answer: status plus Meilisearch's error object."""

    def __init__(self, status: int, code: str, message: str, error_type: str = "invalid_request"):
        super().__init__(message)
        self.status = status
        self.body = {
            "message": message,
            "code": code,
            "type": error_type,
            "link": f"https://docs.meilisearch.com/errors#{code}",
        }


def _now() -> str:
    """An RFC 3339 time with nanoseconds, as Meilisearch writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


@dataclass
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class _Index:
    uid: str
    primary_key: str | None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    settings: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)

    def setting(self, name: str) -> Any:
        defaults: dict[str, Any] = {
            "searchableAttributes": ["*"],
            "displayedAttributes": ["*"],
            "filterableAttributes": [],
            "sortableAttributes": [],
            "rankingRules": list(DEFAULT_RANKING_RULES),
            "stopWords": [],
            "synonyms": {},
            "distinctAttribute": None,
            "typoTolerance": {"enabled": True},
            "pagination": {"maxTotalHits": 1000},
            "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
        }
        value = self.settings.get(name)
        return defaults[name] if value is None else value

    def describe(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "primaryKey": self.primary_key,
        }


# Known settings and a check of each value's type (None resets the setting).
def _list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _object_of_ints(*names: str) -> Any:
    def check(value: Any) -> bool:
        return isinstance(value, dict) and all(
            key in names and isinstance(item, int) and not isinstance(item, bool)
            for key, item in value.items()
            if key != "sortFacetValuesBy"
        )

    return check


_SETTINGS: dict[str, Any] = {
    "searchableAttributes": _list_of_str,
    "displayedAttributes": _list_of_str,
    "filterableAttributes": _list_of_str,
    "sortableAttributes": _list_of_str,
    "rankingRules": _list_of_str,
    "stopWords": _list_of_str,
    "synonyms": lambda value: isinstance(value, dict),
    "distinctAttribute": lambda value: isinstance(value, str),
    "typoTolerance": lambda value: isinstance(value, dict),
    "pagination": _object_of_ints("maxTotalHits"),
    "faceting": _object_of_ints("maxValuesPerFacet", "sortFacetValuesBy"),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_SEARCH_PARAMS: dict[str, Any] = {
    "q": lambda v: v is None or isinstance(v, str),
    "offset": _is_int,
    "limit": _is_int,
    "page": _is_int,
    "hitsPerPage": _is_int,
    "filter": lambda v: v is None or isinstance(v, str | list),
    "facets": lambda v: v is None or _list_of_str(v),
    "attributesToRetrieve": _list_of_str,
    "attributesToCrop": lambda v: v is None or _list_of_str(v),
    "cropLength": _is_int,
    "cropMarker": lambda v: isinstance(v, str),
    "attributesToHighlight": lambda v: v is None or _list_of_str(v),
    "highlightPreTag": lambda v: isinstance(v, str),
    "highlightPostTag": lambda v: isinstance(v, str),
    "showMatchesPosition": lambda v: isinstance(v, bool),
    "showRankingScore": lambda v: isinstance(v, bool),
    "sort": lambda v: v is None or _list_of_str(v),
    "matchingStrategy": lambda v: v in ("last", "all", "frequency"),
    "attributesToSearchOn": lambda v: v is None or _list_of_str(v),
}


def _check_fields(body: Any, allowed: dict[str, Any], code_prefix: str) -> None:
    """Refuse unknown fields and values of the wrong type, as Meilisearch does."""
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "Invalid value type: expected an object.")
    for name, value in body.items():
        if name not in allowed:
            expected = ", ".join(f"`{known}`" for known in allowed)
            raise ApiError(
                400, "bad_request", f"Unknown field `{name}`: expected one of {expected}"
            )
        if not allowed[name](value):
            raise ApiError(
                400,
                f"{code_prefix}_{_snake(name)}",
                f"Invalid value type at `.{name}`: {json.dumps(value)[:80]}",
            )


def _fold(word: str) -> str:
    """A word as Meilisearch normalises it: lower case, diacritics removed."""
    decomposed = unicodedata.normalize("NFD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return [_fold(word) for word in _WORD.findall(text)]


@dataclass
class _Query:
    words: list[str]  # every word must match; the last one as a prefix when `prefix`
    prefix: bool
    phrases: list[list[str]]
    excluded: list[list[str]]

    @classmethod
    def parse(cls, q: str) -> _Query:
        phrases: list[list[str]] = []
        excluded: list[list[str]] = []

        def take_phrase(match: re.Match[str]) -> str:
            (excluded if match.group(1) else phrases).append(_words(match.group(2)))
            return " "

        rest = re.sub(r'(-?)"([^"]*)"?', take_phrase, q)
        words: list[str] = []
        for part in rest.split():
            if part.startswith("-") and len(part) > 1:
                excluded.append(_words(part[1:]))
            else:
                words.extend(_words(part))
        prefix = bool(words) and not q.endswith((" ", '"'))
        return cls(words, prefix, [p for p in phrases if p], [e for e in excluded if e])

    def empty(self) -> bool:
        return not (self.words or self.phrases)

    def word_matches(self, query_word: str, token: str, last: bool) -> bool:
        return token == query_word or (last and self.prefix and token.startswith(query_word))


class StandInState:
    """Everything the server holds; every method runs under `lock`."""

    def __init__(self, api_key: str | None):
        self.api_key = api_key
        self.lock = threading.RLock()
        self.indexes: dict[str, _Index] = {}
        self.tasks: list[dict[str, Any]] = []
        self.operations: dict[int, Any] = {}
        self.requests: list[RecordedRequest] = []
        self.failures: list[tuple[str | None, dict[str, Any]]] = []
        self.processing_polls = 0
        self._polls: dict[int, int] = {}

    # --- tasks -----------------------------------------------------------------------

    def enqueue(
        self, index_uid: str | None, task_type: str, details: dict[str, Any], operation: Any
    ) -> dict[str, Any]:
        uid = len(self.tasks)
        task = {
            "uid": uid,
            "batchUid": None,
            "indexUid": index_uid,
            "status": "enqueued",
            "type": task_type,
            "canceledBy": None,
            "details": details,
            "error": None,
            "duration": None,
            "enqueuedAt": _now(),
            "startedAt": None,
            "finishedAt": None,
        }
        self.tasks.append(task)
        self.operations[uid] = operation
        return {
            "taskUid": uid,
            "indexUid": index_uid,
            "status": "enqueued",
            "type": task_type,
            "enqueuedAt": task["enqueuedAt"],
        }

    def process(self, up_to: int | None = None) -> None:
        """Run enqueued tasks in order, up to uid `up_to` (all when None)."""
        for task in self.tasks:
            if up_to is not None and task["uid"] > up_to:
                break
            if task["status"] != "enqueued":
                continue
            task["startedAt"] = _now()
            task["batchUid"] = task["uid"]
            injected = self._injected_failure(task["type"])
            try:
                if injected is not None:
                    raise injected
                self.operations.pop(task["uid"])(task)
                task["status"] = "succeeded"
            except ApiError as error:
                task["status"] = "failed"
                task["error"] = error.body
            task["finishedAt"] = _now()
            task["duration"] = "PT0.001S"

    def _injected_failure(self, task_type: str) -> ApiError | None:
        for position, (wanted, error) in enumerate(self.failures):
            if wanted is None or wanted == task_type:
                del self.failures[position]
                return ApiError(500, error["code"], error["message"], error["type"])
        return None

    def get_task(self, uid: int) -> dict[str, Any]:
        if uid >= len(self.tasks):
            raise ApiError(404, "task_not_found", f"Task `{uid}` not found.")
        polls = self._polls.get(uid, 0)
        self._polls[uid] = polls + 1
        if self.tasks[uid]["status"] == "enqueued" and polls < self.processing_polls:
            return {**self.tasks[uid], "status": "processing", "startedAt": _now()}
        self.process(up_to=uid)
        return self.tasks[uid]

    # --- indexes and settings ---------------------------------------------------------

    def index(self, uid: str) -> _Index:
        self.process()
        if uid not in self.indexes:
            raise ApiError(404, "index_not_found", f"Index `{uid}` not found.")
        return self.indexes[uid]

    def create_index(self, body: Any) -> dict[str, Any]:
        _check_fields(
            body,
            {
                "uid": lambda v: isinstance(v, str),
                "primaryKey": lambda v: v is None or isinstance(v, str),
            },
            "invalid_index",
        )
        if "uid" not in body:
            raise ApiError(400, "missing_index_uid", "Missing field `uid`")
        uid = body["uid"]
        if not _INDEX_UID.match(uid):
            raise ApiError(
                400,
                "invalid_index_uid",
                f"`{uid}` is not a valid index uid. Index uid can be an integer or a string "
                "containing only alphanumeric characters, hyphens (-) and underscores (_), "
                "and can not be more than 512 bytes.",
            )

        def create(task: dict[str, Any]) -> None:
            if uid in self.indexes:
                raise ApiError(409, "index_already_exists", f"Index `{uid}` already exists.")
            self.indexes[uid] = _Index(uid, body.get("primaryKey"))

        return self.enqueue(uid, "indexCreation", {"primaryKey": body.get("primaryKey")}, create)

    def delete_index(self, uid: str) -> dict[str, Any]:
        def delete(task: dict[str, Any]) -> None:
            if uid not in self.indexes:
                raise ApiError(404, "index_not_found", f"Index `{uid}` not found.")
            task["details"]["deletedDocuments"] = len(self.indexes.pop(uid).documents)

        return self.enqueue(uid, "indexDeletion", {"deletedDocuments": None}, delete)

    def update_settings(self, uid: str, body: Any) -> dict[str, Any]:
        _check_fields(body, _SETTINGS, "invalid_settings")
        for rule in body.get("rankingRules") or []:
            if rule not in _BUILTIN_RULES and not _CUSTOM_RULE.match(rule):
                raise ApiError(
                    400,
                    "invalid_settings_ranking_rules",
                    f"Invalid value at `.rankingRules[0]`: `{rule}` ranking rule is invalid. "
                    "Valid ranking rules are words, typo, sort, proximity, attribute, "
                    "exactness and custom ranking rules.",
                )

        def update(task: dict[str, Any]) -> None:
            index = self._index_for_write(uid)
            index.settings.update(body)
            index.updated_at = _now()

        return self.enqueue(uid, "settingsUpdate", dict(body), update)

    def settings(self, uid: str) -> dict[str, Any]:
        index = self.index(uid)
        return {name: index.setting(name) for name in _SETTINGS}

    def _index_for_write(self, uid: str, primary_key: str | None = None) -> _Index:
        if uid not in self.indexes:  # Meilisearch creates a missing index on a write
            self.indexes[uid] = _Index(uid, primary_key)
        return self.indexes[uid]

    # --- documents --------------------------------------------------------------------

    def add_documents(self, uid: str, body: Any, primary_key: str | None) -> dict[str, Any]:
        documents = [body] if isinstance(body, dict) else body
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise ApiError(
                400,
                "malformed_payload",
                "The `json` payload provided is malformed. `Couldn't serialize document "
                "value: expected an object or an array of objects`.",
            )

        def add(task: dict[str, Any]) -> None:
            index = self._index_for_write(uid, primary_key)
            if index.primary_key is None:
                index.primary_key = primary_key or "id"
            elif primary_key and primary_key != index.primary_key:
                raise ApiError(
                    400,
                    "index_primary_key_already_exists",
                    f"Index `{uid}`: Index already has a primary key: `{index.primary_key}`.",
                )
            staged: dict[str, Document] = {}
            for document in documents:
                if index.primary_key not in document:
                    raise ApiError(
                        400,
                        "missing_document_id",
                        f"Document doesn't have a `{index.primary_key}` attribute: "
                        f"`{json.dumps(document)[:200]}`.",
                    )
                doc_id = document[index.primary_key]
                if isinstance(doc_id, int) and not isinstance(doc_id, bool) and doc_id >= 0:
                    doc_id = str(doc_id)
                if not isinstance(doc_id, str) or not _ID.match(doc_id):
                    raise ApiError(
                        400,
                        "invalid_document_id",
                        f"Document identifier `{json.dumps(doc_id)}` is invalid. A document "
                        "identifier can be of type integer or string, only composed of "
                        "alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores "
                        "(_), and can not be more than 511 bytes.",
                    )
                staged[doc_id] = document
            index.documents.update(staged)  # replaces whole documents, like POST does
            task["details"]["indexedDocuments"] = len(staged)

        return self.enqueue(
            uid,
            "documentAdditionOrUpdate",
            {"receivedDocuments": len(documents), "indexedDocuments": None},
            add,
        )

    def delete_documents_by_filter(self, uid: str, body: Any) -> dict[str, Any]:
        _check_fields(body, {"filter": lambda v: isinstance(v, str | list)}, "invalid_document")
        if "filter" not in body:
            raise ApiError(400, "missing_document_filter", "Missing field `filter`")
        expression = body["filter"]
        # Syntax is checked at once; attributes when the task runs, as Meilisearch does.
        try:
            compile_filter(expression, _AnyAttribute())
        except FilterError as error:
            raise ApiError(400, "invalid_document_filter", str(error)) from error

        def delete(task: dict[str, Any]) -> None:
            index = self._index_for_write(uid)
            try:
                predicate = compile_filter(expression, index.setting("filterableAttributes"))
            except FilterError as error:
                raise ApiError(400, "invalid_document_filter", str(error)) from error
            gone = [key for key, document in index.documents.items() if predicate(document)]
            for key in gone:
                del index.documents[key]
            task["details"]["deletedDocuments"] = len(gone)

        return self.enqueue(
            uid,
            "documentDeletion",
            {"providedIds": 0, "originalFilter": json.dumps(expression), "deletedDocuments": None},
            delete,
        )

    def delete_all_documents(self, uid: str) -> dict[str, Any]:
        def delete(task: dict[str, Any]) -> None:
            index = self._index_for_write(uid)
            task["details"]["deletedDocuments"] = len(index.documents)
            index.documents.clear()

        return self.enqueue(
            uid,
            "documentDeletion",
            {"providedIds": 0, "originalFilter": None, "deletedDocuments": None},
            delete,
        )

    def get_document(self, uid: str, doc_id: str) -> Document:
        document = self.index(uid).documents.get(doc_id)
        if document is None:
            raise ApiError(404, "document_not_found", f"Document `{doc_id}` not found.")
        return document

    def fetch_documents(self, uid: str, body: Any) -> dict[str, Any]:
        allowed = {
            "offset": _is_int,
            "limit": _is_int,
            "fields": lambda v: v is None or _list_of_str(v),
            "filter": lambda v: v is None or isinstance(v, str | list),
            "retrieveVectors": lambda v: isinstance(v, bool),
            "ids": lambda v: v is None or isinstance(v, list),
            "sort": lambda v: v is None or _list_of_str(v),
        }
        _check_fields(body, allowed, "invalid_document")
        index = self.index(uid)
        try:
            predicate = compile_filter(body.get("filter"), index.setting("filterableAttributes"))
        except FilterError as error:
            raise ApiError(400, "invalid_document_filter", str(error)) from error
        matching = [d for d in index.documents.values() if predicate(d)]
        offset, limit = body.get("offset", 0), body.get("limit", 20)
        fields = body.get("fields")
        page = [
            {k: v for k, v in d.items() if fields is None or "*" in fields or k in fields}
            for d in matching[offset : offset + limit]
        ]
        return {"results": page, "offset": offset, "limit": limit, "total": len(matching)}

    # --- search -----------------------------------------------------------------------

    def search(self, uid: str, body: Any) -> dict[str, Any]:
        _check_fields(body, _SEARCH_PARAMS, "invalid_search")
        index = self.index(uid)
        filterable = index.setting("filterableAttributes")
        try:
            predicate = compile_filter(body.get("filter"), filterable)
        except FilterError as error:
            raise ApiError(400, "invalid_search_filter", str(error)) from error
        for facet in body.get("facets") or []:
            if facet not in filterable:
                raise ApiError(
                    400,
                    "invalid_search_facets",
                    f"Invalid facet distribution, attribute `{facet}` is not filterable. "
                    f"The available filterable attributes are `{', '.join(filterable)}`.",
                )
        sort_keys = self._sort_keys(index, body.get("sort") or [])
        query = _Query.parse(body.get("q") or "")
        searchable = index.setting("searchableAttributes")
        scored = []
        for position, document in enumerate(index.documents.values()):
            if not predicate(document):
                continue
            rank = self._attribute_rank(document, query, searchable)
            if rank is None:
                continue
            scored.append((rank, position, document))
        rules = [r for r in index.setting("rankingRules") if _CUSTOM_RULE.match(r)]
        custom = [(r.rsplit(":", 1)[0], r.endswith(":desc")) for r in rules]

        def order(item: tuple[int, int, Document]) -> tuple[Any, ...]:
            rank, position, document = item
            keys: list[Any] = [rank]
            for attribute, descending in sort_keys + custom:
                value = document.get(attribute)
                missing = not isinstance(value, int | float)
                number = float(value) if not missing else 0.0
                keys.append((missing, -number if descending else number))
            keys.append(position)
            return tuple(keys)

        scored.sort(key=order)
        matching = [document for _, _, document in scored]
        cap = index.setting("pagination")["maxTotalHits"]
        answer: dict[str, Any] = {"query": body.get("q") or ""}
        if "page" in body or "hitsPerPage" in body:
            per_page = body.get("hitsPerPage", 20)
            page = body.get("page", 1)
            total = min(len(matching), cap)
            window = matching[:total][(max(page, 1) - 1) * per_page :][:per_page]
            if page == 0:
                window = []
            answer.update(
                hitsPerPage=per_page,
                page=page,
                totalPages=-(-total // per_page) if per_page else 0,
                totalHits=total,
            )
        else:
            offset, limit = body.get("offset", 0), body.get("limit", 20)
            window = matching[:cap][offset : offset + limit]
            answer.update(limit=limit, offset=offset, estimatedTotalHits=min(len(matching), cap))
        answer["hits"] = [self._hit(document, query, body) for document in window]
        answer["processingTimeMs"] = 0
        if body.get("facets") is not None:
            answer["facetDistribution"], answer["facetStats"] = self._facets(
                index, matching, body["facets"]
            )
        return answer

    def multi_search(self, body: Any) -> dict[str, Any]:
        _check_fields(
            body,
            {"queries": lambda v: isinstance(v, list), "federation": lambda v: v is None},
            "invalid_multi_search",
        )
        results = []
        for position, query in enumerate(body.get("queries", [])):
            if not isinstance(query, dict) or "indexUid" not in query:
                raise ApiError(
                    400,
                    "missing_index_uid",
                    f"Missing field `indexUid` inside `.queries[{position}]`",
                )
            params = {k: v for k, v in query.items() if k != "indexUid"}
            try:
                answer = self.search(query["indexUid"], params)
            except ApiError as error:
                error.body["message"] = f"Inside `.queries[{position}]`: {error.body['message']}"
                raise
            results.append({"indexUid": query["indexUid"], **answer})
        return {"results": results}

    def _sort_keys(self, index: _Index, sort: list[str]) -> list[tuple[str, bool]]:
        keys = []
        sortable = index.setting("sortableAttributes")
        for item in sort:
            attribute, _, direction = item.partition(":")
            if direction not in ("asc", "desc"):
                raise ApiError(
                    400,
                    "invalid_search_sort",
                    f"Invalid syntax for the sort parameter: expected expression ending by "
                    f"`:asc` or `:desc`, found `{item}`.",
                )
            if attribute not in sortable:
                raise ApiError(
                    400,
                    "invalid_search_sort",
                    f"Attribute `{attribute}` is not sortable. Available sortable attributes "
                    f"are: `{', '.join(sortable)}`.",
                )
            keys.append((attribute, direction == "desc"))
        return keys

    def _searched(self, document: Document, searchable: list[str]) -> list[tuple[str, str]]:
        names = [k for k in document if k != "id"] if searchable == ["*"] else searchable
        return [(name, str(document[name])) for name in names if document.get(name) is not None]

    def _attribute_rank(
        self, document: Document, query: _Query, searchable: list[str]
    ) -> int | None:
        """None when the document does not match; else the first attribute that matches."""
        if query.empty() and not query.excluded:
            return 0
        fields = self._searched(document, searchable)
        tokens = [_words(text) for _, text in fields]
        everything = [t for field_tokens in tokens for t in field_tokens]
        for excluded in query.excluded:
            if _contains_phrase(everything, excluded):
                return None
        if query.empty():
            return 0
        for i, word in enumerate(query.words):
            last = i == len(query.words) - 1
            if not any(query.word_matches(word, t, last) for t in everything):
                return None
        for phrase in query.phrases:
            if not any(_contains_phrase(field_tokens, phrase) for field_tokens in tokens):
                return None
        for rank, field_tokens in enumerate(tokens):
            if any(
                query.word_matches(w, t, i == len(query.words) - 1)
                for i, w in enumerate(query.words)
                for t in field_tokens
            ) or any(_contains_phrase(field_tokens, p) for p in query.phrases):
                return rank
        return len(tokens)

    def _hit(self, document: Document, query: _Query, body: dict[str, Any]) -> Document:
        retrieve = body.get("attributesToRetrieve") or ["*"]
        hit = {k: v for k, v in document.items() if "*" in retrieve or k in retrieve}
        highlight = set(body.get("attributesToHighlight") or [])
        crop = set(body.get("attributesToCrop") or [])
        if not highlight and not crop:
            return hit
        pre, post = body.get("highlightPreTag", "<em>"), body.get("highlightPostTag", "</em>")
        formatted: dict[str, Any] = {}
        for name, value in hit.items():
            if value is None:
                formatted[name] = None
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            if name in crop or "*" in crop:
                text = _crop(text, query, body.get("cropLength", 10), body.get("cropMarker", "…"))
            if name in highlight or "*" in highlight:
                text = _highlight(text, query, pre, post)
            # Meilisearch gives numbers back as strings in `_formatted`.
            formatted[name] = text if isinstance(value, str) or name in highlight else str(value)
        hit["_formatted"] = formatted
        return hit

    def _facets(
        self, index: _Index, matching: list[Document], facets: list[str]
    ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
        limit = index.setting("faceting")["maxValuesPerFacet"]
        distribution: dict[str, dict[str, int]] = {}
        stats: dict[str, dict[str, float]] = {}
        for facet in facets:
            counts: dict[str, int] = {}
            numbers: list[float] = []
            for document in matching:
                value = document.get(facet)
                values = value if isinstance(value, list) else [value]
                for item in {str(v): v for v in values if v is not None}.values():
                    counts[str(item)] = counts.get(str(item), 0) + 1
                    if isinstance(item, int | float) and not isinstance(item, bool):
                        numbers.append(float(item))
            by_count = index.setting("faceting").get("sortFacetValuesBy", {}).get("*") == "count"
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]) if by_count else kv)
            distribution[facet] = dict(ordered[:limit])
            if numbers:
                stats[facet] = {"min": min(numbers), "max": max(numbers)}
        return distribution, stats


class _AnyAttribute(list):  # type: ignore[type-arg]
    """A filterable-attribute list that contains every name (syntax-only check)."""

    def __contains__(self, item: object) -> bool:
        return True


def _contains_phrase(tokens: list[str], phrase: list[str]) -> bool:
    return any(tokens[i : i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))


def _matched_length(token: str, query: _Query) -> int:
    """How many characters of `token` a query word matches (0: none)."""
    lowered = _fold(token)
    best = 0
    for i, word in enumerate(query.words):
        if query.word_matches(word, lowered, i == len(query.words) - 1):
            best = max(best, len(word))
    for phrase in query.phrases:
        if lowered in phrase:
            best = max(best, len(token))
    return best


def _highlight(text: str, query: _Query, pre: str, post: str) -> str:
    """Wrap matched words (the matched prefix of the last word) in the tags."""
    out, last = [], 0
    for match in _WORD.finditer(text):
        length = _matched_length(match.group(), query)
        if length:
            start = match.start()
            out.append(text[last:start] + pre + text[start : start + length] + post)
            last = start + length
    out.append(text[last:])
    return "".join(out)


def _crop(text: str, query: _Query, length: int, marker: str) -> str:
    """About `length` words of `text` around the first match, markers where cut."""
    words = list(_WORD.finditer(text))
    if len(words) <= length:
        return text
    first = next((i for i, m in enumerate(words) if _matched_length(m.group(), query)), 0)
    start = max(0, min(first - length // 2, len(words) - length))
    end = start + length
    begin = words[start].start() if start else 0
    finish = words[end - 1].end() if end < len(words) else len(text)
    return (marker if start else "") + text[begin:finish] + (marker if end < len(words) else "")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        standin = self.server.standin
        if standin.stalled.is_set():
            standin.released.wait(timeout=60)
            self.close_connection = True
            return  # no answer: the client has given up by now
        split = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = standin.state
        try:
            with state.lock:
                body = self._body(method, split.path, raw)
                state.requests.append(
                    RecordedRequest(
                        method, split.path, parse_qs(split.query), dict(self.headers), body
                    )
                )
                status, answer = self._route(method, split.path, parse_qs(split.query), body)
        except ApiError as error:
            status, answer = error.status, error.body
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self, method: str, path: str, raw: bytes) -> Any:
        """Check authorization and content type; the parsed JSON body (None for none)."""
        state = self.server.standin.state
        if path != "/health" and state.api_key is not None:
            authorization = self.headers.get("Authorization")
            if not authorization:
                raise ApiError(
                    401,
                    "missing_authorization_header",
                    "The Authorization header is missing. It must use the bearer "
                    "authorization method.",
                    "auth",
                )
            if authorization != f"Bearer {state.api_key}":
                raise ApiError(403, "invalid_api_key", "The provided API key is invalid.", "auth")
        if method not in ("POST", "PUT", "PATCH"):
            return None
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        accepted = "`application/json`, `application/x-ndjson`, `text/csv`"
        if not content_type:
            raise ApiError(
                415,
                "missing_content_type",
                f"A Content-Type header is missing. Accepted values for the Content-Type "
                f"header are: {accepted}",
            )
        if content_type != "application/json":
            raise ApiError(
                415,
                "invalid_content_type",
                f"The Content-Type `{content_type}` is invalid. Accepted values for the "
                f"Content-Type header are: {accepted}",
            )
        try:
            return json.loads(raw or b"null")
        except ValueError as error:
            raise ApiError(
                400, "malformed_payload", f"The json payload provided is malformed. `{error}`."
            ) from error

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        state = self.server.standin.state
        parts = [part for part in path.split("/") if part]
        match method, parts:
            case "GET", ["health"]:
                return 200, {"status": "available"}
            case "GET", ["version"]:
                return 200, {"pkgVersion": "1.12.0-standin", "commitSha": "", "commitDate": ""}
            case "GET", ["tasks", uid] if uid.isdigit():
                return 200, state.get_task(int(uid))
            case "POST", ["indexes"]:
                return 202, state.create_index(body)
            case "GET", ["indexes", uid]:
                return 200, state.index(uid).describe()
            case "DELETE", ["indexes", uid]:
                return 202, state.delete_index(uid)
            case "PATCH", ["indexes", uid, "settings"]:
                return 202, state.update_settings(uid, body)
            case "GET", ["indexes", uid, "settings"]:
                return 200, state.settings(uid)
            case "POST", ["indexes", uid, "documents"]:
                primary_key = (query.get("primaryKey") or [None])[0]
                return 202, state.add_documents(uid, body, primary_key)
            case "DELETE", ["indexes", uid, "documents"]:
                return 202, state.delete_all_documents(uid)
            case "POST", ["indexes", uid, "documents", "delete"]:
                return 202, state.delete_documents_by_filter(uid, body)
            case "GET", ["indexes", uid, "documents", doc_id]:
                return 200, state.get_document(uid, doc_id)
            case "POST", ["indexes", uid, "documents", "fetch"]:
                return 200, state.fetch_documents(uid, body)
            case "POST", ["indexes", uid, "search"]:
                return 200, state.search(uid, body)
            case "POST", ["multi-search"]:
                return 200, state.multi_search(body)
        raise ApiError(
            404, "not_found", f"The route {method} {path} is not one the stand-in serves."
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: MeiliStandIn):
        super().__init__(address, _Handler)
        self.standin = standin


class MeiliStandIn:
    """The stand-in server: `with MeiliStandIn() as meili: ... meili.url, meili.api_key`."""

    def __init__(self, api_key: str | None = "standin-master-key"):
        self.api_key = api_key
        self.state = StandInState(api_key)
        self.stalled = threading.Event()
        self.released = threading.Event()
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MeiliStandIn:
        """Listen (on a free port the first time, the same port after `down`)."""
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: every request now fails to connect."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def up(self) -> None:
        """Listen again on the same port, with the same state."""
        self.start()

    def stall(self) -> None:
        """Make every request hang (until `stop`): clients see their timeout."""
        self.stalled.set()

    def stop(self) -> None:
        """Release stalled requests and stop listening."""
        self.released.set()
        self.down()

    def __enter__(self) -> MeiliStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- knobs and inspection -----------------------------------------------------------

    def fail_next_task(
        self,
        task_type: str | None = None,
        *,
        code: str = "internal",
        message: str = "The stand-in was told to fail this task.",
        error_type: str = "internal",
    ) -> None:
        """Make the next task (of `task_type`, if given) end `failed` with this error."""
        with self.state.lock:
            self.state.failures.append(
                (task_type, {"code": code, "message": message, "type": error_type})
            )

    def set_processing_polls(self, polls: int) -> None:
        """Report each task `processing` for its first `polls` polls."""
        with self.state.lock:
            self.state.processing_polls = polls

    def documents(self, index_uid: str) -> dict[str, Document]:
        """The documents an index holds, by id, after every enqueued task ran."""
        with self.state.lock:
            self.state.process()
            index = self.state.indexes.get(index_uid)
            return dict(index.documents) if index else {}

    def requests(self, method: str | None = None, path_suffix: str = "") -> list[RecordedRequest]:
        """Requests received, optionally only one method and a path ending."""
        with self.state.lock:
            return [
                r
                for r in self.state.requests
                if (method is None or r.method == method) and r.path.endswith(path_suffix)
            ]

    def tasks(self) -> list[dict[str, Any]]:
        """Every task as `GET /tasks/{uid}` would show it now."""
        with self.state.lock:
            return [dict(task) for task in self.state.tasks]
