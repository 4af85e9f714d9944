"""An embedded fake of a business's User Data API, and a way to serve any ASGI app.

liveuser's built-in back-end calls a business's *User Data API*::

    POST <url>
    <header_name>: <api key>                 (default header: Authorization)
    {"identifier": "<email>"}

    200 {"identifier": "<email>", "user_info": "<text>"}   within 10 s
    400 bad body · 401 bad key · 404 unknown user · 500 other errors

:func:`create_user_data_api` builds a faithful fake of that contract as a
Starlette app; :func:`serve` (or :class:`ServerThread`) runs it, or any other
ASGI app, under uvicorn on a free local port. ``liveuser demo``, the tests and
the benchmarks use both; connector plugins reuse :func:`serve` for their own
fakes::

    with serve(create_user_data_api()) as url:
        ...  # POST {"identifier": "ann@example.com"} to url

Seed users (:data:`SANDBOX_USERS`) answer the usual support questions ("Where
is my order?", "When can I expect delivery?", "Do you have X in stock?").
Special addresses trigger the failures a real API shows in production:

=========================  ==================================================
``down@example.com``       500 ``{"error": ...}``
``slow@example.com``       answers only after :data:`SLOW_SECONDS` (30 s)
``drip@example.com``       200 whose body arrives one byte every 0.5 s (30 s)
``huge@example.com``       200 with a body over 2 MB
``wrong@example.com``      200 naming ``someone.else@example.com`` (cross-talk)
``malformed@example.com``  200 whose body is not valid JSON
``long@example.com``       a seed user whose ``user_info`` is ~3,000 characters
=========================  ==================================================

The seed texts give dates relative to the day this module is imported, so an
expected delivery is always in the near future. Nothing here is secret:
:data:`SANDBOX_API_KEY` is a published demo key.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from types import TracebackType
from typing import Any, Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "ANN_EMAIL",
    "BOB_EMAIL",
    "CHLOE_EMAIL",
    "CROSS_TALK_IDENTIFIER",
    "DOWN_EMAIL",
    "DRIP_EMAIL",
    "DRIP_INTERVAL",
    "DRIP_SECONDS",
    "HUGE_BODY_BYTES",
    "HUGE_EMAIL",
    "LONG_EMAIL",
    "MALFORMED_EMAIL",
    "SANDBOX_API_KEY",
    "SANDBOX_USERS",
    "SLOW_EMAIL",
    "SLOW_SECONDS",
    "SPECIAL_EMAILS",
    "WRONG_EMAIL",
    "RateLimited",
    "ServerThread",
    "create_user_data_api",
    "serve",
]

SANDBOX_API_KEY: Final = "sandbox-key-not-secret"
"""The sandbox's default API key: a fixed demo string, not a secret."""

ANN_EMAIL: Final = "ann@example.com"
"""Two orders: one shipped (carrier, tracking number, expected delivery), one processing."""
BOB_EMAIL: Final = "bob@example.com"
"""A coffee subscription and a back-ordered grinder with a restock date."""
CHLOE_EMAIL: Final = "chloe@example.com"
"""Stock levels for the items she asked about and has on her wishlist."""
LONG_EMAIL: Final = "long@example.com"
"""A ~3,000-character order history: its rendered context exceeds 1,500 characters."""

DOWN_EMAIL: Final = "down@example.com"
"""Answers 500 ``{"error": ...}``."""
SLOW_EMAIL: Final = "slow@example.com"
"""Answers 200 only after :data:`SLOW_SECONDS`."""
DRIP_EMAIL: Final = "drip@example.com"
"""Answers 200 and then sends the body one byte every :data:`DRIP_INTERVAL` seconds."""
HUGE_EMAIL: Final = "huge@example.com"
"""Answers 200 with a JSON body of more than :data:`HUGE_BODY_BYTES` bytes."""
WRONG_EMAIL: Final = "wrong@example.com"
"""Answers 200 for :data:`CROSS_TALK_IDENTIFIER` instead of the user asked."""
MALFORMED_EMAIL: Final = "malformed@example.com"
"""Answers 200 with a body that is not valid JSON."""

CROSS_TALK_IDENTIFIER: Final = "someone.else@example.com"
"""The identifier in the answer for :data:`WRONG_EMAIL`."""

