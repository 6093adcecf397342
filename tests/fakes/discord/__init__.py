"""A loopback fake of Discord: REST API v10 and the gateway (websocket), for the real discord.py client.

Point discord.py at it (both are plain class attributes; `pointed_at(fake)` sets and restores them):

    discord.http.Route.BASE = fake.api_base                               # http://127.0.0.1:PORT/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

discord.py 2.7 never asks `GET /gateway/bot` unless an AutoShardedClient has no shard_count: it connects to
DEFAULT_GATEWAY, then resumes on READY's `resume_gateway_url`. Interaction callbacks and webhook calls use the
same Route.BASE.

The fake keeps Discord-shaped state (users, guilds, channels, threads, messages with edit history, registered
application commands, interactions), records every REST call (`api_calls`), mirrors REST side effects to the
gateway as Discord does (MESSAGE_CREATE for the bot's own messages, MESSAGE_UPDATE, THREAD_CREATE...),
filters events by intents, strips message content without the message_content intent, enforces the 3-second
interaction rule, validates autocomplete choices and message limits (`violations`), and injects faults
(`forbid`, `rate_limit`, `fail`, `set_bucket`).

Where things are. FakeDiscord (server.py) holds all state and combines one mixin per API area; a REST route
(routes.py: method, path, action) is handled by the mixin method `_do_<action>`:

    server.py        FakeDiscord: configuration, shared state, route wiring
    routes.py        the REST route table (ROUTES)
    rest.py          REST plumbing: recording calls, auth, unknown routes, multipart bodies; api_calls()
    faults.py        fail / forbid / rate_limit / set_bucket (X-RateLimit-* buckets)
    state.py         world building (add_user, add_guild, add_text_channel, add_thread...), snowflakes, lookups
    channels.py      REST: users/@me, application, DMs, guilds, members, channels, threads
    messages.py      REST: messages (send, edit, delete, reactions), limits, store; message_create()
    commands.py      REST: application commands; slash_command(), autocomplete()
    interactions.py  interaction callbacks (3 s rule), followups, @original webhooks; component_click()
    gateway.py       websocket: hello, heartbeat, identify, resume, member chunks, sharding, intents; dispatch()
    cdn.py           the attachment CDN: signed links that expire, files served at cdn_base; upload()
    models.py        records (Call, FakeMessage, FakeInteraction, Violation...) and DiscordError
    constants.py     intents, permissions, message flags, interaction types
    client.py        pointed_at(), running(): discord.py glue for tests
"""

from tests.fakes.discord.client import pointed_at, running
from tests.fakes.discord.constants import EPHEMERAL
from tests.fakes.discord.models import FakeMessage
from tests.fakes.discord.server import FakeDiscord

__all__ = ["EPHEMERAL", "FakeDiscord", "FakeMessage", "pointed_at", "running"]
