"""The Web API: serving `/api/<method>` (parsing, auth, faults, rate limits, delays) and the methods
api.test, auth.test, chat.postMessage/update/delete/postEphemeral/getPermalink, conversations.info/
replies/history/open, users.info, reactions.add/remove. Streaming, views, assistant threads and
response_url have their own modules.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from typing import Any

from aiohttp import web

from tests.fakes.slack.blocks import _check_text_and_blocks
from tests.fakes.slack.models import ApiCall, Edit, Ephemeral, SlackError, Workspace, _Fault, _loads_maybe

# Params that Slack accepts as JSON strings in form bodies (slack-sdk sends some methods as forms).
_JSON_PARAMS = {"blocks", "attachments", "metadata", "chunks", "view", "prompts", "users"}


class WebApiMixin:
    """Part of FakeSlack (server.py); the method table is FakeSlack._handlers."""

    # ------------------------------------------------------------------------------ fault injection

    def fail_next(
        self, method: str, error: str = "internal_error", *, times: int = 1, status: int = 200, **extra: Any
    ) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error, **extra}`."""
        with self._state:
            self._faults[method].extend(_Fault(error, status, 0, extra) for _ in range(times))

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with `Retry-After: retry_after`."""
        with self._state:
            self._faults[method].extend(_Fault(None, 429, retry_after, {}) for _ in range(times))

    def set_rate_limit(
        self,
        method: str,
        calls: int,
        per_seconds: float,
        *,
        scope: str = "workspace",
        retry_after: int | None = None,
    ) -> None:
        """Enforce a sliding-window limit (scope "workspace" or "channel"), answering 429 beyond it."""
        with self._state:
            self._limits[method] = (calls, per_seconds, scope, retry_after)

    def enforce_documented_limits(self) -> None:
        """Slack's published limits for the methods a reply uses (docs.slack.dev "Rate limits" and each method's
        page): chat.postMessage one a second per channel, chat.update Tier 3 (50 a minute per workspace),
        chat.delete and reactions.add Tier 3, chat.postEphemeral, chat.appendStream and users.info Tier 4 (100 a
        minute), chat.stopStream Tier 2 (20 a minute); chat.startStream's tier is unpublished: Tier 2 here."""
        self.set_rate_limit("chat.postMessage", 1, 1.0, scope="channel")
        for method in ("chat.startStream", "chat.stopStream"):
            self.set_rate_limit(method, 20, 60.0)
        for method in ("chat.update", "chat.delete", "reactions.add"):
            self.set_rate_limit(method, 50, 60.0)
        for method in ("chat.postEphemeral", "chat.appendStream", "users.info"):
            self.set_rate_limit(method, 100, 60.0)

    def set_delay(self, method: str, seconds: float) -> None:
        """Slow a method down (e.g. to test that the app acks within 3 s while Slack is slow)."""
        with self._state:
            self._delays[method] = seconds

    # ------------------------------------------------------------------------------ HTTP plumbing

    async def _parse(self, request: web.Request) -> tuple[dict[str, Any], str]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.body_exists:
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:  # urlencoded or multipart
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in _JSON_PARAMS & params.keys():
            params[key] = _loads_maybe(params[key])
        return params, ctype

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, ctype = await self._parse(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        token = params.pop("token", None) or token
        with self._state:
            ws = self._workspaces.get(token or "")
            call = ApiCall(method, params, token, ws.team_id if ws else None, time.monotonic(), request.method, ctype)
            self.api_calls.append(call)
            delay = self._delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        status, headers, body = self._handle(call, ws)
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    def _handle(self, call: ApiCall, ws: Workspace | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        method, token = call.method, call.token
        headers = {"x-oauth-scopes": ws.scopes} if ws else {}
        with self._state:
            try:
                if method != "api.test":
                    if not token:
                        raise SlackError("not_authed")
                    if token in self._revoked:
                        raise SlackError("token_revoked")
                    if ws is None:
                        raise SlackError("invalid_auth")
                retry_after = self._rate_limited(method, call, ws)
                if retry_after is not None:
                    return (
                        429,
                        {**headers, "Retry-After": str(retry_after)},
                        {"ok": False, "error": "ratelimited"},
                    )
                fault = self._faults[method].popleft() if self._faults.get(method) else None
                if fault is not None and fault.error is None:
                    headers["Retry-After"] = str(fault.retry_after)
                    return 429, headers, {"ok": False, "error": "ratelimited"}
                if fault is not None:
                    raise SlackError(fault.error or "internal_error", fault.status, **fault.extra)
                handler = self._handlers.get(method)
                # Unknown methods: accept and record, so new client calls don't break tests.
                body = handler(call.params, ws, call) if handler else {"ok": True}
                return 200, headers, body
            except SlackError as e:
                return e.status, headers, {"ok": False, "error": e.error, **e.extra}

    def _rate_limited(self, method: str, call: ApiCall, ws: Workspace | None) -> int | None:
        limit = self._limits.get(method)
        if limit is None:
            return None
        calls, per, scope, retry_after = limit
        key: tuple[str, ...] = (method, ws.team_id if ws else "")
        if scope == "channel":
            key = (*key, str(call.params.get("channel", "")))
        window = self._windows[key]
        while window and call.at - window[0] >= per:
            window.popleft()
        if len(window) >= calls:
            return retry_after if retry_after is not None else max(1, math.ceil(per - (call.at - window[0])))
        window.append(call.at)
        return None

    # ------------------------------------------------------------------------------ method handlers
    # Each takes (params, workspace, call) and returns the JSON body; raise SlackError for ok:false.

    def _api_test(self, params: dict[str, Any], ws: Workspace | None, call: ApiCall) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _auth_test(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        return {
            "ok": True,
            "url": ws.url,
            "team": ws.team,
            "user": ws.bot_name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
            **({"enterprise_id": ws.enterprise_id} if ws.enterprise_id else {}),
        }

    def _chat_post_message(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        _check_text_and_blocks(params)
        msg = self._new_bot_message(ws, ch, params, str(params.get("text") or ""), call.at)
        return {"ok": True, "channel": ch.id, "ts": msg.ts, "message": self.message_json(msg)}

    def _chat_update(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_update_message")
        _check_text_and_blocks(params, require_content=False)
        if "text" in params:
            msg.text = str(params["text"])
        if "blocks" in params:
            msg.blocks = params["blocks"] or None
        msg.edits.append(Edit("chat.update", msg.text, msg.blocks, call.at))
        msg.edited_ts = self.clock.next()
        return {
            "ok": True,
            "channel": ch.id,
            "ts": msg.ts,
            "text": msg.text,
            "message": self.message_json(msg),
        }

    def _chat_delete(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_delete_message")
        msg.deleted = True
        return {"ok": True, "channel": ch.id, "ts": msg.ts}

    def _chat_post_ephemeral(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        if not params.get("user"):
            raise SlackError("user_not_found")
        _check_text_and_blocks(params)
        ts = self.clock.next()
        self.ephemerals.append(
            Ephemeral(
                ch.id,
                str(params["user"]),
                str(params.get("text") or ""),
                params.get("blocks"),
                params.get("thread_ts"),
                ts,
                "chat.postEphemeral",
            )
        )
        return {"ok": True, "message_ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("message_ts"))
        link = f"{ws.url}archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"ok": True, "channel": ch.id, "permalink": link}

    def _conversations_info(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        return {"ok": True, "channel": ch.to_api()}

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any], key: str, default: int) -> dict[str, Any]:
        limit = int(params.get("limit") or default)
        start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) if params.get("cursor") else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, key: page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _conversations_replies(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        ts = str(params.get("ts") or "")
        parent = self._messages.get(ch.id, {}).get(ts)
        if parent is None or parent.deleted:
            raise SlackError("thread_not_found")
        root = parent.thread_ts or parent.ts  # a reply's ts returns its whole thread, as Slack does
        items = [self.message_json(m) for m in self.messages(ch.id, root)]
        return self._page(items, params, "messages", 1000)

    def _conversations_history(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        top = [m for m in reversed(self.messages(ch.id)) if not m.is_reply]
        return self._page([self.message_json(m) for m in top], params, "messages", 100)

    def _conversations_open(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        users = str(params.get("users") or "").split(",")
        if not users[0]:
            raise SlackError("users_list_not_supplied")
        ch = self._channel(users[0], ws.team_id)
        return {"ok": True, "channel": {"id": ch.id}}

    def _users_info(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        user = self.users.get(user_id)
        if user is None:
            if self.strict or user_id[:1] not in {"U", "W"}:
                raise SlackError("user_not_found")
            user = self.add_user(user_id, team_id=ws.team_id)
        return {"ok": True, "user": user.to_api()}

    def _reactions_add(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._find(self._channel_param(params), params.get("timestamp"))
        name = str(params.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        users = msg.reactions.setdefault(name, [])
        if ws.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(ws.bot_user_id)
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._find(self._channel_param(params), params.get("timestamp"))
        name = str(params.get("name") or "").strip(":")
        if ws.bot_user_id not in msg.reactions.get(name, []):
            raise SlackError("no_reaction")
        msg.reactions[name].remove(ws.bot_user_id)
        if not msg.reactions[name]:
            del msg.reactions[name]
        return {"ok": True}
