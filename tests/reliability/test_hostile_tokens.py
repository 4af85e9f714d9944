"""Hostile tokens: forged JWTs against the host tokens and every connector that checks one,
and borrowed MCP session tokens.

Each target starts from a genuine token that verifies (the control), then
presents forgeries of it on the same conversation: ``alg: none``, a wrong key,
expired, no claims, no subject, an expiry in milliseconds (genuinely signed,
past any date), key confusion (RS256 where HS256 is expected,
or HS256 keyed with an RSA public key), a payload changed under the original
signature, another audience (liveuser's own tokens, one audience per purpose;
the vendors' user JWTs define no audience), another tenant, an unverified
email, the genuine token on another person's conversation, and
hypothesis-made garbage. A Freshchat tenant pinned to RS256 gets the same
forgeries signed with its own private key, another RSA key, and the classic
algorithm confusion: HS256 keyed with the very public key it verifies with.
Forged Intercom identity hashes (``user_hash``) too. Every one ends in a
refusal with a one-line reason from the connector's own checks (not the
pipeline's catch of an exception it raised): nobody is verified.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import cache

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from liveuser import (
    Channel,
    Conversation,
    Ledger,
    Pipeline,
    Refusal,
    Registry,
    Settings,
    TenantSettings,
    VerifiedUser,
)
from liveuser.errors import TokenError
from liveuser.host import HostConnector
from liveuser.mcp_server import conversation_for_token
from liveuser.tokens import KeyRing, Purpose, mint_token
from liveuser_freshworks.demo import user_jwt as freshchat_user_jwt
from liveuser_freshworks.fake import FAKE_JWT_SECRET as FRESHCHAT_JWT_SECRET
from liveuser_freshworks.fake import seed as freshworks_seed
from liveuser_intercom.fake import FAKE_MESSENGER_JWT_SECRET as INTERCOM_JWT_SECRET
from liveuser_zendesk.fake import FAKE_JWT_SECRET as ZENDESK_JWT_SECRET

from .tally import TALLY
from .vendors import HOST_KEY_ID, HOST_KEYS, HOST_SECRET, Vendor, start_vendors, tenant_settings

pytestmark = pytest.mark.reliability

ACME_SECRET = "reliability-acme-secret-3Hq8Zx1Vn6Wm4Kp9Tc2Rb7Ld5"
ACME_KEYS = KeyRing({HOST_KEY_ID: ACME_SECRET})
IDENTITY_CLAIMS = frozenset({"sub", "email", "user_id", "external_id", "reference_id"})
HOSTILE = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class JwtTarget:
    name: str
    vendor: str | None
    """None for the host channel."""
    step: str
    claim: str
    secret: str
    victim: str | None
    """Another person's conversation on the same channel (None: the token binds none)."""
    attests: tuple[Channel, str, str] | None = None
    """A host attestation minted here: (channel, conversation id, subject)."""


