"""The Intercom part of ``liveuser demo`` (entry-point group ``liveuser.demo``)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve
from liveuser.webhooks import hmac_signature

from .fake import (
    FAKE_CLIENT_SECRET,
    FAKE_MESSENGER_JWT_SECRET,
    create_fake_intercom,
    fake_settings,
    seed,
)
from .webhooks import BODY_KEY, SIGNATURE_KEY


def messenger_jwt(user_id: str, email: str, *, ttl: int = 600, **extra: Any) -> str:
    """A Messenger JWT as the business's back end signs it (for the demo and tests)."""
    now = int(time.time())
    claims = {"user_id": user_id, "email": email, "iat": now, "exp": now + ttl, **extra}
    return jwt.encode(claims, FAKE_MESSENGER_JWT_SECRET, algorithm="HS256")


def notification(
    conversation: dict[str, Any],
    *,
    topic: str = "conversation.user.created",
    created_at: float | None = None,
    notif_id: str = "notif_2f1d8c7e-0000-4000-8000-000000000001",
) -> bytes:
    """A webhook notification body about ``conversation``, as Intercom sends it."""
    when = int(time.time() if created_at is None else created_at)
    body = {
        "type": "notification_event",
        "app_id": seed.WORKSPACE,
        "data": {"type": "notification_event_data", "item": conversation},
        "links": {},
        "id": notif_id,
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": when,
        "created_at": when,
        "self": None,
    }
    return json.dumps(body).encode("utf-8")


def sign(body: bytes, secret: str = FAKE_CLIENT_SECRET) -> str:
    """The ``X-Hub-Signature`` value Intercom sends for ``body``."""
    return "sha1=" + hmac_signature(secret, body, algorithm="sha1")


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake Intercom and list the demo's Intercom conversations."""
    app = create_fake_intercom(**({} if context.rate_limits else {"rate_limit": UNLIMITED}))
    url = context.stack.enter_context(serve(app))

    def step(
        title: str,
        who: str,
        cid: str,
        claims: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        question: str = "Where is my order?",
    ) -> DemoStep:
        conv = Conversation(
            channel=Channel.intercom,
            conversation_id=cid,
            claims=claims or {},
            payload=payload or {},
        )
        return DemoStep(title, question, who, conv)

    genuine = notification(seed.conversation(seed.MESSENGER_CHLOE))
    forged_item = seed.conversation(seed.MESSENGER_CHLOE)
    forged = notification(forged_item).replace(b"chloe@example.com", b"ann@example.com")
    steps = [
        step(
            "Intercom email from its contact (2 requests)", "ann@example.com", seed.EMAIL_VERIFIED
        ),
        step(
            "Intercom Messenger user, the host's Messenger JWT (2 requests)",
            "chloe@example.com",
            seed.MESSENGER_CHLOE,
            {"intercom_user_jwt": messenger_jwt("cust-chloe", "chloe@example.com")},
        ),
        step(
            "Intercom Messenger user on enforced Messenger security, confirmed by GET /me",
            "bob@example.com",
            seed.MESSENGER_USER,
        ),
        step(
            "Refused: Intercom lead (visitor) who typed Ann's email",
            "ann@example.com",
            seed.LEAD_CHAT,
        ),
        step(
            "Refused: Messenger JWT of another user",
            "chloe@example.com",
            seed.USER_WITHOUT_EMAIL,
            {"intercom_user_jwt": messenger_jwt("cust-chloe", "chloe@example.com")},
        ),
        step(
            "Intercom webhook, signature checked (1 request)",
            "chloe@example.com",
            seed.MESSENGER_CHLOE,
            payload={BODY_KEY: genuine.decode(), SIGNATURE_KEY: sign(genuine)},
        ),
        step(
            "Refused: forged Intercom webhook (body altered after signing)",
            "ann@example.com",
            seed.MESSENGER_CHLOE,
            payload={BODY_KEY: forged.decode(), SIGNATURE_KEY: sign(genuine)},
        ),
    ]
    return DemoSandbox(
        plugin="intercom",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
    )
