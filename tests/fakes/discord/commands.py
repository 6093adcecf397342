"""Application commands: the REST registration routes (bulk upsert, list) and building the
INTERACTION_CREATE of a slash command or an autocomplete from the registered command's schema.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.constants import (
    _ATTACHMENT,
    _BOOLEAN,
    _CHANNEL,
    _INTEGER,
    _NUMBER,
    _STRING,
    _SUB_COMMAND,
    _SUB_GROUP,
    _USER,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
)
from tests.fakes.discord.models import Call, DiscordError, _id


class CommandsMixin:
    """Part of FakeDiscord (server.py)."""

    # ------------------------------------------------------------------ event builders (call from tests)
    def slash_command(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        channel: int | dict[str, Any] | None = None,
        guild: int | dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 2 for `/name` ("group sub" for subcommands). Uses the registered command's
        id, guild scope and option types when the bot has synced it."""
        return self._command_interaction(APPLICATION_COMMAND, name, options, None, channel, guild, user, locale)

    def autocomplete(
        self,
        name: str,
        focused: str,
        value: str = "",
        options: dict[str, Any] | None = None,
        *,
        channel: int | dict[str, Any] | None = None,
        guild: int | dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 4: the user is typing `value` into option `focused` of `/name`."""
        opts = {**(options or {}), focused: value}
        return self._command_interaction(AUTOCOMPLETE, name, opts, focused, channel, guild, user, locale)

    def _command_interaction(
        self,
        itype: int,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None,
        focused: str | None,
        channel: int | dict[str, Any] | None,
        guild: int | dict[str, Any] | None,
        user: dict[str, Any] | None,
        locale: str,
    ) -> dict[str, Any]:
        channel_id = _id(channel) if channel is not None else _id(self.channel)
        ch = self.channels[channel_id]
        gid = _id(guild) if guild is not None else (int(ch["guild_id"]) if "guild_id" in ch else None)
        parts = name.split()
        command = self._find_command(parts[0], gid)
        resolved: dict[str, Any] = {}
        if isinstance(options, list):
            opts = options
        else:
            schema = self._option_schema(command, parts[1:])
            opts = [self._option(k, v, schema.get(k), resolved, gid) for k, v in (options or {}).items()]
        for opt in opts:
            if focused is not None and opt["name"] == focused:
                opt["focused"] = True
        # Subcommands wrap the options: /group sub -> [{type 2, options: [{type 1, options: [...]}]}]
        for sub, kind in zip(reversed(parts[1:]), (_SUB_COMMAND, _SUB_GROUP), strict=False):
            opts = [{"name": sub, "type": kind, "options": opts}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": parts[0],
            "type": 1,
        }
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        payload = self._interaction_base(itype, channel_id, user or self.user, locale, gid)
        payload["data"] = data
        return self._register_interaction(payload)

    def _find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        with self._mu:
            scoped = [c for c in self.commands.values() if c["name"] == name and c.get("type", 1) == 1]
        for c in scoped:
            if guild_id is not None and c.get("guild_id") == str(guild_id):
                return c
        return next((c for c in scoped if not c.get("guild_id")), None)

    @staticmethod
    def _option_schema(command: dict[str, Any] | None, subs: list[str]) -> dict[str, dict[str, Any]]:
        options = (command or {}).get("options") or []
        for sub in subs:
            options = next((o.get("options") or [] for o in options if o["name"] == sub), [])
        return {o["name"]: o for o in options}

    def _option(
        self, name: str, value: Any, schema: dict[str, Any] | None, resolved: dict[str, Any], gid: int | None
    ) -> dict[str, Any]:
        if schema is not None:
            kind = int(schema["type"])
        elif isinstance(value, bool):
            kind = _BOOLEAN
        elif isinstance(value, int):
            kind = _INTEGER
        elif isinstance(value, float):
            kind = _NUMBER
        elif isinstance(value, dict) and "filename" in value:
            kind = _ATTACHMENT
        else:
            kind = _STRING
        if kind == _USER:
            user = value if isinstance(value, dict) else self.users[int(value)]
            resolved.setdefault("users", {})[user["id"]] = user
            member = self.members.get(gid or 0, {}).get(int(user["id"]))
            if member is not None:
                resolved.setdefault("members", {})[user["id"]] = {k: v for k, v in member.items() if k != "user"} | {
                    "permissions": str(EVERYONE_PERMISSIONS)
                }
            value = user["id"]
        elif kind == _CHANNEL:
            ch = value if isinstance(value, dict) else self.channels[int(value)]
            resolved.setdefault("channels", {})[ch["id"]] = ch | {"permissions": str(BOT_PERMISSIONS)}
            value = ch["id"]
        elif kind == _ATTACHMENT:  # an attachment object from upload(..., ephemeral=True)
            resolved.setdefault("attachments", {})[value["id"]] = value
            value = value["id"]
        return {"name": name, "type": kind, "value": value}

    # ------------------------------------------------------------------ REST: application commands
    def _check_app(self, call: Call) -> None:
        if call.params.get("application_id") != self.application["id"]:
            raise DiscordError(404, 10002, "Unknown Application")

    def _upsert_commands(self, call: Call, guild_id: str | None) -> list[dict[str, Any]]:
        self._check_app(call)
        out = []
        with self._mu:
            old = {(c["name"], c.get("type", 1)): c for c in self.commands.values() if c.get("guild_id") == guild_id}
            for c in list(self.commands.values()):
                if c.get("guild_id") == guild_id:
                    del self.commands[int(c["id"])]
            for spec in call.json or []:
                prev = old.get((spec["name"], spec.get("type", 1)))
                cid = int(prev["id"]) if prev else self.snowflake()
                cmd = {
                    "id": str(cid),
                    "application_id": self.application["id"],
                    "version": str(self.snowflake()),
                    "type": 1,
                    "description": "",
                    "options": [],
                    "default_member_permissions": None,
                    "dm_permission": True,
                    "nsfw": False,
                    "contexts": None,
                    "integration_types": [0],
                    **{k: v for k, v in spec.items() if v is not None},
                }
                if guild_id:
                    cmd["guild_id"] = guild_id
                self.commands[cid] = cmd
                out.append(cmd)
        return out

    async def _do_bulk_upsert_global_commands(self, call: Call) -> Any:
        return self._upsert_commands(call, None)

    async def _do_bulk_upsert_guild_commands(self, call: Call) -> Any:
        if int(call.params["guild_id"]) not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        return self._upsert_commands(call, call.params["guild_id"])

    async def _do_get_global_commands(self, call: Call) -> Any:
        self._check_app(call)
        return [c for c in self.commands.values() if not c.get("guild_id")]

    async def _do_get_guild_commands(self, call: Call) -> Any:
        self._check_app(call)
        return [c for c in self.commands.values() if c.get("guild_id") == call.params["guild_id"]]
