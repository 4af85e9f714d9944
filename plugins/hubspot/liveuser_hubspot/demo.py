"""The HubSpot part of ``liveuser demo`` (entry-point group ``liveuser.demo``)."""

from __future__ import annotations

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve
from liveuser.tokens import KeyRing, Purpose, mint_token

from .fake import create_fake_hubspot, fake_settings, seed


def attestation(keys: KeyRing, email: str, thread_id: str, *, tenant: str = "default") -> str:
    """The host's attestation that its logged-in ``email`` started chat ``thread_id``."""
    return mint_token(
        keys,
        tenant=tenant,
        purpose=Purpose.attestation,
        subject=email,
        channel=Channel.hubspot_chat,
        conversation_id=thread_id,
    )


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake HubSpot and list the demo's HubSpot conversations."""
    app = create_fake_hubspot(
        **({} if context.rate_limits else {"burst_limit": UNLIMITED, "daily_limit": UNLIMITED})
    )
    url = context.stack.enter_context(serve(app))
    keys = context.host_keys

    def step(
        title: str, who: str, channel: Channel, tid: str, claims: dict[str, str] | None = None
    ) -> DemoStep:
        conv = Conversation(channel=channel, conversation_id=tid, claims=claims or {})
        return DemoStep(title, "Where is my order?", who, conv)

    dana = "dana.reyes@example.com"
    steps = [
        step(
            "HubSpot email from its contact (2 requests)",
            dana,
            Channel.hubspot_email,
            seed.EMAIL_VERIFIED,
        ),
        step(
            "Refused: HubSpot email with another person on CC",
            "ann@example.com",
            Channel.hubspot_email,
            seed.EMAIL_CC,
        ),
        step(
            "HubSpot live chat, the host attests its logged-in user started it (3 requests)",
            dana,
            Channel.hubspot_chat,
            seed.CHAT_DANA,
            {"attestation": attestation(keys, dana, seed.CHAT_DANA)},
        ),
        step(
            "Refused: unattested HubSpot chat whose visitor typed Ann's email",
            "ann@example.com",
            Channel.hubspot_chat,
            seed.CHAT_TYPED_EMAIL,
        ),
        step(
            "Refused: HubSpot chat with only a visitor identification token",
            dana,
            Channel.hubspot_chat,
            seed.CHAT_DANA,
            {"hubspot_identification_token": "demo-identification-token"},
        ),
        step(
            "Refused: Dana's attestation presented on Ann's chat",
            dana,
            Channel.hubspot_chat,
            seed.CHAT_TYPED_EMAIL,
            {"attestation": attestation(keys, dana, seed.CHAT_TYPED_EMAIL)},
        ),
    ]
    return DemoSandbox(
        plugin="hubspot",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
    )
