"""REST plumbing: one aiohttp handler per ROUTES entry that records the call (`api_calls()`), checks the
bot token, applies faults and buckets (faults.py), then runs `_do_<action>`; unknown routes answer 404.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord.models import Call, DiscordError, Violation, _json_response, _RateLimited
from tests.fakes.discord.routes import _NO_AUTH


class RestMixin:
    """Part of FakeDiscord (server.py): serving and recording REST calls."""

    def _rest_handler(self, template: str, action: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve_rest(request, template, action)

        return handle

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        """Endpoints the fake lacks answer Discord's 404 and show up as action "unknown" in api_calls()."""
        body = {"message": "404: Not Found", "code": 0}
        path = re.sub(r"^/api/v\d+", "", request.path)
        call = Call(
            request.method,
            path,
            f"{request.method} {path}",
            "unknown",
            {},
            dict(request.query),
            None,
            [],
            dict(request.headers),
            time.time(),
            404,
            body,
        )
        with self._mu:
            self.api.append(call)
        return _json_response(body, status=404, headers={"Via": "1.1 google"})

    async def _serve_rest(self, request: web.Request, template: str, action: str) -> web.StreamResponse:
        params = {k: v for k, v in request.match_info.items() if k != "version"}
        if params.get("message_id") == "@original":
            action = action.replace("webhook_message", "original")
        body, files = self._parse_body(request, await request.read())
        path = request.path.split(f"/api/v{request.match_info['version']}", 1)[1]
        call = Call(
            request.method,
            path,
            f"{request.method} {template}",
            action,
            params,
            dict(request.query),
            body,
            files,
            dict(request.headers),
            time.time(),
        )
        with self._mu:
            self.api.append(call)
        headers = {"Via": "1.1 google"}
        try:
            if action not in _NO_AUTH and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            fault = self._match_fault(call)
            if fault is not None:
                call.status, call.response = fault.status, fault.body
                return _json_response(fault.body, status=fault.status, headers=headers | fault.headers)
            headers |= self._consume_bucket(call)
            handler: Callable[[Call], Awaitable[Any]] = getattr(self, f"_do_{action}")
            result = await handler(call)
        except DiscordError as err:
            return self._error(call, err, headers)
        except Exception as exc:  # a bug in the fake: fail fast (a 500 would make discord.py retry 5 times)
            self.violations.append(Violation("fake_error", repr(exc), True, call))
            return self._error(call, DiscordError(400, 0, f"fake discord error: {exc!r}"), headers)
        if result is None:
            call.status = 204
            return web.Response(status=204, headers=headers)
        call.status, call.response = 200, result
        return _json_response(result, headers=headers)

    @staticmethod
    def _error(call: Call, err: DiscordError, headers: dict[str, str]) -> web.Response:
        call.status, call.response = err.status, err.body()
        if isinstance(err, _RateLimited):
            headers = headers | err.headers
        return _json_response(err.body(), status=err.status, headers=headers)

    @staticmethod
    def _parse_body(request: web.Request, raw: bytes) -> tuple[Any, list[dict[str, Any]]]:
        ctype = request.headers.get("Content-Type", "")
        if not raw:
            return None, []
        if ctype.startswith("multipart/"):
            # discord.py sends files as multipart with the JSON in a `payload_json` part.
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
            )
            body: Any = None
            files: list[dict[str, Any]] = []
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                raw_part = part.get_payload(decode=True)
                data = raw_part if isinstance(raw_part, bytes) else b""
                if name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append(
                        {
                            "field": name,
                            "filename": part.get_filename(),
                            "size": len(data),
                            "content_type": part.get_content_type(),
                            "data": data,
                        }
                    )
            return body, files
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode(errors="replace"), []

    # ------------------------------------------------------------------ inspection
    async def wait_for_call(self, action: str, *, count: int = 1, timeout: float = 5.0) -> Call:
        """The `count`-th completed call of `action` (an action name from ROUTES, e.g. "edit_original")."""
        await self.wait_until(lambda: len(self.api_calls(action)) >= count, timeout)
        return self.api_calls(action)[count - 1]

    def api_calls(self, action: str | None = None, *, method: str | None = None, path: str | None = None) -> list[Call]:
        """Completed REST calls; `path` is a regex searched in the path relative to /api/v10."""
        with self._mu:
            return [
                c
                for c in self.api
                if c.status
                and (action is None or c.action == action)
                and (method is None or c.method == method)
                and (path is None or re.search(path, c.path))
            ]
