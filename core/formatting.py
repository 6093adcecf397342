"""How amounts, sizes and times read wherever users see them: chat replies, the CLI and the admin.

One function per kind of value, so a price, a size or "3 min ago" reads the same on every surface. Arguments
that may be missing take an `unknown` text for what to show instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class PullState(Protocol):
    """What a pull's progress line reads (core.ollama.pull_jobs.JobView is one)."""

    @property
    def status(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def total_bytes(self) -> int: ...
    @property
    def completed_bytes(self) -> int: ...
    @property
    def percent(self) -> float | None: ...
    @property
    def speed_bps(self) -> float | None: ...
    @property
    def eta_s(self) -> float | None: ...


MISSING = "–"  # a value that is not there (tables)
BAR_WIDTH = 12

# ---------------------------------------------------------------- money and tokens


def money(usd: float | None, *, local: bool = False, unknown: str = "cost unknown") -> str:
    """Dollars: cents from $0.10 up; below that up to four decimals, so small amounts stay readable ($0.0014,
    $0.022); below $0.0001, `<$0.0001`. A local model's reply is `free (local)`."""
    if local:
        return "free (local)"
    if usd is None:
        return unknown
    if usd == 0:
        return "$0"
    if usd >= 0.1:
        return f"${usd:,.2f}"
    if usd < 0.0001:
        return "<$0.0001"
    return f"${usd:.4f}".rstrip("0").rstrip(".")


def per_mtok(price_in: float | None, price_out: float | None, *, local: bool) -> str:
    """A model's prices: `$2.5 in / $10 out per 1M tokens`, `free (local)` or `price unknown`."""
    if local:
        return "free (local)"
    if price_in is None or price_out is None:
        return "price unknown"
    return f"${price_in:g} in / ${price_out:g} out per 1M tokens"


def unit_price(usd_per_mtok: float | None) -> str:
    """One price per million tokens, for a table column: `$2.5/Mtok`, `free` or `unknown`."""
    if usd_per_mtok is None:
        return "unknown"
    return "free" if usd_per_mtok == 0 else f"${usd_per_mtok:g}/Mtok"


def tokens(n: float) -> str:
    return f"{n:,.0f} tokens"


def budget_amount(metric: str, units: int) -> str:
    """A budget's amount from its stored units: micro-dollars (`usd` budgets) or tokens."""
    return money(units / 1_000_000) if metric == "usd" else tokens(units)


def context(n: int | None) -> str:
    """A context window: `128k ctx`, `512 ctx`, `? ctx`."""
    if not n:
        return "? ctx"
    return f"{n // 1000}k ctx" if n >= 1000 else f"{n} ctx"


def percent(fraction: float | None, unknown: str = MISSING) -> str:
    return unknown if fraction is None else f"{fraction * 100:.1f}%"


# ---------------------------------------------------------------- sizes


def size(n: float | None, unknown: str = "?") -> str:
    """Bytes as Ollama shows them: decimal units (`1.3 GB`, `397.8 MB`, `12 KB`)."""
    if n is None:
        return unknown
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def speed(bytes_per_s: float | None) -> str:
    return f"{size(bytes_per_s)}/s"


# ---------------------------------------------------------------- times


def latency(ms: float | None, unknown: str = MISSING) -> str:
    """`800 ms`, `1,250 ms`; from 10 s on `12.5 s`."""
    if ms is None:
        return unknown
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


def duration(seconds: float | None, unknown: str = MISSING) -> str:
    """How long something took: `2.4 s`, `45 s`, `3 min 5 s`, `1 h 2 min`."""
    if seconds is None:
        return unknown
    if seconds < 10:
        return f"{max(0.0, seconds):.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def eta(seconds: float) -> str:
    """Time left, rounded as an estimate deserves: `about 45 s left`, `about 3 min left`, `about 1 h 5 min left`."""
    s = max(0, int(seconds))
    if s < 120:
        return f"about {s} s left"
    if s < 7200:
        return f"about {s // 60} min left"
    return f"about {s // 3600} h {s % 3600 // 60} min left"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """`just now`, `3 min ago`, `5 h ago`, `2 d ago`; `never` when it has not happened."""
    if when is None:
        return "never"
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    s = max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= length:
            return f"{int(s // length)} {unit} ago"
    return "just now"


def timestamp(value: datetime | None, unknown: str = MISSING) -> str:
    """`2025-01-31 14:05 UTC` (naive datetimes are UTC)."""
    if value is None:
        return unknown
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- Ollama pulls


def transfer_rate(job: PullState) -> str:
    """`12.0 MB/s · about 2 min left`, as far as known (empty before the first measurement)."""
    parts = [speed(job.speed_bps)] if job.speed_bps else []
    if job.eta_s is not None:
        parts.append(eta(job.eta_s))
    return " · ".join(parts)


def pull_progress(job: PullState, *, bar: bool = False) -> str:
    """A pull as one line, the same in chat, the CLI and the admin:
    `downloading sha256:… · 1.2 GB of 2.0 GB (60%) · 12.0 MB/s · about 2 min left`.
    `bar` puts a text progress bar in front (for chat, where nothing else draws one)."""
    parts = [job.detail or job.status]
    pct = job.percent
    if job.status != "queued" and job.total_bytes and pct is not None:
        parts.append(f"{size(job.completed_bytes)} of {size(job.total_bytes)} ({pct:.0f}%)")
        if rate := transfer_rate(job):
            parts.append(rate)
        if bar:
            filled = round(pct / 100 * BAR_WIDTH)
            return f"`{'█' * filled}{'░' * (BAR_WIDTH - filled)}` " + " · ".join(parts)
    return " · ".join(parts)
