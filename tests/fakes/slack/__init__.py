"""A loopback fake of the Slack Web API, plus a sender of real signed Slack requests.

`FakeSlack` serves `/api/<method>` so the real `slack_sdk` clients work against it unchanged
(`AsyncWebClient(token=..., base_url=fake.api_url)`). It keeps a message store (threads, edits with arrival
times, streams, reactions, ephemerals, views, assistant-thread state, files), answers with the response shapes Slack
documents, and can inject failures and 429s. It also hosts `response_url` endpoints.

`SlackSender` builds payloads shaped like Slack's (Events API envelopes, slash commands, interactivity) and
POSTs them, signed with the v0 scheme, to an app's HTTP endpoint. `AsgiServer` runs an ASGI app (bolt's
`AsyncSlackRequestHandler`) under uvicorn on a thread so those requests travel over real HTTP.

Everything binds to 127.0.0.1 only.

Where things are. FakeSlack (server.py) holds all state and the method table (`_handlers`: "chat.update" ->
`_chat_update`), and combines one mixin per API area:

    server.py        FakeSlack: shared state, the Web API method table, routes, reset()
    web_api.py       /api/<method> plumbing (auth, fail_next, rate limits, delays); auth.test, chat.*,
                     conversations.*, users.info, reactions.*
    streaming.py     chat.startStream / appendStream / stopStream
    views.py         views.open / push / update / publish; trigger_ids
    assistant.py     assistant.threads.*
    files.py         files people post: file objects, files.info, the private URLs (bearer token only)
    response_url.py  response_url endpoints
    state.py         workspaces, users, channels, message store; seeding and assertion helpers
    blocks.py        text and Block Kit limits (validate_blocks)
    models.py        records (Workspace, Message, Edit, View, ApiCall...), SlackError, the ts clock
    events.py        SlackSender: signing (sign), transport, Events API payloads
    interactivity.py SlackSender's slash command and interactivity payloads
    asgi.py          AsgiServer: an ASGI app under uvicorn
"""

from tests.fakes.slack.asgi import AsgiServer
from tests.fakes.slack.blocks import validate_blocks
from tests.fakes.slack.events import SlackSender, sign
from tests.fakes.slack.models import Message, Workspace
from tests.fakes.slack.server import FakeSlack

__all__ = ["AsgiServer", "FakeSlack", "Message", "SlackSender", "Workspace", "sign", "validate_blocks"]
