"""A browser's session of a running Streamlit server, without the browser: open its websocket, ask for a run of
the page, and collect what the page shows (headings, text, alerts, widget labels, exceptions).

Used where the admin must be checked as a real process (a fresh install, the port it binds); in-process page
tests use AppTest (tests/adminkit.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class Page:
    texts: list[str] = field(default_factory=list)  # every element's visible text, in order
    exceptions: list[str] = field(default_factory=list)  # exceptions Streamlit shows instead of the page


def _text_of(element: object) -> str:
    for name in ("body", "label", "value"):
        value = getattr(element, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


async def first_page(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> Page:
    """What a browser opening http://host:port/ is shown once the page's script has run."""
    page = Page()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://{host}:{port}/_stcore/stream", protocols=["streamlit"]) as ws,
    ):
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        rerun.rerun_script.page_script_hash = ""
        await ws.send_bytes(rerun.SerializeToString())
        while True:
            frame = await asyncio.wait_for(ws.receive(), timeout)
            if frame.type != aiohttp.WSMsgType.BINARY:
                raise AssertionError(f"the admin closed the session: {frame.type.name}")
            msg = ForwardMsg()
            msg.ParseFromString(frame.data)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                name = element.WhichOneof("type")
                if name is None:
                    continue
                if name == "exception":
                    page.exceptions.append(f"{element.exception.type}: {element.exception.message}")
                text = _text_of(getattr(element, name))
                if text:
                    page.texts.append(text)
            elif kind == "script_finished":
                return page
