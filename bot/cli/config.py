"""Routing configuration from the CLI: presets, fallback chains, prompt templates, virtual models, defaults."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.output import command, emit_json, fail, table
from core.config.scopes import ScopeKey

presets_app = typer.Typer(help="Named model + system prompt presets (`!preset NAME`).", no_args_is_help=True)
chains_app = typer.Typer(help="Fallback chains.", no_args_is_help=True)
templates_app = typer.Typer(help="System prompt templates per model family or name pattern.", no_args_is_help=True)
virtual_app = typer.Typer(help="Virtual models routed by litellm among members (e.g. auto-fast).", no_args_is_help=True)
defaults_app = typer.Typer(
    help="Default model, allowlist, local-only and instructions per workspace or channel.", no_args_is_help=True
)

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _models(names: str) -> list[str]:
    from core.models.registry import require_model

    return [require_model(n.strip()).name for n in names.split(",") if n.strip()]


def _scope(value: str | None, platform: str) -> ScopeKey:
    """'global', 'workspace:T1' or 'channel:T1/C1'."""
    if not value or value == "global":
        return ScopeKey()
    kind, _, rest = value.partition(":")
    if kind == "workspace" and rest and "/" not in rest:
        return ScopeKey(platform, rest, "")
    if kind == "channel" and rest.count("/") == 1 and all(rest.split("/")):
        ws, ch = rest.split("/")
        return ScopeKey(platform, ws, ch)
    fail(f"Bad scope '{value}': use global, workspace:WORKSPACE or channel:WORKSPACE/CHANNEL.")


@presets_app.command("add")
@command
def preset_add(
    name: str,
    model: Annotated[str, typer.Option("--model", help="Model name or alias.")],
    system_prompt: Annotated[str, typer.Option("--system-prompt", help="System prompt.")] = "",
    description: Annotated[str, typer.Option("--description", help="Shown in `!preset`.")] = "",
) -> None:
    """Create or replace a preset."""
    from core.config.prompts import save_preset

    (resolved,) = _models(model)
    save_preset(name, resolved, system_prompt, description)
    typer.echo(f"Preset '{name}' uses {resolved}.")


@presets_app.command("list")
@command
def preset_list(as_json: JSON = False) -> None:
    """List presets."""
    from core.config.prompts import list_presets

    rows = list_presets()
    if as_json:
        emit_json(rows)
    else:
        table([(p.name, p.model, p.description) for p in rows], ["NAME", "MODEL", "DESCRIPTION"])


@presets_app.command("remove")
@command
def preset_remove(name: str) -> None:
    """Remove a preset."""
    from core.config.prompts import delete_preset

    delete_preset(name)
    typer.echo(f"Removed preset '{name}'.")


@chains_app.command("add")
@command
def chain_add(
    name: str,
    models: Annotated[str, typer.Option("--models", help="Comma-separated, tried in order after the model.")],
    for_model: Annotated[str | None, typer.Option("--for-model", help="Only when this model fails.")] = None,
    scope: Annotated[str | None, typer.Option("--scope", help="global | workspace:W | channel:W/C")] = None,
    platform: Annotated[str, typer.Option("--platform", help="slack | discord | console")] = "slack",
    allow_paid: Annotated[bool, typer.Option("--allow-paid", help="May move a free thread to a paid model.")] = False,
    content_policy: Annotated[
        str | None, typer.Option("--content-policy", help="On a content-policy refusal: fallback | stop.")
    ] = None,
    strategy: Annotated[
        str,
        typer.Option("--strategy", help="Order after the thread's model: in_order | fastest | cheapest (measured)."),
    ] = "in_order",
    max_error_rate: Annotated[
        float | None,
        typer.Option("--max-error-rate", help="Try last a model whose recent error rate is above this (0-1)."),
    ] = None,
    max_p95_ms: Annotated[
        float | None, typer.Option("--max-p95-ms", help="Try last a model whose recent p95 latency is above this.")
    ] = None,
) -> None:
    """Create or replace a fallback chain."""
    from core.config.chains import save_chain

    target = _models(for_model)[0] if for_model else None
    save_chain(
        name,
        _models(models),
        scope=_scope(scope, platform),
        for_model=target,
        allow_paid=allow_paid,
        content_policy_rule=content_policy,
        strategy=strategy,
        max_error_rate=max_error_rate,
        max_p95_ms=max_p95_ms,
    )
    typer.echo(f"Chain '{name}' saved.")


@chains_app.command("list")
@command
def chain_list(as_json: JSON = False) -> None:
    """List fallback chains."""
    from core.config.chains import list_chains

    rows = list_chains()
    if as_json:
        emit_json(rows)
    else:
        table(
            [
                (
                    c.name,
                    c.scope.label,
                    c.for_model or "any",
                    " > ".join(c.models),
                    "yes" if c.allow_paid else "no",
                    c.strategy,
                    _thresholds(c.max_error_rate, c.max_p95_ms),
                )
                for c in rows
            ],
            ["NAME", "SCOPE", "FOR", "CHAIN", "PAID OK", "STRATEGY", "TRY LAST WHEN"],
        )


def _thresholds(max_error_rate: float | None, max_p95_ms: float | None) -> str:
    from core.formatting import latency

    over = [f"errors > {max_error_rate:.0%}"] if max_error_rate is not None else []
    over += [f"p95 > {latency(max_p95_ms)}"] if max_p95_ms is not None else []
    return ", ".join(over) or "-"


@chains_app.command("remove")
@command
def chain_remove(name: str) -> None:
    """Remove a fallback chain."""
    from core.config.chains import delete_chain

    delete_chain(name)
    typer.echo(f"Removed chain '{name}'.")


@templates_app.command("add")
@command
def template_add(
    name: str,
    pattern: Annotated[str, typer.Option("--pattern", help="fnmatch on model name/id/family, e.g. 'llama*'.")],
    system_prompt: Annotated[str, typer.Option("--system-prompt", help="May use {date} {platform} {user} ...")],
    priority: Annotated[int, typer.Option("--priority", help="Higher wins.")] = 0,
) -> None:
    """Create or replace a prompt template."""
    from core.config.prompts import save_template

    save_template(name, pattern, system_prompt, priority)
    typer.echo(f"Template '{name}' saved.")


@templates_app.command("list")
@command
def template_list(as_json: JSON = False) -> None:
    """List prompt templates."""
    from core.config.prompts import list_templates

    rows = list_templates()
    if as_json:
        emit_json(rows)
    else:
        table(
            [(t.name, t.pattern, t.priority, t.system_prompt[:60]) for t in rows],
            ["NAME", "PATTERN", "PRIORITY", "PROMPT"],
        )


@templates_app.command("remove")
@command
def template_remove(name: str) -> None:
    """Remove a prompt template."""
    from core.config.prompts import delete_template

    delete_template(name)
    typer.echo(f"Removed template '{name}'.")


@virtual_app.command("add")
@command
def virtual_add(
    name: str,
    members: Annotated[str, typer.Option("--members", help="Comma-separated member models.")],
    strategy: Annotated[str, typer.Option("--strategy", help="latency | cost | least-busy | shuffle")] = "latency",
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create or replace a virtual model users can pick like any model."""
    from core.config.chains import save_virtual_model

    save_virtual_model(name, _models(members), strategy, description)
    typer.echo(f"Virtual model '{name}' saved.")


