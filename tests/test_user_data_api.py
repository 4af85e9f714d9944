"""The built-in User Data API back-end, over loopback against the sandbox and in process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from liveuser import Pipeline
from liveuser.http import RETRY_ATTEMPTS
from liveuser.sandbox import (
    ANN_EMAIL,
    CROSS_TALK_IDENTIFIER,
    DOWN_EMAIL,
    DRIP_EMAIL,
    HUGE_EMAIL,
    MALFORMED_EMAIL,
    SANDBOX_API_KEY,
    SLOW_EMAIL,
    WRONG_EMAIL,
)

from .conftest import PipelineFactory, host_conversation


async def test_verified_user_gets_their_user_info(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    url, app = sandbox
    pipeline = make_pipeline(user_data_api_url=url)
    before = app.state.requests
    ctx = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert ctx.verified and ctx.sources == ("user_data_api",) and not ctx.missing
    assert "Customer: ann@example.com" in ctx.text
    assert "tracking" in ctx.text.lower()
    assert app.state.requests == before + 1
    assert app.state.identifiers[-1] == ANN_EMAIL


async def test_second_turn_is_served_from_the_cache(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    url, app = sandbox
    pipeline = make_pipeline(user_data_api_url=url)
    conversation = host_conversation(ANN_EMAIL)
    first = await pipeline.context_for(conversation, "m1")
    before = app.state.requests
    second = await pipeline.context_for(conversation, "m2")
    assert app.state.requests == before
    assert second.text == first.text


async def test_unknown_user_has_no_data_and_nothing_missing(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    url, _ = sandbox
    ctx = await make_pipeline(user_data_api_url=url).context_for(
        host_conversation("nobody.known@example.com"), "m1"
    )
    assert ctx.verified and ctx.sources == () and ctx.missing == {}
    assert "No data was found" in ctx.text


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        (DOWN_EMAIL, "HTTP 500"),
        (HUGE_EMAIL, "byte cap"),
        (MALFORMED_EMAIL, "malformed JSON"),
        (WRONG_EMAIL, "another identifier"),
    ],
)
async def test_failing_back_end_is_named_missing(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette], email: str, reason: str
) -> None:
    url, _ = sandbox
    ctx = await make_pipeline(user_data_api_url=url).context_for(host_conversation(email), "m1")
    assert ctx.verified
    assert reason in ctx.missing["user_data_api"]
    assert "Missing source user_data_api" in ctx.text


async def test_cross_talk_answer_is_discarded(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette], caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = sandbox
    ctx = await make_pipeline(user_data_api_url=url).context_for(
        host_conversation(WRONG_EMAIL), "m1"
    )
    assert CROSS_TALK_IDENTIFIER not in ctx.text
    assert "Someone Else" not in ctx.text and "someone" not in ctx.text.lower()
    assert any("another identifier" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("email", [SLOW_EMAIL, DRIP_EMAIL])
async def test_deadline_covers_the_whole_request_and_body(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette], email: str
) -> None:
    url, _ = sandbox
    pipeline = make_pipeline(user_data_api_url=url, deadline_seconds=1.0)
    started = time.monotonic()
    ctx = await pipeline.context_for(host_conversation(email), "m1")
    elapsed = time.monotonic() - started
    assert "user_data_api" in ctx.missing
    # The sandbox would take 30 s; the answer comes at the deadline, not after it.
    assert elapsed < 10


async def test_wrong_api_key_is_missing_with_reason(
    tmp_path: Path, make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    url, _ = sandbox
    pipeline = make_pipeline(plugins={"user_data_api": {"url": url, "api_key": "not-the-key"}})
    ctx = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert ctx.missing == {"user_data_api": "rejected the API key (HTTP 401)"}


def _endpoint(status: int, seen: list[httpx2.Request], body: object = None) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        identifier = json.loads(request.content)["identifier"]
        payload = body if body is not None else {"identifier": identifier, "user_info": "ok"}
        return httpx2.Response(status, json=payload)

    return httpx2.MockTransport(handler)


@pytest.mark.parametrize(
    ("status", "missing"),
    [
        (200, None),
        (400, "rejected the request as malformed (HTTP 400)"),
        (401, "rejected the API key (HTTP 401)"),
        (404, None),
        (500, "answered HTTP 500"),
    ],
)
async def test_each_contract_status(
    make_pipeline: PipelineFactory, status: int, missing: str | None
) -> None:
    seen: list[httpx2.Request] = []
    pipeline = make_pipeline(
        transport=_endpoint(status, seen), user_data_api_url="https://api.example.com/users"
    )
    ctx = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert ctx.missing.get("user_data_api") == missing
    assert ctx.sources == (("user_data_api",) if status == 200 else ())
    request = seen[0]
    assert request.method == "POST"
    assert request.headers["authorization"] == SANDBOX_API_KEY
    assert json.loads(request.content) == {"identifier": ANN_EMAIL}
    # Reads are retried on 5xx, never on 4xx.
    assert len(seen) == (RETRY_ATTEMPTS if status == 500 else 1)


async def test_custom_header_name_carries_the_key(make_pipeline: PipelineFactory) -> None:
    seen: list[httpx2.Request] = []
    pipeline = make_pipeline(
        transport=_endpoint(200, seen),
        plugins={
            "user_data_api": {
                "url": "https://api.example.com/u",
                "api_key": "s3cret",
                "header_name": "X-Api-Key",
            }
        },
    )
    await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert seen[0].headers["x-api-key"] == "s3cret"
    assert "authorization" not in seen[0].headers


async def test_answer_without_user_info_is_missing(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline(
        transport=_endpoint(200, [], body={"identifier": ANN_EMAIL}),
        user_data_api_url="https://api.example.com/u",
    )
    ctx = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert ctx.missing == {"user_data_api": "answered without a user_info string"}


async def test_pipeline_is_usable_without_a_user_data_api(make_pipeline: PipelineFactory) -> None:
    pipeline: Pipeline = make_pipeline()
    assert "user_data_api" not in pipeline.registry.tenant().plugins
    ctx = await pipeline.context_for(host_conversation(ANN_EMAIL), "m1")
    assert ctx.verified and ctx.sources == ()
