"""Presets (a named model plus system prompt) and prompt templates: owns the Preset and PromptTemplate tables."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.config.version import bump_config_version
from core.errors import UserError
from core.storage.db import session
from core.storage.tables import Preset, PromptTemplate, utcnow

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_VARIABLE = re.compile(r"\{(date|time|platform|user|model|provider|channel)\}")


@dataclass(frozen=True)
class PresetView:
    name: str
    model: str
    system_prompt: str
    description: str


@dataclass(frozen=True)
class Layer:
    """One part of a thread's system prompt and where it came from (see `layered`)."""

    kind: str  # global | workspace | channel | preset | thread | template
    name: str  # the workspace or channel id, the preset's or template's name; "" for global and thread
    text: str

    @property
    def source(self) -> str:
        """Where it came from, as people read it: "workspace T1", "preset code", "this thread"."""
        if self.kind == "thread":
            return "this thread"
        return f"{self.kind} {self.name}".strip()


# What the model reads above each section when several layers apply: the scope's ids would mean nothing to it
_HEADINGS = {
    "global": "Instructions for every workspace",
    "workspace": "Workspace instructions",
    "channel": "Channel instructions",
    "preset": "Preset instructions",
    "thread": "This thread's instructions",
    "template": "Model instructions",
}


@dataclass(frozen=True)
class TemplateView:
    name: str
    pattern: str
    system_prompt: str
    priority: int
    enabled: bool


def list_presets() -> list[PresetView]:
    with session() as s:
        rows = s.exec(select(Preset).order_by(Preset.name)).all()
    return [PresetView(r.name, r.model, r.system_prompt, r.description) for r in rows]


def save_preset(name: str, model: str, system_prompt: str = "", description: str = "") -> PresetView:
    """Create or replace a preset. The model must exist in the registry (checked by the caller's resolve)."""
    if not NAME_RE.match(name):
        raise UserError(f"'{name}' is not a valid preset name: lowercase letters, digits, '-' and '_'.")
    if not model:
        raise UserError("A preset needs a model.")
    with session(write=True) as s:
        row = s.exec(select(Preset).where(Preset.name == name)).first() or Preset(name=name, model=model)
        row.model, row.system_prompt, row.description, row.updated_at = (
            model,
            system_prompt,
            description,
            utcnow(),
        )
        s.add(row)
        bump_config_version(s)
    return PresetView(name, model, system_prompt, description)


def delete_preset(name: str) -> None:
    with session(write=True) as s:
        row = s.exec(select(Preset).where(Preset.name == name)).first()
        if row is None:
            raise UserError(f"No preset named '{name}'.")
        s.delete(row)
        bump_config_version(s)


def list_templates() -> list[TemplateView]:
    with session() as s:
        order = (col(PromptTemplate.priority).desc(), col(PromptTemplate.name))
        rows = s.exec(select(PromptTemplate).order_by(*order)).all()
    return [TemplateView(r.name, r.pattern, r.system_prompt, r.priority, r.enabled) for r in rows]


def save_template(name: str, pattern: str, system_prompt: str, priority: int = 0, enabled: bool = True) -> None:
    """Create or replace a template. `pattern` is fnmatch-style on the model name, id or family."""
    if not NAME_RE.match(name):
        raise UserError(f"'{name}' is not a valid template name: lowercase letters, digits, '-' and '_'.")
    if not pattern.strip():
        raise UserError("A template needs a pattern, e.g. '*' or 'ollama/llama*' or 'claude-*'.")
    if not system_prompt.strip():
        raise UserError("A template needs a system prompt.")
    unknown = set(re.findall(r"\{(\w+)\}", system_prompt)) - {
        "date",
        "time",
        "platform",
        "user",
        "model",
        "provider",
        "channel",
    }
    if unknown:
        raise UserError(
            f"Unknown variable(s) {', '.join(sorted(unknown))}: use {{date}}, {{time}}, {{platform}}, {{user}}, "
            "{model}, {provider} or {channel}."
        )
    try:
        with session(write=True) as s:
            row = s.exec(select(PromptTemplate).where(PromptTemplate.name == name)).first() or PromptTemplate(
                name=name, system_prompt=system_prompt
            )
            row.pattern, row.system_prompt, row.priority, row.enabled = (
                pattern,
                system_prompt,
                priority,
                enabled,
            )
            row.updated_at = utcnow()
            s.add(row)
            bump_config_version(s)
    except IntegrityError:
        raise UserError(f"A template named '{name}' already exists.") from None


def delete_template(name: str) -> None:
    with session(write=True) as s:
        row = s.exec(select(PromptTemplate).where(PromptTemplate.name == name)).first()
        if row is None:
            raise UserError(f"No template named '{name}'.")
        s.delete(row)
        bump_config_version(s)


def pick_template(templates: list[TemplateView], *names: str | None) -> TemplateView | None:
    """The highest-priority enabled template whose pattern matches any of the model's names."""
    for t in sorted(templates, key=lambda t: -t.priority):
        if t.enabled and any(n and fnmatch.fnmatchcase(n.lower(), t.pattern.lower()) for n in names):
            return t
    return None


def render(text: str, **values: str) -> str:
    """Fill {date}, {time}, {platform}, {user}, {model}, {provider}, {channel}; anything else stays as typed."""
    now = datetime.now(UTC)
    values = {"date": now.strftime("%Y-%m-%d"), "time": now.strftime("%H:%M UTC"), **values}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def layered(layers: list[Layer]) -> str | None:
    """One system prompt from its layers, in the order given. One layer is sent as written; several go as
    sections, each headed by what it is, so the layering is explicit to the model and to anyone reading the
    request. None when there is nothing to say."""
    kept = [layer for layer in layers if layer.text.strip()]
    if len(kept) <= 1:
        return kept[0].text if kept else None
    return "\n\n".join(f"## {_HEADINGS.get(layer.kind, layer.kind)}\n{layer.text.strip()}" for layer in kept)
