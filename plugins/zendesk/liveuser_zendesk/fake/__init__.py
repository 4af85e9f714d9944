"""A faithful fake of the Zendesk APIs the connector reads, as a Starlette app.

Support API (``/api/v2/...``, with or without a ``.json`` suffix):

* ``GET /api/v2/tickets/{id}`` with ``include=users`` side-loading the
  requester, submitter, assignee, CCs and followers as top-level ``users``;
* ``GET /api/v2/users/{id}`` and ``GET /api/v2/users/{id}/identities`` (offset
  envelope by default, cursor ``page[size]``/``page[after]`` with
  ``meta``/``links``).

Auth: ``Basic base64("{email}/token:{api_token}")`` or ``Bearer {oauth}``;
otherwise 401 ``{"error": "Couldn't authenticate you"}``. Unknown records:
404 ``{"error": "RecordNotFound", "description": "Not found"}``. Every answer
carries ``X-Rate-Limit`` / ``X-Rate-Limit-Remaining``; past ``rate_limit``
requests a minute, or while ``app.state.throttle`` is above zero, the answer
is 429 with ``Retry-After`` (``app.state.retry_after`` seconds).

Messaging (Sunshine Conversations v2, under ``/sc``):
``GET /sc/v2/apps/{app}/users/{id}`` and
``GET /sc/v2/apps/{app}/conversations/{id}/participants``, with HTTP Basic
(key id, secret); errors are ``{"errors": [{"code", "title"}]}``.

``app.state.requests`` counts every request, ``app.state.log`` lists
``(method, path)``. Nothing here is secret: the credentials are demo strings.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import seed

FAKE_EMAIL: Final = "liveuser-bot@acme.example"
FAKE_API_TOKEN: Final = "fake-zendesk-api-token-not-secret"
FAKE_OAUTH_TOKEN: Final = "fake-zendesk-oauth-token-not-secret"
FAKE_APP_ID: Final = "5f1c0ffee0ddba11c0ffee01"
FAKE_KEY_ID: Final = "app_5f1c0ffee0ddba11c0ffee02"
FAKE_KEY_SECRET: Final = "fake-sunco-key-secret-not-secret-0123456789"
FAKE_JWT_KID: Final = "app_6d1a2b3c4d5e6f7a8b9c0d1e"
FAKE_JWT_SECRET: Final = "fake-messaging-login-jwt-secret-not-secret-0123456789"
FAKE_WEBHOOK_SECRET: Final = "fake-zendesk-webhook-signing-secret-not-secret"
FAKE_MESSAGING_WEBHOOK_SECRET: Final = "fake-sunco-webhook-secret-not-secret"

__all__ = [
    "FAKE_API_TOKEN",
    "FAKE_APP_ID",
    "FAKE_EMAIL",
    "FAKE_JWT_KID",
    "FAKE_JWT_SECRET",
    "FAKE_KEY_ID",
    "FAKE_KEY_SECRET",
    "FAKE_MESSAGING_WEBHOOK_SECRET",
    "FAKE_OAUTH_TOKEN",
    "FAKE_WEBHOOK_SECRET",
    "create_fake_zendesk",
    "fake_settings",
    "seed",
]

Handler = Callable[[Request], Awaitable[Response]]


def fake_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The connector's settings pointing at a fake served at ``url``."""
    settings: dict[str, Any] = {
        "base_url": url,
        "auth": "api_token",
        "email": FAKE_EMAIL,
        "api_token": FAKE_API_TOKEN,
        "webhook_secret": FAKE_WEBHOOK_SECRET,
        "messaging_app_id": FAKE_APP_ID,
        "messaging_key_id": FAKE_KEY_ID,
        "messaging_key_secret": FAKE_KEY_SECRET,
        "messaging_webhook_secret": FAKE_MESSAGING_WEBHOOK_SECRET,
        "messaging_jwt_keys": {FAKE_JWT_KID: FAKE_JWT_SECRET},
    }
    settings.update(overrides)
    return settings


def _support_error(status: int, error: str, description: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error}
    if description is not None:
        body["description"] = description
    return JSONResponse(body, status_code=status)


def _not_found() -> JSONResponse:
    return _support_error(404, "RecordNotFound", "Not found")


def _sc_error(status: int, code: str, title: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "title": title}]}, status_code=status)


