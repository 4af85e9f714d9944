"""The Freshdesk rule: only an email ticket from its requester, alone on it, is verified."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_freshworks.fake import seed


async def verify(make_setup: SetupFactory, ticket_id: int | str) -> VerifiedUser | Refusal:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(ticket_id))
    return await setup.plugin.verify_user(conv)


async def test_email_ticket_requester_is_verified(make_setup: SetupFactory) -> None:
    result = await verify(make_setup, seed.EMAIL_VERIFIED)
    assert isinstance(result, VerifiedUser), result
    assert result.email == "ann@example.com"
    assert result.channel is Channel.freshdesk
    assert result.record.vendor == "freshdesk"
    assert result.record.mechanism is Mechanism.email_ticket
    assert f"ticket {seed.EMAIL_VERIFIED}" in result.record.evidence
    assert result.record.other_participants == ()


async def test_requester_email_is_normalised(make_setup: SetupFactory) -> None:
    result = await verify(make_setup, seed.MIXED_CASE)
    assert isinstance(result, VerifiedUser), result
    assert result.email == "chloe@example.com"


async def test_requester_copying_themselves_is_not_another_participant(
    make_setup: SetupFactory,
) -> None:
    result = await verify(make_setup, seed.SELF_CC)
    assert isinstance(result, VerifiedUser), result
    assert result.record.other_participants == ()


@pytest.mark.parametrize(
    ("ticket_id", "words"),
    [
        (seed.PORTAL, "portal"),
        (seed.PHONE, "phone call"),
        (seed.CHAT, "freshchat channel"),
        (seed.FEEDBACK_WIDGET, "feedback widget"),
        (seed.OUTBOUND_EMAIL, "outbound email"),
        (seed.MOBIHELP, "Mobihelp"),
        (seed.UNKNOWN_SOURCE, "source 13"),
        (seed.SPAM, "spam"),
        (seed.DELETED, "deleted"),
        (seed.NO_EMAIL, "no email address"),
    ],
)
async def test_other_tickets_are_refused_with_the_reason(
    make_setup: SetupFactory, ticket_id: int, words: str
) -> None:
    result = await verify(make_setup, ticket_id)
    assert isinstance(result, Refusal), result
    assert words in result.reason
    assert str(ticket_id) in result.reason


async def test_ticket_with_a_cc_lists_the_other_participant(make_setup: SetupFactory) -> None:
    result = await verify(make_setup, seed.CCD)
    assert isinstance(result, VerifiedUser)
    assert result.record.other_participants == ("cc friend@example.org",)


async def test_pipeline_refuses_a_ticket_with_a_cc(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(seed.CCD))
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert "ann@example.com" not in ctx.text


async def test_strict_mode_reads_the_contact(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup(freshdesk_check_contact=True)
    before = fake.requests
    result = await setup.plugin.verify_user(
        Conversation(channel=Channel.freshdesk, conversation_id=str(seed.EMAIL_VERIFIED))
    )
    assert isinstance(result, VerifiedUser), result
    assert fake.requests - before == 2
    assert fake.app.state.log[-1] == ("GET", f"/api/v2/contacts/{seed.ANN}")


@pytest.mark.parametrize(
    ("ticket_id", "words"),
    [(seed.DELETED_CONTACT, "has been deleted"), (seed.BLOCKED_CONTACT, "is blocked")],
)
async def test_strict_mode_refuses_deleted_and_blocked_contacts(
    make_setup: SetupFactory, ticket_id: int, words: str
) -> None:
    lenient = await verify(make_setup, ticket_id)
    assert isinstance(lenient, VerifiedUser)  # the ticket alone cannot tell
    setup = make_setup(freshdesk_check_contact=True)
    conv = Conversation(channel=Channel.freshdesk, conversation_id=str(ticket_id))
    result = await setup.plugin.verify_user(conv)
    assert isinstance(result, Refusal), result
    assert words in result.reason


async def test_strict_mode_skips_the_contact_for_refused_tickets(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup(freshdesk_check_contact=True)
    before = fake.requests
    result = await setup.plugin.verify_user(
        Conversation(channel=Channel.freshdesk, conversation_id=str(seed.PHONE))
    )
    assert isinstance(result, Refusal)
    assert fake.requests - before == 1
