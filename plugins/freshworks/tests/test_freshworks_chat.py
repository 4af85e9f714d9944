"""The Freshchat rule: only the holder of a valid user-authentication JWT for this user."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from conftest import Fake, SetupFactory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_freshworks.chat_token import ChatTokenError, check_chat_jwt
from liveuser_freshworks.demo import user_jwt
from liveuser_freshworks.fake import FAKE_JWT_SECRET, seed


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey, fmt: serialization.PublicFormat) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


def chat(cid: str, token: str | None, **payload: Any) -> Conversation:
    claims = {"freshchat_jwt": token} if token is not None else {}
    return Conversation(
        channel=Channel.freshchat, conversation_id=cid, claims=claims, payload=payload
    )


async def test_authenticated_user_is_verified(make_setup: SetupFactory) -> None:
    token = user_jwt("cust-chloe", "Chloe@Example.com")
    result = await make_setup().plugin.verify_user(chat(seed.CONV_CHLOE, token))
    assert isinstance(result, VerifiedUser), result
    assert result.email == "chloe@example.com"
    assert result.channel is Channel.freshchat
    assert result.record.mechanism is Mechanism.signed_jwt
    assert result.record.vendor == "freshchat"
    assert result.record.expires_at is not None
    assert result.record.key_id == "freshchat-hs256"
    assert "cust-chloe" in result.record.evidence


async def test_legacy_users_shape_is_read(make_setup: SetupFactory) -> None:
    token = user_jwt("cust-bob", "bob@example.com")
    result = await make_setup().plugin.verify_user(chat(seed.CONV_BOB, token))
    assert isinstance(result, VerifiedUser), result
    assert result.email == "bob@example.com"


@pytest.mark.parametrize(
    ("conversation", "words"),
    [
        (chat(seed.CONV_ANON, None), "anonymous or self-declared"),
        (chat(seed.CONV_ANON, user_jwt("cust-ann", "ann@example.com")), "no reference_id"),
        (chat(seed.CONV_BOB, user_jwt("cust-chloe", "chloe@example.com")), "another user"),
        (chat(seed.CONV_CHLOE, user_jwt("cust-chloe", "ann@example.com")), "email differs"),
        (chat(seed.CONV_CHLOE, user_jwt("cust-chloe", "chloe@example.com", ttl=-600)), "expired"),
        (
            chat(seed.CONV_CHLOE, user_jwt("cust-chloe", "chloe@example.com", key="x" * 40)),
            "signature does not match",
        ),
        (
            chat(seed.CONV_CHLOE, user_jwt("cust-chloe", "chloe@example.com"), user_id="other"),
            "not the user of",
        ),
        (chat(seed.CONV_CHLOE, "not-a-jwt"), "malformed"),
    ],
)
async def test_other_chats_are_refused_with_the_reason(
    make_setup: SetupFactory, conversation: Conversation, words: str
) -> None:
    result = await make_setup().plugin.verify_user(conversation)
    assert isinstance(result, Refusal), result
    assert words in result.reason


async def test_bad_token_costs_no_request(make_setup: SetupFactory, fake: Fake) -> None:
    before = fake.requests
    token = user_jwt("cust-chloe", "chloe@example.com", ttl=-600)
    result = await make_setup().plugin.verify_user(chat(seed.CONV_CHLOE, token))
    assert isinstance(result, Refusal)
    assert fake.requests == before


async def test_group_conversation_lists_the_other_user(make_setup: SetupFactory) -> None:
    setup = make_setup()
    conv = chat(seed.CONV_GROUP, user_jwt("cust-chloe", "chloe@example.com"))
    result = await setup.plugin.verify_user(conv)
    assert isinstance(result, VerifiedUser)
    assert result.record.other_participants == (f"user {seed.USER_FRIEND}",)
    ctx = await setup.pipeline.context_for(conv, message_id="m1")
    assert not ctx.verified
    assert "chloe@example.com" not in ctx.text


async def test_rs256_is_checked_with_the_public_key(
    make_setup: SetupFactory, rsa_key: rsa.RSAPrivateKey
) -> None:
    for fmt in (serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1):
        setup = make_setup(
            freshchat_jwt_algorithm="RS256",
            freshchat_jwt_secret=None,
            freshchat_jwt_public_key=public_pem(rsa_key, fmt),
        )
        good = user_jwt("cust-chloe", "chloe@example.com", key=rsa_key, algorithm="RS256")
        result = await setup.plugin.verify_user(chat(seed.CONV_CHLOE, good))
        assert isinstance(result, VerifiedUser), result
        assert result.record.key_id == "freshchat-rs256"
        # An HS256 token is refused when RS256 is pinned, even one keyed with the public key.
        confused = user_jwt("cust-chloe", "chloe@example.com")
        refused = await setup.plugin.verify_user(chat(seed.CONV_CHLOE, confused))
        assert isinstance(refused, Refusal) and "only RS256" in refused.reason


async def test_hs256_pinned_refuses_rs256(
    make_setup: SetupFactory, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = user_jwt("cust-chloe", "chloe@example.com", key=rsa_key, algorithm="RS256")
    result = await make_setup().plugin.verify_user(chat(seed.CONV_CHLOE, token))
    assert isinstance(result, Refusal) and "only HS256" in result.reason


async def test_freshchat_not_configured_is_a_refusal(make_setup: SetupFactory) -> None:
    setup = make_setup(freshchat_api_url=None, freshchat_api_token=None)
    token = user_jwt("cust-chloe", "chloe@example.com")
    result = await setup.plugin.verify_user(chat(seed.CONV_CHLOE, token))
    assert isinstance(result, Refusal) and "not configured" in result.reason


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]


# Built at collection time, possibly minutes before the test runs: never a short expiry.
FAR_FUTURE = 4102444800


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (_unsigned({"reference_id": "r", "email": "a@b.co", "exp": 4102444800}), "'none'"),
        (jwt.encode({"reference_id": "r", "email": "a@b.co"}, FAKE_JWT_SECRET), "'exp'"),
        (
            jwt.encode({"email": "a@b.co", "exp": FAR_FUTURE}, FAKE_JWT_SECRET),
            "no reference_id",
        ),
        (
            jwt.encode({"reference_id": "r", "exp": FAR_FUTURE}, FAKE_JWT_SECRET),
            "no email",
        ),
        (
            jwt.encode({"reference_id": "r", "email": "nope", "exp": FAR_FUTURE}, FAKE_JWT_SECRET),
            "not an address",
        ),
        (
            jwt.encode(
                {
                    "reference_id": "r",
                    "email": "a@b.co",
                    "exp": FAR_FUTURE,
                    "iat": FAR_FUTURE - 60,
                },
                FAKE_JWT_SECRET,
            ),
            "not valid yet",
        ),
        ("x" * 9000, "too long"),
    ],
)
def test_token_claims_are_required(token: str, words: str) -> None:
    with pytest.raises(ChatTokenError, match=words):
        check_chat_jwt(token, "HS256", FAKE_JWT_SECRET)


@settings(max_examples=100)
@given(
    claims=st.dictionaries(
        st.sampled_from(["reference_id", "email", "exp", "iat", "freshchat_uuid", "other"]),
        st.none() | st.integers() | st.text(max_size=20) | st.sampled_from(["a@b.co", 4102444800]),
    ),
    key=st.sampled_from([FAKE_JWT_SECRET, "another-secret-of-sufficient-length-0123"]),
)
def test_any_token_is_accepted_only_when_whole(claims: dict[str, Any], key: str) -> None:
    token = jwt.encode(claims, key, algorithm="HS256")
    try:
        checked = check_chat_jwt(token, "HS256", FAKE_JWT_SECRET)
    except ChatTokenError as exc:
        assert str(exc)
        return
    assert key == FAKE_JWT_SECRET
    assert checked.reference_id == claims["reference_id"]
    assert isinstance(claims["exp"], int)
