"""Read-only reports over stored usage: usage and spend figures (usage, spend, analytics), the admin's thread and
conversation browsing (threads) and per-model performance over time (performance). Nothing here writes."""
