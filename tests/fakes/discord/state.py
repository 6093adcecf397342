"""The fake's world: snowflakes, users, guilds, members, channels, threads, DMs, and lookups of them.

The dicts themselves are created in FakeDiscord.__init__ (server.py); this mixin builds and reads them.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.discord.constants import BOT_PERMISSIONS, DISCORD_EPOCH_MS, EVERYONE_PERMISSIONS
from tests.fakes.discord.models import DiscordError, FakeInteraction, FakeMessage, _id, _now_iso


class WorldMixin:
    """Part of FakeDiscord (server.py): world building (call from tests) and lookups."""

    # ------------------------------------------------------------------ ids
    def snowflake(self, *, shard: tuple[int, int] | None = None) -> int:
        """A real-shaped snowflake (ms since the Discord epoch << 22); `shard` makes it land on that shard."""
        with self._mu:
            ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, self._last_ms)
            if shard is not None:
                shard_id, count = shard
                ms += (shard_id - ms) % count
            self._last_ms = ms
            return (ms << 22) | (1 << 17) | (next(self._seq) & 0xFFF)

    # ------------------------------------------------------------------ world building
    def add_user(self, name: str, *, bot: bool = False) -> dict[str, Any]:
        uid = self.snowflake()
        user: dict[str, Any] = {
            "id": str(uid),
            "username": name.lower(),
            "global_name": None if bot else name.title(),
            "discriminator": "7316" if bot else "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
        }
        if bot:
            user["bot"] = True
        with self._mu:
            self.users[uid] = user
        return user

    def add_guild(
        self, name: str, *, owner: dict[str, Any] | None = None, shard: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """A guild with @everyone, the bot's managed role and the bot (and owner) as members."""
        gid = self.snowflake(shard=shard)
        owner = owner or self.user
        bot_role = self._role(self.snowflake(), self.bot["username"].title(), BOT_PERMISSIONS, position=1)
        bot_role["managed"] = True
        bot_role["tags"] = {"bot_id": self.bot["id"]}
        guild: dict[str, Any] = {
            "id": str(gid),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [self._role(gid, "@everyone", EVERYONE_PERMISSIONS), bot_role],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500_000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }
        with self._mu:
            self.guilds[gid] = guild
            self.members[gid] = {}
        self.add_member(guild, self.bot, roles=[bot_role], announce=False)
        if owner is not self.bot:
            self.add_member(guild, owner, announce=False)
        self._announce("GUILD_CREATE", lambda: self._guild_create(gid))
        return guild

    def add_member(
        self,
        guild: int | dict[str, Any],
        user: dict[str, Any],
        *,
        roles: list[dict[str, Any]] | None = None,
        announce: bool = True,
    ) -> dict[str, Any]:
        gid = _id(guild)
        member: dict[str, Any] = {
            "user": user,
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [r["id"] for r in roles or []],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        with self._mu:
            self.members[gid][_id(user)] = member
        if announce:
            self._announce("GUILD_MEMBER_ADD", lambda: {**member, "guild_id": str(gid)})
        return member

    def add_text_channel(self, guild: int | dict[str, Any], name: str, *, topic: str | None = None) -> dict[str, Any]:
        gid = _id(guild)
        cid = self.snowflake()
        with self._mu:
            position = sum(1 for c in self.channels.values() if c.get("guild_id") == str(gid))
            channel = {
                "id": str(cid),
                "type": 0,
                "guild_id": str(gid),
                "name": name,
                "position": position,
                "permission_overwrites": [],
                "topic": topic,
                "nsfw": False,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "parent_id": None,
                "flags": 0,
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
                "last_pin_timestamp": None,
            }
            self.channels[cid] = channel
        self._announce("CHANNEL_CREATE", lambda: dict(channel))
        return channel

    def add_thread(
        self,
        parent: int | dict[str, Any],
        name: str,
        *,
        owner: dict[str, Any] | None = None,
        private: bool = False,
    ) -> dict[str, Any]:
        thread = self._new_thread(_id(parent), name, owner or self.user, private=private, thread_id=None)
        self._announce("THREAD_CREATE", lambda: dict(thread))
        return thread

    def dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM channel between the bot and `user` (type 1), created on first use."""
        with self._mu:
            for ch in self.channels.values():
                if ch["type"] == 1 and ch["recipients"][0]["id"] == user["id"]:
                    return ch
            cid = self.snowflake()
            ch = {"id": str(cid), "type": 1, "last_message_id": None, "flags": 0, "recipients": [user]}
            self.channels[cid] = ch
            return ch

    def _role(self, rid: int, name: str, permissions: int, *, position: int = 0) -> dict[str, Any]:
        return {
            "id": str(rid),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _application_object(self, owner: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot["id"],
            "name": self.bot["username"].title(),
            "icon": None,
            "description": "Many LLMs, one thread at a time.",
            "type": None,
            "bot": self.bot,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "verify_key": "0" * 64,
            "flags": (1 << 19) | (1 << 23),  # GATEWAY_MESSAGE_CONTENT(_LIMITED) enabled
            "team": None,
            "summary": "",
            "hook": True,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
            "install_params": None,
            "custom_install_url": None,
        }

    def _new_thread(
        self,
        parent_id: int,
        name: str,
        owner: dict[str, Any],
        *,
        private: bool,
        thread_id: int | None,
        auto_archive: int = 1440,
    ) -> dict[str, Any]:
        with self._mu:
            parent = self.channels.get(parent_id)
            if parent is None or parent["type"] not in (0, 5, 15):
                raise DiscordError(404, 10003, "Unknown Channel")
            tid = thread_id or self.snowflake()
            now = _now_iso()
            thread: dict[str, Any] = {
                "id": str(tid),
                "type": 12 if private else 11,
                "guild_id": parent["guild_id"],
                "parent_id": str(parent_id),
                "owner_id": owner["id"],
                "name": name,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "member_ids_preview": [owner["id"]],
                "thread_metadata": {
                    "archived": False,
                    "archive_timestamp": now,
                    "auto_archive_duration": auto_archive,
                    "locked": False,
                    "create_timestamp": now,
                },
            }
            if private:
                thread["thread_metadata"]["invitable"] = True
            self.channels[tid] = thread
            return thread

    # ------------------------------------------------------------------ lookups (404 as Discord answers)
    def _guild(self, gid: int | str) -> dict[str, Any]:
        guild = self.guilds.get(int(gid))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    def _channel(self, cid: int | str) -> dict[str, Any]:
        ch = self.channels.get(int(cid))
        if ch is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return ch

    def _message(self, cid: int | str, mid: int | str) -> FakeMessage:
        msg = self.messages.get(int(mid))
        if msg is None or msg.deleted or msg.channel_id != int(cid) or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    # ------------------------------------------------------------------ inspection
    def messages_in(self, channel: int | dict[str, Any], *, include_deleted: bool = False) -> list[FakeMessage]:
        cid = _id(channel)
        with self._mu:
            return [m for m in self.messages.values() if m.channel_id == cid and (include_deleted or not m.deleted)]

    def interaction(self, interaction: int | dict[str, Any]) -> FakeInteraction:
        return self.interactions[_id(interaction)]

    def original_message(self, interaction: int | dict[str, Any]) -> FakeMessage | None:
        mid = self.interaction(interaction).original_message_id
        return None if mid is None else self.messages[mid]

    def threads_of(self, parent: int | dict[str, Any]) -> list[dict[str, Any]]:
        pid = str(_id(parent))
        with self._mu:
            return [c for c in self.channels.values() if c.get("parent_id") == pid and c["type"] in (10, 11, 12)]
