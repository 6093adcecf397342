"""The neutral shapes adapters exchange with the core: what came in, and the events that go back out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple, TypeAlias

from core.formatting import PullState
from core.storage.storable import storable_text


def _make_storable(obj: Any) -> None:
    """Replace, in place, every text field of a frozen dataclass with its storable form (see core.storage.storable)."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, str):
            cleaned = storable_text(value)
            if cleaned is not value:
                object.__setattr__(obj, f.name, cleaned)


FileFetch: TypeAlias = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class IncomingFile:
    """A file posted with a message, as its platform describes it. The core fetches it when the turn is answered
    (after the platform was told the message arrived), checks it against the limits, and keeps it with the
    message (core.attachments). `fetch` downloads the bytes with whatever credentials the platform needs and
    raises FileUnavailable when it cannot; `data`: the bytes already at hand (the console)."""

    name: str
    mime: str = ""  # as the platform says; the bytes decide
    size: int | None = None  # as the platform says (None: unknown until fetched)
    fetch: FileFetch | None = field(default=None, compare=False, repr=False)
    data: bytes | None = field(default=None, compare=False, repr=False)


class FileUnavailable(Exception):
    """An adapter could not download a file (gone, no access, too large to send): the message says why."""


FileKind = Literal["image", "text", "document"]


@dataclass(frozen=True)
class StoredFile:
    """A file kept with a user message: what a model is given of it (core.attachments)."""

    id: int
    name: str
    mime: str
    kind: FileKind
    size: int
    sha256: str | None  # its bytes in the blob store; None once retention removed them
    text: str | None = None  # a text file's text, or a PDF's
    pages: int | None = None


class ToolUse(NamedTuple):
    """A tool call an earlier reply made, as later turns are given it (core.tools.rounds)."""

    server: str
    tool: str
    arguments: str  # the call's arguments as JSON text
    status: str  # ok | error | timeout | declined | unavailable
    result: str  # what the model was given back (capped)


class HistoryTurn(NamedTuple):
    """One turn of a thread's history as a model is given it."""

    role: str
    content: str
    files: tuple[StoredFile, ...] = ()
    tools: tuple[ToolUse, ...] = ()  # an assistant turn's tool calls, in the order they ran


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
    files: tuple[IncomingFile, ...] = ()  # attachments, in the order they were posted

    def __post_init__(self) -> None:
        # Every adapter comes through here: text the databases cannot store (NUL) becomes U+FFFD once, so the
        # model, the replies and the stored message all see the same text.
        _make_storable(self)


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
    reasoning: str = ""  # what a reasoning model streamed as its thinking (not part of `text`, never history)
    reasoning_tokens: int | None = None  # of completion_tokens, where the provider says
    route_note: str | None = None  # how the chain's strategy chose the fallback, or skipped models (footer only)
    tool_rounds: int = 0  # model calls that ended in tool calls before this answer (0: no tools were used)
    tool_ms: float = 0.0  # how long this reply's tool calls ran, in all
    # Of the figures above, tokens and cost are the whole reply's (every round); the reply row stores only its
    # last round's, each earlier round having a row of its own (core.tools.rounds).

    def __post_init__(self) -> None:
        _make_storable(self)  # a provider's reply or error may carry NUL: shown and stored as U+FFFD

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Delta:
    """A piece of the reply's text, in order."""

    text: str

    def __post_init__(self) -> None:
        # once per streamed piece, so only the cheap check: a provider may stream NUL, shown and stored as U+FFFD
        cleaned = storable_text(self.text)
        if cleaned is not self.text:
            object.__setattr__(self, "text", cleaned)


@dataclass(frozen=True)
class Thinking:
    """A piece of a reasoning model's thinking, streamed before (or between) its answer's Deltas: shown apart from
    the answer, or not at all where a workspace turned reasoning off."""

    text: str


ToolState = Literal["running", "awaiting", "ok", "error", "timeout", "declined", "unavailable"]


@dataclass(frozen=True)
class ToolActivity:
    """A tool call of the reply being written, shown in the thread while it runs and after
    (core.routing.tool_loop): the same `call_id` again when its state changes. `args` is a short summary with
    secrets masked (core.tools.shown), never the raw arguments."""

    call_id: str
    server: str
    tool: str
    args: str
    state: ToolState
    seconds: float | None = None  # how long it ran (None while running)
    detail: str = ""  # how it ended, in a few words (an error, "1.2 KB", "waiting for your OK")


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


