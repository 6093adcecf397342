"""Which model a user meant by a name they typed: shared by `!model NAME` and `!model NAME --mine`."""

from __future__ import annotations

from core.commands.base import Context
from core.menus.listing import listed, summary
from core.models.registry import ModelInfo, resolve_model
from core.types import Choice, Reply


def describe(m: ModelInfo) -> str:
    return summary(listed(m, current=False))


def find_model(ctx: Context, name: str, then: str = "") -> ModelInfo | Reply:
    """The model `name` means, or the reply that asks which one (several match) or names close ones (none does).
    `then`: what the offered `!model` commands end with (e.g. " --mine")."""
    res = resolve_model(name, ctx.snap.models)
    if res.model is not None:
        return res.model
    if res.candidates:
        names = [c.name for c in res.candidates[:10]]
        return Reply(
            f"'{name}' matches several models: " + ", ".join(f"`{n}`" for n in names) + ". Which one?",
            kind="choices",
            ephemeral=True,
            choices=tuple(Choice(n, f"!model {n}{then}") for n in names),
        )
    near = list(res.suggestions)  # only close names (core.models.matching): never unrelated ones
    hint = f" Did you mean {', '.join(f'`{n}`' for n in near[:3])}?" if near else " No model has a close name."
    return Reply(
        f"There is no model called '{name}'.{hint} `!models` lists them all.",
        kind="error",
        ephemeral=True,
        choices=tuple(Choice(n, f"!model {n}{then}") for n in near[:3]),
    )


def price_note(m: ModelInfo) -> str:
    """What choosing `m` means for money, as a sentence to append (empty for a free model)."""
    if not m.is_local and not m.price_known:
        return " Its price is unknown, so its cost can't be shown or budgeted until an admin sets it."
    if m.is_paid:
        return " It is a paid model: replies cost money (shown under each reply)."
    return ""
