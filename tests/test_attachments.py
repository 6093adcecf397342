"""Files posted with a message, through the real litellm to the loopback fakes: images reach vision models (and
only those), text files and PDFs reach the model as text under their name, limits are named, and history keeps
them for later turns, also in another process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from core import attachments
from core.budgets import add_budget
from core.config.chains import save_chain
from core.storage.db import session
from core.storage.tables import Attachment, Blob
from core.types import IncomingFile
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, ServerError
from tests.fileskit import images_sent, pdf, png, user_texts


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def stored() -> list[Attachment]:
    with session() as s:
        return list(s.exec(select(Attachment).order_by(Attachment.id)).all())  # type: ignore[arg-type]


SCREENSHOT = png(1280, 720)


async def test_an_image_reaches_a_vision_model_with_its_type_and_size(world: World) -> None:
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say(
        "What is on this screenshot?", files=(IncomingFile("screen.png", "image/png", data=SCREENSHOT),)
    )

    (call,) = world.cloud.chat_calls("gpt-4o")
    assert images_sent(call) == [("image/png", len(SCREENSHOT))]
    assert user_texts(call) == ["What is on this screenshot?"]
    assert said.done is not None and said.done.result.status == "ok"
    assert "oa/gpt-4o" in said.footer and "tokens" in said.footer and "$" in said.footer
    (kept,) = stored()
    assert (kept.name, kept.kind, kept.mime, kept.size) == ("screen.png", "image", "image/png", len(SCREENSHOT))


async def test_a_budget_reserves_for_the_image_not_only_the_text(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "16")
    from core.settings import reload_settings

    reload_settings()
    # $0.002 covers the text and a short answer at gpt-4o's $2.50/Mtok in, but not the screenshot: 1280x720 is
    # 85 + 170 per 512-px tile, 3 x 2 tiles, by OpenAI's rule for detail "high" (litellm alone counts 85)
    await asyncio.to_thread(add_budget, "global", "day", 0.002)
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    assert (await thread.say("What is on this screenshot?")).done is not None  # text alone fits

    said = await thread.say("And on this one?", files=(IncomingFile("screen.png", "image/png", data=SCREENSHOT),))
    assert said.done is None and "budget" in said.replies[0].text
    assert len(world.cloud.chat_calls("gpt-4o")) == 1  # the image turn was not sent


async def test_an_image_to_a_model_that_cannot_see_is_not_sent_and_names_those_that_can(world: World) -> None:
    thread = Thread()
    await thread.say("!model local/llama-big")
    said = await thread.say("what is this?", files=(IncomingFile("photo.png", "image/png", data=png()),))

    assert world.local.chat_calls() == []  # never sent blind
    (refusal,) = said.replies
    assert refusal.text.startswith("local/llama-big cannot see images, so your message was not sent to it.")
    assert "`oa/gpt-4o`" in refusal.text and "`oa/gpt-4o-mini`" in refusal.text and "`!retry`" in refusal.text

    # switching to a vision model and retrying answers the same message, image and all
    await thread.say("!model oa/gpt-4o-mini")
    retried = await thread.say("!retry")
    assert retried.done is not None and retried.done.result.model == "oa/gpt-4o-mini"
    (call,) = world.cloud.chat_calls("gpt-4o-mini")
    assert images_sent(call) == [("image/png", len(png()))]


async def test_a_fallback_skips_models_that_cannot_see_the_image(world: World) -> None:
    await asyncio.to_thread(
        save_chain, "images", ["local/llama-big", "oa/gpt-4o-mini"], for_model="oa/gpt-4o", allow_paid=True
    )
    world.cloud.script("gpt-4o", ServerError(), ServerError())  # the first model fails, retry included
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("read the chart", files=(IncomingFile("chart.png", "image/png", data=png()),))

    assert said.done is not None and said.done.result.model == "oa/gpt-4o-mini"
    assert world.local.chat_calls() == []  # llama-big was skipped: it cannot see
    assert images_sent(world.cloud.chat_calls("gpt-4o-mini")[0]) == [("image/png", len(png()))]


async def test_a_text_file_and_a_pdf_reach_the_model_as_text_under_their_names(world: World) -> None:
    thread = Thread()
    await thread.say("!model local/llama-big")
    notes = IncomingFile("notes.md", "text/markdown", data=b"# Plan\n- ship the release on Friday\n")
    report = IncomingFile("report.pdf", "application/pdf", data=pdf("Revenue grew 12 percent", "Costs fell"))
    said = await thread.say("summarise these", files=(notes, report))

    assert said.done is not None and said.done.result.status == "ok"
    (text,) = user_texts(world.local.chat_calls()[0])
    assert text.startswith("summarise these\n\n--- notes.md ---\n# Plan\n- ship the release on Friday")
    assert "--- report.pdf (PDF, 2 pages, its text) ---\n[page 1]\nRevenue grew 12 percent" in text
    assert "[page 2]\nCosts fell" in text
    assert [(a.name, a.kind, a.pages) for a in stored()] == [("notes.md", "text", None), ("report.pdf", "document", 2)]


async def test_files_over_the_limits_are_refused_naming_the_limit_and_nothing_is_kept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_FILE_MAX_MB", "1")
    monkeypatch.setenv("SWITCHBOARD_PDF_MAX_PAGES", "2")
    from core.settings import reload_settings

    reload_settings()
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    big = IncomingFile("dump.log", "text/plain", data=b"x" * (1024 * 1024 + 1))
    said = await thread.say("look", files=(IncomingFile("ok.txt", "text/plain", data=b"fine"), big))
    assert said.replies[0].text.startswith("dump.log is 1.0 MB; files here may be at most 1.0 MB each.")
    assert "Nothing was sent to a model" in said.replies[0].text

    long_pdf = IncomingFile("book.pdf", "application/pdf", data=pdf("one", "two", "three"))
    said = await thread.say("read", files=(long_pdf,))
    assert said.replies[0].text.startswith("book.pdf has 3 pages; PDFs here may have at most 2.")

    archive = IncomingFile("code.zip", "application/zip", data=b"PK\x03\x04" + bytes(100))
    said = await thread.say("unpack", files=(archive,))
    assert said.replies[0].text.startswith("code.zip (application/zip) is not a kind of file the models here can read")

    assert world.cloud.chat_calls() == [] and stored() == []  # nothing sent, nothing kept
    assert "Traceback" not in "".join(r.text for r in said.replies)


async def test_a_file_the_platform_would_not_give_is_explained(world: World) -> None:
    from core.types import FileUnavailable

    async def gone() -> bytes:
        raise FileUnavailable("it was deleted from the channel")

    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("and this?", files=(IncomingFile("spec.txt", "text/plain", fetch=gone),))
    assert said.replies[0].text == (
        "spec.txt could not be downloaded: it was deleted from the channel. Nothing was sent to a model."
    )
    assert world.cloud.chat_calls() == []


async def test_an_image_posted_earlier_is_seen_by_a_later_turn_in_another_process(
    any_db: str, world: World, sb_env: dict[str, str]
) -> None:
    thread = Thread(platform="console", workspace="local", channel="terminal", thread="T-files")
    await thread.say("!model oa/gpt-4o")
    await thread.say("here is the error dialog", files=(IncomingFile("dialog.png", "image/png", data=SCREENSHOT),))
    for n in range(3):
        await thread.say(f"unrelated question {n}")

    # a new process (`switchboard ask`, as a restarted worker would) continues the thread
    env = {**os.environ, **sb_env}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "ask", "--thread", "T-files", "What did the dialog say?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    last = world.cloud.chat_calls("gpt-4o")[-1]
    assert images_sent(last) == [("image/png", len(SCREENSHOT))]
    assert user_texts(last)[0] == "here is the error dialog" and user_texts(last)[-1] == "What did the dialog say?"
    # where the bytes are: a folder beside SQLite; the database that several workers share on PostgreSQL
    with session() as s:
        in_database = s.exec(select(Blob)).all()
    folder = Path(sb_env["SWITCHBOARD_DATA_DIR"]) / "files"
    kept_files = [f for f in folder.rglob("*") if f.is_file()]
    if any_db == "postgres":
        assert [b.size for b in in_database] == [len(SCREENSHOT)] and not kept_files
    else:
        assert not in_database and [f.stat().st_size for f in kept_files] == [len(SCREENSHOT)]
        assert folder.stat().st_mode & 0o777 == 0o700 and kept_files[0].stat().st_mode & 0o777 == 0o600


async def test_the_console_sends_a_file_with_ask(world: World, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "build.log"
    log.write_text("ERROR: disk full on /var\n")
    await Thread(platform="console", workspace="local", channel="terminal", thread="T-cli").say("!model oa/gpt-4o")
    done = cli.subprocess("ask", "--thread", "T-cli", "--file", str(log), "why did the build fail?")
    assert done.returncode == 0, done.stderr
    (text,) = user_texts(world.cloud.chat_calls("gpt-4o")[-1])
    assert text == "why did the build fail?\n\n--- build.log ---\nERROR: disk full on /var\n\n--- end of build.log ---"
    missing = cli.subprocess("ask", "--thread", "T-cli", "--file", str(tmp_path / "nope.txt"), "hi")
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


async def test_retention_forgets_old_files_and_history_says_one_was_there(world: World) -> None:
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    await thread.say("keep this", files=(IncomingFile("old.png", "image/png", data=png()),))
    assert await asyncio.to_thread(attachments.expire, timedelta(seconds=-1)) == 1
    (kept,) = stored()
    assert kept.sha256 is None and kept.expired_at is not None and kept.name == "old.png"

    await thread.say("what was in the image?")
    last = world.cloud.chat_calls("gpt-4o")[-1]
    assert images_sent(last) == []
    assert "[image old.png was attached here; it is no longer kept]" in user_texts(last)[0]
