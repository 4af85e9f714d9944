"""A faithful fake of the Gorgias REST API paths the connector reads, as a Starlette app.

* ``GET /api/tickets/{id}`` (with or without a trailing slash): the ticket with
  its ``customer`` (``email``, ``channels``) and every ``messages[]`` embedded,
  shaped after a recorded real answer (NangoHQ/integration-templates' Gorgias mocks);
* ``GET /api/customers/{id}`` (with or without a trailing slash).

Auth: HTTP Basic ``base64("{email}:{api_key}")``; otherwise 401
``{"error": {"msg": "Unauthorized."}}``. Unknown records and paths: 404
``{"error": {"msg": "Resource not found."}}``; other methods: 405
``{"error": {"msg": "The specified HTTP method is not allowed."}}``.

Rate limit: a leaky bucket per account, ``capacity`` requests (40 for an API
key) leaking ``capacity / window`` per second (20 s). Every answer carries
``X-Gorgias-Account-Api-Call-Limit: used/capacity``; over the limit, or while
``app.state.throttle`` is above zero, the answer is 429 with ``Retry-after``
(``app.state.retry_after`` seconds while throttled).

``app.state.requests`` counts every request, ``app.state.log`` lists
``(method, path)``. Nothing here is secret: the credentials are demo strings.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import seed

FAKE_EMAIL: Final = "liveuser-bot@acme.example"
FAKE_API_KEY: Final = "fake-gorgias-api-key-not-secret-0123456789"
FAKE_WEBHOOK_TOKEN: Final = "fake-gorgias-http-integration-token-not-secret"

__all__ = [
    "FAKE_API_KEY",
    "FAKE_EMAIL",
    "FAKE_WEBHOOK_TOKEN",
    "create_fake_gorgias",
    "fake_settings",
    "seed",
]

Handler = Callable[[Request], Awaitable[Response]]


def fake_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The connector's settings pointing at a fake served at ``url``."""
    settings: dict[str, Any] = {
        "base_url": url,
        "email": FAKE_EMAIL,
        "api_key": FAKE_API_KEY,
        "webhook_token": FAKE_WEBHOOK_TOKEN,
    }
    settings.update(overrides)
    return settings


def _error(status: int, msg: str, **extra: str) -> JSONResponse:
    return JSONResponse({"error": {"msg": msg}}, status_code=status, headers=extra or None)


def _not_found() -> JSONResponse:
    return _error(404, "Resource not found.")


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


def create_fake_gorgias(*, capacity: int = 40, window: float = 20.0) -> Starlette:
    """A fresh fake with the seed records of :mod:`liveuser_gorgias.fake.seed`."""
    leak = capacity / window

    def authorized(request: Request) -> bool:
        creds = _basic(request)
        return creds is not None and _same(creds[0], FAKE_EMAIL) and _same(creds[1], FAKE_API_KEY)

    def limited(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            state = app.state
            state.requests += 1
            state.log.append((request.method, request.url.path))
            now = time.monotonic()
            state.level = max(0.0, state.level - (now - state.leaked_at) * leak)
            state.leaked_at = now
            if state.throttle > 0:
                state.throttle -= 1
                answer: Response = _error(
                    429, "Too many requests.", **{"Retry-after": str(state.retry_after)}
                )
            elif state.level + 1 > capacity:
                wait = math.ceil((state.level + 1 - capacity) / leak)
                answer = _error(429, "Too many requests.", **{"Retry-after": str(wait)})
            else:
                state.level += 1
                if not authorized(request):
                    answer = _error(401, "Unauthorized.")
                elif request.method != "GET":
                    answer = _error(405, "The specified HTTP method is not allowed.")
                else:
                    answer = await handler(request)
            used = min(capacity, math.ceil(state.level))
            answer.headers["X-Gorgias-Account-Api-Call-Limit"] = f"{used}/{capacity}"
            return answer

        return endpoint

    async def show_ticket(request: Request) -> Response:
        tid = int(request.path_params["ticket_id"])
        if tid == seed.SERVER_ERROR:
            return _error(500, "Internal server error.")
        ticket = seed.TICKETS.get(tid)
        if ticket is None:
            return _not_found()
        if tid == seed.MALFORMED:
            return Response('{"id": 153006502, "customer": {', media_type="application/json")
        return JSONResponse(ticket)

    async def show_customer(request: Request) -> Response:
        customer = seed.CUSTOMERS.get(int(request.path_params["customer_id"]))
        return _not_found() if customer is None else JSONResponse(customer)

    async def not_found(request: Request) -> Response:
        return _not_found()

    def both(path: str, handler: Handler) -> list[Route]:
        wrapped = limited(handler)
        methods = ["GET", "POST", "PUT", "DELETE"]
        return [Route(path, wrapped, methods=methods), Route(f"{path}/", wrapped, methods=methods)]

    routes = [
        *both("/api/tickets/{ticket_id:int}", show_ticket),
        *both("/api/customers/{customer_id:int}", show_customer),
        Route("/api/{rest:path}", limited(not_found), methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.requests = 0
    app.state.log = []
    app.state.throttle = 0
    app.state.retry_after = 1
    app.state.level = 0.0
    app.state.leaked_at = time.monotonic()
    return app
