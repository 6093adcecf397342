"""Payloads for slash commands and interactivity (block_actions, block_suggestion, message_action,
view_submission), built by SlackSender (events.py) with trigger_ids and response_urls from the fake.
"""

from __future__ import annotations

import secrets
import time
from typing import Any


class InteractivityMixin:
    """Part of SlackSender (events.py)."""

    # ------------------------------------------------------------------------------ commands & interactivity

    def _response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        if self.fake is not None:
            return self.fake.response_url(channel=channel, user=user, message_ts=message_ts, team_id=self.ws.team_id)
        return f"https://hooks.slack.com/actions/{self.ws.team_id}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}"

    def _trigger(self) -> str:
        if self.fake is not None:
            return self.fake.new_trigger_id()
        return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"

    def _team(self) -> dict[str, Any]:
        return {"id": self.ws.team_id, "domain": self.ws.domain}

    def _user(self, user: str | None) -> dict[str, Any]:
        uid = user or self.user_id
        name = self.user_name if uid == self.user_id else uid.lower()
        return {"id": uid, "username": name, "name": name, "team_id": self.ws.team_id}

    def slash_command(
        self, command: str, text: str = "", *, channel: str | None = None, user: str | None = None
    ) -> dict[str, str]:
        """The form a slash command posts (ephemeral by default when answered via response_url)."""
        channel, user = channel or self.channel_id, user or self.user_id
        return {
            "token": "legacy-verification-token",
            "team_id": self.ws.team_id,
            "team_domain": self.ws.domain,
            "channel_id": channel,
            "channel_name": self.channel_name if channel == self.channel_id else "directmessage",
            "user_id": user,
            "user_name": self.user_name,
            "command": command if command.startswith("/") else f"/{command}",
            "text": text,
            "api_app_id": self.ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel, user),
            "trigger_id": self._trigger(),
        }

    def _container_message(
        self, channel: str, message_ts: str | None, thread_ts: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """`container` and `message` of a payload, the message from the fake's store when it is there."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        message: dict[str, Any] | None = None
        if self.fake is not None and message_ts:
            with self.fake._state:
                stored = self.fake._messages.get(channel, {}).get(message_ts)
                if stored is not None:
                    message = self.fake.message_json(stored)
                    thread_ts = thread_ts or stored.thread_ts
        if message is None and message_ts:
            message = {
                "type": "message",
                "user": self.ws.bot_user_id,
                "bot_id": self.ws.bot_id,
                "text": "",
                "ts": message_ts,
                "team": self.ws.team_id,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
        if thread_ts:
            container["thread_ts"] = thread_ts
        return container, message

    @staticmethod
    def _block_id_for(message: dict[str, Any] | None, action_id: str) -> str:
        for block in (message or {}).get("blocks", []):
            elements = block.get("elements", []) + ([block["accessory"]] if "accessory" in block else [])
            if any(e.get("action_id") == action_id for e in elements):
                return str(block.get("block_id", ""))
        return secrets.token_hex(2)

    def block_actions(
        self,
        action_id: str,
        value: str,
        *,
        text: str | None = None,
        element_type: str = "static_select",
        message_ts: str | None = None,
        thread_ts: str | None = None,
        channel: str | None = None,
        user: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """A user chose `value` in a select (static_select/external_select) or clicked a `button`."""
        channel = channel or self.channel_id
        container, message = self._container_message(channel, message_ts, thread_ts)
        action: dict[str, Any] = {
            "type": element_type,
            "action_id": action_id,
            "block_id": block_id or self._block_id_for(message, action_id),
            "action_ts": self._clock.next(),
        }
        if element_type == "button":
            action.update({"value": value, "text": {"type": "plain_text", "text": text or value, "emoji": True}})
        else:
            action["selected_option"] = {
                "text": {"type": "plain_text", "text": text or value, "emoji": True},
                "value": value,
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "container": container,
            "trigger_id": self._trigger(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channel_name},
            "state": {"values": {}},
            "response_url": self._response_url(channel, user or self.user_id, message_ts),
            "actions": [action],
        }
        if message is not None:
            payload["message"] = message
        return payload

    def block_suggestion(
        self,
        action_id: str,
        query: str,
        *,
        message_ts: str | None = None,
        channel: str | None = None,
        user: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """An external_select asking for options matching what the user typed (`value`)."""
        channel = channel or self.channel_id
        container, message = self._container_message(channel, message_ts, None)
        payload: dict[str, Any] = {
            "type": "block_suggestion",
            "user": self._user(user),
            "container": container,
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "action_id": action_id,
            "block_id": block_id or self._block_id_for(message, action_id),
            "value": query,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channel_name},
        }
        if message is not None:
            payload["message"] = message
        return payload

    def message_action(
        self,
        callback_id: str,
        *,
        message_ts: str,
        channel: str | None = None,
        user: str | None = None,
        text: str = "",
    ) -> dict[str, Any]:
        """A message shortcut run on message `message_ts`."""
        channel = channel or self.channel_id
        _, message = self._container_message(channel, message_ts, None)
        if message is not None and text:
            message["text"] = text
        return {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": self._clock.next(),
            "team": self._team(),
            "user": self._user(user),
            "channel": {"id": channel, "name": self.channel_name},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(),
            "response_url": self._response_url(channel, user or self.user_id, message_ts),
            "message_ts": message_ts,
            "message": message,
        }

    def view_submission(
        self,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        view_id: str | None = None,
        callback_id: str = "",
        private_metadata: str = "",
        user: str | None = None,
    ) -> dict[str, Any]:
        """A modal submitted. `values` is Slack's `state.values`: {block_id: {action_id: {type, value...}}}.
        With `view_id` of a view opened on the fake, that view's callback_id/metadata/blocks are used."""
        view: dict[str, Any] = {
            "id": view_id or f"V{secrets.randbelow(10**10):010d}",
            "team_id": self.ws.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Modal"},
            "external_id": "",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.ws.app_id,
            "app_installed_team_id": self.ws.team_id,
            "bot_id": self.ws.bot_id,
        }
        if self.fake is not None and view_id:
            with self.fake._state:
                stored = self.fake.views.get(view_id)
                if stored is not None:
                    view = stored.to_api(self.ws)
        view["state"] = {"values": values}
        return {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "trigger_id": self._trigger(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
