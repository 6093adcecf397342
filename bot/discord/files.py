"""A Discord message's attachments as IncomingFiles, downloaded from the CDN when the core answers the turn.

We download with aiohttp rather than discord.py: `Attachment.read()` always fetches `attachment.url` (no
DISCORD_CDN_BASE), and `HTTPClient.get_from_cdn` is internal and reads the whole body before anyone can check its
size. Here the body is read in chunks and the download stops as soon as it passes SWITCHBOARD_FILE_MAX_MB.
Attachment links carry no credentials (their signature is in the URL), so nothing here is secret, but URLs are
still never logged: the signature lets anyone read the file for a day.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import discord

from core.settings import get_settings
from core.types import FileUnavailable, IncomingFile

CHUNK = 64 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10, sock_read=30)
GONE = (404, 410)  # what the CDN answers for a deleted file or an expired link


def cdn_url(url: str, base: str) -> str:
    """`url` with its scheme and host replaced by `base` (DISCORD_CDN_BASE; a path in it is kept as a prefix)."""
    if not base:
        return url
    target, original = urlsplit(base), urlsplit(url)
    path = target.path.rstrip("/") + original.path
    return urlunsplit((target.scheme, target.netloc, path, original.query, ""))


def limit_bytes() -> int:
    return int(get_settings().file_max_mb * 1024 * 1024)


def too_large() -> FileUnavailable:
    return FileUnavailable(f"it is larger than {get_settings().file_max_mb:g} MB, the most a file may be here")


async def download(url: str) -> bytes:
    """The attachment's bytes, at most the file limit. FileUnavailable says why not, as a clause the core puts
    after the file's name ("X could not be downloaded: <why>.")."""
    limit = limit_bytes()
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(cdn_url(url, get_settings().discord_cdn_base)) as resp,
        ):
            if resp.status in GONE:
                raise FileUnavailable("Discord no longer has it (it was deleted, or its link expired); post it again")
            if resp.status != 200:
                raise FileUnavailable(f"Discord's file server answered HTTP {resp.status}; try again later")
            if resp.content_length is not None and resp.content_length > limit:
                raise too_large()
            data = bytearray()
            async for chunk in resp.content.iter_chunked(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise too_large()
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        failed = "Discord took too long to send it" if isinstance(exc, TimeoutError) else "Discord could not be reached"
        raise FileUnavailable(f"{failed}; try again in a moment") from None


def incoming_files(attachments: Iterable[discord.Attachment]) -> tuple[IncomingFile, ...]:
    """A message's (or a command's) attachments, in the order they were posted; each downloads when the core
    asks."""
    return tuple(
        IncomingFile(
            name=a.filename,
            mime=a.content_type or "",
            size=a.size,
            fetch=functools.partial(download, a.url),
        )
        for a in attachments
    )
