"""One vocabulary for "a person says this in that place", the same on Slack, Discord and the console:

    async def test_x(place: Place) -> None:      # the `place` fixture (tests/conftest.py): slack, discord, console
        seen = await place.person("ada").says("hello")         # in the place's thread, started if needed
        assert seen.answer == "echo: hello" and "llama" in seen.footer
        seen = await place.person("ada").says("!model gpt-4o")
        assert "now uses" in seen.text

`says` returns once the platform is done with the message, known the platform's own way (Slack: the app's work
after its acks has ended; Discord: the bot received the message and its on_message listeners returned; console:
the reply driver returned), and `Seen` is what that person saw appear: the model's answer (and how it grew while
streaming), its footer, notices, command replies (and whether only they saw them), and buttons.

Each place wraps the existing kits, so this is the real app on its real client library against the loopback
fakes: `tests.slackkit.serve` (bolt under uvicorn, HTTP mode) with a FakeSlack, `tests.discordkit.online` (the
bot `create_bot` builds) with a FakeDiscord, and `core.delivery.drive` with `bot.console.Terminal` (the path of
`switchboard chat`). The models are the `world` fixture's (tests.chatkit.World), the database the test's.

Where surfaces legitimately differ, `Seen` says so and `Place` says what the surface can do, so a test asserts
once: `seen.private == place.whispers` (Slack shows an ephemeral answer only to its asker; a message typed on
Discord cannot be answered privately; a terminal has one reader), `seen.buttons` is empty where
`not place.has_buttons` (a terminal prints the text, which names the same commands).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pytest

from bot.console import Terminal, incoming
from bot.discord.app import SwitchboardBot
from core.delivery.driver import drive
from core.delivery.surface import Tail, Thought
from core.delivery.tools import CUT_OFF_ICON, ICONS
from core.settings import reload_settings
from core.types import Reply, ToolActivity
from tests.chatkit import World
from tests.discordkit import Person as DiscordPerson
from tests.discordkit import handled, online, pointed_at
from tests.fakes.discord import FakeDiscord, FakeMessage
from tests.fakes.slack import FakeSlack, Message, SlackSender
from tests.slackkit import CHANNEL, Bot, footer_of, serve

SURFACES = ("slack", "discord", "console")
Kind = Literal["answer", "reply", "notice", "thinking", "tool"]
TOOL_ICONS = (*ICONS.values(), CUT_OFF_ICON)  # a tool call's line starts with one (core.delivery.tools.tool_line)


@dataclass(frozen=True)
class Shown:
    """One thing that appeared for the person: a message (or a piece of one long answer), as it reads now."""

    kind: Kind  # answer: the model's streamed reply | reply: a command's answer, a refusal, an error | notice
    # | thinking: a reasoning model's thinking, shown apart from its answer
    # | tool: a tool call of the reply, its line as it reads now (core.delivery.tools.tool_line), unescaped
    text: str  # as the surface shows it (Slack mrkdwn, Discord Markdown, the terminal's text), tail excluded
    private: bool = False  # only this person sees it (Slack ephemeral, a Discord ephemeral message)
    footer: str = ""  # under an answer: model · tokens · cost (· fallback)
    notes: tuple[str, ...] = ()  # notices in an answer's tail
    buttons: tuple[str, ...] = ()  # labels of the buttons on it
    versions: tuple[str, ...] = ()  # an answer's text each time it changed, the final text last


@dataclass
class Seen:
    """What one person saw after one message, in the order it appeared."""

    surface: str
    shown: list[Shown] = field(default_factory=list)
    delivery: Any = field(default=None, repr=False)  # how the message was delivered (for Place.redeliver)

    @property
    def answers(self) -> list[Shown]:
        return [s for s in self.shown if s.kind == "answer"]

    @property
    def thinking(self) -> str:
        """A reasoning model's thinking as it was shown apart from the answer ('' when none was)."""
        return "\n".join(s.text for s in self.shown if s.kind == "thinking")

    @property
    def tools(self) -> list[str]:
        """The reply's tool calls, each as its line reads now, in the order they were shown."""
        return [s.text for s in self.shown if s.kind == "tool"]

    @property
    def answer(self) -> str:
        """The model's reply, final text (the pieces of a long one joined by a line break)."""
        return "\n".join(s.text for s in self.answers)

    @property
    def streamed(self) -> list[str]:
        """The answer's text each time it changed while it streamed, piece by piece, each piece's final last."""
        return [v for s in self.answers for v in s.versions]

    @property
    def footer(self) -> str:
        """The footer under the answer ('' when there is none, e.g. after an error)."""
        return next((s.footer for s in reversed(self.answers) if s.footer), "")

    @property
    def notices(self) -> list[str]:
        """Notices: on their own before the answer, then those in the answer's tail."""
        alone = [s.text for s in self.shown if s.kind == "notice"]
        return alone + [n for s in self.answers for n in s.notes]

    @property
    def replies(self) -> list[Shown]:
        return [s for s in self.shown if s.kind == "reply"]

    @property
    def reply(self) -> str:
        """What the commands, refusals and errors said, joined."""
        return "\n".join(s.text for s in self.replies)

    @property
    def private(self) -> bool:
        """There were replies and only this person saw them."""
        return bool(self.replies) and all(s.private for s in self.replies)

    @property
    def buttons(self) -> list[str]:
        return [b for s in self.shown for b in s.buttons]

    @property
    def text(self) -> str:
        """Everything visible: each thing shown, its notes and its footer."""
        parts = [p for s in self.shown for p in (s.text, *s.notes, s.footer)]
        return "\n".join(p for p in parts if p)

    @property
    def nothing(self) -> bool:
        return not self.shown


