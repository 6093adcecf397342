"""discord.py glue for tests: point the library at the fake, run a client until ready."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from tests.fakes.discord.server import FakeDiscord


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake; restore them afterwards."""
    import discord.gateway
    import discord.http
    import yarl

    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old


@contextlib.asynccontextmanager
async def running(client: Any, fake: FakeDiscord, *, timeout: float = 15.0) -> AsyncIterator[Any]:
    """Start a discord.py client against the fake, wait for on_ready, close it on exit."""
    task = asyncio.create_task(client.start(fake.token))
    deadline = time.monotonic() + timeout
    try:
        while not client.is_ready():
            if task.done():
                task.result()  # raises the client's failure
                raise RuntimeError("client stopped before becoming ready")
            if time.monotonic() > deadline:
                raise TimeoutError("discord client did not become ready")
            await asyncio.sleep(0.02)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
