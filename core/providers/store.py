"""Configured providers: validation, storage (this module owns the Provider table) and health."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core import secrets
from core.config.version import bump_config_version
from core.errors import UserError
from core.providers import headers as header_store
from core.providers.discovery import CheckResult, ProviderConfig, list_models
from core.providers.kinds import ProviderKind, get_kind, kind_names
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import Model, Provider, utcnow

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


class ProviderError(UserError):
    """Bad provider input; the message tells the user what to fix. Nothing was written."""


@dataclass(frozen=True)
class ProviderView:
    name: str
    kind: str
    label: str
    base_url: str | None
    organization: str | None
    extra_headers: dict[str, str]  # header name -> masked value; the values are in the secret store
    privacy_note: str
    is_local: bool
    enabled: bool
    has_key: bool
    key_hint: str
    last_check_at: datetime | None
    last_check_ok: bool | None
    last_check_error: str | None
    last_check_latency_ms: float | None
    last_refresh_at: datetime | None
    last_refresh_source: str | None

    @property
    def health(self) -> str:
        if self.last_check_ok is None:
            return "unchecked"
        return "ok" if self.last_check_ok else "failing"


def where_data_goes(kind: ProviderKind, base_url: str | None) -> str:
    """Where a provider's prompts and replies go. The kind's own note holds for its own API; a custom base URL
    sends them somewhere else, so the note names that host instead."""
    default = (kind.default_base_url or "").rstrip("/")
    if not base_url or base_url.rstrip("/") == default:
        return kind.privacy_note
    parts = urlsplit(base_url)
    host = (parts.hostname or base_url) + (f":{parts.port}" if parts.port else "")  # never user:password@
    here = is_loopback_url(base_url)
    if kind.local:
        return f"Local: prompts and replies stay on the {kind.label} server you run at {host}."
    if kind.default_base_url is None:  # a kind that is only ever a base URL (OpenAI-compatible servers)
        if here:
            return f"Local: prompts and replies are sent to {host} on this machine."
        return f"Self-hosted or third-party: prompts and replies are sent to {host}."
    # what listens there may forward anywhere (a proxy, a gateway): say where it goes, and that it is not the
    # kind's own API, rather than guess "local" or "cloud"
    where = f"{host} on this machine" if here else host
    return f"Prompts and replies are sent to {where} (the base URL you configured), not to {kind.label}'s own API."


def _view(row: Provider) -> ProviderView:
    kind = get_kind(row.kind)
    base_url = row.base_url or (kind.default_base_url if kind else None)
    # an admin's own note wins; a kind's default note (what older versions stored) is worked out from the base URL
    custom_note = (
        row.privacy_note if row.privacy_note and (kind is None or row.privacy_note != kind.privacy_note) else ""
    )
    return ProviderView(
        name=row.name,
        kind=row.kind,
        label=kind.label if kind else row.kind,
        base_url=base_url,
        organization=row.organization,
        extra_headers=dict(row.extra_headers or {}),
        privacy_note=custom_note or (where_data_goes(kind, base_url) if kind else ""),
        is_local=row.is_local,
        enabled=row.enabled,
        has_key=row.has_key,
        key_hint=row.key_hint,
        last_check_at=row.last_check_at,
        last_check_ok=row.last_check_ok,
        last_check_error=row.last_check_error,
        last_check_latency_ms=row.last_check_latency_ms,
        last_refresh_at=row.last_refresh_at,
        last_refresh_source=row.last_refresh_source,
    )


def validate_base_url(url: str) -> str:
    """A normalised http(s) URL, or ProviderError saying what is wrong with it."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            f"'{url}' is not a valid base URL: it needs http:// or https:// and a host, e.g. http://127.0.0.1:8080/v1."
        )
    try:
        _ = parts.port
    except ValueError:
        raise ProviderError(f"'{url}' has an invalid port.") from None
    if any(ch.isspace() for ch in url):
        raise ProviderError(f"'{url}' contains spaces.")
    return url.rstrip("/")


