"""One misbehaving server that can stand in for any vendor endpoint, over real sockets.

:func:`create_fault_proxy` serves every path and method. With no fault set it
forwards the request to ``upstream`` (a vendor fake) and returns its answer
unchanged, so a connector pointed at it works as against the fake. With a
fault set it misbehaves on every request in the way the fault names
(:data:`FAULTS`), for any vendor, without the fake knowing. ``other-user``
forwards the request with the victim's resource id (a path segment) or email
(in the body) in place of the one asked about, so the vendor answers about
somebody else.

:func:`stalled_connect_url` and :func:`closed_port_url` give addresses where a
connection hangs in the handshake or is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FOREVER = 30.0  # longer than any deadline here; a stalled answer ends when the client hangs up
TEN_MB = 10 * 1024 * 1024
HTML_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"
_HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}
)

FAULTS = (
    "refused",
    "connect-stall",
    "stall-headers",
    "stall-body",
    "drip",
    "429-retry-after-0",
    "429-no-retry-after",
    "429-retry-after-hour",
    "429-retry-after-date",
    "429-vendor-reset-0",
    "429-vendor-reset-far",
    "burst-5xx",
    "truncated-json",
    "malformed-json",
    "wrong-content-type",
    "huge-declared",
    "huge-chunked",
    "other-user",
)
"""Every fault the proxy knows; ``refused`` and ``connect-stall`` never reach it.

