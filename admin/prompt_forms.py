"""Models page editors for prompts: system prompt templates per model pattern, and presets (a named model plus
a system prompt that users pick with `!preset NAME`)."""

from __future__ import annotations

import streamlit as st

from admin import ui
from core.config.prompts import (
    delete_preset,
    delete_template,
    list_presets,
    list_templates,
    save_preset,
    save_template,
)
from core.models.registry import ModelInfo, require_model

VARIABLES = "{date}, {time}, {platform}, {user}, {model}, {provider}, {channel}"


def templates_section() -> None:
    st.subheader("Prompt templates")
    templates = list_templates()
    if templates:
        st.dataframe(
            [
                {
                    "template": t.name,
                    "models matching": t.pattern,
                    "priority": t.priority,
                    "enabled": t.enabled,
                    "system prompt": t.system_prompt,
                }
                for t in templates
            ],
            hide_index=True,
        )
    else:
        st.caption("No templates yet: models get no system prompt unless a preset or thread sets one.")
    chosen = ui.pick("Template to edit", [t.name for t in templates], key="template-pick")
    t = next((x for x in templates if x.name == chosen), None)
    with st.form("template"):
        name = st.text_input("Name", value=t.name if t else "", disabled=t is not None, key="template-name")
        c1, c2, c3 = st.columns([3, 1, 1])
        pattern = c1.text_input(
            "Models matching", value=t.pattern if t else "*", help="fnmatch on the name or family, e.g. ollama/llama*"
        )
        priority = c2.number_input("Priority", value=t.priority if t else 0, step=1, help="Highest matching wins.")
        enabled = c3.checkbox("Enabled", value=t.enabled if t else True)
        prompt = st.text_area("System prompt", value=t.system_prompt if t else "", help=f"Variables: {VARIABLES}")
        submitted = st.form_submit_button("Save template")
    if submitted:
        target = t.name if t else name.strip()
        with ui.user_errors():
            save_template(target, pattern.strip(), prompt, int(priority), enabled)
            ui.flash(f"Saved template '{target}'.")
            st.rerun()
    if t and ui.confirm_delete(f"template '{t.name}'", key=f"template-{t.name}"):
        with ui.user_errors():
            delete_template(t.name)
            ui.flash(f"Deleted template '{t.name}'.")
            st.rerun()


def presets_section(models: list[ModelInfo]) -> None:
    st.subheader("Presets")
    presets = list_presets()
    if presets:
        st.dataframe(
            [
                {"preset": p.name, "model": p.model, "description": p.description, "system prompt": p.system_prompt}
                for p in presets
            ],
            hide_index=True,
        )
    else:
        st.caption("No presets yet. Users pick one in a thread with `!preset NAME`.")
    names = [m.name for m in models]
    if not names:
        st.info("Presets need a model: add a provider first.")
        return
    chosen = ui.pick("Preset to edit", [p.name for p in presets], key="preset-pick")
    p = next((x for x in presets if x.name == chosen), None)
    with st.form("preset"):
        name = st.text_input("Name", value=p.name if p else "", disabled=p is not None, key="preset-name")
        model = st.selectbox("Model", names, index=names.index(p.model) if p and p.model in names else 0)
        description = st.text_input("Description", value=p.description if p else "")
        prompt = st.text_area("System prompt", value=p.system_prompt if p else "", key="preset-prompt")
        submitted = st.form_submit_button("Save preset")
    if submitted:
        target = p.name if p else name.strip()
        with ui.user_errors():
            save_preset(target, require_model(model).name, prompt, description.strip())
            ui.flash(f"Saved preset '{target}'.")
            st.rerun()
    if p and ui.confirm_delete(f"preset '{p.name}'", key=f"preset-{p.name}"):
        with ui.user_errors():
            delete_preset(p.name)
            ui.flash(f"Deleted preset '{p.name}'.")
            st.rerun()
