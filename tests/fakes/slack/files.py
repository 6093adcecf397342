"""Files people post: the file objects events and files.info carry, and the private URLs that serve their bytes.

As Slack does (docs.slack.dev "File objects", Authentication): `url_private` and `url_private_download` serve the
bytes only to a request with `Authorization: Bearer <token>` of a workspace that can see the file, holding
`files:read`. Anything else is sent to the sign-in page: a 302 to the workspace's `/?redir=<the file's path>`
(an HTML "Found" body), whose page answers 200 with HTML. A deleted file answers 404 (HTML). The workspace host is
this fake's loopback address here. A file shared from another organisation (Slack Connect) arrives in events as a
stub with `file_access: check_file_info`: files.info gives the whole object.
"""

from __future__ import annotations

import itertools
import mimetypes
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.fakes.slack.models import ApiCall, SlackError, Workspace

FILES_READ = "files:read"
_FILE_IDS = itertools.count(1)
_SIGN_IN_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Slack</title></head>'
    '<body><form id="signin_form" action="/" method="post"><h1>Sign in to Slack</h1></form></body></html>'
)
_FILETYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "text/plain": "text", "text/csv": "csv"}
_FILETYPES |= {"application/pdf": "pdf", "application/json": "json", "text/markdown": "markdown"}


@dataclass
class File:
    id: str
    team_id: str
    user: str
    name: str
    title: str
    mimetype: str
    filetype: str
    data: bytes
    created: int
    mode: str = "hosted"  # hosted | snippet | external | tombstone (deleted)
    connect: bool = False  # shared from another organisation: events carry a stub (check_file_info)

    @property
    def deleted(self) -> bool:
        return self.mode == "tombstone"


class FilesMixin:
    """Part of FakeSlack (server.py): `upload` seeds a file, `file_json` is its object, `/files-pri/` serves it."""

    # ------------------------------------------------------------------------------ seeding (from tests)

    def upload(
        self,
        data: bytes,
        name: str,
        *,
        mimetype: str | None = None,
        user: str = "U0USER00001",
        team_id: str | None = None,
        title: str | None = None,
        connect: bool = False,
    ) -> File:
        """A file a person uploaded (not yet shared anywhere: SlackSender's events share it)."""
        mime = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with self._state:
            f = File(
                id=f"F{next(_FILE_IDS):010d}",
                team_id=team_id or self.workspace().team_id,
                user=user,
                name=name,
                title=title if title is not None else name.rsplit(".", 1)[0],
                mimetype=mime,
                filetype=_FILETYPES.get(mime, name.rsplit(".", 1)[-1].lower() if "." in name else "binary"),
                data=data,
                created=int(time.time()),
                connect=connect,
            )
            self.files[f.id] = f
            return f

    def delete_file(self, file_id: str) -> None:
        """The owner deleted the file: its object becomes a tombstone, its URLs answer 404."""
        with self._state:
            self.files[file_id].mode = "tombstone"

    def downloads(self, file_id: str) -> list[tuple[int, str | None]]:
        """(status, bearer token or None) of every request for the file's bytes, in order."""
        with self._state:
            return [(status, token) for fid, status, token in self.file_requests if fid == file_id]

    # ------------------------------------------------------------------------------ file objects

    def file_json(self, f: File, *, in_event: bool = False) -> dict[str, Any]:
        """The file object as Slack sends it (events' `files`, files.info's `file`)."""
        if f.connect and in_event:
            return {"id": f.id, "mode": "file_access", "file_access": "check_file_info", "created": 0, "timestamp": 0}
        if f.deleted:
            return {"id": f.id, "mode": "tombstone"}
        ws = self.workspace(f.team_id)
        base = f"{self.url}/files-pri/{f.team_id}-{f.id}"
        return {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.name,
            "title": f.title,
            "mimetype": f.mimetype,
            "filetype": f.filetype,
            "pretty_type": f.filetype.upper(),
            "user": f.user,
            "user_team": f.team_id,
            "editable": False,
            "size": len(f.data),
            "mode": f.mode,
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{quote(f.name)}",
            "url_private_download": f"{base}/download/{quote(f.name)}",
            "permalink": f"{ws.url}files/{f.user}/{f.id}/{quote(f.name)}",
            "permalink_public": f"https://slack-files.com/{f.team_id}-{f.id}-0ce8936320",
            "is_starred": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }

    # ------------------------------------------------------------------------------ files.info

    def _files_info(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        if FILES_READ not in ws.scopes.split(","):
            raise SlackError("missing_scope", needed=FILES_READ, provided=ws.scopes)
        f = self.files.get(str(params.get("file") or ""))
        if f is None:
            raise SlackError("file_not_found")
        if f.deleted:
            raise SlackError("file_deleted")
        return {
            "ok": True,
            "file": self.file_json(f),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    # ------------------------------------------------------------------------------ private URLs

    async def _file_bytes(self, request: web.Request) -> web.StreamResponse:
        """GET /files-pri/{team}-{file}/[download/]{name}"""
        _, _, file_id = request.match_info["key"].partition("-")
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self._state:
            f = self.files.get(file_id)
            ws = self._workspaces.get(token or "")
            allowed = (
                ws is not None
                and token not in self._revoked
                and FILES_READ in ws.scopes.split(",")
                and f is not None
                and (ws.team_id == f.team_id or f.connect)
            )
            status = 404 if f is None or (allowed and f.deleted) else 200 if allowed else 302
            self.file_requests.append((file_id, status, token))
        if status == 404:
            return web.Response(status=404, text="<html><body>File not found</body></html>", content_type="text/html")
        if status == 302:
            target = f"{self.url}/?redir={quote(request.path, safe='')}"
            body = f'<a href="{target}">Found</a>.'
            return web.Response(status=302, text=body, content_type="text/html", headers={"Location": target})
        assert f is not None
        headers = {"Cache-Control": "private, max-age=0"}
        if request.match_info["rest"].startswith("download/"):
            headers["Content-Disposition"] = f'attachment; filename="{f.name}"'
        return web.Response(body=f.data, content_type=f.mimetype, headers=headers)

    async def _sign_in(self, request: web.Request) -> web.Response:
        """The workspace's sign-in page, where a request without a valid token for a file ends up."""
        return web.Response(text=_SIGN_IN_PAGE, content_type="text/html")
