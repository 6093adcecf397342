"""Discord's attachment CDN: files people post (and the bot uploads) get signed URLs that the fake serves.

An attachment's `url` is on https://cdn.discordapp.com and its `proxy_url` on https://media.discordapp.net, as
Discord gives them: `/attachments/<channel id>/<attachment id>/<filename>?ex=<hex expiry>&is=<hex issued>&hm=<hex
signature>&` (a file attached to a slash command's attachment option: `/ephemeral-attachments/...`, with
`ephemeral: true`). Point a downloader at `cdn_base` (the fake's own address: same scheme-and-host swap as
DISCORD_CDN_BASE) and the path and query are served here.

As Discord's CDN does since its signed links (December 2023), a link without its parameters, with a signature
that does not match them, past its expiry (24 h after it was issued) or to a file that is gone answers 404 with
the text "This content is no longer available." (the same answer for each: the CDN does not say which).
`cdn_time_passes(seconds)` moves the CDN's clock, so the links already handed out expire. Discord's CDN says how
long a file is; `cdn_sends_length = False` sends files chunked instead, to test a client that must count.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

CDN_HOST = "https://cdn.discordapp.com"
MEDIA_HOST = "https://media.discordapp.net"
LINK_TTL_S = 24 * 3600
GONE = "This content is no longer available."


@dataclass
class CdnFile:
    channel_id: int
    attachment_id: int
    filename: str
    data: bytes
    content_type: str
    ephemeral: bool = False  # a slash command's attachment option: under /ephemeral-attachments/


def content_type_of(filename: str) -> str:
    """What Discord reports for an upload: the type its extension says, text with its charset."""
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (Discord gives images their dimensions)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class CdnMixin:
    """Part of FakeDiscord (server.py): storing attachments, signing their links, serving them."""

    @property
    def cdn_base(self) -> str:
        """What DISCORD_CDN_BASE should be so that attachment URLs reach this fake."""
        return self.url

    def upload(
        self,
        channel: int | dict[str, Any],
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        ephemeral: bool = False,
    ) -> dict[str, Any]:
        """Store a file on the CDN and return its attachment object, with freshly signed links. `ephemeral`: the
        file a user attaches to a slash command's attachment option (pass the object as the option's value)."""
        aid = self.snowflake()
        name = filename.replace(" ", "_")  # Discord's filenames have no spaces
        cid = int(channel["id"]) if isinstance(channel, dict) else int(channel)
        stored = CdnFile(cid, aid, name, data, content_type or content_type_of(name), ephemeral)
        with self._mu:
            self.cdn_files[(cid, aid)] = stored
        return self.attachment_object(stored)

    def attachment_object(self, f: CdnFile) -> dict[str, Any]:
        folder = "ephemeral-attachments" if f.ephemeral else "attachments"
        path = f"/{folder}/{f.channel_id}/{f.attachment_id}/{f.filename}"
        query = self._signed_query(path)  # signed over the decoded path: clients may quote it differently
        path = quote(path)
        obj: dict[str, Any] = {
            "id": str(f.attachment_id),
            "filename": f.filename,
            "size": len(f.data),
            "url": f"{CDN_HOST}{path}?{query}",
            "proxy_url": f"{MEDIA_HOST}{path}?{query}",
            "content_type": f.content_type,
        }
        dims = png_size(f.data)
        if dims is not None:
            obj["width"], obj["height"] = dims
        if f.ephemeral:
            obj["ephemeral"] = True
        return obj

    def delete_attachment(self, attachment: dict[str, Any]) -> None:
        """The file is gone from the CDN (its message was deleted): its links answer 404."""
        with self._mu:
            for key in [k for k in self.cdn_files if k[1] == int(attachment["id"])]:
                del self.cdn_files[key]

    def cdn_time_passes(self, seconds: float) -> None:
        """Move the CDN's clock forward: links issued more than 24 h before its new time have expired."""
        self.cdn_clock_offset_s += seconds

    def cdn_downloads(self) -> list[Any]:
        """Every request the CDN received (recorded like all requests: method, path, headers, query)."""
        return [r for r in self.calls() if r.path.startswith(("/attachments/", "/ephemeral-attachments/"))]

    # ------------------------------------------------------------------ signing and serving
    def _cdn_now(self) -> float:
        return time.time() + self.cdn_clock_offset_s

    def _signature(self, path: str, ex: str, issued: str) -> str:
        return hmac.new(self.cdn_secret, f"{path}|{ex}|{issued}".encode(), hashlib.sha256).hexdigest()

    def _signed_query(self, path: str) -> str:
        now = int(self._cdn_now())
        ex, issued = f"{now + LINK_TTL_S:x}", f"{now:x}"
        return f"ex={ex}&is={issued}&hm={self._signature(path, ex, issued)}&"

    async def _serve_cdn(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        ex, issued, hm = q.get("ex", ""), q.get("is", ""), q.get("hm", "")
        expected = self._signature(request.path, ex, issued).encode()
        signed = bool(ex and issued) and hmac.compare_digest(hm.encode(), expected)
        key = int(request.match_info["channel_id"]), int(request.match_info["aid"])
        with self._mu:
            stored = self.cdn_files.get(key)
        live = signed and int(ex, 16) > self._cdn_now()
        if not live or stored is None or stored.filename != request.match_info["name"]:
            return web.Response(status=404, text=GONE)
        if self.cdn_sends_length:
            return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})
        resp = web.StreamResponse(headers={"Content-Type": stored.content_type})
        resp.enable_chunked_encoding()  # no Content-Length: a client learns the size by reading
        await resp.prepare(request)
        for start in range(0, len(stored.data), 16 * 1024):
            await resp.write(stored.data[start : start + 16 * 1024])
        await resp.write_eof()
        return resp
