"""The admin's session cookie: the HTTP route that sets and drops it, where it lives, and the two small scripts
that have the browser call that route.

Streamlit's websocket cannot set a cookie, so admin/server.py adds one route to Streamlit's own server (`st.App`):

- `POST /_switchboard/session` with `{"ticket": ...}`: a page that just signed in trades its one-time ticket
  for the session cookie (core.admins.claim_ticket). The cookie is HttpOnly (no script, so no injected one,
  can read it), SameSite=Strict, Secure over HTTPS, and lasts at most the session's absolute limit.
- `DELETE`: drops the browser's cookie when its session has ended (a cookie of a newer, active session stays).

The app reads the cookie back with `st.context.cookies`, the cookies of the request that opened the tab's
websocket. Its name carries the port, because browsers share cookies between the ports of one host: two admins on
one machine (two checkouts, a test) would otherwise sign each other out.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from streamlit import config

from core import admins

ROUTE = "_switchboard/session"


def _base() -> str:
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def name() -> str:
    return f"switchboard_admin_{config.get_option('server.port')}"


def path() -> str:
    return _base() or "/"


def route_path() -> str:
    return f"{_base()}/{ROUTE}"


def public_url() -> str:
    """The admin's address as the operator's browser reaches it (a wildcard bind is reached on localhost)."""
    host = str(config.get_option("server.address") or "")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - not binding, naming what a local browser opens
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.get_option('server.port')}{_base()}/"


def token() -> str:
    """The session token this tab's browser sent when it opened (empty when it has none)."""
    try:
        return str(st.context.cookies.get(name(), ""))
    except Exception:  # no browser behind this run (AppTest)
        return ""


def _script(method: str, body: dict[str, str] | None = None) -> None:
    options: dict[str, object] = {"method": method, "credentials": "same-origin"}
    if body is not None:
        options["headers"] = {"Content-Type": "application/json"}
        options["body"] = json.dumps(body)
    call = f"fetch({json.dumps(route_path())}, {json.dumps(options)}).catch(() => {{}});".replace("<", "\\u003c")
    st.html(f"<script>{call}</script>", unsafe_allow_javascript=True, width="content")


def hand_over(ticket: str) -> None:
    """Have the browser trade the one-time ticket for the session cookie (in the background, no reload)."""
    _script("POST", {"ticket": ticket})


def drop() -> None:
    """Have the browser drop its session cookie (its session has ended)."""
    _script("DELETE")


# ---------------------------------------------------------------- the route (runs in the server, not a page)


def _same_origin(request: Request) -> bool:
    """A browser names the page that sent a POST or DELETE in Origin: it must be this server's own."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


async def route(request: Request) -> Response:
    if not _same_origin(request):
        return Response(status_code=403)
    if request.method == "DELETE":
        held = request.cookies.get(name(), "")
        view = await run_in_threadpool(admins.session_by_token, held) if held else None
        response = Response(status_code=204)
        if held and (view is None or view.status() != "active"):
            response.delete_cookie(name(), path=path(), httponly=True, samesite="strict")
        return response
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return Response(status_code=415)  # a cross-site form cannot send JSON without a CORS preflight
    try:
        body: Any = json.loads(await request.body())
        ticket = str(body.get("ticket", "")) if isinstance(body, dict) else ""
    except ValueError:
        ticket = ""
    token = await run_in_threadpool(admins.claim_ticket, ticket)
    if token is None:
        return Response(status_code=403)
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"
    response = Response(status_code=204)
    response.set_cookie(
        name(),
        token,
        max_age=int(admins.MAX_SESSION_HOURS * 3600),
        path=path(),
        secure=https,
        httponly=True,
        samesite="strict",
    )
    return response