def _basic(request: Request) -> tuple[str, str] | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def create_fake_zendesk(*, rate_limit: int = 700) -> Starlette:
    """A fresh fake with the seed records of :mod:`liveuser_zendesk.fake.seed`."""

    def support_authorized(request: Request) -> bool:
        value = request.headers.get("authorization", "")
        if value.startswith("Bearer "):
            return _same(value[len("Bearer ") :], FAKE_OAUTH_TOKEN)
        creds = _basic(request)
        return (
            creds is not None
            and _same(creds[0], f"{FAKE_EMAIL}/token")
            and _same(creds[1], FAKE_API_TOKEN)
        )

    def limited(handler: Handler, *, support: bool) -> Handler:
        async def endpoint(request: Request) -> Response:
            state = app.state
            state.requests += 1
            state.log.append((request.method, request.url.path))
            now = time.monotonic()
            if now - state.window_start >= 60:
                state.window_start, state.window_count = now, 0
            state.window_count += 1
            remaining = max(rate_limit - state.window_count, 0)
            if state.throttle > 0 or state.window_count > rate_limit:
                state.throttle = max(state.throttle - 1, 0)
                wait = state.retry_after if state.window_count <= rate_limit else 60
                answer: Response = JSONResponse(
                    {
                        "error": "APIRateLimitExceeded",
                        "description": "Number of allowed API requests per minute exceeded",
                    },
                    status_code=429,
                    headers={"Retry-After": str(int(wait))},
                )
            elif support and not support_authorized(request):
                answer = _support_error(401, "Couldn't authenticate you")
            elif not support and not sc_authorized(request):
                answer = _sc_error(401, "unauthorized", "Authorization is required")
            else:
                answer = await handler(request)
            if support:
                answer.headers["X-Rate-Limit"] = str(rate_limit)
                answer.headers["X-Rate-Limit-Remaining"] = str(remaining)
            return answer

        return endpoint

    def sc_authorized(request: Request) -> bool:
        creds = _basic(request)
        return (
            creds is not None and _same(creds[0], FAKE_KEY_ID) and _same(creds[1], FAKE_KEY_SECRET)
        )

    async def show_ticket(request: Request) -> Response:
        tid = int(request.path_params["ticket_id"])
        if tid == seed.SERVER_ERROR:
            return _support_error(500, "InternalServerError", "Something went wrong")
        ticket = seed.TICKETS.get(tid)
        if ticket is None:
            return _not_found()
        if tid == seed.MALFORMED:
            return Response(
                '{"ticket": {"id": 1502, "requester_id": ', media_type="application/json"
            )
        body: dict[str, Any] = {"ticket": ticket}
        include = {part.strip() for part in request.query_params.get("include", "").split(",")}
        if "users" in include:
            ids = [
                ticket["requester_id"],
                ticket["submitter_id"],
                ticket["assignee_id"],
                *ticket["collaborator_ids"],
                *ticket["email_cc_ids"],
                *ticket["follower_ids"],
            ]
            body["users"] = [seed.USERS[i] for i in dict.fromkeys(ids) if i in seed.USERS]
        return JSONResponse(body)

    async def show_user(request: Request) -> Response:
        user = seed.USERS.get(int(request.path_params["user_id"]))
        return _not_found() if user is None else JSONResponse({"user": user})

    async def list_identities(request: Request) -> Response:
        uid = int(request.path_params["user_id"])
        if uid not in seed.USERS:
            return _not_found()
        identities = seed.IDENTITIES[uid]
        size = request.query_params.get("page[size]")
        if size is None:  # offset pagination, the default envelope
            return JSONResponse(
                {
                    "identities": identities,
                    "next_page": None,
                    "previous_page": None,
                    "count": len(identities),
                }
            )
        if not size.isdigit() or not 1 <= int(size) <= 100:
            return _support_error(
                400, "InvalidPaginationParameter", "page[size] must be between 1 and 100"
            )
        after = request.query_params.get("page[after]")
        start = int(after) if after is not None and after.isdigit() else 0
        page = identities[start : start + int(size)]
        more = start + len(page) < len(identities)
        cursor = str(start + len(page)) if more else None
        base = f"{request.url.path}?page[size]={size}"
        return JSONResponse(
            {
                "identities": page,
                "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
                "links": {"next": f"{base}&page[after]={cursor}" if more else None, "prev": None},
            }
        )

    async def sc_user(request: Request) -> Response:
        if request.path_params["app_id"] != FAKE_APP_ID:
            return _sc_error(404, "app_not_found", "App not found")
        wanted = request.path_params["user_id"]
        user = seed.SC_USERS.get(wanted) or next(
            (u for u in seed.SC_USERS.values() if u["externalId"] == wanted), None
        )
        if user is None:
            return _sc_error(404, "user_not_found", "User not found")
        return JSONResponse({"user": user})

    async def sc_participants(request: Request) -> Response:
        if request.path_params["app_id"] != FAKE_APP_ID:
            return _sc_error(404, "app_not_found", "App not found")
        members = seed.SC_CONVERSATIONS.get(request.path_params["conversation_id"])
        if members is None:
            return _sc_error(404, "conversation_not_found", "Conversation not found")
        participants = [
            {
                "id": f"p_{uid}",
                "userId": uid,
                "userExternalId": seed.SC_USERS[uid]["externalId"],
                "unreadCount": 0,
                "clientAssociations": [],
                "lastRead": "2026-11-02T09:15:00.000Z",
            }
            for uid in members
        ]
        return JSONResponse(
            {
                "participants": participants,
                "meta": {"hasMore": False, "afterCursor": None, "beforeCursor": None},
                "links": {},
            }
        )

    async def support_not_found(request: Request) -> Response:
        return _not_found()

    def support(path: str, handler: Handler) -> list[Route]:
        wrapped = limited(handler, support=True)
        return [
            Route(path, wrapped, methods=["GET"]),
            Route(f"{path}.json", wrapped, methods=["GET"]),
        ]

    routes = [
        *support("/api/v2/tickets/{ticket_id:int}", show_ticket),
        *support("/api/v2/users/{user_id:int}/identities", list_identities),
        *support("/api/v2/users/{user_id:int}", show_user),
        Route(
            "/sc/v2/apps/{app_id}/users/{user_id}",
            limited(sc_user, support=False),
            methods=["GET"],
        ),
        Route(
            "/sc/v2/apps/{app_id}/conversations/{conversation_id}/participants",
            limited(sc_participants, support=False),
            methods=["GET"],
        ),
        Route("/api/v2/{rest:path}", limited(support_not_found, support=True)),
    ]
    app = Starlette(routes=routes)
    app.state.requests = 0
    app.state.log = []
    app.state.throttle = 0
    app.state.retry_after = 1
    app.state.window_start = time.monotonic()
    app.state.window_count = 0
    return app
