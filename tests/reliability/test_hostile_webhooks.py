"""Hostile webhook deliveries against every connector's webhook check.

For each webhook a connector receives, a genuine delivery (signed with the
fake's secret, as the vendor signs it) is accepted, and hypothesis-made
hostile ones are refused with a :class:`liveuser.WebhookError`, never another
exception:

* **forged**: any other signature or shared secret, or none;
* **altered**: one byte of a signed body changed (body-signed webhooks only: a
  shared-secret webhook authenticates the sender, not the body, and its body
  is only a hint that the connector checks again through the vendor's API);
* **replayed**: a genuine delivery a second time is refused or gives nothing
  to act on;
* **wrong encoding**: the signature in another encoding (hex for base64 and
  back, full-width characters), or the signed body re-encoded as UTF-16;
* **huge**: a forged body of several megabytes, or a 64 KB header; a genuine
  one of several megabytes is refused as too large by every connector's own
  check, before its signature is computed.

Nothing a delivery carries verifies anybody: a conversation it names comes
with no credentials.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveuser import Conversation, Registry, Settings, TenantSettings, WebhookError
from liveuser.webhooks import hmac_signature

from ..strategies import header_noise
from .tally import TALLY
from .vendors import start_vendors, tenant_settings

pytestmark = pytest.mark.reliability

HUBSPOT_URI = "https://liveuser.example/hooks/hubspot"
COUNTER = itertools.count(1)
HOSTILE = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Delivery = tuple[dict[str, str], bytes]


def _unique() -> int:
    return next(COUNTER) * 1_000_003 + time.time_ns() % 1_000_000


def _iso(ms: bool = False) -> str:
    now = datetime.now(UTC)
    if ms:
        return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Hook:
    """One webhook: how the vendor makes a genuine delivery and how liveuser receives it."""

    name: str
    plugin: str
    signature_header: str
    signs_body: bool
    make: Callable[[dict[str, Any]], Delivery]
    """A fresh genuine delivery; the dict is merged into its JSON object (padding)."""
    receive: Callable[[Any, dict[str, str], bytes], Any]


# Each vendor's helpers are imported where they are used: their names clash across vendors.


def _zendesk_support(extra: dict[str, Any]) -> Delivery:
    from liveuser_zendesk.fake import FAKE_WEBHOOK_SECRET
    from liveuser_zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER

    stamp = _iso()
    payload = {
        "type": "zen:event-type:ticket.comment_added",
        "account_id": 88888888,
        "id": f"01HV{_unique()}",
        "time": stamp,
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:1001",
        "detail": {"id": "1001"},
        "event": {},
        **extra,
    }
    body = json.dumps(payload).encode()
    mac = hmac.new(FAKE_WEBHOOK_SECRET.encode(), stamp.encode() + body, hashlib.sha256)
    return {
        SIGNATURE_HEADER: base64.b64encode(mac.digest()).decode(),
        TIMESTAMP_HEADER: stamp,
    }, body


def _zendesk_messaging(extra: dict[str, Any]) -> Delivery:
    from liveuser_zendesk.fake import FAKE_MESSAGING_WEBHOOK_SECRET
    from liveuser_zendesk.webhooks import MESSAGING_KEY_HEADER

    event = {
        "id": f"evt{_unique()}",
        "type": "conversation:message",
        "createdAt": _iso(ms=True),
        "payload": {
            "conversation": {"id": "conv_bob", "type": "personal"},
            "message": {"id": f"msg{_unique()}", "author": {"type": "user", "userId": "sc_bob"}},
        },
    }
    body = json.dumps({"app": {"id": "app"}, "events": [event], **extra}).encode()
    return {MESSAGING_KEY_HEADER: FAKE_MESSAGING_WEBHOOK_SECRET}, body


def _intercom(extra: dict[str, Any]) -> Delivery:
    from liveuser_intercom.demo import notification, sign
    from liveuser_intercom.fake import seed

    body = notification(seed.conversation(seed.EMAIL_VERIFIED), notif_id=f"notif_{_unique()}")
    if extra:
        body = json.dumps({**json.loads(body), **extra}).encode()
    return {"X-Hub-Signature": sign(body)}, body


def _gorgias(extra: dict[str, Any]) -> Delivery:
    from liveuser_gorgias.fake import FAKE_WEBHOOK_TOKEN

    payload = {
        "ticket_id": "153006801",
        "message_id": str(_unique()),
        "updated_datetime": _iso(),
        **extra,
    }
    return {"X-Liveuser-Token": FAKE_WEBHOOK_TOKEN}, json.dumps(payload).encode()


def _hubspot(extra: dict[str, Any]) -> Delivery:
    from liveuser_hubspot.fake import FAKE_CLIENT_SECRET
    from liveuser_hubspot.webhooks import sign

    event = {
        "eventId": _unique(),
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "conversation.newMessage",
        "attemptNumber": 0,
        "objectId": 7319246510,
        "messageId": f"m{_unique()}",
        "messageType": "MESSAGE",
        "changeFlag": "NEW_MESSAGE",
        **extra,
    }
    body = json.dumps([event], separators=(",", ":")).encode()
    stamp = str(int(time.time() * 1000))
    return {
        "X-HubSpot-Signature-v3": sign(FAKE_CLIENT_SECRET, "POST", HUBSPOT_URI, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }, body


def _freshchat(extra: dict[str, Any]) -> Delivery:
    from liveuser_freshworks.fake import seed, sign_freshchat_webhook

    stamp = _iso(ms=True)
    body = json.dumps(
        {
            "actor": {"actor_type": "user", "actor_id": seed.USER_CHLOE},
            "action": "message_create",
            "action_time": stamp,
            "data": {
                "message": {
                    "message_parts": [{"text": {"content": "Where is my order?"}}],
                    "app_id": seed.APP_ID,
                    "actor_id": seed.USER_CHLOE,
                    "id": f"m-{_unique()}",
                    "channel_id": seed.CHANNEL_ID,
                    "conversation_id": seed.CONV_CHLOE,
                    "message_type": "normal",
                    "actor_type": "user",
                    "created_time": stamp,
                }
            },
            **extra,
        }
    ).encode()
    return {"X-FreshChat-Signature": sign_freshchat_webhook(body)}, body


def _freshdesk(extra: dict[str, Any]) -> Delivery:
    from liveuser_freshworks.fake import FAKE_WEBHOOK_SECRET
    from liveuser_freshworks.webhooks import TOKEN_HEADER

    payload = {"ticket_id": 20, "updated_at": f"{_iso()}#{_unique()}", **extra}
    return {TOKEN_HEADER: FAKE_WEBHOOK_SECRET}, json.dumps(payload).encode()


def _shopify(extra: dict[str, Any]) -> Delivery:
    from liveuser_shopify.fake import FAKE_CLIENT_SECRET

    body = json.dumps(
        {"id": _unique(), "name": "#1042", "customer": {"email": "alice@example.com"}, **extra}
    ).encode()
    return {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": hmac_signature(FAKE_CLIENT_SECRET, body, encoding="base64"),
        "X-Shopify-Shop-Domain": "liveuser-demo.myshopify.com",
        "X-Shopify-Webhook-Id": f"b54557e4-{_unique()}",
        "X-Shopify-API-Version": "2026-07",
    }, body


HOOKS = (
    Hook(
        "zendesk_support",
        "zendesk",
        "X-Zendesk-Webhook-Signature",
        True,
        _zendesk_support,
        lambda p, h, b: p.receive_support_webhook(h, b),
    ),
    Hook(
        "zendesk_messaging",
        "zendesk",
        "X-API-Key",
        False,
        _zendesk_messaging,
        lambda p, h, b: p.receive_messaging_webhook(h, b),
    ),
    Hook(
        "intercom",
        "intercom",
        "X-Hub-Signature",
        True,
        _intercom,
        lambda p, h, b: p.receive_webhook(h, b),
    ),
    Hook(
        "gorgias",
        "gorgias",
        "X-Liveuser-Token",
        False,
        _gorgias,
        lambda p, h, b: p.receive_webhook(h, b),
    ),
    Hook(
        "hubspot",
        "hubspot",
        "X-HubSpot-Signature-v3",
        True,
        _hubspot,
        lambda p, h, b: p.receive_webhook("POST", HUBSPOT_URI, h, b),
    ),
    Hook(
        "freshchat",
        "freshworks",
        "X-FreshChat-Signature",
        True,
        _freshchat,
        lambda p, h, b: p.receive_freshchat_webhook(h, b),
    ),
    Hook(
        "freshdesk",
        "freshworks",
        "X-Liveuser-Token",
        False,
        _freshdesk,
        lambda p, h, b: p.receive_freshdesk_webhook(h, b),
    ),
    Hook(
        "shopify",
        "shopify",
        "X-Shopify-Hmac-Sha256",
        True,
        _shopify,
        lambda p, h, b: p.receive_webhook(h, b),
    ),
)
SIGNED = [h for h in HOOKS if h.signs_body]


@pytest.fixture(scope="module")
def plugins() -> Iterator[dict[str, Any]]:
    """Every connector, built for one tenant with its fake's secrets."""
    from liveuser_freshworks.fake import webhook_public_key_pem

    with contextlib.ExitStack() as stack:
        vendors = start_vendors(stack)
        configured = {name: v.settings for name, v in vendors.items()}
        configured["freshworks"]["freshchat_webhook_public_key"] = webhook_public_key_pem()
        settings = Settings(
            ledger=":memory:", tenants={"default": TenantSettings(**tenant_settings(configured))}
        )
        registry = Registry(settings, discover=False, builtins=[v.cls for v in vendors.values()])
        yield registry.tenant().plugins