@dataclass(frozen=True)
class Person:
    place: Place
    name: str

    async def says(self, text: str) -> Seen:
        """`text` in the place's thread: the first message of a thread starts it (a mention in the channel on
        Slack and Discord), later ones are plain messages in it."""
        return await self.place.said(self.name, text)


class Place:
    """Where people talk to the bot: one channel, and the thread the next message goes to."""

    surface: ClassVar[str]
    whispers: ClassVar[bool]  # can answer a typed message so only its author sees it
    has_buttons: ClassVar[bool]
    redelivers: ClassVar[bool]  # the platform may deliver one message twice

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world = world
        self._monkeypatch = monkeypatch
        self.started = False  # the current thread has its first message

    def person(self, name: str) -> Person:
        return Person(self, name)

    def new_thread(self) -> None:
        """The next message starts a new thread."""
        self.started = False

    def setting(self, name: str, value: str) -> None:
        """Change a setting (an environment variable, as operators do) for the rest of the test."""
        self._monkeypatch.setenv(name, value)
        reload_settings()

    async def said(self, name: str, text: str) -> Seen:
        raise NotImplementedError

    async def redeliver(self, seen: Seen) -> Seen:
        """The platform delivers the message `seen` answered once more; returns what appeared after it."""
        raise NotImplementedError(f"{self.surface} does not redeliver messages")


def _since(before: Iterable[Any], now: Iterable[Any]) -> list[Any]:
    seen = set(before)
    return [x for x in now if x not in seen]


# ---------------------------------------------------------------- Slack