SLOW_SECONDS: Final = 30.0
"""How long ``slow@example.com`` takes: far beyond the 10 s the contract allows."""
DRIP_INTERVAL: Final = 0.5
"""Seconds between two bytes of the ``drip@example.com`` body."""
DRIP_SECONDS: Final = 30.0
"""How long the whole ``drip@example.com`` body takes to arrive."""
HUGE_BODY_BYTES: Final = 2_500_000
"""The ``huge@example.com`` body is longer than this (and so over 2 MB and 2 MiB)."""

SPECIAL_EMAILS: Final = frozenset(
    {DOWN_EMAIL, SLOW_EMAIL, DRIP_EMAIL, HUGE_EMAIL, WRONG_EMAIL, MALFORMED_EMAIL}
)
"""Addresses with a special behaviour; they behave so whatever ``users`` holds."""


# --------------------------------------------------------------------------- seed users


def _day(day: date) -> str:
    """``Thursday 27 November 2025``: unambiguous, locale-independent for the C locale."""
    return f"{day:%A} {day.day} {day:%B %Y}"


_TODAY = date.today()


def _on(days: int) -> str:
    return _day(_TODAY + timedelta(days=days))


def _long_history() -> str:
    # (order number, placed N days ago, items, total, status)
    orders: list[tuple[str, int, str, str, str]] = [
        (
            "L-30118",
            -2,
            "2 x Alpine wool beanie (charcoal)",
            "EUR 58.00",
            f"shipped {_on(-1)} with DHL Express, tracking JD014600006281432561, "
            f"expected delivery {_on(1)}",
        ),
        (
            "L-30102",
            -4,
            "1 x Ridge 3-season sleeping mat",
            "EUR 89.00",
            f"processing; expected to ship {_on(1)}",
        ),
        (
            "L-30077",
            -9,
            "1 x Ridge 2-person tent",
            "EUR 349.00",
            f"delivered {_on(-5)}, left at reception",
        ),
        (
            "L-29954",
            -21,
            "1 x Trail running shoes, size 42",
            "EUR 129.00",
            f"returned {_on(-12)}; refund of EUR 129.00 to the Visa ending 4421 on {_on(-10)}",
        ),
        ("L-29810", -34, "3 x Energy gel variety pack", "EUR 36.00", f"delivered {_on(-31)}"),
        ("L-29702", -46, "1 x Insulated bottle 1 L (sage)", "EUR 32.00", f"delivered {_on(-43)}"),
        (
            "L-29655",
            -52,
            "1 x Down jacket, women's M (black)",
            "EUR 219.00",
            f"delivered {_on(-49)}; exchanged for size L under RMA-8812, delivered {_on(-41)}",
        ),
        ("L-29531", -63, "2 x Hiking socks 3-pack", "EUR 44.00", f"delivered {_on(-60)}"),
        ("L-29407", -75, "1 x Headlamp 400 lm", "EUR 49.00", f"delivered {_on(-72)}"),
        ("L-29288", -88, "1 x Trekking poles (pair)", "EUR 79.00", f"delivered {_on(-84)}"),
        (
            "L-29140",
            -101,
            "1 x Camping stove, 2 x gas canister",
            "EUR 71.00",
            f"delivered {_on(-97)}",
        ),
        ("L-29016", -115, "1 x Sleeping bag, comfort -5 C", "EUR 189.00", f"delivered {_on(-111)}"),
        (
            "L-28893",
            -130,
            "1 x Rain trousers, M",
            "EUR 95.00",
            f"cancelled by the customer {_on(-130)} before shipping; not charged",
        ),
        ("L-28771", -142, "1 x Water filter", "EUR 39.00", f"delivered {_on(-138)}"),
        (
            "L-28650",
            -157,
            "1 x First-aid kit, 1 x Emergency blanket",
            "EUR 42.00",
            f"delivered {_on(-153)}",
        ),
        ("L-28512", -171, "1 x Merino base layer top, M", "EUR 75.00", f"delivered {_on(-167)}"),
    ]
    lines = [
        "Customer: Lena Okafor, member since March 2019, Summit loyalty tier "
        "(free express shipping, 60-day returns). Default address: 14 Harbour Road, "
        "Cork T12 X2Y4, Ireland. Phone on file ends 7731.",
        f"Information as of {_on(0)}. Order history, newest first:",
    ]
    for number, placed, items, total, status in orders:
        lines.append(
            f"- Order #{number}, placed {_on(placed)}: {items}. Total {total}. Status: {status}."
        )
    lines.append(
        f"Open requests: none. Store credit: EUR 15.00, expires {_on(200)}. "
        "Marketing consent: email yes, SMS no."
    )
    return "\n".join(lines)


