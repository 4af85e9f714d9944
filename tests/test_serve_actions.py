"""`liveuser serve` for agent loops outside Python: /v1/tool proposes, /v1/confirm executes.

A real `liveuser serve` process with the example HTTP action endpoint
(``pause_subscription``) turned on for the default tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from liveuser.actions.example_endpoint import PAUSE, create_action_endpoint, pause_action_settings
from liveuser.actions.model import AWAITING
from liveuser.sandbox import serve
from liveuser.tools import NOT_FOUND

from .conftest import host_token
from .test_serve import API_KEY, start_service, stop_service, write_config


def toml(value: Any) -> str:
    """``value`` as a TOML inline value (enough for a JSON schema)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, Starlette]]:
    app = create_action_endpoint()
    with serve(app) as url:
        yield url, app


@pytest.fixture(autouse=True)
def fresh_subscriptions(endpoint: tuple[str, Starlette]) -> None:
    """Each test starts with every subscription as the example seeds it (SUB-1 active)."""
    endpoint[1].state.subscriptions = create_action_endpoint().state.subscriptions


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: tuple[str, Starlette],
    endpoint: tuple[str, Starlette],
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("serve-actions")
    config = write_config(directory, sandbox[0])
    action = pause_action_settings(endpoint[0])
    text = config.read_text().replace(
        "[tenants.acme.host_keys]",
        f'[tenants.default.actions]\nenabled = ["{PAUSE}"]\n\n'
        "[[tenants.default.actions.http]]\n"
        + "".join(f"{k} = {toml(v)}\n" for k, v in action.items())
        + "\n[tenants.acme.host_keys]",
    )
    Path(config).write_text(text)
    process, url = start_service(config)
    yield url
    assert "Traceback" not in stop_service(process)


def post(url: str, path: str, body: dict[str, Any], key: str = API_KEY) -> httpx2.Response:
    return httpx2.post(
        f"{url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def chat(email: str, conversation: str) -> dict[str, Any]:
    return {
        "channel": "host",
        "conversation_id": conversation,
        "claims": {"token": host_token(email)},
    }


def propose(url: str, email: str, conversation: str, **arguments: Any) -> dict[str, Any]:
    answer = post(
        url,
        "/v1/tool",
        {
            **chat(email, conversation),
            "message_id": "m1",
            "tool_call_id": "call-1",
            "name": PAUSE,
            "arguments": {"subscription": "SUB-1", "weeks": 2, **arguments},
        },
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_model_reads_only_awaiting_and_the_host_gets_the_summary(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    before = len(endpoint[1].state.applied)
    body = propose(service, "ann@example.com", "serve-chat-1")
    pending = body["pending"]
    assert body["text"] == AWAITING
    assert pending["confirmation_id"] not in body["text"]
    assert pending["action"] == PAUSE and "SUB-1" in pending["summary"]
    forced = propose(service, "ann@example.com", "serve-chat-1", confirm=True)
    assert forced["pending"] is None and "Invalid arguments" in forced["text"]
    assert len(endpoint[1].state.applied) == before  # proposing writes nothing


def test_the_customers_confirmation_executes_once(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    pending = propose(service, "ann@example.com", "serve-chat-2")["pending"]
    before = len(endpoint[1].state.applied)
    confirm = {
        **chat("ann@example.com", "serve-chat-2"),
        "confirmation_id": pending["confirmation_id"],
    }
    first = post(service, "/v1/confirm", confirm)
    assert first.status_code == 200 and first.json()["status"] == "executed", first.text
    again = post(service, "/v1/confirm", confirm)
    assert again.status_code == 200 and again.json()["status"] == "refused"
    assert len(endpoint[1].state.applied) == before + 1


def test_a_confirmation_from_another_conversation_or_person_is_refused(
    service: str, endpoint: tuple[str, Starlette]
) -> None:
    pending = propose(service, "ann@example.com", "serve-chat-3")["pending"]
    before = len(endpoint[1].state.applied)
    for who, conversation in (
        ("ann@example.com", "serve-chat-4"),
        ("bob@example.com", "serve-chat-3"),
    ):
        answer = post(
            service,
            "/v1/confirm",
            {**chat(who, conversation), "confirmation_id": pending["confirmation_id"]},
        )
        assert answer.status_code == 200 and answer.json()["status"] == "refused", answer.text
    guessed = post(
        service,
        "/v1/confirm",
        {**chat("ann@example.com", "serve-chat-3"), "confirmation_id": "guess"},
    )
    assert guessed.json()["status"] == "refused"
    assert len(endpoint[1].state.applied) == before


def test_another_customers_record_answers_as_not_found(service: str) -> None:
    body = propose(service, "bob@example.com", "serve-chat-5")  # SUB-1 is Ann's
    assert body["pending"] is None and NOT_FOUND in body["text"]


@pytest.mark.parametrize("path", ["/v1/tool", "/v1/confirm"])
def test_tool_and_confirm_need_the_tenants_api_key(service: str, path: str) -> None:
    answer = post(
        service,
        path,
        {**chat("ann@example.com", "x"), "confirmation_id": "c"},
        key="wrong-key-" * 4,
    )
    assert answer.status_code == 401 and "API key" in answer.json()["error"]


def test_a_malformed_confirmation_is_a_json_400(service: str) -> None:
    answer = post(service, "/v1/confirm", chat("ann@example.com", "x"))  # no confirmation_id
    assert answer.status_code == 400 and "confirmation_id" in answer.json()["error"]
