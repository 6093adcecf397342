"""Tests that read like a user: `said = await thread.say("!model gpt-4o")`, then assert on what they saw.

`World` wires the core to loopback fakes: a cloud OpenAI (paid models with known prices) and a self-hosted
OpenAI-compatible server on loopback (local, free models), both reached through the real litellm.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from core.chat import handle
from core.models.sync import refresh
from core.providers.store import add_provider
from core.types import Delta, Done, Event, IncomingFile, IncomingMessage, Notice, Reply
from tests.fakes.openai import FakeOpenAI

CLOUD_KEY = "sk-test-cloud-key-0001"
_ids = itertools.count(1)


@dataclass
class Said:
    """Everything one message produced, as the user would see it."""

    events: list[Event] = field(default_factory=list)

    @property
    def streamed(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, Delta))

    @property
    def replies(self) -> list[Reply]:
        return [e for e in self.events if isinstance(e, Reply)]

    @property
    def notices(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Notice)]

    @property
    def done(self) -> Done | None:
        return next((e for e in self.events if isinstance(e, Done)), None)

    @property
    def footer(self) -> str:
        return self.done.footer if self.done else ""

    @property
    def text(self) -> str:
        """All visible text: replies, notices, the stream and the footer."""
        parts = [r.text for r in self.replies] + self.notices + [self.streamed, self.footer]
        return "\n".join(p for p in parts if p)


@dataclass
class Thread:
    thread: str = "T-1"
    channel: str = "C1"
    workspace: str = "W1"
    platform: str = "console"
    user: str = "U1"
    admin: bool = False

    def message(self, text: str, event_id: str | None = None, files: tuple[IncomingFile, ...] = ()) -> IncomingMessage:
        return IncomingMessage(
            platform=self.platform,
            workspace=self.workspace,
            channel=self.channel,
            thread=self.thread,
            user=self.user,
            user_name=f"user-{self.user}",
            text=text,
            event_id=event_id or f"ev-{next(_ids)}",
            user_is_admin=self.admin,
            files=files,
        )

    async def say(self, text: str, event_id: str | None = None, files: tuple[IncomingFile, ...] = ()) -> Said:
        said = Said()
        async for event in handle(self.message(text, event_id, files)):
            said.events.append(event)
        return said

    def channel_level(self) -> Thread:
        """The same place, outside any thread (what a slash command in the channel is)."""
        return Thread("", self.channel, self.workspace, self.platform, self.user, self.admin)


@dataclass
class World:
    cloud: FakeOpenAI
    local: FakeOpenAI

    async def refresh(self) -> None:
        await refresh()


async def make_world(cloud: FakeOpenAI, local: FakeOpenAI) -> World:
    await asyncio.to_thread(add_provider, "oa", "openai", base_url=cloud.url + "/v1", api_key=CLOUD_KEY)
    await asyncio.to_thread(add_provider, "local", "openai_compatible", base_url=local.url + "/v1")
    await refresh()
    return World(cloud, local)
