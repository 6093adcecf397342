"""What the Slack model menus offer: core's menu for this channel (core.menus.pickers.model_menu), at most the
100 options a static select holds."""

from __future__ import annotations

from core.menus import pickers
from core.menus.pickers import Menu

PLATFORM = "slack"
MAX_OPTIONS = 100


async def model_menu(workspace: str, channel: str, thread: str = "", query: str = "") -> Menu:
    return await pickers.model_menu(PLATFORM, workspace, channel, thread, query, max_options=MAX_OPTIONS)
