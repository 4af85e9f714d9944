"""A Freshchat tenant pinned to RS256: only the business's private key makes a token that verifies.

The tenant holds the public half of an RSA key pair generated here. A token
signed with the private half, for the conversation's user, verifies; every
forgery (another RSA key, HS256 keyed with the public key's text — the
algorithm-confusion attack —, ``alg: none``) and every genuine token that is
expired, incomplete or bound to someone else is a refusal with a one-line
reason. Nothing raises, nobody's data is fetched, and a token that fails
locally costs no request to Freshchat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from conftest import Fake, Setup, SetupFactory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from liveuser import Channel, Conversation, Refusal, VerifiedUser
from liveuser_freshworks.chat_token import ChatTokenError, check_chat_jwt
from liveuser_freshworks.fake import FAKE_JWT_SECRET, seed
from liveuser_freshworks.keys import load_public_key


@dataclass(frozen=True)
class Keys:
    """The business's RSA key pair (the tenant trusts its public half) and a stranger's."""

    private: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey

    def public(self, fmt: serialization.PublicFormat) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM, fmt)

    @property
    def configured(self) -> str:
        """The PEM text the tenant is configured with."""
        return self.public(serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @property
    def der(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    def generate() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(generate(), generate())


@pytest.fixture
def rs256(make_setup: SetupFactory, keys: Keys) -> Setup:
    """A tenant whose Freshchat tokens must be RS256, checked with ``keys``' public key."""
    return make_setup(
        freshchat_jwt_algorithm="RS256",
        freshchat_jwt_secret=None,
        freshchat_jwt_public_key=keys.configured,
    )


def claims(reference_id: str = "cust-chloe", email: str = "chloe@example.com", **extra: Any) -> Any:
    now = int(time.time())
    return {"reference_id": reference_id, "email": email, "iat": now, "exp": now + 600, **extra}


