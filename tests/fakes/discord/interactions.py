"""Interactions: component clicks, the interaction payload and token, the callback (3-second rule, allowed
response types, autocomplete choices), and the webhook routes for followups and @original.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from tests.fakes.discord.constants import (
    _ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE_RESULT,
    BOT_PERMISSIONS,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    LOADING,
    MESSAGE_COMPONENT,
    UPDATE_MESSAGE,
)
from tests.fakes.discord.models import (
    Call,
    DiscordError,
    FakeInteraction,
    FakeMessage,
    Violation,
    _field_error,
    _form_error,
    _id,
)


class InteractionsMixin:
    """Part of FakeDiscord (server.py)."""

    # ------------------------------------------------------------------ event builders (call from tests)
    def component_click(
        self,
        custom_id: str,
        message: int | dict[str, Any],
        *,
        user: dict[str, Any] | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 3: a click on a button (2) or select (3, `values`) of a stored message."""
        msg = self.messages[_id(message)]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        payload = self._interaction_base(MESSAGE_COMPONENT, msg.channel_id, user or self.user, locale)
        payload["data"] = data
        payload["message"] = dict(msg.data)
        return self._register_interaction(payload)

    def _interaction_base(
        self, itype: int, channel_id: int, user: dict[str, Any], locale: str, gid: int | None = None
    ) -> dict[str, Any]:
        ch = self.channels[channel_id]
        gid = gid if gid is not None else (int(ch["guild_id"]) if "guild_id" in ch else None)
        iid = self.snowflake()
        token = base64.urlsafe_b64encode(f"interaction:{iid}:{secrets.token_urlsafe(48)}".encode()).decode()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": self.application["id"],
            "type": itype,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel_id),
            "channel": ch | {"permissions": str(EVERYONE_PERMISSIONS)},
        }
        if gid is not None:
            member = self.members[gid].get(_id(user)) or self.add_member(gid, user, announce=False)
            payload |= {
                "guild_id": str(gid),
                "guild_locale": "en-US",
                "context": 0,
                "guild": {"id": str(gid), "locale": "en-US", "features": []},
                "member": member | {"permissions": str(EVERYONE_PERMISSIONS)},
                "authorizing_integration_owners": {"0": str(gid)},
            }
        else:
            payload |= {"user": user, "context": 1, "authorizing_integration_owners": {"1": user["id"]}}
        return payload

    def _register_interaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._mu:
            self.interactions[int(payload["id"])] = FakeInteraction(payload, time.monotonic())
        return payload

    # ------------------------------------------------------------------ REST: interactions
    async def _do_interaction_callback(self, call: Call) -> Any:
        inter = self.interactions.get(int(call.params["interaction_id"]))
        if inter is None or inter.token != call.params["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        elapsed = time.monotonic() - inter.sent_at
        if inter.response_type is not None:
            self.violations.append(Violation("already_acknowledged", f"interaction {inter.id}", True, call))
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if elapsed > self.interaction_deadline_s:
            self.violations.append(
                Violation(
                    "late_interaction_response",
                    f"interaction {inter.id} answered after {elapsed:.2f}s",
                    True,
                    call,
                )
            )
            raise DiscordError(404, 10062, "Unknown interaction")
        body = call.json or {}
        rtype = int(body.get("type", 0))
        if rtype not in _ALLOWED_CALLBACKS.get(inter.type, set()):
            self.violations.append(
                Violation("bad_callback_type", f"type {rtype} for interaction type {inter.type}", True, call)
            )
            raise _form_error({"type": _field_error("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")})
        data = body.get("data") or {}
        message: FakeMessage | None = None
        if rtype == AUTOCOMPLETE_RESULT:
            self._validate_choices(call, data.get("choices"))
        elif rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            if rtype == CHANNEL_MESSAGE:
                self._validate_message(call, data, creating=True)
            message = self._interaction_message(inter, data, loading=rtype == DEFERRED_CHANNEL_MESSAGE)
            inter.original_message_id = message.id
        elif rtype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            # For components, @original is the message the component is attached to.
            message = self.messages[int(inter.payload["message"]["id"])]
            if rtype == UPDATE_MESSAGE:
                await self._edit(call, message, data, via="interaction_update")
            inter.original_message_id = message.id
        with self._mu:
            inter.response_type, inter.responded_at = rtype, time.monotonic()
            inter.responses.append(body)
        if rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE) and message is not None and not message.ephemeral:
            await self._echo("MESSAGE_CREATE", self._gateway_message(message))
        if call.query.get("with_response") not in ("1", "true", "True"):
            return None
        resp: dict[str, Any] = {"interaction": {"id": str(inter.id), "type": inter.type}}
        if message is not None:
            resp["interaction"] |= {
                "response_message_id": str(message.id),
                "response_message_loading": bool(message.data["flags"] & LOADING),
                "response_message_ephemeral": message.ephemeral,
            }
            resp["resource"] = {"type": rtype, "message": message.data}
        return resp

    def _validate_choices(self, call: Call, choices: Any) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(choices, list):
            errors["_errors"] = [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]
            choices = []
        elif len(choices) > 25:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
        for i, choice in enumerate(choices[:25]):
            name, value = choice.get("name"), choice.get("value")
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                errors.setdefault(str(i), {})["name"] = _field_error(
                    "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            if isinstance(value, str) and len(value) > 100:
                errors.setdefault(str(i), {})["value"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                )
        if errors:
            self.violations.append(Violation("invalid_autocomplete", json.dumps(errors)[:500], True, call))
            raise _form_error({"data": {"choices": errors}})

    def _interaction_message(
        self, inter: FakeInteraction, data: dict[str, Any], *, loading: bool, followup: bool = False
    ) -> FakeMessage:
        p = inter.payload
        user = p["member"]["user"] if "member" in p else p["user"]
        meta = {
            "id": p["id"],
            "type": p["type"],
            "user": user,
            "authorizing_integration_owners": p.get("authorizing_integration_owners", {}),
        }
        if followup:
            meta["original_response_message_id"] = str(inter.original_message_id)
        extra: dict[str, Any] = {
            "type": 20 if p["type"] == APPLICATION_COMMAND else 0,
            "webhook_id": self.application["id"],
            "application_id": self.application["id"],
            "interaction_metadata": meta,
        }
        if p["type"] == APPLICATION_COMMAND:
            extra["interaction"] = {"id": p["id"], "type": p["type"], "name": p["data"]["name"], "user": user}
        flags = (LOADING if loading else 0) | ((data.get("flags") or 0) & EPHEMERAL)
        body = {k: v for k, v in data.items() if k != "flags"}
        return self._store_message(int(p["channel_id"]), self.bot, body, flags=flags, **extra)

    def _webhook_interaction(self, call: Call) -> FakeInteraction:
        """Interaction webhooks: the application id plus the interaction token, valid for 15 minutes."""
        inter = next((i for i in self.interactions.values() if i.token == call.params["token"]), None)
        if inter is None or call.params["application_id"] != self.application["id"]:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - inter.sent_at > self.webhook_token_ttl_s:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if inter.response_type is None:
            # Nothing to follow up or edit until the interaction is acknowledged.
            raise DiscordError(404, 10015, "Unknown Webhook")
        return inter

    def _webhook_message(self, inter: FakeInteraction, mid: str) -> FakeMessage:
        target = inter.original_message_id if mid == "@original" else int(mid)
        msg = self.messages.get(target or 0)
        if msg is None or msg.deleted or (target != inter.original_message_id and target not in inter.followup_ids):
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def _do_followup(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        body = call.json or {}
        self._validate_message(call, body, creating=True)
        msg = self._interaction_message(inter, body, loading=False, followup=True)
        with self._mu:
            inter.followup_ids.append(msg.id)
        if not msg.ephemeral:
            await self._echo("MESSAGE_CREATE", self._gateway_message(msg))
        return msg.data if call.query.get("wait") in ("1", "true", "True") else None

    async def _do_get_original(self, call: Call) -> Any:
        return self._webhook_message(self._webhook_interaction(call), "@original").data

    _do_get_webhook_message = _do_get_original

    async def _do_edit_original(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        return await self._edit(call, self._webhook_message(inter, call.params["message_id"]), call.json)

    _do_edit_webhook_message = _do_edit_original

    async def _do_delete_original(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        await self._delete(self._webhook_message(inter, call.params["message_id"]))
        return None

    _do_delete_webhook_message = _do_delete_original
