"""``liveuser serve``: liveuser over HTTP, for agent platforms not written in Python.

A Starlette app, run by uvicorn in one or several worker processes (extra
``liveuser[serve]``). Several workers, on one machine or several, share the
ledger through PostgreSQL (``database_url``) and the caches and vendor request
budgets through Redis (``redis_url``); see :mod:`liveuser.caches` and
:mod:`liveuser.budgets`.

Endpoints
---------

``POST /v1/context``
    ``Authorization: Bearer <api key>``; the key names the tenant (each
    tenant lists its own under ``api_keys``, never a host key). Body::

        {"channel": "host", "conversation_id": "chat-42", "message_id": "msg-7",
         "claims": {"token": "…"}, "payload": {}}

    Answers ``200`` with the metered context (``text``, ``verified``,
    ``refusal``, ``sources``, ``missing``, ``trimmed``, ``charged``,
    ``amount`` as a decimal string, ``capped``) for that conversation; a
    refusal is a ``200`` whose ``verified`` is false. Every error is JSON,
    ``{"error": "<reason>"}``: ``400`` a malformed request, ``401`` a missing
    or unknown key, ``413`` a body over 1 MB, ``503`` a ledger that cannot
    write (the turn was not delivered, so it may be retried), ``500`` anything
    else. No traceback ever reaches the caller.
``POST /v1/tool``
    A tool call the model made (an agent loop running outside Python): the
    body of ``/v1/context`` plus ``tool_call_id``, ``name`` and ``arguments``.
    Answers ``200 {"text": …, "pending": null | {"confirmation_id", "action",
    "summary", "expires_at"}}``. ``text`` goes back to the model; ``pending``
    (an action the model proposed) is for the host alone, which shows
    ``summary`` to the customer word for word beside a confirm button and
    never gives ``confirmation_id`` to the model.
``POST /v1/confirm``
    The customer confirmed: ``{"channel", "conversation_id", "claims",
    "payload", "confirmation_id"}`` (the conversation verifies again).
    Answers ``200 {"status": "executed" | "failed" | "refused", "message",
    "confirmation_id"}``; ``message`` is for the customer. Executed at most
    once, however often it is posted.
``GET /healthz``
    ``200 {"status": "ok"}`` while the worker runs.
``GET /metrics``
    Prometheus text: requests by path and status, contexts by tenant and
    verdict, and context latency. Across workers when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (``liveuser serve --workers N`` sets it).
``/webhooks/<plugin>/<tenant>/…``
    The routes each installed plugin offers through
    :meth:`~liveuser.plugin.Plugin.webhook_routes`, for each tenant it serves.

Recovery
--------

Each worker settles the action records a crash left in flight
(:func:`liveuser.recover`, stale records only, so workers never settle one
another's) once as it starts, in the background, and then every
``recovery_interval_seconds`` (60). Each record it settles is logged as a
warning on the ``liveuser.recovery`` logger; a recovery that fails is logged
as an error and serving goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from .actions.model import Confirmation
from .actions.protocol import confirm, recover
from .errors import ConfigError, LedgerError
from .metering import Ledger, one_line
from .models import Channel, Conversation
from .pipeline import Pipeline
from .registry import Registry
from .settings import Settings, describe_validation_error, load_settings

try:
    import prometheus_client
    from prometheus_client import multiprocess
except ImportError:  # pragma: no cover - checked by the CLI before it starts
    prometheus_client = None  # type: ignore[assignment]

__all__ = ["MAX_BODY_BYTES", "app_from_environment", "create_app"]

log = logging.getLogger("liveuser")
recovery_log = logging.getLogger("liveuser.recovery")

MAX_BODY_BYTES = 1_000_000


class ConversationRequest(BaseModel):
    """What every endpoint's body says about the conversation."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64)
    conversation_id: str = Field(min_length=1, max_length=200)
    claims: dict[str, str] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)


class ContextRequest(ConversationRequest):
    """The body of ``POST /v1/context``."""

    message_id: str = Field(min_length=1, max_length=200)


class ToolRequest(ContextRequest):
    """The body of ``POST /v1/tool``: the model's call, as its agent loop received it."""

    tool_call_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=128)
    arguments: Any = Field(default_factory=dict)


