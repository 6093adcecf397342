"""Turns of one thread are answered one after another, in the order their replies were claimed, in every
process: a turn waits while an earlier reply of its thread is still being written.

The database is the referee: reply rows are numbered as they are claimed, and a reply is `pending` until it is
stored, so two workers or shards holding turns of one thread agree on who goes first without talking to each
other. Within a process the wait ends the moment the earlier turn finishes; across processes it is noticed by
polling, at most every POLL_MAX_S. A reply left pending by a dead process holds its thread up for at most
SWITCHBOARD_TURN_WAIT_SECONDS; the crash rules (core.threads.recovery) then settle that reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from core.settings import get_settings
from core.threads import aio

log = logging.getLogger(__name__)
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.5
_finished: dict[int, asyncio.Event] = {}  # conversation id -> set when a turn of it ends in this process


async def wait_for_earlier(conversation_id: int, reply_id: int) -> bool:
    """Wait until no reply of the thread claimed before `reply_id` is being written. Returns whether it waited."""
    deadline = time.monotonic() + get_settings().turn_wait_s
    delay = POLL_FIRST_S
    waited = False
    while await aio.earlier_reply_pending(conversation_id, reply_id):
        if time.monotonic() >= deadline:
            log.warning(
                "conversation %s: an earlier reply is still pending; answering reply %s anyway",
                conversation_id,
                reply_id,
            )
            return True
        waited = True
        event = _finished.setdefault(conversation_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), delay)
        delay = min(delay * 2, POLL_MAX_S)
    return waited


def turn_ended(conversation_id: int) -> None:
    """A turn of the thread ended in this process: whoever waits behind it here looks again now."""
    event = _finished.pop(conversation_id, None)
    if event is not None:
        event.set()
