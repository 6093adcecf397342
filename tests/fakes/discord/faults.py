"""Fault injection and rate limits: `fail`, `forbid`, `rate_limit` (one-off 429s) and `set_bucket`
(a fixed-window bucket with real X-RateLimit-* headers).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord.models import Call, Violation, _RateLimited
from tests.fakes.discord.routes import ACTIONS


@dataclass
class Fault:
    target: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int | None  # None: forever
    hits: int = 0

    def matches(self, call: Call) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.target in ACTIONS:
            return call.action == self.target
        if "{" in self.target:
            return call.route == self.target
        if re.match(r"^(GET|POST|PUT|PATCH|DELETE) ", self.target):
            return re.fullmatch(self.target, f"{call.method} {call.path}") is not None
        return re.search(self.target, call.path) is not None


class FaultsMixin:
    """Part of FakeDiscord (server.py): faults and buckets, applied by rest.py before each handler."""

    def fail(
        self,
        target: str,
        status: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer matching calls with `status`/`body`. `target`: an action name ("send_message"), a route
        template ("PATCH /channels/{channel_id}/messages/{message_id}"), "METHOD regex" fully matched against
        "METHOD path", or a regex searched in the path. `times=None` fails forever."""
        fault = Fault(target, status, body, headers or {}, times)
        with self._mu:
            self.faults.append(fault)
        return fault

    def forbid(
        self,
        target: str,
        *,
        code: int = 50013,
        message: str = "Missing Permissions",
        times: int | None = None,
    ) -> Fault:
        return self.fail(target, 403, {"message": message, "code": code}, times=times)

    def rate_limit(self, target: str, *, retry_after: float = 0.5, times: int = 1, is_global: bool = False) -> Fault:
        """429 with Discord's body and headers. discord.py sleeps `retry_after` and retries (needs `Via`)."""
        now = time.time()
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers |= {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{now + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(target.encode()).hexdigest()[:32],  # noqa: S324 - an id
            }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return self.fail(target, 429, body, headers=headers, times=times)

    def set_bucket(self, route: str, *, limit: int, per: float) -> None:
        """Enforce a fixed-window bucket on a route template, per major parameter, with real X-RateLimit-*
        headers on every response (discord.py then waits pre-emptively; going over gets a 429)."""
        with self._mu:
            self.buckets[route] = (limit, per)

    def clear_faults(self) -> None:
        with self._mu:
            self.faults.clear()

    # ------------------------------------------------------------------ applied by rest.py to every call
    def _match_fault(self, call: Call) -> Fault | None:
        with self._mu:
            for fault in self.faults:
                if fault.matches(call):
                    fault.hits += 1
                    return fault
        return None

    def _consume_bucket(self, call: Call) -> dict[str, str]:
        with self._mu:
            conf = self.buckets.get(call.route)
            if conf is None:
                return {}
            limit, per = conf
            major = call.params.get("channel_id") or call.params.get("guild_id") or call.params.get("token", "")
            key = f"{call.route}:{major}"
            now = time.time()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= per:
                start, used = now, 0
            reset_after = max(0.0, start + per - now)
            bucket = hashlib.md5(call.route.encode()).hexdigest()[:32]  # noqa: S324 - an id, not security
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Bucket": bucket,
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Reset": f"{start + per:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            }
            if used >= limit:
                self.violations.append(Violation("rate_limited", f"{key} over {limit}/{per}s", True, call))
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": round(reset_after, 3),
                    "global": False,
                }
                raise _RateLimited(
                    body, headers | {"X-RateLimit-Remaining": "0", "Retry-After": str(math.ceil(reset_after))}
                )
            self._windows[key] = (start, used + 1)
            return headers | {"X-RateLimit-Remaining": str(limit - used - 1)}
