"""No cross-talk: many concurrent conversations, random users, random back-end delays."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import ClassVar

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveuser import (
    HttpClient,
    Ledger,
    Pipeline,
    Plugin,
    Registry,
    UserData,
    VerifiedUser,
    hookimpl,
)
from liveuser.sandbox import SANDBOX_API_KEY

from .conftest import host_conversation, make_settings
from .strategies import emails


class SlowEcho(Plugin):  # type: ignore[type-arg]
    """Answers with a marker naming the user, after a random delay."""

    name: ClassVar[str] = "slow_echo"

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> UserData:
        await asyncio.sleep(self.rng.random() * 0.01)
        return UserData(
            source=self.name,
            fields={"marker": f"<{user.email}>", "tenant": f"tenant={user.tenant}"},
            items=[{"order": f"order-of-{user.email}"}],
        )


def _user_data_api(rng: random.Random) -> httpx2.MockTransport:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(rng.random() * 0.01)
        who = json.loads(request.content)["identifier"]
        return httpx2.Response(200, json={"identifier": who, "user_info": f"info-of-[{who}]"})

    return httpx2.MockTransport(handler)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    users=st.lists(emails, min_size=2, max_size=8, unique=True),
    turns=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), min_size=4, max_size=40),
    seed=st.integers(0, 2**32),
)
async def test_every_context_holds_only_its_own_users_data(
    tmp_path: Path, users: list[str], turns: list[tuple[int, int]], seed: int
) -> None:
    rng = random.Random(seed)
    registry = Registry(
        make_settings(tmp_path, user_data_api_url="https://api.example.com/u"),
        http=HttpClient(_user_data_api(rng)),
        discover=False,
    )
    registry.register(SlowEcho(rng))
    registry.register(SlowEcho(rng), tenant="acme")
    ledger = Ledger(":memory:", b"k" * 32)
    pipeline = Pipeline(registry, ledger)
    try:
        jobs = []
        for n, (who, conv) in enumerate(turns):
            email = users[who % len(users)]
            tenant = "acme" if conv == 3 else "default"
            # Conversation ids are shared between users and tenants on purpose.
            conversation = host_conversation(email, f"c{conv % 2}", tenant=tenant)
            jobs.append((email, conversation, pipeline.context_for(conversation, f"m{n}")))
        contexts = await asyncio.gather(*(job for _, _, job in jobs))
        for (email, conversation, _), ctx in zip(jobs, contexts, strict=True):
            assert ctx.verified and ctx.key == conversation.key
            assert f"<{email}>" in ctx.text and f"order-of-{email}" in ctx.text
            assert f"tenant={conversation.tenant}" in ctx.text
            assert ctx.text.count("tenant=") == 1
            for other in users:
                if other != email:
                    assert f"<{other}>" not in ctx.text
                    assert f"order-of-{other}" not in ctx.text
                    assert f"[{other}]" not in ctx.text
            if tenant_of(conversation) == "default":
                assert f"info-of-[{email}]" in ctx.text
    finally:
        await registry.aclose()
        await ledger.aclose()


def tenant_of(conversation: object) -> str:
    return conversation.tenant  # type: ignore[attr-defined,no-any-return]


async def test_one_tenants_back_end_keys_never_serve_another(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append((str(request.url), request.headers["authorization"]))
        who = json.loads(request.content)["identifier"]
        return httpx2.Response(200, json={"identifier": who, "user_info": "x"})

    settings_ = make_settings(tmp_path, user_data_api_url="https://default.example.com/u")
    settings_.tenants["acme"].plugins["user_data_api"] = {
        "url": "https://acme.example.com/u",
        "api_key": "acme-key",
    }
    registry = Registry(settings_, http=HttpClient(httpx2.MockTransport(handler)), discover=False)
    pipeline = Pipeline(registry, Ledger(":memory:", b"k" * 32))
    try:
        await pipeline.context_for(host_conversation("ann@example.com", tenant="default"), "m")
        await pipeline.context_for(host_conversation("ann@example.com", tenant="acme"), "m")
    finally:
        await registry.aclose()
        await pipeline.ledger.aclose()
    assert seen == [
        ("https://default.example.com/u", SANDBOX_API_KEY),
        ("https://acme.example.com/u", "acme-key"),
    ]


async def test_other_tenants_do_not_read_the_default_tenants_environment(
    tmp_path: Path, monkeypatch: object
) -> None:
    import pytest

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    mp.setenv("LIVEUSER_USER_DATA_API_URL", "https://env.example.com/u")
    mp.setenv("LIVEUSER_USER_DATA_API_API_KEY", "env-key")
    registry = Registry(make_settings(tmp_path), discover=False)
    try:
        assert "user_data_api" in registry.tenant("default").plugins
        assert "user_data_api" not in registry.tenant("acme").plugins
    finally:
        await registry.aclose()
