"""waitress's own error answers in the API's error shape, with the security headers.

waitress refuses some requests in its parser, before the app sees them: a request
line or headers over `max_request_header_size` (431), a malformed request (400),
a body over `max_request_body_size` (413), an unknown transfer encoding (501).
Its plain-text answer would carry neither the CSP nor `X-Content-Type-Options`,
nor the one error shape; `use_json_errors(server)` makes its channels answer
those as the app does.
"""

from __future__ import annotations

import json
from typing import Any

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from searchsvc.web.errors import error_body
from searchsvc.web.security_headers import SECURITY_HEADERS


class JsonErrorTask(ErrorTask):
    """waitress's error answer as `{"ok": false, "error": ..., "status": ...}` JSON."""

    def execute(self) -> None:
        """Write the status, the security headers and the canonical error body."""
        error = self.request.error
        message = f"{error.reason}: {error.body}" if error.body else error.reason
        body = json.dumps(error_body(error.code, message)).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.response_headers.extend(SECURITY_HEADERS.items())
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    """waitress's HTTP channel, answering its own errors with JsonErrorTask."""

    error_task_class = JsonErrorTask


def use_json_errors(server: Any) -> None:
    """Make a server from waitress.create_server answer its own errors as the app does."""
    server.channel_class = JsonErrorChannel