def _nothing_to_act_on(answer: Any) -> bool:
    return answer is None or answer == []


def _carries_nothing(answer: Any) -> None:
    """What a delivery gives is at most a hint: no credentials ride along with it.

    (Its payload is the vendor's record, which the channel's connector checks
    again when it verifies; Intercom's carries the signed body for that.)
    """
    found = answer if isinstance(answer, list) else [answer]
    for item in found:
        if isinstance(item, Conversation):
            assert not item.claims, item


def refused(hook: Hook, kind: str, plugin: Any, headers: dict[str, str], body: bytes) -> None:
    """Count one hostile delivery and assert it is refused with a WebhookError alone."""
    TALLY.hostile_tried[f"webhook {kind}"] += 1
    try:
        answer = hook.receive(plugin, headers, body)
    except WebhookError as exc:
        assert "\n" not in str(exc) and str(exc), f"{hook.name}: unreadable reason {exc!r}"
    else:
        raise AssertionError(f"{hook.name}: {kind} delivery accepted: {answer!r}")
    TALLY.hostile_refused[f"webhook {kind}"] += 1


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
def test_genuine_delivery_is_accepted_and_carries_nothing_trusted(
    hook: Hook, plugins: dict[str, Any]
) -> None:
    """The control: the genuine deliveries the hostile ones start from do pass."""
    headers, body = hook.make({})
    answer = hook.receive(plugins[hook.plugin], headers, body)
    assert not _nothing_to_act_on(answer), f"{hook.name}: {answer!r}"
    _carries_nothing(answer)


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
@HOSTILE
@given(forged=st.one_of(st.none(), header_noise))
def test_forged_signature_is_refused(
    hook: Hook, plugins: dict[str, Any], forged: str | None
) -> None:
    headers, body = hook.make({})
    headers = {k: v for k, v in headers.items() if k != hook.signature_header}
    if forged is not None:
        headers[hook.signature_header] = forged
    refused(hook, "forged", plugins[hook.plugin], headers, body)


