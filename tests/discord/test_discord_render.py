"""Splitting replies at Discord's limits, and core replies as Discord messages."""

from __future__ import annotations

import random
import re

import pytest

from bot.discord.render import EMBED_LIMIT, MESSAGE_LIMIT, render_reply, split_message, thread_name
from core.types import Choice, Comparison, ListedModel, ModelGroup, ModelListing, Reply, TurnResult


def words(text: str) -> list[str]:
    """The text without the fences a split adds, as words: what the reader gets, regardless of boundaries."""
    return re.sub(r"```[\w+#.-]*", " ", text).split()


def test_short_text_is_one_message_and_empty_text_none() -> None:
    assert split_message("Hello there.") == ["Hello there."]
    assert split_message("\n\n") == []


def test_splits_prefer_paragraphs_then_lines_then_words() -> None:
    para = ("A sentence that goes on for a while. " * 20).strip()  # 739 characters
    text = f"{para}\n\n{para}\n\n{para}"
    parts = split_message(text, 2000)
    assert parts == [f"{para}\n\n{para}", para]  # two paragraphs fit, the third moves on

    lines = "\n".join(f"line {i} of a list" for i in range(200))
    parts = split_message(lines, 500)
    assert all(len(p) <= 500 and p.startswith("line ") and re.search(r"list$", p) for p in parts)

    run_on = "word " * 1000
    parts = split_message(run_on, 2000)
    assert all(len(p) <= 2000 and not p.startswith(" ") and p.endswith("word") for p in parts)


def test_a_code_block_is_never_left_open() -> None:
    code = "\n".join(f"print({i})" for i in range(400))
    text = f"Here you go:\n\n```py\n{code}\n```\nDone."
    parts = split_message(text, 1000)
    assert len(parts) >= 4
    assert parts[0].startswith("Here you go:\n\n```py\nprint(0)\n") and parts[0].endswith("\n```")
    assert all(p.count("```") % 2 == 0 and len(p) <= 1000 for p in parts)
    assert all(p.startswith("```py\n") for p in parts[1:])  # reopened with its language
    assert words("\n".join(parts)) == words(text)


def test_a_line_longer_than_a_message_inside_code_is_cut_and_reopened() -> None:
    text = "```\n" + "x" * 4500 + "\n```"
    parts = split_message(text, MESSAGE_LIMIT)
    assert all(len(p) <= MESSAGE_LIMIT and p.count("```") % 2 == 0 for p in parts)
    assert "".join(re.sub(r"```|\n", "", p) for p in parts) == "x" * 4500


def test_cuts_of_a_growing_text_do_not_move() -> None:
    """Streaming relies on this: once a message is full, later text never changes it."""
    text = ("Some prose here. " * 30 + "\n\n```js\n" + "let a = 1;\n" * 150 + "```\n\n") * 3
    final = split_message(text)
    for end in range(2500, len(text), 397):
        partial = split_message(text[:end])
        assert partial[:-1] == final[: len(partial) - 1]


@pytest.mark.parametrize("seed", range(30))
def test_random_markdown_always_fits_and_keeps_every_word(seed: int) -> None:
    rng = random.Random(seed)
    blocks = []
    for _ in range(rng.randint(1, 25)):
        kind = rng.random()
        if kind < 0.3:
            lang = rng.choice(["", "python", "sql", "c++"])
            body = "\n".join("  " * rng.randint(0, 3) + "tok" * rng.randint(1, 40) for _ in range(rng.randint(1, 80)))
            blocks.append(f"```{lang}\n{body}\n```")
        elif kind < 0.4:
            blocks.append("z" * rng.randint(100, 3000))  # no spaces at all
        else:
            blocks.append(
                " ".join(rng.choice(["alpha", "beta", "**gamma**", "`delta`"]) for _ in range(rng.randint(1, 600)))
            )
    text = rng.choice(["\n\n", "\n"]).join(blocks)
    limit = rng.choice([MESSAGE_LIMIT, EMBED_LIMIT, 300])
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts)
    assert "".join(words("\n".join(parts))) == "".join(words(text))


def test_thread_names_fit_discord() -> None:
    assert thread_name("What is **WAL** mode?\nmore details") == "What is WAL mode?"
    assert len(thread_name("word " * 100)) <= 100
    assert thread_name("   \n ") == "Chat with Switchboard"


def test_text_replies_carry_their_choices_on_the_last_message() -> None:
    long = Reply("para. " * 700, kind="choices", choices=(Choice("A", "!model a"), Choice("B", "!model b")))
    outs = render_reply(long)
    assert len(outs) == 3 and all(o.content and len(o.content) <= MESSAGE_LIMIT for o in outs)
    assert [o.choices for o in outs] == [(), (), long.choices]


def test_models_and_compare_replies_are_embeds_within_discord_limits() -> None:
    models = tuple(
        ListedModel(f"lab/m{i}", None, 131072, 0.0, 0.0, False, False, True, False, True, None) for i in range(3)
    )
    groups = (ModelGroup("lab", "OpenAI-compatible server", "Self-hosted.", models),)
    data = ModelListing(page=2, pages=3, total=33, filter="m", note="", groups=groups, current=None)
    (out,) = render_reply(Reply("text", kind="models", data=data, choices=(Choice("Next", "!models m page:3"),)))
    (embed,) = out.embeds
    assert embed.title == "Models matching `m`" and embed.footer.text is not None
    assert embed.footer.text.startswith("Page 2/3 · 33 models")
    assert "• `lab/m0` [local] — 131k ctx · free (local)" in (embed.description or "")
    assert out.choices[0].command == "!models m page:3"

    long = "Answer. " * 700  # 5,600 characters: more than one embed holds
    result = TurnResult(model="lab/m0", provider="lab", status="ok", text=long, completion_tokens=9, is_local=True)
    outs = render_reply(Reply("x", kind="compare", data=Comparison("Why?", (result, result))))
    for o in outs:
        assert len(o.embeds) <= 10
        assert sum(len(e.description or "") + len(e.title or "") + len(e.footer.text or "") for e in o.embeds) <= 6000
        assert all(len(e.description or "") <= EMBED_LIMIT for e in o.embeds)
    titles = [e.title for o in outs for e in o.embeds if e.title]
    assert titles == ["Compare", "lab/m0", "lab/m0"]
