"""A separate process sending one message to a thread through the core (for the turn-order tests).

    python -m tests.workers.turn_worker THREAD TEXT EVENT_ID
It prints "ready" once started and sends its message when a line arrives on stdin (so a test decides the order
in which two workers send), then prints one JSON line: what it streamed and when (wall clock) its reply started
and finished streaming.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from core.chat import handle
from core.types import Delta, Done, IncomingMessage


async def main(thread: str, text: str, event_id: str) -> None:
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    msg = IncomingMessage("slack", "W1", "C1", thread, "U1", text, event_id=event_id)
    streamed, first, last, status = "", None, None, None
    async for event in handle(msg):
        if isinstance(event, Delta):
            first = first or time.time()
            last = time.time()
            streamed += event.text
        elif isinstance(event, Done):
            status = event.result.status
    print(json.dumps({"text": streamed, "first": first, "last": last, "status": status}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