@pytest.mark.parametrize("hook", SIGNED, ids=[h.name for h in SIGNED])
@HOSTILE
@given(where=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255))
def test_altered_body_is_refused(
    hook: Hook, plugins: dict[str, Any], where: float, flip: int
) -> None:
    headers, body = hook.make({})
    index = int(where * len(body))
    altered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    refused(hook, "altered", plugins[hook.plugin], headers, altered)


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
def test_replayed_delivery_is_refused_or_ignored(hook: Hook, plugins: dict[str, Any]) -> None:
    plugin = plugins[hook.plugin]
    for _ in range(5):
        headers, body = hook.make({})
        assert not _nothing_to_act_on(hook.receive(plugin, headers, body))
        TALLY.hostile_tried["webhook replayed"] += 1
        try:
            again = hook.receive(plugin, headers, body)
        except WebhookError:
            again = None
        assert _nothing_to_act_on(again), f"{hook.name}: replay accepted: {again!r}"
        TALLY.hostile_refused["webhook replayed"] += 1


def _reencoded(signature: str) -> list[str]:
    """The same signature bytes in the other encodings a confused sender might use."""
    prefix, _, value = signature.rpartition("=") if signature.startswith("sha") else ("", "", "")
    if not prefix:
        value = signature
    head = f"{prefix}=" if prefix else ""
    out = [head + value.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})]  # full width
    try:
        raw = bytes.fromhex(value)
        out.append(head + base64.b64encode(raw).decode())
    except ValueError:
        try:
            raw = base64.b64decode(value, validate=True)
            out.append(head + raw.hex())
        except (binascii.Error, ValueError):
            pass
    return [s for s in out if s != signature]


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
def test_wrong_encoding_is_refused(hook: Hook, plugins: dict[str, Any]) -> None:
    plugin = plugins[hook.plugin]
    headers, body = hook.make({})
    for variant in _reencoded(headers[hook.signature_header]):
        refused(hook, "wrong encoding", plugin, {**headers, hook.signature_header: variant}, body)
    if hook.signs_body:  # the signed text, sent in another encoding
        utf16 = body.decode().encode("utf-16")
        refused(hook, "wrong encoding", plugin, headers, utf16)


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
@HOSTILE
@given(megabytes=st.integers(2, 6), huge_header=st.booleans())
def test_huge_forged_delivery_is_refused(
    hook: Hook, plugins: dict[str, Any], megabytes: int, huge_header: bool
) -> None:
    headers, body = hook.make({"padding": "x" * (megabytes * 1_000_000)})
    forged = "A" * 65536 if huge_header else "A" * 44
    refused(hook, "huge", plugins[hook.plugin], {**headers, hook.signature_header: forged}, body)


@pytest.mark.parametrize("hook", HOOKS, ids=[h.name for h in HOOKS])
def test_huge_genuine_delivery_is_refused_as_too_large(hook: Hook, plugins: dict[str, Any]) -> None:
    """Every connector's own check bounds the body, for a host that calls it without
    ``liveuser serve``'s cap in front: genuinely signed megabytes are refused as such."""
    headers, body = hook.make({"padding": "x" * 5_000_000})
    TALLY.hostile_tried["webhook huge"] += 1
    with pytest.raises(WebhookError, match=r"^webhook body is too large$"):
        hook.receive(plugins[hook.plugin], headers, body)
    TALLY.hostile_refused["webhook huge"] += 1
