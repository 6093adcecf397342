"""Run the loopback fake OpenAI server in its own process, so it does not share our GIL during a benchmark."""

from __future__ import annotations

import sys
import time

from tests.fakes.openai import FakeOpenAI


def main() -> None:
    ttft, token_delay, tokens = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    words = " ".join(f"word{i}" for i in range(tokens))
    fake = FakeOpenAI(models=["bench-model"], api_key=None, ttft_s=ttft, token_delay_s=token_delay)
    from tests.fakes.openai import Reply

    fake.set_default(Reply(text=words))
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
