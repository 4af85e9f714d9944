"""A plugin's vendor webhook as a Starlette route, for ``liveuser serve``.

A plugin offers its webhooks from :meth:`~liveuser.plugin.Plugin.webhook_routes`;
:func:`webhook_route` turns its existing ``receive_…(headers, body)`` method
into a route that answers JSON and never lets an exception reach the vendor:

* ``200`` with what the handler returned (a JSON object) for a genuine delivery;
* ``401 {"error": reason}`` for one that is not genuine (:class:`WebhookError`:
  a bad signature or secret, a stale or replayed delivery, a malformed body);
* ``413`` for a body over ``max_bytes``; ``503`` when the plugin lacks the
  secret to check deliveries with (:class:`ConfigError`).

A handler whose delivery names conversations answers with
:func:`named_conversations`: their channels and ids, never their payloads.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, WebhookError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from .models import Conversation

__all__ = ["WebhookHandler", "named_conversations", "webhook_route"]

log = logging.getLogger("liveuser")

WebhookHandler = Callable[
    [Mapping[str, str], bytes], Mapping[str, Any] | Awaitable[Mapping[str, Any]]
]
"""Checks one delivery (headers, raw body) and says what it did, as a JSON object."""


def named_conversations(conversations: Iterable[Conversation | None]) -> dict[str, Any]:
    """A route's answer for the conversations a delivery named (``None`` entries skipped).

    ``{"conversations": [{"channel": …, "conversation_id": …}, …]}`` in the
    order given, or ``{}`` when it named none. Only the channel and id appear:
    a conversation's payload and claims (a signed body, a hinted author) never do.
    """
    named = [
        {"channel": c.channel.value, "conversation_id": c.conversation_id}
        for c in conversations
        if c is not None
    ]
    return {"conversations": named} if named else {}


def webhook_route(path: str, handle: WebhookHandler, *, max_bytes: int = 1_000_000) -> Route:
    """A ``POST`` route at ``path`` that hands each delivery to ``handle``."""
    # Starlette is imported when a server asks for routes, not when a plugin is loaded.
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > max_bytes:
            return JSONResponse({"error": f"body is over {max_bytes} bytes"}, status_code=413)
        try:
            result = handle(request.headers, body)
            if inspect.isawaitable(result):
                result = await result
        except WebhookError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        except ConfigError as exc:
            log.error("webhook %s cannot be checked: %s", request.url.path, exc)
            return JSONResponse({"error": "this webhook is not configured"}, status_code=503)
        return JSONResponse(dict(result))

    return Route(path, endpoint, methods=["POST"])