ReplyKind = Literal[
    "info",
    "error",  # something went wrong: adapters mark it, the console prints it on stderr
    "refusal",  # not allowed (policy, budget, admin-only)
    "confirm",  # waits for `!confirm` / `!cancel`
    "choices",  # which one did you mean? (its choices are the answers)
    "models",  # a `!models` page (data: ModelListing)
    "model_set",  # a model was set (data: ModelChosen)
    "model_info",  # the model used here (data: CurrentModel)
    "usage",  # `!usage` (data: UsageReport)
    "compare",  # `!compare` (data: Comparison)
    "progress",  # an install under way (data: PullProgress)
]


# ---------------------------------------------------------------- what command replies carry (Reply.data)
# One frozen dataclass per kind of answer, for adapters that render richly (Discord embeds); `Reply.text` always
# says the same in Markdown, for surfaces that show only text (the console).


@dataclass(frozen=True)
class ListedModel:
    """One model of a `!models` listing, with what a listing line shows."""

    name: str
    alias: str | None
    context_window: int | None
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    tools: bool
    vision: bool
    local: bool
    current: bool  # the model a message here would use now
    usable: bool
    reason: str | None  # why it is not usable


@dataclass(frozen=True)
class ModelGroup:
    """The models of one provider on a listing page."""

    provider: str
    label: str  # the provider's kind, as people call it ("OpenAI-compatible server")
    privacy: str  # where prompts go ("" when there is nothing to say)
    models: tuple[ListedModel, ...]


@dataclass(frozen=True)
class ModelListing:
    """A page of `!models`: models grouped by provider."""

    page: int
    pages: int
    total: int  # models matching, on all pages
    filter: str  # the filter as typed back (`local under:$1`), "" for none
    note: str  # a policy note (local-only, allowlist), "" for none
    groups: tuple[ModelGroup, ...]
    current: str | None


@dataclass(frozen=True)
class Comparison:
    """`!compare`: one prompt, each model's result in order."""

    prompt: str
    results: tuple[TurnResult, ...]


@dataclass(frozen=True)
class PullProgress:
    """An Ollama install as it stands: every progress reply of one install carries the same `job.id`, so an
    adapter can keep editing one message; the final reply carries the job as it ended."""

    job: PullState


@dataclass(frozen=True)
class UsageSum:
    """Tokens and cost of some replies (a thread's, a channel's, a user's)."""

    replies: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    unknown_cost_replies: int  # replies from models whose price is unknown: never counted as free

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class UsageReport:
    """`!usage`: tokens and cost of this thread (None outside a thread), this channel and the user."""

    thread: UsageSum | None
    channel: UsageSum
    user: UsageSum


@dataclass(frozen=True)
class ModelChosen:
    """A model was set: for a thread (`!model`, `!preset`), as a channel's default, or as a person's own default
    for their new threads (`!model NAME --mine`)."""

    model: str
    scope: Literal["thread", "channel", "personal"]
    preset: str | None = None


@dataclass(frozen=True)
class CurrentModel:
    """`!model` without a name: the model used here and where that choice comes from."""

    model: str
    source: str  # thread | personal | last | channel | workspace | global | local


@dataclass(frozen=True)
class CostConfirmation:
    """A reply that could cost more than the confirmation threshold waits for `!confirm`."""

    model: str
    estimate_usd: float


@dataclass(frozen=True)
class BudgetRefusal:
    """A hard budget would go over: the reply is refused."""

    budget_id: int
    spent: int  # in the budget's units (micro-dollars or tokens)
    limit: int
    resets: str


ReplyData: TypeAlias = (
    ModelListing
    | Comparison
    | PullProgress
    | UsageReport
    | ModelChosen
    | CurrentModel
    | CostConfirmation
    | BudgetRefusal
)


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Reply:
    """A complete answer that is not a model's stream: a command's output, a refusal, an error.

    `text` is Markdown that every adapter can show (the console shows only it); `kind` styles it, and `data`
    (the dataclasses above) lets adapters render richer forms (Block Kit, embeds) without re-deriving anything.
    """

    text: str
    kind: ReplyKind = "info"
    data: ReplyData | None = None
    ephemeral: bool = False
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Done:
    """The end of a model's reply: the result and the footer line to show under it."""

    result: TurnResult
    footer: str
    choices: tuple[Choice, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Accepted:
    """The message is a first delivery and a model will be asked: adapters may show "typing…" now. A redelivered
    event never gets one, so it shows nothing at all."""


Event = Accepted | Delta | Thinking | ToolActivity | Notice | Reply | Done
