"""The command line, run as a user runs it: a subprocess, one-line errors, no tracebacks."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette

import liveuser as liveuser_api
from liveuser import Pipeline, Registry
from liveuser.actions import State
from liveuser.actions.example_endpoint import PAUSE, create_action_endpoint, pause_action_settings
from liveuser.cli import open_ledger
from liveuser.sandbox import SANDBOX_API_KEY, serve
from liveuser.settings import load_settings

from .conftest import HOST_SECRET, host_conversation
from .test_serve_actions import toml


def liveuser(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "liveuser", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


run_liveuser = liveuser


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.fixture
def configured(tmp_path: Path, sandbox: tuple[str, Starlette]) -> Path:
    url, _ = sandbox
    (tmp_path / "liveuser.toml").write_text(f"""
ledger = "ledger.sqlite3"
[tenants.default.host_keys]
k1 = "{HOST_SECRET}"
[tenants.default.plugins.user_data_api]
url = "{url}"
api_key = "{SANDBOX_API_KEY}"
""")
    return tmp_path


def test_token_then_context_delivers_the_users_data(configured: Path) -> None:
    minted = liveuser("token", "--subject", "ann@example.com", cwd=configured)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    result = liveuser(
        "context",
        "--channel",
        "host",
        "--conversation-id",
        "c1",
        "--message-id",
        "m1",
        "--token",
        token,
        cwd=configured,
    )
    assert result.returncode == 0, result.stderr
    assert "Customer: ann@example.com" in result.stdout
    assert "characters: free" in result.stderr
    as_json = liveuser(
        "context",
        "--channel",
        "host",
        "--conversation-id",
        "c1",
        "--message-id",
        "m1",
        "--token",
        token,
        "--json",
        cwd=configured,
    )
    assert json.loads(as_json.stdout)["verified"] is True


def test_check_reports_the_back_end_and_is_audited(configured: Path) -> None:
    result = liveuser("check", "--identifier", "Ann@Example.com", cwd=configured)
    assert result.returncode == 0, result.stderr
    assert "user_data_api" in result.stdout and "ok" in result.stdout
    assert "latency" in result.stdout and "characters" in result.stdout
    audit = liveuser("audit", "--identifier", "ann@example.com", "--json", cwd=configured)
    rows = json.loads(audit.stdout)
    assert len(rows) == 1 and rows[0]["conversation_id"].startswith("operator-check-")
    down = liveuser("check", "--identifier", "down@example.com", cwd=configured)
    assert down.returncode == 0 and "missing" in down.stdout and "HTTP 500" in down.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The CLI's ledger: the SQLite file, or PostgreSQL through LIVEUSER_DATABASE_URL."""
    if request.param == "postgres":
        return {"LIVEUSER_DATABASE_URL": request.getfixturevalue("postgres_schema")}
    return {}