SANDBOX_USERS: Final[dict[str, str]] = {
    ANN_EMAIL: (
        "Customer: Ann Lee, member since 2021, default address 22 Elm Street, "
        "Springfield IL 62704, USA.\n"
        f"Information as of {_on(0)}.\n"
        f"- Order #A-10452, placed {_on(-3)}: 1 x Trailhead rain jacket (navy, M), "
        "1 x Merino socks 3-pack. Status: shipped "
        f"{_on(-1)} with UPS, tracking number 1Z999AA10123456784; expected delivery "
        f"{_on(2)}.\n"
        f"- Order #A-10478, placed {_on(-1)}: 1 x Summit 40 L backpack (olive). Status: "
        "processing; payment confirmed, being packed at the Reno warehouse; expected to "
        f"ship by {_on(1)}, delivery 3-5 business days after shipping.\n"
        "No open returns or refunds."
    ),
    BOB_EMAIL: (
        "Customer: Bob Martins, customer since 2022.\n"
        f"Information as of {_on(0)}.\n"
        "Subscription: Coffee Club Plus, 2 bags (2 x 250 g) every month, USD 24.00/month, "
        f"active; next box ships {_on(4)}, next charge {_on(3)} to the Mastercard ending "
        "0817. Can be paused or skipped until the day before the charge.\n"
        f"- Order #B-20931, placed {_on(-6)}: 1 x Ember Pro burr grinder, 1 x Pour-over "
        f"kettle. The kettle shipped {_on(-4)} with USPS, tracking 9400111899223344556677, "
        f"delivered {_on(-1)}. The Ember Pro grinder is back-ordered: restock expected "
        f"{_on(10)}, ships within 2 business days of restock; not charged until it ships."
    ),
    CHLOE_EMAIL: (
        "Customer: Chloe Durand, Lyon, France, customer since 2020.\n"
        f"Information as of {_on(0)}.\n"
        "Stock for the items she viewed or wishlisted:\n"
        "- Aurora linen duvet cover, king, sage: in stock (14 units, ships from the Lyon "
        "warehouse within 1 business day).\n"
        "- Aurora linen duvet cover, queen, sage: out of stock; restock expected "
        f"{_on(14)}; back-in-stock email alert is ON.\n"
        "- Aurora linen pillowcases (pair), sage: low stock (3 units left).\n"
        "- Alba wool throw, oatmeal: discontinued, no restock planned.\n"
        f"Last order #C-77120, placed {_on(-20)}: 1 x Aurora fitted sheet, king; "
        f"delivered {_on(-16)} by Colissimo."
    ),
    LONG_EMAIL: _long_history(),
}
"""The seed users: lowercased email -> ``user_info`` text."""

_SLOW_INFO = (
    "Customer: Sam Slow. Order #S-1001 shipped with FedEx, tracking 771234567890, "
    f"expected delivery {_on(3)}."
)
_DRIP_INFO = "Dee Drip."
_CROSS_TALK_INFO = (
    "Customer: Someone Else. Order #W-5550, placed "
    f"{_on(-2)}: 1 x Cast-iron skillet. Status: shipped with DHL, tracking "
    f"JD014600003828391234, expected delivery {_on(1)}."
)


@functools.cache
def _huge_info() -> str:
    lines: list[str] = []
    size = 0
    number = 0
    while size <= HUGE_BODY_BYTES:
        number += 1
        line = f"- Order #H-{number:07d}: 1 x Sample item, delivered, no open issues.\n"
        lines.append(line)
        size += len(line)
    return "".join(lines)


