"""A separate process sending N concurrent chat turns through the core (for the budget race and crash tests).

    python -m tests.workers.budget_worker NAME N MODEL [SPREAD_S]
Request i starts after i/N x SPREAD_S seconds, so arrivals overlap as real traffic does.
Prints one JSON line: how many turns were answered and how many were refused by a budget.
"""

from __future__ import annotations

import asyncio
import json
import sys

from core.chat import handle
from core.types import Done, IncomingMessage, Reply


async def one(name: str, i: int, n: int, model: str, spread: float) -> str:
    await asyncio.sleep(spread * i / n)
    thread = f"{name}-{i}"
    base = {"platform": "race", "workspace": "W", "channel": "C", "thread": thread, "user": f"U{i % 7}"}
    async for _ in handle(IncomingMessage(**base, text=f"!model {model}", event_id=f"{thread}-m")):
        pass
    outcome = "none"
    async for event in handle(IncomingMessage(**base, text=f"question {i} from {name}", event_id=f"{thread}-q")):
        if isinstance(event, Done) and event.result.status == "ok":
            outcome = "answered"
        elif isinstance(event, Reply) and event.kind == "refusal":
            outcome = "refused"
    return outcome


async def main(name: str, n: int, model: str, spread: float) -> None:
    print("started", flush=True)
    outcomes = await asyncio.gather(*(one(name, i, n, model, spread) for i in range(n)))
    print(json.dumps({o: outcomes.count(o) for o in set(outcomes)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.0))
