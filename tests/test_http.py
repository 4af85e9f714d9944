"""The shared HTTP client: retries for reads only, vendor wait hints, deadline, size cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from liveuser import (
    BackendError,
    BackendResponseError,
    BackendStatusError,
    BackendTimeout,
    HttpClient,
)
from liveuser.http import RETRY_ATTEMPTS, HttpAnswer, deadline, enforced_deadline, retry_after
from liveuser.sandbox import serve


def _client(
    statuses: list[int], seen: list[httpx2.Request], headers: dict[str, str] | None = None
) -> HttpClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        status = statuses[min(len(seen) - 1, len(statuses) - 1)]
        return httpx2.Response(status, headers=headers or {}, json={"n": len(seen)})

    return HttpClient(httpx2.MockTransport(handler))


async def test_read_is_retried_on_429_and_5xx_until_it_succeeds() -> None:
    seen: list[httpx2.Request] = []
    async with _client([429, 503, 200], seen) as http:
        answer = await http.request("api", "GET", "https://api.example.com/x")
    assert answer.status == 200 and answer.json() == {"n": 3} and len(seen) == 3


async def test_persistent_5xx_is_a_status_error_after_the_attempts() -> None:
    seen: list[httpx2.Request] = []
    async with _client([502], seen) as http:
        with pytest.raises(BackendStatusError) as info:
            await http.request("api", "GET", "https://api.example.com/x")
    assert info.value.status == 502 and str(info.value) == "api: answered HTTP 502"
    assert len(seen) == RETRY_ATTEMPTS


async def test_write_is_never_retried() -> None:
    seen: list[httpx2.Request] = []
    async with _client([503, 200], seen) as http:
        answer = await http.request("api", "POST", "https://api.example.com/x", read=False)
    assert answer.status == 503 and len(seen) == 1

    def broken(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        raise httpx2.ConnectError("refused")

    seen.clear()
    async with HttpClient(httpx2.MockTransport(broken)) as http:
        with pytest.raises(BackendError, match="connection failed"):
            await http.request("api", "POST", "https://api.example.com/x", read=False)
    assert len(seen) == 1


async def test_read_is_retried_on_transport_errors() -> None:
    calls = 0

    def flaky(request: httpx2.Request) -> httpx2.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx2.ConnectError("reset")
        return httpx2.Response(200, json={})

    async with HttpClient(httpx2.MockTransport(flaky)) as http:
        assert (await http.request("api", "GET", "https://api.example.com/")).status == 200
    assert calls == 3


async def test_retry_after_longer_than_the_deadline_gives_up_at_once() -> None:
    seen: list[httpx2.Request] = []
    async with _client([429, 200], seen, headers={"Retry-After": "30"}) as http:
        with deadline(2.0), pytest.raises(BackendStatusError, match="HTTP 429"):
            await http.request("api", "GET", "https://api.example.com/x")
    assert len(seen) == 1


async def test_vendor_wait_hint_is_used() -> None:
    seen: list[httpx2.Request] = []
    hints: list[int] = []

    def hint(answer: HttpAnswer) -> float | None:
        hints.append(answer.status)
        return 0.0

    async with _client([429, 200], seen) as http:
        answer = await http.request("api", "GET", "https://x.example.com/", wait_hint=hint)
    assert answer.status == 200 and 429 in hints


def test_retry_after_reads_seconds_and_dates() -> None:
    def answer(value: str) -> HttpAnswer:
        return HttpAnswer(429, httpx2.Headers({"Retry-After": value}), b"", "s")

    assert retry_after(answer("7")) == 7.0
    assert retry_after(answer("garbage")) is None
    assert retry_after(HttpAnswer(429, httpx2.Headers(), b"", "s")) is None
    future = answer("Wed, 21 Oct 2099 07:28:00 GMT")
    assert (retry_after(future) or 0) > 1e6


def _dripping_client() -> HttpClient:
    """A client whose every answer drips one byte each 50 ms (5 s in all)."""

    async def drip() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b"x"

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=drip())

    return HttpClient(httpx2.MockTransport(handler))


async def test_deadline_covers_a_slow_body() -> None:
    started = time.monotonic()
    async with _dripping_client() as http:
        with deadline(0.3), pytest.raises(BackendTimeout, match="no complete answer"):
            await http.request("api", "GET", "https://x.example.com/")
    assert time.monotonic() - started < 3


async def test_inside_an_enforced_deadline_the_block_ends_the_slow_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The silo runs each back-end so: one timer, the block's, ends its requests,
    # which set none of their own.
    timers: list[float | None] = []
    real_timeout = asyncio.timeout

    def counted(delay: float | None) -> asyncio.Timeout:
        timers.append(delay)
        return real_timeout(delay)

    monkeypatch.setattr("liveuser.http.asyncio.timeout", counted)
    started = time.monotonic()
    async with _dripping_client() as http:
        with deadline(0.3), pytest.raises(TimeoutError):
            async with enforced_deadline():
                await http.request("api", "GET", "https://x.example.com/")
                await http.request("api", "GET", "https://x.example.com/")
    assert time.monotonic() - started < 3
    assert len(timers) == 1  # the block's


async def test_a_shorter_nested_deadline_still_times_its_own_request() -> None:
    async with _dripping_client() as http:
        with deadline(5):
            async with enforced_deadline():
                with deadline(0.2), pytest.raises(BackendTimeout, match="no complete answer"):
                    await http.request("api", "GET", "https://x.example.com/")


async def test_a_request_of_another_task_still_times_itself() -> None:
    # A task started inside the block inherits its context, not its timer.
    async with _dripping_client() as http:
        with deadline(0.3):
            async with enforced_deadline():
                task = asyncio.create_task(http.request("api", "GET", "https://x.example.com/"))
            with pytest.raises(BackendTimeout, match="no complete answer"):
                await task


async def test_size_cap_is_enforced_while_streaming() -> None:
    chunks = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal chunks
        while True:
            chunks += 1
            yield b"x" * 1000

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=endless())

    async with HttpClient(httpx2.MockTransport(handler)) as http:
        with pytest.raises(BackendResponseError, match="over the 10000 byte cap"):
            await http.request("api", "GET", "https://x.example.com/", max_bytes=10_000)
    assert chunks <= 12


async def test_declared_oversize_is_refused_before_reading() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=b"x" * 5000)

    async with HttpClient(httpx2.MockTransport(handler)) as http:
        with pytest.raises(BackendResponseError, match="answer of 5000 bytes"):
            await http.request("api", "GET", "https://x.example.com/", max_bytes=100)


async def test_nested_deadline_only_shortens() -> None:
    with deadline(5.0) as outer, deadline(10.0) as inner:
        assert inner == outer
    with deadline(5.0) as outer, deadline(1.0) as inner:
        assert inner < outer


def test_retry_after_ignores_non_ascii_digits() -> None:
    answer = HttpAnswer(429, httpx2.Headers({"Retry-After": "²".encode("latin-1")}), b"", "s")
    assert retry_after(answer) is None


async def test_first_retry_waits_as_the_vendor_asks() -> None:
    seen: list[httpx2.Request] = []
    started = time.monotonic()
    async with _client([429, 200], seen, headers={"Retry-After": "1"}) as http:
        answer = await http.request("api", "GET", "https://api.example.com/x")
    assert answer.status == 200 and time.monotonic() - started >= 1.0


async def test_post_is_not_retried_unless_marked_a_read() -> None:
    seen: list[httpx2.Request] = []
    async with _client([503, 200], seen) as http:
        assert (await http.request("api", "POST", "https://x.example.com/")).status == 503
        assert len(seen) == 1
        assert (
            await http.request("api", "POST", "https://x.example.com/", read=True)
        ).status == 200


async def test_nothing_is_retried_inside_an_action() -> None:
    from liveuser.http import no_retries

    seen: list[httpx2.Request] = []
    async with _client([503, 200], seen) as http:
        with no_retries():
            answer = await http.request("api", "GET", "https://x.example.com/")
    assert answer.status == 503 and len(seen) == 1


async def test_bodies_are_asked_for_uncompressed_and_bad_encodings_are_errors() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    async with HttpClient(httpx2.MockTransport(handler)) as http:
        with pytest.raises(BackendResponseError, match="cannot be decoded"):
            await http.request("api", "GET", "https://x.example.com/")
    assert seen[0].headers["accept-encoding"] == "identity"


async def test_every_request_names_liveuser_and_the_callers_headers_win() -> None:
    seen: list[httpx2.Request] = []
    async with _client([200], seen) as http:
        await http.request("api", "GET", "https://api.example.com/x")
        await http.request(
            "api",
            "GET",
            "https://api.example.com/x",
            headers={"accept": "application/json", "X-Key": "k"},
        )
    plain, named = seen
    assert plain.headers["user-agent"].startswith("liveuser")
    assert plain.headers["accept"] == "*/*"
    # A default the caller names, in any case, is replaced, not sent twice.
    assert named.headers.get_list("accept") == ["application/json"]
    assert named.headers["x-key"] == "k" and named.headers["accept-encoding"] == "identity"


def _cookie_setter() -> Starlette:
    async def endpoint(request: Request) -> JSONResponse:
        response = JSONResponse({"cookie": request.headers.get("cookie")})
        response.set_cookie("session", "earned-by-tenant-a")
        return response

    return Starlette(routes=[Route("/x", endpoint)])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_no_cookie_travels_from_one_request_to_another(host: str) -> None:
    # One pool serves every tenant: a cookie the vendor set on tenant A's answer
    # must not ride along with tenant B's request to the same host.
    with serve(_cookie_setter()) as url:
        url = url.replace("127.0.0.1", host)
        async with HttpClient() as http:
            first = await http.request("tenant-a", "GET", f"{url}/x")
            second = await http.request("tenant-b", "GET", f"{url}/x")
    assert "session=" in first.headers["set-cookie"]
    assert first.json() == {"cookie": None} and second.json() == {"cookie": None}


async def test_a_request_that_cannot_be_sent_is_a_backend_error() -> None:
    async with _client([200], []) as http:
        with pytest.raises(BackendError, match="request failed"):
            await http.request("api", "GET", "https://x.example.com/", headers={"X-Key": "clé"})


async def test_get_model_turns_each_failure_into_a_readable_reason() -> None:
    from pydantic import BaseModel

    class Ticket(BaseModel):
        id: int

    answers = {
        "/ok": httpx2.Response(200, json={"id": 7}),
        "/gone": httpx2.Response(404, json={}),
        "/denied": httpx2.Response(401, json={}),
        "/odd": httpx2.Response(200, json={"id": "seven"}),
        "/junk": httpx2.Response(200, content=b"{not json"),
        "/deleted": httpx2.Response(410, json={}),
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return answers[request.url.path]

    async with HttpClient(httpx2.MockTransport(handler)) as http:

        async def get(path: str) -> Ticket:
            return await http.get_model(
                "acme", f"https://acme.example.com{path}", Ticket, vendor="Acme", what="ticket 7"
            )

        assert (await get("/ok")).id == 7
        expected = {
            "/gone": "ticket 7 was not found in Acme",
            "/denied": "Acme refused liveuser's credentials (HTTP 401); check the settings",
            "/odd": "Acme's answer about ticket 7 is not what liveuser expects (id:",
            "/junk": "Acme answered malformed JSON about ticket 7",
            "/deleted": "Acme answered HTTP 410 about ticket 7",
        }
        for path, reason in expected.items():
            with pytest.raises(BackendError) as info:
                await get(path)
            assert info.value.source == "acme" and info.value.reason.startswith(reason)
        with pytest.raises(BackendError) as info:  # a vendor that says 410 for deleted records
            await http.get_model(
                "acme",
                "https://acme.example.com/deleted",
                Ticket,
                vendor="Acme",
                what="ticket 7",
                not_found=(404, 410),
            )
        assert info.value.reason == "ticket 7 was not found in Acme"
