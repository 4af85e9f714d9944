"""The zendesk_ticket rule, case by case, against the fake over loopback."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_zendesk.fake import seed


def ticket(tid: int | str) -> Conversation:
    return Conversation(channel=Channel.zendesk_ticket, conversation_id=str(tid))


async def test_email_ticket_requester_is_verified_in_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    verdict = await setup.plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert fake.requests - before == 1
    assert fake.app.state.log[-1] == ("GET", f"/api/v2/tickets/{seed.EMAIL_VERIFIED}")
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "ann@example.com"
    assert verdict.channel is Channel.zendesk_ticket
    record = verdict.record
    assert record.vendor == "zendesk"
    assert record.mechanism is Mechanism.email_ticket
    assert f"ticket {seed.EMAIL_VERIFIED} via email from ann@example.com" in record.evidence
    assert record.other_participants == ()


async def test_mixed_case_sender_address_is_verified_and_normalised(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(seed.EMAIL_MIXED_CASE))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "chloe@example.com"


@pytest.mark.parametrize(
    ("tid", "reason"),
    [
        (seed.WEB_FORM, "web form, where anyone can type any email address"),
        (seed.API, "created through the API"),
        (seed.AGENT_CREATED, "created by an agent on the requester's behalf"),
        (seed.SOCIAL, "social channel (twitter)"),
        (seed.VOICE, "by phone or text (voice)"),
        (seed.SUSPENDED, "is suspended"),
        (seed.DELETED, "has been deleted"),
        (seed.MISMATCHED_FROM, "sent from another address than its requester's"),
        (seed.MESSAGING_TICKET, "messaging or chat conversation (native_messaging)"),
        (seed.LEGACY_CHAT, "messaging or chat conversation (chat)"),
        (seed.AGENT_REQUESTER, "is an admin, not a customer"),
        (seed.NO_EMAIL, "has no email address"),
    ],
)
async def test_ticket_that_does_not_prove_the_requester_is_refused_with_its_reason(
    make_setup: SetupFactory, fake: Fake, tid: int, reason: str
) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(tid))
    assert isinstance(verdict, Refusal), verdict
    assert reason in verdict.reason
    assert str(tid) in verdict.reason
    assert fake.requests - before == 1


@pytest.mark.parametrize(
    ("tid", "participant"),
    [(seed.CCD, "cc friend@example.org"), (seed.FOLLOWED, "follower sam@acme.example")],
)
async def test_ticket_with_cc_or_follower_lists_them_and_the_pipeline_refuses(
    make_setup: SetupFactory, tid: int, participant: str
) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(ticket(tid))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.record.other_participants == (participant,)
    refused = await setup.pipeline.verify(ticket(tid))
    assert isinstance(refused, Refusal)
    assert "other outside participants" in refused.reason


async def test_payload_claims_never_change_who_is_verified(make_setup: SetupFactory) -> None:
    conv = Conversation(
        channel=Channel.zendesk_ticket,
        conversation_id=str(seed.EMAIL_VERIFIED),
        payload={"requester_email": "bob@example.com", "requester_id": seed.BOB},
        claims={"email": "bob@example.com"},
    )
    verdict = await make_setup().plugin.verify_user(conv)
    assert isinstance(verdict, VerifiedUser)
    assert verdict.email == "ann@example.com"


@pytest.mark.parametrize("raw", ["abc", "12/34", "0", "-5", "1e3", "١٢٣", "9" * 25, "01001"])
async def test_conversation_id_that_is_not_a_ticket_id_is_refused_without_a_request(
    make_setup: SetupFactory, fake: Fake, raw: str
) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(raw))
    assert isinstance(verdict, Refusal)
    assert "not a Zendesk ticket id" in verdict.reason
    assert fake.requests == before
