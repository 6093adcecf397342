"""How a name someone typed is matched against names we know (models, providers, Ollama library entries).

One notion of "close", used by every lookup, "did you mean" and picker:

- Names are compared normalised: lower case, letters and digits only (`GPT4o` is `gpt-4o`).
- A name that equals what was typed scores 100; one that starts with it 95; one that contains it (two or more
  characters typed) 90.
- Otherwise the score is rapidfuzz's `ratio` (edit-distance similarity of the whole names), or, when what was
  typed has at least 4 characters and is not longer than the name, `partial_ratio` less 5 (a typo within the
  start or part of a longer name) if that is higher.
- Fuzzy scores are capped at 89, below any name that contains what was typed.
- A name is close when it scores CLOSE (75) or more. So `gtp-4o-mnii` is close to `gpt-4o-mini` (78),
  `lama-3.3-70b` to `llama-3.3-70b-versatile` (89), but `gpt-9-ultra` is close to neither `gpt-4o` (70) nor
  `alpha-1` (40): an unrelated name is never suggested.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from rapidfuzz import fuzz

CLOSE = 75.0
_NOT_NAME = re.compile(r"[^a-z0-9]")

T = TypeVar("T")


def normalize(text: str) -> str:
    """`GPT-4o Mini` -> `gpt4omini`: what name comparisons look at."""
    return _NOT_NAME.sub("", text.lower())


def closeness(typed: str, name: str) -> float:
    """How close `name` is to what was typed, 0 to 100 (see the module docstring)."""
    t, n = normalize(typed), normalize(name)
    if not t or not n:
        return 0.0
    if t == n:
        return 100.0
    if n.startswith(t):
        return 95.0
    if len(t) >= 2 and t in n:
        return 90.0
    score = fuzz.ratio(t, n)
    if 4 <= len(t) <= len(n):
        score = max(score, fuzz.partial_ratio(t, n) - 5)
    return min(float(score), 89.0)


def best_closeness(typed: str, names: Iterable[str | None]) -> float:
    """The closeness of the best of a thing's names (a model's name, id and alias)."""
    return max((closeness(typed, n) for n in names if n), default=0.0)


def close_matches(
    typed: str,
    items: Sequence[T],
    names: Callable[[T], Iterable[str | None]],
    *,
    limit: int | None = None,
) -> list[T]:
    """The items with a name close to `typed`, closest first (ties keep their order)."""
    scored = [(best_closeness(typed, names(item)), i) for i, item in enumerate(items)]
    ranked = sorted(((s, i) for s, i in scored if s >= CLOSE), key=lambda si: (-si[0], si[1]))
    return [items[i] for _, i in ranked[:limit]]


def close_names(typed: str, names: Sequence[str], *, limit: int | None = None) -> list[str]:
    """Names close to `typed`, closest first."""
    return close_matches(typed, names, lambda n: (n,), limit=limit)
