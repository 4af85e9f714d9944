"""The hubspot_chat rule: only the host's attestation verifies a chat visitor."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser.render import NOTE_LIMIT
from liveuser.tokens import KeyRing
from liveuser_hubspot.demo import attestation
from liveuser_hubspot.fake import seed
from liveuser_hubspot.rules import CHAT_REASON

DANA = "dana.reyes@example.com"


def chat(thread_id: str, **claims: str) -> Conversation:
    return Conversation(channel=Channel.hubspot_chat, conversation_id=thread_id, claims=claims)


async def test_attested_chat_visitor_is_verified(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    before = fake.requests
    verdict = await setup.plugin.verify_user(
        chat(seed.CHAT_DANA, attestation=attestation(setup.keys, DANA, seed.CHAT_DANA))
    )
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == DANA
    assert verdict.record.mechanism is Mechanism.host_attestation
    assert verdict.record.key_id == "k1"
    assert verdict.record.expires_at is not None
    assert f"V-{seed.DANA}" in verdict.record.evidence
    assert fake.requests - before == 3


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"hubspot_identification_token": "a-token-liveuser-minted-earlier"},
        {"email": "ann@example.com"},
        {"token": "not-an-attestation"},
    ],
)
async def test_unattested_chat_is_refused_without_a_request(
    make_setup: SetupFactory, fake: Fake, claims: dict[str, str]
) -> None:
    setup = make_setup()
    before = fake.requests
    verdict = await setup.plugin.verify_user(chat(seed.CHAT_TYPED_EMAIL, **claims))
    assert verdict == Refusal(reason=CHAT_REASON)
    assert "typed email" in CHAT_REASON and "identification token" in CHAT_REASON
    assert len(CHAT_REASON) <= NOTE_LIMIT  # shown whole to the model
    assert fake.requests == before


async def test_attestation_for_another_user_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    token = attestation(setup.keys, DANA, seed.CHAT_TYPED_EMAIL)
    verdict = await setup.plugin.verify_user(chat(seed.CHAT_TYPED_EMAIL, attestation=token))
    assert isinstance(verdict, Refusal) and "not this HubSpot conversation's contact" in (
        verdict.reason
    )


async def test_attestation_for_another_thread_is_refused_without_a_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    token = attestation(setup.keys, DANA, seed.CHAT_GROUP)
    verdict = await setup.plugin.verify_user(chat(seed.CHAT_DANA, attestation=token))
    assert isinstance(verdict, Refusal) and "attestation refused" in verdict.reason
    assert fake.requests == before


async def test_attestation_signed_with_an_unknown_key_is_refused(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    other = KeyRing({"k1": "another-host-key-0123456789abcdef01234"})
    token = attestation(other, DANA, seed.CHAT_DANA)
    verdict = await setup.plugin.verify_user(chat(seed.CHAT_DANA, attestation=token))
    assert isinstance(verdict, Refusal) and "attestation refused" in verdict.reason


async def test_chat_with_a_second_visitor_is_refused_by_the_pipeline(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    conv = chat(seed.CHAT_GROUP, attestation=attestation(setup.keys, DANA, seed.CHAT_GROUP))
    verdict = await setup.plugin.verify_user(conv)
    assert isinstance(verdict, VerifiedUser)
    assert verdict.record.other_participants == (f"V-{seed.BOB}",)
    assert isinstance(await setup.pipeline.verify(conv), Refusal)


async def test_email_thread_on_the_chat_channel_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    token = attestation(setup.keys, DANA, seed.EMAIL_VERIFIED)
    verdict = await setup.plugin.verify_user(chat(seed.EMAIL_VERIFIED, attestation=token))
    assert isinstance(verdict, Refusal) and "not a live chat thread" in verdict.reason


async def test_identification_token_is_minted_but_proves_nothing(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    token = await setup.plugin.identification_token("Dana.Reyes@example.com", "Dana", "Reyes")
    assert token and fake.app.state.tokens[-1] == (DANA, token)
    verdict = await setup.plugin.verify_user(
        chat(seed.CHAT_DANA, hubspot_identification_token=token)
    )
    assert verdict == Refusal(reason=CHAT_REASON)
