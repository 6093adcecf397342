"""Every knob of Switchboard, read from the environment (and `.env`) in one place."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# litellm downloads its price map at import time unless told otherwise; offline that stalls.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Settings; the env var of each field is in its alias. `.env.example` documents them all."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True)

    # storage
    data_dir: Path = Field(Path("data"), validation_alias=_env("SWITCHBOARD_DATA_DIR"))
    database_url: str = Field("", validation_alias=_env("DATABASE_URL"))
    db_pool_size: int = Field(10, validation_alias=_env("SWITCHBOARD_DB_POOL_SIZE"))
    auto_migrate: bool = Field(True, validation_alias=_env("SWITCHBOARD_AUTO_MIGRATE"))

    # secrets
    secret_key: SecretStr | None = Field(None, validation_alias=_env("SWITCHBOARD_SECRET_KEY"))
    secret_backend: Literal["auto", "encrypted", "keyring"] = Field(
        "auto", validation_alias=_env("SWITCHBOARD_SECRET_BACKEND")
    )

    # logging
    log_level: str = Field("INFO", validation_alias=_env("SWITCHBOARD_LOG_LEVEL"))

    # providers and registry
    provider_timeout_s: float = Field(10.0, validation_alias=_env("SWITCHBOARD_PROVIDER_TIMEOUT"))
    registry_refresh_minutes: float = Field(30.0, validation_alias=_env("SWITCHBOARD_REGISTRY_REFRESH_MINUTES"))
    health_check_minutes: float = Field(5.0, validation_alias=_env("SWITCHBOARD_HEALTH_CHECK_MINUTES"))

    # conversations and routing
    default_model: str = Field("", validation_alias=_env("SWITCHBOARD_DEFAULT_MODEL"))
    max_output_tokens: int = Field(1024, validation_alias=_env("SWITCHBOARD_MAX_OUTPUT_TOKENS"))
    request_timeout_s: float = Field(120.0, validation_alias=_env("SWITCHBOARD_REQUEST_TIMEOUT"))
    retries_rate_limit: int = Field(1, validation_alias=_env("SWITCHBOARD_RETRIES_RATE_LIMIT"))
    retries_timeout: int = Field(1, validation_alias=_env("SWITCHBOARD_RETRIES_TIMEOUT"))
    retries_server_error: int = Field(1, validation_alias=_env("SWITCHBOARD_RETRIES_SERVER_ERROR"))
    content_policy_rule: Literal["fallback", "stop"] = Field(
        "stop", validation_alias=_env("SWITCHBOARD_CONTENT_POLICY_RULE")
    )
    max_message_chars: int = Field(32000, validation_alias=_env("SWITCHBOARD_MAX_MESSAGE_CHARS"))
    admin_users: str = Field("", validation_alias=_env("SWITCHBOARD_ADMIN_USERS"))
    models_page_size: int = Field(15, validation_alias=_env("SWITCHBOARD_MODELS_PAGE_SIZE"))
    # a pending reply whose claim was not renewed this long is a dead process's: settled, and no longer waited for
    stale_reply_minutes: float = Field(2.0, validation_alias=_env("SWITCHBOARD_STALE_REPLY_MINUTES"))
    # of several scheduler processes on one database, one leads; another takes over this long after it died
    scheduler_lease_s: float = Field(30.0, validation_alias=_env("SWITCHBOARD_SCHEDULER_LEASE_SECONDS"))
    notice_poll_s: float = Field(10.0, validation_alias=_env("SWITCHBOARD_NOTICE_POLL_SECONDS"))

    # files posted in threads (core.attachments)
    file_max_mb: float = Field(20.0, validation_alias=_env("SWITCHBOARD_FILE_MAX_MB"))
    files_per_message: int = Field(10, validation_alias=_env("SWITCHBOARD_FILES_PER_MESSAGE"))
    pdf_max_pages: int = Field(100, validation_alias=_env("SWITCHBOARD_PDF_MAX_PAGES"))
    images_per_turn: int = Field(4, validation_alias=_env("SWITCHBOARD_IMAGES_PER_TURN"))
    file_store: Literal["auto", "files", "database"] = Field("auto", validation_alias=_env("SWITCHBOARD_FILE_STORE"))
    files_dir: Path | None = Field(None, validation_alias=_env("SWITCHBOARD_FILES_DIR"))
    file_retention_days: float = Field(30.0, validation_alias=_env("SWITCHBOARD_FILE_RETENTION_DAYS"))
    # reasoning models' thinking: shown apart from the answer (a workspace may turn it off in the admin)
    show_reasoning: bool = Field(True, validation_alias=_env("SWITCHBOARD_SHOW_REASONING"))

    # tools from MCP servers (core.tools)
    tool_max_rounds: int = Field(5, validation_alias=_env("SWITCHBOARD_TOOL_MAX_ROUNDS"))
    tool_timeout_s: float = Field(30.0, validation_alias=_env("SWITCHBOARD_TOOL_TIMEOUT_SECONDS"))
    tool_result_max_chars: int = Field(16_000, validation_alias=_env("SWITCHBOARD_TOOL_RESULT_MAX_CHARS"))
    mcp_allowed_hosts: str = Field("", validation_alias=_env("SWITCHBOARD_MCP_ALLOWED_HOSTS"))
    mcp_check_minutes: float = Field(5.0, validation_alias=_env("SWITCHBOARD_MCP_CHECK_MINUTES"))
    mcp_idle_minutes: float = Field(10.0, validation_alias=_env("SWITCHBOARD_MCP_IDLE_MINUTES"))

    # budgets
    timezone: str = Field("UTC", validation_alias=_env("SWITCHBOARD_TIMEZONE"))
    reservation_ttl_s: float = Field(300.0, validation_alias=_env("SWITCHBOARD_RESERVATION_TTL"))
    confirm_over_usd: float = Field(0.50, validation_alias=_env("SWITCHBOARD_CONFIRM_OVER_USD"))
    alert_slack_channel: str = Field("", validation_alias=_env("SWITCHBOARD_ALERT_SLACK_CHANNEL"))
    alert_discord_channel: str = Field("", validation_alias=_env("SWITCHBOARD_ALERT_DISCORD_CHANNEL"))

    # ollama
    ollama_max_concurrent_pulls: int = Field(2, validation_alias=_env("SWITCHBOARD_OLLAMA_MAX_PULLS"))
    ollama_disk_margin_gb: float = Field(2.0, validation_alias=_env("SWITCHBOARD_OLLAMA_DISK_MARGIN_GB"))
    ollama_models_dir: str = Field("", validation_alias=_env("OLLAMA_MODELS"))
    ollama_registry_url: str = Field(
        "https://registry.ollama.ai", validation_alias=_env("SWITCHBOARD_OLLAMA_REGISTRY_URL")
    )
    ollama_library_url: str = Field(
        "https://ollama.com/library", validation_alias=_env("SWITCHBOARD_OLLAMA_LIBRARY_URL")
    )
    network_checks: bool = Field(True, validation_alias=_env("SWITCHBOARD_NETWORK_CHECKS"))
    ollama_update_check_hours: float = Field(24.0, validation_alias=_env("SWITCHBOARD_OLLAMA_UPDATE_CHECK_HOURS"))

    # slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_client_id: str = Field("", validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET"))
    slack_scopes: str = Field("", validation_alias=_env("SLACK_SCOPES"))
    slack_mode: Literal["socket", "http"] = Field("socket", validation_alias=_env("SWITCHBOARD_SLACK_MODE"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    slack_allow_bots: bool = Field(False, validation_alias=_env("SWITCHBOARD_SLACK_ALLOW_BOTS"))
    slack_streaming: Literal["auto", "native", "update"] = Field(
        "auto", validation_alias=_env("SWITCHBOARD_SLACK_STREAMING")
    )
    slack_update_interval_s: float = Field(1.0, validation_alias=_env("SWITCHBOARD_SLACK_UPDATE_INTERVAL"))
    slack_updates_per_minute: int = Field(50, validation_alias=_env("SWITCHBOARD_SLACK_UPDATES_PER_MINUTE"))
    slack_host: str = Field("0.0.0.0", validation_alias=_env("SWITCHBOARD_SLACK_HOST"))  # noqa: S104 (HTTP mode)
    slack_workers: int = Field(1, validation_alias=_env("SWITCHBOARD_SLACK_WORKERS"))
    port: int = Field(3000, validation_alias=_env("PORT"))

    # discord
    discord_bot_token: SecretStr | None = Field(None, validation_alias=_env("DISCORD_BOT_TOKEN"))
    discord_guild_ids: str = Field("", validation_alias=_env("DISCORD_GUILD_IDS"))
    discord_api_base: str = Field("", validation_alias=_env("DISCORD_API_BASE"))
    discord_gateway_url: str = Field("", validation_alias=_env("DISCORD_GATEWAY_URL"))
    discord_cdn_base: str = Field("", validation_alias=_env("DISCORD_CDN_BASE"))
    discord_shard_ids: str = Field("", validation_alias=_env("DISCORD_SHARD_IDS"))
    discord_shard_count: int | None = Field(None, validation_alias=_env("DISCORD_SHARD_COUNT"))

    # admin
    admin_port: int = Field(8501, validation_alias=_env("SWITCHBOARD_ADMIN_PORT"))
    admin_address: str = Field("127.0.0.1", validation_alias=_env("SWITCHBOARD_ADMIN_ADDRESS"))
    admin_session_minutes: float = Field(60.0, validation_alias=_env("SWITCHBOARD_ADMIN_SESSION_MINUTES"))
    admin_emails: str = Field("", validation_alias=_env("SWITCHBOARD_ADMIN_EMAILS"))

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'switchboard.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def admin_listen(self) -> tuple[str, int]:
        """Where `switchboard admin` (the Procfile's `web`) binds. SWITCHBOARD_ADMIN_PORT when set; else PORT when
        set, as platforms that run Procfiles assign it and route HTTP to `web` there (on all interfaces, unless
        SWITCHBOARD_ADMIN_ADDRESS says otherwise); else 127.0.0.1:8501. `switchboard up` pins the admin port,
        because there PORT is Slack's HTTP mode's."""
        if "admin_port" in self.model_fields_set or "port" not in self.model_fields_set:
            return self.admin_address, self.admin_port
        address = self.admin_address if "admin_address" in self.model_fields_set else "0.0.0.0"  # noqa: S104
        return address, self.port

    @property
    def admin_user_ids(self) -> set[str]:
        return {u.strip() for u in self.admin_users.split(",") if u.strip()}


# Settings that no longer do anything, and what took their place: an admin who set one is told, not ignored.
RETIRED = {
    "SWITCHBOARD_TURN_WAIT_SECONDS": "a message now waits until the earlier reply of its thread is shown, or until "
    "that reply's claim has not been renewed for SWITCHBOARD_STALE_REPLY_MINUTES (its process died)",
}


def retired_in_use(env_file: Path = Path(".env")) -> list[str]:
    """The retired settings set in the environment or in `.env`, each with what replaced it."""
    names = set(os.environ)
    if env_file.is_file():
        from dotenv import dotenv_values

        names |= {k for k, v in dotenv_values(env_file).items() if v}
    return [f"{name} is no longer used: {why}." for name, why in RETIRED.items() if name in names]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). A retired setting still set is warned about here, once."""
    for warning in retired_in_use():
        logging.getLogger(__name__).warning(warning)
    return Settings()


def reload_settings() -> Settings:
    """Forget cached settings, e.g. after the environment changed (tests, `switchboard init`)."""
    get_settings.cache_clear()
    return get_settings()
