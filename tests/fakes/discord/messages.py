"""Messages: a user's message (`message_create`), the REST message routes (send, get, edit, delete,
reactions), content/embed limits, the message store with edit history, and the gateway echo of each change.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.fakes.discord.constants import EPHEMERAL, LOADING
from tests.fakes.discord.models import (
    Call,
    DiscordError,
    Edit,
    FakeMessage,
    Violation,
    _field_error,
    _form_error,
    _id,
    _now_iso,
)


class MessagesMixin:
    """Part of FakeDiscord (server.py)."""

    # ------------------------------------------------------------------ event builders
    def message_create(
        self,
        channel: int | dict[str, Any],
        author: dict[str, Any] | None = None,
        content: str = "",
        *,
        mentions: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        reply_to: int | dict[str, Any] | None = None,
        files: dict[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload from a user, stored as a real message (so the bot can reply/thread it).

        Discord derives `mentions` from `<@id>` tokens in the content; users passed in `mentions` whose token
        is missing get it prepended, so the payload stays self-consistent. `files` (name -> bytes) are posted
        with the message: stored on the CDN (cdn.py), in `attachments` with signed links."""
        author = author or self.user
        for user in mentions or []:
            if f"<@{user['id']}>" not in content and f"<@!{user['id']}>" not in content:
                content = f"<@{user['id']}> {content}"
        extra: dict[str, Any] = {}
        if reply_to is not None:
            ref = self.messages[_id(reply_to)]
            extra = {
                "type": 19,
                "message_reference": {
                    "type": 0,
                    "message_id": str(ref.id),
                    "channel_id": str(ref.channel_id),
                },
                "referenced_message": ref.data,
            }
        uploads = [{"filename": name, "data": data, "content_type": None} for name, data in (files or {}).items()]
        body = {"content": content, "embeds": embeds or []}
        msg = self._store_message(_id(channel), author, body, files=uploads, **extra)
        return self._gateway_message(msg)

    # ------------------------------------------------------------------ REST: messages
    async def _do_get_messages(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        q = call.query
        limit = min(int(q.get("limit", 50)), 100)
        msgs = sorted(
            (m for m in self.messages_in(int(call.params["channel_id"])) if not m.ephemeral),
            key=lambda m: m.id,
            reverse=True,
        )
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])][-limit:]
        return [m.data for m in msgs[:limit]]

    async def _do_get_message(self, call: Call) -> Any:
        return self._message(call.params["channel_id"], call.params["message_id"]).data

    async def _do_send_message(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        body = call.json or {}
        self._validate_message(call, body, creating=True)
        extra: dict[str, Any] = {}
        ref = body.get("message_reference")
        if ref:
            target = self.messages.get(int(ref["message_id"]))
            if target is None:
                raise _form_error(
                    {"message_reference": _field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
                )
            extra = {
                "type": 19,
                "referenced_message": target.data,
                "message_reference": {
                    "type": 0,
                    "message_id": str(target.id),
                    "channel_id": str(target.channel_id),
                },
            }
        msg = self._store_message(int(call.params["channel_id"]), self.bot, body, files=call.files, **extra)
        await self._echo("MESSAGE_CREATE", self._gateway_message(msg))
        return msg.data

    async def _do_edit_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        if msg.data["author"]["id"] != self.bot["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        return await self._edit(call, msg, call.json)

    async def _do_delete_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        await self._delete(msg)
        return None

    async def _do_add_reaction(self, call: Call) -> Any:
        self._message(call.params["channel_id"], call.params["message_id"])
        return None

    async def _do_remove_reaction(self, call: Call) -> Any:
        self._message(call.params["channel_id"], call.params["message_id"])
        return None

    # ------------------------------------------------------------------ limits, store, edits, deletes
    def _validate_message(self, call: Call, body: dict[str, Any], *, creating: bool) -> None:
        errors: dict[str, Any] = {}
        content = body.get("content")
        if isinstance(content, str) and len(content) > 2000:
            errors["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        total = 0
        embed_errors: dict[str, Any] = {}
        for i, embed in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, limit in limits.items():
                text = embed.get(key) or ""
                total += len(text)
                if len(text) > limit:
                    embed_errors.setdefault(str(i), {})[key] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                    )
            for f in embed.get("fields") or []:
                total += len(f.get("name", "")) + len(f.get("value", ""))
            total += len((embed.get("footer") or {}).get("text", "")) + len((embed.get("author") or {}).get("name", ""))
        if len(embeds) > 10:
            embed_errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 10 or fewer in length."}]
        elif total > 6000:
            embed_errors["_errors"] = [
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
            ]
        if embed_errors:
            errors["embeds"] = embed_errors
        if errors:
            self.violations.append(Violation("invalid_message", json.dumps(errors)[:500], True, call))
            raise _form_error(errors)
        has_body = (
            content or embeds or call.files or body.get("sticker_ids") or body.get("components") or body.get("poll")
        )
        if creating and not has_body:
            self.violations.append(Violation("empty_message", "", True, call))
            raise DiscordError(400, 50006, "Cannot send an empty message")

    def _store_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        body: dict[str, Any],
        *,
        files: list[dict[str, Any]] | None = None,
        flags: int = 0,
        **extra: Any,
    ) -> FakeMessage:
        ch = self._channel(channel_id)
        mid = self.snowflake()
        content = body.get("content") or ""
        mentioned = {u for u in re.findall(r"<@!?(\d+)>", content)}
        data: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "content": content,
            "channel_id": str(channel_id),
            "author": author,
            "attachments": [self._attachment(channel_id, f) for f in files or []],
            "embeds": body.get("embeds") or [],
            "mentions": [self.users[int(u)] for u in mentioned if int(u) in self.users],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags | (body.get("flags") or 0),
            "components": body.get("components") or [],
        }
        if "nonce" in body:
            data["nonce"] = body["nonce"]
        data |= extra
        gid = int(ch["guild_id"]) if "guild_id" in ch else None
        with self._mu:
            self.messages[mid] = FakeMessage(data, gid, time.time())
            if not data["flags"] & EPHEMERAL:
                ch["last_message_id"] = str(mid)
                if "thread_metadata" in ch:
                    ch["message_count"] += 1
                    ch["total_message_sent"] += 1
        return self.messages[mid]

    def _attachment(self, channel_id: int, f: dict[str, Any]) -> dict[str, Any]:
        """An uploaded file (multipart part, or a person's file) as Discord shows it: on the CDN, signed. Discord
        types a file by its name when the upload does not say (discord.py sends application/octet-stream)."""
        given = f["content_type"] if f["content_type"] != "application/octet-stream" else None
        return self.upload(channel_id, f["filename"], f["data"], given)

    async def _edit(
        self, call: Call, msg: FakeMessage, body: dict[str, Any] | None, *, via: str | None = None
    ) -> dict[str, Any]:
        body = body or {}
        self._validate_message(call, body, creating=False)
        now = time.time()
        with self._mu:
            if msg.edits and now - msg.edits[-1].at < self.min_edit_interval_s:
                self.violations.append(
                    Violation(
                        "edits_too_fast",
                        f"message {msg.id} edited {now - msg.edits[-1].at:.3f}s after last edit",
                        False,
                        call,
                    )
                )
            for key in ("content", "embeds", "components"):
                if key in body:
                    msg.data[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
            if "flags" in body and body["flags"] is not None:
                msg.data["flags"] = (msg.data["flags"] & (EPHEMERAL | LOADING)) | body["flags"]
            if "attachments" in body or call.files:
                kept = {str(a.get("id")) for a in body.get("attachments") or []}
                msg.data["attachments"] = [a for a in msg.data["attachments"] if a["id"] in kept] + [
                    self._attachment(msg.channel_id, f) for f in call.files
                ]
            msg.data["flags"] &= ~LOADING  # editing a deferred response replaces "thinking..."
            msg.data["mentions"] = [
                self.users[int(u)] for u in set(re.findall(r"<@!?(\d+)>", msg.content)) if int(u) in self.users
            ]
            msg.data["edited_timestamp"] = _now_iso(now)
            msg.edits.append(Edit(now, body, msg.content, via or call.action))
        if not msg.ephemeral:
            await self._echo("MESSAGE_UPDATE", self._gateway_message(msg))
        return msg.data

    async def _delete(self, msg: FakeMessage) -> None:
        with self._mu:
            msg.deleted = True
        if not msg.ephemeral:
            event = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                event["guild_id"] = str(msg.guild_id)
            await self._echo("MESSAGE_DELETE", event)

    def _gateway_message(self, msg: FakeMessage) -> dict[str, Any]:
        """Gateway message events add guild_id and a partial member (no user) to the REST shape."""
        data = dict(msg.data)
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            member = self.members[msg.guild_id].get(int(data["author"]["id"]))
            if member is not None and not data.get("webhook_id"):
                data["member"] = {k: v for k, v in member.items() if k != "user"}
        return data

    async def _echo(self, event: str, data: dict[str, Any]) -> None:
        if self.echo:
            await self._dispatch(event, data)
