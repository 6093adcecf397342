"""The SQLModel tables. Queries live in the module that owns each table, not here.

Times are timezone-aware UTC. Money that must add up exactly (budgets) is kept in integer micro-dollars.
Secrets never appear here in plain text: `Secret.ciphertext` is Fernet-encrypted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC now: the one clock every table uses."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive UTC; PostgreSQL aware)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _json(default: Any = None) -> Any:
    return Field(default_factory=lambda: default() if callable(default) else default, sa_column=Column(JSON))


# ---------------------------------------------------------------- configuration


class Meta(SQLModel, table=True):
    """Small key/value facts: config version, the secret-store canary and salt."""

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Secret(SQLModel, table=True):
    """One encrypted secret of the encrypted keyring backend."""

    __table_args__ = (UniqueConstraint("service", "username"),)
    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=200)
    username: str = Field(max_length=200)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Provider(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(max_length=40)
    base_url: str | None = Field(default=None, max_length=500)
    organization: str | None = Field(default=None, max_length=200)
    extra_headers: dict[str, str] = _json(dict)
    privacy_note: str = Field(default="", max_length=500)
    is_local: bool = False
    enabled: bool = True
    has_key: bool = False
    key_hint: str = Field(default="", max_length=40)  # masked, e.g. "sk-…abcd"; never the key
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # health, kept for the admin
    last_check_at: datetime | None = None
    last_check_ok: bool | None = None
    last_check_error: str | None = Field(default=None, max_length=500)
    last_check_latency_ms: float | None = None
    last_refresh_at: datetime | None = None
    last_refresh_source: str | None = Field(default=None, max_length=20)  # "api" | "static"


class Model(SQLModel, table=True):
    """The registry: what discovery found, merged with litellm metadata, plus admin overrides.

    Discovery writes only the plain columns; `*_override`, `alias`, `enabled` and `free` belong to the admin
    and survive refreshes.
    """

    __table_args__ = (UniqueConstraint("provider_id", "model_id"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    name: str = Field(index=True, unique=True, max_length=300)  # what users type: "<provider>/<model_id>"
    model_id: str = Field(max_length=250)
    litellm_name: str = Field(max_length=300)
    context_window: int | None = None
    max_output: int | None = None
    input_usd_per_mtok: float | None = None  # None = unknown, never "free"
    output_usd_per_mtok: float | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    is_local: bool = False
    available: bool = True
    source: str = Field(default="api", max_length=20)  # "api" | "static" | "manual"
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime | None = None
    # ollama details
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    family: str | None = Field(default=None, max_length=100)
    parameter_size: str | None = Field(default=None, max_length=40)
    quantization: str | None = Field(default=None, max_length=40)
    digest: str | None = Field(default=None, max_length=80)
    # admin overrides
    alias: str | None = Field(default=None, unique=True, max_length=100)
    enabled: bool = True
    free: bool = False
    input_usd_per_mtok_override: float | None = None
    output_usd_per_mtok_override: float | None = None
    context_window_override: int | None = None
    # measured by the router (rolling window)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    ttft_p50_ms: float | None = None
    tokens_per_s: float | None = None
    error_rate: float | None = None
    stats_samples: int = 0
    stats_updated_at: datetime | None = None


class ScopeSetting(SQLModel, table=True):
    """Defaults and policy: global scope ("", "", ""), a workspace (p, w, "") or a channel (p, w, c)."""

    __table_args__ = (UniqueConstraint("platform", "workspace", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(default="", max_length=20)
    workspace: str = Field(default="", max_length=64)
    channel: str = Field(default="", max_length=64)
    default_model: str | None = Field(default=None, max_length=300)
    allowed_models: list[str] | None = Field(default=None, sa_column=Column(JSON))
    local_only: bool = False
    confirm_over_usd: float | None = None
    show_reasoning: bool | None = None  # None: as the scope above (else SWITCHBOARD_SHOW_REASONING)
    instructions: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # a system prompt layer
    thread_instructions: bool | None = None  # may a thread set its own (`!system TEXT`)? None: as the scope above
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=64)


class FallbackChain(SQLModel, table=True):
    """Ordered models to try when the first fails. Matches a model, a scope, or (all blank) everything."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    platform: str = Field(default="", max_length=20)
    workspace: str = Field(default="", max_length=64)
    channel: str = Field(default="", max_length=64)
    for_model: str | None = Field(default=None, max_length=300)
    models: list[str] = _json(list)
    allow_paid: bool = False
    content_policy_rule: str | None = Field(default=None, max_length=20)  # "fallback" | "stop"
    enabled: bool = True
    updated_at: datetime = Field(default_factory=utcnow)
    strategy: str = Field(default="in_order", max_length=20)  # in_order | fastest | cheapest
    max_error_rate: float | None = None  # skip a model whose recent error rate is above this (0-1)
    max_p95_ms: float | None = None  # skip a model whose recent p95 latency is above this


