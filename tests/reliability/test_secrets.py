"""Secrets stay secret: no key or token shows up in logs, errors, contexts, results or the CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveuser import Channel, Conversation, Ledger, Pipeline, Registry, Settings, TenantSettings
from liveuser.errors import LiveuserError
from liveuser.sandbox import create_user_data_api, serve
from liveuser.tokens import KeyRing, Purpose, mint_token

pytestmark = pytest.mark.reliability

# Distinctive values, so a match anywhere is a leak and nothing else.
HOST_SECRET = "host-secret-Q7dXw2mZ9vLk4RtY8pNc3JfH6sBa1UeG"
OLD_HOST_SECRET = "host-secret-old-V5nK2qW8xT4mP9rL3cZ7bF1dJ6hY0sAe"
API_KEY = "udapi-secret-H3kP9wQ2zX7vN4mR8tL1cB6yF5dJ0sGa"
LEDGER_KEY = "ledger-secret-M8qT3vX6zK1nW9pR4cL7bY2dF5hJ0sAg"
OTHER_LEDGER_KEY = "ledger-secret-other-R2wK7pX4zQ9vN1mT6cL3bY8dF5hJ0sA"
ZENDESK_TOKEN = "zendesk-secret-T9wX2kQ7zP4vN8mR1cL6bY3dF5hJ0sGe"
ZENDESK_WEBHOOK = "zendesk-webhook-secret-B4nX8kQ2zP7vW1mR5cL9tY3dF6hJ0sG"
KEYS = KeyRing({"k0": OLD_HOST_SECRET, "k1": HOST_SECRET})


def token(email: str, **kwargs: object) -> str:
    kwargs.setdefault("ttl", 600)
    return mint_token(KEYS, tenant="default", purpose=Purpose.identity, subject=email, **kwargs)  # type: ignore[arg-type]


def secret_forms(*tokens: str) -> list[str]:
    forms = [HOST_SECRET, OLD_HOST_SECRET, API_KEY, LEDGER_KEY, OTHER_LEDGER_KEY]
    forms += [ZENDESK_TOKEN, ZENDESK_WEBHOOK]
    forms += [LEDGER_KEY.encode().hex(), OTHER_LEDGER_KEY.encode().hex()]
    for tok in tokens:
        forms += [tok, tok.rsplit(".", 1)[-1]]  # the whole token and its signature
    return forms


def assert_no_secret(haystack: str, *tokens: str) -> None:
    leaked = [s for s in secret_forms(*tokens) if s in haystack]
    assert not leaked, f"secrets leaked: {leaked}"


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """A User Data API that accepts only API_KEY."""
    with serve(create_user_data_api(api_key=API_KEY)) as url:
        yield f"{url}/user-data"


def settings(tmp_path: Path, url: str, api_key: str = API_KEY) -> Settings:
    return Settings(
        ledger=tmp_path / "ledger.sqlite3",
        ledger_key=LEDGER_KEY,
        tenants={
            "default": TenantSettings(
                host_keys={"k0": OLD_HOST_SECRET, "k1": HOST_SECRET},
                plugins={"user_data_api": {"url": url, "api_key": api_key}},
            )
        },
    )


def conversation(tok: str, conversation_id: str = "c1") -> Conversation:
    return Conversation(
        tenant="default",
        channel=Channel.host,
        conversation_id=conversation_id,
        claims={"token": tok},
        payload={},
    )


async def test_pipeline_logs_errors_contexts_and_tool_results_hold_no_secret(
    tmp_path: Path, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = token("ann@example.com")
    expired = token("ann@example.com", ttl=60, now=time.time() - 3600)
    forged = mint_token(
        KeyRing({"k1": "attacker-key-0123456789abcdef0123456789ab"}),
        tenant="default",
        purpose=Purpose.identity,
        subject="ann@example.com",
    )
    tokens = (good, expired, forged)
    seen: list[str] = []

    ledger = Ledger(tmp_path / "ledger.sqlite3", LEDGER_KEY.encode())
    registry = Registry(settings(tmp_path, api), discover=False)
    rejected = Registry(settings(tmp_path, api, api_key=API_KEY[::-1]), discover=False)
    seen += [repr(registry.tenant()), repr(registry.tenant().plugins)]
    seen += [repr(p.settings) for p in registry.tenant().plugins.values()]
    try:
        pipeline = Pipeline(registry, ledger)
        ok = await pipeline.context_for(conversation(good), "m1")
        assert "Customer: ann@example.com" in ok.text  # the haystack is not empty
        seen += [ok.model_dump_json(), repr(ok)]
        for n, tok in enumerate((expired, forged, good + "x", "not-a-jwt")):
            refused = await pipeline.context_for(conversation(tok, f"bad{n}"), "m1")
            assert not refused.verified
            seen += [refused.model_dump_json(), repr(refused)]
        for name, arguments in (("no_such_tool", {"token": good}), ("order", "{not json")):
            seen.append(await pipeline.call_tool(conversation(good), "m2", name, name, arguments))
        # The back-end rejects a key: the reason must not quote it.
        wrong = await Pipeline(rejected, ledger).context_for(conversation(good, "c2"), "m1")
        assert "user_data_api" in wrong.missing
        seen += [wrong.model_dump_json(), repr(wrong)]
    finally:
        await registry.aclose()
        await rejected.aclose()
        await ledger.aclose()

    # Errors built from secrets: a ledger opened with another key, plugin settings refused.
    with pytest.raises(LiveuserError) as other_key:
        async with Ledger(tmp_path / "ledger.sqlite3", OTHER_LEDGER_KEY.encode()):
            pass
    seen += [str(other_key.value), repr(other_key.value)]
    broken = Registry(settings(tmp_path, "ftp//nowhere"), discover=False)
    try:
        with pytest.raises(LiveuserError) as bad_settings:
            broken.tenant()
    finally:
        await broken.aclose()
    seen += [str(bad_settings.value), repr(bad_settings.value)]

    seen += [record.getMessage() for record in caplog.records]
    seen += [caplog.text]
    assert any("ann@example.com" in s for s in seen)
    assert_no_secret("\n".join(seen), *tokens)


def test_settings_repr_and_dump_hide_plugin_secrets(tmp_path: Path) -> None:
    loaded = settings(tmp_path, "https://api.example.com/user-data")
    assert HOST_SECRET not in repr(loaded)  # host keys are SecretStr: hidden
    assert LEDGER_KEY not in repr(loaded)
    shown = "\n".join(
        [repr(loaded), str(loaded), loaded.model_dump_json(), repr(loaded.tenants["default"])]
    )
    assert API_KEY not in shown


# --------------------------------------------------------------------------- the CLI


def liveuser(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    environ.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "liveuser", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def write_config(cwd: Path, url: str, api_key: str = API_KEY) -> None:
    cwd.mkdir(exist_ok=True)
    (cwd / "liveuser.toml").write_text(f"""
