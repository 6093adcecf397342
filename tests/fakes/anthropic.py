"""A loopback fake of Anthropic's API: the model list (`GET /v1/models`, cursor pagination) and the Messages API
(`POST /v1/messages`, streamed as server-sent events or answered as one JSON message), as ../shared/PROTOCOLS.md
describes them.

    with FakeAnthropic() as fake:
        fake.script(AnthropicReply("It is a red square.", input_tokens=1234, output_tokens=7))
        ...
        (body,) = fake.messages_calls("claude-sonnet-4-5")
        assert images_in(body) == [("image/png", png_bytes)]

Requests are checked as Anthropic checks them: `x-api-key` (401 authentication_error), `anthropic-version`, the
required fields, the model (404 not_found_error), message roles and content blocks, and image blocks (base64 of
a supported media type whose bytes are that type; 400 invalid_request_error naming the field otherwise). A
rejected request consumes no scripted reply.

The answer is the next scripted `AnthropicReply`, else "echo: <last user text>". Its text streams as word-ish
pieces (one `text_delta` each), and unless a reply states its usage:
- output tokens = the number of pieces; a reply longer than `max_tokens` is cut there (stop_reason max_tokens);
- input tokens = ceil(characters of system and message text / 4), plus per image ceil(width x height / 750) for
  a PNG (Anthropic's estimate, at most 1,600), 1,600 for other images.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer

MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_PIECE_RE = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class AnthropicReply:
    """One answer. None: the echo, and the usage counted as the module says."""

    text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = "end_turn"


class InvalidRequest(Exception):
    """A request Anthropic would refuse with 400 invalid_request_error."""


def anthropic_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


def images_in(body: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(media type, decoded bytes) of each base64 image block in a Messages request body, in order."""
    found = []
    for message in body.get("messages", []):
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            source = block.get("source") if block.get("type") == "image" else None
            if isinstance(source, dict) and source.get("type") == "base64":
                found.append((source["media_type"], base64.b64decode(source["data"])))
    return found


def texts_in(body: dict[str, Any], role: str = "user") -> list[str]:
    """The text of each message of `role` in a Messages request body (its text blocks joined; images left out)."""
    texts = []
    for message in body.get("messages", []):
        if message.get("role") == role:
            texts.append(_text_of(message.get("content")))
    return texts


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _image_tokens(media_type: str, data: bytes) -> int:
    if media_type == "image/png" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return min(1600, math.ceil(int(width) * int(height) / 750))  # larger images are scaled down first
    return 1600


def _check_image(where: str, block: dict[str, Any]) -> tuple[str, bytes] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.image.source: Field required")
    if source.get("type") == "url":
        return None  # Anthropic fetches these itself; the fake cannot, and need not
    if source.get("type") != "base64":
        raise InvalidRequest(f"{where}.image.source.type: Input should be 'base64' or 'url'")
    media_type = source.get("media_type")
    if media_type not in MEDIA_TYPES:
        raise InvalidRequest(
            f"{where}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or "
            "'image/webp'"
        )
    encoded = source.get("data")
    if not encoded:
        raise InvalidRequest(f"{where}.image.source.base64: image cannot be empty")
    try:
        data = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{where}.image.source.base64.data: invalid base64 data") from None
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (webp if media_type == "image/webp" else data.startswith(_MAGIC[str(media_type)])):
        raise InvalidRequest(
            f"{where}.image.source.base64.data: Image does not match the provided media type {media_type}"
        )
    return str(media_type), data