class SlackPlace(Place):
    surface = "slack"
    whispers = True
    has_buttons = True
    redelivers = True

    def __init__(self, bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(world, monkeypatch)
        self.bot = bot
        self.fake: FakeSlack = bot.fake
        self.channel = CHANNEL
        self.thread_ts = ""
        self._senders: dict[str, SlackSender] = {"ada": bot.ada}

    def sender(self, name: str) -> SlackSender:
        """The SlackSender for `name` (ada is slackkit's; anyone else is added to the workspace)."""
        if name not in self._senders:
            user = "U0" + re.sub(r"[^A-Z0-9]", "", name.upper())[:9].ljust(9, "0")
            self.fake.add_user(user, name, team_id=self.fake.workspace().team_id)
            self._senders[name] = self.bot.person(user, name)
        return self._senders[name]

    def _mark(self) -> tuple[list[str], int]:
        return [m.ts for m in self.fake.bot_messages(self.channel)], len(self.fake.ephemerals)

    async def said(self, name: str, text: str) -> Seen:
        by = self.sender(name)
        mark = self._mark()
        if not self.started:
            # A mention in the channel; like Slack, the app gets `app_mention` and `message` for it.
            mention = by.app_mention(text)
            plain = by.message(mention["text"], ts=mention["ts"], channel=mention["channel"])
            envelopes = [await self.bot.deliver(mention, by=by), await self.bot.deliver(plain, by=by)]
            self.thread_ts, self.started = mention["ts"], True
        else:
            envelopes = [await self.bot.deliver(by.message(text, thread_ts=self.thread_ts), by=by)]
        await self.bot.settled()
        return self._seen(mark, by.user_id, (by, envelopes))

    async def redeliver(self, seen: Seen) -> Seen:
        by, envelopes = seen.delivery
        mark = self._mark()
        for envelope in envelopes:
            await self.bot.redeliver(envelope, by=by)
        await self.bot.settled()
        return self._seen(mark, by.user_id, seen.delivery)

    def _seen(self, mark: tuple[list[str], int], user: str, delivery: Any) -> Seen:
        before, ephemerals = mark
        new = _since(before, [m.ts for m in self.fake.bot_messages(self.channel)])
        shown = [self._shown(self.fake.message(self.channel, ts)) for ts in new]
        shown += [
            Shown("reply", e.text, private=True, buttons=_slack_buttons(e.blocks))
            for e in self.fake.ephemerals[ephemerals:]
            if e.user == user and e.channel == self.channel
        ]
        return Seen(self.surface, shown, delivery)

    def _shown(self, m: Message) -> Shown:
        blocks = m.blocks or []
        markdown = [b["text"] for b in blocks if b.get("type") == "markdown"]
        buttons = _slack_buttons(blocks)
        texts = [str(e.get("text", "")) for b in blocks if b.get("type") == "context" for e in b.get("elements", [])]
        if texts and texts[0].startswith(":thought_balloon: "):  # a reasoning model's thinking, above its answer
            return Shown("thinking", "\n".join(texts))
        elements = [e for b in blocks if b.get("type") == "context" for e in b.get("elements", [])]
        if (
            len(blocks) == len(elements) == 1
            and elements[0].get("type") == "plain_text"
            and texts[0].startswith(TOOL_ICONS)
        ):  # a tool call: one line of plain text
            return Shown("tool", texts[0])
        if markdown or m.stream_state is not None:  # a model's reply: streamed, or posted and edited
            footer = footer_of(m)
            notes = [
                str(e.get("text", "")).removeprefix(":information_source: ")
                for b in blocks
                if b.get("type") == "context"
                for e in b.get("elements", [])
                if str(e.get("text", "")).startswith(":information_source: ")
            ]
            text = markdown[0] if markdown else m.text
            return Shown("answer", text, footer=footer, notes=tuple(notes), buttons=buttons, versions=self._versions(m))
        if blocks and all(b.get("type") == "context" for b in blocks):
            return Shown("notice", m.text)
        return Shown("reply", m.text, buttons=buttons)

    def _versions(self, m: Message) -> tuple[str, ...]:
        created = next(
            (c for c in self.fake.api_calls if c.ok and c.response and c.response.get("ts") == m.ts),
            None,
        )
        first: list[str] = []
        if created is not None and created.method == "chat.startStream":  # markdown_text and/or chunks
            chunks = [c for c in created.params.get("chunks") or [] if c.get("type") == "markdown_text"]
            first = [str(created.params.get("markdown_text") or "") + "".join(str(c["text"]) for c in chunks)]
        elif created is not None:
            first = _slack_markdown(created.params.get("blocks")) or [str(created.params.get("text") or "")]
        later = [(_slack_markdown(e.blocks) or [e.text])[0] if e.method == "chat.update" else e.text for e in m.edits]
        versions = [v for v in first[:1] + later if v]
        return tuple(v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1])


def _slack_markdown(blocks: Any) -> list[str]:
    return [str(b["text"]) for b in blocks or [] if isinstance(b, dict) and b.get("type") == "markdown"]


def _slack_buttons(blocks: Any) -> tuple[str, ...]:
    return tuple(
        str(e["text"]["text"])
        for b in blocks or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("type") == "button"
    )


# ---------------------------------------------------------------- Discord


