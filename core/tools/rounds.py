"""What is stored of a reply's tool use, and how later turns are given it.

Each model call of a reply that ended in tool calls is a message row of its own: role "tool", `parent_id` the
reply's row, `content` whatever text the model wrote in that round, `tool_calls` its calls (CallRecord.as_json,
in the order the model made them), and the round's model, tokens, cost and latency in the usual columns, so usage
and budgets count every model call once. The reply row keeps its last round (the answer) and, in `tool_rounds`
and `tool_ms`, how many rounds came before and how long their tools ran. A call waiting for the user's consent is
stored "awaiting" in its round, with the reply parked for `!confirm` like an expensive reply (core.tools.loop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CALL_STATES = ("awaiting", "ok", "error", "timeout", "declined", "unavailable")


@dataclass
class CallRecord:
    """One tool call of a round, as stored in `message.tool_calls`."""

    id: str  # the model's id for the call (what its result answers)
    server: str
    tool: str
    function: str  # the name the model was offered (core.tools.servers.function_name)
    arguments: str  # JSON text, as the model sent it
    shown: str  # what the thread was shown of the arguments (core.tools.shown: secrets masked)
    status: str = "awaiting"  # one of CALL_STATES
    result: str = ""  # what the model was given back (capped), or why the call did not run
    ms: float | None = None  # how long it ran

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
