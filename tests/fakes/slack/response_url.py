"""response_url endpoints hosted by the fake: minted for commands and interactions, answered as Slack
does (5 uses, replace_original, delete_original, in_channel, ephemeral).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.slack.models import Edit, Ephemeral, ResponseUrlPost, _loads_maybe, _ResponseUrl, _truthy

RESPONSE_URL_MAX_USES = 5


class ResponseUrlMixin:
    """Part of FakeSlack (server.py)."""

    def response_url(
        self, *, channel: str, user: str, message_ts: str | None = None, team_id: str | None = None
    ) -> str:
        """A response_url served by this fake; what the app posts there lands in `response_url_posts`."""
        rid = secrets.token_hex(8)
        with self._state:
            self._response_urls[rid] = _ResponseUrl(rid, team_id or self.workspace().team_id, channel, user, message_ts)
        return f"{self.url}/response_url/{rid}"

    # ------------------------------------------------------------------------------ response_url

    async def _response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        raw = await request.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = dict(parse_qsl(raw.decode()))
            body = _loads_maybe(body.get("payload", body))
        at = time.monotonic()
        with self._state:
            target = self._response_urls.get(rid)
            status, text = 200, "ok"
            if target is None:
                status, text = 404, "no_service"
            elif target.uses >= RESPONSE_URL_MAX_USES:  # Slack allows 5 responses per response_url
                status, text = 404, "used_url"
            elif not isinstance(body, dict) or not (
                body.get("text") or body.get("blocks") or body.get("delete_original")
            ):
                status, text = 400, "no_text"
            else:
                target.uses += 1
                self._apply_response(target, body, at)
            self.response_url_posts.append(ResponseUrlPost(rid, body if isinstance(body, dict) else {}, at, status))
        return web.Response(status=status, text=text)

    def _apply_response(self, target: _ResponseUrl, body: dict[str, Any], at: float) -> None:
        ws = self.workspace(target.team_id)
        ch = self._channel(target.channel, ws.team_id, create=True)
        original = self._messages.get(ch.id, {}).get(target.message_ts or "")
        text = str(body.get("text") or "")
        blocks = body.get("blocks")
        if _truthy(body.get("delete_original")) and original is not None:
            original.deleted = True
        elif _truthy(body.get("replace_original")) and original is not None:
            original.text, original.blocks = text, blocks
            original.edits.append(Edit("response_url", text, blocks, at))
        elif body.get("response_type") == "in_channel":
            self._new_bot_message(ws, ch, {"blocks": blocks, "thread_ts": body.get("thread_ts")}, text, at)
        else:
            self.ephemerals.append(
                Ephemeral(ch.id, target.user, text, blocks, body.get("thread_ts"), self.clock.next(), "response_url")
            )
