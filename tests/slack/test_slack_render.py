"""Slack's limits and shapes: message splitting, Block Kit for replies and pickers, the manifest, startup checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.slack import render
from bot.slack.install import BOT_SCOPES
from core.delivery.split import cut, split
from core.menus.pickers import Pick
from core.types import Choice, Reply
from tests.conftest import ROOT
from tests.fakes.slack import validate_blocks

FENCE = re.compile(r"^ {0,3}```", re.M)


def sample_markdown() -> str:
    prose = [f"Paragraph {i}: " + "words and more words " * 12 for i in range(8)]
    code = "```sql\n" + "\n".join(f"SELECT {i} FROM t WHERE x = {i};" for i in range(60)) + "\n```"
    return "\n\n".join([*prose[:3], code, *prose[3:]])


@pytest.mark.parametrize("limit", [120, 300, 700, 2000])
def test_split_keeps_every_piece_within_the_limit_and_every_fence_closed(limit: int) -> None:
    text = sample_markdown()
    pieces = split(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert all(len(FENCE.findall(p)) % 2 == 0 for p in pieces)
    reopened = [p for p in pieces if p.startswith("```sql\n")]
    assert reopened or limit >= 2000  # a cut inside the code block reopens it with its language
    squeeze = re.compile(r"\s+|```(sql)?")
    assert squeeze.sub("", "".join(pieces)) == squeeze.sub("", text)


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    text = "first paragraph here\n\nsecond paragraph is longer\nwith a second line\n\nthird"
    assert split(text, 50) == ["first paragraph here", "second paragraph is longer", "with a second line\n\nthird"]
    assert split("line one\nline two is here\nline three goes on", 38)[0] == "line one\nline two is here"
    assert split("one two three four five six seven", 30) == ["one two three four", "five six seven"]
    assert split("short", 100) == ["short"]


def test_a_cut_never_takes_back_what_a_live_stream_already_showed() -> None:
    text = "a" * 40 + "\n\n" + "b" * 60 + " tail words here"
    shown = 70
    piece = cut(text, 100, min_cut=shown)
    assert len(piece.head) >= shown and text.startswith(piece.head[:shown])


def test_replies_render_as_valid_block_kit_with_buttons_for_choices() -> None:
    confirm = Reply(
        "This reply may cost about **$0.80**, over this channel's $0.50 confirmation limit.",
        kind="confirm",
        choices=(Choice("Send anyway", "!confirm abc", "primary"), Choice("Cancel", "!cancel abc", "danger")),
    )
    ((text, blocks),) = render.reply_messages(confirm, "1700000000.000100")
    assert text.startswith("This reply may cost about *$0.80*") and validate_blocks(blocks) == []
    buttons = blocks[-1]
    assert buttons["block_id"] == "sbc|1700000000.000100"
    assert [(b["text"]["text"], b["value"], b.get("style")) for b in buttons["elements"]] == [
        ("Send anyway", "!confirm abc", "primary"),
        ("Cancel", "!cancel abc", "danger"),
    ]
    ((refused, _),) = render.reply_messages(Reply("Monthly budget reached.", kind="refusal"), "")
    ((failed, _),) = render.reply_messages(Reply("No model could answer.", kind="error"), "")
    assert refused.startswith(":no_entry: ") and failed.startswith(":warning: ")
    chosen = render.chose_blocks(blocks, "U0USER00001", "Send anyway")
    assert [b["type"] for b in chosen] == ["section", "context"] and "<@U0USER00001> chose" in str(chosen[-1])


def test_long_command_replies_become_several_valid_messages() -> None:
    reply = Reply(sample_markdown() * 8, kind="compare", choices=(Choice("Next", "!models page:2"),))
    messages = render.reply_messages(reply, "1.2")
    assert len(messages) >= 2
    for text, blocks in messages:
        assert validate_blocks(blocks) == [] and len(text) <= render.TEXT_LIMIT
    assert messages[-1][1][-1]["type"] == "actions" and all(b["type"] == "section" for b in messages[0][1])


def test_the_footer_and_menu_under_a_reply() -> None:
    tail = render.reply_tail(
        "oa/gpt-4o · 1,234 tokens · $0.01 · fallback from oa/o3: rate limited",
        ["Older messages of this thread (3) were left out."],
        "1.2",
        "oa/gpt-4o",
    )
    assert validate_blocks(tail) == []
    footer, menu = tail
    assert footer["elements"][0]["text"].endswith("fallback from oa/o3: rate limited")
    assert footer["elements"][1]["text"].startswith(":information_source: Older messages")
    assert menu["block_id"] == "sbm|1.2" and menu["elements"][0]["initial_option"]["value"] == "oa/gpt-4o"


def test_pickers_are_static_up_to_100_models_and_search_beyond() -> None:
    few = [("local", [Pick(f"local/m{i}", f"local/m{i} — free (local)") for i in range(3)])]
    text, blocks = render.channel_picker(few, 3, "local/m1")
    assert "New threads here use *local/m1*" in text
    select = blocks[1]["elements"][0]
    assert select["type"] == "static_select" and select["initial_option"]["value"] == "local/m1"
    assert validate_blocks(blocks) == []
    many = [(f"p{g}", [Pick(f"p{g}/model-{i}", f"p{g}/model-{i} " + "x" * 90) for i in range(30)]) for g in range(5)]
    _, blocks = render.channel_picker(many, 150, None)
    assert blocks[1]["elements"][0]["type"] == "external_select"
    groups = render.option_groups(many)
    assert sum(len(g["options"]) for g in groups) == 100
    assert all(len(o["text"]["text"]) <= 75 for g in groups for o in g["options"])
    modal = render.switch_modal(many, 150, "p0/model-1", "C1", "1.2")
    assert modal["blocks"][1]["element"]["type"] == "external_select" and len(modal["title"]["text"]) <= 24


def test_the_manifest_asks_for_what_the_app_uses() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels", "message.im", "assistant_thread_started"} <= events
    assert {"app_uninstalled", "tokens_revoked"} <= events  # OAuth installs are cleaned up
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/model", "/models"]
    (shortcut,) = manifest["features"]["shortcuts"]
    assert shortcut["callback_id"] == render.SWITCH_SHORTCUT and shortcut["type"] == "message"
    assert shortcut["name"] == "Switch model for this thread"
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "assistant_view" in manifest["features"]  # the AI-app panel and chat streaming


def test_starting_without_slack_settings_says_what_to_set(cli, sb_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    result = cli("slack", env={"SWITCHBOARD_SLACK_MODE": "http"})
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
    socket = cli("slack", env={"SLACK_BOT_TOKEN": "xoxb-1-2", "SWITCHBOARD_SLACK_MODE": "socket"})
    assert socket.returncode == 2 and "SLACK_APP_TOKEN" in socket.stderr


def test_readme_explains_the_slack_setup() -> None:
    readme = Path(ROOT / "README.md").read_text()
    section = readme.split("## Slack", 1)[1].split("\n## ", 1)[0]
    for needed in ("manifest.yml", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SWITCHBOARD_SLACK_MODE=http", "OAuth"):
        assert needed in section
