"""Bad input and a failing vendor end as a refusal with its reason, never an exception."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory
from freshworks_strategies import chat_bodies, ticket_bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from liveuser import Channel, Conversation, Refusal, VerifiedUser, normalize_email
from liveuser_freshworks import rules
from liveuser_freshworks.chat_token import ChatClaims
from liveuser_freshworks.client import ChatConversation, ChatUser, Ticket
from liveuser_freshworks.demo import user_jwt
from liveuser_freshworks.fake import seed


def ticket(tid: int | str) -> Conversation:
    return Conversation(channel=Channel.freshdesk, conversation_id=str(tid))


def chat(cid: str, token: str | None = None) -> Conversation:
    claims = {"freshchat_jwt": token} if token else {}
    return Conversation(channel=Channel.freshchat, conversation_id=cid, claims=claims)


CHLOE_TOKEN = user_jwt("cust-chloe", "chloe@example.com")


@pytest.mark.parametrize(
    ("conversation", "words"),
    [
        (ticket(seed.UNKNOWN), "not found in Freshdesk"),
        (ticket(seed.SERVER_ERROR), "HTTP 500"),
        (ticket(seed.MALFORMED), "malformed JSON"),
        (ticket("abc"), "not a Freshdesk ticket id"),
        (ticket("0"), "not a Freshdesk ticket id"),
        (ticket("020"), "not a Freshdesk ticket id"),
        (ticket("1" * 21), "not a Freshdesk ticket id"),
        (chat(seed.CONV_UNKNOWN, CHLOE_TOKEN), "not found in Freshchat"),
        (chat(seed.CONV_SERVER_ERROR, CHLOE_TOKEN), "HTTP 500"),
        (chat(seed.CONV_MALFORMED, CHLOE_TOKEN), "malformed JSON"),
        (chat("../users/x", CHLOE_TOKEN), "not a Freshchat id"),
    ],
)
async def test_bad_input_is_a_refusal_with_a_reason(
    make_setup: SetupFactory, conversation: Conversation, words: str
) -> None:
    result = await make_setup().plugin.verify_user(conversation)
    assert isinstance(result, Refusal), result
    assert words in result.reason


async def test_wrong_credentials_are_named(make_setup: SetupFactory) -> None:
    setup = make_setup(freshdesk_api_key="wrong", freshchat_api_token="wrong")
    desk = await setup.plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(desk, Refusal) and "credentials (HTTP 401)" in desk.reason
    talk = await setup.plugin.verify_user(chat(seed.CONV_CHLOE, CHLOE_TOKEN))
    assert isinstance(talk, Refusal) and "credentials (HTTP 401)" in talk.reason


async def test_rate_limit_within_the_deadline_is_waited_out(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.retry_after = 0
    before = fake.requests
    result = await make_setup().plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(result, VerifiedUser), result
    assert fake.requests - before == 2


@pytest.mark.parametrize(
    "conversation", [ticket(seed.EMAIL_VERIFIED), chat(seed.CONV_CHLOE, CHLOE_TOKEN)]
)
async def test_rate_limit_past_the_deadline_is_a_refusal(
    make_setup: SetupFactory, fake: Fake, conversation: Conversation
) -> None:
    fake.app.state.throttle = 100
    fake.app.state.retry_after = 30
    setup = make_setup(deadline=1.0)
    ctx = await setup.pipeline.context_for(conversation, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "rate limiting" in ctx.refusal


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(body=ticket_bodies())
def test_any_ticket_answer_is_verified_only_as_an_email_ticket(body: object) -> None:
    try:
        parsed = Ticket.model_validate(body)
    except ValidationError:
        return  # the client turns this into a refusal
    result = rules.judge_ticket(parsed, tenant="default")
    if isinstance(result, VerifiedUser):
        assert parsed.source == 1
        assert parsed.spam is False and not parsed.deleted
        assert parsed.requester is not None and parsed.requester.id == parsed.requester_id
        assert result.email == normalize_email(parsed.requester.email or "")
    else:
        assert result.reason


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    conversation=chat_bodies(),
    user=st.sampled_from(
        [
            {"id": "u1", "email": "chloe@example.com", "reference_id": "cust-chloe"},
            {"id": "u1", "email": "chloe@example.com", "reference_id": None},
            {"id": "u1", "email": "ann@example.com", "reference_id": "cust-chloe"},
            {"id": "u2", "email": "chloe@example.com", "reference_id": "cust-chloe"},
            {"id": "u1", "email": None, "reference_id": "cust-chloe"},
        ]
    ),
    hinted=st.sampled_from([None, "u1", "u2"]),
)
def test_any_chat_answer_verifies_only_the_token_holder(
    conversation: object, user: dict[str, object], hinted: str | None
) -> None:
    from datetime import UTC, datetime

    try:
        conv = ChatConversation.model_validate(conversation)
    except ValidationError:
        return
    claims = ChatClaims(
        reference_id="cust-chloe",
        email="chloe@example.com",
        expires_at=datetime.now(UTC),
        freshchat_uuid=None,
    )
    picked = rules.pick_user(conv, hinted, "c1")
    if isinstance(picked, Refusal):
        assert picked.reason
        return
    author, others = picked
    result = rules.judge_chat_token(
        claims,
        ChatUser.model_validate(user),
        author,
        others,
        tenant="default",
        conversation_id="c1",
        key_id="k",
    )
    if isinstance(result, VerifiedUser):
        assert user["reference_id"] == "cust-chloe" and user["email"] == "chloe@example.com"
        assert user["id"] == author
        assert conv.conversation_id == "c1"
        assert hinted is None or hinted == author
        assert len(result.record.other_participants) == len(conv.user_ids()) - 1
