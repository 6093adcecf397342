"""The neutral shapes adapters exchange with the core: what came in, and the events that go back out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IncomingMessage:
    """One platform message, translated by an adapter. A conversation is (platform, workspace, channel, thread)."""

    platform: str  # slack | discord | console
    workspace: str  # Slack team id, Discord guild id, "local"
    channel: str
    thread: str  # the thread's id; "" for a channel-level command (sets channel defaults)
    user: str
    text: str
    event_id: str | None = None  # the platform's delivery id: redeliveries carry the same one
    user_name: str = ""
    user_is_admin: bool = False
    is_dm: bool = False


@dataclass(frozen=True)
class TurnResult:
    """How a reply went: who wrote it, what it cost, and why a fallback stepped in."""

    model: str | None
    provider: str | None
    status: str  # ok | partial | interrupted | error
    text: str = ""
    fallback_from: str | None = None
    fallback_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    is_local: bool = False
    via: str | None = None  # the virtual model the user picked, when a member answered

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Delta:
    """A piece of the reply's text, in order."""

    text: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know about this turn (older turns left out, a fallback, ...)."""

    text: str


@dataclass(frozen=True)
class Choice:
    """A button or menu entry an adapter may render; `command` is what to run when it is picked."""

    label: str
    command: str
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class Reply:
    """A complete answer that is not a model's stream: a command's output, a refusal, an error.

    `text` is Markdown that every adapter can show; `kind` and `data` let adapters render richer forms
    (Block Kit, embeds) without re-deriving anything.
    """

    text: str
    kind: str = "info"  # info | error | refusal | models | usage | compare | confirm | progress
    data: Any = None
    ephemeral: bool = False
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Done:
    """The end of a model's reply: the result and the footer line to show under it."""

    result: TurnResult
    footer: str
    choices: tuple[Choice, ...] = field(default_factory=tuple)


Event = Delta | Notice | Reply | Done
