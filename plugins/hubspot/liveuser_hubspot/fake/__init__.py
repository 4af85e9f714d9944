"""A faithful fake of the HubSpot APIs the connector reads, as a Starlette app.

* ``GET /conversations/v3/conversations/threads/{threadId}`` (``PublicThread``);
* ``GET .../threads/{threadId}/messages`` (``limit``/``after`` cursor paging,
  ``{"results", "paging": {"next": {"after", "link"}}}``) and
  ``GET .../threads/{threadId}/messages/{messageId}``;
* ``GET /conversations/v3/conversations/actors/{actorId}`` (``VisitorActor``);
* ``GET /crm/v3/objects/contacts/{contactId}`` (``properties`` comma list);
* ``POST /visitor-identification/v3/tokens/create`` (and the older
  ``/conversations/v3/visitor-identification/tokens/create``).

Auth: ``Authorization: Bearer <token>``; otherwise 401 with HubSpot's
``INVALID_AUTHENTICATION`` error body. Errors use HubSpot's ``Error`` shape
(``status``, ``message``, ``correlationId``, ``category``). Every answer
carries ``X-HubSpot-RateLimit-*`` headers (daily and 10-second burst window);
past ``burst_limit`` requests per window (``app.state.window_ms``, 10 s), or
while ``app.state.throttle`` is above zero, the answer is 429 with
``policyName: TEN_SECONDLY_ROLLING`` (no ``Retry-After``: HubSpot does not
document one); ``app.state.daily_exhausted``
answers ``policyName: DAILY``.

``app.state.requests`` counts every request, ``app.state.log`` lists
``(method, path)`` and ``app.state.tokens`` the identification tokens minted.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import seed

FAKE_ACCESS_TOKEN: Final = "pat-na1-fake0000-0000-4000-8000-not0secret00"
FAKE_CLIENT_SECRET: Final = "fake-hubspot-client-secret-not-secret"
BURST_WINDOW_MS: Final = 10_000

__all__ = [
    "FAKE_ACCESS_TOKEN",
    "FAKE_CLIENT_SECRET",
    "create_fake_hubspot",
    "fake_settings",
    "seed",
]

Handler = Callable[[Request], Awaitable[Response]]


def fake_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The connector's settings pointing at a fake served at ``url``."""
    settings: dict[str, Any] = {
        "base_url": url,
        "access_token": FAKE_ACCESS_TOKEN,
        "client_secret": FAKE_CLIENT_SECRET,
        "support_addresses": [seed.SUPPORT_ADDRESS],
    }
    settings.update(overrides)
    return settings


def error(status: int, category: str, message: str, **extra: Any) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status)


def _not_found(what: str, value: str) -> JSONResponse:
    return error(404, "OBJECT_NOT_FOUND", f"{what} not found.", context={"id": [value]})


