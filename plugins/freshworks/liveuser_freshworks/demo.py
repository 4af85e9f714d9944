"""The Freshworks part of ``liveuser demo`` (entry-point group ``liveuser.demo``)."""

from __future__ import annotations

import time
from typing import Any

import jwt

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve

from .fake import FAKE_JWT_SECRET, create_fake_freshworks, fake_settings, seed


def user_jwt(
    reference_id: str,
    email: str,
    *,
    ttl: int = 600,
    key: Any = FAKE_JWT_SECRET,
    algorithm: str = "HS256",
    **extra: Any,
) -> str:
    """A Freshchat user-authentication JWT as the business's back end signs it."""
    now = int(time.time())
    claims = {
        "reference_id": reference_id,
        "first_name": reference_id,
        "email": email,
        "iat": now,
        "exp": now + ttl,
        **extra,
    }
    return jwt.encode(claims, key, algorithm=algorithm)


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake Freshdesk and Freshchat and list the demo's conversations."""
    app = create_fake_freshworks(**({} if context.rate_limits else {"rate_limit": UNLIMITED}))
    url = context.stack.enter_context(serve(app))

    def ticket(title: str, who: str, tid: int) -> DemoStep:
        conv = Conversation(channel=Channel.freshdesk, conversation_id=str(tid))
        return DemoStep(title, "Where is my order?", who, conv)

    def chat(title: str, who: str, cid: str, token: str | None) -> DemoStep:
        claims = {"freshchat_jwt": token} if token else {}
        conv = Conversation(channel=Channel.freshchat, conversation_id=cid, claims=claims)
        return DemoStep(title, "When can I expect delivery?", who, conv)

    steps = [
        ticket(
            "Freshdesk email ticket from its requester (1 request)",
            "ann@example.com",
            seed.EMAIL_VERIFIED,
        ),
        ticket("Refused: Freshdesk phone ticket", "bob@example.com", seed.PHONE),
        ticket("Refused: Freshdesk portal ticket", "bob@example.com", seed.PORTAL),
        ticket("Refused: Freshdesk email ticket with a friend in CC", "ann@example.com", seed.CCD),
        chat(
            "Freshchat user authenticated with the business's JWT (2 requests)",
            "chloe@example.com",
            seed.CONV_CHLOE,
            user_jwt("cust-chloe", "chloe@example.com"),
        ),
        chat(
            "Refused: anonymous Freshchat visitor who typed Ann's email",
            "ann@example.com",
            seed.CONV_ANON,
            None,
        ),
        chat(
            "Refused: Chloe's Freshchat token on Bob's conversation",
            "chloe@example.com",
            seed.CONV_BOB,
            user_jwt("cust-chloe", "chloe@example.com"),
        ),
    ]
    return DemoSandbox(
        plugin="freshworks",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
    )
