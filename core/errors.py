"""The base of errors whose message is written for users: what happened and what to do next."""

from __future__ import annotations


class UserError(ValueError):
    """Shown to the user as is. Never carries a traceback or a secret."""
