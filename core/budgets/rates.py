"""Rate limits: requests and tokens per minute per user, channel, workspace, provider or everything.

This module owns the RateLimit and RateWindow tables. Each limit counts in fixed one-minute windows aligned to
the clock (one RateWindow row per limit and minute). A request is admitted only through
`UPDATE ... SET requests = requests + 1, tokens = tokens + :estimate WHERE requests + 1 <= rpm AND
tokens + :estimate <= tpm` on that row, all limits in one transaction (in limit id order, so two admissions never
deadlock): as with budgets (core/budgets/ledger.py) the database decides, so a limit holds across any number of
processes and workers, on SQLite and PostgreSQL.

A fixed window (not a sliding one) because the retry time it gives is exact ("try again in 37 s": when the
minute ends everything it counted is gone) and it costs one row per minute; the price is that a burst straddling
a minute boundary may see up to twice the limit in 60 s, which is fine for keeping one person or channel from
flooding a provider.

Tokens are admitted on the most the attempt can use (prompt + max output, like a budget reservation) and settled
to what it really used when it ends, in the window it was admitted in. Requests stay counted once a request was
sent (also when it failed); one given back is one that never reached a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select as sm_select

from core.budgets.store import parse_scope
from core.config.version import bump_config_version
from core.errors import UserError
from core.storage.db import connection, insert_ignoring_conflicts, session
from core.storage.tables import RateLimit, RateWindow, utcnow

SCOPE_KINDS = ("global", "workspace", "channel", "user", "provider")
WINDOW = timedelta(minutes=1)

_L = RateLimit.__table__  # type: ignore[attr-defined]
_W = RateWindow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RateLimitView:
    id: int
    scope_kind: str
    scope_value: str
    requests_per_minute: int | None
    tokens_per_minute: int | None
    enabled: bool = True

    @property
    def scope(self) -> str:
        return "global" if self.scope_kind == "global" else f"{self.scope_kind}:{self.scope_value}"

    @property
    def label(self) -> str:
        return "everything" if self.scope_kind == "global" else f"{self.scope_kind} {self.scope_value}"

    @property
    def per_turn(self) -> bool:
        """Counted once per message (a person, a channel, a workspace, everything); provider limits count every
        request sent to the provider, fallbacks included."""
        return self.scope_kind != "provider"

    @property
    def rates(self) -> str:
        parts = []
        if self.requests_per_minute is not None:
            parts.append(_count(self.requests_per_minute, "request"))
        if self.tokens_per_minute is not None:
            parts.append(_count(self.tokens_per_minute, "token"))
        return " and ".join(parts) + " a minute"

    def applies(self, *, workspace: str, channel: str, user: str, provider: str) -> bool:
        if not self.enabled:
            return False
        value = {"global": "", "workspace": workspace, "channel": channel, "user": user, "provider": provider}
        return self.scope_value == value[self.scope_kind]

    def subject(self, you: str = "") -> str:
        """Who is limited, as a user reads it ('You are', 'This channel is', ...)."""
        if self.scope_kind == "user":
            return "You are" if self.scope_value == you else f"User {self.scope_value} is"
        if self.scope_kind == "provider":
            return f"Requests to {self.scope_value} are"
        return {"global": "Switchboard is", "workspace": "This workspace is", "channel": "This channel is"}[
            self.scope_kind
        ]


@dataclass(frozen=True)
class Counted:
    window_id: int
    limit_id: int
    requests: int
    tokens: int


@dataclass
class RateHold:
    """What one attempt counted against its rate limits."""

    items: list[Counted] = field(default_factory=list)


class RateLimited(Exception):
    """A rate limit would go over; nothing was counted anywhere."""

    def __init__(self, limit: RateLimitView, what: str, used: int, asked: int, retry_after_s: int) -> None:
        super().__init__(limit.scope)
        self.limit, self.what, self.used, self.asked, self.retry_after_s = limit, what, used, asked, retry_after_s

    def text(self, you: str = "") -> str:
        """The refusal a user reads: which limit, and when to try again."""
        lim, who = self.limit, self.limit.subject(you)
        if self.what == "requests":
            return (
                f"{who} limited to {_count(lim.requests_per_minute or 0, 'request')} a minute; "
                f"try again in {self.retry_after_s} s. Nothing was sent to a model."
            )
        cap = lim.tokens_per_minute or 0
        if self.asked > cap:  # no minute can hold it: waiting will not help
            return (
                f"{who} limited to {_count(cap, 'token')} a minute, and this reply could take up to {self.asked:,} "
                "(the conversation plus the longest answer). Nothing was sent to a model. Start a new thread, "
                "or ask an admin to raise the limit."
            )
        return (
            f"{who} limited to {_count(cap, 'token')} a minute ({self.used:,} used or held this minute, and this reply "
            f"could take up to {self.asked:,}); try again in {self.retry_after_s} s. Nothing was sent to a model."
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def window_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def retry_after(now: datetime) -> int:
    """Whole seconds until the window containing `now` ends (at least 1)."""
    return max(1, math.ceil((window_of(now) + WINDOW - now).total_seconds()))


# "no limit" on one axis: bounds a count never reaches, within the columns' types (requests INTEGER, tokens BIGINT)
_NO_RPM, _NO_TPM = 2**31 - 1, 2**62


_ADMIT = (
    update(_W)
    .where(
        _W.c.id == bindparam("wid"),
        _W.c.requests + bindparam("r") <= bindparam("rpm"),
        _W.c.tokens + bindparam("t") <= bindparam("tpm"),
    )
    .values(requests=_W.c.requests + bindparam("r"), tokens=_W.c.tokens + bindparam("t"))
)
_GIVE_BACK = (
    update(_W)
    .where(_W.c.id == bindparam("wid"))
    .values(requests=_W.c.requests - bindparam("r"), tokens=_W.c.tokens - bindparam("held") + bindparam("t"))
)


def _window_id(conn: Connection, limit_id: int, start: datetime) -> int:
    conn.execute(
        insert_ignoring_conflicts(_W, conn).values(limit_id=limit_id, window_start=start, requests=0, tokens=0)
    )
    found = conn.execute(select(_W.c.id).where(_W.c.limit_id == limit_id, _W.c.window_start == start)).scalar_one()
    return int(found)


def admit(asks: list[tuple[RateLimitView, int, int]], *, now: datetime | None = None) -> RateHold:
    """Count (requests, tokens) against every limit in the current minute, all or nothing. Raises RateLimited
    for the first limit that would go over (then nothing is counted). `now`: the clock (tests move it)."""
    now = now or utcnow()
    hold = RateHold()
    asks = [(lim, r, t if lim.tokens_per_minute is not None else 0) for lim, r, t in asks]
    asks = [(lim, r, t) for lim, r, t in asks if r or t]
    for lim, _, t in asks:
        if lim.tokens_per_minute is not None and t > lim.tokens_per_minute:
            raise RateLimited(lim, "tokens", 0, t, retry_after(now))
    if not asks:
        return hold
    start = window_of(now)
    with connection(write=True) as conn:
        for lim, r, t in sorted(asks, key=lambda a: a[0].id):
            wid = _window_id(conn, lim.id, start)
            rpm = lim.requests_per_minute if lim.requests_per_minute is not None else _NO_RPM
            tpm = lim.tokens_per_minute if lim.tokens_per_minute is not None else _NO_TPM
            if not conn.execute(_ADMIT, {"wid": wid, "r": r, "t": t, "rpm": rpm, "tpm": tpm}).rowcount:
                row = conn.execute(select(_W.c.requests, _W.c.tokens).where(_W.c.id == wid)).one()
                if r and row.requests + r > rpm:
                    raise RateLimited(lim, "requests", row.requests, r, retry_after(now))  # rolls it all back
                raise RateLimited(lim, "tokens", row.tokens, t, retry_after(now))
            hold.items.append(Counted(wid, lim.id, r, t))
    return hold


def settle(hold: RateHold, tokens: int) -> None:
    """The attempt was sent and used `tokens`: its requests stay counted, its tokens become what it used (in the
    minute it was admitted in)."""
    _give_back(hold, requests=False, tokens=tokens)


def release(hold: RateHold) -> None:
    """The attempt never reached a model (e.g. a budget refused it): give back everything it counted."""
    _give_back(hold, requests=True, tokens=0)


def _give_back(hold: RateHold, *, requests: bool, tokens: int) -> None:
    items, hold.items = hold.items, []
    if not items:
        return
    with connection(write=True) as conn:
        for item in sorted(items, key=lambda i: i.limit_id):
            conn.execute(
                _GIVE_BACK,
                {
                    "wid": item.window_id,
                    "r": item.requests if requests else 0,
                    "held": item.tokens,
                    "t": tokens if item.tokens else 0,  # a limit without tokens per minute counts none
                },
            )


def current(limits: list[RateLimitView], *, now: datetime | None = None) -> dict[int, tuple[int, int]]:
    """(requests, tokens) each limit counted in the current minute (0, 0 when nothing yet)."""
    start = window_of(now or utcnow())
    with connection() as conn:
        rows = conn.execute(
            select(_W.c.limit_id, _W.c.requests, _W.c.tokens).where(
                _W.c.window_start == start, _W.c.limit_id.in_([lim.id for lim in limits])
            )
        ).all()
    found = {int(r.limit_id): (int(r.requests), int(r.tokens)) for r in rows}
    return {lim.id: found.get(lim.id, (0, 0)) for lim in limits}


def prune(before: datetime | None = None) -> int:
    """Drop windows that ended before `before` (default: an hour ago): nothing reads them again."""
    cutoff = before or utcnow() - timedelta(hours=1)
    with connection(write=True) as conn:
        return int(conn.execute(delete(_W).where(_W.c.window_start < cutoff - WINDOW)).rowcount or 0)


# --- configuration (admin and CLI) ---


def _view(row: RateLimit) -> RateLimitView:
    return RateLimitView(
        row.id or 0, row.scope_kind, row.scope_value, row.requests_per_minute, row.tokens_per_minute, row.enabled
    )


def _check(value: int | None, what: str) -> None:
    if value is not None and value < 1:
        raise UserError(f"{what} a minute must be at least 1, not {value}. To stop limiting, remove the limit.")


def add_rate_limit(
    scope: str, *, requests_per_minute: int | None = None, tokens_per_minute: int | None = None
) -> RateLimitView:
    """Validate, then create a rate limit (one per scope). Nothing is written when anything is wrong."""
    kind, value = parse_scope(scope, SCOPE_KINDS)
    if requests_per_minute is None and tokens_per_minute is None:
        raise UserError("Give requests a minute, tokens a minute, or both.")
    _check(requests_per_minute, "Requests")
    _check(tokens_per_minute, "Tokens")
    row = RateLimit(
        scope_kind=kind,
        scope_value=value,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
    )
    try:
        with session(write=True) as s:
            s.add(row)
            bump_config_version(s)
    except IntegrityError:
        raise UserError(f"There is already a rate limit for {scope}: remove it first to change it.") from None
    return _view(row)


def remove_rate_limit(limit_id: int) -> None:
    """Remove a rate limit and what it counted."""
    with session(write=True) as s:
        row = s.get(RateLimit, limit_id)
        if row is None:
            raise UserError(f"No rate limit with id {limit_id}.")
        for w in s.exec(sm_select(RateWindow).where(RateWindow.limit_id == limit_id)).all():
            s.delete(w)
        s.flush()
        s.delete(row)
        bump_config_version(s)


def list_rate_limits() -> list[RateLimitView]:
    with session() as s:
        return [_view(r) for r in s.exec(sm_select(RateLimit).order_by(col(RateLimit.id))).all()]
