"""The zendesk_messaging rule: Zendesk's authenticated record, or the login JWT checked here."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from conftest import Fake, SetupFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveuser import Channel, Conversation, Mechanism, Refusal, VerifiedUser
from liveuser_zendesk.demo import login_jwt
from liveuser_zendesk.fake import FAKE_JWT_KID, FAKE_JWT_SECRET


def chat(cid: str, *, token: str | None = None, author: str | None = None) -> Conversation:
    return Conversation(
        channel=Channel.zendesk_messaging,
        conversation_id=cid,
        claims={"messaging_jwt": token} if token else {},
        payload={"user_id": author} if author else {},
    )


async def test_user_zendesk_authenticated_is_verified_in_two_requests(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    verdict = await make_setup().plugin.verify_user(chat("conv_bob"))
    assert fake.requests - before == 2
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "bob@example.com"
    assert verdict.channel is Channel.zendesk_messaging
    assert verdict.record.mechanism is Mechanism.vendor_authenticated
    assert "user sc_bob" in verdict.record.evidence
    assert "conv_bob" in verdict.record.evidence


async def test_anonymous_messaging_user_with_a_typed_email_is_refused(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_anon"))
    assert isinstance(verdict, Refusal)
    assert "anonymous" in verdict.reason


async def test_authenticated_user_without_verified_email_is_refused(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_noemail"))
    assert isinstance(verdict, Refusal)
    assert "no verified email" in verdict.reason


async def test_group_conversation_lists_the_others_and_the_pipeline_refuses(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup()
    verdict = await setup.plugin.verify_user(chat("conv_group", author="sc_bob"))
    assert isinstance(verdict, VerifiedUser)
    assert verdict.record.other_participants == ("participant cust-friend",)
    assert isinstance(await setup.pipeline.verify(chat("conv_group", author="sc_bob")), Refusal)


async def test_group_conversation_without_an_author_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_group"))
    assert isinstance(verdict, Refusal)
    assert "several users" in verdict.reason


async def test_hinted_author_who_is_not_a_participant_is_refused(
    make_setup: SetupFactory,
) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_anon", author="sc_bob"))
    assert isinstance(verdict, Refusal)
    assert "not a participant" in verdict.reason


async def test_unknown_conversation_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_nobody"))
    assert isinstance(verdict, Refusal)
    assert "not found" in verdict.reason


async def test_messaging_without_api_settings_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup(messaging_app_id=None, messaging_key_id=None, messaging_key_secret=None)
    verdict = await setup.plugin.verify_user(chat("conv_bob"))
    assert isinstance(verdict, Refusal)
    assert "not configured" in verdict.reason


async def test_wrong_messaging_key_is_refused(make_setup: SetupFactory) -> None:
    verdict = await make_setup(messaging_key_secret="nope").plugin.verify_user(chat("conv_bob"))
    assert isinstance(verdict, Refusal)
    assert "HTTP 401" in verdict.reason


# -- the login JWT passed by the host ------------------------------------------


async def test_login_jwt_of_the_conversations_user_is_verified_in_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    before = fake.requests
    token = login_jwt("cust-chloe", "Chloe@Example.com", ttl=300)
    verdict = await make_setup().plugin.verify_user(chat("conv_chloe", token=token))
    assert fake.requests - before == 1
    assert isinstance(verdict, VerifiedUser), verdict
    assert verdict.email == "chloe@example.com"
    assert verdict.record.key_id == FAKE_JWT_KID
    assert verdict.record.expires_at is not None
    assert abs(verdict.record.expires_at.timestamp() - (time.time() + 300)) < 5


async def test_valid_login_jwt_for_another_user_never_opens_this_conversation(
    make_setup: SetupFactory,
) -> None:
    token = login_jwt("cust-chloe", "chloe@example.com")
    verdict = await make_setup().plugin.verify_user(chat("conv_bob", token=token))
    assert isinstance(verdict, Refusal)
    assert "belongs to another user" in verdict.reason


def _token(
    claims: dict[str, Any] | None = None,
    *,
    key: str = FAKE_JWT_SECRET,
    alg: str = "HS256",
    headers: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    kid: str | None = FAKE_JWT_KID,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "scope": "user",
        "external_id": "cust-chloe",
        "email": "chloe@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    body.update(claims or {})
    for name in drop:
        body.pop(name)
    head = {"kid": kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm=alg, headers={**head, **(headers or {})})


def _unsigned() -> str:
    import base64
    import json

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "scope": "user",
        "external_id": "cust-chloe",
        "email": "chloe@example.com",
        "email_verified": True,
        "exp": now + 600,
    }
    return f"{part({'alg': 'none', 'kid': FAKE_JWT_KID})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (
            _token(alg="HS512", key=FAKE_JWT_SECRET + "-long-enough-for-hs512-0123456789"),
            "only HS256",
        ),
        (_unsigned(), "only HS256"),
        (_token(headers={"kid": "app_unknown"}), "key id is not a configured key"),
        (_token(kid=None), "key id is not a configured key"),
        (_token(key="another-secret-of-sufficient-length-0123456789"), "signature does not match"),
        (_token({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}), "expired"),
        (_token(drop=("exp",)), "lacks the 'exp' claim"),
        (_token({"exp": 1_764_000_000_000}), "exp is out of range"),  # in milliseconds
        (_token({"scope": "app"}), "scope is not 'user'"),
        (_token(drop=("external_id",)), "lacks the 'external_id' claim"),
        (_token({"external_id": ""}), "no external_id"),
        (_token({"email_verified": False}), "does not mark its email as verified"),
        (_token({"email_verified": "true"}), "does not mark its email as verified"),
        (_token(drop=("email",)), "carries no email"),
        (_token({"email": "not-an-address"}), "not an address"),
        ("garbage", "malformed"),
    ],
)
async def test_bad_login_jwt_is_refused_with_its_reason(
    make_setup: SetupFactory, token: str, reason: str
) -> None:
    verdict = await make_setup().plugin.verify_user(chat("conv_chloe", token=token))
    assert isinstance(verdict, Refusal), verdict
    assert reason in verdict.reason


async def test_login_jwt_is_refused_when_no_keys_are_configured(
    make_setup: SetupFactory,
) -> None:
    setup = make_setup(messaging_jwt_keys={})
    verdict = await setup.plugin.verify_user(chat("conv_chloe", token=_token()))
    assert isinstance(verdict, Refusal)
    assert "no messaging authentication keys" in verdict.reason


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    external_id=st.text(max_size=12),
    email=st.sampled_from(["chloe@example.com", "bob@example.com", "x"]),
    verified=st.sampled_from([True, False, None, 1, "yes"]),
    scope=st.sampled_from(["user", "app", "account", ""]),
)
async def test_only_a_full_login_jwt_for_the_conversations_user_verifies(
    make_setup: SetupFactory, external_id: str, email: str, verified: Any, scope: str
) -> None:
    token = _token(
        {"external_id": external_id, "email": email, "email_verified": verified, "scope": scope}
    )
    verdict = await make_setup().plugin.verify_user(chat("conv_chloe", token=token))
    ok = external_id == "cust-chloe" and verified is True and scope == "user" and "@" in email
    assert isinstance(verdict, VerifiedUser) == ok, verdict
    if isinstance(verdict, VerifiedUser):
        assert verdict.email == email
