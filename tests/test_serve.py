"""`liveuser serve`: a real uvicorn process answering /v1/context, /healthz and /metrics."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from liveuser import Ledger, Registry, Settings, TenantSettings
from liveuser.sandbox import SANDBOX_API_KEY
from liveuser.serve import create_app
from liveuser.settings import load_settings

from .conftest import ACME_SECRET, HOST_KEY, HOST_SECRET, host_token

API_KEY = "default-tenant-api-key-0123456789abcdef"
ACME_API_KEY = "acme-tenant-api-key-0123456789abcdefgh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(directory: Path, user_data_api: str) -> Path:
    config = directory / "liveuser.toml"
    config.write_text(f"""
ledger = "{directory / "ledger.sqlite3"}"
ledger_key = "serve-test-ledger-key-0123456789abcdef"

[tenants.default.host_keys]
{HOST_KEY} = "{HOST_SECRET}"
[tenants.default.api_keys]
platform = "{API_KEY}"
[tenants.default.plugins.user_data_api]
url = "{user_data_api}"
api_key = "{SANDBOX_API_KEY}"

[tenants.acme.host_keys]
{HOST_KEY} = "{ACME_SECRET}"
[tenants.acme.api_keys]
platform = "{ACME_API_KEY}"
""")
    return config


def start_service(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`liveuser serve` in its own process; returns once /healthz answers."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    environ.update({"LIVEUSER_CONFIG": str(config), **(env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "liveuser", "serve", "--port", str(port), *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            raise RuntimeError(f"liveuser serve did not start: {err.decode()[-2000:]}")
        time.sleep(0.1)


def stop_service(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, sandbox: tuple[str, Starlette]
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("serve")
    process, url = start_service(write_config(directory, sandbox[0]))
    yield url
    stderr = stop_service(process)
    assert "Traceback" not in stderr


def ask(url: str, body: Any, key: str | None = API_KEY, **kwargs: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(f"{url}/v1/context", content=content, headers=headers, timeout=30, **kwargs)


def turn(email: str, conversation: str = "chat-1", message: str = "m1", **claims: str) -> Any:
    return {
        "channel": "host",
        "conversation_id": conversation,
        "message_id": message,
        "claims": claims or {"token": host_token(email)},
    }


def test_a_verified_user_gets_their_own_metered_context(service: str) -> None:
    answer = ask(service, turn("ann@example.com"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verified"] is True and body["refusal"] is None
    assert body["sources"] == ["user_data_api"]
    assert "ann@example.com" in body["text"] and "bob@example.com" not in body["text"]
    assert (body["tenant"], body["conversation_id"], body["message_id"]) == (
        "default",
        "chat-1",
        "m1",
    )
    again = ask(service, turn("ann@example.com")).json()
    assert again["amount"] == body["amount"]  # a retried turn is metered once


def test_a_refusal_is_an_answer_not_an_error(service: str) -> None:
    answer = ask(service, turn("ann@example.com", token="not-a-token"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["verified"] is False and body["refusal"]
    assert body["sources"] == [] and "ann@example.com" not in body["text"]


def test_the_api_key_names_the_tenant(service: str) -> None:
    # The default tenant's identity token, presented with acme's key, verifies no one.
    answer = ask(service, turn("ann@example.com"), key=ACME_API_KEY)
    assert answer.status_code == 200
    assert answer.json()["tenant"] == "acme" and answer.json()["verified"] is False


@pytest.mark.parametrize(
    "key", [None, "wrong-key-0123456789abcdef0123456789", HOST_SECRET], ids=str
)
def test_without_a_known_api_key_the_answer_is_401(service: str, key: str | None) -> None:
    answer = ask(service, turn("ann@example.com"), key=key)
    assert answer.status_code == 401
    assert "API key" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "body is not JSON"),
        (b"[1, 2]", 400, "body"),
        ({"channel": "host", "conversation_id": "c"}, 400, "body: message_id: Field required"),
        ({**turn("a@example.com"), "channel": "telegram"}, 400, "unknown channel 'telegram'"),
        ({**turn("a@example.com"), "tenant": "acme"}, 400, "tenant"),
        (b"x" * 1_000_001, 413, "over 1000000 bytes"),
    ],
    ids=["malformed", "not-an-object", "missing-field", "channel", "extra-field", "too-big"],
)
def test_bad_requests_get_a_json_reason(service: str, body: Any, status: int, reason: str) -> None:
    answer = ask(service, body)
    assert answer.status_code == status
    assert reason in answer.json()["error"]


def test_unknown_paths_and_methods_are_json_errors(service: str) -> None:
    missing = httpx2.get(f"{service}/v2/everything", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"error": "no such endpoint"}
    wrong = httpx2.get(f"{service}/v1/context", timeout=10)
    assert wrong.status_code == 405 and wrong.json() == {"error": "method not allowed"}


def test_healthz_and_metrics(service: str) -> None:
    assert httpx2.get(f"{service}/healthz", timeout=10).json() == {"status": "ok"}
    ask(service, turn("bob@example.com", conversation="chat-metrics"))
    text = httpx2.get(f"{service}/metrics", timeout=10).text
    assert 'liveuser_contexts_total{tenant="default",verified="true"}' in text
    assert 'liveuser_requests_total{path="/v1/context",status="200"}' in text
    assert "liveuser_context_seconds_count" in text


async def test_a_ledger_that_cannot_write_is_a_503_and_nothing_is_delivered(
    tmp_path: Path, sandbox: tuple[str, Starlette], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEUSER_CONFIG", str(write_config(tmp_path, sandbox[0])))
    settings = load_settings()
    registry, ledger = Registry(settings), Ledger(tmp_path, b"k" * 32)  # a directory
    app = create_app(settings, registry=registry, ledger=ledger)
    try:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://serve") as client:
            answer = await client.post(
                "/v1/context",
                content=json.dumps(turn("ann@example.com")),
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
        assert answer.status_code == 503
        assert answer.json() == {
            "error": "the ledger is unavailable; the turn was not delivered, retry it"
        }
    finally:
        await registry.aclose()
        await ledger.aclose()


@pytest.mark.parametrize(
    ("api_keys", "message"),
    [
        ({"p": "short"}, "shorter than 32 characters"),
        ({"p": HOST_SECRET}, "is a host key"),
    ],
)
def test_api_keys_are_long_and_never_a_host_key(api_keys: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TenantSettings(host_keys={HOST_KEY: HOST_SECRET}, api_keys=api_keys)  # type: ignore[arg-type]


def test_two_tenants_never_share_an_api_key() -> None:
    with pytest.raises(ValueError, match="share an api key"):
        Settings(
            tenants={
                "default": TenantSettings(api_keys={"p": API_KEY}),  # type: ignore[dict-item]
                "acme": TenantSettings(api_keys={"p": API_KEY}),  # type: ignore[dict-item]
            }
        )


def test_serve_without_api_keys_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "liveuser.toml").write_text('ledger = "ledger.sqlite3"\n')
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    result = subprocess.run(
        [sys.executable, "-m", "liveuser", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    expected = "error: liveuser serve: no tenant has api_keys; callers could not sign in"
    assert result.stderr.strip() == expected