Besides these, ``chaos`` forwards every request after a random delay of up to
``chaos_delay`` seconds, and answers a share ``chaos_failures`` of them with
a 503 instead (drawn from ``rng``)."""

VENDOR_RESET_FAULTS = ("429-vendor-reset-0", "429-vendor-reset-far")


def vendor_reset(vendor: str, far: bool) -> tuple[int, dict[str, str], bytes] | None:
    """A vendor's own "wait until" answer (status, headers, body), for vendors that send one.

    ``far`` asks for a wait past any deadline here; otherwise the wait is zero
    and the answer repeats, a storm. None for vendors with only ``Retry-After``.
    """
    if vendor == "zendesk":
        return 429, {"ratelimit-reset": "3600" if far else "0"}, b'{"error":"TooManyRequests"}'
    if vendor == "intercom":
        reset = str(int(time.time()) + (30 if far else -1))
        body = b'{"type":"error.list","errors":[{"code":"rate_limit_exceeded"}]}'
        return 429, {"x-ratelimit-reset": reset, "x-ratelimit-remaining": "0"}, body
    if vendor == "hubspot":
        headers = {
            "x-hubspot-ratelimit-remaining": "0",
            "x-hubspot-ratelimit-interval-milliseconds": "10000" if far else "0",
        }
        body = b'{"status":"error","category":"RATE_LIMITS","policyName":"TEN_SECONDLY_ROLLING"}'
        return 429, headers, body
    if vendor == "shopify":  # GraphQL: HTTP 200, THROTTLED, and the bucket's state
        cost = {
            "requestedQueryCost": 100,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 0 if far else 2000,
                "restoreRate": 10.0,
            },
        }
        body = {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": cost},
        }
        return 200, {}, json.dumps(body).encode()
    return None


@dataclass
class ProxyState:
    """What the proxy does now and what it has seen; tests set ``fault`` and read ``hits``."""

    upstream: str
    vendor: str
    fault: str | None = None
    swap_segments: dict[str, str] = field(default_factory=dict)
    """Path segments replaced under ``other-user`` (the conversation asked about -> a victim's)."""
    swap_text: dict[str, str] = field(default_factory=dict)
    """Body and query text replaced under ``other-user`` (an email -> a victim's)."""
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    chaos_delay: float = 0.015
    chaos_failures: float = 0.05
    hits: int = 0
    """Requests received while a fault was set."""
    forwarded: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(method, path, body) of every request passed on to the upstream, as passed on."""

    pass_first: int = 0
    """Requests forwarded faithfully after a fault is set, before it applies."""
    passed: int = 0

    def set(self, fault: str | None, *, pass_first: int = 0) -> None:
        """Misbehave as ``fault`` says from now on (None: forward faithfully).

        With ``pass_first``, the first that many requests still go through
        untouched (a fault on a later request of a lookup). Setting a fault
        starts a new count of ``hits``; clearing one keeps it.
        """
        self.fault = fault
        self.pass_first, self.passed = pass_first, 0
        if fault is not None:
            self.hits = 0


async def _until_disconnected(request: Request, seconds: float = FOREVER) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        await asyncio.sleep(0.05)
        if await request.is_disconnected():
            return


def create_fault_proxy(upstream: str, vendor: str) -> Starlette:
    """A proxy to ``upstream`` that misbehaves as ``app.state.proxy.fault`` says."""
    state = ProxyState(upstream.rstrip("/"), vendor)

    async def forward(request: Request, swap: bool) -> tuple[int, dict[str, str], bytes]:
        path, query, body = request.url.path, request.url.query, await request.body()
        if swap:
            path = "/".join(state.swap_segments.get(s, s) for s in path.split("/"))
            for mine, theirs in state.swap_text.items():
                body = body.replace(mine.encode(), theirs.encode())
                query = query.replace(mine, theirs)
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        state.forwarded.append((request.method, path, body))
        # A client per request: the server's loop has no lifespan to close a shared one in.
        # Plain HTTP on loopback: no TLS context (loading CA certificates costs ~50 ms).
        async with httpx2.AsyncClient(timeout=FOREVER, verify=False, trust_env=False) as client:
            answer = await client.request(
                request.method,
                f"{state.upstream}{path}" + (f"?{query}" if query else ""),
                headers=headers,
                content=body,
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        return answer.status_code, kept, answer.content

    async def handle(request: Request) -> Response:
        fault = state.fault
        if fault is not None and state.passed < state.pass_first:
            state.passed += 1
            fault = None
        if fault is None:
            status, headers, body = await forward(request, swap=False)
            return Response(body, status, headers=headers)
        state.hits += 1
        if fault == "chaos":
            await asyncio.sleep(state.rng.random() * state.chaos_delay)
            if state.rng.random() < state.chaos_failures:
                return JSONResponse({"error": "unavailable"}, 503)
            status, headers, body = await forward(request, swap=False)
            return Response(body, status, headers=headers)
        if fault == "other-user":
            status, headers, body = await forward(request, swap=True)
            return Response(body, status, headers=headers)
        if fault == "stall-headers":
            await _until_disconnected(request)
            return Response(b"", 204)
        if fault in ("stall-body", "drip", "truncated-json", "malformed-json"):
            status, headers, body = await forward(request, swap=False)
            headers.pop("content-type", None)
            if fault == "truncated-json":
                return Response(body[: len(body) // 2], status, headers, "application/json")
            if fault == "malformed-json":
                broken = body.replace(b":", b"=", 1) if b":" in body else b"{" + body
                return Response(broken, status, headers, "application/json")
            if fault == "stall-body":

                async def stall() -> AsyncIterator[bytes]:
                    yield body[:20]  # a start, then nothing more
                    await asyncio.sleep(FOREVER)
                    yield body[20:]

                return StreamingResponse(stall(), status, headers, "application/json")
            padded = b" " * 200 + body

            async def drip() -> AsyncIterator[bytes]:
                for index in range(len(padded)):
                    await asyncio.sleep(0.05)
                    yield padded[index : index + 1]

            return StreamingResponse(drip(), status, headers, "application/json")
        if fault == "429-retry-after-0":
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "0"})
        if fault == "429-no-retry-after":
            return JSONResponse({"error": "slow down"}, 429)
        if fault == "429-retry-after-hour":
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "3600"})
        if fault == "429-retry-after-date":
            when = formatdate(time.time() + 3600, usegmt=True)
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": when})
        if fault in VENDOR_RESET_FAULTS:
            answer = vendor_reset(state.vendor, far=fault.endswith("far"))
            assert answer is not None, f"{state.vendor} has no reset header of its own"
            status, headers, body = answer
            return Response(body, status, headers, "application/json")
        if fault == "burst-5xx":
            status = (500, 502, 503, 504)[state.hits % 4]
            return JSONResponse({"error": "unavailable"}, status)
        if fault == "wrong-content-type":
            return Response(HTML_PAGE, media_type="text/html")
        if fault == "huge-declared":
            return Response(b"{" + b" " * TEN_MB + b"}", media_type="application/json")
        if fault == "huge-chunked":

            async def huge() -> AsyncIterator[bytes]:
                chunk = b" " * 65536
                for _ in range(TEN_MB // len(chunk)):
                    yield chunk
                yield b"{}"

            return StreamingResponse(huge(), media_type="application/json")
        raise AssertionError(f"unknown fault {fault!r}")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", handle, methods=methods)])
    app.state.proxy = state
    return app


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 whose port nothing listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def stalled_connect_url() -> Iterator[str]:
    """A base URL whose listener never accepts and whose backlog is full.

    The kernel drops further SYNs, so a new connection hangs in the TCP
    handshake: the connect phase times out, nothing is ever refused.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):  # completes in the backlog, or never
                filler.connect(("127.0.0.1", port))
        time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def rebase(settings: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``settings`` with every URL under ``old`` moved under ``new``."""
    return {
        k: new + v[len(old) :] if isinstance(v, str) and v.startswith(old) else v
        for k, v in settings.items()
    }
