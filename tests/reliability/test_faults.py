"""Degrade, never block: the User Data API back-end against a misbehaving server, over sockets.

A starlette fault server misbehaves according to the identifier it is asked
about; two faults never reach it (a refused connection, and a TCP handshake
that never completes). For every fault the context comes back within the deadline (plus a
margin), verified, with ``user_data_api`` named in ``Context.missing`` with a
reason, nothing raised, and no other user's data in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from liveuser.http import RETRY_ATTEMPTS
from liveuser.sandbox import serve

from ..conftest import PipelineFactory, host_conversation
from .fault_server import stalled_connect_url
from .tally import TALLY

pytestmark = pytest.mark.reliability

DEADLINE = 1.0
MARGIN = 3.0  # generous: two shared cores, a thread-hosted server sharing the GIL
OTHER_USER = "victim@faults.example"
OTHER_DATA = "OTHER-USER-DATA Customer: Vic Tim, Order #V-9999 to 1 Secret Lane"
FOREVER = 30.0  # longer than any deadline here; the server stops when the client hangs up
TEN_MB = 10 * 1024 * 1024


def _other_user_body() -> bytes:
    return json.dumps({"identifier": OTHER_USER, "user_info": OTHER_DATA}).encode()


async def _until_disconnected(request: Request, seconds: float = FOREVER) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        await asyncio.sleep(0.05)
        if await request.is_disconnected():
            return


def create_fault_server() -> Starlette:
    """POST {"identifier": "<fault>@faults.example"}: misbehave as the local part says."""

    async def handle(request: Request) -> Response:
        payload = json.loads(await request.body())
        identifier: str = payload["identifier"]
        app.state.identifiers.append(identifier)
        fault = identifier.split("@", 1)[0]
        good = {"identifier": identifier, "user_info": f"Customer {identifier}: all fine."}
        other = _other_user_body()

        if fault == "stall-headers":
            await _until_disconnected(request)
            return JSONResponse(good)
        if fault == "stall-body":

            async def stall() -> AsyncIterator[bytes]:
                yield other[:20]  # a start, then nothing more
                await asyncio.sleep(FOREVER)
                yield other[20:]

            return StreamingResponse(stall(), media_type="application/json")
        if fault == "drip":
            body = b" " * 200 + json.dumps(good).encode()

            async def drip() -> AsyncIterator[bytes]:
                for index in range(len(body)):
                    await asyncio.sleep(0.05)
                    yield body[index : index + 1]

            return StreamingResponse(drip(), media_type="application/json")
        if fault == "storm-429-retry-after-0":
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "0"})
        if fault == "storm-429-no-retry-after":
            return JSONResponse({"error": "slow down"}, 429)
        if fault == "storm-429-retry-after-hour":
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "3600"})
        if fault == "storm-429-retry-after-date":
            when = formatdate(time.time() + 3600, usegmt=True)
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": when})
        if fault == "burst-5xx":
            status = (500, 502, 503, 504)[len(app.state.identifiers) % 4]
            return JSONResponse({"error": "unavailable"}, status)
        if fault == "malformed-json":
            return Response(json.dumps(good).replace(":", "=", 1), media_type="application/json")
        if fault == "truncated-json":
            return Response(json.dumps(good)[:30], media_type="application/json")
        if fault == "wrong-content-type":
            return Response("<html><body>Service Unavailable</body></html>", media_type="text/html")
        if fault == "huge-declared":
            return Response(b"{" + b" " * TEN_MB + b"}", media_type="application/json")
        if fault == "huge-chunked":

            async def huge() -> AsyncIterator[bytes]:
                chunk = b" " * 65536
                for _ in range(TEN_MB // len(chunk)):
                    yield chunk
                yield json.dumps(good).encode()

            return StreamingResponse(huge(), media_type="application/json")
        if fault == "other-user":
            return Response(other, media_type="application/json")
        if fault == "other-user-error":
            return Response(other, 500, media_type="application/json")
        return JSONResponse(good)

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["POST"])])
    app.state.identifiers = []
    return app


@pytest.fixture(scope="module")
def fault_server() -> Iterator[tuple[str, Starlette]]:
    app = create_fault_server()
    with serve(app) as url:
        yield f"{url}/user-data", app


def closed_port_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/user-data"


RETRIED = RETRY_ATTEMPTS  # a read answered 429/5xx is tried this many times in all
FAULTS = {  # fault -> requests the server should see (reads retried, hopeless waits not)
    "refused": 0,
    "connect-stall": 0,  # the handshake never completes: the server never sees a request
    "stall-headers": 1,
    "stall-body": 1,
    "drip": 1,
    "storm-429-retry-after-0": RETRIED,
    "storm-429-no-retry-after": RETRIED,
    "storm-429-retry-after-hour": 1,  # waiting an hour cannot fit the deadline: give up now
    "storm-429-retry-after-date": 1,
    "burst-5xx": RETRIED,
    "truncated-json": 1,
    "malformed-json": 1,
    "wrong-content-type": 1,
    "huge-declared": 1,
    "huge-chunked": 1,
    "other-user": 1,
    "other-user-error": RETRIED,
}


TARGET = "user_data_api"


@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_degrades_to_a_context_without_the_source(
    fault: str, fault_server: tuple[str, Starlette], make_pipeline: PipelineFactory
) -> None:
    TALLY.faults_tried[TARGET] += 1
    url, app = fault_server
    with contextlib.ExitStack() as stack:
        if fault == "refused":
            url = closed_port_url()
        elif fault == "connect-stall":
            url = stack.enter_context(stalled_connect_url()) + "/user-data"
        pipeline = make_pipeline(
            user_data_api_url=url, deadline_seconds=DEADLINE, cache_ttl_seconds=0
        )
        email = f"{fault}@faults.example"
        before = len(app.state.identifiers)

        started = time.monotonic()
        context = await pipeline.context_for(host_conversation(email), "m1")
        elapsed = time.monotonic() - started

    assert elapsed < DEADLINE + MARGIN, f"{fault}: took {elapsed:.2f} s"
    assert context.verified, context.refusal
    assert "user_data_api" not in context.sources
    reason = context.missing.get("user_data_api")
    assert reason, f"{fault}: not reported missing ({context.missing})"
    assert "user_data_api" in context.text  # the agent is told what is missing
    assert "OTHER-USER-DATA" not in context.text and OTHER_USER not in context.text
    assert f"Customer {email}" not in context.text  # no stale or partial body slipped in
    # liveuser only ever asked about the verified user.
    asked = app.state.identifiers[before:]
    assert set(asked) <= {email}
    assert len(asked) == FAULTS[fault], f"{fault}: {len(asked)} requests"
    TALLY.faults_survived[TARGET] += 1


async def test_a_burst_that_ends_within_the_deadline_is_retried(
    make_pipeline: PipelineFactory,
) -> None:
    """The control: the same server shapes do deliver once the fault clears (retries work)."""
    answers = iter([503, 429, 200])

    async def handle(request: Request) -> Response:
        identifier = json.loads(await request.body())["identifier"]
        status = next(answers, 200)
        if status != 200:
            return JSONResponse({"error": "busy"}, status, headers={"Retry-After": "0"})
        return JSONResponse({"identifier": identifier, "user_info": "Order #OK-1 delivered."})

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["POST"])])
    with serve(app) as url:
        pipeline = make_pipeline(user_data_api_url=url, deadline_seconds=DEADLINE)
        context = await pipeline.context_for(host_conversation("flaky@faults.example"), "m1")
    assert context.missing == {}
    assert "Order #OK-1 delivered." in context.text


def test_zz_fault_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last (file order): every fault tried was survived."""
    tried, survived = TALLY.faults_tried[TARGET], TALLY.faults_survived[TARGET]
    with capsys.disabled():
        print(f"\nfaults tried {tried}, survived {survived}")
    assert tried == survived, f"{tried - survived} faults not survived"
