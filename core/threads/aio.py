"""Thread storage for code on the event loop: the chat path, commands and the chat adapters await these.

Each is `core.threads.conversations`'s function of the same name run in a worker thread (one hop per call; the
functions that do several things do them in one transaction). The sync originals stay for the scheduler's jobs
and the admin, which are not on an event loop.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from core.storage.db import off_loop
from core.threads import conversations as store
from core.tools import rounds

# What a platform waits on before it is told a message arrived (Slack redelivers what is not acked in 3 s) runs on
# threads of its own: on the shared pool it queued behind the storage of the replies being written, and on an
# overloaded worker acks took seconds (the soak: p95 13.8 s, and Slack's retries multiplied the load).
ARRIVALS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="arrival")

receive_turn = off_loop(store.start_turn, ARRIVALS)
find_arrival_thread = off_loop(store.find_conversation, ARRIVALS)
start_turn = off_loop(store.start_turn)
claim_reply = off_loop(store.claim_reply)
save_attempt = off_loop(store.save_attempt)
save_partial = off_loop(store.save_partial)
finish_reply = off_loop(store.finish_reply)
finish_turn = off_loop(store.finish_turn)
release_reply = off_loop(store.release_reply)
drop_reply = off_loop(store.drop_reply)
await_confirmation = off_loop(store.await_confirmation)
claim_confirmation = off_loop(store.claim_confirmation)
cancel_confirmation = off_loop(store.cancel_confirmation)
take_notice = off_loop(store.take_notice)
mark_trim_notified = off_loop(store.mark_trim_notified)
note_tools = off_loop(store.note_tools)
history = off_loop(store.history)
last_user_text = off_loop(store.last_user_text)
conversation_ref = off_loop(store.conversation_ref)
conversation_for = off_loop(store.conversation_for)
earlier_reply_pending = off_loop(store.earlier_reply_pending)
record_message = off_loop(store.record_message)
set_thread_model = off_loop(store.set_thread_model)
apply_preset = off_loop(store.apply_preset)
set_thread_instructions = off_loop(store.set_thread_instructions)
find_conversation = off_loop(store.find_conversation)
parked_for_consent = off_loop(rounds.parked_for_consent)


async def is_conversation(platform: str, workspace: str, channel: str, thread: str) -> bool:
    """Whether a thread is already a conversation (someone talked to a model or picked one in it): there,
    every message is a turn, with no mention needed."""
    return await find_arrival_thread(platform, workspace, channel, thread) is not None
