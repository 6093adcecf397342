"""A separate process sending N concurrent messages, each starting a thread, through the core (rate limit tests).

    python -m tests.workers.rate_worker NAME N CHANNEL [SPREAD_S]
Message i starts after i/N x SPREAD_S seconds. Prints one JSON line: how many were answered, and the text of each
refusal.
"""

from __future__ import annotations

import asyncio
import json
import sys

from core.chat import handle
from core.types import Done, IncomingMessage, Reply


async def one(name: str, i: int, n: int, channel: str, spread: float) -> tuple[bool, str | None]:
    await asyncio.sleep(spread * i / n)
    thread = f"{name}-{i}"
    msg = IncomingMessage(
        platform="race",
        workspace="W",
        channel=channel,
        thread=thread,
        user=f"U{i % 3}",
        text=f"question {i} from {name}",
        event_id=f"{thread}-q",
    )
    answered, refusal = False, None
    async for event in handle(msg):
        if isinstance(event, Done) and event.result.status == "ok":
            answered = True
        elif isinstance(event, Reply) and event.kind == "refusal":
            refusal = event.text
    return answered, refusal


async def main(name: str, n: int, channel: str, spread: float) -> None:
    outcomes = await asyncio.gather(*(one(name, i, n, channel, spread) for i in range(n)))
    refusals = [r for _, r in outcomes if r is not None]
    print(json.dumps({"answered": sum(1 for a, _ in outcomes if a), "refusals": refusals}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.0))
