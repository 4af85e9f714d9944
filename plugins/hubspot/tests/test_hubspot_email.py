"""The hubspot_email rule, against the fake over loopback."""

from __future__ import annotations

from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_hubspot.fake import seed


def email(thread_id: str, **payload: str) -> Conversation:
    return Conversation(channel=Channel.hubspot_email, conversation_id=thread_id, payload=payload)


async def test_incoming_email_from_the_threads_contact_is_verified(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    verdict = await setup.plugin.verify_user(email(seed.EMAIL_VERIFIED))
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "dana.reyes@example.com"
    assert verdict.channel is Channel.hubspot_email
    assert verdict.record.mechanism is Mechanism.email_ticket
    assert verdict.record.vendor == "HubSpot"
    assert f"{seed.EMAIL_VERIFIED}m03" in verdict.record.evidence
    assert verdict.record.other_participants == ()
    assert fake.requests - before == 3


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


async def test_sender_who_is_not_the_contacts_email_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_WRONG_CONTACT))
    assert isinstance(verdict, Refusal) and "not the email address of its contact" in verdict.reason


async def test_forwarded_mail_with_two_senders_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.EMAIL_FORWARDED))
    assert isinstance(verdict, Refusal) and "senders" in verdict.reason


async def test_chat_thread_on_the_email_channel_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(email(seed.CHAT_DANA))
    assert isinstance(verdict, Refusal) and "not an email thread" in verdict.reason
