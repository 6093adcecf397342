"""Run the loopback fake OpenAI server in its own process, so it does not share a GIL with any path it serves.

    python -m bench.server TTFT TOKEN_DELAY TOKENS      # prints its URL, then serves until killed

Every streamed reply is the same TOKENS words. A message whose text holds `bench-key:KEY` has the CLOCK_MONOTONIC
times at which its first and last content tokens were written recorded under KEY; `GET /bench/tokens?prefix=P`
hands over (and forgets) those of the keys starting with P, as `{KEY: [first, last]}`. CLOCK_MONOTONIC is one
clock for every process on a Linux machine, so the bench compares these times with the moment the same message's
text became visible in another process (a fake Slack's or Discord's thread).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

from aiohttp import web

from tests.fakes.openai import FakeOpenAI, approx_tokens, message_text

KEY = re.compile(r"bench-key:(\S+)")


class BenchOpenAI(FakeOpenAI):
    """FakeOpenAI whose streamed replies are written here, timing the provider's first and last token."""

    def __init__(self, ttft_s: float, token_delay_s: float, tokens: int) -> None:
        super().__init__(models=["bench-model"], api_key=None, ttft_s=ttft_s, token_delay_s=token_delay_s)
        self.words = [f"word{i}" if i == 0 else f" word{i}" for i in range(tokens)]
        self.times: dict[str, list[float]] = {}  # key -> [first token, last token]; touched on the server loop
        self._serial = 0

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/bench/tokens", self._take_times)

    async def _take_times(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        taken = {k: v for k, v in self.times.items() if k.startswith(prefix)}
        for key in taken:
            del self.times[key]
        return web.json_response(taken)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("stream") or not isinstance(body.get("messages"), list):
            return await super()._answer(request)
        users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        found = KEY.search(message_text(users[-1])) if users else None
        return await self._stream_words(request, body, found.group(1) if found else None)

    async def _stream_words(self, request: web.Request, body: dict[str, Any], key: str | None) -> web.StreamResponse:
        self._serial += 1
        head = (
            f'data: {{"id":"chatcmpl-bench{self._serial}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(body.get("model"))},"choices":'
        )
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
        end_of_chunk = ',"usage":null}\n\n' if usage_wanted else "}\n\n"

        def chunk(delta: str, finish: str = "null") -> bytes:
            return f'{head}[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]{end_of_chunk}'.encode()

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        await resp.write(chunk('{"role":"assistant","content":""}'))
        if self.ttft_s > 0:
            await asyncio.sleep(self.ttft_s)
        first = 0.0
        for i, word in enumerate(self.words):
            if i and self.token_delay_s > 0:
                await asyncio.sleep(self.token_delay_s)
            await resp.write(chunk(json.dumps({"content": word})))
            if i == 0:
                first = time.monotonic()
        if key is not None:
            self.times[key] = [first, time.monotonic()]
        tail = [chunk("{}", '"stop"')]
        if usage_wanted:
            prompt = approx_tokens(body["messages"])
            usage = {"prompt_tokens": prompt, "completion_tokens": len(self.words)}
            usage["total_tokens"] = prompt + len(self.words)
            tail.append(f'{head}[],"usage":{json.dumps(usage)}}}\n\n'.encode())
        tail.append(b"data: [DONE]\n\n")
        await resp.write(b"".join(tail))
        await resp.write_eof()
        return resp


def main() -> None:
    ttft, token_delay, tokens = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    fake = BenchOpenAI(ttft, token_delay, tokens)
    fake.start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(5)
            with fake._lock:  # keep memory flat during long runs
                fake.requests.clear()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
