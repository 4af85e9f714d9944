"""The verification rule against the fake's seed tickets, one case each."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_gorgias.fake import seed


def ticket(tid: int | str) -> Conversation:
    return Conversation(channel=Channel.gorgias_ticket, conversation_id=str(tid))


async def test_email_ticket_from_its_customer_is_verified(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "ann@example.com"
    assert verdict.channel is Channel.gorgias_ticket
    assert verdict.record.vendor == "gorgias"
    assert verdict.record.mechanism is Mechanism.email_ticket
    assert f"ticket {seed.EMAIL_VERIFIED} received by email from ann@example.com" in (
        verdict.record.evidence
    )
    assert verdict.record.other_participants == ()
    assert fake.requests - before == 1
    assert fake.app.state.log[-1] == ("GET", f"/api/tickets/{seed.EMAIL_VERIFIED}")


async def test_sender_address_case_does_not_matter(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(seed.EMAIL_MIXED_CASE))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "chloe@example.com"


@pytest.mark.parametrize(
    ("tid", "reason"),
    [
        (seed.CHAT, "Gorgias Live Chat (chat), which is not a verified source"),
        (seed.CHAT_WITH_AUTH_IDENTITY, "chat identity is self-declared"),
        (seed.CONTACT_FORM, "came in through a form (contact_form)"),
        (seed.HELP_CENTER, "came in through a form (help-center)"),
        (seed.API, "created by a program or an agent (api)"),
        (seed.OUTBOUND, "started by the company"),
        (seed.SMS, "by phone or text (sms)"),
        (seed.PHONE, "by phone or text (phone)"),
        (seed.FACEBOOK, "social channel (facebook-messenger)"),
        (seed.UNKNOWN_CHANNEL, "channel 'custom-channel'; only email tickets are verified"),
        (seed.SPAM, "is marked as spam"),
        (seed.DELETED, "has been deleted"),
        (seed.MISMATCHED_FROM, "sent from another address than its customer's"),
        (seed.EMAIL_CHANNEL_DELETED, "no live email channel"),
        (seed.VIA_HELPDESK, "was not received by email (via 'helpdesk')"),
        (seed.NO_CUSTOMER, "has no customer"),
    ],
)
async def test_everything_else_is_refused_with_its_reason(
    make_setup: SetupFactory, tid: int, reason: str
) -> None:
    verdict = await make_setup().plugin.verify_user(ticket(tid))
    assert isinstance(verdict, Refusal), verdict
    assert reason in verdict.reason
    assert str(tid) in verdict.reason or "Gorgias" in verdict.reason


@pytest.mark.parametrize(
    ("tid", "others"),
    [
        (seed.CC, ("cc friend@example.org",)),
        (seed.REPLIED_TO_FRIEND, ("cc friend@example.org",)),
    ],
)
async def test_other_outside_people_are_listed_and_the_pipeline_refuses(
    make_setup: SetupFactory, tid: int, others: tuple[str, ...]
) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(ticket(tid))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.record.other_participants == others
    refused = await setup.pipeline.verify(ticket(tid))
    assert isinstance(refused, Refusal)
    ctx = await setup.pipeline.context_for(ticket(tid), message_id="m1")
    assert not ctx.verified
    assert "ann@example.com" not in ctx.text


@pytest.mark.parametrize(
    "payload",
    [{}, {"customer": {"email": "ann@example.com"}}, {"email": "ann@example.com"}],
)
async def test_live_chat_is_refused_without_a_request(
    make_setup: SetupFactory, fake: Fake, payload: dict[str, object]
) -> None:
    setup = make_setup()
    before = fake.requests
    conv = Conversation(
        channel=Channel.gorgias_chat,
        conversation_id=str(seed.EMAIL_VERIFIED),
        payload=payload,
        claims={"email": "ann@example.com"},
    )
    verdict = await setup.plugin.verify_user(conv)
    assert isinstance(verdict, Refusal)
    assert "Gorgias Live Chat is not a verified source" in verdict.reason
    assert "self-declared" in verdict.reason
    assert fake.requests == before
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert ctx.refusal is not None and "Gorgias Live Chat" in ctx.refusal


@pytest.mark.parametrize(
    "raw", ["abc", "0", "-1", "12/..", "1" * 21, "1.5", "\uff11\uff12", "0153006801"]
)
async def test_a_conversation_id_that_is_not_a_ticket_id_is_refused(
    make_setup: SetupFactory, fake: Fake, raw: str
) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(ticket(raw))
    assert isinstance(verdict, Refusal)
    assert "is not a Gorgias ticket id" in verdict.reason
    assert fake.requests == before
