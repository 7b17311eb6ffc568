"""Bearer-token authentication for the write endpoints; reads stay open.

The token comes from app.config["API_TOKEN"] (DIALOGSEARCH_API_TOKEN). When
none is configured, `serve` calls `ensure_api_token`, which generates one and
returns it so that serve prints it once. The token is compared in constant
time and never logged or echoed in an error.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from flask import current_app, request

from searchsvc.errors import ApiError

TOKEN_CONFIG_KEY = "API_TOKEN"
TOKEN_ENV_VAR = "DIALOGSEARCH_API_TOKEN"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dialogsearch"'}


def generate_token() -> str:
    """A new random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def ensure_api_token(config: MutableMapping[str, Any]) -> str | None:
    """Generate and store a token when `config` has none; return it (None when one was set).

    `serve` prints a returned token once, so that the person who started the
    service can write; it is never written anywhere else.
    """
    if config.get(TOKEN_CONFIG_KEY):
        return None
    token = generate_token()
    config[TOKEN_CONFIG_KEY] = token
    return token


def check_bearer(authorization: str | None, token: str | None) -> None:
    """Accept `Authorization: Bearer <token>` or raise ApiError.

    :raise 401: no Authorization header, or not a Bearer one.
    :raise 403: a wrong token, or no token configured (writes disabled).
    """
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(
            401,
            "Writes need an API token: send the header 'Authorization: Bearer <token>'",
            headers=_CHALLENGE,
        )
    if not token:
        raise ApiError(
            403,
            f"Writes are disabled: no API token is configured (set {TOKEN_ENV_VAR})",
        )
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        raise ApiError(403, "The API token is not valid for writes")


def require_token() -> None:
    """before_request hook for write blueprints: check the request's bearer token."""
    check_bearer(request.headers.get("Authorization"), current_app.config.get(TOKEN_CONFIG_KEY))
