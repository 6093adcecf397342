"""Block Kit and mrkdwn for what the core returns: reply bodies, the footer, buttons, model menus and pickers.

Everything here is a pure function of its inputs; sending is someone else's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from markdown_to_mrkdwn import SlackMarkdownConverter

from core.delivery.split import split
from core.delivery.surface import Thought
from core.delivery.tools import tool_line
from core.menus.pickers import Pick
from core.types import Choice, Reply, ToolActivity

Block = dict[str, Any]

# A markdown block holds up to 12,000 characters and Slack refuses payloads whose blocks add up to much more
# (msg_blocks_too_long): one message carries at most this much of a reply, the footer and menus fit beside it.
MESSAGE_LIMIT = 11_000
SECTION_LIMIT = 3_000
TEXT_LIMIT = 40_000
OPTION_TEXT = 75  # Slack's limit for option and button labels
OPTION_VALUE = 150
STATIC_SELECT_MAX = 100  # options a static select may hold; beyond it the picker searches (external select)

THREAD_MODEL = "sb_thread_model"  # the model menu under each reply: switches that thread
CHANNEL_MODEL = "sb_channel_model"  # the /model picker: sets the channel default
MODAL_MODEL = "sb_modal_model"  # the picker inside the "Switch model for this thread" modal
CHOICE = "sb_choice"  # buttons that run a command (Reply.choices); action ids are CHOICE:<n>
SWITCH_SHORTCUT = "switch_model"  # message shortcut callback id (manifest.yml)
SWITCH_VIEW = "sb_switch_model"  # the modal's callback id
MODAL_BLOCK = "sb_model"

EMPTY_REPLY = "_The model sent an empty reply._"
_KIND_ICON = {"error": ":warning: ", "refusal": ":no_entry: ", "model_set": ":white_check_mark: "}
_converter = SlackMarkdownConverter()


def mrkdwn(markdown: str) -> str:
    """Standard Markdown (what models and the core write) as Slack mrkdwn."""
    return _converter.convert(markdown) if markdown else ""


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int = OPTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def markdown_block(markdown: str) -> Block:
    return {"type": "markdown", "text": markdown}


def section(text_mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text_mrkdwn}}


def body_text(markdown: str) -> str:
    """The `text` of a message whose blocks carry `markdown`: notifications and screen readers show it."""
    return clip(mrkdwn(markdown), TEXT_LIMIT) or " "


# ---------------------------------------------------------------- what goes under a reply


def footer_block(footer: str, notices: Sequence[str] = ()) -> Block:
    """The context line under a reply: model · tokens · cost (and fallback), then any notices."""
    elements = [{"type": "mrkdwn", "text": clip(footer, SECTION_LIMIT)}] if footer else []
    elements += [{"type": "mrkdwn", "text": clip(f":information_source: {mrkdwn(n)}", SECTION_LIMIT)} for n in notices]
    return {"type": "context", "elements": elements[:10]}


def choices_block(choices: Sequence[Choice], thread: str) -> Block:
    """Buttons whose value is the command to run; the block id carries the thread the command belongs to."""
    buttons = []
    for i, choice in enumerate(choices[:25]):
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{CHOICE}:{i}",
            "text": plain(choice.label),
            "value": choice.command[:2000],
        }
        if choice.style in ("primary", "danger"):
            button["style"] = choice.style
        buttons.append(button)
    return {"type": "actions", "block_id": f"sbc|{thread}", "elements": buttons}


def model_menu_block(thread: str, current: str | None) -> Block:
    """The "Switch model" menu under a reply. Its options load when opened (an external select), so they are
    always the current registry, and the reply itself stays small however many models there are."""
    menu: dict[str, Any] = {
        "type": "external_select",
        "action_id": THREAD_MODEL,
        "placeholder": plain("Switch this thread's model"),
        "min_query_length": 0,
    }
    if current and len(current) <= OPTION_VALUE:
        menu["initial_option"] = option(Pick(current, current))
    return {"type": "actions", "block_id": f"sbm|{thread}", "elements": [menu]}


def reply_tail(
    footer: str, notices: Sequence[str], thread: str, model: str | None, choices: Sequence[Choice] = ()
) -> list[Block]:
    """Blocks under a finished model reply: the footer, its buttons (if any) and the model menu."""
    tail = [footer_block(footer, notices)] if footer or notices else []
    if choices:
        tail.append(choices_block(choices, thread))
    tail.append(model_menu_block(thread, model))
    return tail


# ---------------------------------------------------------------- command replies


def reply_messages(reply: Reply, thread: str) -> list[tuple[str, list[Block]]]:
    """A core Reply as one or more messages of (text, blocks); buttons go on the last one."""
    markdown = _KIND_ICON.get(reply.kind, "") + reply.text
    pieces = split(markdown, MESSAGE_LIMIT)
    messages: list[tuple[str, list[Block]]] = []
    for piece in pieces:
        converted = mrkdwn(piece) or " "
        blocks = [section(s) for s in split(converted, SECTION_LIMIT) if s.strip()] or [section(converted)]
        messages.append((clip(converted, TEXT_LIMIT) or " ", blocks))
    if reply.choices:
        messages[-1][1].append(choices_block(reply.choices, thread))
    return messages


def notice_message(text: str) -> tuple[str, list[Block]]:
    converted = mrkdwn(text)
    return converted, [{"type": "context", "elements": [{"type": "mrkdwn", "text": clip(converted, SECTION_LIMIT)}]}]


THINKING_ICON = ":thought_balloon:"
THINKING_LIMIT = 1_500  # of the thinking itself: its latest part, in small grey text above the answer


def thinking_message(thought: Thought) -> tuple[str, list[Block]]:
    """A reasoning model's thinking as a message of its own: a line saying how much there is, then its latest part
    as plain text (never formatted: it is the model's scratch work, not its answer)."""
    lines, cut = thought.tail(THINKING_LIMIT)
    size = f"{thought.words:,} word{'' if thought.words == 1 else 's'}"
    latest = ", the latest of it below" if cut else ""
    head = f"{THINKING_ICON} Thought for {size}{latest}" if thought.done else f"{THINKING_ICON} _Thinking…_ ({size})"
    blocks: list[Block] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": head}]}]
    if lines:
        body = "\n".join(lines)
        blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": body, "emoji": False}]})
    return clip(head, TEXT_LIMIT), blocks


def escaped(text: str) -> str:
    """Text that mrkdwn shows as written: `&`, `<` and `>` escaped (so `<!channel>` or `<@U…>` cannot mention
    anyone, nor `<url|label>` link), and `@channel`, `@here` and `@everyone` broken with a word joiner."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"@(?=(channel|here|everyone)\b)", "@\u2060", text, flags=re.IGNORECASE)


def tool_message(activity: ToolActivity) -> tuple[str, list[Block]]:
    """A tool call of a reply as a message of its own, one small grey line (core.delivery.tools.tool_line) as
    plain text: its arguments come from a model, and plain text neither formats, links nor mentions."""
    line = tool_line(activity)
    element = {"type": "plain_text", "text": clip(line, SECTION_LIMIT), "emoji": True}
    return clip(escaped(line), TEXT_LIMIT), [{"type": "context", "elements": [element]}]


def chose_blocks(blocks: Sequence[Block], user: str, label: str) -> list[Block]:
    """A message's blocks after someone clicked one of its buttons: the buttons give way to who chose what."""
    kept = [b for b in blocks if not (b.get("type") == "actions" and str(b.get("block_id", "")).startswith("sbc|"))]
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<@{user}> chose *{clip(label, 75)}*"}]}
    return [*kept, note]


# ---------------------------------------------------------------- model pickers


def option(pick: Pick) -> dict[str, Any]:
    return {"text": plain(pick.label), "value": pick.value}


def option_groups(groups: Sequence[tuple[str, Sequence[Pick]]]) -> list[dict[str, Any]]:
    """Slack option groups (one per provider); at most 100 options in all."""
    out: list[dict[str, Any]] = []
    left = STATIC_SELECT_MAX
    for label, picks in groups:
        options = [option(p) for p in picks if len(p.value) <= OPTION_VALUE][:left]
        if options:
            out.append({"label": plain(label), "options": options})
            left -= len(options)
        if left <= 0:
            break
    return out


def model_select(
    action_id: str, groups: Sequence[tuple[str, Sequence[Pick]]], total: int, current: str | None, placeholder: str
) -> dict[str, Any]:
    """A static select with a group per provider, or, past 100 models, an external select that searches."""
    select: dict[str, Any] = {"action_id": action_id, "placeholder": plain(placeholder)}
    if total <= STATIC_SELECT_MAX:
        select["type"] = "static_select"
        select["option_groups"] = option_groups(groups)
        chosen = [o for g in select["option_groups"] for o in g["options"] if o["value"] == current]
    else:
        select["type"] = "external_select"
        select["min_query_length"] = 0
        chosen = [option(Pick(current, current))] if current and len(current) <= OPTION_VALUE else []
    if chosen:
        select["initial_option"] = chosen[0]
    return select


def channel_picker(
    groups: Sequence[tuple[str, Sequence[Pick]]], total: int, current: str | None, note: str = ""
) -> tuple[str, list[Block]]:
    """`/model` without a name: pick the default model of new threads in this channel."""
    if total == 0:
        text = "No model can be picked here yet. An admin can add a provider (see `switchboard providers add`)."
        return text, [section(text)]
    now = f"New threads here use *{current}*." if current else "No default is set here yet."
    text = f"{now} Pick the default model for new threads in this channel:"
    select = model_select(CHANNEL_MODEL, groups, total, current, "Pick a model")
    hints = [note] if note else []
    hints.append("Inside a thread, type `!model NAME` or use the menu under a reply to switch just that thread.")
    blocks = [
        section(text),
        {"type": "actions", "block_id": "sbp|", "elements": [select]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(h)} for h in hints]},
    ]
    return text, blocks


def switch_modal(
    groups: Sequence[tuple[str, Sequence[Pick]]], total: int, current: str | None, channel: str, thread: str
) -> dict[str, Any]:
    """The "Switch model for this thread" modal."""
    now = f"This thread uses *{current}*." if current else "This thread has no model yet."
    blocks: list[Block] = [section(f"{now} Pick the model for its next replies.")]
    if total == 0:
        blocks = [section("No model can be picked here yet. Ask an admin to add a provider.")]
    else:
        blocks.append(
            {
                "type": "input",
                "block_id": MODAL_BLOCK,
                "label": plain("Model"),
                "element": model_select(MODAL_MODEL, groups, total, current, "Pick a model"),
            }
        )
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": SWITCH_VIEW,
        "title": plain("Switch model", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"c": channel, "t": thread}),
        "blocks": blocks,
    }
    if total:
        view["submit"] = plain("Switch", 24)
    return view
