"""The hubspot_email rule, against the fake over loopback."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_hubspot.fake import seed

THREADS = "/conversations/v3/conversations/threads"
CONTACTS = "/crm/v3/objects/contacts"


def email(thread_id: str, **payload: str) -> Conversation:
    return Conversation(channel=Channel.hubspot_email, conversation_id=thread_id, payload=payload)


def asked(fake: Fake, since: int) -> list[str]:
    """The paths the fake was asked for since its log had ``since`` entries."""
    return [path for _, path in fake.app.state.log[since:]]


async def test_incoming_email_is_verified_with_the_thread_and_its_messages(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = len(fake.app.state.log)
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "dana.reyes@example.com"
    assert verdict.channel is Channel.hubspot_email
    assert verdict.record.mechanism is Mechanism.email_ticket
    assert verdict.record.vendor == "HubSpot"
    assert f"{seed.EMAIL_VERIFIED}m03" in verdict.record.evidence
    assert "HS_EMAIL_ADDRESS sender" in verdict.record.evidence
    assert verdict.record.other_participants == ()
    assert asked(fake, before) == [
        f"{THREADS}/{seed.EMAIL_VERIFIED}",
        f"{THREADS}/{seed.EMAIL_VERIFIED}/messages",
    ]


async def test_confirm_contact_email_adds_the_contact_read(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup(confirm_contact_email=True)
    before = len(fake.app.state.log)
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "dana.reyes@example.com"
    assert "email property matches" in verdict.record.evidence
    assert asked(fake, before) == [
        f"{THREADS}/{seed.EMAIL_VERIFIED}",
        f"{THREADS}/{seed.EMAIL_VERIFIED}/messages",
        f"{CONTACTS}/{seed.DANA}",
    ]


@pytest.mark.parametrize(
    ("thread_id", "sender"),
    [
        (seed.EMAIL_WRONG_CONTACT, "ann@example.com"),
        (seed.EMAIL_CONTACT_CLEARED, "eve.moss@example.com"),
        (seed.EMAIL_CONTACT_GONE, "gail@example.com"),
    ],
)
async def test_by_default_the_sender_address_decides_whatever_the_contact_says(
    make_setup: SetupFactory, fake: Fake, thread_id: str, sender: str
) -> None:
    """The contact is not read, so its edited, cleared or missing email cannot refuse."""
    before = len(fake.app.state.log)
    verdict = await make_setup().plugin.verify_user(email(thread_id))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == sender
    assert not any(path.startswith(CONTACTS) for path in asked(fake, before))


@pytest.mark.parametrize(
    ("thread_id", "words"),
    [
        (seed.EMAIL_WRONG_CONTACT, "not the email address of its contact"),
        (seed.EMAIL_CONTACT_CLEARED, "contact has no email address"),
        (seed.EMAIL_CONTACT_GONE, "was not found in HubSpot"),
    ],
)
async def test_confirm_contact_email_refuses_a_contact_that_does_not_match(
    make_setup: SetupFactory, fake: Fake, thread_id: str, words: str
) -> None:
    before = fake.requests
    verdict = await make_setup(confirm_contact_email=True).plugin.verify_user(email(thread_id))
    assert isinstance(verdict, Refusal) and words in verdict.reason, verdict
    assert fake.requests - before == 3


async def test_confirm_contact_email_reads_no_contact_for_a_refused_message(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = len(fake.app.state.log)
    setup = make_setup(confirm_contact_email=True)
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_FORWARDED))
    assert isinstance(verdict, Refusal) and "senders" in verdict.reason
    assert len(asked(fake, before)) == 2


async def test_named_incoming_message_is_the_one_answered(make_setup: SetupFactory) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(
        email(seed.EMAIL_VERIFIED, message_id=f"{seed.EMAIL_VERIFIED}m01")
    )
    assert isinstance(verdict, VerifiedUser)
    assert f"{seed.EMAIL_VERIFIED}m01" in verdict.record.evidence


async def test_named_outgoing_message_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(
        email(seed.EMAIL_VERIFIED, message_id=f"{seed.EMAIL_VERIFIED}m02")
    )
    assert isinstance(verdict, Refusal) and "not incoming" in verdict.reason


async def test_message_of_another_thread_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(
        email(seed.EMAIL_VERIFIED, message_id=f"{seed.EMAIL_CC}m01")
    )
    assert isinstance(verdict, Refusal) and "is not on HubSpot thread" in verdict.reason


async def test_email_with_a_cc_is_refused_by_the_pipeline(make_setup: SetupFactory) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_CC))
    assert isinstance(verdict, VerifiedUser)
    assert verdict.record.other_participants == ("bob@example.com",)
    refused = await setup.pipeline.verify(email(seed.EMAIL_CC))
    assert isinstance(refused, Refusal)


async def test_unconfigured_support_address_counts_as_an_outsider(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(support_addresses=[])
    verdict = await setup.pipeline.verify(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, Refusal)


async def test_spam_thread_is_refused_after_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_SPAM))
    assert isinstance(verdict, Refusal) and "spam" in verdict.reason
    assert fake.requests - before == 1


async def test_archived_thread_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_ARCHIVED))
    assert isinstance(verdict, Refusal) and "archived" in verdict.reason


async def test_forwarded_mail_with_two_senders_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_FORWARDED))
    assert isinstance(verdict, Refusal) and "senders" in verdict.reason


async def test_chat_thread_on_the_email_channel_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.CHAT_DANA))
    assert isinstance(verdict, Refusal) and "not an email thread" in verdict.reason