def test_usage_audit_and_forget(configured: Path, ledger_env: dict[str, str]) -> None:
    def liveuser(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return run_liveuser(*args, cwd=cwd, env=ledger_env)

    liveuser("check", "--identifier", "long@example.com", cwd=configured)
    usage = json.loads(liveuser("usage", "--json", cwd=configured).stdout)
    assert usage[0]["tenant"] == "default" and usage[0]["deliveries"] == 1
    assert usage[0]["amount"] == "0.02"
    table = liveuser("usage", cwd=configured)
    assert "$0.02" in table.stdout
    forgot = liveuser("forget", "--identifier", "long@example.com", cwd=configured)
    assert "erased 1 records" in forgot.stdout
    audit = liveuser("audit", "--identifier", "long@example.com", "--json", cwd=configured)
    assert json.loads(audit.stdout) == []
    assert json.loads(liveuser("usage", "--json", cwd=configured).stdout)[0]["amount"] == "0.02"


def test_plugins_lists_names_versions_channels_and_hooks(configured: Path) -> None:
    result = liveuser("plugins", "--json", cwd=configured)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["host"]["channels"] == ["host"] and rows["host"]["hooks"] == ["verify_user"]
    assert rows["user_data_api"]["hooks"] == ["fetch_user_data"]
    assert rows["default_renderer"]["hooks"] == ["render_context"]
    assert {rows[n]["status"] for n in ("host", "user_data_api", "default_renderer")} == {"loaded"}
    assert "plugin" in liveuser("plugins", cwd=configured).stdout


def test_plugins_lists_installed_plugins_the_tenant_does_not_load(configured: Path) -> None:
    installed = {ep.name for ep in importlib.metadata.entry_points(group="liveuser")}
    assert installed, "the tests run with the connectors installed"
    some = sorted(installed)[0]
    config = configured / "liveuser.toml"
    config.write_text(
        config.read_text().replace(
            "[tenants.default.host_keys]",
            f'[tenants.default]\ndisabled_plugins = ["{some}"]\n[tenants.default.host_keys]',
        )
    )
    rows = {r["name"]: r for r in json.loads(liveuser("plugins", "--json", cwd=configured).stdout)}
    assert installed <= set(rows)
    assert rows[some]["status"] == "disabled"
    for name in installed - {some}:
        assert rows[name]["status"] == "not configured", rows[name]
        assert rows[name]["version"] != "builtin" and rows[name]["hooks"]
    zendesk = rows.get("zendesk")
    if zendesk is not None and zendesk["status"] != "disabled":
        assert zendesk["channels"] == ["zendesk_messaging", "zendesk_ticket"]
        assert zendesk["hooks"] == ["verify_user"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["context", "--channel", "telegram", "--conversation-id", "c"],
            "unknown channel 'telegram'",
        ),
        (
            ["context", "--channel", "host", "--conversation-id", "c", "--payload", "[1"],
            "--payload is not valid JSON",
        ),
        (["check", "--identifier", "not-an-email"], "--identifier is not an email address"),
        (
            ["check", "--identifier", "a@example.com", "--tenant", "nobody"],
            "unknown tenant 'nobody'",
        ),
        (["token", "--subject", "a@example.com", "--purpose", "root"], "unknown purpose 'root'"),
        (["token", "--subject", "not-an-email"], "not an email"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(configured: Path, args: list[str], message: str) -> None:
    assert_one_line_error(liveuser(*args, cwd=configured), message)


def test_a_bad_or_unreachable_database_url_is_one_line(configured: Path) -> None:
    bad = liveuser("usage", cwd=configured, env={"LIVEUSER_DATABASE_URL": "mysql://db/x"})
    assert_one_line_error(bad, "database_url: Value error, must be a postgresql:// URL")
    down = "postgresql://lu:sekret-pw@127.0.0.1:1/ledger?connect_timeout=1"
    result = liveuser("usage", cwd=configured, env={"LIVEUSER_DATABASE_URL": down})
    assert_one_line_error(result, "ledger postgresql://lu:***@127.0.0.1:1/ledger")
    assert "sekret-pw" not in result.stderr


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "liveuser.toml").write_text("[tenants.default]\ndeadline_seconds = -1\n")
    assert_one_line_error(liveuser("usage", cwd=tmp_path), "tenants.default.deadline_seconds")


def test_missing_secret_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        liveuser("token", "--subject", "a@example.com", cwd=tmp_path),
        "tenant default has no host_keys configured",
    )
    (tmp_path / "liveuser.toml").write_text(
        '[tenants.default.plugins.user_data_api]\nurl = "https://x.example.com"\n'
    )
    assert_one_line_error(
        liveuser("check", "--identifier", "a@example.com", cwd=tmp_path), "api_key: Field required"
    )


def test_bad_url_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "liveuser.toml").write_text(
        '[tenants.default.plugins.user_data_api]\nurl = "ftp//nowhere"\napi_key = "k"\n'
    )
    assert_one_line_error(
        liveuser("check", "--identifier", "a@example.com", cwd=tmp_path),
        "plugin user_data_api settings: url",
    )


def test_demo_walks_through_the_sandbox(tmp_path: Path) -> None:
    result = liveuser("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in [
        "Verified user",
        "refused",
        "missing user_data_api",
        "charged $0.02",
        "back-end requests: 0",
        "Usage",
    ]:
        assert expected in out, expected
    assert "Traceback" not in out + result.stderr


# -- actions: the audit and recovery -------------------------------------------------------

CLI_LEDGER_KEY = "cli-test-ledger-key-0123456789abcdefgh"


@pytest.fixture(scope="module")
def action_endpoint() -> Iterator[tuple[str, Starlette]]:
    app = create_action_endpoint()
    with serve(app) as url:
        yield url, app