class ConfirmRequest(ConversationRequest):
    """The body of ``POST /v1/confirm``: the customer confirmed this proposal."""

    confirmation_id: str = Field(min_length=1, max_length=200)


R = TypeVar("R", bound=ConversationRequest)


def error(status: int, reason: str) -> JSONResponse:
    """A JSON error answer: ``{"error": reason}``."""
    return JSONResponse({"error": reason}, status_code=status)


class ApiKeys:
    """Which tenant an API key belongs to (compared as SHA-256 digests, in constant time)."""

    def __init__(self, settings: Settings) -> None:
        self._keys: list[tuple[bytes, str]] = [
            (hashlib.sha256(secret.get_secret_value().encode()).digest(), tenant)
            for tenant, options in settings.tenants.items()
            for secret in options.api_keys.values()
        ]

    def tenant(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = hashlib.sha256(token.strip().encode()).digest()
        found = None
        for known, tenant in self._keys:
            if hmac.compare_digest(known, digest):
                found = tenant
        return found


class Metrics:
    """The service's Prometheus metrics (shared across workers in multiprocess mode)."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self.requests = prometheus_client.Counter(
            "liveuser_requests",
            "HTTP requests answered, by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.contexts = prometheus_client.Counter(
            "liveuser_contexts",
            "Contexts delivered, by tenant and whether the person was verified.",
            ["tenant", "verified"],
            registry=self.registry,
        )
        self.latency = prometheus_client.Histogram(
            "liveuser_context_seconds",
            "Time to build and meter one context.",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = prometheus_client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return prometheus_client.generate_latest(registry)
        return prometheus_client.generate_latest(self.registry)


def create_app(
    settings: Settings,
    *,
    registry: Registry | None = None,
    ledger: Ledger | None = None,
) -> Starlette:
    """The service for ``settings``. A registry or ledger passed in stays the caller's
    to close; those the app makes itself are closed when it shuts down."""
    if prometheus_client is None:
        raise ConfigError("liveuser serve needs the serve extra: pip install 'liveuser[serve]'")
    from .cli import open_ledger

    keys = ApiKeys(settings)
    metrics = Metrics()
    own_registry = registry is None
    registry = registry if registry is not None else Registry(settings)
    tenants = [registry.tenant(name) for name in registry.tenant_names()]
    led = ledger if ledger is not None else open_ledger(settings)
    pipeline = Pipeline(registry, led)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await led.engine.open()  # a ledger that cannot open stops the worker at once
            recovering = asyncio.create_task(
                recover_every(pipeline, settings.recovery_interval_seconds),
                name="liveuser-action-recovery",
            )
            try:
                yield
            finally:
                recovering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovering
        finally:
            if ledger is None:
                await led.aclose()
            if own_registry:
                await registry.aclose()

    async def read(request: Request, model: type[R]) -> tuple[R, Conversation] | Response:
        """The caller's tenant (from its key), the body and its conversation, or an error."""
        tenant = keys.tenant(request.headers.get("authorization"))
        if tenant is None:
            return error(401, "missing or unknown API key (Authorization: Bearer <key>)")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error(413, f"body is over {MAX_BODY_BYTES} bytes")
        try:
            ask = model.model_validate(json.loads(body))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                return error(400, describe_validation_error(exc, "body"))
            return error(400, "body is not JSON")
        try:
            channel = Channel(ask.channel)
        except ValueError:
            return error(400, f"unknown channel {ask.channel!r}")
        conversation = Conversation(
            tenant=tenant,
            channel=channel,
            conversation_id=ask.conversation_id,
            claims=ask.claims,
            payload=ask.payload,
        )
        return ask, conversation

    async def context(request: Request) -> Response:
        parsed = await read(request, ContextRequest)
        if isinstance(parsed, Response):
            return parsed
        ask, conversation = parsed
        tenant, channel = conversation.tenant, conversation.channel
        started = time.perf_counter()
        try:
            ctx = await pipeline.context_for(conversation, ask.message_id)
        except LedgerError as exc:
            log.error("ledger unavailable: %s", exc)
            return error(503, "the ledger is unavailable; the turn was not delivered, retry it")
        metrics.latency.observe(time.perf_counter() - started)
        metrics.contexts.labels(tenant, str(ctx.verified).lower()).inc()
        return JSONResponse(
            {
                "tenant": tenant,
                "channel": channel.value,
                "conversation_id": ask.conversation_id,
                "message_id": ask.message_id,
                "verified": ctx.verified,
                "refusal": ctx.refusal,
                "text": ctx.text_for(conversation),
                "sources": list(ctx.sources),
                "missing": ctx.missing,
                "trimmed": list(ctx.trimmed),
                "charged": ctx.charged,
                "amount": str(ctx.amount),
                "capped": ctx.capped,
            }
        )

    async def tool(request: Request) -> Response:
        parsed = await read(request, ToolRequest)
        if isinstance(parsed, Response):
            return parsed
        ask, conversation = parsed
        try:
            result = await pipeline.call_tool_result(
                conversation, ask.message_id, ask.tool_call_id, ask.name, ask.arguments
            )
        except LedgerError as exc:
            log.error("ledger unavailable: %s", exc)
            return error(503, "the ledger is unavailable; the call was not answered, retry it")
        pending = result.pending
        return JSONResponse(
            {
                "text": result.text,
                "pending": None
                if pending is None
                else {
                    "confirmation_id": pending.confirmation_id,
                    "action": pending.action,
                    "summary": pending.summary,
                    "expires_at": pending.expires_at.isoformat(),
                },
            }
        )

    async def confirm_endpoint(request: Request) -> Response:
        parsed = await read(request, ConfirmRequest)
        if isinstance(parsed, Response):
            return parsed
        ask, conversation = parsed
        try:
            done = await confirm(conversation, ask.confirmation_id, pipeline=pipeline)
        except LedgerError as exc:
            log.error("action store unavailable: %s", exc)
            return error(503, "the action store is unavailable; nothing was executed, retry it")
        return JSONResponse(
            {"status": done.status, "message": done.message, "confirmation_id": ask.confirmation_id}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/v1/context", context, methods=["POST"]),
        Route("/v1/tool", tool, methods=["POST"]),
        Route("/v1/confirm", confirm_endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    for tenant in tenants:
        for plugin in tenant.plugins.values():
            offered = list(plugin.webhook_routes())
            if offered:
                routes.append(Mount(f"/webhooks/{plugin.name}/{tenant.name}", routes=offered))

    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        metrics.requests.labels(path, str(response.status_code)).inc()
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        reasons = {404: "no such endpoint", 405: "method not allowed"}
        return error(status, reasons.get(status, getattr(exc, "detail", "") or "bad request"))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("liveuser serve: %s %s failed: %r", request.method, request.url.path, exc)
        return error(500, "internal error")

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=count)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


def describe(record: Confirmation) -> str:
    """Where an action record belongs, without its arguments, summary or outcome
    (which may hold the customer's personal data)."""
    return (
        f"{record.action}, tenant {record.tenant}, {record.channel} conversation "
        f"{record.conversation_id}"
    )


async def recover_once(pipeline: Pipeline) -> int:
    """Settle the stale action records (:func:`liveuser.recover`), logging each one;
    how many were settled. A failure is logged, never raised."""
    try:
        settled = await recover(pipeline)
        for result in settled:
            record = await pipeline.action_store.get(result.confirmation_id)
            recovery_log.warning(
                "settled action record %s left in flight by a crash: %s (%s)",
                result.confirmation_id,
                result.status,
                "" if record is None else describe(record),
            )
    except Exception as exc:  # never stops serving: the next run tries again
        recovery_log.error("action recovery failed: %s", one_line(exc))
        return 0
    return len(settled)


async def recover_every(pipeline: Pipeline, seconds: float) -> None:
    """:func:`recover_once` now, then every ``seconds``, until cancelled."""
    while True:
        await recover_once(pipeline)
        await asyncio.sleep(seconds)


def app_from_environment() -> Starlette:
    """The app for uvicorn's workers: settings from ``LIVEUSER_CONFIG`` and ``LIVEUSER_*``."""
    return create_app(load_settings())
