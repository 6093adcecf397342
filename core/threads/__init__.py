"""Conversations and what happens to them: threads, messages and reply claims (conversations, and aio: the same
for code on the event loop), turn order within a thread across processes (order), notices waiting to be posted
into their threads (notices), and the settling of replies left pending by a stopped process (recovery)."""