def signed(payload: dict[str, Any], key: rsa.RSAPrivateKey, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers=headers or None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def hs256(payload: dict[str, Any], secret: bytes) -> str:
    """HS256 keyed with any bytes at all: PyJWT rightly refuses to sign with a PEM key."""
    head = _segments({"alg": "HS256", "typ": "JWT"}, payload)
    return f"{head}.{_b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())}"


def unsigned(payload: dict[str, Any], alg: str = "none", signature: str = "") -> str:
    return f"{_segments({'alg': alg, 'typ': 'JWT'}, payload)}.{signature}"


def swapped_payload(token: str, payload: dict[str, Any]) -> str:
    """``token``'s header and signature around another payload."""
    head, _, signature = token.split(".")
    return f"{head}.{_b64(json.dumps(payload).encode())}.{signature}"


def chat(cid: str, token: str, **fields: Any) -> Conversation:
    return Conversation(
        channel=Channel.freshchat, conversation_id=cid, claims={"freshchat_jwt": token}, **fields
    )


Forge = Callable[[Keys], str]
PKCS1 = serialization.PublicFormat.PKCS1
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo

# Refused before any request: (what, forge, words of the reason).
LOCAL: list[tuple[str, Forge, str]] = [
    ("another RSA key", lambda k: signed(claims(), k.other), "signature does not match"),
    (
        "another RSA key, its public key offered in the jwk header",
        lambda k: signed(
            claims(), k.other, jwk=RSAAlgorithm.to_jwk(k.other.public_key(), as_dict=True)
        ),
        "signature does not match",
    ),
    (
        "HS256 keyed with the configured public key PEM",
        lambda k: hs256(claims(), k.configured.encode()),
        "only RS256",
    ),
    (
        "HS256 keyed with the PEM without its final newline",
        lambda k: hs256(claims(), k.configured.strip().encode()),
        "only RS256",
    ),
    (
        "HS256 keyed with the PKCS#1 PEM",
        lambda k: hs256(claims(), k.public(PKCS1)),
        "only RS256",
    ),
    ("HS256 keyed with the DER public key", lambda k: hs256(claims(), k.der), "only RS256"),
    ("alg none", lambda k: unsigned(claims()), "'none'"),
    ("alg None", lambda k: unsigned(claims(), "None"), "'None'"),
    (
        "alg none carrying a genuine signature",
        lambda k: unsigned(claims(), "none", signed(claims(), k.private).split(".")[2]),
        "'none'",
    ),
    (
        "RS512 with the right key",
        lambda k: jwt.encode(claims(), k.private, algorithm="RS512"),
        "only RS256",
    ),
    (
        "PS256 with the right key",
        lambda k: jwt.encode(claims(), k.private, algorithm="PS256"),
        "only RS256",
    ),
    (
        "a genuine signature over another payload",
        lambda k: swapped_payload(
            signed(claims("cust-bob", "bob@example.com"), k.private), claims()
        ),
        "signature does not match",
    ),
    (
        "expired",
        lambda k: signed(claims(exp=int(time.time()) - 600), k.private),
        "expired",
    ),
    (
        "issued in the future",
        lambda k: signed(claims(iat=int(time.time()) + 3600), k.private),
        "not valid yet",
    ),
    (
        "no exp",
        lambda k: signed({n: v for n, v in claims().items() if n != "exp"}, k.private),
        "'exp'",
    ),
    (
        "exp in milliseconds",
        lambda k: signed(claims(exp=int(time.time() * 1000)), k.private),
        "exp is out of range",
    ),
    (
        "no reference_id",
        lambda k: signed(claims(reference_id=""), k.private),
        "no reference_id",
    ),
    ("no email", lambda k: signed(claims(email=None), k.private), "no email"),
    ("an email that is no address", lambda k: signed(claims(email="chloe"), k.private), "address"),
    ("no claims at all", lambda k: signed({}, k.private), "'exp'"),
    ("not a JWT", lambda k: "not-a-jwt", "malformed"),
]

# Genuine RS256 tokens bound to someone else: refused once Freshchat has named the user.
BOUND: list[tuple[str, Callable[[Keys], Conversation], str]] = [
    (
        "Chloe's token on Bob's conversation",
        lambda k: chat(seed.CONV_BOB, signed(claims(), k.private)),
        "another user",
    ),
    (
        "Bob's token on Chloe's conversation",
        lambda k: chat(seed.CONV_CHLOE, signed(claims("cust-bob", "bob@example.com"), k.private)),
        "another user",
    ),
    (
        "Chloe's reference_id with Ann's email",
        lambda k: chat(seed.CONV_CHLOE, signed(claims(email="ann@example.com"), k.private)),
        "email differs",
    ),
    (
        "Chloe's token on a message another user wrote",
        lambda k: chat(
            seed.CONV_CHLOE, signed(claims(), k.private), payload={"user_id": seed.USER_BOB}
        ),
        "not the user of",
    ),
    (
        "a token on the anonymous visitor's conversation",
        lambda k: chat(seed.CONV_ANON, signed(claims("cust-ann", "ann@example.com"), k.private)),
        "no reference_id",
    ),
]


async def assert_nobody_verified(setup: Setup, conversation: Conversation, words: str) -> None:
    """The connector refuses with a one-line reason naming ``words``; the pipeline
    delivers that refusal and no user data."""
    verdict = await setup.plugin.verify_user(conversation)
    assert isinstance(verdict, Refusal), verdict
    assert words in verdict.reason and "\n" not in verdict.reason, verdict.reason
    context = await setup.pipeline.context_for(conversation, message_id="m1")
    assert not context.verified and context.sources == ()
    assert context.refusal is not None and "\n" not in context.refusal
    assert "@example.com" not in context.text


async def test_token_signed_by_the_private_key_verifies(
    rs256: Setup, keys: Keys, fake: Fake
) -> None:
    payload = claims()
    conversation = chat(seed.CONV_CHLOE, signed(payload, keys.private))
    before = fake.requests
    verdict = await rs256.plugin.verify_user(conversation)
    assert isinstance(verdict, VerifiedUser), verdict
    assert fake.requests - before == 2  # the conversation, then its user
    assert verdict.email == "chloe@example.com"
    assert verdict.record.key_id == "freshchat-rs256"
    assert verdict.record.expires_at is not None
    assert verdict.record.expires_at.timestamp() == payload["exp"]
    context = await rs256.pipeline.context_for(conversation, message_id="m1")
    assert context.verified, context.refusal


@pytest.mark.parametrize(("what", "forge", "words"), LOCAL, ids=[c[0] for c in LOCAL])
async def test_forged_or_incomplete_token_is_refused_without_a_request(
    rs256: Setup, keys: Keys, fake: Fake, what: str, forge: Forge, words: str
) -> None:
    conversation = chat(seed.CONV_CHLOE, forge(keys))
    before = fake.requests
    await assert_nobody_verified(rs256, conversation, words)
    assert fake.requests == before, f"{what}: a forged token reached Freshchat"


@pytest.mark.parametrize(("what", "make", "words"), BOUND, ids=[c[0] for c in BOUND])
async def test_genuine_token_bound_to_someone_else_is_refused(
    rs256: Setup,
    keys: Keys,
    what: str,
    make: Callable[[Keys], Conversation],
    words: str,
) -> None:
    await assert_nobody_verified(rs256, make(keys), words)


async def test_group_conversation_gives_no_data(rs256: Setup, keys: Keys) -> None:
    """Chloe's genuine token on a conversation she shares: her data would reach the other user."""
    conversation = chat(seed.CONV_GROUP, signed(claims(), keys.private))
    context = await rs256.pipeline.context_for(conversation, message_id="m1")
    assert not context.verified and context.sources == ()
    assert context.refusal is not None and "other outside participants" in context.refusal


@pytest.mark.parametrize("algorithm", ["HS256", "RS256"])
async def test_exp_past_the_calendar_is_refused_not_raised(
    make_setup: SetupFactory, keys: Keys, algorithm: str
) -> None:
    """A signed token whose exp no datetime can hold (a millisecond timestamp) is a refusal."""
    exp = int(time.time() * 1000)
    if algorithm == "RS256":
        setup = make_setup(
            freshchat_jwt_algorithm="RS256",
            freshchat_jwt_secret=None,
            freshchat_jwt_public_key=keys.configured,
        )
        token = signed(claims(exp=exp), keys.private)
    else:
        setup = make_setup()
        token = jwt.encode(claims(exp=exp), FAKE_JWT_SECRET, algorithm="HS256")
    await assert_nobody_verified(setup, chat(seed.CONV_CHLOE, token), "exp is out of range")


def _claim_values() -> st.SearchStrategy[Any]:
    return (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
        | st.sampled_from(["chloe@example.com", "cust-chloe", 4102444800, 1_700_000_000_000])
    )


@settings(max_examples=60, deadline=None)
@given(
    payload=st.dictionaries(
        st.sampled_from(["reference_id", "email", "exp", "iat", "nbf", "freshchat_uuid"]),
        _claim_values(),
    ),
    how=st.sampled_from(["private", "other", "hs256 with the public key", "none"]),
)
def test_only_a_whole_token_from_the_private_key_passes(
    keys: Keys, payload: dict[str, Any], how: str
) -> None:
    """Whatever the claims and signer, the check answers the claims or a one-line refusal."""
    if how == "private":
        token = signed(payload, keys.private)
    elif how == "other":
        token = signed(payload, keys.other)
    elif how == "none":
        token = unsigned(payload)
    else:
        token = hs256(payload, keys.configured.encode())
    key = load_public_key(keys.configured)
    try:
        checked = check_chat_jwt(token, "RS256", key)
    except ChatTokenError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert how == "private"
    assert checked.reference_id == payload["reference_id"]
    assert checked.expires_at.timestamp() == pytest.approx(payload["exp"])
