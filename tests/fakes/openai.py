"""A loopback fake of an OpenAI-compatible API: `GET /v1/models` with Bearer auth.

Chat completions (`POST /v1/chat/completions`, scriptable streaming and failures) live in this same server.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.base import FakeServer


class FakeOpenAI(FakeServer):
    """Models endpoint of an OpenAI-style server. `api_key=None` accepts any (or no) key."""

    def __init__(
        self,
        models: list[str] | None = None,
        api_key: str | None = "sk-test-openai-key-1234",
        *,
        delay_s: float = 0.0,
        models_status: int = 200,
        extra_fields: dict[str, dict[str, object]] | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__()
        self.models = models if models is not None else ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
        self.api_key = api_key
        self.delay_s = delay_s
        self.models_status = models_status
        self.extra_fields = extra_fields or {}
        self.retry_after = retry_after

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._models)
        self.add_chat_routes(app)

    def add_chat_routes(self, app: web.Application) -> None:
        """Chat completion routes; extended by the chat part of this fake."""

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(
                {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                           "param": None, "code": "invalid_api_key"}},
                status=401,
            )
        return None

    async def _models(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if self.models_status != 200:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.json_response(
                {"error": {"message": f"status {self.models_status}", "type": "server_error"}},
                status=self.models_status,
                headers=headers,
            )
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1715367049, "owned_by": "system",
                     **self.extra_fields.get(m, {})}
                    for m in self.models
                ],
            }
        )
