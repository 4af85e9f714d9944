"""A faithful fake of the Freshdesk and Freshchat APIs the connector reads, as a Starlette app.

Freshdesk (``/api/v2/...``): ``GET /api/v2/tickets/{id}`` with
``include=requester`` embedding ``requester: {id, name, email, mobile, phone}``,
and ``GET /api/v2/contacts/{id}``.
Auth is HTTP Basic with the API key as user (any password), otherwise 401
``{"code": "invalid_credentials", "message": ...}``; unknown tickets are 404
with an empty body. Every answer carries ``X-RateLimit-Total``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Used-CurrentRequest`` (2 with an
include); past ``rate_limit`` requests a minute, or while
``app.state.throttle`` is above zero, the answer is 429 ``{"message": ...}``
with ``Retry-After`` (``app.state.retry_after`` seconds).

Freshchat (``/v2/...``, the API URL being ``{url}/v2``):
``GET /v2/conversations/{id}`` and ``GET /v2/users/{id}`` with
``Authorization: Bearer``; errors are ``{"code", "status", "message"}``; 429
carries ``Retry-After`` too.

``app.state.requests`` counts every request, ``app.state.log`` lists
``(method, path)``. Nothing here is secret: the credentials are demo strings,
and the webhook signing key pair is generated on first use.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import seed

FAKE_API_KEY: Final = "fake-freshdesk-api-key-not-secret"
FAKE_CHAT_TOKEN: Final = "fake-freshchat-api-token-not-secret"
FAKE_JWT_SECRET: Final = "fake-freshchat-user-auth-key-not-secret-0123456789"
FAKE_WEBHOOK_SECRET: Final = "fake-freshdesk-webhook-shared-secret-not-secret"

__all__ = [
    "FAKE_API_KEY",
    "FAKE_CHAT_TOKEN",
    "FAKE_JWT_SECRET",
    "FAKE_WEBHOOK_SECRET",
    "create_fake_freshworks",
    "fake_settings",
    "seed",
    "sign_freshchat_webhook",
    "webhook_public_key_pem",
]

Handler = Callable[[Request], Awaitable[Response]]


@functools.cache
def _webhook_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def webhook_public_key_pem() -> str:
    """The fake Freshchat's webhook public key, labelled as Freshchat labels it."""
    der = (
        _webhook_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN RSA PUBLIC KEY-----\n{body}-----END RSA PUBLIC KEY-----\n"


def sign_freshchat_webhook(body: bytes) -> str:
    """``X-Freshchat-Signature`` for ``body``, as the fake Freshchat account signs it."""
    signature = _webhook_private_key().sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def fake_settings(url: str, *, webhooks: bool = False, **overrides: Any) -> dict[str, Any]:
    """The connector's settings pointing at a fake served at ``url``.

    ``webhooks=True`` adds the Freshchat webhook public key (generating the
    fake's key pair, about a tenth of a second).
    """
    settings: dict[str, Any] = {
        "freshdesk_base_url": url,
        "freshdesk_api_key": FAKE_API_KEY,
        "freshdesk_webhook_secret": FAKE_WEBHOOK_SECRET,
        "freshchat_api_url": f"{url}/v2",
        "freshchat_api_token": FAKE_CHAT_TOKEN,
        "freshchat_jwt_algorithm": "HS256",
        "freshchat_jwt_secret": FAKE_JWT_SECRET,
    }
    if webhooks:
        settings["freshchat_webhook_public_key"] = webhook_public_key_pem()
    settings.update(overrides)
    return settings


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _desk_authorized(request: Request) -> bool:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, _password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return bool(sep) and _same(user, FAKE_API_KEY)


def _chat_authorized(request: Request) -> bool:
    value = request.headers.get("authorization", "")
    return value.startswith("Bearer ") and _same(value[len("Bearer ") :], FAKE_CHAT_TOKEN)


def _chat_error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "status": name, "message": message}, status_code=status)


