"""Turns of one thread are answered one after another, in the order their replies were claimed, in every
process: a turn waits while an earlier reply of its thread is still being written.

The database is the referee: reply rows are numbered as they are claimed, and a reply is `pending` until it is
stored, so two workers or shards holding turns of one thread agree on who goes first without talking to each
other. Within a process the wait ends the moment the earlier turn finishes; across processes it is noticed by
polling, at most every POLL_MAX_S.

There is no clock on the wait: however long a live reply takes to write (a slow model, a queue of turns on an
overloaded worker), the turns behind it wait for it. What ends a wait early is the earlier reply's process dying:
a live process renews its replies' claims (core.threads.recovery.kept_alive), and a pending reply whose claim went
unrenewed for SWITCHBOARD_STALE_REPLY_MINUTES is a dead process's. The waiting turn settles it by the crash rules
(charge, mark interrupted, tell the thread), as the scheduler would, and goes on with what it left in its
history. (A fixed cap on the wait, as there was, let the soak's overloaded workers answer 25 turns ahead of live
replies still queued before them.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.threads import aio, recovery

log = logging.getLogger(__name__)
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.5
_finished: dict[int, asyncio.Event] = {}  # conversation id -> set when a turn of it ends in this process


async def wait_for_earlier(conversation_id: int, reply_id: int) -> bool:
    """Wait until no live process is writing a reply of the thread claimed before `reply_id`. Returns whether it
    waited."""
    delay = POLL_FIRST_S
    waited = False
    while pending := await aio.earlier_reply_pending(conversation_id, reply_id):
        waited = True
        if pending == "stale":  # settle the dead reply now (as the scheduler would), so history holds what it left
            try:
                await asyncio.to_thread(recovery.recover_stale_replies)
            except Exception:  # a database hiccup: look again after the usual pause
                log.warning("could not settle a dead reply before reply %s", reply_id, exc_info=True)
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
