"""What command replies carry for adapters to render richly (`Reply.data`): one frozen dataclass per kind of
answer. `Reply.text` always says the same in Markdown, for surfaces that show only text (the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from core.models.registry import ModelInfo
    from core.ollama.pull_jobs import JobView
    from core.reports.usage import UsageSum
    from core.types import TurnResult


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

    @classmethod
    def of(cls, m: ModelInfo, *, current: bool) -> ListedModel:
        return cls(
            name=m.name,
            alias=m.alias,
            context_window=m.context_window,
            input_usd_per_mtok=m.input_usd_per_mtok,
            output_usd_per_mtok=m.output_usd_per_mtok,
            tools=m.supports_tools,
            vision=m.supports_vision,
            local=m.is_local,
            current=current,
            usable=m.usable,
            reason=m.unusable_reason,
        )


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

    job: JobView


@dataclass(frozen=True)
class UsageReport:
    """`!usage`: tokens and cost of this thread (None outside a thread), this channel and the user."""

    thread: UsageSum | None
    channel: UsageSum
    user: UsageSum


@dataclass(frozen=True)
class ModelChosen:
    """A model was set: for a thread (`!model`, `!preset`) or as a channel's default."""

    model: str
    scope: Literal["thread", "channel"]
    preset: str | None = None


@dataclass(frozen=True)
class CurrentModel:
    """`!model` without a name: the model used here and where that choice comes from."""

    model: str
    source: str  # thread | channel | workspace | global | local


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
