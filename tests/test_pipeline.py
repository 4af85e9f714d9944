"""The pipeline's promises: verified only, refusals as data, metering, cap and audit."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from liveuser import (
    Channel,
    Conversation,
    Mechanism,
    Plugin,
    Refusal,
    Silo,
    SiloViolation,
    Tool,
    ToolCall,
    UserData,
    VerificationRecord,
    VerifiedUser,
    hookimpl,
    host,
    identity,
)
from liveuser.render import CLOSE
from liveuser.tokens import KeyRing, Purpose, mint_token

from .conftest import ACME_KEYS, DEFAULT_KEYS, PipelineFactory, host_conversation

ANN = "ann@example.com"


class Echo(Plugin):  # type: ignore[type-arg]
    """A back-end that answers with the user's email and a text of a chosen size."""

    name: ClassVar[str] = "echo"
    size: int = 0
    calls: list[str]

    def __init__(self, size: int = 0) -> None:
        super().__init__()
        self.size = size
        self.calls = []

    @hookimpl
    def fetch_user_data(self, user: VerifiedUser) -> UserData:
        self.calls.append(user.email)
        return UserData(source=self.name, fields={"owner": user.email}, text="x" * self.size)


class NoArgs(BaseModel):
    pass


class BigTool(Plugin):  # type: ignore[type-arg]
    """Offers the tool ``big``, whose result is ``size`` characters of data."""

    name: ClassVar[str] = "big"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    @hookimpl
    def register_tools(self) -> list[Tool]:
        async def run(call: ToolCall) -> str:
            return "y" * self.size

        return [Tool(name="big", description="big", parameters=NoArgs, run=run)]


def _record(**kw: Any) -> VerificationRecord:
    return VerificationRecord(vendor="test", mechanism=Mechanism.email_ticket, evidence="t", **kw)


async def test_verified_host_user_is_the_token_subject(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    echo = pipeline.registry.register(Echo())
    ctx = await pipeline.context_for(host_conversation("Ann@Example.COM"), "m1")
    assert ctx.verified and ctx.refusal is None
    assert echo.calls == [ANN]  # type: ignore[attr-defined]
    assert "owner: ann@example.com" in ctx.text


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({}, "no identity token"),
        ({"token": "not.a.jwt"}, "host identity token refused"),
        (
            {
                "token": mint_token(
                    ACME_KEYS, tenant="default", purpose=Purpose.identity, subject=ANN
                )
            },
            "host identity token refused",
        ),
        (
            {
                "token": mint_token(
                    DEFAULT_KEYS, tenant="acme", purpose=Purpose.identity, subject=ANN
                )
            },
            "host identity token refused",
        ),
        (
            {
                "token": mint_token(
                    DEFAULT_KEYS, tenant="default", purpose=Purpose.mcp_session, subject=ANN
                )
            },
            "host identity token refused",
        ),
    ],
    ids=["missing", "garbage", "other-tenant-key", "other-tenant-claim", "wrong-audience"],
)
async def test_bad_host_token_is_refused_and_nothing_fetched(
    make_pipeline: PipelineFactory, claims: dict[str, str], reason: str
) -> None:
    pipeline = make_pipeline()
    echo = pipeline.registry.register(Echo())
    conversation = Conversation(channel=Channel.host, conversation_id="c1", claims=claims)
    ctx = await pipeline.context_for(conversation, "m1")
    assert not ctx.verified and reason in (ctx.refusal or "")
    assert echo.calls == []  # type: ignore[attr-defined]
    assert "No verified customer data" in ctx.text and ANN not in ctx.text


async def test_tampered_token_is_refused(make_pipeline: PipelineFactory) -> None:
    token = host_conversation(ANN).claims["token"]
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{'A' * len(sig)}"
    ctx = await make_pipeline().context_for(
        Conversation(channel=Channel.host, conversation_id="c", claims={"token": forged}), "m1"
    )
    assert not ctx.verified