ledger = "ledger.sqlite3"
ledger_key = "{LEDGER_KEY}"
[tenants.default.host_keys]
k0 = "{OLD_HOST_SECRET}"
k1 = "{HOST_SECRET}"
[tenants.default.plugins.user_data_api]
url = "{url}"
api_key = "{api_key}"
[tenants.default.plugins.zendesk]
base_url = "http://127.0.0.1:9"
email = "agent@example.com"
api_token = "{ZENDESK_TOKEN}"
webhook_secret = "{ZENDESK_WEBHOOK}"
""")


def test_cli_output_holds_no_secret(tmp_path: Path, api: str) -> None:
    good = token("ann@example.com")
    expired = token("ann@example.com", ttl=60, now=time.time() - 3600)
    ok_dir, wrong_dir, broken_dir = tmp_path / "ok", tmp_path / "wrong", tmp_path / "broken"
    write_config(ok_dir, api)
    write_config(wrong_dir, api, api_key=API_KEY[::-1])
    write_config(broken_dir, "ftp//nowhere")
    context = ["context", "--channel", "host", "--conversation-id", "c1", "--message-id"]
    outputs = {
        "plugins --json": liveuser("plugins", "--json", cwd=ok_dir),
        "plugins": liveuser("plugins", cwd=ok_dir),
        "-v plugins --json": liveuser("--verbose", "plugins", "--json", cwd=ok_dir),
        "context": liveuser(*context, "m1", "--token", good, cwd=ok_dir),
        "-v context --json": liveuser("-v", *context, "m2", "--token", good, "--json", cwd=ok_dir),
        "-v context expired": liveuser("-v", *context, "m3", "--token", expired, cwd=ok_dir),
        "-v check": liveuser("-v", "check", "--identifier", "ann@example.com", cwd=ok_dir),
        "-v check wrong key": liveuser(
            "-v", "check", "--identifier", "ann@example.com", cwd=wrong_dir
        ),
        "-v usage": liveuser("-v", "usage", "--json", cwd=ok_dir),
        "-v audit": liveuser("-v", "audit", "--identifier", "ann@example.com", cwd=ok_dir),
        "bad config": liveuser("plugins", cwd=broken_dir),
        "-v bad config": liveuser("-v", "plugins", cwd=broken_dir),
        "-v ledger other key": liveuser(
            "-v", "usage", cwd=ok_dir, env={"LIVEUSER_LEDGER_KEY": OTHER_LEDGER_KEY}
        ),
        "env secret, -v bad config": liveuser(
            "-v",
            "plugins",
            cwd=tmp_path,
            env={
                "LIVEUSER_TENANTS__DEFAULT__PLUGINS__USER_DATA_API__API_KEY": API_KEY,
                "LIVEUSER_TENANTS__DEFAULT__PLUGINS__USER_DATA_API__URL": "ftp//nowhere",
            },
        ),
    }
    # The runs did what they claim, so the absence of secrets means something.
    assert outputs["plugins --json"].startswith("exit 0")
    assert "user_data_api" in outputs["plugins --json"]
    assert '"zendesk"' in outputs["plugins --json"]
    assert "Customer: ann@example.com" in outputs["context"]
    assert "401" in outputs["-v check wrong key"]
    assert outputs["bad config"].startswith("exit 2")
    assert not outputs["-v bad config"].startswith("exit 0")
    leaks = {
        name: [s for s in secret_forms(good, expired) if s in text]
        for name, text in outputs.items()
    }
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}
