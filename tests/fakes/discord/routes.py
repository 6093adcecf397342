"""The REST route table: every endpoint the fake serves, as (method, path template, action).

A request to a route is handled by the `_do_<action>` method of FakeDiscord (see the package docstring for
which module holds which). Anything not listed answers 404 as action "unknown" (rest.py).
"""

from __future__ import annotations

import re

# (method, path template under /api/v{n}, action name). Order matters: literal segments before {params}.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/gateway", "get_gateway"),
    ("GET", "/gateway/bot", "get_gateway_bot"),
    ("GET", "/users/@me", "get_me"),
    ("POST", "/users/@me/channels", "create_dm"),
    ("GET", "/users/{user_id}", "get_user"),
    ("GET", "/oauth2/applications/@me", "application_info"),
    ("GET", "/applications/@me", "application_info"),
    ("PUT", "/applications/{application_id}/commands", "bulk_upsert_global_commands"),
    ("GET", "/applications/{application_id}/commands", "get_global_commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", "bulk_upsert_guild_commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", "get_guild_commands"),
    ("GET", "/guilds/{guild_id}", "get_guild"),
    ("GET", "/guilds/{guild_id}/channels", "get_guild_channels"),
    ("GET", "/guilds/{guild_id}/members/{user_id}", "get_member"),
    ("GET", "/channels/{channel_id}", "get_channel"),
    ("PATCH", "/channels/{channel_id}", "edit_channel"),
    ("GET", "/channels/{channel_id}/messages", "get_messages"),
    ("POST", "/channels/{channel_id}/messages", "send_message"),
    ("GET", "/channels/{channel_id}/messages/{message_id}", "get_message"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "edit_message"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message"),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", "create_thread_from_message"),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "add_reaction"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "remove_reaction"),
    ("POST", "/channels/{channel_id}/threads", "create_thread"),
    ("POST", "/channels/{channel_id}/typing", "typing"),
    ("PUT", "/channels/{channel_id}/thread-members/@me", "join_thread"),
    ("PUT", "/channels/{channel_id}/thread-members/{user_id}", "add_thread_member"),
    ("POST", "/interactions/{interaction_id}/{token}/callback", "interaction_callback"),
    ("POST", "/webhooks/{application_id}/{token}", "followup"),
    ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}", "get_webhook_message"),
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}", "edit_webhook_message"),
    ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}", "delete_webhook_message"),
]
ACTIONS = {a for _, _, a in ROUTES} | {"get_original", "edit_original", "delete_original"}
# Webhook-token routes are authorised by the token in the path, not by the bot token (discord.py sends none).
_NO_AUTH = {
    "get_gateway",
    "interaction_callback",
    "followup",
    "get_webhook_message",
    "edit_webhook_message",
    "delete_webhook_message",
    "get_original",
    "edit_original",
    "delete_original",
}


def _route_pattern(template: str) -> str:
    """aiohttp pattern for a ROUTES template. Snowflake segments match digits only, so that e.g.
    /messages/pins is not taken for a message id (webhook message ids may also be "@original")."""
    digits = r"\d+|@original" if template.startswith("/webhooks") else r"\d+"

    def param(m: re.Match[str]) -> str:
        return "{" + m[1] + ":" + digits + "}"

    return r"/api/v{version:\d+}" + re.sub(r"\{(\w+_id)\}", param, template)
