"""`switchboard models [SEARCH]`, `switchboard models set MODEL ...` and `switchboard registry refresh`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bot.cli.output import command, emit_json, fail, table
from core.formatting import per_mtok


class _SearchByDefault(TyperGroup):
    """`models gpt-4o --local` lists (search text), while `models set ...` runs the subcommand."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
        if args and args[0] not in self.commands:
            return "list", self.commands["list"], args
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_SearchByDefault,
    help="The model registry. `switchboard models [SEARCH] [--provider NAME] [--local] [--tools] [--vision] "
    "[--max-price USD] [--min-context N] [--available] [--json]` lists and searches; "
    "`switchboard models set MODEL ...` overrides metadata.",
    invoke_without_command=True,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
registry_app = typer.Typer(help="Refresh the model registry from providers.", no_args_is_help=True)


def model_row(m: Any) -> dict[str, Any]:
    return {
        "name": m.name,
        "provider": m.provider,
        "model_id": m.model_id,
        "litellm_name": m.litellm_name,
        "alias": m.alias,
        "context_window": m.context_window,
        "max_output": m.max_output,
        "input_usd_per_mtok": m.input_usd_per_mtok,
        "output_usd_per_mtok": m.output_usd_per_mtok,
        "price_known": m.price_known,
        "price_source": m.price_source,
        "supports_tools": m.supports_tools,
        "supports_vision": m.supports_vision,
        "local": m.is_local,
        "on_local_server": m.on_local_server,
        "available": m.available,
        "enabled": m.enabled,
        "source": m.source,
        "last_seen": m.last_seen,
        "size_bytes": m.size_bytes,
        "family": m.family,
        "parameter_size": m.parameter_size,
        "quantization": m.quantization,
    }


def _price(m: Any) -> str:
    set_by = " (set by an admin)" if m.price_source == "override" and not m.is_local else ""
    return per_mtok(m.input_usd_per_mtok, m.output_usd_per_mtok, local=m.is_local) + set_by


def _where(m: Any) -> str:
    if m.priced_local:
        return "local server, paid"
    return "local" if m.is_local else "cloud"


@app.callback()
def _models(ctx: typer.Context) -> None:
    """List and search models (`switchboard models [SEARCH] [--provider P] [--local] [--json]`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_models)


@app.command("list", hidden=True)
@command
def list_models(
    search: Annotated[str | None, typer.Argument(help="Fuzzy name search.")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Only local models.")] = False,
    tools: Annotated[bool, typer.Option("--tools", help="Only models with tool calling.")] = False,
    vision: Annotated[bool, typer.Option("--vision", help="Only models with vision.")] = False,
    max_price: Annotated[float | None, typer.Option("--max-price", help="Max input USD per million tokens.")] = None,
    min_context: Annotated[int | None, typer.Option("--min-context", help="Minimum context window.")] = None,
    available: Annotated[bool, typer.Option("--available", help="Only models usable now.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List models (virtual ones too) with context window, price per million tokens, capabilities and
    availability. SEARCH takes the filter words of `!models` as well: `switchboard models "local under:$1"`."""
    from core import snapshot
    from core.menus.listing import ModelFilter, filter_models, parse_filter

    words = parse_filter(search or "")
    f = ModelFilter(
        text=words.text,
        local=True if local else words.local,
        tools=tools or words.tools,
        vision=vision or words.vision,
        free=words.free,
        provider=provider or words.provider,
        max_price=max_price if max_price is not None else words.max_price,
        min_context=min_context if min_context is not None else words.min_context,
        usable_only=available,
    )
    found = filter_models(snapshot.current(max_age_s=0).models, f)
    if as_json:
        emit_json([model_row(m) for m in found])
        return
    if not found:
        asked = f.describe() + (" (usable now)" if available else "")
        typer.echo(f"No models match `{asked.strip()}`." if asked else "No models yet: add a provider first.")
        return
    table(
        [
            (
                m.name + (f" ({m.alias})" if m.alias else ""),
                f"{m.context_window:,}" if m.context_window else "?",
                _price(m),
                ",".join(c for c, on in (("tools", m.supports_tools), ("vision", m.supports_vision)) if on),
                _where(m),
                ("yes" if m.usable else f"no: {m.unusable_reason}") + (" [static]" if m.source == "static" else ""),
            )
            for m in found
        ],
        ["MODEL", "CONTEXT", "PRICE", "CAPS", "WHERE", "AVAILABLE"],
    )


@app.command("set")
@command
def set_model(
    model: Annotated[str, typer.Argument(help="Model name or alias, e.g. openai/gpt-4o.")],
    input_usd_per_mtok: Annotated[float | None, typer.Option("--input-usd-per-mtok", help="Input price.")] = None,
    output_usd_per_mtok: Annotated[float | None, typer.Option("--output-usd-per-mtok", help="Output price.")] = None,
    context_window: Annotated[int | None, typer.Option("--context-window", help="Context window in tokens.")] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="A short name users can type ('' clears).")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Allow or forbid its use.")] = None,
    free: Annotated[bool | None, typer.Option("--free/--not-free", help="Mark as costing nothing.")] = None,
    clear_prices: Annotated[bool, typer.Option("--clear-prices", help="Drop price overrides.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fill in or override a model's metadata (survives registry refreshes)."""
    from core.models.registry import set_model_overrides

    if (
        all(v is None for v in (input_usd_per_mtok, output_usd_per_mtok, context_window, alias, enable, free))
        and not clear_prices
    ):
        fail(
            "Nothing to set: pass at least one of --input-usd-per-mtok, --output-usd-per-mtok, "
            "--context-window, --alias, --enable/--disable, --free."
        )
    info = set_model_overrides(
        model,
        input_usd_per_mtok=input_usd_per_mtok,
        output_usd_per_mtok=output_usd_per_mtok,
        context_window=context_window,
        alias=alias,
        enabled=enable,
        free=free,
        clear_prices=clear_prices,
    )
    if as_json:
        emit_json(model_row(info))
        return
    typer.echo(
        f"Updated {info.name}: price {_price(info)}, context {info.context_window or '?'}"
        + (f", alias {info.alias}" if info.alias else "")
        + ("" if info.enabled else ", disabled")
    )
    if info.priced_local:
        typer.echo(
            "  It runs on a local server, but with a price it counts as paid: budgets count its cost, replies show "
            "it, and local-only channels no longer offer it. `--clear-prices` makes it free (local) again."
        )


@registry_app.command("refresh")
@command
def refresh(
    provider: Annotated[list[str] | None, typer.Option("--provider", help="Only these providers.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Discover every provider's models concurrently and merge them with litellm's metadata."""
    from core.models.sync import refresh as run_refresh

    results = asyncio.run(run_refresh(provider or None))
    if as_json:
        emit_json(results)
    elif not results:
        typer.echo("No enabled providers to refresh.")
    else:
        table(
            [
                (
                    r.provider,
                    "ok" if r.ok else f"FAILED ({r.error_kind})",
                    r.source,
                    r.models,
                    r.added,
                    r.unavailable,
                    f"{r.seconds:.2f}s",
                )
                for r in results
            ],
            ["PROVIDER", "STATUS", "SOURCE", "MODELS", "NEW", "NOW UNAVAILABLE", "TIME"],
        )
        for r in results:
            if not r.ok:
                typer.echo(f"  {r.provider}: {r.message}")
    if any(not r.ok for r in results):
        raise typer.Exit(1)