@virtual_app.command("list")
@command
def virtual_list(as_json: JSON = False) -> None:
    """List virtual models."""
    from core.config.chains import list_virtual_models

    rows = list_virtual_models()
    if as_json:
        emit_json(rows)
    else:
        table([(v.name, v.strategy, ", ".join(v.members)) for v in rows], ["NAME", "STRATEGY", "MEMBERS"])


@virtual_app.command("remove")
@command
def virtual_remove(name: str) -> None:
    """Remove a virtual model."""
    from core.config.chains import delete_virtual_model

    delete_virtual_model(name)
    typer.echo(f"Removed virtual model '{name}'.")


@defaults_app.command("set")
@command
def defaults_set(
    scope: Annotated[str, typer.Option("--scope", help="global | workspace:W | channel:W/C")] = "global",
    platform: Annotated[str, typer.Option("--platform", help="slack | discord | console")] = "slack",
    model: Annotated[str | None, typer.Option("--model", help="Default model ('' clears).")] = None,
    allow: Annotated[str | None, typer.Option("--allow", help="Comma-separated allowlist ('' clears).")] = None,
    local_only: Annotated[bool | None, typer.Option("--local-only/--any-model", help="Keep data local.")] = None,
    confirm_over: Annotated[
        float | None, typer.Option("--confirm-over-usd", help="Ask before a reply estimated above this.")
    ] = None,
    instructions: Annotated[
        str | None, typer.Option("--instructions", help="Sent to the model in every thread here ('' clears).")
    ] = None,
    thread_instructions: Annotated[
        str | None,
        typer.Option("--thread-instructions", help="May threads set their own (`!system`): allow | forbid | inherit."),
    ] = None,
) -> None:
    """Set a scope's default model (admins may set paid ones), allowlist, local-only flag and instructions
    (layered: global, workspace, channel, then a preset's or the thread's own, then the model's template)."""
    from core.config.scopes import update_scope

    kwargs: dict[str, object] = {}
    if model is not None:
        kwargs["default_model"] = _models(model)[0] if model else None
    if allow is not None:
        kwargs["allowed_models"] = _models(allow) if allow else None
    if local_only is not None:
        kwargs["local_only"] = local_only
    if confirm_over is not None:
        kwargs["confirm_over_usd"] = confirm_over
    if instructions is not None:
        kwargs["instructions"] = instructions
    if thread_instructions is not None:
        choices = {"allow": True, "forbid": False, "inherit": None}
        if thread_instructions not in choices:
            fail(f"Bad --thread-instructions '{thread_instructions}': use allow, forbid or inherit.")
        kwargs["thread_instructions"] = choices[thread_instructions]
    if not kwargs:
        fail(
            "Nothing to set: pass --model, --allow, --local-only/--any-model, --confirm-over-usd, --instructions "
            "or --thread-instructions."
        )
    update_scope(_scope(scope, platform), by="cli", **kwargs)  # type: ignore[arg-type]
    typer.echo(f"Updated {scope}.")
