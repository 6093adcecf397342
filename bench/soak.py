"""The soak: thousands of Slack messages through two HTTP workers on one PostgreSQL database, with faults.

    python -m bench.soak --messages 10000 --threads 200        # or: make soak SOAK_ARGS="..."

Everything runs on loopback: two `switchboard slack` processes in HTTP mode (each on its own port) and a
`switchboard scheduler` on a fresh PostgreSQL schema, a FakeSlack they post to, and a FakeOpenAI whose answers are
drawn, seeded, from a mix where a fifth are faults: 429 with Retry-After, 500, a hang past the request timeout, a
connection dropped mid-stream, and a reply that ignores max_tokens (stopped by the output cap). Each thread is one
person in a channel of their own: a mention opens it, and each next message follows once the answer shows, or
sooner (some people do not wait). A balancer picks a worker at random for every request; like Slack, it delivers
again (X-Slack-Retry-Num) when a request fails, and now and then redelivers an acked event to the other worker.
One worker is killed with SIGKILL (its whole process group) partway, and started again a few seconds later.

Then `bench.soak_checks` reads what each person sees in the fake Slack, what the database stored and what the
provider was sent, and counts what issue 16 asks for: messages lost, replies duplicated, failures not explained,
threads whose turns interleave, budget spent against the sum of stored costs, reservations left held, and what the
kill left behind. The same harness runs briefly in CI (tests/test_soak.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.soak_checks import Results, Sent, check, count_shown
from tests.fakes.openai import Disconnect, FakeOpenAI, Hang, Mixed, Overlong, RateLimited, Reply, ServerError, Step
from tests.fakes.slack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[1]
SECRET = "5e0a0c9c1f0b4d7e8a2b3c4d5e6f7a8b"
MODEL_ID = "gpt-4o"
PROVIDER = "soak"
MODEL = f"{PROVIDER}/{MODEL_ID}"
API_KEY = "sk-soak-test-key-000001"

# What a fault is, by the name the results use. Retried ones (429, 500, timeout) draw again from the mix.
FAULTS: dict[str, Step] = {
    "rate_limited": RateLimited(retry_after=1),
    "server_error": ServerError(500),
    "timeout": Hang(),
    "dropped_mid_stream": Disconnect(after_tokens=3),
    "ignores_max_tokens": Overlong(times=40),
}

# The workers' settings: short timeouts so faults and the crash rules play out within the run.
SETTINGS = {
    "SWITCHBOARD_REQUEST_TIMEOUT": "2",  # a provider call (each attempt) is given up after 2 s without data
    "SWITCHBOARD_PROVIDER_TIMEOUT": "2",  # model discovery
    "SWITCHBOARD_MAX_OUTPUT_TOKENS": "64",  # the output cap stops a reply at twice this
    "SWITCHBOARD_NOTICE_POLL_SECONDS": "1",
    "SWITCHBOARD_CONFIRM_OVER_USD": "1000",
    "SWITCHBOARD_SLACK_UPDATES_PER_MINUTE": "100000",  # the fake Slack enforces no rate limit here
    "SWITCHBOARD_NETWORK_CHECKS": "false",
    "SWITCHBOARD_LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Plan:
    messages: int = 10_000
    threads: int = 200
    seed: int = 16
    fault_share: float = 0.20  # of provider calls
    impatient_share: float = 0.15  # messages sent before the previous answer showed
    redelivered_share: float = 0.05  # events Slack delivers a second time, to the other worker
    kill_at: float | None = 0.4  # share of the messages sent when one worker is killed; None: no kill
    down_s: float = 5.0  # how long the killed worker stays down
    think_s: float = 1.0  # a person's pause after an answer: uniform in [0, think_s]
    patience_s: float = 30.0  # how long a person waits for an answer before writing again anyway
    settle_s: float = 180.0  # after the last message, how long the answers may take to finish
    # SWITCHBOARD_STALE_REPLY_MINUTES: a dead worker's replies are settled this long after their last renewal (live
    # workers renew every third of it, so it must outlast the longest a busy worker takes to get a renewal done)
    stale_minutes: float = 1.0

    def fault_mix(self) -> Mixed:
        each = self.fault_share / len(FAULTS)
        return Mixed(((1 - self.fault_share, Reply()), *((each, step) for step in FAULTS.values())), seed=self.seed)


def fault_name(step: Step) -> str:
    for name, fault in FAULTS.items():
        if step == fault:
            return name
    return "none"


WORDS = ("budget", "deploy", "shard", "latency", "token", "thread", "model", "queue")


def question(rng: random.Random, thread: int, index: int) -> str:
    """A message whose first word says which thread and turn it is (the echo carries it into the answer)."""
    words = rng.choices(WORDS, k=rng.randint(3, 20))
    return f"q{thread:03d}-{index:03d} " + " ".join(words)


# ---------------------------------------------------------------- processes


class Process:
    """A `switchboard` command in its own process group (so kill -9 takes all of it), its output in a log file."""

    def __init__(self, name: str, command: str, env: dict[str, str], logs: Path) -> None:
        self.name, self.command, self.env, self.logs = name, command, env, logs
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}.log"

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"---- start {self.starts} at {datetime.now(UTC).isoformat()}\n")
            out.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                self.command,
                env=self.env,
                cwd=self.logs,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def kill(self) -> None:
        """kill -9 of the process group: no shutdown, no drain, nothing flushed."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 40)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


