"""The events sender: `SlackSender` builds Slack-shaped payloads (Events API envelopes, slash commands,
interactivity) and POSTs them, signed with the v0 scheme, to an app's HTTP endpoint.

Event payloads are here; command and interactivity payloads are in interactivity.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fakes.slack.files import File
from tests.fakes.slack.interactivity import InteractivityMixin
from tests.fakes.slack.models import Edit, TsClock, Workspace
from tests.fakes.slack.server import FakeSlack

_EVENT_IDS = itertools.count(1)


def sign(signing_secret: str, body: str | bytes, timestamp: int | str) -> str:
    """Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SentResponse:
    status: int
    headers: dict[str, str]
    text: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.text)


class SlackSender(InteractivityMixin):
    """Builds Slack-shaped payloads and POSTs them, signed, to an app's request URL.

    With `fake=`, ids and state come from the fake: messages the user "types" are stored there (so
    conversations.replies sees them), trigger_ids expire like Slack's, and response_urls point at the fake.
    """

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        fake: FakeSlack | None = None,
        workspace: Workspace | None = None,
        user_id: str = "U0USER00001",
        user_name: str = "ada",
        channel_id: str = "C0GENERAL01",
        channel_name: str = "general",
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self.fake = fake
        self.ws = workspace or (fake.workspace() if fake else Workspace())
        self.user_id = user_id
        self.user_name = user_name
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.timeout = timeout
        self._clock = fake.clock if fake else TsClock()
        self._event_ids = _EVENT_IDS  # Slack's event ids are unique across every sender of an app
        if fake is not None and not channel_id.startswith("D"):
            fake.add_channel(channel_id, channel_name, team_id=self.ws.team_id)

    # ------------------------------------------------------------------------------ transport

    def signed_headers(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        bad_signature: bool = False,
        stale: bool = False,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, str]:
        """The headers Slack sends. `stale` signs with a timestamp 6 minutes old (apps must reject > 5 min);
        `bad_signature` signs with the wrong secret; `retry_num` adds X-Slack-Retry-Num/-Reason."""
        ts = timestamp if timestamp is not None else int(time.time()) - (360 if stale else 0)
        secret = self.signing_secret + "-wrong" if bad_signature else self.signing_secret
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(secret, body, ts),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return headers

    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, **sign_opts: Any
    ) -> SentResponse:
        """POST a raw body with Slack's signed headers (options as in `signed_headers`)."""
        sent = {**self.signed_headers(body, content_type, **sign_opts), **(headers or {})}
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            resp = await http.post(self.url, content=body.encode(), headers=sent)
        return SentResponse(resp.status_code, dict(resp.headers), resp.text, time.monotonic() - started)

    async def send_envelope(self, envelope: dict[str, Any], **opts: Any) -> SentResponse:
        """POST an Events API body (JSON). Re-send the same envelope with `retry_num=1` to mimic a retry."""
        return await self.post(json.dumps(envelope), "application/json", **opts)

    async def send_event(self, event: dict[str, Any], **opts: Any) -> SentResponse:
        return await self.send_envelope(self.envelope(event), **opts)

    async def send_command(self, form: dict[str, str], **opts: Any) -> SentResponse:
        return await self.post(urlencode(form), "application/x-www-form-urlencoded", **opts)

    async def send_interaction(self, payload: dict[str, Any], **opts: Any) -> SentResponse:
        """Interactivity: form-encoded with the JSON in a `payload` field."""
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **opts)

    # ------------------------------------------------------------------------------ Events API

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        ws = self.ws
        return {
            "token": "legacy-verification-token",
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": ws.enterprise_id,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._event_ids):09d}{secrets.token_hex(1).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": ws.enterprise_id,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("="),
        }

    def url_verification(
        self, challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    ) -> dict[str, Any]:
        return {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}

    @staticmethod
    def _rich_text(text: str) -> list[dict[str, Any]]:
        """The rich_text block Slack attaches to typed messages (mentions become `user` elements)."""
        elements: list[dict[str, Any]] = []
        for i, part in enumerate(text.split("<@")):
            if i == 0:
                if part:
                    elements.append({"type": "text", "text": part})
                continue
            user, _, rest = part.partition(">")
            elements.append({"type": "user", "user_id": user})
            if rest:
                elements.append({"type": "text", "text": rest})
        return [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(2),
                "elements": [{"type": "rich_text_section", "elements": elements}],
            }
        ]

    def _typed(
        self,
        channel: str,
        text: str,
        user: str,
        ts: str | None,
        thread_ts: str | None,
        bot_id: str | None = None,
        files: list[File] | None = None,
    ) -> str:
        ts = ts or self._clock.next()
        if self.fake is not None:
            self.fake.add_message(
                channel,
                text,
                user=user,
                ts=ts,
                thread_ts=thread_ts,
                team_id=self.ws.team_id,
                bot_id=bot_id,
                files=[f.id for f in files or []],
            )
        return ts

    def _share(self, event: dict[str, Any], files: list[File] | None) -> None:
        """Files posted with a message: their objects in `files` (a Slack Connect file as its stub), `upload`
        true when they were uploaded with it. A message of only files has empty text and no blocks."""
        if not files:
            return
        assert self.fake is not None, "files need a FakeSlack to serve them"
        event["files"] = [self.fake.file_json(f, in_event=True) for f in files]
        event["upload"] = True
        event["display_as_bot"] = False
        if not event.get("text"):
            event.pop("blocks", None)

    def app_mention(
        self,
        text: str,
        *,
        channel: str | None = None,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list[File] | None = None,
    ) -> dict[str, Any]:
        """An `app_mention` event; `<@bot>` is prefixed to `text` unless it already mentions the bot. `files`:
        uploaded with it (FakeSlack.upload); Slack also sends the `message` event, subtype `file_share`."""
        channel, user = channel or self.channel_id, user or self.user_id
        mention = f"<@{self.ws.bot_user_id}>"
        if mention not in text:
            text = f"{mention} {text}" if text else mention
        ts = self._typed(channel, text, user, ts, thread_ts, files=files)
        event: dict[str, Any] = {
            "user": user,
            "type": "app_mention",
            "ts": ts,
            "client_msg_id": str(uuid.uuid4()),
            "text": text,
            "team": self.ws.team_id,
            "blocks": self._rich_text(text),
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        self._share(event, files)
        return event

    def message(
        self,
        text: str,
        *,
        channel: str | None = None,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        channel_type: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
        files: list[File] | None = None,
    ) -> dict[str, Any]:
        """A `message` event. DMs: a `D...` channel gives `channel_type: im`. `bot_id` makes it a bot's post
        (pass `bot_id=sender.ws.bot_id, user=sender.ws.bot_user_id` for the app's own message). `files`: uploaded
        with it (FakeSlack.upload), which makes it subtype `file_share`."""
        channel, user = channel or self.channel_id, user or self.user_id
        ts = self._typed(channel, text, user, ts, thread_ts, bot_id, files)
        subtype = subtype or ("file_share" if files else None)
        if channel_type is None:
            channel_type = {"D": "im", "G": "group"}.get(channel[0], "channel")
        event: dict[str, Any] = {
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": self.ws.team_id,
        }
        if bot_id:
            event["bot_id"] = bot_id
            if bot_id == self.ws.bot_id:
                event["app_id"] = self.ws.app_id
                event["bot_profile"] = {
                    "id": bot_id,
                    "app_id": self.ws.app_id,
                    "name": self.ws.bot_name,
                    "team_id": self.ws.team_id,
                    "deleted": False,
                }
        else:
            event["client_msg_id"] = str(uuid.uuid4())
            event["blocks"] = self._rich_text(text)
        if subtype:
            event["subtype"] = subtype
        if thread_ts:
            event["thread_ts"] = thread_ts
            event["parent_user_id"] = user
        event.update({"channel": channel, "event_ts": ts, "channel_type": channel_type})
        self._share(event, files)
        return event

    def message_changed(
        self,
        ts: str,
        new_text: str,
        *,
        old_text: str = "",
        channel: str | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A user edited message `ts`: `subtype: message_changed` with `message` and `previous_message`."""
        channel, user = channel or self.channel_id, user or self.user_id
        if self.fake is not None:
            msg = self.fake.add_message(channel, old_text, user=user, ts=ts, thread_ts=thread_ts)
            old_text = old_text or msg.text
            with self.fake._state:
                msg.text = new_text
                msg.edits.append(Edit("user_edit", new_text, msg.blocks, time.monotonic()))
        now = self._clock.next()
        inner: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": new_text,
            "ts": ts,
            "team": self.ws.team_id,
            "edited": {"user": user, "ts": now},
        }
        previous: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": old_text,
            "ts": ts,
            "team": self.ws.team_id,
        }
        if thread_ts:
            inner["thread_ts"] = previous["thread_ts"] = thread_ts
        return {
            "type": "message",
            "subtype": "message_changed",
            "message": inner,
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "ts": now,
            "event_ts": now,
            "channel_type": {"D": "im", "G": "group"}.get(channel[0], "channel"),
        }

    def assistant_thread_started(
        self,
        *,
        channel: str = "D0DM0000001",
        thread_ts: str | None = None,
        user: str | None = None,
        context_channel: str | None = None,
    ) -> dict[str, Any]:
        """The user opened the app's assistant container: a new DM thread (Slack posts its root)."""
        user = user or self.user_id
        thread_ts = thread_ts or self._clock.next()
        if self.fake is not None:
            self.fake.add_channel(channel, team_id=self.ws.team_id, is_im=True, user=user)
            self.fake.add_message(channel, "", user=self.ws.bot_user_id, ts=thread_ts, bot_id=self.ws.bot_id)
        context: dict[str, Any] = {}
        if context_channel:
            context = {
                "channel_id": context_channel,
                "team_id": self.ws.team_id,
                "enterprise_id": self.ws.enterprise_id,
            }
        return {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": user,
                "context": context,
                "channel_id": channel,
                "thread_ts": thread_ts,
            },
            "event_ts": self._clock.next(),
        }
