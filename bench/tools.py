"""A reply that uses a tool: the core's tool loop against the same work done by hand, side by side in one process.

    python -m bench.tools [--turns 40] [--rounds 3] [--write docs/benchmarks.md]

Each turn is two model calls with one MCP tool call between them: the model (the loopback fake OpenAI, streaming
its tool call as OpenAI does) asks for `lookup_ticket`, the tool runs on the loopback MCP server over stdio, its
result goes back, the model answers. Three paths, alternating turn by turn in every round:

- **raw**: `litellm.acompletion` twice and the MCP SDK's `ClientSession.call_tool` on a session opened once
  before the run: the least any product can do for such a turn;
- **core**: `core.chat.handle` on a new thread (everything a chat message goes through: storage, budgets, the
  tool loop, the round stored as a message), with the process's MCP session pool warm;
- **core, cold**: the same with the pool emptied before each turn, so the server's process is started for the turn
  (what every tool reply paid before sessions were kept across replies).

Reported: each path's median and p95 turn time, core against raw as a ratio of medians, and what starting the
server costs a turn. The fake answers after 50 ms, then a token every 5 ms, as in `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import ROOT, update_doc

FAKE_MCP = ROOT / "tests" / "fakes" / "mcp_server.py"
ANSWER = "Ticket T-1 is open and dana owns it; the printer fire is being handled."
TOOL = "bench__lookup_ticket"
KEY = "V2hhdCBhIGxvdmVseSBkYXkgZm9yIGEgdGVzdCBrZXk="


def _environment(tmp: Path) -> None:
    os.environ.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        SWITCHBOARD_DATA_DIR=str(tmp),
        DATABASE_URL=f"sqlite:///{tmp / 'switchboard.db'}",
        SWITCHBOARD_SECRET_KEY=KEY,
        SWITCHBOARD_SECRET_BACKEND="encrypted",
        SWITCHBOARD_NETWORK_CHECKS="false",
        SWITCHBOARD_CONFIRM_OVER_USD="1000",
    )


def _fake() -> Any:
    from tests.fakes.openai import FakeOpenAI, Reply, ToolCall

    class ToolModel(FakeOpenAI):
        """Asks for the tool when it is offered and has no result yet; answers once it has one."""

        def __init__(self) -> None:
            super().__init__(models=["gpt-4o"], api_key="sk-bench", ttft_s=0.05, token_delay_s=0.005)
            self._steps: dict[Any, Any] = {}

        async def _answer(self, request: Any) -> Any:
            body = json.loads(await request.read())
            messages = body.get("messages") or [{}]
            wants = body.get("tools") and messages[-1].get("role") != "tool"
            step = Reply(tool_calls=(ToolCall(TOOL, {"ticket_id": "T-1"}),)) if wants else Reply(text=ANSWER)
            self._steps[asyncio.current_task()] = step
            return await super()._answer(request)

        def _next_step(self, model: str) -> Any:
            return self._steps.pop(asyncio.current_task())

    return ToolModel()


async def _setup(url: str) -> None:
    from core.config.scopes import ScopeKey, update_scope
    from core.models.sync import refresh
    from core.providers.store import add_provider
    from core.snapshot import invalidate
    from core.storage.db import get_engine
    from core.storage.migrate import upgrade
    from core.tools import health, servers

    upgrade(get_engine())
    add_provider("oa", "openai", base_url=url + "/v1", api_key="sk-bench")
    await refresh()
    update_scope(ScopeKey(), default_model="oa/gpt-4o")
    servers.add_server("bench", command=shlex.join([sys.executable, str(FAKE_MCP), "stdio"]))
    checked = await health.check("bench")
    if not checked.last_check_ok:
        raise SystemExit(f"the MCP server did not start: {checked.last_check_error}")
    invalidate()


class Raw:
    """Two litellm calls and one MCP call on a session opened once: the turn done by hand."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: Any = None
        self._stack: Any = None

    async def start(self) -> None:
        import contextlib

        from mcp import ClientSession, StdioServerParameters, stdio_client

        self._stack = contextlib.AsyncExitStack()
        params = StdioServerParameters(command=sys.executable, args=[str(FAKE_MCP), "stdio"])
        read, write = await self._stack.enter_async_context(stdio_client(params))
        self.session = await self._stack.enter_async_context(ClientSession(read, write))
        await self.session.initialize()
        listed = await self.session.list_tools()
        tool = next(t for t in listed.tools if t.name == "lookup_ticket")
        self.tools = [
            {
                "type": "function",
                "function": {"name": TOOL, "description": tool.description, "parameters": tool.input_schema},
            }
        ]

    async def close(self) -> None:
        await self._stack.aclose()

    async def _call(self, messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
        import litellm

        response = await litellm.acompletion(
            model="openai/gpt-4o",
            api_base=self.url + "/v1",
            api_key="sk-bench",
            messages=messages,
            tools=self.tools,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=1024,
        )
        text, calls = [], {}
        async for chunk in response:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            text.append(delta.content or "")
            for part in delta.tool_calls or []:
                call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = part.id or call["id"]
                call["name"] = part.function.name or call["name"]
                call["arguments"] += part.function.arguments or ""
        return "".join(text), list(calls.values())

    async def turn(self, n: int) -> float:
        started = time.perf_counter()
        messages: list[dict[str, Any]] = [{"role": "user", "content": f"who owns T-1? ({n})"}]
        text, calls = await self._call(messages)
        (call,) = calls
        result = await self.session.call_tool("lookup_ticket", json.loads(call["arguments"]))
        said = {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
        }
        messages += [
            {"role": "assistant", "content": text or None, "tool_calls": [said]},
            {"role": "tool", "tool_call_id": call["id"], "content": result.content[0].text},
        ]
        answer, _ = await self._call(messages)
        if answer != ANSWER:
            raise RuntimeError(f"raw: unexpected answer {answer!r}")
        return time.perf_counter() - started


class Core:
    """`core.chat.handle` on a new thread; `cold`: the MCP session pool emptied first."""

    def __init__(self, cold: bool) -> None:
        self.cold = cold

    async def turn(self, n: int) -> float:
        from core.chat import handle
        from core.tools import client
        from core.types import Delta, Done, IncomingMessage

        if self.cold:
            await client.close_pool()
        tag = "cold" if self.cold else "warm"
        msg = IncomingMessage("bench", "W", "C", f"{tag}-{n}", "U", f"who owns T-1? ({n})", event_id=f"{tag}-{n}")
        started = time.perf_counter()
        text, done = [], None
        async for event in handle(msg):
            if isinstance(event, Delta):
                text.append(event.text)
            elif isinstance(event, Done):
                done = event
        elapsed = time.perf_counter() - started
        if done is None or "".join(text) != ANSWER or done.result.tool_rounds != 1:
            raise RuntimeError(f"core: unexpected reply {''.join(text)!r} ({done})")
        return elapsed


async def measure(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    raw, warm, cold = Raw(url), Core(cold=False), Core(cold=True)
    await raw.start()
    times: dict[str, list[float]] = {"raw": [], "core": [], "core, cold": []}
    try:
        for n in range(3):  # warm-up: imports, the first connections, the pool's session
            await raw.turn(-n - 1)
            await warm.turn(-n - 1)
        for r in range(args.rounds):
            for n in range(args.turns):
                key = r * args.turns + n
                times["raw"].append(await raw.turn(key))
                times["core"].append(await warm.turn(key))
                if n % 4 == 0:  # a cold turn starts a process: fewer of them, spread through the run
                    times["core, cold"].append(await cold.turn(key))
                    await warm.turn(-1000 - key)  # the pool warm again for the next warm turn (not timed)
    finally:
        await raw.close()
        from core.tools import client

        await client.close_pool()
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(times: dict[str, list[float]], args: argparse.Namespace, command: str) -> str:
    raw_p50 = statistics.median(times["raw"])
    rows = [
        "| path | turns | median | p95 | median against raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in times.items():
        med = statistics.median(values)
        rows.append(
            f"| {name} | {len(values)} | {med * 1000:.1f} ms | {_pct(values, 0.95) * 1000:.1f} ms | "
            f"{med / raw_p50:.3f}x |"
        )
    core_p50 = statistics.median(times["core"])
    cold_p50 = statistics.median(times["core, cold"])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"Command: `{command}`",
            "",
            f"{when}, Python {platform.python_version()}, {os.cpu_count()} cores; {args.rounds} rounds of "
            f"{args.turns} turns, paths alternating turn by turn.",
            "",
            *rows,
            "",
            f"- The core's tool turn costs {(core_p50 - raw_p50) * 1000:.1f} ms more than the same two model calls "
            f"and tool call by hand (median), {core_p50 / raw_p50:.3f}x: storing the message, the round (before and "
            "after its call) and the reply on SQLite, two routed model calls, the tool line and the footer.",
            f"- Starting the MCP server for the turn (the pool emptied) adds {(cold_p50 - core_p50) * 1000:.0f} ms "
            f"to the median ({cold_p50 / core_p50:.1f}x the warm turn): what the session pool saves every tool "
            "reply after the first.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tools", description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--write", default="docs/benchmarks.md", help="the doc whose bench-tools block to replace; - for none"
    )
    args = parser.parse_args()
    command = "python -m bench.tools" + "".join(
        f" --{k} {v}" for k, v in (("turns", args.turns), ("rounds", args.rounds)) if v != parser.get_default(k)
    )
    with tempfile.TemporaryDirectory(prefix="sb-bench-tools-") as tmp:
        _environment(Path(tmp))
        with _fake() as fake:

            async def run() -> dict[str, list[float]]:
                await _setup(fake.url)
                return await measure(args, fake.url)

            times = asyncio.run(run())
    text = report(times, args, command)
    print(text)
    out = ROOT / "bench" / "results" / "tools.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(times))
    if args.write != "-":
        update_doc(ROOT / args.write, text + "\n", "bench-tools")


if __name__ == "__main__":
    main()
