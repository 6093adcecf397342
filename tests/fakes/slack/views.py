"""views.open / views.push / views.update / views.publish, and the trigger_ids they consume."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.fakes.slack.blocks import validate_blocks
from tests.fakes.slack.models import ApiCall, SlackError, View, Workspace

TRIGGER_TTL_S = 3.0  # trigger_ids expire 3 s after the interaction


class ViewsMixin:
    """Part of FakeSlack (server.py)."""

    def new_trigger_id(self) -> str:
        """A trigger_id Slack would put in an interaction: valid for 3 s and for one views.open/push."""
        trigger = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(16)}"
        with self._state:
            self._triggers[trigger] = (time.monotonic(), False)
        return trigger

    # Each takes (params, workspace, call) and returns the JSON body; raise SlackError for ok:false.

    def _use_trigger(self, trigger_id: Any) -> None:
        if not trigger_id:
            raise SlackError("invalid_arguments")
        issued = self._triggers.get(str(trigger_id))
        if issued is None:
            return  # minted outside the fake: accept it
        at, used = issued
        if used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - at > self.trigger_ttl_s:
            raise SlackError("expired_trigger_id")
        self._triggers[str(trigger_id)] = (at, True)

    def _new_view(self, body: Any, ws: Workspace, **kw: Any) -> View:
        if not isinstance(body, dict) or "type" not in body:
            raise SlackError("invalid_arguments")
        if "blocks" in body:
            errors = validate_blocks(body["blocks"])
            if errors:
                raise SlackError("invalid_arguments", response_metadata={"messages": errors})
        view = View(f"V{next(self._ids):010d}", ws.team_id, body["type"], body, self._hash(), **kw)
        self.views[view.id] = view
        return view

    @staticmethod
    def _hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _views_open(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self._use_trigger(params.get("trigger_id"))
        view = self._new_view(params.get("view"), ws)
        return {"ok": True, "view": view.to_api(ws)}

    def _views_push(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self._use_trigger(params.get("trigger_id"))
        roots = [v for v in self.views.values() if v.type == "modal" and v.team_id == ws.team_id]
        previous = roots[-1] if roots else None
        view = self._new_view(
            params.get("view"),
            ws,
            previous_view_id=previous.id if previous else None,
            root_view_id=(previous.root_view_id or previous.id) if previous else None,
        )
        return {"ok": True, "view": view.to_api(ws)}

    def _views_update(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        view = self.views.get(str(params.get("view_id") or ""))
        if view is None and params.get("external_id"):
            view = next((v for v in self.views.values() if v.body.get("external_id") == params["external_id"]), None)
        if view is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != view.hash:
            raise SlackError("hash_conflict")
        body = params.get("view")
        if not isinstance(body, dict):
            raise SlackError("invalid_arguments")
        view.history.append(view.body)
        view.body, view.type, view.hash = body, body.get("type", view.type), self._hash()
        return {"ok": True, "view": view.to_api(ws)}

    def _views_publish(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        if not user_id:
            raise SlackError("invalid_arguments")
        body = params.get("view")
        if not isinstance(body, dict) or body.get("type") != "home":
            raise SlackError("invalid_arguments")
        current = self.home_views.get(user_id)
        if current is not None and params.get("hash") and params["hash"] != current.hash:
            raise SlackError("hash_conflict")
        if current is None:
            current = self._new_view(body, ws, user_id=user_id)
            self.home_views[user_id] = current
        else:
            current.history.append(current.body)
            current.body, current.hash = body, self._hash()
        return {"ok": True, "view": current.to_api(ws)}
