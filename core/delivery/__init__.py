"""Getting the core's answer in front of a person: one reply driver for every chat surface.

`drive(msg, surface)` runs a message through `core.chat.handle` and shows what it yields on a `Surface` (a Slack
thread, a Discord channel or interaction, a terminal). The driver owns everything the surfaces have in common:
holding notices and command replies while a reply streams, pacing and coalescing edits, splitting long replies
at Markdown-safe points (one splitter, `split.py`), a tool call's line between the text before it and the answer
after it (`tools.py`), and the footer under the last piece. A surface only posts,
edits and renders; it knows nothing about turns.
"""
