"""Bearer-token authentication for writes (and /metrics beyond loopback); reads stay open.

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

from searchsvc.exceptions import NotAuthenticated, PermissionDenied

TOKEN_CONFIG_KEY = "API_TOKEN"
TOKEN_ENV_VAR = "DIALOGSEARCH_API_TOKEN"


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


def check_bearer(authorization: str | None, token: str | None, *, what: str = "Writes") -> None:
    """Accept an `Authorization` value of `Bearer <token>`, else raise.

    `what` names what the token guards in the messages ("Writes", or "Metrics").

    :raise NotAuthenticated: no Authorization value, or not a Bearer one.
    :raise PermissionDenied: a wrong token, or no token configured (writes disabled).
    """
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise NotAuthenticated(
            f"{what} need an API token: send the header 'Authorization: Bearer <token>'"
        )
    if not token:
        raise PermissionDenied(
            f"{what} are disabled: no API token is configured (set {TOKEN_ENV_VAR})"
        )
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        raise PermissionDenied(f"The API token is not valid for {what.lower()}")
