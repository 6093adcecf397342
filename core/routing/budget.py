"""What routing needs from a budget: one async context manager per model attempt.

    async with gate.attempt(model, prompt_tokens, max_output, primary=..., if_cut=...) as hold:
        if hold.refusal is not None: ...  # refused, or asks to confirm first: the model is not called
        ...                               # stream; `await hold.grow(n)` when the reply outgrows what is held
        hold.record(result)               # what the attempt really used

Entering admits the attempt (estimate, confirmation, reservation) and keeps the reservation alive while the
block runs. Leaving it always closes the reservation: settled with the recorded usage; when the block ends
by an exception (cancellation, the caller's aclose(), a bug) before anything was recorded, settled with
`if_cut()` (what was really used so far); released when a block ends normally having recorded nothing (the
attempt failed and used nothing).

routing owns this interface; core.budgets.gate.Budgeter implements it, and the caller (core.chat,
core.commands) puts one into the RouteSpec: routing never imports the concrete budgeter.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Protocol

from core.models.registry import ModelInfo
from core.types import Reply, TurnResult


class BudgetHold(Protocol):
    """One admitted (or refused) attempt, as the block inside `BudgetGate.attempt` sees it."""

    @property
    def refusal(self) -> Reply | None:
        """Show this instead of calling the model (a refusal, or a question to confirm first)."""

    @property
    def notice(self) -> str | None:
        """Something to tell the user before the reply (e.g. a warn-only budget goes over)."""

    async def grow(self, output_tokens: int) -> bool:
        """Hold `output_tokens` more output; False when a hard budget cannot cover them (the reply stops)."""

    def record(self, used: TurnResult) -> None:
        """What the attempt really used: the reservation is settled with it on leaving the block."""


class BudgetGate(Protocol):
    def attempt(
        self,
        model: ModelInfo,
        prompt_tokens: int,
        max_output: int,
        *,
        primary: bool,
        if_cut: Callable[[], TurnResult],
    ) -> AbstractAsyncContextManager[BudgetHold]:
        """Admit one attempt on `model` (`primary`: the thread's own model, which may ask to confirm)."""


class _Free:
    """The hold of an attempt no budget applies to: always admitted, grows freely, nothing to settle."""

    refusal: Reply | None = None
    notice: str | None = None

    async def grow(self, output_tokens: int) -> bool:
        return True

    def record(self, used: TurnResult) -> None:
        pass


class Unbudgeted:
    """The gate of a turn without budgets or confirmations."""

    _hold = _Free()

    def attempt(
        self,
        model: ModelInfo,
        prompt_tokens: int,
        max_output: int,
        *,
        primary: bool,
        if_cut: Callable[[], TurnResult],
    ) -> AbstractAsyncContextManager[BudgetHold]:
        return nullcontext(self._hold)


UNBUDGETED: BudgetGate = Unbudgeted()
