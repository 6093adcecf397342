"""`/usage`, `/compare`, `/preset` and `/help`: answered by the core, shown here."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import autocomplete, identity
from bot.discord.respond import answer_interaction


async def _answer(interaction: discord.Interaction, text: str, *, ephemeral: bool) -> None:
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    await answer_interaction(interaction, identity.from_interaction(interaction, text), ephemeral=ephemeral)


class Usage(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="usage")
    async def usage(self, interaction: discord.Interaction) -> None:
        """Tokens and cost of this thread, this channel and you."""
        await _answer(interaction, "!usage", ephemeral=True)

    @app_commands.command(name="compare")
    @app_commands.describe(
        model_a="The first model",
        model_b="The second model",
        prompt="What to ask both (default: your last message in this thread)",
    )
    @app_commands.autocomplete(model_a=autocomplete.models, model_b=autocomplete.models)
    async def compare(
        self, interaction: discord.Interaction, model_a: str, model_b: str, prompt: str | None = None
    ) -> None:
        """Ask two models the same thing and see both answers side by side."""
        await _answer(interaction, f"!compare {model_a} {model_b} {prompt or ''}".strip(), ephemeral=False)

    @app_commands.command(name="preset")
    @app_commands.describe(name="The preset to apply to this thread (leave empty to list them)")
    @app_commands.autocomplete(name=autocomplete.presets)
    async def preset(self, interaction: discord.Interaction, name: str | None = None) -> None:
        """Apply a preset (a model with a system prompt) to this thread, or list the presets."""
        await _answer(interaction, f"!preset {name or ''}".strip(), ephemeral=not name)

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction) -> None:
        """What Switchboard's commands do."""
        await _answer(interaction, "!help", ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Usage(bot))
