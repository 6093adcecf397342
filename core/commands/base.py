"""The command registry: `!name args` (or `/name args` from slash commands), parsed and answered in core."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from core.config.scopes import Policy, ScopeKey
from core.routing.policy import policy_for
from core.snapshot import Snapshot
from core.threads.conversations import ConversationRef
from core.types import Event, IncomingMessage

_COMMAND = re.compile(r"^\s*[!/]([a-zA-Z][\w-]*)(?:\s+(.*))?$", re.S)


@dataclass(frozen=True)
class Context:
    """What a command needs: the message, the config snapshot and (in a thread) its conversation."""

    msg: IncomingMessage
    snap: Snapshot
    conversation: ConversationRef | None

    @property
    def in_thread(self) -> bool:
        return bool(self.msg.thread)

    @property
    def key(self) -> ScopeKey:
        return ScopeKey(self.msg.platform, self.msg.workspace, self.msg.channel)

    @property
    def policy(self) -> Policy:
        return policy_for(self.snap, self.key)

    @property
    def is_admin(self) -> bool:
        from core.settings import get_settings

        return self.msg.user_is_admin or self.msg.user in get_settings().admin_user_ids


Handler = Callable[[Context, str], AsyncIterator[Event]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    help: str
    handler: Handler
    admin_only: bool = False


COMMANDS: dict[str, CommandSpec] = {}


def command(name: str, usage: str, help: str, *, admin_only: bool = False) -> Callable[[Handler], Handler]:
    """Register a command handler; its usage and help are what `!help` shows users."""

    def register(fn: Handler) -> Handler:
        COMMANDS[name] = CommandSpec(name, usage, help, fn, admin_only)
        return fn

    return register


def parse(text: str) -> tuple[str, str] | None:
    """(name, args) when the text is a command. `!anything` is a command (unknown ones get help);
    `/word` only when it is one of ours, so a message that starts with a path stays a message."""
    m = _COMMAND.match(text)
    if not m:
        return None
    name = m.group(1).lower()
    if text.lstrip().startswith("/") and name not in COMMANDS:
        return None
    return name, (m.group(2) or "").strip()