TARGETS = (
    JwtTarget("host identity", None, "", "token", "", None),
    JwtTarget(
        "hubspot attestation",
        "hubspot",
        "HubSpot live chat, the host attests",
        "attestation",
        "",
        "8400000002",
    ),
    JwtTarget(
        "intercom attestation",
        "intercom",
        "",
        "attestation",
        "",
        "202",
        attests=(Channel.intercom, "203", "chloe@example.com"),
    ),
    JwtTarget(
        "zendesk messaging jwt",
        "zendesk",
        "Zendesk Messaging with the host's login JWT",
        "messaging_jwt",
        ZENDESK_JWT_SECRET,
        "conv_bob",
    ),
    JwtTarget(
        "intercom messenger jwt",
        "intercom",
        "Intercom Messenger user, the host's Messenger JWT",
        "intercom_user_jwt",
        INTERCOM_JWT_SECRET,
        "202",
    ),
    JwtTarget(
        "freshchat jwt",
        "freshworks",
        "Freshchat user authenticated",
        "freshchat_jwt",
        FRESHCHAT_JWT_SECRET,
        "7e673110-64fc-461f-bcec-cc8e9a47a502",
    ),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, object], payload: dict[str, object], key: bytes) -> str:
    """An HS256 JWT signed with any bytes at all (PyJWT rightly refuses PEM keys)."""
    head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = _b64(json.dumps(payload).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


@cache
def _rsa_key(owner: str) -> rsa.RSAPrivateKey:
    """One RSA key per ``owner``, generated once per run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey, fmt: serialization.PublicFormat) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt)


@cache
def _rsa() -> tuple[bytes, bytes]:
    """A stranger's RSA key pair (PEM private, PEM public)."""
    key = _rsa_key("stranger")
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, _public_pem(key, serialization.PublicFormat.SubjectPublicKeyInfo)


Signer = Callable[[dict[str, object], dict[str, object]], str]


def _forged(token: str, sign: Signer) -> dict[str, str]:
    """The forgeries of ``token`` any verifier must refuse, whatever its algorithm.

    ``sign(header, payload)`` signs with the genuine key, so each forgery is
    wrong in the one way its name says.
    """
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k not in ("alg",)}
    payload = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    head, _, signature = token.split(".")
    found = {
        "alg none": f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}."
        f"{_b64(json.dumps(payload).encode())}.",
        "expired": sign(header, {**payload, "iat": now - 7200, "exp": now - 3600}),
        "no claims": sign(header, {}),
        "no subject": sign(header, {k: v for k, v in payload.items() if k not in IDENTITY_CLAIMS}),
        "payload changed under the signature": f"{head}."
        f"{_b64(json.dumps({**payload, **_victim_identity(payload)}).encode())}.{signature}",
    }
    if "aud" in payload:  # liveuser's own tokens: one audience per purpose
        found["another audience"] = sign(header, {**payload, "aud": "liveuser:mcp_session"})
    if "tenant" in payload:
        found["another tenant"] = sign(header, {**payload, "tenant": "acme"})
    if "email_verified" in payload:
        found["unverified email"] = sign(header, {**payload, "email_verified": False})
    if "exp" in payload:
        found["no expiry"] = sign(header, {k: v for k, v in payload.items() if k != "exp"})
        # Unexpired, but in milliseconds: past any date, so a check that turns it into
        # one must refuse it rather than raise.
        found["expiry in milliseconds"] = sign(header, {**payload, "exp": now * 1000})
    return found


def forgeries(token: str, secret: str) -> dict[str, str]:
    """Every forgery of ``token`` (HS256 with ``secret``) worth trying."""
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k not in ("alg",)}
    payload = jwt.decode(token, options={"verify_signature": False})
    private, public = _rsa()
    return {
        **_forged(token, lambda h, p: _hs256(h, p, secret.encode())),
        "wrong key": _hs256(header, payload, secrets.token_bytes(32)),
        "key confusion RS256": jwt.encode(payload, private, algorithm="RS256", headers=header),
        "key confusion HS256 keyed with a public key": _hs256(header, payload, public),
    }


def rs256_forgeries(token: str, key: rsa.RSAPrivateKey, configured: str) -> dict[str, str]:
    """Every forgery of ``token`` (RS256 with ``key``) for a verifier holding ``configured``,
    the PEM of ``key``'s public half."""
    header = {k: v for k, v in jwt.get_unverified_header(token).items() if k not in ("alg",)}
    payload = jwt.decode(token, options={"verify_signature": False})
    stranger = _rsa_key("stranger")
    stranger_jwk = RSAAlgorithm.to_jwk(stranger.public_key(), as_dict=True)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def rs256(header: dict[str, object], payload: dict[str, object]) -> str:
        return jwt.encode(payload, key, algorithm="RS256", headers=header)

    return {
        **_forged(token, rs256),
        "wrong key": jwt.encode(payload, stranger, algorithm="RS256", headers=header),
        "wrong key, its public key offered in the jwk header": jwt.encode(
            payload, stranger, algorithm="RS256", headers={**header, "jwk": stranger_jwk}
        ),
        "genuine key, another algorithm (RS512)": jwt.encode(
            payload, key, algorithm="RS512", headers=header
        ),
        "key confusion HS256 keyed with the configured public key": _hs256(
            header, payload, configured.encode()
        ),
        "key confusion HS256 keyed with the public key as PKCS#1": _hs256(
            header, payload, _public_pem(key, serialization.PublicFormat.PKCS1)
        ),
        "key confusion HS256 keyed with the public key as DER": _hs256(header, payload, der),
    }