def is_loopback_url(url: str | None) -> bool:
    host = urlsplit(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_kind(kind_name: str) -> ProviderKind:
    kind = get_kind(kind_name)
    if kind is None:
        raise ProviderError(f"Unknown provider kind '{kind_name}'. Known kinds: {', '.join(kind_names())}.")
    return kind


def add_provider(
    name: str,
    kind: str,
    *,
    base_url: str | None = None,
    organization: str | None = None,
    api_key: str | None = None,
    extra_headers: dict[str, str] | None = None,
    privacy_note: str | None = None,
) -> ProviderView:
    """Validate everything, then store the key (in the secret store) and the provider. All or nothing."""
    if not NAME_RE.match(name or ""):
        raise ProviderError(
            f"'{name}' is not a valid provider name: use 1-40 lowercase letters, digits, '-', '_' or '.'."
        )
    pkind = _require_kind(kind)
    url = validate_base_url(base_url) if base_url else None
    if pkind.base_url_required and not url:
        raise ProviderError(f"A {pkind.label} provider needs --base-url, e.g. http://127.0.0.1:8080/v1.")
    if organization and not pkind.supports_organization:
        raise ProviderError(f"{pkind.label} has no organization setting.")
    key = api_key.strip() if api_key is not None else None
    if api_key is not None and not key:
        raise ProviderError("The API key is empty. Pass a non-empty key (from --api-key-env or stdin).")
    if pkind.needs_key and not key:
        raise ProviderError(f"{pkind.label} needs an API key: pass --api-key-env VAR or pipe it on stdin.")
    if key and any(ch.isspace() for ch in key):
        raise ProviderError("The API key contains whitespace; check what you pasted.")
    headers = _valid_headers(extra_headers or {})
    with session() as s:
        if s.exec(select(Provider.id).where(Provider.name == name)).first() is not None:
            raise ProviderError(f"A provider named '{name}' already exists. Remove it first or pick another name.")
    if key or headers:
        secrets.get_backend()  # a wrong or missing master key fails here, before anything is written
    is_local = pkind.local or (kind == "openai_compatible" and is_loopback_url(url))
    row = Provider(
        name=name,
        kind=kind,
        base_url=url,
        organization=organization or None,
        extra_headers=header_store.masked(headers),
        privacy_note=privacy_note or "",  # none given: worked out from the kind and base URL when shown
        is_local=is_local,
        has_key=bool(key),
        key_hint=secrets.mask(key),
    )
    if key:
        secrets.set_api_key(name, key)
    header_store.save_headers(name, headers)
    try:
        with session(write=True) as s:
            s.add(row)
            bump_config_version(s)
    except IntegrityError:
        if key:
            secrets.delete_api_key(name)
        header_store.delete_headers(name)
        raise ProviderError(f"A provider named '{name}' already exists.") from None
    return _view(row)


_UNSET: object = object()


def update_provider(
    name: str,
    *,
    base_url: str | object | None = _UNSET,
    organization: str | object | None = _UNSET,
    api_key: str | None = None,
    extra_headers: dict[str, str] | None = None,
    privacy_note: str | None = None,
    enabled: bool | None = None,
) -> ProviderView:
    """Change a provider; only the arguments given change. A new key replaces the old one."""
    with session() as s:
        row = s.exec(select(Provider).where(Provider.name == name)).first()
    if row is None:
        raise ProviderError(f"No provider named '{name}'.")
    pkind = _require_kind(row.kind)
    if base_url is not _UNSET:
        url = validate_base_url(str(base_url)) if base_url else None
        if pkind.base_url_required and not url:
            raise ProviderError(f"A {pkind.label} provider needs a base URL.")
        row.base_url = url
        row.is_local = pkind.local or (row.kind == "openai_compatible" and is_loopback_url(url))
    if organization is not _UNSET:
        if organization and not pkind.supports_organization:
            raise ProviderError(f"{pkind.label} has no organization setting.")
        row.organization = str(organization) if organization else None
    if api_key is not None:
        key = api_key.strip()
        if not key or any(ch.isspace() for ch in key):
            raise ProviderError("The API key is empty or contains whitespace.")
        secrets.set_api_key(name, key)
        row.has_key, row.key_hint = True, secrets.mask(key)
    if extra_headers is not None:
        headers = _valid_headers(extra_headers)
        header_store.save_headers(name, headers)
        row.extra_headers = header_store.masked(headers)
    if privacy_note is not None:
        row.privacy_note = privacy_note
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = utcnow()
    with session(write=True) as s:
        s.add(row)
        bump_config_version(s)
    return _view(row)


def remove_provider(name: str) -> None:
    """Forget a provider, its registry entries, key and headers, and close its alerts (nothing is left to fix).
    Stored messages keep their model names."""
    with session(write=True) as s:
        row = s.exec(select(Provider).where(Provider.name == name)).first()
        if row is None:
            raise ProviderError(f"No provider named '{name}'.")
        s.exec(delete(Model).where(Model.provider_id == row.id))  # type: ignore[arg-type]
        s.delete(row)
        bump_config_version(s)
    secrets.delete_api_key(name)
    header_store.delete_headers(name)
    from core.alerts import resolve_provider_alerts

    resolve_provider_alerts(name, f"provider '{name}' was removed")


_secured: set[str] = set()  # databases whose providers this process has checked for headers in the clear


def _secure_once() -> None:
    """Before the first read of providers in this process: move headers older versions stored in the clear."""
    url = get_settings().effective_database_url
    if url not in _secured:
        secure_stored_headers()
        _secured.add(url)


def list_providers() -> list[ProviderView]:
    _secure_once()
    with session() as s:
        return [_view(r) for r in s.exec(select(Provider).order_by(Provider.name)).all()]


def get_provider(name: str) -> ProviderView | None:
    _secure_once()
    with session() as s:
        row = s.exec(select(Provider).where(Provider.name == name)).first()
    return _view(row) if row else None


def provider_config(name: str) -> ProviderConfig:
    """Everything needed to call the provider, key included (from the secret store)."""
    view = get_provider(name)
    if view is None:
        raise ProviderError(f"No provider named '{name}'.")
    kind = _require_kind(view.kind)
    return ProviderConfig(
        name=view.name,
        kind=kind,
        base_url=view.base_url,
        api_key=secrets.get_api_key(name) if view.has_key else None,
        organization=view.organization,
        extra_headers=provider_headers(name) if view.extra_headers else {},
    )


def provider_headers(name: str) -> dict[str, str]:
    """The provider's extra HTTP headers with their real values, from the secret store (for calling it)."""
    return header_store.load_headers(name) or {}


def _valid_headers(headers: dict[str, str]) -> dict[str, str]:
    try:
        return header_store.validate_headers(headers)
    except UserError as exc:
        raise ProviderError(str(exc)) from None


def secure_stored_headers() -> int:
    """Move header values that older versions stored in the clear (in Provider.extra_headers) into the secret
    store, leaving masked values. Run at startup; returns how many providers it moved."""
    with session() as s:
        found = [(r.name, dict(r.extra_headers)) for r in s.exec(select(Provider)).all() if r.extra_headers]
    moved = 0
    for name, stored in found:
        if header_store.load_headers(name) is not None:
            continue  # already in the secret store: the row holds masked values
        # secret first, row second: a process that sees masked values in the row also finds the secret
        header_store.save_headers(name, stored)
        with session(write=True) as s:
            row = s.exec(select(Provider).where(Provider.name == name).with_for_update()).first()
            if row is not None and row.extra_headers == stored:
                row.extra_headers = header_store.masked(stored)
                s.add(row)
                bump_config_version(s)
        moved += 1
    return moved


def record_health(name: str, result: CheckResult) -> bool:
    """Store a check's outcome; returns True when the provider just turned from healthy to failing."""
    with session(write=True) as s:
        # FOR UPDATE (PostgreSQL; SQLite's write lock does the same): one process sees each turn to bad
        row = s.exec(select(Provider).where(Provider.name == name).with_for_update()).first()
        if row is None:
            return False
        turned_bad = row.last_check_ok is not False and not result.ok
        if row.last_check_ok != result.ok:
            bump_config_version(s)  # routing skips unhealthy providers: running bots must notice
        row.last_check_at = utcnow()
        row.last_check_ok = result.ok
        row.last_check_error = None if result.ok else result.message[:500]
        row.last_check_latency_ms = result.latency_ms
        s.add(row)
    if turned_bad:
        from core.alerts import provider_turned_bad

        provider_turned_bad(name, result.message, utcnow())
    return turned_bad


def mark_unhealthy(name: str, reason: str) -> None:
    """The router saw an auth failure or similar: flag the provider for the admin's health view."""
    record_health(name, CheckResult(ok=False, message=reason, error_kind="auth"))


async def test_provider(name: str) -> CheckResult:
    """Connection test: the provider's model-list endpoint, result recorded for the admin."""
    cfg = provider_config(name)
    result = await list_models(cfg, timeout=get_settings().provider_timeout_s)
    record_health(name, result)
    return result
