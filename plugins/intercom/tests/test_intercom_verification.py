"""The verification rule, case by case, against the fake over loopback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Fake, SetupFactory

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser.tokens import KeyRing, Purpose, mint_token
from liveuser_intercom.demo import messenger_jwt
from liveuser_intercom.fake import FAKE_IDV_SECRET, seed
from liveuser_intercom.messenger import user_hash

HOST_KEY = {"h1": "h" * 40}


def conv(cid: str, **claims: str) -> Conversation:
    return Conversation(channel=Channel.intercom, conversation_id=cid, claims=claims)


async def verify(setup_factory: SetupFactory, c: Conversation, **settings: object):  # type: ignore[no-untyped-def]
    setup = setup_factory(host_keys=HOST_KEY, **settings)
    return await setup.plugin.verify_user(conversation=c)


async def test_email_conversation_from_its_contact_is_verified(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    result = await verify(make_setup, conv(seed.EMAIL_VERIFIED))
    assert isinstance(result, VerifiedUser), result
    assert result.email == "ann@example.com"
    assert result.record.mechanism is Mechanism.email_ticket
    assert result.record.vendor == "intercom"
    assert "201" in result.record.evidence
    assert fake.requests - before == 2
    assert fake.app.state.log[-2:] == [
        ("GET", "/conversations/201"),
        ("GET", f"/contacts/{seed.ANN}"),
    ]
    assert set(fake.app.state.versions[-2:]) == {"2.15"}


@pytest.mark.parametrize(
    ("cid", "words"),
    [
        (seed.EMAIL_OTHER_SENDER, "another address"),
        (seed.GROUP, "2 contacts"),
        (seed.WHATSAPP, "social channel (whatsapp)"),
        (seed.OUTBOUND, "started by the business (admin_initiated)"),
        (seed.LEAD_CHAT, "lead or visitor"),
        (seed.USER_WITHOUT_EXTERNAL_ID, "no user id (external_id)"),
        (seed.ARCHIVED_CONTACT, "not found in Intercom"),
    ],
)
async def test_unprovable_conversations_are_refused_with_the_reason(
    make_setup: SetupFactory, cid: str, words: str
) -> None:
    result = await verify(make_setup, conv(cid))
    assert isinstance(result, Refusal)
    assert words in result.reason


async def test_secured_messenger_user_is_verified_and_me_is_checked_once(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    first = await setup.plugin.verify_user(conversation=conv(seed.MESSENGER_USER))
    assert isinstance(first, VerifiedUser), first
    assert first.email == "bob@example.com"
    assert first.record.mechanism is Mechanism.vendor_authenticated
    assert first.record.expires_at is not None and first.record.expires_at > datetime.now(UTC)
    assert fake.requests - before == 3
    assert ("GET", "/me") in fake.app.state.log[-3:]
    again = await setup.plugin.verify_user(conversation=conv(seed.MESSENGER_USER))
    assert isinstance(again, VerifiedUser)
    assert fake.requests - before == 5  # GET /me is reused within its TTL


async def test_me_is_checked_again_after_its_ttl(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup(workspace_check_ttl_seconds=0.001)
    assert isinstance(
        await setup.plugin.verify_user(conversation=conv(seed.MESSENGER_USER)), VerifiedUser
    )
    fake.app.state.identity_verification = False
    result = await setup.plugin.verify_user(conversation=conv(seed.MESSENGER_USER))
    assert isinstance(result, Refusal)
    assert "reports identity verification off" in result.reason


async def test_messenger_user_without_enforced_security_is_refused(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    result = await verify(make_setup, conv(seed.MESSENGER_USER), messenger_security="off")
    assert isinstance(result, Refusal)
    assert "does not enforce identity verification" in result.reason
    assert fake.requests - before == 2


async def test_messenger_user_whose_email_is_not_locked_is_refused(
    make_setup: SetupFactory, fake: Fake
) -> None:
    result = await verify(make_setup, conv(seed.MESSENGER_USER), messenger_email_locked=False)
    assert isinstance(result, Refusal)
    assert "email locked" in result.reason


async def test_messenger_jwt_of_the_contact_is_verified_without_me(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    token = messenger_jwt("cust-chloe", "chloe@example.com")
    result = await verify(
        make_setup, conv(seed.MESSENGER_CHLOE, intercom_user_jwt=token), messenger_security="off"
    )
    assert isinstance(result, VerifiedUser), result
    assert result.record.mechanism is Mechanism.signed_jwt
    assert result.record.expires_at is not None
    assert fake.requests - before == 2
    assert ("GET", "/me") not in fake.app.state.log[-2:]


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (messenger_jwt("cust-bob", "bob@example.com"), "another user"),
        (messenger_jwt("cust-chloe", "chloe@example.com", ttl=-120), "expired"),
        # Signed and unexpired, but in milliseconds: no date holds it.
        (messenger_jwt("cust-chloe", "chloe@example.com", exp=1_764_000_000_000), "out of range"),
        (messenger_jwt("cust-chloe", "ann@example.com"), "email is not the one"),
        ("not-a-jwt", "malformed"),
    ],
)
async def test_bad_messenger_jwt_is_refused(
    make_setup: SetupFactory, token: str, words: str
) -> None:
    result = await verify(make_setup, conv(seed.MESSENGER_CHLOE, intercom_user_jwt=token))
    assert isinstance(result, Refusal)
    assert words in result.reason


async def test_messenger_jwt_signed_with_another_key_is_refused(make_setup: SetupFactory) -> None:
    import jwt

    token = jwt.encode(
        {"user_id": "cust-chloe", "email": "chloe@example.com", "exp": 2**40},
        "x" * 40,
        algorithm="HS256",
    )
    result = await verify(make_setup, conv(seed.MESSENGER_CHLOE, intercom_user_jwt=token))
    assert isinstance(result, Refusal)
    assert "signature does not match" in result.reason


async def test_user_hash_is_never_enough_alone(make_setup: SetupFactory) -> None:
    good = user_hash(FAKE_IDV_SECRET, "cust-bob")
    c = conv(seed.MESSENGER_USER, intercom_user_hash=good, intercom_user_id="cust-bob")
    refused = await verify(make_setup, c, messenger_security="off")
    assert isinstance(refused, Refusal)
    assert "never suffices" in refused.reason
    verified = await verify(make_setup, c, messenger_security="identity_verification")
    assert isinstance(verified, VerifiedUser)
    assert verified.record.mechanism is Mechanism.identity_hash


@pytest.mark.parametrize(
    ("user_id", "value", "words"),
    [
        ("cust-chloe", user_hash(FAKE_IDV_SECRET, "cust-chloe"), "another user"),
        ("cust-bob", user_hash("other-secret", "cust-bob"), "does not match"),
        ("cust-bob", "zz", "does not match"),
    ],
)
async def test_bad_user_hash_is_refused(
    make_setup: SetupFactory, user_id: str, value: str, words: str
) -> None:
    c = conv(seed.MESSENGER_USER, intercom_user_hash=value, intercom_user_id=user_id)
    result = await verify(make_setup, c)
    assert isinstance(result, Refusal)
    assert words in result.reason


def attestation(subject: str, cid: str) -> str:
    return mint_token(
        KeyRing(HOST_KEY),
        tenant="default",
        purpose=Purpose.attestation,
        subject=subject,
        channel=Channel.intercom,
        conversation_id=cid,
    )


async def test_host_attestation_of_the_contact_is_verified(make_setup: SetupFactory) -> None:
    c = conv(seed.MESSENGER_USER, attestation=attestation("bob@example.com", seed.MESSENGER_USER))
    result = await verify(make_setup, c, messenger_security="off")
    assert isinstance(result, VerifiedUser), result
    assert result.record.mechanism is Mechanism.host_attestation


@pytest.mark.parametrize(
    ("subject", "cid", "words"),
    [
        ("ann@example.com", seed.MESSENGER_USER, "not this Intercom conversation's contact"),
        ("bob@example.com", seed.MESSENGER_CHLOE, "another conversation"),
    ],
)
async def test_host_attestation_for_someone_else_is_refused(
    make_setup: SetupFactory, subject: str, cid: str, words: str
) -> None:
    c = conv(seed.MESSENGER_USER, attestation=attestation(subject, cid))
    result = await verify(make_setup, c, messenger_security="off")
    assert isinstance(result, Refusal)
    assert words in result.reason


async def test_lead_is_refused_even_with_an_attestation(make_setup: SetupFactory) -> None:
    c = conv(seed.LEAD_CHAT, attestation=attestation("ann@example.com", seed.LEAD_CHAT))
    result = await verify(make_setup, c)
    assert isinstance(result, Refusal)
    assert "lead" in result.reason


@pytest.mark.parametrize("role", ["lead", "visitor", "admin"])
def test_only_a_contact_of_role_user_passes_the_messenger_rule(role: str) -> None:
    from liveuser_intercom import rules
    from liveuser_intercom.client import Contact

    contact = Contact(id="c1", role=role, email="ann@example.com", external_id="cust-ann")
    refused = rules.check_messenger_contact(contact, "77")
    assert isinstance(refused, Refusal)
    assert f"is a {role}" in refused.reason
    ok = Contact(id="c1", role="user", email="ann@example.com", external_id="cust-ann")
    assert rules.check_messenger_contact(ok, "77") is None
