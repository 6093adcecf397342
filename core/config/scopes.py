"""Defaults and policy per scope (global, workspace, channel): owns the ScopeSetting table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from core.config.prompts import Layer
from core.config.version import bump_config_version
from core.errors import UserError
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import ScopeSetting, utcnow

_UNSET: object = object()
MAX_INSTRUCTIONS_CHARS = 4000  # a system prompt layer: long enough for a house style, short of eating the window
# Nothing set anywhere: a thread may set its own instructions. Like a preset, they change only that thread, and
# they come after the workspace's and channel's, which stay in force; an admin forbids it per scope.
THREAD_INSTRUCTIONS_DEFAULT = True


@dataclass(frozen=True)
class ScopeKey:
    platform: str = ""
    workspace: str = ""
    channel: str = ""

    @property
    def label(self) -> str:
        if not self.workspace:
            return "global"
        if not self.channel:
            return f"workspace {self.workspace}"
        return f"channel {self.channel}"

    def parents(self) -> list[ScopeKey]:
        """This scope then its wider ones: channel, workspace, global."""
        keys = [self]
        if self.channel:
            keys.append(ScopeKey(self.platform, self.workspace, ""))
        if self.workspace:
            keys.append(ScopeKey())
        return keys


@dataclass(frozen=True)
class Policy:
    """The effective policy of a channel, with where each part came from."""

    default_model: str | None
    default_from: str | None
    allowed_models: frozenset[str] | None
    allowed_from: str | None
    local_only: bool
    local_only_from: str | None
    confirm_over_usd: float | None
    show_reasoning: bool = True  # a reasoning model's thinking is shown (apart from the answer)
    show_reasoning_from: str | None = None  # the scope that set it; None: SWITCHBOARD_SHOW_REASONING


@dataclass(frozen=True)
class Instructions:
    """What a channel's threads are told (global, then workspace, then channel: the widest first), and whether a
    thread may set its own, with the scope that decided (None: THREAD_INSTRUCTIONS_DEFAULT)."""

    layers: tuple[Layer, ...]
    thread_may_set: bool
    thread_may_set_from: str | None

    def for_thread(self, system_prompt: str | None, preset: str | None) -> tuple[Layer, ...]:
        """The layers a thread's turn is sent, its preset's or its own instructions after the scope's. A thread's
        own (no preset) are left out where threads may no longer set them: an admin's "no" holds at once."""
        if not system_prompt:
            return self.layers
        if preset:
            return (*self.layers, Layer("preset", preset, system_prompt))
        return (*self.layers, Layer("thread", "", system_prompt)) if self.thread_may_set else self.layers


def load_all() -> dict[ScopeKey, ScopeSetting]:
    with session() as s:
        return {ScopeKey(r.platform, r.workspace, r.channel): r for r in s.exec(select(ScopeSetting)).all()}


def effective_policy(key: ScopeKey, rows: dict[ScopeKey, ScopeSetting], global_default: str = "") -> Policy:
    """Merge channel over workspace over global. The first scope that sets a thing wins."""
    default = default_from = allowed_from = local_from = None
    allowed: frozenset[str] | None = None
    local_only = False
    confirm: float | None = None
    show_reasoning: bool | None = None
    show_from: str | None = None
    for k in key.parents():
        row = rows.get(k)
        if row is None:
            continue
        if default is None and row.default_model:
            default, default_from = row.default_model, k.label
        if allowed is None and row.allowed_models is not None:
            allowed, allowed_from = frozenset(row.allowed_models), k.label
        if row.local_only and not local_only:
            local_only, local_from = True, k.label
        if confirm is None and row.confirm_over_usd is not None:
            confirm = row.confirm_over_usd
        if show_reasoning is None and row.show_reasoning is not None:
            show_reasoning, show_from = row.show_reasoning, k.label
    if default is None and global_default:
        default, default_from = global_default, "global"
    if show_reasoning is None:
        show_reasoning = get_settings().show_reasoning
    return Policy(
        default, default_from, allowed, allowed_from, local_only, local_from, confirm, show_reasoning, show_from
    )


def effective_instructions(key: ScopeKey, rows: dict[ScopeKey, ScopeSetting]) -> Instructions:
    """Every scope's instructions, widest first (they add up); whether threads may set their own: the narrowest
    scope that says."""
    layers = []
    for k in reversed(key.parents()):
        row = rows.get(k)
        if row is not None and row.instructions:
            kind = "channel" if k.channel else "workspace" if k.workspace else "global"
            layers.append(Layer(kind, k.channel or k.workspace, row.instructions))
    may, may_from = THREAD_INSTRUCTIONS_DEFAULT, None
    for k in key.parents():
        row = rows.get(k)
        if row is not None and row.thread_instructions is not None:
            may, may_from = row.thread_instructions, k.label
            break
    return Instructions(tuple(layers), may, may_from)


def check_instructions(text: str | None) -> str | None:
    """Instructions as they are stored: trimmed, None when blank; a UserError when too long."""
    text = (text or "").strip()
    if len(text) > MAX_INSTRUCTIONS_CHARS:
        raise UserError(
            f"Instructions are limited to {MAX_INSTRUCTIONS_CHARS:,} characters; these have {len(text):,}. "
            "Shorten them (they are sent with every message of every thread they apply to)."
        )
    return text or None


def update_scope(
    key: ScopeKey,
    *,
    default_model: str | object | None = _UNSET,
    allowed_models: list[str] | object | None = _UNSET,
    local_only: bool | None = None,
    confirm_over_usd: float | object | None = _UNSET,
    show_reasoning: bool | object | None = _UNSET,
    instructions: str | object | None = _UNSET,
    thread_instructions: bool | object | None = _UNSET,
    by: str | None = None,
) -> None:
    """Set parts of a scope's policy; what is not passed stays as it is (`show_reasoning=None` and
    `thread_instructions=None`: inherit; `instructions=None` or blank: none at this scope)."""
    if isinstance(confirm_over_usd, (int, float)) and confirm_over_usd < 0:
        raise UserError("The confirmation threshold must be zero or more USD.")
    if instructions is not _UNSET:
        instructions = check_instructions(instructions if isinstance(instructions, str) else None)
    with session(write=True) as s:
        row = s.exec(
            select(ScopeSetting).where(
                ScopeSetting.platform == key.platform,
                ScopeSetting.workspace == key.workspace,
                ScopeSetting.channel == key.channel,
            )
        ).first() or ScopeSetting(platform=key.platform, workspace=key.workspace, channel=key.channel)
        if default_model is not _UNSET:
            row.default_model = default_model if isinstance(default_model, str) and default_model else None
        if allowed_models is not _UNSET:
            row.allowed_models = list(allowed_models) if isinstance(allowed_models, list) else None
        if local_only is not None:
            row.local_only = local_only
        if confirm_over_usd is not _UNSET:
            row.confirm_over_usd = float(confirm_over_usd) if isinstance(confirm_over_usd, (int, float)) else None
        if show_reasoning is not _UNSET:
            row.show_reasoning = show_reasoning if isinstance(show_reasoning, bool) else None
        if instructions is not _UNSET:
            row.instructions = instructions if isinstance(instructions, str) else None
        if thread_instructions is not _UNSET:
            row.thread_instructions = thread_instructions if isinstance(thread_instructions, bool) else None
        row.updated_at, row.updated_by = utcnow(), by
        s.add(row)
        bump_config_version(s)
