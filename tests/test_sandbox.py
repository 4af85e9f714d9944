"""The sandbox User Data API keeps the contract, and ``serve`` runs any ASGI app."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from liveuser.sandbox import (
    ANN_EMAIL,
    BOB_EMAIL,
    CHLOE_EMAIL,
    CROSS_TALK_IDENTIFIER,
    DOWN_EMAIL,
    DRIP_EMAIL,
    DRIP_INTERVAL,
    DRIP_SECONDS,
    HUGE_EMAIL,
    LONG_EMAIL,
    MALFORMED_EMAIL,
    SANDBOX_API_KEY,
    SANDBOX_USERS,
    SLOW_EMAIL,
    SLOW_SECONDS,
    SPECIAL_EMAILS,
    WRONG_EMAIL,
    ServerThread,
    create_user_data_api,
    serve,
)

AUTH = {"Authorization": SANDBOX_API_KEY}


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve(create_user_data_api()) as url:
        yield url


@pytest.fixture
def client(sandbox_url: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=sandbox_url, timeout=5.0) as http:
        yield http


def ask(client: httpx2.Client, identifier: Any, headers: dict[str, str] = AUTH) -> httpx2.Response:
    return client.post("/", json={"identifier": identifier}, headers=headers)


# --------------------------------------------------------------------------- 200


def test_known_user_gets_their_info(client: httpx2.Client) -> None:
    response = ask(client, ANN_EMAIL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"identifier": ANN_EMAIL, "user_info": SANDBOX_USERS[ANN_EMAIL]}


def test_lookup_ignores_case_and_echoes_the_identifier_asked(client: httpx2.Client) -> None:
    response = ask(client, "Bob@EXAMPLE.com")
    assert response.status_code == 200
    assert response.json() == {
        "identifier": "Bob@EXAMPLE.com",
        "user_info": SANDBOX_USERS[BOB_EMAIL],
    }


def test_any_path_is_the_api(client: httpx2.Client) -> None:
    response = client.post("/v1/user-data", json={"identifier": CHLOE_EMAIL}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["user_info"] == SANDBOX_USERS[CHLOE_EMAIL]
    assert client.get("/", headers=AUTH).status_code == 405


@pytest.mark.parametrize(
    ("email", "needles"),
    [
        (
            ANN_EMAIL,
            [
                "#A-10452",
                "#A-10478",
                "UPS",
                "1Z999AA10123456784",
                "expected delivery",
                "processing",
            ],
        ),
        (BOB_EMAIL, ["Coffee Club Plus", "back-ordered", "restock expected"]),
        (CHLOE_EMAIL, ["in stock", "out of stock", "restock expected", "14 units"]),
        (LONG_EMAIL, ["Order history", "#L-30118", "tracking"]),
    ],
)
def test_seed_users_answer_support_questions(email: str, needles: list[str]) -> None:
    info = SANDBOX_USERS[email]
    assert 400 <= len(info) <= 3_500
    for needle in needles:
        assert needle in info


def test_long_user_info_is_about_three_thousand_characters() -> None:
    assert 2_500 <= len(SANDBOX_USERS[LONG_EMAIL]) <= 3_500
    assert all(len(info) < 1_500 for email, info in SANDBOX_USERS.items() if email != LONG_EMAIL)


def test_seed_keys_are_lowercase_and_not_special() -> None:
    assert all(email == email.lower() for email in SANDBOX_USERS)
    assert not SPECIAL_EMAILS & SANDBOX_USERS.keys()


def test_custom_users_replace_the_seed_users() -> None:
    app = create_user_data_api(users={"Dana@Shop.test": "Dana's info"})
    with serve(app) as url, httpx2.Client(base_url=url) as http:
        found = ask(http, "dana@shop.TEST")
        assert found.status_code == 200
        assert found.json() == {"identifier": "dana@shop.TEST", "user_info": "Dana's info"}
        assert ask(http, ANN_EMAIL).status_code == 404
        assert ask(http, DOWN_EMAIL).status_code == 500  # special addresses still behave


# --------------------------------------------------------------------------- 400


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b'["ann@example.com"]',
        b'"ann@example.com"',
        b"null",
        b"{}",
        b'{"email": "ann@example.com"}',
        b'{"identifier": 42}',
        b'{"identifier": null}',
        b'{"identifier": ["ann@example.com"]}',
        b'{"identifier": ""}',
    ],
)
def test_bad_body_is_400(client: httpx2.Client, body: bytes) -> None:
    response = client.post("/", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


# --------------------------------------------------------------------------- 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "wrong-key"},
        {"Authorization": f"Bearer {SANDBOX_API_KEY}"},  # the raw key, no scheme
        {"Authorization": SANDBOX_API_KEY + "x"},
        {"Authorization": SANDBOX_API_KEY[:-1]},
        {"X-Api-Key": SANDBOX_API_KEY},
    ],
)
def test_missing_or_wrong_key_is_401(client: httpx2.Client, headers: dict[str, str]) -> None:
    response = ask(client, ANN_EMAIL, headers)
    assert response.status_code == 401
    assert "user_info" not in response.json()
    assert isinstance(response.json()["error"], str)


def test_key_is_checked_before_the_body(client: httpx2.Client) -> None:
    assert client.post("/", content=b"not json").status_code == 401


def test_custom_header_name_and_key() -> None:
    app = create_user_data_api(api_key="k-123", header_name="X-Api-Key")
    with serve(app) as url, httpx2.Client(base_url=url) as http:
        assert ask(http, ANN_EMAIL, {"x-api-key": "k-123"}).status_code == 200
        assert ask(http, ANN_EMAIL, {"Authorization": "k-123"}).status_code == 401
        assert ask(http, ANN_EMAIL, {"X-Api-Key": SANDBOX_API_KEY}).status_code == 401


@pytest.mark.parametrize(
    "kwargs",
    [{"api_key": ""}, {"header_name": ""}, {"header_name": "  "}, {"latency": -0.1}],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        create_user_data_api(**kwargs)


# --------------------------------------------------------------------------- 404, 500


def test_unknown_user_is_404(client: httpx2.Client) -> None:
    response = ask(client, "nobody@example.com")
    assert response.status_code == 404
    assert response.json() == {"error": "user not found"}


def test_down_is_500(client: httpx2.Client) -> None:
    response = ask(client, DOWN_EMAIL)
    assert response.status_code == 500
    assert set(response.json()) == {"error"}


# --------------------------------------------------------------------------- bad 200s


def test_wrong_answers_for_someone_else(client: httpx2.Client) -> None:
    response = ask(client, WRONG_EMAIL)
    assert response.status_code == 200
    body = response.json()
    assert body["identifier"] == CROSS_TALK_IDENTIFIER
    assert body["identifier"].lower() != WRONG_EMAIL
    assert body["user_info"]


def test_malformed_is_not_json(client: httpx2.Client) -> None:
    response = ask(client, MALFORMED_EMAIL)
    assert response.status_code == 200
    assert response.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_huge_is_over_two_megabytes(client: httpx2.Client) -> None:
    response = ask(client, HUGE_EMAIL)
    assert response.status_code == 200
    assert len(response.content) > 2 * 1024 * 1024
    assert response.json()["identifier"] == HUGE_EMAIL


def test_drip_streams_one_byte_at_a_time(client: httpx2.Client) -> None:
    assert DRIP_INTERVAL == 0.5
    assert DRIP_SECONDS == 30
    started = time.monotonic()
    with client.stream("POST", "/", json={"identifier": DRIP_EMAIL}, headers=AUTH) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        second = next(chunks)
        second_at = time.monotonic() - started
    assert len(first) == len(second) == 1
    assert first_at < 2.0
    assert second_at - first_at >= DRIP_INTERVAL * 0.8


def test_serve_stops_quickly_with_a_drip_in_flight() -> None:
    with httpx2.Client(timeout=5.0) as http, ExitStack() as client_side:
        with serve(create_user_data_api()) as url:
            stream = http.stream("POST", url, json={"identifier": DRIP_EMAIL}, headers=AUTH)
            response = client_side.enter_context(stream)
            chunks = response.iter_raw()  # keep a reference: dropping it would hang up
            assert next(chunks)
            leaving = time.monotonic()
        # the server is gone while the client still holds the response open
        assert time.monotonic() - leaving < 3.0


def test_slow_does_not_answer_in_time(caplog: pytest.LogCaptureFixture) -> None:
    assert SLOW_SECONDS == 30
    with serve(create_user_data_api()) as url, httpx2.Client(base_url=url, timeout=0.3) as http:
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            ask(http, SLOW_EMAIL)
        assert time.monotonic() - started >= 0.3
    # the client hung up, so the slow answer stopped waiting: nothing left to cancel
    assert not [r for r in caplog.records if "graceful shutdown" in r.getMessage()]


# --------------------------------------------------------------------------- latency, counting


def test_latency_delays_every_answer() -> None:
    app = create_user_data_api(latency=0.2)
    with serve(app) as url, httpx2.Client(base_url=url, timeout=5.0) as http:
        for headers, status in [(AUTH, 200), ({}, 401)]:
            started = time.monotonic()
            assert ask(http, ANN_EMAIL, headers).status_code == status
            assert time.monotonic() - started >= 0.2


def test_no_latency_by_default(client: httpx2.Client) -> None:
    ask(client, ANN_EMAIL)  # warm the connection
    started = time.monotonic()
    assert ask(client, ANN_EMAIL).status_code == 200
    assert time.monotonic() - started < 0.2


def test_requests_and_identifiers_are_counted() -> None:
    app = create_user_data_api()
    assert app.state.requests == 0
    assert app.state.identifiers == []
    with serve(app) as url, httpx2.Client(base_url=url) as http:
        assert ask(http, ANN_EMAIL).status_code == 200
        assert ask(http, ANN_EMAIL, {}).status_code == 401
        assert http.post("/", content=b"{}", headers=AUTH).status_code == 400
        assert ask(http, "Nobody@example.com").status_code == 404
        assert ask(http, BOB_EMAIL).status_code == 200
    assert app.state.requests == 5
    assert app.state.identifiers == [ANN_EMAIL, "Nobody@example.com", BOB_EMAIL]


async def test_async_client_counts_one_round_trip_per_call() -> None:
    app = create_user_data_api()
    with serve(app) as url:
        async with httpx2.AsyncClient(base_url=url) as http:
            response = await http.post("/", json={"identifier": CHLOE_EMAIL}, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["user_info"] == SANDBOX_USERS[CHLOE_EMAIL]
    assert app.state.requests == 1


# --------------------------------------------------------------------------- serve


def _port_of(url: str) -> int:
    match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
    assert match is not None, url
    return int(match.group(1))


def test_serve_gives_a_reachable_url_and_frees_the_port() -> None:
    with serve(create_user_data_api()) as url:
        port = _port_of(url)
        assert 0 < port < 65536
        with httpx2.Client() as http:
            assert ask_url(http, url).status_code == 200
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # the listening socket is gone
        again.listen()


def ask_url(http: httpx2.Client, url: str) -> httpx2.Response:
    return http.post(url, json={"identifier": ANN_EMAIL}, headers=AUTH)


def test_two_servers_get_two_ports() -> None:
    with serve(create_user_data_api()) as first, serve(create_user_data_api()) as second:
        assert _port_of(first) != _port_of(second)


def test_server_thread_serves_any_asgi_app() -> None:
    async def hello(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    with ServerThread(hello) as server:
        assert server.is_alive() and server.daemon
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx2.get(server.url + "/plugin-fake").text == "/plugin-fake"
    assert not server.is_alive()


def test_server_thread_that_never_started_releases_its_socket() -> None:
    server = ServerThread(Starlette())
    port = server.port
    server.stop()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
