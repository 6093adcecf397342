"""Conversations and what happens to them: threads, messages and reply claims (conversations), notices waiting to
be posted into their threads (notices), and the settling of replies left pending by a stopped process (recovery)."""