async def test_rotated_host_keys_both_verify_and_retired_key_is_refused(
    make_pipeline: PipelineFactory,
) -> None:
    old_secret, new_secret = (
        "old-secret-0123456789abcdef-ghijklmno",
        "new-secret-0123456789abcdef-ghijklmno",
    )
    old, new = KeyRing({"k1": old_secret}), KeyRing({"k2": new_secret})
    rotating = make_pipeline(host_keys={"k1": old_secret, "k2": new_secret})
    for keys in (old, new):
        assert (await rotating.context_for(host_conversation(ANN, keys=keys), "m1")).verified
    retired = make_pipeline(host_keys={"k2": new_secret})
    assert not (await retired.context_for(host_conversation(ANN, keys=old), "m1")).verified
    assert (await retired.context_for(host_conversation(ANN, keys=new), "m1")).verified


async def test_unknown_tenant_is_refused_without_metering(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    ctx = await pipeline.context_for(
        host_conversation(ANN, tenant="nobody", keys=DEFAULT_KEYS), "m1"
    )
    assert not ctx.verified and "unknown tenant" in (ctx.refusal or "")
    assert await pipeline.ledger.usage() == []


async def test_channel_without_connector_is_refused(make_pipeline: PipelineFactory) -> None:
    ctx = await make_pipeline().context_for(
        Conversation(channel=Channel.gorgias_chat, conversation_id="c1"), "m1"
    )
    assert ctx.refusal == "no connector for channel gorgias_chat is installed"


async def test_cc_participants_get_no_user_data(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    echo = pipeline.registry.register(Echo())
    conversation = host_conversation(ANN, payload={"participants": [ANN, "cc@example.org"]})
    ctx = await pipeline.context_for(conversation, "m1")
    assert not ctx.verified and "other outside participants" in (ctx.refusal or "")
    assert echo.calls == []  # type: ignore[attr-defined]
    alone = host_conversation(ANN, payload={"participants": ["ANN@example.com"]})
    assert (await pipeline.context_for(alone, "m1")).verified


async def test_a_fetch_without_a_verification_record_is_impossible(
    make_pipeline: PipelineFactory,
) -> None:
    with pytest.raises(ValidationError):
        VerifiedUser(tenant="default", email=ANN, channel=Channel.host)  # type: ignore[call-arg]
    tenant = make_pipeline().registry.tenant()
    key = host_conversation(ANN).key
    with pytest.raises(SiloViolation):
        Silo(tenant, {"email": ANN}, key)  # type: ignore[arg-type]

    class Lookalike(VerifiedUser):
        pass

    fake = Lookalike(tenant="default", email=ANN, channel=Channel.host, record=_record())
    with pytest.raises(SiloViolation):
        Silo(tenant, fake, key)


async def test_a_user_of_another_tenant_cannot_open_a_silo(make_pipeline: PipelineFactory) -> None:
    registry = make_pipeline().registry
    user = VerifiedUser(tenant="acme", email=ANN, channel=Channel.host, record=_record())
    with pytest.raises(SiloViolation):
        Silo(registry.tenant("default"), user, host_conversation(ANN).key)


async def test_a_context_is_handed_only_to_its_conversation(make_pipeline: PipelineFactory) -> None:
    conversation = host_conversation(ANN, "c1")
    ctx = await make_pipeline().context_for(conversation, "m1")
    assert ctx.text_for(conversation) == ctx.text
    with pytest.raises(SiloViolation):
        ctx.text_for(host_conversation(ANN, "c2"))
    with pytest.raises(SiloViolation):
        ctx.text_for(host_conversation(ANN, "c1", tenant="acme"))


async def test_connector_verifying_for_another_channel_is_refused(
    make_pipeline: PipelineFactory,
) -> None:
    class Sloppy(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "sloppy"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.intercom})

        @hookimpl
        def verify_user(self, conversation: Conversation) -> VerifiedUser:
            return VerifiedUser(
                tenant="acme", email=ANN, channel=Channel.intercom, record=_record()
            )

    pipeline = make_pipeline()
    pipeline.registry.register(Sloppy())
    ctx = await pipeline.context_for(
        Conversation(channel=Channel.intercom, conversation_id="c1"), "m1"
    )
    assert not ctx.verified and "another conversation" in (ctx.refusal or "")


async def test_connector_crash_is_a_refusal_not_a_traceback(make_pipeline: PipelineFactory) -> None:
    class Broken(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "broken"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.freshdesk})

        @hookimpl
        async def verify_user(self, conversation: Conversation) -> None:
            raise RuntimeError("vendor exploded")

    pipeline = make_pipeline()
    pipeline.registry.register(Broken())
    ctx = await pipeline.context_for(
        Conversation(channel=Channel.freshdesk, conversation_id="1"), "m1"
    )
    assert ctx.refusal == "broken could not verify the user (RuntimeError)"