class UserPreference(SQLModel, table=True):
    """A person's own settings in one workspace (`!prefs`): the model their new threads start on."""

    __table_args__ = (UniqueConstraint("platform", "workspace", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    workspace: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    default_model: str | None = Field(default=None, max_length=300)
    follow_last: bool = False  # "start where I left off": new threads start on the model they used last
    last_model: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(default_factory=utcnow)


class RateLimit(SQLModel, table=True):
    """Requests and tokens per minute for a user, channel, workspace, provider or everything."""

    __table_args__ = (UniqueConstraint("scope_kind", "scope_value"),)
    id: int | None = Field(default=None, primary_key=True)
    scope_kind: str = Field(max_length=20)  # global | workspace | channel | user | provider
    scope_value: str = Field(default="", max_length=300)
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = Field(default=None, sa_type=BigInteger)
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class RateWindow(SQLModel, table=True):
    """What one rate limit counted in one minute; updated only by atomic conditional UPDATEs."""

    __table_args__ = (UniqueConstraint("limit_id", "window_start"),)
    id: int | None = Field(default=None, primary_key=True)
    limit_id: int = Field(foreign_key="ratelimit.id")
    window_start: datetime
    requests: int = 0
    tokens: int = Field(default=0, sa_type=BigInteger)


class VirtualModel(SQLModel, table=True):
    """An admin-defined group (e.g. `auto-fast`) that litellm's router routes among its healthy members."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    strategy: str = Field(default="latency-based-routing", max_length=40)
    members: list[str] = _json(list)
    description: str = Field(default="", max_length=300)
    updated_at: datetime = Field(default_factory=utcnow)


class PromptTemplate(SQLModel, table=True):
    """A system prompt for models whose name or family matches `pattern` (fnmatch), highest priority wins."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    pattern: str = Field(default="*", max_length=200)
    system_prompt: str = Field(sa_column=Column(Text, nullable=False))
    priority: int = 0
    enabled: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class Preset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    model: str = Field(max_length=300)
    system_prompt: str = Field(default="", sa_column=Column(Text, nullable=False))
    description: str = Field(default="", max_length=300)
    updated_at: datetime = Field(default_factory=utcnow)


class AdminUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    password_hash: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AdminSession(SQLModel, table=True):
    """A signed-in admin (core.admins). The browser keeps a random token in an HttpOnly cookie and only its SHA-256
    is stored, so a copy of the database signs nobody in. The cookie is handed over once, in exchange for a
    short-lived one-time ticket. A session ends on sign-out (`ended_at`), after an idle period (`expires_at`,
    pushed on with activity) or at the absolute limit core.admins sets from `created_at`."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=320, index=True)  # an account name, or the email of a single sign-on
    method: str = Field(max_length=16)  # password | oidc | setup
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    ticket_hash: str | None = Field(default=None, max_length=64, unique=True)
    ticket_expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = None


class AdminSetupToken(SQLModel, table=True):
    """The one-time link that creates the first admin account (printed by `switchboard admin` while none exists).
    Only its SHA-256 is stored; it works once, until `expires_at`, and only while there is no admin account."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


# ---------------------------------------------------------------- conversations


PENDING_NOTICE = text("pending_notice IS NOT NULL")


class Conversation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "channel", "thread"),
        # the bots poll for notices to deliver every few seconds: a partial index keeps that a lookup
        Index(
            "ix_conversation_pending_notice",
            "platform",
            "id",
            sqlite_where=PENDING_NOTICE,
            postgresql_where=PENDING_NOTICE,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    workspace: str = Field(max_length=64)
    channel: str = Field(max_length=64)
    thread: str = Field(max_length=64)
    current_model: str | None = Field(default=None, max_length=300)
    preset: str | None = Field(default=None, max_length=64)
    system_prompt: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(default="", max_length=200)
    created_by: str | None = Field(default=None, max_length=64)
    trim_notified: bool = False
    # What the thread must be told before anything else (e.g. that a reply was interrupted); cleared once said
    pending_notice: str | None = Field(default=None, sa_column=Column(Text))
    # What the thread was told about tools it cannot use, once each: "model:NAME" (cannot call tools), "down:SERVER"
    tool_notes: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


# A reply being written. The turn-order check (every message of a continuing thread) and crash recovery (the
# scheduler, every minute) look only for these; partial indexes keep both lookups the size of what is pending now
# rather than of the whole history. Queries must spell the predicate the same way (a literal, not a bound
# parameter) for SQLite to use them.
PENDING_REPLY = text("status = 'pending'")


class Message(SQLModel, table=True):
    __table_args__ = (
        Index("ix_message_conv_created", "conversation_id", "id"),
        Index(
            "ix_message_pending_thread",
            "conversation_id",
            "id",
            sqlite_where=PENDING_REPLY,
            postgresql_where=PENDING_REPLY,
        ),
        Index("ix_message_pending_since", "created_at", sqlite_where=PENDING_REPLY, postgresql_where=PENDING_REPLY),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    role: str = Field(max_length=20)  # user | assistant | system
    content: str = Field(default="", sa_column=Column(Text, nullable=False))
    user_id: str | None = Field(default=None, max_length=64, index=True)
    event_id: str | None = Field(default=None, unique=True, max_length=200)
    model: str | None = Field(default=None, max_length=300, index=True)
    provider: str | None = Field(default=None, max_length=64)
    fallback_from: str | None = Field(default=None, max_length=300)
    fallback_reason: str | None = Field(default=None, max_length=300)
    status: str = Field(default="ok", max_length=20)  # ok | pending | error | partial | interrupted
    error: str | None = Field(default=None, max_length=1000)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # A pending reply's claim, renewed while the process answering it lives (core.threads.recovery.kept_alive)
    alive_at: datetime | None = None
    # What a reasoning model thought before answering: shown apart from the answer, never sent back as history
    reasoning: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reasoning_tokens: int | None = None  # of completion_tokens (the provider's completion_tokens_details)
    # A reply that used tools: how many model calls it took and how long its tools ran (the footer, usage). Each
    # round that ended in tool calls is a row of its own (role "tool"): `parent_id` its reply, `tool_calls` the
    # calls with their arguments, how each ended and its result (core.tools.rounds), and the round's model,
    # tokens and cost in the usual columns, so usage counts every model call once.
    parent_id: int | None = Field(default=None, index=True)
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    tool_rounds: int | None = None
    tool_ms: float | None = None


class Attachment(SQLModel, table=True):
    """A file posted with a user message: what a model is given of it, and where its bytes are kept (the blob
    store, core.storage.blobs). Retention removes the bytes and the text and keeps the name, so history can say a
    file was there."""

    __table_args__ = (
        UniqueConstraint("message_id", "position"),
        Index("ix_attachment_conversation", "conversation_id", "message_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id")
    conversation_id: int = Field(foreign_key="conversation.id")
    position: int = 0  # its place among the message's files
    name: str = Field(max_length=300)
    mime: str = Field(max_length=120)
    kind: str = Field(max_length=20)  # image | text | document
    size: int = Field(sa_type=BigInteger)
    sha256: str | None = Field(default=None, max_length=64)  # the blob; None once retention removed it
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # a text file's or a PDF's text
    pages: int | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    expired_at: datetime | None = None


class Blob(SQLModel, table=True):
    """Attachment bytes, when they are kept in the database (the store several workers share)."""

    sha256: str = Field(primary_key=True, max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- tools (MCP servers)


class McpServer(SQLModel, table=True):
    """An MCP server whose tools threads may use (core.tools.servers): a command run over stdio, or a remote
    server over streamable HTTP with an auth header whose value is kept in the secret store (never here). Enabled
    for everything, a workspace, a channel or a preset; `allowed_tools` None offers all it lists."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    transport: str = Field(max_length=10)  # stdio | http
    command: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # stdio: the command line
    url: str | None = Field(default=None, max_length=500)  # http
    auth_header: str | None = Field(default=None, max_length=100)  # e.g. "Authorization"; its value is a secret
    has_secret: bool = False
    secret_hint: str = Field(default="", max_length=40)  # masked, never the value
    enabled: bool = True
    scope_kind: str = Field(default="global", max_length=20)  # global | workspace | channel | preset
    scope_value: str = Field(default="", max_length=300)
    allowed_tools: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    consent_tools: list[str] = _json(list)  # tools that ask the user before each run
    tools: list[dict[str, Any]] = _json(list)  # what discovery listed: name, description, input_schema
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_check_at: datetime | None = None
    last_check_ok: bool | None = None
    last_check_error: str | None = Field(default=None, max_length=500)
    last_check_latency_ms: float | None = None


class ToolConsent(SQLModel, table=True):
    """A tool a thread's user allowed for the rest of the thread ("Always in this thread")."""

    __table_args__ = (UniqueConstraint("conversation_id", "server", "tool"),)
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    server: str = Field(max_length=64)
    tool: str = Field(max_length=200)
    user_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- budgets


class Budget(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("scope_kind", "scope_value", "period", "metric"),)
    id: int | None = Field(default=None, primary_key=True)
    scope_kind: str = Field(max_length=20)  # global | workspace | channel | user | provider | model
    scope_value: str = Field(default="", max_length=300)
    period: str = Field(max_length=10)  # day | week | month | total
    metric: str = Field(default="usd", max_length=10)  # usd | tokens
    limit_micros: int = Field(sa_type=BigInteger)  # usd: micro-dollars; tokens: tokens
    hard: bool = True
    thresholds: list[int] = _json(lambda: [50, 80, 100])
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class BudgetUsage(SQLModel, table=True):
    """Spend and open reservations of one budget in one period; updated only by atomic conditional UPDATEs."""

    __table_args__ = (UniqueConstraint("budget_id", "period_start"),)
    id: int | None = Field(default=None, primary_key=True)
    budget_id: int = Field(foreign_key="budget.id", index=True)
    period_start: datetime
    period_end: datetime | None = None
    spent_micros: int = Field(default=0, sa_type=BigInteger)
    reserved_micros: int = Field(default=0, sa_type=BigInteger)


class BudgetReservation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    usage_id: int = Field(foreign_key="budgetusage.id", index=True)
    amount_micros: int = Field(sa_type=BigInteger)
    holder: str = Field(default="", max_length=100)  # host:pid, for diagnosis
    message_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default="held", max_length=20, index=True)  # held | settled | released | expired
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class Alert(SQLModel, table=True):
    """An alert to deliver. `dedupe_key` makes "once per budget, period and threshold" hold across
    processes."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=300)
    kind: str = Field(max_length=20)  # budget | health
    severity: str = Field(default="warning", max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    budget_id: int | None = None
    provider: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    delivered_at: datetime | None = None  # when every destination had it
    deliveries: dict[str, str] = _json(dict)  # destination -> ISO time delivered
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = None
    resolved_at: datetime | None = None  # closed (e.g. its provider was removed): no longer sent or shown as open
    resolution: str | None = Field(default=None, max_length=200)
    resolved_by: str | None = Field(default=None, max_length=64)  # "admin:<user>", or None when Switchboard closed it
    acknowledged_at: datetime | None = None  # an admin has seen it (still open, still delivered)
    acknowledged_by: str | None = Field(default=None, max_length=64)


class Lease(SQLModel, table=True):
    """A role one process at a time may hold across every process sharing the database (the scheduler's lead):
    held by `holder` until `expires_at`, renewed while its holder lives (core.storage.leases)."""

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime
    acquired_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- ollama


class OllamaJob(SQLModel, table=True):
    """A pull (install or update) whose progress every process and page reload can read."""

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=64)
    model: str = Field(max_length=200)
    action: str = Field(default="pull", max_length=20)  # pull | update
    status: str = Field(default="queued", max_length=20, index=True)
    # queued | running | done | failed | cancelled
    detail: str = Field(default="", max_length=200)
    total_bytes: int = Field(default=0, sa_type=BigInteger)
    completed_bytes: int = Field(default=0, sa_type=BigInteger)
    layers: dict[str, Any] = _json(dict)
    speed_bps: float | None = None
    eta_s: float | None = None
    error: str | None = Field(default=None, max_length=500)
    cancel_requested: bool = False
    requested_by: str | None = Field(default=None, max_length=64)
    holder: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