class DiscordPlace(Place):
    surface = "discord"
    whispers = False  # only an interaction (a slash command, a click) can be answered privately
    has_buttons = True
    redelivers = True

    def __init__(
        self, fake: FakeDiscord, client: SwitchboardBot, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        super().__init__(world, monkeypatch)
        self.fake = fake
        self.client = client  # the running bot
        self.thread: dict[str, Any] | None = None  # where the conversation went (a thread, or the channel)
        self._users: dict[str, dict[str, Any]] = {"alice": fake.user}

    def user(self, name: str) -> dict[str, Any]:
        """The fake's user called `name` (alice is the fake's own; anyone else joins the guild)."""
        if name not in self._users:
            user = self.fake.add_user(name)
            self.fake.add_member(self.fake.guild, user)
            self._users[name] = user
        return self._users[name]

    def _mark(self) -> list[int]:
        return list(self.fake.messages)

    async def said(self, name: str, text: str) -> Seen:
        who = DiscordPerson(self.fake, self.user(name))
        mark = self._mark()
        if not self.started or self.thread is None:
            payload = who.says(self.fake.channel, text, mention=True)  # the bot opens a thread from it
        else:
            payload = who.says(self.thread, text)
        await handled(self.client, payload)
        if not self.started:
            self.thread = self.fake.channels.get(int(payload["id"])) or self.fake.channel  # the thread has its id
            self.started = True
        return self._seen(mark, payload)

    async def redeliver(self, seen: Seen) -> Seen:
        payload = seen.delivery
        mark = self._mark()
        times = sum(1 for m in self.client.cached_messages if m.id == int(payload["id"]))
        self.fake.dispatch("MESSAGE_CREATE", payload)  # as after a gateway resume
        await handled(self.client, payload, times=times + 1)
        return self._seen(mark, payload)

    def _seen(self, mark: list[int], delivery: Any) -> Seen:
        bot = self.fake.bot["id"]
        new = sorted(
            (self.fake.messages[i] for i in _since(mark, list(self.fake.messages))),
            key=lambda m: m.id,
        )
        mine = [m for m in new if m.data["author"]["id"] == bot and not m.deleted]
        shown = [self._shown(m) for m in mine]
        # The earlier pieces of a long answer carry no footer: they are part of the answer that follows them.
        for i in range(len(shown) - 2, -1, -1):
            s = shown[i]
            if s.kind == "reply" and shown[i + 1].kind == "answer" and not s.buttons and not mine[i].data["embeds"]:
                shown[i] = dataclasses.replace(s, kind="answer", versions=self._versions(mine[i]))
        return Seen(self.surface, shown, delivery)

    def _shown(self, m: FakeMessage) -> Shown:
        if m.content.startswith("-# 💭 "):  # a reasoning model's thinking, above its answer: all subtext
            return Shown("thinking", "\n".join(line.removeprefix("-# ") for line in m.content.splitlines()))
        if m.content.removeprefix("-# ").startswith(TOOL_ICONS):  # a tool call: one line of subtext, escaped
            return Shown("tool", re.sub(r"\\(.)", r"\1", m.content.removeprefix("-# ")).replace("\u200b", ""))
        body, notes, footer = _discord_parts(m.content)
        embeds = [p for e in m.data["embeds"] for p in (e.get("title"), e.get("description")) if p]
        text = "\n".join(p for p in [body, *embeds] if p)
        buttons = tuple(
            str(c["label"]) for row in m.data.get("components") or [] for c in row.get("components", []) if "label" in c
        )
        if not text and notes and not footer:
            return Shown("notice", "\n".join(notes), private=m.ephemeral)
        if footer or m.edits:  # a streamed reply is edited as it grows; a finished one ends with its footer
            return Shown(
                "answer",
                text,
                private=m.ephemeral,
                footer=footer,
                notes=notes,
                buttons=buttons,
                versions=self._versions(m),
            )
        return Shown("reply", text, private=m.ephemeral, buttons=buttons)

    def _versions(self, m: FakeMessage) -> tuple[str, ...]:
        created = next(
            (
                c
                for c in self.fake.api_calls(method="POST")
                if isinstance(c.response, dict) and str(c.response.get("id")) == str(m.id)
            ),
            None,
        )
        first = (
            [str(created.json.get("content") or "")] if created is not None and isinstance(created.json, dict) else []
        )
        versions = [_discord_parts(v)[0] for v in first + [e.content for e in m.edits]]
        versions = [v for v in versions if v]
        return tuple(v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1])