async def test_verification_is_cached_and_can_be_dropped(make_pipeline: PipelineFactory) -> None:
    calls: list[str] = []

    class Counting(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "counting"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.zendesk_ticket})

        @hookimpl
        def verify_user(self, conversation: Conversation) -> VerifiedUser:
            calls.append(conversation.conversation_id)
            return VerifiedUser(
                tenant="default", email=ANN, channel=conversation.channel, record=_record()
            )

    pipeline = make_pipeline()
    plugin = pipeline.registry.register(Counting())
    conversation = Conversation(channel=Channel.zendesk_ticket, conversation_id="t1")
    await pipeline.context_for(conversation, "m1")
    await pipeline.context_for(conversation, "m2")
    assert calls == ["t1"]
    plugin.runtime.forget_verification(conversation.key)  # e.g. the requester changed
    await pipeline.context_for(conversation, "m3")
    assert calls == ["t1", "t1"]


async def test_new_credentials_in_a_conversation_verify_again(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo())
    as_ann = host_conversation(ANN, "shared")
    as_bob = host_conversation("bob@example.com", "shared")
    assert "owner: ann@example.com" in (await pipeline.context_for(as_ann, "m1")).text
    bob = await pipeline.context_for(as_bob, "m2")
    assert "owner: bob@example.com" in bob.text and ANN not in bob.text
    unsigned = as_ann.model_copy(update={"claims": {}})
    assert not (await pipeline.context_for(unsigned, "m3")).verified


