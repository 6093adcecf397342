"""Message limits Slack enforces: text length and Block Kit (`invalid_blocks`)."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.models import SlackError

MAX_TEXT = 40_000  # chat.postMessage / chat.update `text`
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELD = 2_000
MAX_HEADER_TEXT = 150
MAX_MARKDOWN_BLOCK = 12_000  # per markdown block and cumulative per payload
MAX_BLOCKS = 50


def validate_blocks(blocks: Any) -> list[str]:
    """Block Kit limits Slack enforces with `invalid_blocks`; returns Slack-style error strings."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    markdown_total = 0
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        kind = block["type"]
        text = block.get("text")
        if kind == "section":
            section_text = text.get("text", "") if isinstance(text, dict) else ""
            fields = block.get("fields") or []
            if not section_text and not fields and not block.get("expand"):
                errors.append(f"must provide text or fields [json-pointer:{where}]")
            if len(section_text) > MAX_SECTION_TEXT:
                errors.append(f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}/text/text]")
            if len(fields) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
            for j, f in enumerate(fields):
                if len(f.get("text", "")) > MAX_SECTION_FIELD:
                    errors.append(
                        f"must be less than {MAX_SECTION_FIELD + 1} characters [json-pointer:{where}/fields/{j}/text]"
                    )
        elif kind == "header":
            header = text.get("text", "") if isinstance(text, dict) else ""
            if len(header) > MAX_HEADER_TEXT:
                errors.append(f"must be less than {MAX_HEADER_TEXT + 1} characters [json-pointer:{where}/text/text]")
        elif kind == "markdown":
            md = text if isinstance(text, str) else ""
            markdown_total += len(md)
            if len(md) > MAX_MARKDOWN_BLOCK:
                errors.append(f"must be less than {MAX_MARKDOWN_BLOCK + 1} characters [json-pointer:{where}/text]")
        elif kind == "actions" and len(block.get("elements") or []) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:{where}/elements]")
        elif kind == "context" and len(block.get("elements") or []) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:{where}/elements]")
    if markdown_total > MAX_MARKDOWN_BLOCK and not errors:
        errors.append(f"markdown blocks exceed {MAX_MARKDOWN_BLOCK} characters in total [json-pointer:/blocks]")
    return errors


def _check_text_and_blocks(params: dict[str, Any], *, require_content: bool = True) -> None:
    text = params.get("text")
    blocks = params.get("blocks")
    if require_content and not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        if isinstance(blocks, str):  # form value that was not valid JSON
            raise SlackError("invalid_blocks_format")
        errors = validate_blocks(blocks)
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
