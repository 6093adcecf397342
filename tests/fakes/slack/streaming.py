"""chat.startStream / chat.appendStream / chat.stopStream: a message that grows until stopped."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.blocks import MAX_TEXT, _check_text_and_blocks
from tests.fakes.slack.models import ApiCall, Edit, Message, SlackError, Workspace


class StreamingMixin:
    """Part of FakeSlack (server.py)."""

    # Each takes (params, workspace, call) and returns the JSON body; raise SlackError for ok:false.

    @staticmethod
    def _stream_piece(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The text (markdown_text + markdown_text chunks) and chunks a stream call adds."""
        pieces = [str(params["markdown_text"])] if params.get("markdown_text") else []
        chunks = params.get("chunks") or []
        if not isinstance(chunks, list) or not all(isinstance(c, dict) and "type" in c for c in chunks):
            raise SlackError("invalid_chunks")
        pieces += [str(c.get("text", "")) for c in chunks if c["type"] == "markdown_text"]
        return "".join(pieces), chunks

    def _stream_append(self, msg: Message, params: dict[str, Any], method: str, at: float) -> None:
        text, chunks = self._stream_piece(params)
        if len(msg.text) + len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        msg.text += text
        msg.chunks += chunks
        msg.edits.append(Edit(method, msg.text, msg.blocks, at))

    def _chat_start_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        text, chunks = self._stream_piece(params)
        msg = self._new_bot_message(ws, ch, {**params, "blocks": None}, text, call.at)
        msg.stream_state, msg.chunks = "in_progress", list(chunks)
        return {"ok": True, "channel": ch.id, "ts": msg.ts}

    def _streaming(self, params: dict[str, Any], ws: Workspace) -> Message:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("message_not_owned_by_app")
        if msg.stream_state != "in_progress":
            raise SlackError("message_not_in_streaming_state")
        return msg

    def _chat_append_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._streaming(params, ws)
        self._stream_append(msg, params, "chat.appendStream", call.at)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _chat_stop_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._streaming(params, ws)
        if params.get("blocks") is not None:
            _check_text_and_blocks(params, require_content=False)
            msg.blocks = params["blocks"]
        if isinstance(params.get("metadata"), dict):
            msg.metadata = params["metadata"]
        self._stream_append(msg, params, "chat.stopStream", call.at)
        msg.stream_state = "completed"
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "message": self.message_json(msg)}