def create_fake_freshworks(*, rate_limit: int = 700) -> Starlette:
    """A fresh fake with the seed records of :mod:`liveuser_freshworks.fake.seed`."""

    def limited(handler: Handler, *, desk: bool) -> Handler:
        async def endpoint(request: Request) -> Response:
            state = app.state
            state.requests += 1
            state.log.append((request.method, request.url.path))
            now = time.monotonic()
            if now - state.window_start >= 60:
                state.window_start, state.window_count = now, 0
            state.window_count += 1
            remaining = max(rate_limit - state.window_count, 0)
            answer: Response
            if state.throttle > 0 or state.window_count > rate_limit:
                state.throttle = max(state.throttle - 1, 0)
                wait = state.retry_after if state.window_count <= rate_limit else 60
                headers = {"Retry-After": str(int(wait))}
                if desk:
                    answer = JSONResponse(
                        {"message": "You have exceeded the limit of requests per minute"},
                        status_code=429,
                        headers=headers,
                    )
                else:
                    answer = _chat_error(429, "TOO_MANY_REQUESTS", "Too Many Requests")
                    answer.headers.update(headers)
            elif desk and not _desk_authorized(request):
                answer = JSONResponse(
                    {
                        "code": "invalid_credentials",
                        "message": "You have to be logged in to perform this action.",
                    },
                    status_code=401,
                )
            elif not desk and not _chat_authorized(request):
                answer = _chat_error(401, "UNAUTHORIZED", "Unauthenticated Request")
            else:
                answer = await handler(request)
            if desk:
                include = request.query_params.get("include", "")
                used = 1 + len([p for p in include.split(",") if p.strip()])
                answer.headers["X-RateLimit-Total"] = str(rate_limit)
                answer.headers["X-RateLimit-Remaining"] = str(remaining)
                answer.headers["X-RateLimit-Used-CurrentRequest"] = str(used)
                answer.headers["X-Freshdesk-API-Version"] = "latest=2.0; requested=2.0"
            return answer

        return endpoint

    async def show_ticket(request: Request) -> Response:
        tid = int(request.path_params["ticket_id"])
        if tid == seed.SERVER_ERROR:
            return JSONResponse({"code": "internal_error", "message": "Oops"}, status_code=500)
        ticket = seed.TICKETS.get(tid)
        if ticket is None:
            return Response(status_code=404)
        if tid == seed.MALFORMED:
            return Response('{"id": 502, "source": ', media_type="application/json")
        body = dict(ticket)
        include = {p.strip() for p in request.query_params.get("include", "").split(",")}
        unknown = include - {"", "conversations", "requester", "company", "stats"}
        if unknown:
            return JSONResponse(
                {
                    "description": "Validation failed",
                    "errors": [
                        {
                            "field": "include",
                            "message": "It should be one/more of the elements in "
                            "conversations,requester,company,stats",
                            "code": "invalid_value",
                        }
                    ],
                },
                status_code=400,
            )
        if "requester" in include:
            contact = seed.CONTACTS[ticket["requester_id"]]
            body["requester"] = {**contact, "mobile": None, "phone": None}
        return JSONResponse(body)

    async def show_contact(request: Request) -> Response:
        cid = int(request.path_params["contact_id"])
        if cid not in seed.CONTACTS:
            return Response(status_code=404)
        return JSONResponse(seed.contact(cid))

    async def show_conversation(request: Request) -> Response:
        cid = request.path_params["conversation_id"]
        if cid == seed.CONV_SERVER_ERROR:
            return _chat_error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        if cid == seed.CONV_MALFORMED:
            return Response('{"conversation_id": ', media_type="application/json")
        conversation = seed.CONVERSATIONS.get(cid)
        if conversation is None:
            return _chat_error(404, "NOT_FOUND", "Conversation not found")
        return JSONResponse(conversation)

    async def show_user(request: Request) -> Response:
        user = seed.CHAT_USERS.get(request.path_params["user_id"])
        if user is None:
            return _chat_error(404, "NOT_FOUND", "User not found")
        return JSONResponse(user)

    async def desk_not_found(request: Request) -> Response:
        return Response(status_code=404)

    async def chat_not_found(request: Request) -> Response:
        return _chat_error(404, "NOT_FOUND", "Resource not found")

    routes = [
        Route("/api/v2/tickets/{ticket_id:int}", limited(show_ticket, desk=True), methods=["GET"]),
        Route(
            "/api/v2/contacts/{contact_id:int}", limited(show_contact, desk=True), methods=["GET"]
        ),
        Route("/api/v2/{rest:path}", limited(desk_not_found, desk=True)),
        Route(
            "/v2/conversations/{conversation_id}",
            limited(show_conversation, desk=False),
            methods=["GET"],
        ),
        Route("/v2/users/{user_id}", limited(show_user, desk=False), methods=["GET"]),
        Route("/v2/{rest:path}", limited(chat_not_found, desk=False)),
    ]
    app = Starlette(routes=routes)
    app.state.requests = 0
    app.state.log = []
    app.state.throttle = 0
    app.state.retry_after = 1
    app.state.window_start = time.monotonic()
    app.state.window_count = 0
    return app
