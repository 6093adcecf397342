"""Autocomplete for command options: core's ranked picks as Discord choices (at most 25, as Discord requires)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.discord.identity import PLATFORM, place_of
from core.config.scopes import ScopeKey
from core.menus import pickers
from core.snapshot import current_async

log = logging.getLogger("switchboard.discord")
MAX_CHOICES = 25


def _choices(picks: list[pickers.Pick]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=p.label, value=p.value) for p in picks[:MAX_CHOICES]]


async def models(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Models usable where the command is typed (its channel's policy), best matches and available ones first."""
    try:
        place = place_of(interaction.channel, interaction.guild_id)
        snap = await current_async()
        picks = pickers.model_picks(snap, ScopeKey(PLATFORM, place.workspace, place.channel), current)
        return _choices(picks)
    except Exception:  # an empty list beats an error popup while typing
        log.exception("model autocomplete failed")
        return []


async def providers(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    try:
        return _choices(pickers.provider_picks(await current_async(), current))
    except Exception:
        log.exception("provider autocomplete failed")
        return []


async def presets(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    try:
        return _choices(pickers.preset_picks(await current_async(), current))
    except Exception:
        log.exception("preset autocomplete failed")
        return []
