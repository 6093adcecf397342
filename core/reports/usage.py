"""Usage sums for `/usage`: tokens and cost of a thread, a channel and a user (read-only over Message)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from core.storage.db import session
from core.storage.tables import Conversation, Message
from core.types import UsageReport, UsageSum

COSTED_ROLES = ("assistant", "compare", "tool")  # every model call: a reply's tool rounds are rows of their own


def _sum(*where: object) -> UsageSum:
    """Replies are counted once; tokens and cost are every model call's, a reply's tool rounds included."""
    reply = col(Message.role) != "tool"
    stmt = (
        select(
            func.count(col(Message.id)).filter(reply),
            func.coalesce(func.sum(Message.prompt_tokens), 0),
            func.coalesce(func.sum(Message.completion_tokens), 0),
            func.coalesce(func.sum(Message.cost_usd), 0.0),
            func.count(col(Message.id)).filter(reply, col(Message.cost_usd).is_(None)),
        )
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(col(Message.role).in_(COSTED_ROLES), col(Message.status) != "pending", *where)  # type: ignore[arg-type]
    )
    with session() as s:
        n, p, c, cost, unknown = s.execute(stmt).one()
    return UsageSum(int(n), int(p), int(c), float(cost), int(unknown))


def thread_usage(conversation_id: int) -> UsageSum:
    return _sum(col(Message.conversation_id) == conversation_id)


def channel_usage(platform: str, workspace: str, channel: str) -> UsageSum:
    return _sum(
        col(Conversation.platform) == platform,
        col(Conversation.workspace) == workspace,
        col(Conversation.channel) == channel,
    )


def user_usage(platform: str, workspace: str, user: str) -> UsageSum:
    return _sum(
        col(Conversation.platform) == platform,
        col(Conversation.workspace) == workspace,
        col(Message.user_id) == user,
    )


def usage_report(conversation_id: int | None, platform: str, workspace: str, channel: str, user: str) -> UsageReport:
    """`!usage` in one call: this thread (when in one), this channel, and the user in this workspace."""
    return UsageReport(
        thread_usage(conversation_id) if conversation_id is not None else None,
        channel_usage(platform, workspace, channel),
        user_usage(platform, workspace, user),
    )
