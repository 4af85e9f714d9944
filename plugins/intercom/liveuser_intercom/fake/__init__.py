"""A faithful fake of the Intercom REST API the connector reads, as a Starlette app.

* ``GET /conversations/{id}`` (``display_as``, ``include_translations``
  accepted), ``GET /contacts/{id}``, ``GET /contacts/find_by_external_id/{id}``
  and ``GET /me`` (with ``app.identity_verification``, set by
  ``app.state.identity_verification``).

Auth: ``Authorization: Bearer <token>``; otherwise 401 with Intercom's error
list (``{"type": "error.list", "request_id", "errors": [{"code":
"unauthorized", "message": "Access Token Invalid"}]}``). Unknown records: 404
``not_found``. An ``Intercom-Version`` outside the 2.15 enum is a 400
``intercom_version_invalid`` (code assumed). Every authenticated answer
carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (unix seconds, end of the 10-s window); past
``rate_limit`` requests in a window, or while ``app.state.throttle`` is above
zero, the answer is 429 ``rate_limit_exceeded`` without ``Retry-After``, as
Intercom documents, with the reset ``app.state.reset_in`` seconds ahead.

``app.state.requests`` counts every request, ``app.state.log`` lists
``(method, path)``. Nothing here is secret: the credentials are demo strings.
"""

from __future__ import annotations

import hmac
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import seed

FAKE_ACCESS_TOKEN: Final = "fake-intercom-access-token-not-secret"
FAKE_CLIENT_SECRET: Final = "fake-intercom-client-secret-not-secret"
FAKE_MESSENGER_JWT_SECRET: Final = "fake-intercom-messenger-api-secret-not-secret-0123"
FAKE_IDV_SECRET: Final = "fake-intercom-identity-verification-secret-not-secret"
VERSIONS: Final = frozenset(
    [f"1.{n}" for n in range(5)] + [f"2.{n}" for n in range(16)] + ["Unstable"]
)
WINDOW_SECONDS: Final = 10

__all__ = [
    "FAKE_ACCESS_TOKEN",
    "FAKE_CLIENT_SECRET",
    "FAKE_IDV_SECRET",
    "FAKE_MESSENGER_JWT_SECRET",
    "create_fake_intercom",
    "error_list",
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
        "messenger_security": "jwt",
        "messenger_email_locked": True,
        "messenger_jwt_secret": FAKE_MESSENGER_JWT_SECRET,
        "identity_verification_secret": FAKE_IDV_SECRET,
    }
    settings.update(overrides)
    return settings


def error_list(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }
    return JSONResponse(body, status_code=status, headers=headers or None)


def _not_found() -> JSONResponse:
    return error_list(404, "not_found", "Resource Not Found")


def create_fake_intercom(*, rate_limit: int = 167) -> Starlette:
    """A fresh fake with the seed records of :mod:`liveuser_intercom.fake.seed`.

    ``rate_limit`` is per 10-s window (Intercom's 1,000/min app is 167 per window).
    """

    def authorized(request: Request) -> bool:
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.encode(), FAKE_ACCESS_TOKEN.encode()
        )

    def limited(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            state = app.state
            state.requests += 1
            state.log.append((request.method, request.url.path))
            state.versions.append(request.headers.get("intercom-version"))
            now = time.time()
            window = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
            if window != state.window_start:
                state.window_start, state.window_count = window, 0
            state.window_count += 1
            reset = window + WINDOW_SECONDS
            if not authorized(request):
                return error_list(401, "unauthorized", "Access Token Invalid")
            version = request.headers.get("intercom-version")
            limits = {
                "X-RateLimit-Limit": str(rate_limit),
                "X-RateLimit-Remaining": str(max(rate_limit - state.window_count, 0)),
                "X-RateLimit-Reset": str(reset),
            }
            if state.throttle > 0 or state.window_count > rate_limit:
                state.throttle = max(state.throttle - 1, 0)
                if state.window_count <= rate_limit:
                    limits["X-RateLimit-Reset"] = str(math.ceil(now + state.reset_in))
                limits["X-RateLimit-Remaining"] = "0"
                return error_list(
                    429,
                    "rate_limit_exceeded",
                    f"Exceeded rate limit of {rate_limit} in 10_seconds",
                    **limits,
                )
            if version is not None and version not in VERSIONS:
                answer: Response = error_list(
                    400, "intercom_version_invalid", f"Requested version {version} is invalid"
                )
            else:
                answer = await handler(request)
            for name, value in limits.items():
                answer.headers[name] = value
            return answer

        return endpoint

    async def show_conversation(request: Request) -> Response:
        cid = request.path_params["conversation_id"]
        if cid == seed.SERVER_ERROR:
            return error_list(500, "server_error", "Server Error")
        found = seed.CONVERSATIONS.get(cid)
        if found is None:
            return _not_found()
        if cid == seed.MALFORMED:
            return Response(
                '{"type": "conversation", "id": "502", "source": ', media_type="application/json"
            )
        return JSONResponse(found)

    async def show_contact(request: Request) -> Response:
        found = seed.CONTACTS.get(request.path_params["contact_id"])
        return _not_found() if found is None else JSONResponse(found)

    async def find_by_external_id(request: Request) -> Response:
        wanted = request.path_params["external_id"]
        found = next(
            (
                c
                for c in seed.CONTACTS.values()
                if c["role"] == "user" and c["external_id"] == wanted
            ),
            None,
        )
        return _not_found() if found is None else JSONResponse(found)

    async def me(request: Request) -> Response:
        body = {**seed.ME, "app": {**seed.ME["app"]}}
        body["app"]["identity_verification"] = bool(app.state.identity_verification)
        return JSONResponse(body)

    async def unknown(request: Request) -> Response:
        return _not_found()

    routes = [
        Route("/conversations/{conversation_id}", limited(show_conversation), methods=["GET"]),
        Route(
            "/contacts/find_by_external_id/{external_id}",
            limited(find_by_external_id),
            methods=["GET"],
        ),
        Route("/contacts/{contact_id}", limited(show_contact), methods=["GET"]),
        Route("/me", limited(me), methods=["GET"]),
        Route("/{rest:path}", limited(unknown)),
    ]
    app = Starlette(routes=routes)
    app.state.requests = 0
    app.state.log = []
    app.state.versions = []
    app.state.throttle = 0
    app.state.reset_in = 1
    app.state.identity_verification = True
    app.state.window_start = 0
    app.state.window_count = 0
    return app
