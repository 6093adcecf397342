"""Files posted in Slack: what an event says about them, and their download with the workspace's bot token.

The bytes are fetched when the core answers the turn (after Slack's ack), from the file's private URL with the bot
token bolt resolved for the request: Slack serves them only with `Authorization: Bearer` and the `files:read`
scope. Without access Slack does not answer 403; it redirects to its sign-in page, HTML that must never reach a
model as if it were the file. That, a deleted file and one over SWITCHBOARD_FILE_MAX_MB become FileUnavailable,
whose text is the reason as a clause the core puts after the file's name ("X could not be downloaded: <why>.").
The token goes only to Slack's hosts (or SLACK_API_URL's: tests, staging), and never into an error or a log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.formatting import size as show_size
from core.settings import get_settings
from core.types import FileUnavailable, IncomingFile

log = logging.getLogger(__name__)

FILES_SCOPE = "files:read"
_SLACK_HOSTS = ("slack.com", "slack-files.com", "slack-edge.com")
_REDIRECTS = 3
_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@dataclass(frozen=True)
class SlackFile:
    """One entry of an event's `files`: as much as a download needs (it travels to the lazy listener)."""

    id: str
    name: str
    mime: str = ""
    size: int | None = None
    url: str = ""  # url_private_download, else url_private; "" when the event left it out (Slack Connect)
    mode: str = "hosted"  # hosted | snippet | external | tombstone | hidden_by_limit | file_access
    external: str = ""  # where an external file lives (gdrive, dropbox, ...)


def files_of(event: dict[str, Any]) -> tuple[SlackFile, ...]:
    """The files a message or app_mention event shares, in the order they were posted."""
    return tuple(_described(raw) for raw in event.get("files") or [] if isinstance(raw, dict) and raw.get("id"))


def _described(raw: dict[str, Any]) -> SlackFile:
    size = raw.get("size")
    return SlackFile(
        id=str(raw["id"]),
        name=str(raw.get("name") or raw.get("title") or raw["id"]),
        mime=str(raw.get("mimetype") or ""),
        size=size if isinstance(size, int) else None,
        url=str(raw.get("url_private_download") or raw.get("url_private") or ""),
        mode=str(raw.get("mode") or "hosted"),
        external=str(raw.get("external_type") or "") if raw.get("is_external") else "",
    )


def described(files: Sequence[SlackFile]) -> tuple[IncomingFile, ...]:
    """The files as the core stores them on arrival (before the ack): names and types, nothing downloaded."""
    return tuple(IncomingFile(f.name, f.mime, f.size) for f in files)


def attachments(
    files: Sequence[SlackFile], context: AsyncBoltContext, client: AsyncWebClient
) -> tuple[IncomingFile, ...]:
    """The files as the core answers them: each downloaded, when the core asks, with this request's token."""
    token = context.bot_token or client.token
    scopes = context.authorize_result.bot_scopes if context.authorize_result else None
    return tuple(
        IncomingFile(f.name, f.mime, f.size, fetch=functools.partial(download, f, client, token, scopes)) for f in files
    )


async def download(
    file: SlackFile, client: AsyncWebClient, token: str | None, scopes: Sequence[str] | None = None
) -> bytes:
    """The file's bytes (at most SWITCHBOARD_FILE_MAX_MB), or FileUnavailable saying why not."""
    if scopes and FILES_SCOPE not in scopes:
        raise FileUnavailable(_NO_SCOPE)
    if not token:
        raise FileUnavailable("the app has no token for this workspace")
    if not file.url and file.mode not in ("tombstone", "hidden_by_limit", "external"):
        file = await _info(file, client)  # a file shared from another organisation: files.info has its URL
    _check_mode(file)
    limit = _limit_bytes()
    if file.size is not None and file.size > limit:
        raise FileUnavailable(_too_big(file.size))
    return await _fetch(file, token, limit)


