"""The Zendesk part of ``liveuser demo`` (entry-point group ``liveuser.demo``)."""

from __future__ import annotations

import time
from typing import Any

import jwt

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve

from .fake import FAKE_JWT_KID, FAKE_JWT_SECRET, create_fake_zendesk, fake_settings, seed


def login_jwt(external_id: str, email: str, *, ttl: int = 600, **extra: Any) -> str:
    """A messaging login JWT as the business's back end signs it (for the demo and tests)."""
    now = int(time.time())
    claims = {
        "scope": "user",
        "external_id": external_id,
        "name": external_id,
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + ttl,
        **extra,
    }
    return jwt.encode(claims, FAKE_JWT_SECRET, algorithm="HS256", headers={"kid": FAKE_JWT_KID})


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake Zendesk and list the demo's Zendesk conversations."""
    app = create_fake_zendesk(**({} if context.rate_limits else {"rate_limit": UNLIMITED}))
    url = context.stack.enter_context(serve(app))

    def ticket(title: str, who: str, tid: int, question: str = "Where is my order?") -> DemoStep:
        conv = Conversation(channel=Channel.zendesk_ticket, conversation_id=str(tid))
        return DemoStep(title, question, who, conv)

    def chat(title: str, who: str, cid: str, claims: dict[str, str] | None = None) -> DemoStep:
        conv = Conversation(
            channel=Channel.zendesk_messaging, conversation_id=cid, claims=claims or {}
        )
        return DemoStep(title, "When can I expect delivery?", who, conv)

    steps = [
        ticket(
            "Zendesk email ticket from its requester (1 request)",
            "ann@example.com",
            seed.EMAIL_VERIFIED,
        ),
        ticket("Refused: Zendesk web-form ticket", "bob@example.com", seed.WEB_FORM),
        ticket("Refused: Zendesk ticket with a friend in CC", "ann@example.com", seed.CCD),
        ticket(
            "Refused: Zendesk ticket sent from another address",
            "ann@example.com",
            seed.MISMATCHED_FROM,
        ),
        chat("Zendesk Messaging user authenticated by Zendesk", "bob@example.com", "conv_bob"),
        chat(
            "Zendesk Messaging with the host's login JWT (1 request)",
            "chloe@example.com",
            "conv_chloe",
            {"messaging_jwt": login_jwt("cust-chloe", "chloe@example.com")},
        ),
        chat(
            "Refused: anonymous Zendesk Messaging user who typed Ann's email",
            "ann@example.com",
            "conv_anon",
        ),
        chat(
            "Refused: login JWT of another user",
            "chloe@example.com",
            "conv_bob",
            {"messaging_jwt": login_jwt("cust-chloe", "chloe@example.com")},
        ),
    ]
    return DemoSandbox(
        plugin="zendesk",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
    )
