"""An example business endpoint that honours the HTTP action contract.

Used by the tests and the demo, served on 127.0.0.1: subscriptions by owner,
and one action, ``pause_subscription`` (arguments ``subscription`` and
``weeks``). A subscription of another identifier answers 404 exactly like
one that does not exist; an execution is applied at most once per
``Idempotency-Key``; ``GET`` reads an execution back by its key.
``app.state.applied`` lists every change made, ``app.state.stages`` every
POST's stage; ``app.state.faults`` makes the next executions answer ``"500"``
before changing anything.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

EXAMPLE_KEY: Final = "example-actions-key-not-secret"
PAUSE: Final = "pause_subscription"
PAUSE_PARAMETERS: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "subscription": {"type": "string", "pattern": "^SUB-[0-9]{1,6}$"},
        "weeks": {"type": "integer", "minimum": 1, "maximum": 8},
    },
    "required": ["subscription", "weeks"],
    "additionalProperties": False,
}


def _subscriptions() -> dict[str, dict[str, Any]]:
    return {
        "SUB-1": {"owner": "ann@example.com", "plan": "Coffee monthly", "state": "active"},
        "SUB-2": {"owner": "bob@example.com", "plan": "Tea weekly", "state": "active"},
        "SUB-3": {"owner": "ann@example.com", "plan": "Filters", "state": "cancelled"},
    }


def create_action_endpoint() -> Starlette:
    """A fresh endpoint: its own subscriptions, executions and fault list."""

    async def actions(request: Request) -> JSONResponse:
        state = request.app.state
        if request.headers.get("authorization") != f"Bearer {EXAMPLE_KEY}":
            return JSONResponse({"error": "bad key"}, status_code=401)
        if request.method == "GET":
            done = state.executions.get(request.query_params.get("idempotency_key", ""))
            if done is None:
                return JSONResponse({"error": "unknown key"}, status_code=404)
            return JSONResponse(done)
        body = await request.json()
        state.stages.append(body.get("stage"))
        if body.get("action") != PAUSE:
            return JSONResponse({"error": "unknown action"}, status_code=422)
        args = body.get("arguments") or {}
        record = state.subscriptions.get(args.get("subscription"))
        if record is None or record["owner"] != body.get("identifier"):
            return JSONResponse({"error": "not found"}, status_code=404)
        if record["state"] != "active":
            return JSONResponse(
                {"error": f"the subscription is {record['state']}"}, status_code=409
            )
        weeks = int(args["weeks"])
        if body.get("stage") == "propose":
            summary = (
                f"Pause your subscription {args['subscription']} ({record['plan']}) for "
                f"{weeks} week{'s' if weeks > 1 else ''}; no deliveries and no charges until "
                "it resumes."
            )
            return JSONResponse({"summary": summary, "state": record["state"]})
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse({"error": "Idempotency-Key is required"}, status_code=422)
        if key in state.executions:
            return JSONResponse(state.executions[key])
        if state.faults:
            state.faults.pop(0)
            return JSONResponse({"error": "internal"}, status_code=500)
        record["state"] = "paused"
        state.applied.append((args["subscription"], weeks))
        state.executions[key] = {
            "status": "done",
            "detail": f"Subscription {args['subscription']} is paused for {weeks} weeks.",
        }
        return JSONResponse(state.executions[key])

    app = Starlette(routes=[Route("/actions", actions, methods=["GET", "POST"])])
    app.state.subscriptions = _subscriptions()
    app.state.executions = {}
    app.state.applied = []
    app.state.faults = []
    app.state.stages = []
    return app


def pause_action_settings(url: str) -> dict[str, Any]:
    """The ``[[tenants.x.actions.http]]`` entry for the example's action at ``url``."""
    return {
        "name": PAUSE,
        "description": "Pause one of the customer's subscriptions for 1 to 8 weeks.",
        "parameters": PAUSE_PARAMETERS,
        "url": f"{url}/actions",
        "api_key": f"Bearer {EXAMPLE_KEY}",
        "header_name": "Authorization",
        "states": ["active"],
    }
