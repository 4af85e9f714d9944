"""Serve every vendor fake and the sandbox User Data API in one process, for ``bench/e2e.py``.

Run by ``bench/e2e.py``, not by hand (though that works too)::

    python bench/_fakes_server.py --latency 0.05

Each fake gets its own uvicorn server on 127.0.0.1 and a port the OS picks, all
in this process's one event loop. Every fake is wrapped in :class:`Bench`,
which waits ``--latency`` seconds before the fake answers (the vendor's
network and processing time), counts requests, and on request records them
(method, path, query, headers, body) so the floor can replay exactly what
liveuser sent. The fakes' rate limits are lifted: the benchmark measures
liveuser, not the vendors' throttles.

Prints one line ``FAKES {"zendesk": "http://127.0.0.1:<port>", ...}`` once
every server accepts connections; serves until SIGTERM/SIGINT or end of file on
standard input (the parent closed the pipe or died).

Control paths on every fake (answered at once, never recorded):
``POST /__bench__/record`` starts recording, ``GET /__bench__/log`` returns
the recorded requests as JSON and stops recording, ``GET /__bench__/count``
returns ``{"requests": n}`` (all requests since start).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveuser.demo import UNLIMITED
from liveuser.sandbox import ANN_EMAIL, SANDBOX_API_KEY, SANDBOX_USERS

SKIPPED_HEADERS = {"host", "content-length", "connection", "user-agent", "accept-encoding"}


def _fakes() -> dict[str, Callable[[], ASGIApp]]:
    """Each installed vendor fake, built with its rate limit lifted."""
    fakes: dict[str, Callable[[], ASGIApp]] = {"user_data_api": user_data_api}
    try:
        from liveuser_zendesk.fake import create_fake_zendesk

        fakes["zendesk"] = lambda: create_fake_zendesk(rate_limit=UNLIMITED)
    except ImportError:
        pass
    try:
        from liveuser_intercom.fake import create_fake_intercom

        fakes["intercom"] = lambda: create_fake_intercom(rate_limit=UNLIMITED)
    except ImportError:
        pass
    try:
        from liveuser_gorgias.fake import create_fake_gorgias

        fakes["gorgias"] = lambda: create_fake_gorgias(capacity=UNLIMITED)
    except ImportError:
        pass
    try:
        from liveuser_hubspot.fake import create_fake_hubspot

        fakes["hubspot"] = lambda: create_fake_hubspot(burst_limit=UNLIMITED, daily_limit=UNLIMITED)
    except ImportError:
        pass
    try:
        from liveuser_freshworks.fake import create_fake_freshworks

        fakes["freshworks"] = lambda: create_fake_freshworks(rate_limit=UNLIMITED)
    except ImportError:
        pass
    try:
        from liveuser_shopify.fake import create_fake_shopify

        def shopify() -> ASGIApp:
            app = create_fake_shopify()
            app.state.maximum = float(UNLIMITED)
            app.state.available = float(UNLIMITED)
            app.state.restore_rate = float(UNLIMITED)
            return app

        fakes["shopify"] = shopify
    except ImportError:
        pass
    return fakes


def user_data_api() -> ASGIApp:
    """The User Data API contract, answering for every identifier (the connectors' users
    differ from the sandbox's seed users): Ann's seed text under the identifier asked for."""
    info = SANDBOX_USERS[ANN_EMAIL]

    async def answer(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != SANDBOX_API_KEY:
            return JSONResponse({"error": "invalid API key"}, status_code=401)
        identifier = json.loads(await request.body())["identifier"]
        return JSONResponse({"identifier": identifier, "user_info": info})

    return Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])


class Bench:
    """ASGI wrapper: latency before each answer, a request counter, an optional recorder."""

    def __init__(self, app: ASGIApp, latency: float) -> None:
        self.app = app
        self.latency = latency
        self.count = 0
        self.recording = False
        self.recorded: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/__bench__/"):
            await self._control(path, send)
            return
        self.count += 1
        if self.recording:
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            self.recorded.append(
                {
                    "method": scope["method"],
                    "path": path,
                    "query": scope["query_string"].decode("latin-1"),
                    "headers": [
                        [k.decode("latin-1"), v.decode("latin-1")]
                        for k, v in scope["headers"]
                        if k.decode("latin-1").lower() not in SKIPPED_HEADERS
                    ],
                    "body": base64.b64encode(body).decode(),
                }
            )
            receive = _replay(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        await self.app(scope, receive, send)

    async def _control(self, path: str, send: Send) -> None:
        if path == "/__bench__/record":
            self.recording, self.recorded = True, []
            answer: Any = {"recording": True}
        elif path == "/__bench__/log":
            answer, self.recording, self.recorded = self.recorded, False, []
        else:
            answer = {"requests": self.count}
        body = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client's disconnect is never awaited here
        return {"type": "http.disconnect"}

    return receive


def _listening_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP (otherwise Nagle + delayed ACK add ~40 ms per request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    servers: dict[str, tuple[uvicorn.Server, socket.socket]] = {}
    for name, factory in _fakes().items():
        sock = _listening_socket()
        config = uvicorn.Config(
            Bench(factory(), args.latency),
            log_level="warning",
            log_config=None,
            lifespan="off",
            access_log=False,
            backlog=4096,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=300,  # longer than any pause: no reuse of a closed connection
        )
        servers[name] = (uvicorn.Server(config), sock)

    def stop() -> None:
        for server, _ in servers.values():
            server.should_exit = True

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop()

    async def announce() -> None:
        while not all(server.started for server, _ in servers.values()):
            if any(server.should_exit for server, _ in servers.values()):
                return
            await asyncio.sleep(0.01)
        urls = {
            name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, (_, sock) in servers.items()
        }
        print("FAKES " + json.dumps(urls), flush=True)

    async def run() -> None:
        announcer = asyncio.create_task(announce())
        try:
            await asyncio.gather(
                *(server.serve(sockets=[sock]) for server, sock in servers.values())
            )
        finally:
            announcer.cancel()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    try:
        asyncio.run(run())
    finally:
        for _, sock in servers.values():
            sock.close()


if __name__ == "__main__":
    main()
