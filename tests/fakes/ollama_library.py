"""A loopback fake of ollama.com's public library page (GET /library), in the markup the real page uses:
`<li x-test-model>` cards holding a `/library/NAME` link, a title span, a description `<p>`, and
`x-test-capability`, `x-test-size`, `x-test-pull-count` spans.

    with FakeOllamaLibrary([Card("llama3.2", "Meta's small models", ["tools"], ["1b", "3b"])]) as site:
        ...  # SWITCHBOARD_OLLAMA_LIBRARY_URL = site.library_url

`site.page` replaces the whole page (e.g. a redesign the parser must not trust); `site.status` the status.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.base import FakeServer


@dataclass(frozen=True)
class Card:
    name: str
    description: str
    capabilities: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    pulls: str = "1M"


def render(cards: list[Card]) -> str:
    items = []
    for c in cards:
        caps = "".join(
            f'<span x-test-capability class="inline-flex items-center rounded-md bg-indigo-50 px-2">{html.escape(x)}'
            "</span>"
            for x in c.capabilities
        )
        sizes = "".join(
            f'<span x-test-size class="inline-flex items-center rounded-md bg-[#ddf4ff] px-2">{html.escape(s)}</span>'
            for s in c.sizes
        )
        items.append(
            f'<li x-test-model class="flex items-baseline border-b border-neutral-200 py-6">\n'
            f'  <a href="/library/{html.escape(c.name)}" class="group w-full space-y-5">\n'
            f'    <div class="flex flex-col"><h2 class="truncate text-xl font-medium">'
            f"<span x-test-search-response-title>{html.escape(c.name)}</span></h2>\n"
            f'      <p class="max-w-lg break-words text-neutral-800 text-md">{html.escape(c.description)}</p></div>\n'
            f'    <div class="flex flex-wrap space-x-2">{caps}{sizes}</div>\n'
            f'    <p class="flex space-x-5 text-[13px] font-medium text-neutral-500"><span class="flex items-center">'
            f"<span x-test-pull-count>{html.escape(c.pulls)}</span>&nbsp;<span>Pulls</span></span></p>\n"
            "  </a>\n</li>"
        )
    return (
        "<!DOCTYPE html><html><head><title>Ollama Search</title></head><body><main>"
        '<div id="repo"><ul role="list" class="grid grid-cols-1">'
        + "\n".join(items)
        + "</ul></div></main></body></html>"
    )


class FakeOllamaLibrary(FakeServer):
    def __init__(self, cards: list[Card]) -> None:
        super().__init__()
        self.page = render(cards)
        self.status = 200

    @property
    def library_url(self) -> str:
        return f"{self.url}/library"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/library", self._library)

    async def _library(self, request: web.Request) -> web.Response:
        return web.Response(text=self.page, status=self.status, content_type="text/html")
