"""Driving the admin app in-process with Streamlit's AppTest, the way an admin clicks through it.

admin = AdminApp.signed_in()          # an admin account is created through core, then signed in
admin.open("providers")
admin.fill("Name", "oa").choose("Kind", "openai").fill("API key", KEY).submit("Add provider")
assert "Added provider 'oa'" in admin.successes
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from core.admins import set_password

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "admin" / "app.py"
USERNAME = "admin"
PASSWORD = "correct horse battery"


class AdminApp:
    """One browser session of the admin app."""

    def __init__(self) -> None:
        self.at = AppTest.from_file(str(APP), default_timeout=60)

    # ---------------------------------------------------------------- session

    @classmethod
    def signed_in(cls) -> AdminApp:
        set_password(USERNAME, PASSWORD)
        app = cls()
        app.run().sign_in(USERNAME, PASSWORD)
        assert app.titles == ["Overview"], app.describe()
        return app

    def run(self) -> AdminApp:
        self.at.run()
        assert not self.at.exception, [e.value for e in self.at.exception]
        return self

    def sign_in(self, username: str, password: str) -> AdminApp:
        self.fill("Username", username).fill("Password", password)
        return self.submit("Sign in")

    def open(self, page: str) -> AdminApp:
        """Click a page in the sidebar (by its file in admin/views/)."""
        self.at.switch_page(f"views/{page}.py")
        return self.run()

    # ---------------------------------------------------------------- widgets by label

    def _widget(self, kind: str, label: str, index: int = 0) -> Any:
        found = [w for w in getattr(self.at, kind) if w.label == label]
        if len(found) <= index:
            raise AssertionError(f"no {kind} labelled {label!r}; page shows: {self.describe()}")
        return found[index]

    def fill(self, label: str, value: str, index: int = 0) -> AdminApp:
        try:
            self._widget("text_input", label, index).input(value)
        except AssertionError:
            self._widget("text_area", label, index).input(value)
        return self

    def number(self, label: str, value: float | None) -> AdminApp:
        self._widget("number_input", label).set_value(value)
        return self

    def choose(self, label: str, value: Any, index: int = 0) -> AdminApp:
        self._widget("selectbox", label, index).select(value)
        return self

    def choose_many(self, label: str, values: list[str]) -> AdminApp:
        self._widget("multiselect", label).set_value(values)
        return self

    def tick(self, label: str, value: bool = True) -> AdminApp:
        self._widget("checkbox", label).set_value(value)
        return self

    def toggle(self, label: str, value: bool = True) -> AdminApp:
        self._widget("toggle", label).set_value(value)
        return self

    def submit(self, label: str) -> AdminApp:
        """Click a form's submit button; the app reruns (and again, when a save reran it)."""
        self._widget("button", label).click()
        return self.run()

    def click(self, label: str) -> AdminApp:
        self._widget("button", label).click()
        return self.run()

    def button(self, label: str) -> Any:
        return self._widget("button", label)

    def selectbox_options(self, label: str) -> list[str]:
        return list(self._widget("selectbox", label).options)

    # ---------------------------------------------------------------- what the admin sees

    @property
    def titles(self) -> list[str]:
        return [t.value for t in self.at.title]

    @property
    def errors(self) -> list[str]:
        return [e.value for e in self.at.error]

    @property
    def successes(self) -> list[str]:
        return [e.value for e in self.at.success]

    @property
    def infos(self) -> list[str]:
        return [e.value for e in self.at.info]

    @property
    def warnings(self) -> list[str]:
        return [e.value for e in self.at.warning]

    def table(self, index: int = 0) -> pd.DataFrame:
        return self.at.dataframe[index].value

    def table_with(self, column: str) -> pd.DataFrame:
        """The first table (interactive or static) that has `column` (or names its rows by it)."""
        for frame in [*self.at.dataframe, *self.at.table]:
            value = frame.value.reset_index() if frame.value.index.name == column else frame.value
            if column in value.columns:
                return value
        raise AssertionError(f"no table with a {column!r} column; page shows: {self.describe()}")

    def metric(self, label: str) -> str:
        return next(str(m.value) for m in self.at.metric if m.label == label)

    def progress(self) -> list[tuple[int, str]]:
        """(percent, text) of every progress bar."""
        bars = []
        for node in self.at.get("progress"):
            proto = node.proto
            bars.append((int(proto.value), str(proto.text)))
        return bars

    def charts(self) -> dict[str, pd.DataFrame]:
        """The charts on the page: their y-axis title and the data they plot."""
        found = {}
        for node in self.at.get("vega_lite_chart"):
            spec = json.loads(node.proto.spec)
            title = spec["layer"][0]["encoding"]["y"]["title"] if "layer" in spec else spec["encoding"]["y"]["title"]
            raw = node.proto.datasets[0].data.data if node.proto.datasets else node.proto.data.data
            found[title] = pa.ipc.open_stream(raw).read_pandas()
        return found

    def text(self) -> str:
        """Everything the page shows as text: markdown, messages, metrics, captions, tables, widget labels."""
        parts: list[str] = []
        for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
            parts += [str(e.value) for e in getattr(self.at, kind)]
        parts += [f"{m.label}: {m.value}" for m in self.at.metric]
        parts += [frame.value.to_csv(index=False) for frame in self.at.dataframe]
        parts += [text for _, text in self.progress()]
        for kind in ("text_input", "text_area", "selectbox", "multiselect", "checkbox", "button", "number_input"):
            for w in getattr(self.at, kind):
                parts.append(str(w.label))
                value = getattr(w, "value", None)
                if value is not None and not (kind == "text_input" and w.proto.type == w.proto.PASSWORD):
                    parts.append(str(value))  # a password field shows dots, not its value
        return "\n".join(parts)

    def describe(self) -> str:
        return self.text()[:3000]
