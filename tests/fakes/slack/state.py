"""Workspaces, users, channels and the message store: seeding (call from tests), assertions, and the
internals every Web API method uses (`_channel`, `_find`, `message_json`).

The containers themselves are created in FakeSlack.__init__ (server.py).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

from tests.fakes.slack.models import ApiCall, Channel, Edit, Message, SlackError, User, Workspace


class StateMixin:
    """Part of FakeSlack (server.py)."""

    # ------------------------------------------------------------------------------ setup helpers

    def add_workspace(self, ws: Workspace | None = None, **fields: Any) -> Workspace:
        """Register an installation; `add_workspace(token="xoxb-b", team_id="T2")` derives the other ids."""
        if ws is None:
            team_id = fields.get("team_id", f"T{len(self._workspaces) + 1:010d}")
            suffix = team_id[1:]
            defaults = {
                "token": f"xoxb-{suffix}-fake",
                "team_id": team_id,
                "team": f"Team {suffix}",
                "domain": f"team{suffix.lower()}",
                "bot_user_id": f"UB{suffix}",
                "bot_id": f"BB{suffix}",
            }
            ws = Workspace(**{**defaults, **fields})
        with self._state:
            self._workspaces[ws.token] = ws
            self.users[ws.bot_user_id] = User(ws.bot_user_id, ws.team_id, ws.bot_name, "Switchboard", is_bot=True)
        return ws

    def workspace(self, key: str | None = None) -> Workspace:
        """By token or team_id; the first registered one when `key` is None."""
        with self._state:
            if key is None:
                return next(iter(self._workspaces.values()))
            if key in self._workspaces:
                return self._workspaces[key]
            for ws in self._workspaces.values():
                if ws.team_id == key:
                    return ws
        raise KeyError(key)

    def revoke(self, token: str) -> None:
        """Later calls with this token get `token_revoked` (an uninstalled workspace)."""
        with self._state:
            self._revoked.add(token)

    def add_user(self, user_id: str, name: str | None = None, *, team_id: str | None = None, **kw: Any) -> User:
        with self._state:
            user = User(user_id, team_id or self.workspace().team_id, name or user_id.lower(), **kw)
            self.users[user_id] = user
            return user

    def add_channel(
        self, channel_id: str, name: str | None = None, *, team_id: str | None = None, **kw: Any
    ) -> Channel:
        with self._state:
            is_im = kw.pop("is_im", channel_id.startswith("D"))
            ch = Channel(channel_id, team_id or self.workspace().team_id, name or "", is_im=is_im, **kw)
            if not ch.name and not is_im:
                ch.name = f"channel-{channel_id.lower()}"
            self.channels[channel_id] = ch
            return ch

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0USER00001",
        ts: str | None = None,
        thread_ts: str | None = None,
        team_id: str | None = None,
        bot_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        files: list[str] | None = None,
    ) -> Message:
        """Seed a message as if a person (or another app) had posted it (`files`: ids of uploaded files it shares).
        Idempotent on (channel, ts)."""
        with self._state:
            ch = self._channel(channel, team_id or self.workspace().team_id, create=True)
            existing = self._messages[ch.id].get(ts or "")
            if existing is not None:
                return existing
            msg = Message(
                ch.id,
                ts or self.clock.next(),
                text,
                user,
                team_id or ch.team_id,
                blocks=blocks,
                thread_ts=thread_ts,
                bot_id=bot_id,
                posted_at=time.monotonic(),
                files=list(files or []),
            )
            self._messages[ch.id][msg.ts] = msg
            return msg

    # ------------------------------------------------------------------------------ assertion helpers

    def calls_to(self, method: str, *, ok_only: bool = False) -> list[dict[str, Any]]:
        """Parsed params (query + form/JSON, JSON-string fields decoded) of every call of `method`."""
        return [c.params for c in self.api_calls_to(method) if c.ok or not ok_only]

    def api_calls_to(self, method: str) -> list[ApiCall]:
        with self._state:
            return [c for c in self.api_calls if c.method == method]

    def messages(self, channel: str, thread_ts: str | None = None, *, include_deleted: bool = False) -> list[Message]:
        """All messages of a channel in ts order, or one thread (parent first) when `thread_ts` is given."""
        with self._state:
            msgs = sorted(self._messages.get(channel, {}).values(), key=lambda m: float(m.ts))
            if thread_ts is not None:
                msgs = [m for m in msgs if m.ts == thread_ts or m.thread_ts == thread_ts]
            return [m for m in msgs if include_deleted or not m.deleted]

    def message(self, channel: str, ts: str) -> Message:
        with self._state:
            return self._messages[channel][ts]

    def bot_messages(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        return [m for m in self.messages(channel, thread_ts) if m.bot_id is not None]

    def thread_text(self, channel: str, thread_ts: str, *, bots_only: bool = False) -> str:
        """The replies of a thread (not its parent), one per line, as they read now (edits applied)."""
        replies = [m for m in self.messages(channel, thread_ts) if m.is_reply]
        return "\n".join(m.text for m in replies if m.bot_id is not None or not bots_only)

    def edits(self, channel: str, ts: str) -> list[Edit]:
        return list(self.message(channel, ts).edits)

    def update_intervals(self, channel: str, ts: str) -> list[float]:
        """Seconds between consecutive changes of a message (post -> 1st edit -> 2nd edit ...)."""
        times = self.message(channel, ts).update_times
        return [b - a for a, b in itertools.pairwise(times)]

    def stream_text(self, channel: str, ts: str) -> str:
        return self.message(channel, ts).text

    def posts_to_response_url(self, url_or_id: str) -> list[dict[str, Any]]:
        rid = url_or_id.rstrip("/").rsplit("/", 1)[-1]
        with self._state:
            return [p.body for p in self.response_url_posts if p.id == rid]

    # ------------------------------------------------------------------------------ store internals

    def _channel(self, channel_id: str, team_id: str, *, create: bool = False) -> Channel:
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id[0] in "UW":  # posting to a user id goes to the app's DM with that user
            user_id, channel_id = (
                channel_id,
                "D" + hashlib.sha256(channel_id.encode()).hexdigest()[:10].upper(),
            )
            if channel_id not in self.channels:
                self.channels[channel_id] = Channel(channel_id, team_id, is_im=True, user=user_id)
        ch = self.channels.get(channel_id)
        if ch is None:
            if self.strict and not create:
                raise SlackError("channel_not_found")
            ch = self.add_channel(channel_id, team_id=team_id)
        return ch

    def _find(self, channel: str, ts: str | None) -> Message:
        msg = self._messages.get(channel, {}).get(ts or "")
        if msg is None or msg.deleted:
            raise SlackError("message_not_found")
        return msg

    def _new_bot_message(self, ws: Workspace, ch: Channel, params: dict[str, Any], text: str, at: float) -> Message:
        thread_ts = params.get("thread_ts") or None
        msg = Message(
            ch.id,
            self.clock.next(),
            text,
            ws.bot_user_id,
            ws.team_id,
            blocks=params.get("blocks"),
            thread_ts=str(thread_ts) if thread_ts else None,
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            metadata=params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
            posted_at=at,
        )
        self._messages[ch.id][msg.ts] = msg
        return msg

    def message_json(self, msg: Message) -> dict[str, Any]:
        """A message as Slack's API returns it (chat.postMessage `message`, conversations.replies items)."""
        out: dict[str, Any] = {"type": "message", "text": msg.text, "ts": msg.ts, "team": msg.team}
        if msg.user:
            out["user"] = msg.user
        if msg.bot_id:
            ws = next((w for w in self._workspaces.values() if w.bot_id == msg.bot_id), None)
            out["bot_id"] = msg.bot_id
            out["app_id"] = msg.app_id
            if ws is not None:
                out["bot_profile"] = {
                    "id": ws.bot_id,
                    "app_id": ws.app_id,
                    "name": ws.bot_name,
                    "team_id": ws.team_id,
                    "deleted": False,
                    "updated": 1700000000,
                    "icons": {},
                }
        if msg.blocks:
            out["blocks"] = msg.blocks
        if msg.metadata:
            out["metadata"] = msg.metadata
        if msg.files:
            out["files"] = [self.file_json(self.files[f]) for f in msg.files if f in self.files]
            out["upload"] = False
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                parent = self._messages.get(msg.channel, {}).get(msg.thread_ts)
                if parent is not None and parent.user:
                    out["parent_user_id"] = parent.user
        replies = [
            m
            for m in self._messages.get(msg.channel, {}).values()
            if m.thread_ts == msg.ts and m.is_reply and not m.deleted
        ]
        if replies:
            out["thread_ts"] = msg.ts
            out["reply_count"] = len(replies)
            users = list(dict.fromkeys(m.user for m in replies if m.user))
            out["reply_users"] = users
            out["reply_users_count"] = len(users)
            out["latest_reply"] = max(replies, key=lambda m: float(m.ts)).ts
            out["is_locked"] = False
            out["subscribed"] = False
        if msg.edited_ts:
            out["edited"] = {"user": msg.user, "ts": msg.edited_ts}
        if msg.reactions:
            out["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in msg.reactions.items()]
        return out

    @staticmethod
    def _channel_param(params: dict[str, Any], name: str = "channel") -> str:
        value = params.get(name)
        if not value:
            raise SlackError("channel_not_found")
        return str(value)
