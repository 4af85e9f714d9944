"""``liveuser mcp``: the official MCP client over stdio and streamable HTTP.

Both servers run as real ``liveuser mcp`` processes; the HTTP one listens on
127.0.0.1 and binds every call to the conversation in its bearer token.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette

from liveuser import GET_USER_DATA, Channel, Ledger
from liveuser.sandbox import ANN_EMAIL, BOB_EMAIL, DOWN_EMAIL, SANDBOX_API_KEY
from liveuser.tokens import KeyRing, Purpose, mint_token

from .conftest import ACME_SECRET, DEFAULT_KEYS, HOST_KEY, HOST_SECRET, host_token

ANN_ONLY = "1Z999AA10123456784"
BOB_ONLY = "9400111899223344556677"
LEDGER_KEY = "mcp-test-ledger-key-0123456789abcdef"


def _write_config(directory: Path, user_data_url: str) -> None:
    (directory / "liveuser.toml").write_text(
        f"""
ledger = "{directory / "ledger.sqlite3"}"
ledger_key = "{LEDGER_KEY}"

[tenants.default.host_keys]
{HOST_KEY} = "{HOST_SECRET}"

[tenants.default.plugins.user_data_api]
url = "{user_data_url}"
api_key = "{SANDBOX_API_KEY}"

[tenants.acme.host_keys]
{HOST_KEY} = "{ACME_SECRET}"
"""
    )


def mcp_token(
    email: str,
    conversation_id: str,
    *,
    keys: KeyRing = DEFAULT_KEYS,
    tenant: str = "default",
    purpose: Purpose = Purpose.mcp_session,
    **options: Any,
) -> str:
    return mint_token(
        keys,
        tenant=tenant,
        purpose=purpose,
        subject=email,
        channel=Channel.host,
        conversation_id=conversation_id,
        **options,
    )


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture(scope="module")
def mcp_http(
    sandbox: tuple[str, Starlette], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``liveuser mcp --transport http`` on 127.0.0.1, for the whole module."""
    directory = tmp_path_factory.mktemp("mcp-http")
    _write_config(directory, sandbox[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "liveuser", "mcp", "--transport", "http", "--port", str(port)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx2.get(url, timeout=1)
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=5)
                    raise RuntimeError(f"liveuser mcp did not start: {err.decode()}") from None
                time.sleep(0.05)
        yield url, directory
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@contextlib.asynccontextmanager
async def http_client(url: str, token: str, **headers: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", **headers})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client


async def test_http_lists_tools_without_any_identity_parameter(
    mcp_http: tuple[str, Path],
) -> None:
    url, _ = mcp_http
    async with http_client(url, mcp_token(ANN_EMAIL, "c-list")) as client:
        listed = await client.list_tools()
    (tool,) = listed.tools
    assert tool.name == GET_USER_DATA
    assert list(tool.input_schema["properties"]) == ["sources"]
    assert tool.input_schema["properties"]["sources"]["items"]["enum"] == ["user_data_api"]


async def test_http_token_for_one_conversation_never_yields_anothers_data(
    mcp_http: tuple[str, Path],
) -> None:
    url, directory = mcp_http
    ann, bob = mcp_token(ANN_EMAIL, "c-ann"), mcp_token(BOB_EMAIL, "c-bob")
    async with http_client(url, ann) as client:
        mine = _text(await client.call_tool(GET_USER_DATA, {}))
        named = _text(await client.call_tool(GET_USER_DATA, {"email": BOB_EMAIL}))
    async with http_client(url, bob) as client:
        bobs = _text(await client.call_tool(GET_USER_DATA, {"customer_email": ANN_EMAIL}))
    assert ANN_ONLY in mine and BOB_ONLY not in mine
    assert named == mine
    assert BOB_ONLY in bobs and ANN_ONLY not in bobs
    ledger = Ledger(directory / "ledger.sqlite3", LEDGER_KEY.encode())
    try:
        rows = await ledger.audit(ANN_EMAIL)
    finally:
        await ledger.aclose()
    assert {r.conversation_id for r in rows} == {"c-ann"}
    assert len({r.tool_call_id for r in rows}) == len(rows) == 2


async def test_http_borrowed_session_id_reaches_only_the_tokens_conversation(
    mcp_http: tuple[str, Path],
) -> None:
    url, _ = mcp_http
    ann, bob = mcp_token(ANN_EMAIL, "c-ann-2"), mcp_token(BOB_EMAIL, "c-bob-2")
    async with http_client(url, ann) as client:
        await client.call_tool(GET_USER_DATA, {})
    # Stateless: no session id is issued, and one a client makes up decides nothing.
    async with http_client(url, bob, **{"Mcp-Session-Id": "borrowed-session"}) as client:
        result = _text(await client.call_tool(GET_USER_DATA, {}))
    assert BOB_ONLY in result and ANN_ONLY not in result
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    async with httpx2.AsyncClient() as raw:
        answer = await raw.post(
            url,
            json=initialize,
            headers={
                "Authorization": f"Bearer {ann}",
                "Accept": "application/json, text/event-stream",
            },
        )
    assert answer.status_code == 200
    assert "mcp-session-id" not in answer.headers


async def test_http_accepts_the_token_liveuser_token_mints(mcp_http: tuple[str, Path]) -> None:
    url, directory = mcp_http
    minted = subprocess.run(
        [
            sys.executable,
            "-m",
            "liveuser",
            "token",
            "--purpose",
            "mcp_session",
            "--subject",
            BOB_EMAIL,
            "--channel",
            "host",
            "--conversation-id",
            "c-cli",
            "--ttl",
            "120",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert minted.returncode == 0, minted.stderr
    async with http_client(url, minted.stdout.strip()) as client:
        result = _text(await client.call_tool(GET_USER_DATA, {"email": ANN_EMAIL}))
    assert BOB_ONLY in result and ANN_ONLY not in result


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-token",
        mcp_token(ANN_EMAIL, "c1", now=time.time() - 3600, ttl=60),
        mcp_token(ANN_EMAIL, "c1")[:-2] + "AA",
        mcp_token(ANN_EMAIL, "c1", purpose=Purpose.identity),
        mcp_token(ANN_EMAIL, "c1", purpose=Purpose.attestation),
        mcp_token(ANN_EMAIL, "c1", tenant="acme", keys=KeyRing({HOST_KEY: ACME_SECRET})),
        mint_token(DEFAULT_KEYS, tenant="default", purpose=Purpose.mcp_session, subject=ANN_EMAIL),
    ],
    ids=[
        "missing",
        "garbage",
        "expired",
        "tampered",
        "identity-audience",
        "attestation-audience",
        "other-tenant",
        "no-conversation",
    ],
)
async def test_http_refuses_bad_tokens(mcp_http: tuple[str, Path], token: str | None) -> None:
    url, _ = mcp_http
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient() as raw:
        answer = await raw.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers
        )
    assert answer.status_code == 401
    assert ANN_ONLY not in answer.text


async def test_http_back_end_down_is_a_short_result(mcp_http: tuple[str, Path]) -> None:
    url, _ = mcp_http
    async with http_client(url, mcp_token(DOWN_EMAIL, "c-down")) as client:
        result = await client.call_tool(GET_USER_DATA, {})
    assert not result.is_error
    assert "user_data_api is unavailable right now" in _text(result)


async def test_stdio_server_is_bound_to_its_launch_conversation(
    sandbox: tuple[str, Starlette], tmp_path: Path
) -> None:
    _write_config(tmp_path, sandbox[0])
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "liveuser",
            "mcp",
            "--conversation-id",
            "c-stdio",
            "--token",
            host_token(ANN_EMAIL),
            "--message-id",
            "m1",
        ],
        cwd=tmp_path,
    )
    async with Client(params) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        mine = _text(await client.call_tool(GET_USER_DATA, {}))
        named = _text(await client.call_tool(GET_USER_DATA, {"email": BOB_EMAIL}))
        unknown = await client.call_tool("refund", {})
    assert names == [GET_USER_DATA]
    assert ANN_ONLY in mine and named == mine and BOB_ONLY not in named
    assert _text(unknown) == "Unknown tool 'refund'."