def _victim_identity(payload: dict[str, object]) -> dict[str, object]:
    return {k: "victim@example.com" for k in payload if k in ("sub", "email")}


RS256_TENANT = "rs256"
RS256_FRESHCHAT = {
    "freshchat_jwt_algorithm": "RS256",
    "freshchat_jwt_secret": None,
    "freshchat_jwt_public_key": _public_pem(
        _rsa_key("freshchat business"), serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode(),
}


@pytest.fixture(scope="module")
def vendors() -> Iterator[dict[str, Vendor]]:
    with contextlib.ExitStack() as stack:
        yield start_vendors(stack)


@pytest.fixture(scope="module")
async def pipeline(vendors: dict[str, Vendor]) -> AsyncIterator[Pipeline]:
    """Every connector against its fake, a second tenant with its own host key, and a
    tenant whose Freshchat tokens must be RS256."""
    configured = {name: v.settings for name, v in vendors.items()}
    settings = Settings(
        ledger=":memory:",
        tenants={
            "default": TenantSettings(**tenant_settings(configured, cache_ttl_seconds=0)),
            "acme": TenantSettings(host_keys={HOST_KEY_ID: ACME_SECRET}),
            RS256_TENANT: TenantSettings(
                **tenant_settings(
                    {"freshworks": {**configured["freshworks"], **RS256_FRESHCHAT}},
                    cache_ttl_seconds=0,
                )
            ),
        },
    )
    builtins = [HostConnector, *(v.cls for v in vendors.values())]
    registry = Registry(settings, discover=False, builtins=builtins)
    async with Ledger(":memory:", b"k" * 32) as ledger:
        yield Pipeline(registry, ledger)
    await registry.aclose()


def genuine(target: JwtTarget, vendors: dict[str, Vendor]) -> tuple[Conversation, str, str]:
    """The target's genuine conversation, its token and the secret that signed it."""
    if target.vendor is None:
        token = mint_token(
            HOST_KEYS, tenant="default", purpose=Purpose.identity, subject="ann@example.com"
        )
        conversation = Conversation(
            channel=Channel.host, conversation_id="jwt-host", claims={"token": token}
        )
        return conversation, token, HOST_SECRET
    if target.attests is not None:
        channel, cid, subject = target.attests
        token = mint_token(
            HOST_KEYS,
            tenant="default",
            purpose=Purpose.attestation,
            subject=subject,
            channel=channel,
            conversation_id=cid,
        )
        conversation = Conversation(
            channel=channel, conversation_id=cid, claims={"attestation": token}
        )
        return conversation, token, HOST_SECRET
    conversation = vendors[target.vendor].step(target.step).conversation
    token = conversation.claims[target.claim]
    return conversation, token, target.secret or HOST_SECRET


async def assert_refused(
    pipeline: Pipeline, conversation: Conversation, kind: str, what: str
) -> None:
    TALLY.hostile_tried[kind] += 1
    verdict = await pipeline.verify(conversation)
    assert isinstance(verdict, Refusal), f"{what}: verified {verdict!r}"
    assert verdict.reason and "\n" not in verdict.reason, f"{what}: {verdict.reason!r}"
    # The pipeline turns a connector's exception into "<name> could not verify the user
    # (<exception>)": a refusal, but a crash all the same, and one that names no reason.
    assert "could not verify the user (" not in verdict.reason, f"{what}: {verdict.reason!r}"
    TALLY.hostile_refused[kind] += 1


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
async def test_forged_token_verifies_nobody(
    target: JwtTarget, vendors: dict[str, Vendor], pipeline: Pipeline
) -> None:
    conversation, token, secret = genuine(target, vendors)
    control = await pipeline.verify(conversation)
    assert isinstance(control, VerifiedUser), f"{target.name}: the control failed: {control}"
    for name, forged in forgeries(token, secret).items():
        hostile = conversation.model_copy(update={"claims": {target.claim: forged}})
        await assert_refused(pipeline, hostile, "jwt", f"{target.name}: {name}")
    if target.victim is not None:  # a genuine token, on another person's conversation
        borrowed = conversation.model_copy(update={"conversation_id": target.victim})
        await assert_refused(pipeline, borrowed, "jwt", f"{target.name}: on {target.victim}")


async def test_forged_rs256_freshchat_token_verifies_nobody(
    vendors: dict[str, Vendor], pipeline: Pipeline
) -> None:
    """A tenant pinned to RS256: its genuine token verifies, no forgery of it does."""
    key = _rsa_key("freshchat business")
    step = vendors["freshworks"].step("Freshchat user authenticated")
    token = freshchat_user_jwt("cust-chloe", "chloe@example.com", key=key, algorithm="RS256")
    conversation = step.conversation.model_copy(
        update={"tenant": RS256_TENANT, "claims": {"freshchat_jwt": token}}
    )
    control = await pipeline.verify(conversation)
    assert isinstance(control, VerifiedUser), f"the control failed: {control}"
    assert control.record.key_id == "freshchat-rs256"
    configured = str(RS256_FRESHCHAT["freshchat_jwt_public_key"])
    for name, forged in rs256_forgeries(token, key, configured).items():
        hostile = conversation.model_copy(update={"claims": {"freshchat_jwt": forged}})
        await assert_refused(pipeline, hostile, "jwt", f"freshchat rs256: {name}")
    # The HS256 tenant's genuine token, and this genuine token on Bob's conversation.
    default = step.conversation.model_copy(update={"tenant": RS256_TENANT})
    await assert_refused(pipeline, default, "jwt", "freshchat rs256: the HS256 tenant's token")
    borrowed = conversation.model_copy(update={"conversation_id": freshworks_seed.CONV_BOB})
    await assert_refused(pipeline, borrowed, "jwt", "freshchat rs256: on Bob's conversation")


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@HOSTILE
@given(
    garbage=st.one_of(
        st.text(min_size=1, max_size=300),  # an empty claim is no token: another rule decides
        st.lists(st.binary(max_size=80).map(_b64), min_size=3, max_size=3).map(".".join),
    )
)
async def test_garbage_token_verifies_nobody(
    target: JwtTarget, vendors: dict[str, Vendor], pipeline: Pipeline, garbage: str
) -> None:
    conversation, _, _ = genuine(target, vendors)
    hostile = conversation.model_copy(update={"claims": {target.claim: garbage}})
    await assert_refused(pipeline, hostile, "jwt", f"{target.name}: {garbage!r}")


async def test_host_token_of_another_purpose_or_tenant_verifies_nobody(
    pipeline: Pipeline,
) -> None:
    def token(
        keys: KeyRing,
        tenant: str,
        purpose: Purpose,
        channel: Channel | None = None,
        conversation_id: str | None = None,
    ) -> str:
        return mint_token(
            keys,
            tenant=tenant,
            purpose=purpose,
            subject="ann@example.com",
            channel=channel,
            conversation_id=conversation_id,
        )

    cases = {
        "attestation as identity": (
            "default",
            token(
                HOST_KEYS,
                "default",
                Purpose.attestation,
                channel=Channel.hubspot_chat,
                conversation_id="jwt-host",
            ),
        ),
        "mcp session as identity": (
            "default",
            token(
                HOST_KEYS,
                "default",
                Purpose.mcp_session,
                channel=Channel.host,
                conversation_id="jwt-host",
            ),
        ),
        "acme's token at default": ("default", token(ACME_KEYS, "acme", Purpose.identity)),
        "default's key, acme's name": ("acme", token(HOST_KEYS, "acme", Purpose.identity)),
        "default's token at acme": ("acme", token(HOST_KEYS, "default", Purpose.identity)),
    }
    for what, (tenant, forged) in cases.items():
        conversation = Conversation(
            tenant=tenant,
            channel=Channel.host,
            conversation_id="jwt-host",
            claims={"token": forged},
        )
        await assert_refused(pipeline, conversation, "jwt", what)


def mcp_token(
    subject: str,
    channel: Channel,
    conversation_id: str,
    *,
    keys: KeyRing = HOST_KEYS,
    tenant: str = "default",
    purpose: Purpose = Purpose.mcp_session,
) -> str:
    return mint_token(
        keys,
        tenant=tenant,
        purpose=purpose,
        subject=subject,
        channel=channel,
        conversation_id=conversation_id,
    )


async def test_borrowed_mcp_session_reaches_only_its_own_conversation(
    pipeline: Pipeline,
) -> None:
    """An MCP session token names its conversation; used for another, it verifies nobody."""
    dana = "dana.reyes@example.com"
    own, _ = conversation_for_token(
        HOST_KEYS, mcp_token(dana, Channel.hubspot_chat, "8400000001"), "default"
    )
    assert isinstance(await pipeline.verify(own), VerifiedUser)  # the control
    # Dana's session, pointed at Ann's chat: the connector finds Ann is its contact.
    anns, _ = conversation_for_token(
        HOST_KEYS, mcp_token(dana, Channel.hubspot_chat, "8400000002"), "default"
    )
    await assert_refused(pipeline, anns, "mcp session", "dana's session on ann's chat")
    chloe = "chloe@example.com"
    bobs, _ = conversation_for_token(
        HOST_KEYS, mcp_token(chloe, Channel.intercom, "202"), "default"
    )
    await assert_refused(pipeline, bobs, "mcp session", "chloe's session on bob's conversation")
    # The session token itself, presented as another conversation's credential.
    session = mcp_token(dana, Channel.hubspot_chat, "8400000001")
    for claims, channel, cid in (
        ({"token": session}, Channel.host, "another-conversation"),
        ({"attestation": session}, Channel.hubspot_chat, "8400000002"),
        ({"attestation": session}, Channel.hubspot_chat, "8400000001"),
    ):
        borrowed = Conversation(channel=channel, conversation_id=cid, claims=claims)
        await assert_refused(pipeline, borrowed, "mcp session", f"session as {list(claims)}")
    # Tokens that are not this tenant's MCP sessions open nothing at all.
    for token in (
        mint_token(HOST_KEYS, tenant="default", purpose=Purpose.identity, subject=dana),
        mcp_token(dana, Channel.hubspot_chat, "8400000001", keys=ACME_KEYS, tenant="acme"),
        mcp_token(dana, Channel.hubspot_chat, "8400000001", purpose=Purpose.attestation),
    ):
        TALLY.hostile_tried["mcp session"] += 1
        with pytest.raises(TokenError):
            conversation_for_token(HOST_KEYS, token, "default")
        TALLY.hostile_refused["mcp session"] += 1


@HOSTILE
@given(
    forged=st.one_of(
        st.text(max_size=100),
        st.binary(min_size=32, max_size=32).map(bytes.hex),
        st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    ),
    user_id=st.sampled_from(["cust-bob", "cust-ann", "CUST-BOB", "cust-bob "]),
)
async def test_forged_intercom_user_hash_verifies_nobody(
    vendors: dict[str, Vendor], pipeline: Pipeline, forged: str, user_id: str
) -> None:
    """Bob's Messenger conversation verifies on its own; a forged user_hash must not pass."""
    bare = Conversation(channel=Channel.intercom, conversation_id="202")
    assert isinstance(await pipeline.verify(bare), VerifiedUser)  # the control
    claims = {"intercom_user_hash": forged or "x", "intercom_user_id": user_id}
    conversation = bare.model_copy(update={"claims": claims})
    await assert_refused(pipeline, conversation, "identity hash", f"{user_id}: {forged!r}")