async def test_verification_is_not_cached_longer_than_data(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline(cache_ttl_seconds=0)
    echo = pipeline.registry.register(Echo())
    conversation = host_conversation(ANN)
    await pipeline.context_for(conversation, "m1")
    await pipeline.context_for(conversation, "m2")
    assert echo.calls == [ANN, ANN]  # type: ignore[attr-defined]
    assert pipeline.registry.tenant().cached_verification(conversation) is None


# -- metering ------------------------------------------------------------------


async def _context_of_size(pipeline: Any, chars: int, message_id: str) -> Any:
    """A context of exactly ``chars`` characters, by sizing the echo back-end's text."""
    echo = pipeline.registry.tenant().plugins["echo"]
    echo.size = 1
    pipeline.registry.tenant().data_cache.drop(lambda *_: True)
    conversation = host_conversation(ANN, "sized")
    probe = await pipeline.context_for(
        conversation.model_copy(update={"conversation_id": "probe"}), f"probe-{message_id}"
    )
    echo.size = 1 + chars - probe.chars
    pipeline.registry.tenant().data_cache.drop(lambda *_: True)
    return await pipeline.context_for(conversation, message_id)


async def test_1500_characters_are_free_and_1501_are_charged(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo())
    free = await _context_of_size(pipeline, 1500, "m1")
    assert free.chars == 1500 and not free.charged and free.amount == Decimal("0")
    charged = await _context_of_size(pipeline, 1501, "m2")
    assert charged.chars == 1501 and charged.charged and charged.amount == Decimal("0.02")


async def test_retried_turn_is_not_charged_twice(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo(size=2000))
    conversation = host_conversation(ANN)
    first = await pipeline.context_for(conversation, "m1")
    again = await pipeline.context_for(conversation, "m1")
    assert first.charged and first.amount == Decimal("0.02")
    assert again.amount == first.amount
    rows = await pipeline.ledger.usage("default")
    assert sum(r.amount for r in rows) == Decimal("0.02")
    assert sum(r.deliveries for r in rows) == 1


async def test_tool_result_in_a_charged_message_is_not_charged_again(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo(size=2000))
    pipeline.registry.register(BigTool(2000))
    conversation = host_conversation(ANN)
    await pipeline.context_for(conversation, "m1")
    await pipeline.call_tool(conversation, "m1", "call-1", "big", {})
    await pipeline.call_tool(conversation, "m2", "call-2", "big", {})
    rows = await pipeline.ledger.usage("default")
    assert sum(r.amount for r in rows) == Decimal("0.04")  # m1 once, m2 once


async def test_spending_cap_keeps_contexts_within_the_free_size(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline(monthly_cap=Decimal("0.02"))
    pipeline.registry.register(Echo(size=4000))
    conversation = host_conversation(ANN)
    first = await pipeline.context_for(conversation, "m1")
    assert first.charged and not first.capped and first.chars > 1500
    second = await pipeline.context_for(conversation, "m2")
    assert second.capped and not second.charged and second.chars <= 1500
    assert "monthly context allowance is used up" in second.text
    assert second.trimmed


async def test_audit_finds_every_conversation_that_received_a_person(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo())
    pipeline.registry.register(Echo(), tenant="acme")
    for conv, tenant in [("c1", "default"), ("c2", "default"), ("c3", "acme")]:
        await pipeline.context_for(host_conversation(ANN, conv, tenant=tenant), "m1")
    await pipeline.context_for(host_conversation("bob@example.com", "c4"), "m1")
    await pipeline.context_for(Conversation(channel=Channel.host, conversation_id="c5"), "m1")
    rows = await pipeline.ledger.audit("ANN@example.com")
    assert sorted((r.tenant, r.conversation_id) for r in rows) == [
        ("acme", "c3"),
        ("default", "c1"),
        ("default", "c2"),
    ]
    assert all(r.sources == ("echo",) for r in rows)
    assert await pipeline.ledger.forget(ANN) == 3
    assert await pipeline.ledger.audit(ANN) == []


async def test_refusal_is_metered_without_identity(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    ctx = await pipeline.context_for(Conversation(channel=Channel.host, conversation_id="c"), "m")
    assert isinstance(
        await pipeline.verify(Conversation(channel=Channel.host, conversation_id="c")), Refusal
    )
    rows = await pipeline.ledger.usage("default")
    assert rows[0].deliveries == 1 and not ctx.charged


async def test_forget_erases_the_ledger_and_the_cache(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline()
    echo = pipeline.registry.register(Echo())
    conversation = host_conversation(ANN)
    await pipeline.context_for(conversation, "m1")
    assert await pipeline.forget("Ann@example.com") == 1
    assert await pipeline.ledger.audit(ANN) == []
    await pipeline.context_for(conversation, "m2")
    assert echo.calls == [ANN, ANN]  # type: ignore[attr-defined]


async def test_forget_drops_the_remembered_host_token_and_cached_addresses(
    make_pipeline: PipelineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo())
    checked: list[str] = []
    verify = host.verify_token

    def counting(*args: Any, **kwargs: Any) -> Any:
        checked.append("token")
        return verify(*args, **kwargs)

    monkeypatch.setattr(host, "verify_token", counting)
    ann, bob = host_conversation(ANN), host_conversation("bob@example.com")
    for message in ("m1", "m2"):
        await pipeline.context_for(ann, message)
        await pipeline.context_for(bob, message)
    assert len(checked) == 2  # each token checked once, then remembered
    await pipeline.forget(ANN)
    assert identity._normalize.cache_info().currsize == 0
    await pipeline.context_for(ann, "m3")
    await pipeline.context_for(bob, "m3")
    assert len(checked) == 3  # Ann's token is checked again; Bob's is still remembered


async def test_connector_cannot_claim_an_operator_verification(
    make_pipeline: PipelineFactory,
) -> None:
    class Pretender(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "pretender"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.hubspot_chat})

        @hookimpl
        def verify_user(self, conversation: Conversation) -> VerifiedUser:
            record = VerificationRecord(vendor="x", mechanism=Mechanism.operator, evidence="me")
            return VerifiedUser(
                tenant="default", email=ANN, channel=conversation.channel, record=record
            )

    pipeline = make_pipeline()
    pipeline.registry.register(Pretender())
    ctx = await pipeline.context_for(
        Conversation(channel=Channel.hubspot_chat, conversation_id="c1"), "m1"
    )
    assert not ctx.verified and "only the liveuser CLI" in (ctx.refusal or "")


class AttestingChat(Plugin):  # type: ignore[type-arg]
    """A live-chat connector whose vendor records the contact but cannot prove who types."""

    name: ClassVar[str] = "attesting_chat"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.gorgias_chat})

    @hookimpl
    def verify_user(self, conversation: Conversation) -> VerifiedUser | Refusal | None:
        from liveuser.host import verify_host_attestation

        contact = conversation.payload.get("contact_email")
        verdict = verify_host_attestation(
            self.runtime.host_keys, conversation, vendor="gorgias", contact=contact
        )
        return verdict or Refusal(reason="Gorgias live chat is not a verified source")


def _attestation(
    email: str,
    conversation_id: str,
    *,
    keys: KeyRing = DEFAULT_KEYS,
    channel: Channel = Channel.gorgias_chat,
) -> str:
    return mint_token(
        keys,
        tenant="default",
        purpose=Purpose.attestation,
        subject=email,
        channel=channel,
        conversation_id=conversation_id,
        ttl=3600,  # minted at collection time
    )


@pytest.mark.parametrize(
    ("claims", "contact", "verified", "reason"),
    [
        ({}, ANN, False, "not a verified source"),
        ({"attestation": _attestation(ANN, "chat-1")}, ANN, True, None),
        (
            {"attestation": _attestation(ANN, "chat-1")},
            "bob@example.com",
            False,
            "not this gorgias conversation's contact",
        ),
        ({"attestation": _attestation(ANN, "chat-2")}, ANN, False, "another conversation"),
        (
            {"attestation": _attestation(ANN, "chat-1", channel=Channel.intercom)},
            ANN,
            False,
            "another conversation",
        ),
        (
            {"attestation": _attestation(ANN, "chat-1", keys=ACME_KEYS)},
            ANN,
            False,
            "host attestation refused",
        ),
        (
            {"attestation": host_conversation(ANN).claims["token"]},
            ANN,
            False,
            "host attestation refused",
        ),
    ],
    ids=[
        "none",
        "valid",
        "other-contact",
        "other-conversation",
        "other-channel",
        "other-key",
        "identity-token",
    ],
)
async def test_host_attestation_opens_only_its_own_vendor_conversation(
    make_pipeline: PipelineFactory,
    claims: dict[str, str],
    contact: str,
    verified: bool,
    reason: str | None,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(AttestingChat())
    conversation = Conversation(
        channel=Channel.gorgias_chat,
        conversation_id="chat-1",
        claims=claims,
        payload={"contact_email": contact},
    )
    verdict = await pipeline.verify(conversation)
    if verified:
        assert isinstance(verdict, VerifiedUser)
        assert verdict.record.mechanism is Mechanism.host_attestation
        assert verdict.record.key_id == "k1"
    else:
        assert isinstance(verdict, Refusal) and reason in verdict.reason


async def test_added_participant_is_refused_despite_a_cached_verification(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    pipeline.registry.register(Echo())
    alone = host_conversation(ANN, "c1")
    assert (await pipeline.context_for(alone, "m1")).verified
    joined = alone.model_copy(update={"payload": {"participants": [ANN, "eve@example.org"]}})
    ctx = await pipeline.context_for(joined, "m2")
    assert not ctx.verified and ANN not in ctx.text


async def test_one_token_with_and_without_others_is_judged_each_time(
    make_pipeline: PipelineFactory,
) -> None:
    # The host connector checks a token's signature once; who else is in the chat
    # is judged on every message, whatever the order.
    pipeline = make_pipeline(cache_ttl_seconds=0)
    pipeline.registry.register(Echo())
    alone = host_conversation(ANN, "c1")
    joined = alone.model_copy(update={"payload": {"participants": [ANN, "eve@example.org"]}})
    for conversation, verified in ((joined, False), (alone, True), (joined, False), (alone, True)):
        ctx = await pipeline.context_for(conversation, secrets.token_hex(4))
        assert ctx.verified is verified
        assert (ANN in ctx.text) is verified


async def test_verification_is_not_reused_past_its_evidence(
    make_pipeline: PipelineFactory,
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    calls: list[str] = []

    class ShortLived(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "short_lived"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.intercom})

        @hookimpl
        def verify_user(self, conversation: Conversation) -> VerifiedUser:
            calls.append(conversation.conversation_id)
            expires = datetime.now(UTC) + timedelta(seconds=0.2)
            return VerifiedUser(
                tenant="default",
                email=ANN,
                channel=conversation.channel,
                record=_record(expires_at=expires),
            )

    pipeline = make_pipeline()
    pipeline.registry.register(ShortLived())
    conversation = Conversation(channel=Channel.intercom, conversation_id="i1")
    await pipeline.context_for(conversation, "m1")
    await pipeline.context_for(conversation, "m2")
    assert calls == ["i1"]
    await asyncio.sleep(0.3)
    await pipeline.context_for(conversation, "m3")
    assert calls == ["i1", "i1"]


async def test_hanging_connector_is_refused_at_the_deadline(make_pipeline: PipelineFactory) -> None:
    import asyncio

    class Hangs(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "hangs"
        channels: ClassVar[frozenset[Channel]] = frozenset({Channel.intercom})

        @hookimpl
        async def verify_user(self, conversation: Conversation) -> None:
            await asyncio.sleep(60)

    pipeline = make_pipeline(deadline_seconds=0.2)
    pipeline.registry.register(Hangs())
    ctx = await pipeline.context_for(
        Conversation(channel=Channel.intercom, conversation_id="1"), "m1"
    )
    assert ctx.refusal == "hangs could not verify the user in time"


async def test_failing_or_overlong_renderer_falls_back_to_the_default(
    make_pipeline: PipelineFactory,
) -> None:
    from collections.abc import Sequence

    from liveuser import Budget

    class Crashes(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "crashes"

        @hookimpl
        def render_context(
            self, user: VerifiedUser, data: Sequence[UserData], budget: Budget
        ) -> str:
            raise RuntimeError("template bug")

    class Overlong(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "overlong"

        @hookimpl
        def render_context(
            self, user: VerifiedUser, data: Sequence[UserData], budget: Budget
        ) -> str:
            return "z" * (budget.chars + 1)

    for renderer in (Crashes, Overlong):
        pipeline = make_pipeline()
        pipeline.registry.register(Echo())
        pipeline.registry.register(renderer())
        ctx = await pipeline.context_for(host_conversation(ANN), "m1")
        assert "owner: ann@example.com" in ctx.text and "zzz" not in ctx.text


async def test_tool_faults_come_back_as_text(make_pipeline: PipelineFactory) -> None:
    class BrokenTools(Plugin):  # type: ignore[type-arg]
        name: ClassVar[str] = "broken_tools"

        @hookimpl
        def register_tools(self) -> list[object]:
            return ["not a tool"]

    pipeline = make_pipeline()
    conversation = host_conversation(ANN)
    assert await pipeline.call_tool(conversation, "m1", "c0", "x", [1]) == "Unknown tool 'x'."
    pipeline.registry.register(BrokenTools())
    text = await pipeline.call_tool(conversation, "m1", "c1", "x", {})
    assert text == "Tools are unavailable right now."
    with pytest.raises(ValueError, match="tool_call_id"):
        await pipeline.call_tool(conversation, "m1", "", "x", {})


async def test_spending_cap_shortens_tool_results_too(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline(monthly_cap=Decimal("0.02"))
    pipeline.registry.register(BigTool(4000))
    conversation = host_conversation(ANN)
    first = await pipeline.call_tool(conversation, "m1", "c1", "big", {})
    second = await pipeline.call_tool(conversation, "m2", "c2", "big", {})
    assert len(first) > 1500 and len(second) <= 1500 and second.endswith(CLOSE)
    assert await pipeline.ledger.month_spend("default") == Decimal("0.02")


def test_tokens_in_claims_are_not_in_the_repr() -> None:
    conversation = host_conversation(ANN)
    assert conversation.claims["token"] not in repr(conversation)


async def test_a_plugin_can_drop_everything_cached_for_a_person(
    make_pipeline: PipelineFactory,
) -> None:
    pipeline = make_pipeline()
    echo = pipeline.registry.register(Echo())
    conversation = host_conversation(ANN)
    await pipeline.context_for(conversation, "m1")
    # the data, the verification and the host token the connector remembered
    assert echo.runtime.forget_identity("ANN@example.com") == 3
    await pipeline.context_for(conversation, "m2")
    assert echo.calls == [ANN, ANN]  # type: ignore[attr-defined]