@pytest.fixture
def with_actions(
    configured: Path,
    action_endpoint: tuple[str, Starlette],
    ledger_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """`configured` with the example's action on, a fixed ledger key and either ledger
    (for the CLI's processes and for this one's pipeline alike)."""
    action = pause_action_settings(action_endpoint[0])
    config = configured / "liveuser.toml"
    config.write_text(
        f'ledger_key = "{CLI_LEDGER_KEY}"\n'
        + config.read_text()
        + f'[tenants.default.actions]\nenabled = ["{PAUSE}"]\n'
        + "[[tenants.default.actions.http]]\n"
        + "".join(f"{k} = {toml(v)}\n" for k, v in action.items())
    )
    for name, value in ledger_env.items():
        monkeypatch.setenv(name, value)
    fresh = create_action_endpoint().state  # SUB-1 active again, nothing executed
    for name in ("subscriptions", "executions", "applied", "faults", "stages"):
        setattr(action_endpoint[1].state, name, getattr(fresh, name))
    return configured


@asynccontextmanager
async def cli_pipeline() -> AsyncIterator[Pipeline]:
    """A pipeline over the same settings and ledger the CLI reads."""
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    try:
        yield Pipeline(registry, ledger)
    finally:
        await registry.aclose()
        await ledger.aclose()


async def pause(pipeline: Pipeline, email: str, conversation: str, subscription: str) -> str:
    result = await pipeline.call_tool_result(
        host_conversation(email, conversation),
        "m1",
        "call-1",
        PAUSE,
        {"subscription": subscription, "weeks": 2},
    )
    assert result.pending is not None, result.text
    return result.pending.confirmation_id


async def test_audit_lists_a_persons_actions_until_they_are_forgotten(
    with_actions: Path, ledger_env: dict[str, str]
) -> None:
    async with cli_pipeline() as pipeline:
        done = await pause(pipeline, "ann@example.com", "chat-paused", "SUB-1")
        confirmed = await liveuser_api.confirm(
            host_conversation("ann@example.com", "chat-paused"), done, pipeline=pipeline
        )
        assert confirmed.executed
        await pause(pipeline, "bob@example.com", "chat-bob", "SUB-2")

    def audit(email: str, *flags: str) -> subprocess.CompletedProcess[str]:
        wide = {**ledger_env, "COLUMNS": "250"}  # the table's cells whole
        result = run_liveuser("audit", "--identifier", email, *flags, cwd=with_actions, env=wide)
        assert result.returncode == 0, result.stderr
        return result

    deliveries = json.loads(audit("ann@example.com", "--json").stdout)
    assert isinstance(deliveries, list)  # the JSON of before, unchanged
    assert {d["conversation_id"] for d in deliveries} == {"chat-paused"}
    both = json.loads(audit("ann@example.com", "--json", "--actions").stdout)
    assert both["deliveries"] == deliveries
    [action] = both["actions"]
    assert (action["conversation_id"], action["action"], action["state"]) == (
        "chat-paused",
        PAUSE,
        "executed",
    )
    assert action["tenant"] == "default" and action["created_at"] <= action["updated_at"]
    assert not {"summary", "arguments", "target", "outcome"} & set(action)
    table = audit("ann@example.com").stdout
    assert "chat-paused" in table and "executed" in table and "1 actions" in table
    assert "SUB-1" not in table and "Coffee" not in table  # never the summary or arguments
    bobs = json.loads(audit("bob@example.com", "--json", "--actions").stdout)["actions"]
    assert [(a["conversation_id"], a["state"]) for a in bobs] == [("chat-bob", "proposed")]
    forgot = run_liveuser(
        "forget", "--identifier", "ann@example.com", cwd=with_actions, env=ledger_env
    )
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(audit("ann@example.com", "--json", "--actions").stdout)["actions"] == []
    assert len(json.loads(audit("bob@example.com", "--json", "--actions").stdout)["actions"]) == 1


async def test_actions_recover_settles_stale_records_and_says_what_it_did(
    with_actions: Path, ledger_env: dict[str, str], action_endpoint: tuple[str, Starlette]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    async with cli_pipeline() as pipeline:
        store = pipeline.action_store
        ids = {}
        for name, conversation in (("crashed", "c-1"), ("interrupted", "c-2"), ("live", "c-3")):
            store.clock = (lambda: long_ago) if name != "live" else (lambda: datetime.now(UTC))
            cid = await pause(pipeline, "ann@example.com", conversation, "SUB-1")
            assert await store.move(cid, State.proposed, State.confirmed)
            if name != "interrupted":
                assert await store.move(cid, State.confirmed, State.executing)
            ids[name] = cid
        crashed = await store.get(ids["crashed"])
        assert crashed is not None
        action_endpoint[1].state.executions[crashed.idempotency_key] = {"status": "done"}

    result = run_liveuser("actions", "recover", "--json", cwd=with_actions, env=ledger_env)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert sorted((r["confirmation_id"], r["state"]) for r in body["settled"]) == sorted(
        [(ids["crashed"], "executed"), (ids["interrupted"], "failed")]
    )
    assert body["in_flight"] == 1  # the live one is left to the worker executing it
    assert {r["conversation_id"] for r in body["settled"]} == {"c-1", "c-2"}
    again = run_liveuser(
        "actions", "recover", cwd=with_actions, env={**ledger_env, "COLUMNS": "250"}
    )
    assert again.returncode == 0, again.stderr
    assert "0 settled; 1 still in flight" in again.stdout


def test_actions_recover_with_bad_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "liveuser.toml").write_text("[tenants.default]\ndeadline_seconds = -1\n")
    assert_one_line_error(
        liveuser("actions", "recover", cwd=tmp_path), "tenants.default.deadline_seconds"
    )


async def test_serve_help_names_every_route_the_service_answers(
    configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.routing import Route

    from liveuser.serve import create_app

    monkeypatch.chdir(configured)
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    try:
        app = create_app(settings, registry=registry, ledger=ledger)
    finally:
        await registry.aclose()
        await ledger.aclose()
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert {"/v1/context", "/v1/tool", "/v1/confirm", "/healthz", "/metrics"} <= paths
    result = liveuser("serve", "--help", cwd=configured)
    assert result.returncode == 0, result.stderr
    described = " ".join(result.stdout.split())
    assert [path for path in sorted(paths) if path not in described] == []


def test_command_help_is_plain_text(configured: Path) -> None:
    from liveuser.cli import actions_app, app

    commands = [*app.registered_commands, *actions_app.registered_commands]
    docs = {command.callback.__name__: command.callback.__doc__ or "" for command in commands}
    assert [name for name, doc in docs.items() if "``" in doc or ":class:" in doc] == []
    listing = liveuser("--help", cwd=configured).stdout
    assert "``" not in listing and "plugins" in listing and "mcp" in listing