class Worker(Process):
    def __init__(self, name: str, port: int, env: dict[str, str], logs: Path) -> None:
        super().__init__(name, "slack", {**env, "PORT": str(port)}, logs)
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.health = f"http://127.0.0.1:{port}/healthz"

    async def ready(self, http: httpx.AsyncClient, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.returncode is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(self.health, timeout=1)).text == "ok":
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy within {timeout:g} s; see {self.log}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- the balancer (and Slack's retries)


class Balancer:
    """Sends each Events API request to a worker picked at random, as a load balancer in front of them does. A
    request that fails (refused, reset, no answer within Slack's 3 s) is delivered again with X-Slack-Retry-Num,
    as Slack does, to another pick."""

    def __init__(self, workers: list[Worker], rng: random.Random) -> None:
        self.workers = workers
        self.rng = rng
        self.http = httpx.AsyncClient(timeout=3.0, limits=httpx.Limits(max_connections=400))
        self.failed_deliveries = 0  # requests that got no 200 (each was delivered again)
        self.unanswered = 0  # of those, no answer within Slack's 3 s (the others were refused or cut off)
        self.acks: list[float] = []  # seconds each ack took

    async def deliver(
        self,
        sender: SlackSender,
        envelope: dict[str, Any],
        *,
        retry_num: int | None = None,
        avoid: Worker | None = None,
    ) -> Worker | None:
        """Deliver until a worker acks (returns it); None when every try failed: like Slack, the first and 3 retries,
        here after 1, 5 and 15 s (Slack waits about a minute, then five)."""
        body = json.dumps(envelope)
        for attempt, pause in enumerate((1.0, 5.0, 15.0, 0.0)):
            choices = [w for w in self.workers if w is not avoid] or self.workers
            worker = self.rng.choice(choices)
            headers = sender.signed_headers(
                body, "application/json", retry_num=retry_num, retry_reason="http_error" if retry_num else None
            )
            started = time.monotonic()
            try:
                resp = await self.http.post(worker.url, content=body.encode(), headers=headers)
                if resp.status_code == 200:
                    self.acks.append(time.monotonic() - started)
                    return worker
            except httpx.TimeoutException:
                self.unanswered += 1
            except httpx.HTTPError:
                pass
            self.failed_deliveries += 1
            avoid = worker
            retry_num = (retry_num or 0) + 1
            if attempt < 3:
                await asyncio.sleep(pause)
        return None

    async def close(self) -> None:
        await self.http.aclose()


# ---------------------------------------------------------------- people


@dataclass
class Person:
    """One thread's author, in a channel of their own."""

    index: int
    sender: SlackSender
    texts: list[str]
    rng: random.Random
    root: str = ""
    sent: list[Sent] = field(default_factory=list)
    unanswered: int = 0  # messages this person gave up waiting for

    @property
    def channel(self) -> str:
        return self.sender.channel_id

    def shown(self, fake: FakeSlack) -> int:
        """How many of this thread's messages have a final answer (or an explanation) showing."""
        return count_shown(fake.bot_messages(self.channel, self.root)) if self.root else 0


class Soak:
    def __init__(self, plan: Plan, env: dict[str, str], logs: Path, *, progress: bool = False) -> None:
        self.plan = plan
        self.progress = progress
        self.env = env
        self.logs = logs
        self.rng = random.Random(plan.seed)
        self.sent_count = 0
        self.kill_at: float | None = None
        self.killed_after: int | None = None  # messages sent when the worker was killed
        self.restarted_at: float | None = None
        self.redeliveries: list[asyncio.Task[None]] = []
        self.events = 0
        self.kill_due = asyncio.Event()

    async def run(self) -> Results:
        plan = self.plan
        with (
            FakeOpenAI(models=[MODEL_ID], api_key=API_KEY, ttft_s=0.05, token_delay_s=0.01) as provider,
            FakeSlack() as fake,
        ):
            provider.set_default(plan.fault_mix())
            await configure(provider)
            env = {
                **self.env,
                **SETTINGS,
                "SWITCHBOARD_DEFAULT_MODEL": MODEL,
                "SWITCHBOARD_STALE_REPLY_MINUTES": str(plan.stale_minutes),
                "SLACK_API_URL": fake.api_url,
                "SLACK_BOT_TOKEN": fake.workspace().token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SWITCHBOARD_SLACK_MODE": "http",
                "SWITCHBOARD_SLACK_HOST": "127.0.0.1",
            }
            workers = [Worker(f"worker-{n}", free_port(), env, self.logs) for n in ("a", "b")]
            scheduler = Process("scheduler", "scheduler", env, self.logs)
            balancer = Balancer(workers, random.Random(plan.seed + 1))
            people = self.people(fake)
            started = time.monotonic()
            try:
                await asyncio.gather(*(w.start() for w in workers), scheduler.start())
                await asyncio.gather(*(w.ready(balancer.http) for w in workers))
                began = time.monotonic()
                tasks = [asyncio.create_task(self.talk(p, fake, balancer)) for p in people]
                killer = asyncio.create_task(self.kill_one(workers[1], balancer))
                await asyncio.gather(*tasks)
                sent_s = time.monotonic() - began
                await asyncio.gather(*self.redeliveries)
                if not killer.done():
                    killer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await killer
                settled = await self.settle(fake, people)
                finished_s = time.monotonic() - began
            finally:
                await balancer.close()
                await asyncio.gather(*(w.stop() for w in workers), scheduler.stop())
            results = check(
                people=[(p.channel, p.root, p.sent) for p in people],
                fake=fake,
                provider_steps=[(body, fault_name(step)) for body, step in provider.steps_taken],
                logs=[p.log for p in (*workers, scheduler)],
            )
        results.plan = asdict(plan)
        results.settled = settled
        results.failed_deliveries = balancer.failed_deliveries
        results.deliveries_unanswered = balancer.unanswered
        acks = sorted(balancer.acks)
        if acks:
            results.ack_ms = {
                "p50": round(acks[len(acks) // 2] * 1000),
                "p95": round(acks[int(len(acks) * 0.95)] * 1000),
                "max": round(acks[-1] * 1000),
            }
        results.seconds_sending = round(sent_s, 1)
        results.seconds_total = round(finished_s, 1)
        results.seconds_with_startup = round(time.monotonic() - started, 1)
        results.killed_after_messages = self.killed_after
        return results

    def people(self, fake: FakeSlack) -> list[Person]:
        plan = self.plan
        base, extra = divmod(plan.messages, plan.threads)
        people = []
        for i in range(plan.threads):
            rng = random.Random(f"{plan.seed}:{i}")
            count = base + (1 if i < extra else 0)
            sender = SlackSender(
                "",
                SECRET,
                fake=fake,
                user_id=f"U{i:09d}",
                user_name=f"person{i}",
                channel_id=f"C{i:09d}",
                channel_name=f"soak-{i}",
            )
            people.append(Person(i, sender, [question(rng, i, k) for k in range(count)], rng))
        return people

    async def talk(self, person: Person, fake: FakeSlack, balancer: Balancer) -> None:
        plan, rng, sender = self.plan, person.rng, person.sender
        await asyncio.sleep(rng.uniform(0, min(5.0, plan.threads / 20)))  # people do not all start at once
        for k, text in enumerate(person.texts):
            mention = person.shown(fake) == 0  # until the bot has answered in the thread, people mention it
            if not person.root:
                event = sender.app_mention(text)
                person.root = event["ts"]
            elif mention:
                event = sender.app_mention(text, thread_ts=person.root)
            else:
                event = sender.message(text, thread_ts=person.root)
            envelope = sender.envelope(event, event_id=self.event_id())
            sent = Sent(k, text, envelope["event_id"])
            person.sent.append(sent)
            worker = await balancer.deliver(sender, envelope)
            sent.acked = worker is not None
            self.sent_count += 1
            if self.progress and self.sent_count % 1000 == 0:
                print(f"{self.sent_count:,} messages sent", file=sys.stderr, flush=True)
            if plan.kill_at is not None and self.sent_count >= plan.kill_at * plan.messages:
                self.kill_due.set()
            if mention:  # Slack also sends the mention as a `message` event (which the bot leaves to app_mention)
                plain = sender.message(event["text"], ts=event["ts"], thread_ts=event.get("thread_ts"))
                await balancer.deliver(sender, sender.envelope(plain, event_id=self.event_id()))
            if rng.random() < plan.redelivered_share:
                sent.redelivered = True
                self.redeliveries.append(asyncio.create_task(self.redeliver(balancer, sender, envelope, worker)))
            if k + 1 == len(person.texts):
                break
            if rng.random() < plan.impatient_share:
                sent.followed_early = True
                await asyncio.sleep(rng.uniform(0.05, 0.8))
                continue
            await self.answer_shown(person, fake)
            await asyncio.sleep(rng.uniform(0, plan.think_s))

    async def redeliver(
        self, balancer: Balancer, sender: SlackSender, envelope: dict[str, Any], first: Worker | None
    ) -> None:
        """Slack did not see the ack in time: the same event again (same event_id), to the other worker."""
        await asyncio.sleep(random.Random(envelope["event_id"]).uniform(0.05, 1.5))
        await balancer.deliver(sender, envelope, retry_num=1, avoid=first)

    def event_id(self) -> str:
        """Unique across the run, as Slack's are for one app."""
        self.events += 1
        return f"Ev{self.events:011d}"

    async def answer_shown(self, person: Person, fake: FakeSlack) -> None:
        """Until every message sent so far shows an answer or an explanation (each shows one); a person who
        waited `patience_s` in vain writes again anyway, and from then on waits for what comes after."""
        wanted = len(person.sent) - person.unanswered
        deadline = time.monotonic() + self.plan.patience_s
        pause = 0.1
        while (shown := person.shown(fake)) < wanted:
            if time.monotonic() > deadline:
                person.unanswered += wanted - shown
                return
            await asyncio.sleep(pause)
            pause = min(0.5, pause * 1.5)

    async def kill_one(self, victim: Worker, balancer: Balancer) -> None:
        if self.plan.kill_at is None:
            return
        await self.kill_due.wait()
        await asyncio.sleep(self.rng.uniform(0, 1))  # at a moment unrelated to any one request
        victim.kill()
        self.kill_at = time.monotonic()
        self.killed_after = self.sent_count
        await asyncio.sleep(self.plan.down_s)
        await victim.start()
        await victim.ready(balancer.http)
        self.restarted_at = time.monotonic()

    async def settle(self, fake: FakeSlack, people: list[Person]) -> bool:
        """Until nothing is pending in the database and every thread has shown all it will (or settle_s)."""
        deadline = time.monotonic() + self.plan.settle_s
        last: tuple[int, ...] = ()
        while time.monotonic() < deadline:
            shown = tuple(p.shown(fake) for p in people)
            if not await asyncio.to_thread(unfinished) and shown == last:
                return True
            last = shown
            await asyncio.sleep(2.0)
        return False


# ---------------------------------------------------------------- the database side


async def configure(provider: FakeOpenAI) -> None:
    """The provider and a generous hard budget, stored as an admin would (core's services)."""
    from core.budgets import add_budget
    from core.models.sync import refresh
    from core.providers.store import add_provider

    await asyncio.to_thread(add_provider, PROVIDER, "openai", base_url=f"{provider.url}/v1", api_key=API_KEY)
    await refresh()
    await asyncio.to_thread(add_budget, "global", "month", 100_000.0, hard=True)


def unfinished() -> int:
    """Replies still being written and notices not shown yet."""
    from sqlalchemy import text

    from core.storage.db import connection

    with connection() as conn:
        pending = conn.execute(text("SELECT count(*) FROM message WHERE status = 'pending'")).scalar_one()
        notices = conn.execute(text("SELECT count(*) FROM conversation WHERE pending_notice IS NOT NULL")).scalar_one()
    return int(pending) + int(notices)


async def run(plan: Plan, env: dict[str, str], logs: Path, *, progress: bool = False) -> Results:
    """Run the soak with `env` (database, secret key, data dir) for every process; this process must already be
    configured with the same database (its environment). `progress`: say every thousand messages on stderr."""
    return await Soak(plan, env, logs, progress=progress).run()


# ---------------------------------------------------------------- on demand


@contextmanager
def fresh_schema(admin_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL schema for one run (the URL sets its search_path), dropped afterwards unless `keep`."""
    import sqlalchemy as sa

    admin = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in admin else "?"
    try:
        yield f"{admin}{sep}options=-csearch_path%3D{schema}"
    finally:
        from core.storage.db import dispose_engines

        dispose_engines()
        if keep:
            print(f"kept schema {schema}")
        else:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def _environment(url: str, data: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SWITCHBOARD_", "SLACK_", "DISCORD_", "OLLAMA_")) and k not in ("DATABASE_URL", "PORT")
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else litellm compiles again in every process
    env.update(
        DATABASE_URL=url,
        SWITCHBOARD_DATA_DIR=str(data),
        SWITCHBOARD_SECRET_KEY=Fernet.generate_key().decode(),
        SWITCHBOARD_SECRET_BACKEND="encrypted",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        SWITCHBOARD_NETWORK_CHECKS="false",
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=Plan.messages)
    parser.add_argument("--threads", type=int, default=Plan.threads)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", ""),
        help="PostgreSQL to run on (a fresh schema is made and dropped); default SWITCHBOARD_TEST_POSTGRES_URL",
    )
    parser.add_argument("--keep-schema", action="store_true", help="keep the database schema for inspection")
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("needs PostgreSQL: --database-url postgresql://... or SWITCHBOARD_TEST_POSTGRES_URL")
    plan = Plan(
        messages=args.messages, threads=args.threads, seed=args.seed, kill_at=None if args.no_kill else Plan.kill_at
    )
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    with fresh_schema(args.database_url.replace("postgres://", "postgresql://", 1), keep=args.keep_schema) as url:
        env = _environment(url, logs / "data")
        os.environ.clear()
        os.environ.update(env)
        from core.settings import reload_settings

        reload_settings()
        results = asyncio.run(run(plan, env, logs, progress=True))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    command = "python -m bench.soak " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / f"soak-{stamp}.json").write_text(json.dumps({"command": command, **results.as_dict()}, indent=2))
    print(f"Command: `{command.strip()}`  (logs: {logs})\n")
    print(results.table())
    problems = results.problems()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
