"""Discord shards in two processes (`switchboard discord` with DISCORD_SHARD_IDS=0 and =1 of 2) on one
PostgreSQL database, against the fake gateway: each process gets only its shard's guilds, and every mention is
answered once, by the process whose shard the guild is on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.discordkit import Person, footers, replied
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI


def _shard(env: dict[str, str], shard: int, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "discord"],
        env={**env, "DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": str(shard)},
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_two_shard_processes_each_answer_their_own_guilds_once(
    any_db: str, llm: FakeOpenAI, discord_fake: FakeDiscord, alice: Person, sb_env: dict[str, str], tmp_path: Path
) -> None:
    fake = discord_fake
    home = (int(fake.guild["id"]) >> 22) % 2
    other = fake.add_guild("Second Guild", owner=fake.user, shard=(1 - home, 2))
    lobbies = {home: fake.add_text_channel(fake.guild, "lobby"), 1 - home: fake.add_text_channel(other, "lobby")}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | sb_env
    env["DISCORD_GUILD_IDS"] = f"{fake.guild['id']},{other['id']}"
    logs = [tmp_path / "shard0.log", tmp_path / "shard1.log"]
    shards = [_shard(env, n, logs[n]) for n in (0, 1)]
    try:
        await fake.wait_connected(shards=2, timeout=60)
        assert sorted(i.shard for i in fake.identifies if i.shard) == [(0, 2), (1, 2)]
        for n in (0, 1):
            alice.says(lobbies[n], f"hello from shard {n}", mention=True)
        for n in (0, 1):
            (thread,) = await fake.wait_until(lambda n=n: fake.threads_of(lobbies[n]), timeout=30)
            await replied(fake, thread, timeout=30)
            await asyncio.sleep(1.0)  # time for a second answer to show, if there were one
            assert len([f for f in footers(fake, thread) if "tokens" in f]) == 1
    finally:
        for proc in shards:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    outputs = [log.read_text() for log in logs]
    assert all("Discord bot stopped" in out and "Traceback" not in out for out in outputs), outputs
    assert len(llm.chat_calls()) == 2  # one model call per mention, whichever process got it