# --------------------------------------------------------------------------- the fake API


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _pause(request: Request, seconds: float) -> None:
    """Sleep ``seconds``, stopping early if the client hangs up.

    Only call this after the request body has been read: ``is_disconnected``
    would otherwise swallow a body message.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(remaining, 0.1))
        if await request.is_disconnected():
            return


async def _drip(body: bytes) -> AsyncIterator[bytes]:
    for index in range(len(body)):
        if index:
            await asyncio.sleep(DRIP_INTERVAL)
        yield body[index : index + 1]


def _drip_body(identifier: str) -> bytes:
    """A valid JSON answer, padded with leading blanks to last :data:`DRIP_SECONDS`."""
    answer = {"identifier": identifier, "user_info": _DRIP_INFO}
    document = json.dumps(answer, separators=(",", ":")).encode()
    padding = max(0, round(DRIP_SECONDS / DRIP_INTERVAL) - len(document))
    return b" " * padding + document


def create_user_data_api(
    *,
    api_key: str = SANDBOX_API_KEY,
    header_name: str = "Authorization",
    latency: float = 0.0,
    users: Mapping[str, str] | None = None,
) -> Starlette:
    """Return a Starlette app that fakes a business's User Data API.

    The API answers ``POST`` at every path, so the base URL :func:`serve`
    yields is itself a valid API URL. Each request is checked in this order:

    1. the ``header_name`` header must carry ``api_key`` itself, raw (no
       ``Bearer`` or other scheme prefix); it is compared in constant time.
       Missing or wrong: 401 ``{"error": ...}``.
    2. the body must be a JSON object whose ``identifier`` is a non-empty
       string; otherwise 400 ``{"error": ...}``.
    3. the special addresses (:data:`SPECIAL_EMAILS`) behave as the module
       docstring says; any other identifier is looked up, case-insensitively,
       in ``users`` (default :data:`SANDBOX_USERS`; copied when the app is
       built): 200 ``{"identifier": <as asked>, "user_info": <text>}``, or 404
       ``{"error": "user not found"}``.

    Every answer, whatever its status, comes after ``latency`` seconds of
    ``asyncio.sleep`` (for benchmarks). ``app.state.requests`` counts the
    requests received (every POST, whatever its outcome) and
    ``app.state.identifiers`` lists, in order, the identifiers of the
    requests that passed steps 1 and 2, so tests can count round trips.
    """
    if not api_key:
        raise ValueError("api_key must not be empty")
    if not header_name or not header_name.strip():
        raise ValueError("header_name must not be empty")
    if latency < 0:
        raise ValueError("latency must not be negative")
    source = SANDBOX_USERS if users is None else users
    known = {email.lower(): info for email, info in source.items()}
    expected_key = api_key.encode("utf-8")

    async def user_data(request: Request) -> Response:
        state = app.state
        state.requests += 1
        body = await request.body()
        if latency:
            await _pause(request, latency)

        provided = request.headers.get(header_name)
        if provided is None:
            return _error(401, f"missing API key: send it in the {header_name} header")
        # Headers arrive as latin-1 text: encode back to the bytes on the wire.
        if not hmac.compare_digest(provided.encode("latin-1"), expected_key):
            return _error(401, "invalid API key")

        try:
            payload: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body must be JSON")
        if not isinstance(payload, dict):
            return _error(400, "the body must be a JSON object")
        identifier = payload.get("identifier")
        if not isinstance(identifier, str) or not identifier.strip():
            return _error(400, '"identifier" must be a non-empty string')
        state.identifiers.append(identifier)
        return await _answer(request, identifier, known)

    app = Starlette(routes=[Route("/{path:path}", user_data, methods=["POST"])])
    app.state.requests = 0
    app.state.identifiers = []
    return app


async def _answer(request: Request, identifier: str, known: Mapping[str, str]) -> Response:
    email = identifier.lower()
    if email == DOWN_EMAIL:
        return _error(500, "internal error: the order database is unavailable")
    if email == SLOW_EMAIL:
        await _pause(request, SLOW_SECONDS)
        return JSONResponse({"identifier": identifier, "user_info": _SLOW_INFO})
    if email == DRIP_EMAIL:
        return StreamingResponse(_drip(_drip_body(identifier)), media_type="application/json")
    if email == HUGE_EMAIL:
        return JSONResponse({"identifier": identifier, "user_info": _huge_info()})
    if email == WRONG_EMAIL:
        return JSONResponse({"identifier": CROSS_TALK_IDENTIFIER, "user_info": _CROSS_TALK_INFO})
    if email == MALFORMED_EMAIL:
        truncated = '{"identifier": "' + identifier + '", "user_info": "Order #M-4410, shipp'
        return Response(truncated, media_type="application/json")
    info = known.get(email)
    if info is None:
        return _error(404, "user not found")
    return JSONResponse({"identifier": identifier, "user_info": info})


# --------------------------------------------------------------------------- serving


class RateLimited:
    """A vendor fake's rate limit: at most ``limit`` requests in any ``window`` seconds.

    Wraps any ASGI app (every fake of a vendor that limits its API). A request
    over the limit is answered ``429`` with ``Retry-After`` and never reaches
    the app. :attr:`throttled` counts those answers and :attr:`busiest` is the
    most requests that arrived within one window, so a test can check that
    clients kept under the limit together.
    """

    def __init__(self, app: ASGIApp, *, limit: int, window: float = 1.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.app = app
        self.limit = limit
        self.window = window
        self.throttled = 0
        self.busiest = 0
        self._arrivals: list[float] = []
        self._lock = threading.Lock()

    def _admit(self) -> bool:
        now = time.monotonic()
        with self._lock:
            start = now - self.window
            self._arrivals = [t for t in self._arrivals if t > start]
            self._arrivals.append(now)
            self.busiest = max(self.busiest, len(self._arrivals))
            if len(self._arrivals) > self.limit:
                self.throttled += 1
                return False
            return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._admit():
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": f"rate limit: {self.limit} requests per {self.window:g} s"},
            status_code=429,
            headers={"Retry-After": str(max(1, round(self.window)))},
        )
        await response(scope, receive, send)


class ServerThread(threading.Thread):
    """Run an ASGI app under uvicorn in a daemon thread with its own event loop.

    The listening socket is bound in the constructor on ``host`` with a port
    the OS chooses, so :attr:`port` and :attr:`url` are known at once. Use it
    as a context manager (or call :meth:`start_and_wait` and :meth:`stop`)::

        with ServerThread(app) as server:
            httpx2.get(server.url)

    uvicorn runs with ``log_level="warning"``, no lifespan, no change to the
    logging configuration, and a ``graceful_shutdown`` of 1 s by default, after
    which requests still in flight (a streaming body, a slow answer) are
    cancelled, so leaving the block takes about a second at most.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        *,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        graceful_shutdown: int = 1,
    ) -> None:
        super().__init__(name=f"liveuser-serve-{host}", daemon=True)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._error: BaseException | None = None
        ipv6 = ":" in host
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol
        # says TCP, and without it every kept-alive request waits ~40 ms (Nagle).
        self._socket = socket.socket(
            socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, 0))
        except BaseException:
            self._socket.close()
            raise
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://[{host}]:{self.port}" if ipv6 else f"http://{host}:{self.port}"
        """The base URL, e.g. ``http://127.0.0.1:53817``."""
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=graceful_shutdown,
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        """The thread's body: serve until :meth:`stop`; keep any error for the caller."""
        try:
            self.server.run(sockets=[self._socket])
        except BaseException as exc:  # SystemExit included: uvicorn exits on startup failure
            self._error = exc
        finally:
            self._socket.close()

    def start_and_wait(self) -> None:
        """Start the thread and return once the server accepts connections."""
        self.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self.is_alive():
                raise RuntimeError(f"the server on {self.url} failed to start") from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the server on {self.url} did not start within {self.startup_timeout} s"
                )
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask the server to exit and wait for the thread; raise if it will not stop."""
        if not self.is_alive() and self.ident is None:  # never started
            self._socket.close()
            return
        self.server.should_exit = True
        self.join(self.shutdown_timeout)
        if self.is_alive():
            self.server.force_exit = True
            self.join(1.0)
        if self.is_alive():
            raise RuntimeError(
                f"the server on {self.url} did not stop within {self.shutdown_timeout} s"
            )
        if self._error is not None and self.server.started:
            raise RuntimeError(f"the server on {self.url} failed") from self._error

    def __enter__(self) -> ServerThread:
        self.start_and_wait()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serve(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on ``host`` and a free port; yield the base URL; stop on exit.

    ``with serve(create_user_data_api()) as url:`` gives ``http://127.0.0.1:<port>``.
    The port is free again once the block is left.
    """
    with ServerThread(app, host) as server:
        yield server.url