def check_messages(body: Any) -> int:
    """Validate a Messages request body as Anthropic does; return its input tokens by the module's rule."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body is not valid JSON.")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise InvalidRequest(f"{name}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise InvalidRequest("max_tokens: Input should be a valid integer greater than or equal to 1")
    if not isinstance(body["messages"], list):
        raise InvalidRequest("messages: Input should be a valid list")
    system = body.get("system", "")
    chars = len(_text_of(system)) if isinstance(system, (str, list)) else 0
    image_tokens = 0
    for i, message in enumerate(body["messages"]):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f'messages.{i}.role: Unexpected role "{role}". The Messages API accepts a top-level `system` '
                'parameter, not "system" as an input message role.'
            )
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
            continue
        if not isinstance(content, list):
            raise InvalidRequest(f"messages.{i}.content: Input should be a valid list")
        for j, block in enumerate(content):
            kind = block.get("type") if isinstance(block, dict) else None
            where = f"messages.{i}.content.{j}"
            if kind == "text":
                if not isinstance(block.get("text"), str):
                    raise InvalidRequest(f"{where}.text.text: Field required")
                chars += len(block["text"])
            elif kind == "image":
                image = _check_image(where, block)
                image_tokens += _image_tokens(*image) if image else 1600
            elif kind not in ("tool_use", "tool_result", "document", "thinking", "redacted_thinking"):
                raise InvalidRequest(
                    f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags"
                )
    return max(1, math.ceil(chars / 4)) + image_tokens


class FakeAnthropic(FakeServer):
    """Anthropic's API on loopback. `models`: what `/v1/models` lists and `/v1/messages` accepts."""

    def __init__(self, models: list[str] | None = None, api_key: str = "sk-ant-test-key-0000") -> None:
        super().__init__()
        self.models = models if models is not None else ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
        self.api_key = api_key
        self._replies: deque[AnthropicReply] = deque()
        self._ids = itertools.count(1)

    def script(self, *replies: AnthropicReply) -> FakeAnthropic:
        """Queue answers, one per accepted Messages request; the echo once they are used up."""
        with self._lock:
            self._replies.extend(replies)
        return self

    def messages_calls(self, model: str | None = None) -> list[dict[str, Any]]:
        """Parsed bodies of the Messages requests received (accepted or not), optionally for one model."""
        bodies = []
        for r in self.calls("/v1/messages", "POST"):
            try:
                body = r.json()
            except ValueError:
                continue
            if isinstance(body, dict) and (model is None or body.get("model") == model):
                bodies.append(body)
        return bodies

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/messages", self._messages)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("x-api-key") != self.api_key:
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        limit = int(request.query.get("limit", "20"))
        after = request.query.get("after_id")
        ids = self.models
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-09-29T00:00:00Z",
            }
            for m in page
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": len(ids) > limit,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
            counted = check_messages(body)
        except ValueError:
            return anthropic_error(400, "invalid_request_error", "The request body is not valid JSON.")
        except InvalidRequest as exc:
            return anthropic_error(400, "invalid_request_error", str(exc))
        if body["model"] not in self.models:
            return anthropic_error(404, "not_found_error", f"model: {body['model']}")
        with self._lock:
            reply = self._replies.popleft() if self._replies else AnthropicReply()
        text = reply.text if reply.text is not None else "echo: " + (texts_in(body) or [""])[-1]
        pieces = _PIECE_RE.findall(text)
        stop_reason = reply.stop_reason
        if len(pieces) > body["max_tokens"]:
            pieces, stop_reason = pieces[: body["max_tokens"]], "max_tokens"
        usage = {
            "input_tokens": reply.input_tokens if reply.input_tokens is not None else counted,
            "output_tokens": reply.output_tokens if reply.output_tokens is not None else len(pieces),
        }
        message = {
            "id": f"msg_fake{next(self._ids):08d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "".join(pieces)}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return web.json_response(message)
        return await self._stream(request, message, pieces)

    async def _stream(self, request: web.Request, message: dict[str, Any], pieces: list[str]) -> web.StreamResponse:
        """The event flow of a streamed Message: start (input tokens, a placeholder output count), one text block
        of deltas, then the stop reason with the final output tokens, then the stop."""
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)

        async def send(data: dict[str, Any]) -> None:
            await resp.write(f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode())

        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
        }
        await send({"type": "message_start", "message": start})
        await send({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        await send({"type": "ping"})
        for piece in pieces:
            await send({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        await send({"type": "content_block_stop", "index": 0})
        await send(
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            }
        )
        await send({"type": "message_stop"})
        await resp.write_eof()
        return resp
