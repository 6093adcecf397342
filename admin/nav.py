"""The admin's pages, in the order the sidebar shows them. Adding a page is one entry here plus its file in
admin/views/ (a script Streamlit runs; it may assume a signed-in admin: app.py only registers pages then)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str  # under admin/views/
    title: str
    icon: str
    section: str
    default: bool = False

    @property
    def url_path(self) -> str:
        return self.file.removesuffix(".py")


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview.py", "Overview", ":material/dashboard:", "Operate", default=True),
    PageSpec("budgets.py", "Budgets & alerts", ":material/savings:", "Operate"),
    PageSpec("providers.py", "Providers", ":material/cloud:", "Configure"),
    PageSpec("models.py", "Models", ":material/neurology:", "Configure"),
    PageSpec("ollama.py", "Ollama", ":material/download:", "Configure"),
    PageSpec("tools.py", "Tools", ":material/build:", "Configure"),
    PageSpec("conversations.py", "Conversations", ":material/forum:", "Observe"),
    PageSpec("performance.py", "Performance", ":material/speed:", "Observe"),
    PageSpec("usage.py", "Usage", ":material/bar_chart:", "Observe"),
)


def navigation_pages(pages: tuple[PageSpec, ...] = PAGES) -> dict[str, list[st.Page]]:
    """`st.navigation` input: pages grouped by section, in order."""
    sections: dict[str, list[st.Page]] = {}
    for spec in pages:
        page = st.Page(
            VIEWS / spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.default
        )
        sections.setdefault(spec.section, []).append(page)
    return sections
