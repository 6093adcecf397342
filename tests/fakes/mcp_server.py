"""A loopback MCP server built with the SDK (mcp 2.x's MCPServer, once FastMCP), over stdio or streamable HTTP.

    python -m tests.fakes.mcp_server stdio [--log FILE]
    python -m tests.fakes.mcp_server http --port N [--token T] [--log FILE]

(or run this file by its path: it imports nothing of ours, so a client that starts it from any directory can.)
Over HTTP it listens on 127.0.0.1 at /mcp; with --token every request without `Authorization: Bearer T` gets 401.

Tools: lookup_ticket (harmless), close_ticket (the one tests mark consent-required: it appends what it closed to
--log, so a test can prove it ran or did not), slow (sleeps: timeouts), big (that many characters: the size
cap), fail (an error result), picture (an image: non-text content),
pid (its process id) and environment (the names of its environment variables).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

OWNERS = ("dana", "eli", "fay")
PROBLEMS = ("printer on fire", "VPN drops at noon", "coffee machine speaks French")
# a 1x1 transparent PNG
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def build(log: Path | None = None) -> MCPServer:
    server = MCPServer("fake-tickets", instructions="A helpdesk's tickets, for tests.")

    @server.tool()
    def lookup_ticket(ticket_id: str) -> str:
        """Look up a helpdesk ticket by its id (e.g. T-1): its problem, status and owner."""
        n = sum(map(ord, ticket_id))
        return f"Ticket {ticket_id}: {PROBLEMS[n % 3]}, status open, owner {OWNERS[n % 3]}"

    @server.tool()
    def close_ticket(ticket_id: str, note: str = "") -> str:
        """Close a helpdesk ticket, with an optional note."""
        if log is not None:
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"closed": ticket_id, "note": note}) + "\n")
        return f"Closed {ticket_id}"

    @server.tool()
    async def slow(seconds: float) -> str:
        """Wait this many seconds, then answer."""
        await asyncio.sleep(seconds)
        return f"Waited {seconds:g} s"

    @server.tool()
    def big(chars: int) -> str:
        """Answer with this many characters."""
        return ("0123456789" * (chars // 10 + 1))[:chars]

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ToolError("the ticket database is read-only today")

    @server.tool()
    def pid() -> str:
        """This server's process id (tests check the process is gone once a reply has ended)."""
        return str(os.getpid())

    @server.tool()
    def environment() -> str:
        """The names of this server's environment variables (tests check it was given none of the bot's)."""
        return " ".join(sorted(os.environ))

    @server.tool()
    def picture() -> Image:
        """A tiny picture."""
        return Image(data=PIXEL, format="png")

    return server


def _with_token(app: Any, token: str) -> Any:
    """`app`, answering 401 to any HTTP request without `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope.get("headers") or []).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    return guarded


def serve_http(server: MCPServer, port: int, token: str | None) -> None:
    import uvicorn

    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(_with_token(app, token) if token else app, host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mcp_server", description=__doc__.split("\n")[0])
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token")
    parser.add_argument("--log", type=Path, help="close_ticket appends what it closed here")
    args = parser.parse_args(argv)
    server = build(args.log)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        if not args.port:
            parser.error("http needs --port")
        serve_http(server, args.port, args.token)


if __name__ == "__main__":
    main(sys.argv[1:])