def _discord_parts(content: str) -> tuple[str, tuple[str, ...], str]:
    """A message's content as (body, notices in its tail, footer): the tail is its last `-# ` lines."""
    lines = content.splitlines()
    tail: list[str] = []
    while lines and lines[-1].startswith("-# "):
        tail.insert(0, lines.pop()[3:])
    notes = tuple(t.removeprefix("ℹ️ ") for t in tail if t.startswith("ℹ️ "))
    footer = next((t for t in reversed(tail) if not t.startswith("ℹ️ ")), "")
    return "\n".join(lines).strip(), notes, footer


# ---------------------------------------------------------------- console


class WatchedTerminal(Terminal):
    """`switchboard chat`'s terminal, printing into buffers, with a record of what it printed."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), io.StringIO())
        self.shown: list[Shown] = []
        self._pieces: dict[int, int] = {}  # handle -> index in shown
        self._calls: dict[int, int] = {}  # a tool call's handle -> index in shown

    async def show(self, reply: Reply) -> None:
        await super().show(reply)
        self.shown.append(Shown("reply", reply.text))  # a terminal prints no buttons

    async def notice(self, text: str) -> None:
        await super().notice(text)
        self.shown.append(Shown("notice", text))

    async def edit(self, handle: int, text: str, *, final: bool, tail: Tail | None) -> None:
        await super().edit(handle, text, final=final, tail=tail)  # Terminal.post writes through edit too
        if handle not in self._pieces:
            self._pieces[handle] = len(self.shown)
            self.shown.append(Shown("answer", ""))
        i = self._pieces[handle]
        piece = self.shown[i]
        versions = piece.versions if piece.versions[-1:] == (text,) else (*piece.versions, text)
        if tail is not None:
            piece = dataclasses.replace(piece, footer=tail.footer or "", notes=tail.notices)
        self.shown[i] = dataclasses.replace(piece, text=text, versions=versions)

    async def think(self, handle: int | None, thought: Thought) -> int:
        before = len(self.err.getvalue())
        handle = await super().think(handle, thought)
        printed = self.err.getvalue()[before:]
        if not any(s.kind == "thinking" for s in self.shown):
            self.shown.append(Shown("thinking", ""))
        i = next(i for i, s in enumerate(self.shown) if s.kind == "thinking")
        self.shown[i] = dataclasses.replace(self.shown[i], text=self.shown[i].text + printed)
        return handle

    async def tool(self, handle: int | None, activity: ToolActivity) -> int:
        before = len(self.err.getvalue())
        shown = handle is not None
        handle = await super().tool(handle, activity)
        line = self.err.getvalue()[before:].strip().removeprefix("[tool] ")
        if not shown:
            self._calls[handle] = len(self.shown)
            self.shown.append(Shown("tool", line))
        self.shown[self._calls[handle]] = Shown("tool", line)
        return handle

    @property
    def printed(self) -> str:
        return self.out.getvalue() + self.err.getvalue()


class ConsolePlace(Place):
    surface = "console"
    whispers = False  # one reader: nothing is shown to some and not to others
    has_buttons = False
    redelivers = False  # each line typed is one turn

    _threads = itertools.count(1)

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(world, monkeypatch)
        self.thread = ""
        self.terminals: list[WatchedTerminal] = []  # one per turn: `.printed` is what the terminal showed

    async def said(self, name: str, text: str) -> Seen:
        if not self.started:
            self.thread, self.started = f"people-{next(self._threads)}", True
        # `switchboard chat` sends the operator's lines as this; here the person's name is the user
        msg = dataclasses.replace(incoming(self.thread, text), user=name, user_name=name)
        terminal = WatchedTerminal()
        self.terminals.append(terminal)
        await drive(msg, terminal)
        return Seen(self.surface, list(terminal.shown), msg)


# ---------------------------------------------------------------- opening one


@contextlib.asynccontextmanager
async def opened(surface: str, world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Place]:
    """A place on `surface` with its app running (what the `place` fixture yields)."""
    if surface == "slack":
        with FakeSlack() as fake:
            async with serve(fake) as bot:
                yield SlackPlace(bot, world, monkeypatch)
    elif surface == "discord":
        with FakeDiscord() as fake, pointed_at(fake, monkeypatch):
            async with online(fake) as client:
                yield DiscordPlace(fake, client, world, monkeypatch)
    elif surface == "console":
        yield ConsolePlace(world, monkeypatch)
    else:
        raise ValueError(f"no surface called {surface!r}: {', '.join(SURFACES)}")