async def _info(file: SlackFile, client: AsyncWebClient) -> SlackFile:
    try:
        found = await client.files_info(file=file.id)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.info("slack files.info %s refused: %s", file.id, error)
        if error in ("file_not_found", "file_deleted"):
            raise FileUnavailable(_DELETED) from None
        if error == "missing_scope":
            raise FileUnavailable(_NO_SCOPE) from None
        raise FileUnavailable(_NO_ACCESS) from None
    except Exception as exc:  # the Web API client's transport errors (aiohttp) and timeouts
        log.warning("slack files.info %s failed: %s", file.id, type(exc).__name__)
        raise FileUnavailable(_UNREACHABLE) from None
    raw = found.get("file")
    if not isinstance(raw, dict) or not raw.get("id"):
        raise FileUnavailable(_NO_ACCESS)
    return _described(raw)


def _check_mode(file: SlackFile) -> None:
    if file.mode == "tombstone":
        raise FileUnavailable(_DELETED)
    if file.mode == "hidden_by_limit":
        raise FileUnavailable("it is older than this workspace's Slack plan lets apps see")
    if file.mode == "external" or file.external:
        where = file.external or "another service"
        raise FileUnavailable(
            f"it is a link to a file on {where}, not a file in Slack; upload the file itself, or paste the part "
            "you need"
        )
    if not file.url:
        raise FileUnavailable(_NO_ACCESS)


async def _fetch(file: SlackFile, token: str, limit: int) -> bytes:
    url = file.url
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
            for _ in range(_REDIRECTS + 1):
                if not _slack_host(url):
                    log.warning("slack file %s: not downloaded from %s", file.id, urlsplit(url).hostname)
                    raise FileUnavailable("Slack gave an address outside Slack for it")
                async with http.stream("GET", url, headers=headers) as resp:
                    if not resp.is_redirect:
                        _check_answer(resp, file)
                        return await _read(resp, file, limit)
                    url = urljoin(url, resp.headers.get("location", ""))
                    if _sign_in(url):  # how Slack answers a token that may not see the file
                        raise FileUnavailable(_NO_ACCESS)
    except httpx.HTTPError as exc:
        log.warning("slack file %s: download failed: %s", file.id, type(exc).__name__)
        raise FileUnavailable(_UNREACHABLE) from None
    raise FileUnavailable(_NO_ACCESS)  # redirected in circles


def _check_answer(resp: httpx.Response, file: SlackFile) -> None:
    status = resp.status_code
    if status in (404, 410):
        raise FileUnavailable(_DELETED)
    if status in (401, 403):
        raise FileUnavailable(_NO_ACCESS)
    if status == 429:
        raise FileUnavailable("Slack is limiting downloads right now; try again in a minute")
    if status != 200:
        raise FileUnavailable(f"Slack's file server answered HTTP {status}; try again in a moment")
    kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "text/html" and not file.mime.lower().startswith("text/html"):
        raise FileUnavailable(_NO_ACCESS)  # a sign-in page, not the file


async def _read(resp: httpx.Response, file: SlackFile, limit: int) -> bytes:
    announced = resp.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise FileUnavailable(_too_big(int(announced)))
    data = bytearray()
    async for chunk in resp.aiter_bytes():
        data += chunk
        if len(data) > limit:
            raise FileUnavailable(_too_big(None))
    return bytes(data)


def _slack_host(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and any(host == h or host.endswith(f".{h}") for h in _SLACK_HOSTS):
        return True
    api = urlsplit(get_settings().slack_api_url)
    return bool(parts.netloc) and (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


def _sign_in(url: str) -> bool:
    parts = urlsplit(url)
    return "redir" in parse_qs(parts.query) or parts.path in ("", "/") or not _slack_host(url)


def _limit_bytes() -> int:
    return int(get_settings().file_max_mb * 1024 * 1024)


# ---------------------------------------------------------------- why not, as the user reads it after the file's name

_DELETED = "it was deleted from Slack"
_NO_ACCESS = "Slack would not let the app read it; post it again in this thread, or add the app to its channel"
_NO_SCOPE = "the app lacks Slack's files:read permission in this workspace; an admin can reinstall the app to grant it"
_UNREACHABLE = "Slack could not be reached; try again in a moment"


def _too_big(size: int | None) -> str:
    limit = f"{get_settings().file_max_mb:g} MB"
    if size is None:
        return f"it is larger than {limit}, the most a file may be here"
    return f"it is {show_size(size)}, more than the {limit} a file may be here"
