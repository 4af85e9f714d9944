"""Bad input gets a refusal with its reason, never an exception."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Fake, SetupFactory
from hypothesis import given
from intercom_strategies import conversation_bodies, json_values

from liveuser import Channel, Conversation, Refusal, VerifiedUser
from liveuser_intercom import rules
from liveuser_intercom.client import Contact, IntercomConversation, IntercomFailure, parse
from liveuser_intercom.fake import seed


def conv(cid: str) -> Conversation:
    return Conversation(channel=Channel.intercom, conversation_id=cid)


@pytest.mark.parametrize(
    ("cid", "words"),
    [
        (seed.UNKNOWN, "conversation 404404 was not found in Intercom"),
        (seed.SERVER_ERROR, "failed to answer about conversation 500 (HTTP 500)"),
        (seed.MALFORMED, "malformed JSON"),
        (seed.USER_WITHOUT_EMAIL, "has no email address"),
        ("../me", "is not an Intercom conversation id"),
        ("201?x=1", "is not an Intercom conversation id"),
    ],
)
async def test_bad_conversations_are_refusals(
    make_setup: SetupFactory, cid: str, words: str
) -> None:
    result = await make_setup().plugin.verify_user(conversation=conv(cid))
    assert isinstance(result, Refusal)
    assert words in result.reason


async def test_wrong_access_token_is_a_refusal(make_setup: SetupFactory) -> None:
    result = await make_setup(access_token="wrong").plugin.verify_user(
        conversation=conv(seed.EMAIL_VERIFIED)
    )
    assert isinstance(result, Refusal)
    assert "Intercom refused liveuser's credentials (HTTP 401)" in result.reason


async def test_rate_limit_within_the_deadline_is_waited_out(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.reset_in = 0
    before = fake.requests
    result = await make_setup().plugin.verify_user(conversation=conv(seed.EMAIL_VERIFIED))
    assert isinstance(result, VerifiedUser), result
    assert fake.requests - before == 3


async def test_rate_limit_past_the_deadline_is_a_refusal(
    make_setup: SetupFactory, fake: Fake
) -> None:
    fake.app.state.throttle = 5
    fake.app.state.reset_in = 30
    started = time.monotonic()
    result = await make_setup(deadline=2.0).plugin.verify_user(
        conversation=conv(seed.EMAIL_VERIFIED)
    )
    assert isinstance(result, Refusal)
    assert "rate limiting" in result.reason
    assert time.monotonic() - started < 1.5


async def test_pipeline_turns_bad_input_into_a_refused_context(make_setup: SetupFactory) -> None:
    ctx = await make_setup().pipeline.context_for(conv(seed.SERVER_ERROR), message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "HTTP 500" in ctx.refusal


@given(body=conversation_bodies())
def test_any_conversation_answer_is_a_verdict_or_a_failure(body: Any) -> None:
    try:
        parsed = parse(IntercomConversation, body, "conversation 201")
    except IntercomFailure as exc:
        assert exc.reason.startswith("Intercom's answer about conversation 201")
        return
    picked = rules.pick_contact(parsed, parsed.id)
    if isinstance(picked, Refusal):
        assert picked.reason
        return
    contact = Contact(id=picked.id, role="lead", email="ann@example.com")
    verdict = rules.judge_email(parsed, contact, tenant="default")
    if isinstance(verdict, VerifiedUser):
        assert parsed.source.type == "email"
        assert parsed.source.delivered_as == "customer_initiated"
        assert parsed.source.author.email == "ann@example.com"
        assert len(parsed.contacts.contacts) == 1


@given(body=json_values)
def test_any_contact_answer_parses_or_fails_with_a_reason(body: Any) -> None:
    try:
        contact = parse(Contact, body, "contact x")
    except IntercomFailure as exc:
        assert "contact x" in exc.reason
    else:
        assert contact.id and contact.role
