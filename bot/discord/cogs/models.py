"""`/model` (with autocomplete) and `/models` (a paged list with buttons)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import autocomplete, identity
from bot.discord.respond import answer_interaction


class Models(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="model")
    @app_commands.describe(
        name="The model to use; start typing to search (leave empty to see the current one)",
        mine="Your own default for your new threads, instead of this thread's or channel's model",
    )
    @app_commands.autocomplete(name=autocomplete.models)
    async def model(self, interaction: discord.Interaction, name: str | None = None, mine: bool = False) -> None:
        """Show or switch the model: in a thread, that thread's; in a channel, the default for new threads."""
        here = identity.in_thread(interaction)
        public = (bool(name) or here) and not mine  # a switch is news for everyone; your own default is yours
        await interaction.response.defer(ephemeral=not public, thinking=True)
        msg = identity.from_interaction(interaction, f"!model {name or ''}{' --mine' if mine else ''}".strip())
        await answer_interaction(interaction, msg, ephemeral=not public)

    @app_commands.command(name="models")
    @app_commands.describe(
        filter="Words to match, or: local, cloud, vision, tools, free, under:$1, ctx:32k",
        provider="Only this provider's models",
    )
    @app_commands.autocomplete(provider=autocomplete.providers)
    async def models(
        self, interaction: discord.Interaction, filter: str | None = None, provider: str | None = None
    ) -> None:
        """List the models you can use here, page by page."""
        ephemeral = not identity.in_thread(interaction)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        words = [filter or "", f"provider:{provider}" if provider else ""]
        msg = identity.from_interaction(interaction, " ".join(["!models", *words]).strip())
        await answer_interaction(interaction, msg, ephemeral=ephemeral)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Models(bot))