def create_fake_hubspot(*, burst_limit: int = 190, daily_limit: int = 650_000) -> Starlette:
    """A fresh fake HubSpot seeded with :mod:`.seed`."""
    threads, messages = seed.build()
    window: deque[float] = deque()

    async def thread(request: Request) -> Response:
        tid = request.path_params["thread_id"]
        if tid == seed.BROKEN:
            return error(500, "INTERNAL_ERROR", "An internal error occurred.")
        if tid == seed.MALFORMED:
            return Response(b'{"id": "7000000501", "status": ', media_type="application/json")
        found = threads.get(tid)
        return JSONResponse(found) if found else _not_found("Thread", tid)

    async def thread_messages(request: Request) -> Response:
        tid = request.path_params["thread_id"]
        if tid not in messages:
            return _not_found("Thread", tid)
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), 500)
            start = int(request.query_params.get("after", "0") or "0")
        except ValueError:
            return error(400, "VALIDATION_ERROR", "Invalid input JSON or query parameters.")
        results = messages[tid][start : start + limit]
        body: dict[str, Any] = {"results": results}
        if start + limit < len(messages[tid]):
            after = str(start + limit)
            link = f"{request.url.replace(query=f'after={after}&limit={limit}')}"
            body["paging"] = {"next": {"after": after, "link": link}}
        return JSONResponse(body)

    async def message(request: Request) -> Response:
        tid, mid = request.path_params["thread_id"], request.path_params["message_id"]
        for found in messages.get(tid, []):
            if found["id"] == mid:
                return JSONResponse(found)
        return _not_found("Message", mid)

    async def actor(request: Request) -> Response:
        aid = request.path_params["actor_id"]
        kind, _, cid = aid.partition("-")
        if kind == "V" and cid in seed.CONTACTS:
            props = seed.CONTACTS[cid]
            name = " ".join(p for p in (props["firstname"], props["lastname"]) if p)
            visitor = {"type": "VISITOR", "id": aid, "name": name, "email": props["email"]}
            return JSONResponse(visitor)
        if kind == "A":
            return JSONResponse({"type": "AGENT", "id": aid, "name": "Sam Agent"})
        return _not_found("Actor", aid)

    async def contact(request: Request) -> Response:
        cid = request.path_params["contact_id"]
        props = seed.CONTACTS.get(cid)
        if props is None:
            return error(
                404,
                "OBJECT_NOT_FOUND",
                "Object not found.  objectId are usually numeric.",
                context={"id": [cid]},
            )
        # A comma list (``properties=email,firstname``) or the parameter repeated, as
        # HubSpot's official clients send it (``properties=email&properties=firstname``).
        wanted = [
            name
            for value in request.query_params.getlist("properties")
            for name in value.split(",")
            if name
        ]
        shown = {
            "createdate": "2026-03-02T10:11:12.000Z",
            "hs_object_id": cid,
            "lastmodifieddate": "2026-11-20T09:14:05.000Z",
        }
        for name in wanted:
            shown[name] = props.get(name)
        return JSONResponse(
            {
                "id": cid,
                "properties": shown,
                "createdAt": "2026-03-02T10:11:12Z",
                "updatedAt": "2026-11-20T09:14:05Z",
                "archived": False,
            }
        )

    async def identification_token(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1.")
        email = body.get("email") if isinstance(body, dict) else None
        if not isinstance(email, str) or "@" not in email:
            return error(400, "VALIDATION_ERROR", "Invalid input: email is required.")
        token = secrets.token_urlsafe(48)
        app.state.tokens.append((email, token))
        return JSONResponse({"token": token})

    def rate_headers(remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(
                0 if app.state.daily_exhausted else max(daily_limit - app.state.requests, 0)
            ),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(app.state.window_ms),
            "X-HubSpot-RateLimit-Max": str(burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
        }

    def guarded(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            app.state.requests += 1
            app.state.log.append((request.method, request.url.path))
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.encode(), FAKE_ACCESS_TOKEN.encode()
            ):
                return error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                )
            now = time.monotonic()
            while window and now - window[0] > app.state.window_ms / 1000:
                window.popleft()
            window.append(now)
            remaining = burst_limit - len(window)
            headers = rate_headers(remaining)
            if app.state.daily_exhausted:
                return _limited("DAILY", "You have reached your daily limit.", headers)
            if app.state.throttle > 0 or remaining < 0:
                app.state.throttle = max(app.state.throttle - 1, 0)
                headers["X-HubSpot-RateLimit-Remaining"] = "0"
                return _limited(
                    "TEN_SECONDLY_ROLLING",
                    "You have reached your ten_secondly_rolling limit.",
                    headers,
                )
            response = await handler(request)
            response.headers.update(headers)
            return response

        return wrapper

    base = "/conversations/v3/conversations"
    routes = [
        Route(f"{base}/threads/{{thread_id}}", guarded(thread)),
        Route(f"{base}/threads/{{thread_id}}/messages", guarded(thread_messages)),
        Route(f"{base}/threads/{{thread_id}}/messages/{{message_id}}", guarded(message)),
        Route(f"{base}/actors/{{actor_id}}", guarded(actor)),
        Route("/crm/v3/objects/contacts/{contact_id}", guarded(contact)),
        Route(
            "/visitor-identification/v3/tokens/create",
            guarded(identification_token),
            methods=["POST"],
        ),
        Route(
            "/conversations/v3/visitor-identification/tokens/create",
            guarded(identification_token),
            methods=["POST"],
        ),
    ]
    app = Starlette(routes=routes)
    app.state.requests = 0
    app.state.log = []
    app.state.tokens = []
    app.state.throttle = 0
    app.state.daily_exhausted = False
    app.state.window_ms = BURST_WINDOW_MS
    return app


def _limited(policy: str, message: str, headers: dict[str, str]) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=429, headers=headers)
