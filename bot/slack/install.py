"""Many-workspace installs over OAuth: bolt's SQLAlchemy installation and state stores on our database.

bolt's store keeps tokens in plain-text columns. Ours writes a reference there (`secret:<name>`) and keeps the
token itself in the encrypted secret store (core.secrets), so the tables never hold a token; reading an
installation resolves the references again. The reference keeps bolt's own queries working (it looks for the
newest row whose `bot_token` is not null).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Iterable
from typing import Any

import keyring.errors
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import and_, desc, or_, select, text
from sqlalchemy.engine import Engine

from core import secrets
from core.settings import Settings
from core.storage.db import get_engine

# What the app needs in a workspace (manifest.yml asks for the same; a test keeps them in step).
BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "mpim:history",
    "users:read",
)
REF = "secret:"
TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
STATE_EXPIRATION_S = 600
_PG_LOCK_ID = 7_362_006  # serialises table creation when many workers start at once


def _secret_name(client_id: str, field: str, enterprise_id: str | None, team_id: str | None, user: str | None) -> str:
    who = [user or "-"] if field.startswith("user_") else []
    return ":".join(["slack", client_id, enterprise_id or "-", team_id or "-", *who, field])


def _reveal(value: str | None) -> str | None:
    if value and value.startswith(REF):
        return secrets.get_secret(value[len(REF) :])
    return value


def _forget(refs: Iterable[str | None]) -> None:
    for ref in refs:
        if ref and ref.startswith(REF):
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                secrets.get_backend().delete_password(secrets.SERVICE, ref[len(REF) :])


class SecretInstallationStore(SQLAlchemyInstallationStore, AsyncInstallationStore):
    """bolt's SQLAlchemy installation store with every token kept in the encrypted secret store."""

    def _hide(self, item: Any, user: str | None) -> Any:
        hidden = copy.copy(item)
        for field in TOKEN_FIELDS:
            value = getattr(item, field, None)
            if value and not value.startswith(REF):
                name = _secret_name(self.client_id, field, item.enterprise_id, item.team_id, user)
                secrets.set_secret(name, value)
                setattr(hidden, field, REF + name)
        return hidden

    def save(self, installation: Installation) -> None:
        super().save(self._hide(installation, installation.user_id))

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(self._hide(bot, None))

    @classmethod
    def build_installation_entity(cls, row: Any) -> Installation:
        installation = super().build_installation_entity(row)
        for field in TOKEN_FIELDS:
            setattr(installation, field, _reveal(getattr(installation, field)))
        return installation

    @classmethod
    def build_bot_entity(cls, row: Any) -> Bot:
        bot = super().build_bot_entity(row)
        for field in ("bot_token", "bot_refresh_token"):
            setattr(bot, field, _reveal(getattr(bot, field)))
        return bot

    def find_workspace_bot(self, workspace: str) -> Bot | None:
        """The newest bot installed in `workspace`: a team id, or an org's id when installed org-wide (what a
        conversation's workspace is, see bot.slack.translate.workspace_of)."""
        c = self.bots.c
        org_wide = and_(c.enterprise_id == workspace, c.is_enterprise_install.is_(True))
        where = and_(c.client_id == self.client_id, c.bot_token.is_not(None), or_(c.team_id == workspace, org_wide))
        query = self.bots.select().where(where).order_by(desc(c.installed_at)).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return self.build_bot_entity(row) if row is not None else None

    def _refs(self, enterprise_id: str | None, team_id: str | None, user_id: str | None = None) -> list[str | None]:
        refs: list[str | None] = []
        for table in (self.installations, self.bots):
            c = table.c
            where = and_(c.client_id == self.client_id, c.enterprise_id == enterprise_id, c.team_id == team_id)
            if user_id is not None and table is self.installations:
                where = and_(where, c.user_id == user_id)
            columns = [c[f] for f in TOKEN_FIELDS if f in c]
            with self.engine.connect() as conn:
                for row in conn.execute(select(*columns).where(where)):
                    refs.extend(row)
        return refs

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        refs = self._refs(enterprise_id, team_id)
        super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        _forget(r for r in refs if r and ":bot_" in r)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        refs = self._refs(enterprise_id, team_id, user_id)
        super().delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
        _forget(r for r in refs if r and (user_id is None or ":user_" in r))

    # bolt's AsyncApp talks to the async interface; the database work runs on a worker thread.

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.save_bot, bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.find_bot, enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_workspace_bot(self, workspace: str) -> Bot | None:
        return await asyncio.to_thread(self.find_workspace_bot, workspace)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(self.delete_installation, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)


class SqlStateStore(SQLAlchemyOAuthStateStore, AsyncOAuthStateStore):
    """OAuth `state` values in our database, so any worker can finish an install another one started."""

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.issue, *args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.consume, state)


def create_tables(engine: Engine, *stores: SQLAlchemyInstallationStore | SQLAlchemyOAuthStateStore) -> None:
    """Create the stores' tables if missing; safe when several workers start at once."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        for store in stores:
            store.metadata.create_all(conn)


def oauth_settings(settings: Settings) -> AsyncOAuthSettings:
    """OAuth for many workspaces: installs land in our database (tokens encrypted), states too."""
    engine = get_engine()
    client_id = settings.slack_client_id
    store = SecretInstallationStore(client_id=client_id, engine=engine)
    states = SqlStateStore(expiration_seconds=STATE_EXPIRATION_S, engine=engine)
    create_tables(engine, store, states)
    scopes = [s.strip() for s in settings.slack_scopes.split(",") if s.strip()] or list(BOT_SCOPES)
    secret = settings.slack_client_secret.get_secret_value() if settings.slack_client_secret else None
    return AsyncOAuthSettings(
        client_id=client_id,
        client_secret=secret,
        scopes=scopes,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=states,
        state_expiration_seconds=STATE_EXPIRATION_S,
    )
