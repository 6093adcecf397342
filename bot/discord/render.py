"""Core events as Discord messages: text split at Discord's limits, footers, and embeds for listings.

Splitting is core's (core.delivery.split): it keeps Markdown intact, preferring paragraph, then line, then word
boundaries, and never ends a message inside a code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import discord

from core.delivery.split import split
from core.delivery.surface import Thought
from core.delivery.tools import tool_call, tool_icon, tool_outcome
from core.formatting import latency, money, tokens
from core.menus.listing import group_heading, model_line
from core.types import Choice, Comparison, ModelListing, Reply, ToolActivity

MESSAGE_LIMIT = 2000  # characters of message content
EMBED_LIMIT = 4096  # characters of an embed description
EMBED_TOTAL = 6000  # characters of all embeds of one message
MAX_EMBEDS = 10
EMBED_KINDS = ("models", "usage", "compare")
COLOURS = {"models": 0x5865F2, "usage": 0x57F287, "compare": 0xFEE75C}


# ---------------------------------------------------------------- splitting


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` as messages of at most `limit` characters, each with balanced code fences (core's one splitter,
    core.delivery.split); nothing for blank text."""
    body = text.rstrip().lstrip("\n")
    return [p for p in split(body, limit) if p.strip()] if body.strip() else []


# ---------------------------------------------------------------- replies


def footer_line(footer: str) -> str:
    """The footer under a reply, as Discord's small subtext."""
    return f"-# {footer}"


def notice_line(text: str) -> str:
    return f"-# ℹ️ {text}"


THINKING_ICON = "💭"
THINKING_LIMIT = 1_800  # of a message's 2,000 characters: the latest thinking, under a line saying how much


def thinking_text(thought: Thought) -> str:
    """A reasoning model's thinking as a message of its own, all in small subtext: a line saying how much there
    is, then its latest part."""
    lines, cut = thought.tail(THINKING_LIMIT, prefix="-# ")
    size = f"{thought.words:,} word{'' if thought.words == 1 else 's'}"
    latest = ", the latest of it below" if cut else ""
    head = f"Thought for {size}{latest}" if thought.done else f"*Thinking…* ({size})"
    return "\n".join([f"-# {THINKING_ICON} {head}", *lines])


def shown_as_written(text: str) -> str:
    """Text from a model as Discord shows it written: its Markdown escaped, and @everyone, @here and user or role
    mentions broken (the bot also sends with no allowed mentions)."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def tool_text(activity: ToolActivity) -> str:
    """A tool call of a reply as a message of its own: one line of small subtext (core.delivery.tools.tool_line),
    its arguments and how it ended escaped."""
    call, outcome = shown_as_written(tool_call(activity)), shown_as_written(tool_outcome(activity))
    return f"-# {tool_icon(activity)} {call} · {outcome}"[:MESSAGE_LIMIT]


def thread_name(text: str, fallback: str = "Chat with Switchboard") -> str:
    """A thread title from the first line of the prompt (Discord allows 1-100 characters)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    name = re.sub(r"\s+", " ", re.sub(r"[`*_~>|]", "", first)).strip()
    if not name:
        return fallback
    return name if len(name) <= 90 else name[:89].rstrip() + "…"


@dataclass
class Outgoing:
    """One Discord message to send: content and/or embeds; `choices` become buttons."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    choices: tuple[Choice, ...] = ()


def _embed_size(e: discord.Embed) -> int:
    return len(e.title or "") + len(e.description or "") + len(e.footer.text or "")


def _pack(embeds: list[discord.Embed], choices: tuple[Choice, ...]) -> list[Outgoing]:
    """Embeds grouped into messages within Discord's 6,000-character and 10-embed limits."""
    out: list[Outgoing] = []
    for e in embeds:
        last = out[-1].embeds if out else None
        if last is not None and len(last) < MAX_EMBEDS and sum(map(_embed_size, last)) + _embed_size(e) <= EMBED_TOTAL:
            last.append(e)
        else:
            out.append(Outgoing(embeds=[e]))
    if out:
        out[-1].choices = choices
    return out


def _titled(text: str) -> tuple[str | None, str]:
    """A leading `**Title**` line becomes the embed's title."""
    m = re.match(r"\*\*(.+?)\*\*(?:\s*—\s*(.*))?\n", text)
    if not m:
        return None, text
    title = m.group(1) + (f" — {m.group(2)}" if m.group(2) else "")
    return title[:256], text[m.end() :]


def _embeds(title: str | None, body: str, colour: int, footer: str | None = None) -> list[discord.Embed]:
    parts = split_message(body, EMBED_LIMIT) or [""]
    embeds = []
    for i, part in enumerate(parts):
        e = discord.Embed(title=title if i == 0 else None, description=part or None, colour=colour)
        if footer and i == len(parts) - 1:
            e.set_footer(text=footer)
        embeds.append(e)
    return embeds


def _models_embeds(reply: Reply, listing: ModelListing) -> list[discord.Embed]:
    title = "Models" + (f" matching `{listing.filter}`" if listing.filter else "")
    lines: list[str] = [f"*{listing.note}*"] if listing.note else []
    for group in listing.groups:
        lines.append(group_heading(group))
        lines += [model_line(m) for m in group.models]
    if not listing.groups:
        lines = [reply.text]
    footer = f"Page {listing.page}/{listing.pages} · {listing.total} models · pick one with /model"
    return _embeds(title, "\n".join(lines), COLOURS["models"], footer)


def _compare_embeds(reply: Reply, comparison: Comparison) -> list[discord.Embed]:
    if not comparison.results:
        return _embeds(None, reply.text, COLOURS["compare"])
    embeds = _embeds("Compare", f"> {comparison.prompt[:1000]}", COLOURS["compare"])
    for r in comparison.results:
        body = r.text if r.status in ("ok", "partial") else f"*failed: {r.error}*"
        footer = f"{latency(r.latency_ms)} · {tokens(r.total_tokens)} · {money(r.cost_usd, local=r.is_local)}"
        embeds += _embeds(str(r.model or "model")[:256], body or "*(empty reply)*", COLOURS["compare"], footer)
    return embeds


def render_reply(reply: Reply) -> list[Outgoing]:
    """A core Reply as Discord messages: listings as embeds, everything else as split text."""
    if isinstance(reply.data, ModelListing):
        return _pack(_models_embeds(reply, reply.data), reply.choices)
    if isinstance(reply.data, Comparison):
        return _pack(_compare_embeds(reply, reply.data), reply.choices)
    if reply.kind in EMBED_KINDS:
        title, body = _titled(reply.text)
        return _pack(_embeds(title, body, COLOURS.get(reply.kind, 0)), reply.choices)
    chunks = split_message(reply.text) or ["(nothing to show)"]
    out = [Outgoing(content=c) for c in chunks]
    out[-1].choices = reply.choices
    return out


BUTTON_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "default": discord.ButtonStyle.secondary,
}
