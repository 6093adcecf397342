"""The websocket gateway: HELLO, HEARTBEAT/ACK, IDENTIFY (intents, sharding), READY and GUILD_CREATEs,
RESUME with replay, REQUEST_GUILD_MEMBERS; dispatching events to sessions by shard and intents
(`dispatch`, `reconnect`); and the REST routes GET /gateway and /gateway/bot.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.constants import (
    DIRECT_MESSAGE_REACTIONS,
    DIRECT_MESSAGE_TYPING,
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGE_TYPING,
    GUILD_MESSAGES,
    GUILD_PRESENCES,
    GUILDS,
    MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
)
from tests.fakes.discord.models import Call, _id


@dataclass
class Identify:
    shard: tuple[int, int] | None
    intents: int
    properties: dict[str, Any]
    presence: dict[str, Any] | None
    large_threshold: int | None


class _Conn:
    """One websocket. Sends are serialised: zlib-stream frames must reach the client in compression order."""

    def __init__(self, ws: web.WebSocketResponse, path: str, query: dict[str, str]) -> None:
        self.ws, self.path, self.query = ws, path, query
        self.zlib = zlib.compressobj() if query.get("compress") == "zlib-stream" else None
        self.lock = asyncio.Lock()
        self.session: Session | None = None
        self.received: list[dict[str, Any]] = []

    async def send(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                return
            if self.zlib is not None:
                await self.ws.send_bytes(self.zlib.compress(raw.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH))
            else:
                await self.ws.send_str(raw)


@dataclass
class Session:
    id: str
    shard: tuple[int, int]
    intents: int
    conn: _Conn | None
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)  # sent dispatches, replayed on RESUME
    resumes: int = 0

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.ws.closed


def _required_intent(event: str, data: dict[str, Any]) -> int | None:
    in_guild = "guild_id" in data
    if event in {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}:
        return GUILD_MESSAGES if in_guild else DIRECT_MESSAGES
    if event.startswith("MESSAGE_REACTION_"):
        return GUILD_MESSAGE_REACTIONS if in_guild else DIRECT_MESSAGE_REACTIONS
    if event == "TYPING_START":
        return GUILD_MESSAGE_TYPING if in_guild else DIRECT_MESSAGE_TYPING
    if event in {"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE", "THREAD_MEMBERS_UPDATE"}:
        return GUILD_MEMBERS
    if event == "PRESENCE_UPDATE":
        return GUILD_PRESENCES
    if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")):
        return GUILDS
    return None  # READY, INTERACTION_CREATE, ... always delivered


class GatewayMixin:
    """Part of FakeDiscord (server.py)."""

    # ------------------------------------------------------------------ gateway control (call from tests)
    def dispatch(self, event: str, data: dict[str, Any], *, shard_id: int | None = None) -> int:
        """Send a DISPATCH (op 0) to every session that should get it (guild's shard, intents). Returns how
        many sessions received it. Blocks until written; safe from sync and async test code."""
        return int(self._run(self._dispatch(event, data, shard_id)))

    def reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on `resume_gateway_url`."""

        async def go() -> None:
            for s in list(self.sessions.values()):
                if s.connected and (shard_id is None or s.shard[0] == shard_id):
                    assert s.conn is not None
                    await s.conn.send({"op": 7, "d": None, "s": None, "t": None})

        self._run(go())

    def _run(self, coro: Awaitable[Any]) -> Any:
        assert self._loop is not None, "start the fake first"
        if threading.current_thread() is self._thread:
            raise RuntimeError("dispatch() blocks; inside the server use `await self._dispatch(...)`")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def _announce(self, event: str, build: Callable[[], dict[str, Any]]) -> None:
        """World changes made while clients are connected reach them, as on Discord."""
        if self._loop is None or not any(s.connected for s in self.sessions.values()):
            return
        if threading.current_thread() is self._thread:
            self._loop.create_task(self._dispatch(event, build()))
        else:
            self.dispatch(event, build())

    def _sessions_for(self, event: str, data: dict[str, Any]) -> list[Session]:
        gid = data.get("id") if event in {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"} else None
        gid = gid or data.get("guild_id")
        picked = []
        for s in self.sessions.values():
            shard_id, count = s.shard
            home = (int(gid) >> 22) % count if gid else 0  # DMs go to shard 0
            if home == shard_id:
                picked.append(s)
        return picked

    async def _dispatch(self, event: str, data: dict[str, Any], shard_id: int | None = None) -> int:
        if event == "INTERACTION_CREATE":
            with self._mu:
                inter = self.interactions.get(int(data["id"]))
                if inter is not None:
                    inter.sent_at = time.monotonic()  # the 3 s clock starts when Discord sends the event
        sessions = (
            [s for s in self.sessions.values() if s.shard[0] == shard_id]
            if shard_id is not None
            else self._sessions_for(event, data)
        )
        sent = 0
        for s in sessions:
            needed = _required_intent(event, data)
            if needed is not None and not s.intents & needed:
                self.dropped.append((s.id, event))
                continue
            await self._send_dispatch(s, event, self._redact(s, event, data))
            sent += 1
        return sent

    def _redact(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT, guild messages arrive empty unless the bot wrote them or is mentioned."""
        if event not in {"MESSAGE_CREATE", "MESSAGE_UPDATE"} or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = self.bot["id"]
        if "guild_id" not in data or data.get("author", {}).get("id") == bot_id:
            return data
        if any(u.get("id") == bot_id for u in data.get("mentions", [])):
            return data
        return data | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        del session.buffer[:-1000]
        if session.connected:
            assert session.conn is not None
            await session.conn.send(payload)

    async def wait_connected(self, shards: int = 1, timeout: float = 10.0) -> None:
        """Until `shards` sessions have IDENTIFYed and got their GUILD_CREATEs."""
        await self.wait_until(lambda: sum(s.connected for s in self.sessions.values()) >= shards, timeout)

    # ------------------------------------------------------------------ REST: gateway
    async def _do_get_gateway(self, call: Call) -> Any:
        return {"url": self.gateway_url.rstrip("/")}

    async def _do_get_gateway_bot(self, call: Call) -> Any:
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    # ------------------------------------------------------------------ websocket: heartbeat, identify, resume
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws, request.path, dict(request.query))
        with self._mu:
            connect_log: dict[str, Any] = {
                "path": request.path,
                "query": dict(request.query),
                "close_code": None,
            }
            self.gateway_connects.append(connect_log)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Error while decoding payload.")
            return ws
        if request.query.get("v") not in ("9", "10"):
            await ws.close(code=4012, message=b"Invalid API version.")
            return ws
        await conn.send(
            {
                "op": 10,
                "d": {
                    "heartbeat_interval": self.heartbeat_interval_ms,
                    "_trace": ['["gateway-prd-fake-1",{"micros":0}]'],
                },
                "s": None,
                "t": None,
            }
        )
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    # The client's own code (ws.close_code may be ours once aiohttp answers the close).
                    connect_log["close_code"] = msg.data if msg.type is WSMsgType.CLOSE else ws.close_code
                    break
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                payload = json.loads(msg.data)
                conn.received.append(payload)
                await self._on_op(conn, payload)
        finally:
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if connect_log["close_code"] in (1000, 1001):
                    # A clean close ends the session on Discord; other codes leave it resumable.
                    self.sessions.pop(session.id, None)
        return ws

    async def _on_op(self, conn: _Conn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # IDENTIFY
            await self._identify(conn, d or {})
        elif op == 6:  # RESUME
            await self._resume(conn, d or {})
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            await self._member_chunks(conn, d or {})
        elif op in (3, 4):  # PRESENCE_UPDATE, VOICE_STATE_UPDATE: recorded in conn.received only
            if conn.session is None:
                await conn.ws.close(code=4003, message=b"Not authenticated.")
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: _Conn, d: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = d.get("shard")
        shard_t = (int(shard[0]), int(shard[1])) if shard else (0, 1)
        if not 0 <= shard_t[0] < shard_t[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        with self._mu:
            self.identifies.append(
                Identify(
                    tuple(shard) if shard else None,
                    intents,
                    d.get("properties") or {},
                    d.get("presence"),
                    d.get("large_threshold"),
                )
            )
        session = Session(secrets.token_hex(16), shard_t, intents, conn)
        conn.session = session
        guild_ids = [gid for gid in self.guilds if (gid >> 22) % shard_t[1] == shard_t[0]]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._me(),
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": self.resume_gateway_url,
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": ["us-east"],
            "auth": {},
            "application": {"id": self.application["id"], "flags": self.application["flags"]},
            "_trace": ['["gateway-prd-fake-1",{"micros":0}]'],
        }
        if shard:
            ready["shard"] = list(shard_t)
        # Register the session only now: events dispatched meanwhile would otherwise precede READY.
        self.sessions[session.id] = session
        await self._send_dispatch(session, "READY", ready)
        for gid in guild_ids:
            await self._send_dispatch(session, "GUILD_CREATE", self._guild_create(gid, intents))

    def _guild_create(self, gid: int, intents: int = 0) -> dict[str, Any]:
        with self._mu:
            guild = self.guilds[gid]
            members = self.members[gid]
            chans = [c for c in self.channels.values() if c.get("guild_id") == str(gid)]
            bot_member = members[_id(self.bot)]
            # Without GUILD_PRESENCES Discord lists only the bot (and voice members); the rest come by chunks.
            listed = list(members.values()) if intents & GUILD_PRESENCES else [bot_member]
            return guild | {
                "joined_at": bot_member["joined_at"],
                "large": len(members) > 250,
                "unavailable": False,
                "member_count": len(members),
                "members": listed,
                "voice_states": [],
                "presences": [],
                "channels": [
                    {k: v for k, v in c.items() if k != "guild_id"} for c in chans if c["type"] not in (10, 11, 12)
                ],
                "threads": [c for c in chans if c["type"] in (10, 11, 12) and not c["thread_metadata"]["archived"]],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }

    async def _resume(self, conn: _Conn, d: dict[str, Any]) -> None:
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.token:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        session.conn, conn.session = conn, session
        session.resumes += 1
        last = int(d.get("seq") or 0)
        for payload in list(session.buffer):
            if payload["s"] > last:
                await conn.send(payload)
        await self._send_dispatch(session, "RESUMED", {"_trace": ['["gateway-prd-fake-1",{"micros":0}]']})

    async def _member_chunks(self, conn: _Conn, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
            return
        gid = int(d["guild_id"])
        members = list(self.members.get(gid, {}).values())
        query, user_ids = d.get("query"), d.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in user_ids}
            members = [m for m in members if m["user"]["id"] in wanted]
        elif query:
            members = [m for m in members if m["user"]["username"].startswith(query.lower())]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(gid),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
