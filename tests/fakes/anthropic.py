"""A loopback fake of Anthropic's model list (`GET /v1/models`, x-api-key auth, cursor pagination)."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.base import FakeServer


class FakeAnthropic(FakeServer):
    def __init__(self, models: list[str] | None = None, api_key: str = "sk-ant-test-key-0000") -> None:
        super().__init__()
        self.models = models if models is not None else ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
        self.api_key = api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != self.api_key:
            return web.json_response(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                status=401,
            )
        if not request.headers.get("anthropic-version"):
            return web.json_response(
                {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "anthropic-version required"},
                },
                status=400,
            )
        limit = int(request.query.get("limit", "20"))
        after = request.query.get("after_id")
        ids = self.models
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-09-29T00:00:00Z",
            }
            for m in page
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": len(ids) > limit,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )
