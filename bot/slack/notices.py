"""Thread notices (an interrupted reply) posted from the Slack process without waiting for the thread's next
message: core.threads.notices lists and claims them, this module says which workspaces this process can post in and
posts there with chat.postMessage, rendered like every other notice."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from bot.slack.errors import slack_error
from bot.slack.install import SecretInstallationStore
from bot.slack.picker import PLATFORM
from core.logs import register_secret
from core.threads.notices import NoticeDelivery, PendingNotice, Post

log = logging.getLogger(__name__)


def delivery(app: AsyncApp) -> NoticeDelivery:
    """The notice poller of this process (start it once the app serves, stop it at shutdown)."""
    return NoticeDelivery(PLATFORM, _Posters(app).poster_for)


def poster(client: AsyncWebClient) -> Post:
    async def post(notice: PendingNotice, text: str) -> None:
        body, blocks = render.notice_message(text)
        await client.chat_postMessage(
            channel=notice.channel, thread_ts=notice.thread or None, text=body, blocks=blocks, unfurl_links=False
        )

    return post


class _Posters:
    """Which client posts in a workspace: the app's own in single-token mode (only in the workspace its token
    belongs to), else the bot installed there over OAuth. None where this process holds no token."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app
        self._own: str | None = None  # the single token's workspace, once auth.test said which

    async def poster_for(self, workspace: str) -> Post | None:
        store = self.app.installation_store
        if isinstance(store, SecretInstallationStore):
            bot = await store.async_find_workspace_bot(workspace)
            if bot is None or not bot.bot_token:
                return None
            register_secret(bot.bot_token)
            return poster(_client_for(self.app.client, bot.bot_token))
        if self._own is None:
            try:
                who = await self.app.client.auth_test()
            except SlackApiError as exc:
                log.warning("slack auth.test failed (%s): thread notices wait for the next try", slack_error(exc))
                return None
            org_wide = bool(who.get("is_enterprise_install"))
            self._own = str((who.get("enterprise_id") if org_wide else who.get("team_id")) or "")
        return poster(self.app.client) if workspace == self._own else None


def _client_for(base: AsyncWebClient, token: str) -> AsyncWebClient:
    """A client like the app's (API URL, retries on 429 and dropped connections) with one workspace's token."""
    return AsyncWebClient(
        token=token,
        base_url=base.base_url,
        timeout=base.timeout,
        retry_handlers=list(base.retry_handlers),
        logger=base.logger,
    )
