"""assistant.threads.setStatus / setSuggestedPrompts / setTitle."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.models import ApiCall, SlackError, Workspace


class AssistantMixin:
    """Part of FakeSlack (server.py)."""

    # Each takes (params, workspace, call) and returns the JSON body; raise SlackError for ok:false.

    @staticmethod
    def _thread_key(params: dict[str, Any]) -> tuple[str, str]:
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        if not channel or not thread_ts:
            raise SlackError("invalid_arguments")
        return str(channel), str(thread_ts)

    def _assistant_set_status(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        if "status" not in params:
            raise SlackError("invalid_arguments")
        self.assistant_status[self._thread_key(params)].append(str(params["status"]))
        return {"ok": True}

    def _assistant_set_prompts(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        prompts = params.get("prompts")
        if not isinstance(prompts, list) or not prompts:
            raise SlackError("invalid_arguments")
        self.assistant_prompts[self._thread_key(params)] = prompts
        return {"ok": True}

    def _assistant_set_title(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self.assistant_titles[self._thread_key(params)] = str(params.get("title") or "")
        return {"ok": True}