async def test_stdio_server_without_a_valid_token_gives_no_data(
    sandbox: tuple[str, Starlette], tmp_path: Path
) -> None:
    _write_config(tmp_path, sandbox[0])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "liveuser", "mcp", "--conversation-id", "c-x", "--token", "forged"],
        cwd=tmp_path,
    )
    async with Client(params) as client:
        result = _text(await client.call_tool(GET_USER_DATA, {"email": ANN_EMAIL}))
    assert "No verified customer data" in result and ANN_ONLY not in result


def test_the_exchanged_proof_never_outlives_the_token() -> None:
    import time as _time

    import jwt as _jwt

    from liveuser.errors import TokenError
    from liveuser.mcp_server import conversation_for_token

    keys = KeyRing({"k1": "mcp-proof-test-secret-0123456789abcdef"})

    def session(ttl: float, now: float | None = None) -> str:
        return mint_token(
            keys,
            tenant="default",
            purpose=Purpose.mcp_session,
            subject="ann@example.com",
            ttl=ttl,
            channel=Channel.host,
            conversation_id="chat-1",
            now=now,
        )

    token = session(30)
    conversation, claims = conversation_for_token(keys, token, "default")
    proof = _jwt.decode(conversation.claims["token"], options={"verify_signature": False})
    assert proof["exp"] <= int(claims.expires_at.timestamp())
    assert proof["sub"] == "ann@example.com" and conversation.conversation_id == "chat-1"
    just_expired = session(10, now=_time.time() - 12)  # inside verify_token's 5 s leeway
    with pytest.raises(TokenError, match="expired"):
        conversation_for_token(keys, just_expired, "default")
