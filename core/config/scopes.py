"""Defaults and policy per scope (global, workspace, channel): owns the ScopeSetting table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from core.config.version import bump_config_version
from core.errors import UserError
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import ScopeSetting, utcnow

_UNSET: object = object()


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


def update_scope(
    key: ScopeKey,
    *,
    default_model: str | object | None = _UNSET,
    allowed_models: list[str] | object | None = _UNSET,
    local_only: bool | None = None,
    confirm_over_usd: float | object | None = _UNSET,
    show_reasoning: bool | object | None = _UNSET,
    by: str | None = None,
) -> None:
    """Set parts of a scope's policy; what is not passed stays as it is (`show_reasoning=None`: inherit)."""
    if isinstance(confirm_over_usd, (int, float)) and confirm_over_usd < 0:
        raise UserError("The confirmation threshold must be zero or more USD.")
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
        row.updated_at, row.updated_by = utcnow(), by
        s.add(row)
        bump_config_version(s)
