"""REST for users, the application, DMs, guilds, members, channels and threads (create, edit, join)."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.models import Call, DiscordError, Violation, _field_error, _form_error, _now_iso


class ChannelsMixin:
    """Part of FakeDiscord (server.py)."""

    # ------------------------------------------------------------------ REST: identity
    async def _do_get_me(self, call: Call) -> Any:
        return self._me()

    def _me(self) -> dict[str, Any]:
        return self.bot | {
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "premium_type": 0,
            "bio": "",
        }

    async def _do_get_user(self, call: Call) -> Any:
        user = self.users.get(int(call.params["user_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return user

    async def _do_application_info(self, call: Call) -> Any:
        return self.application

    async def _do_create_dm(self, call: Call) -> Any:
        user = self.users.get(int(call.json["recipient_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self.dm_channel(user)

    # ------------------------------------------------------------------ REST: guilds and channels
    async def _do_get_guild(self, call: Call) -> Any:
        return self._guild(call.params["guild_id"])

    async def _do_get_guild_channels(self, call: Call) -> Any:
        gid = str(self._guild(call.params["guild_id"])["id"])
        return [c for c in self.channels.values() if c.get("guild_id") == gid and c["type"] not in (10, 11, 12)]

    async def _do_get_member(self, call: Call) -> Any:
        member = self.members.get(int(self._guild(call.params["guild_id"])["id"]), {}).get(int(call.params["user_id"]))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return member

    async def _do_get_channel(self, call: Call) -> Any:
        return self._channel(call.params["channel_id"])

    async def _do_edit_channel(self, call: Call) -> Any:
        ch = self._channel(call.params["channel_id"])
        body = call.json or {}
        with self._mu:
            for key in ("name", "topic", "rate_limit_per_user", "nsfw", "flags"):
                if key in body:
                    ch[key] = body[key]
            if "thread_metadata" in ch:
                for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                    if key in body:
                        ch["thread_metadata"][key] = body[key]
                if "archived" in body:
                    ch["thread_metadata"]["archive_timestamp"] = _now_iso()
        is_thread = ch["type"] in (10, 11, 12)
        await self._echo("THREAD_UPDATE" if is_thread else "CHANNEL_UPDATE", dict(ch))
        return ch

    async def _do_typing(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    async def _do_join_thread(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    async def _do_add_thread_member(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    # ------------------------------------------------------------------ REST: threads
    async def _do_create_thread_from_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        body = call.json or {}
        self._validate_thread_name(call, body.get("name"))
        if msg.data.get("thread") or int(msg.data["id"]) in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's own id.
        thread = self._new_thread(
            msg.channel_id,
            body["name"],
            self.bot,
            private=False,
            thread_id=msg.id,
            auto_archive=body.get("auto_archive_duration") or 1440,
        )
        with self._mu:
            msg.data["thread"] = thread
            msg.data["flags"] = msg.data.get("flags", 0) | (1 << 5)  # HAS_THREAD
        await self._echo("THREAD_CREATE", self._thread_create_event(thread))
        return thread

    async def _do_create_thread(self, call: Call) -> Any:
        body = call.json or {}
        self._validate_thread_name(call, body.get("name"))
        private = int(body.get("type") or 12) == 12
        thread = self._new_thread(
            int(call.params["channel_id"]),
            body["name"],
            self.bot,
            private=private,
            thread_id=None,
            auto_archive=body.get("auto_archive_duration") or 1440,
        )
        await self._echo("THREAD_CREATE", self._thread_create_event(thread))
        return thread

    def _thread_create_event(self, thread: dict[str, Any]) -> dict[str, Any]:
        member = {"id": thread["id"], "user_id": self.bot["id"], "join_timestamp": _now_iso(), "flags": 1}
        return thread | {"newly_created": True, "member": member}

    def _validate_thread_name(self, call: Call, name: Any) -> None:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            self.violations.append(Violation("thread_name_length", repr(name)[:120], True, call))
            raise _form_error({"name": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")})
