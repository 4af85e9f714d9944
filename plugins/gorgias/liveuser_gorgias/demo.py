"""The Gorgias part of ``liveuser demo`` (entry-point group ``liveuser.demo``)."""

from __future__ import annotations

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve

from .fake import create_fake_gorgias, fake_settings, seed


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake Gorgias and list the demo's Gorgias conversations."""
    app = create_fake_gorgias(**({} if context.rate_limits else {"capacity": UNLIMITED}))
    url = context.stack.enter_context(serve(app))

    def ticket(title: str, who: str, tid: int, question: str = "Where is my order?") -> DemoStep:
        conv = Conversation(channel=Channel.gorgias_ticket, conversation_id=str(tid))
        return DemoStep(title, question, who, conv)

    steps = [
        ticket(
            "Gorgias email ticket from its customer (1 request)",
            "ann@example.com",
            seed.EMAIL_VERIFIED,
        ),
        DemoStep(
            "Refused: Gorgias Live Chat, even with an email typed into the widget",
            "When can I expect delivery?",
            "ann@example.com",
            Conversation(
                channel=Channel.gorgias_chat,
                conversation_id=str(seed.CHAT),
                payload={"customer": {"email": "ann@example.com"}},
            ),
        ),
        ticket("Refused: Gorgias ticket that started in chat", "bob@example.com", seed.CHAT),
        ticket("Refused: Gorgias contact-form ticket", "bob@example.com", seed.CONTACT_FORM),
        ticket("Refused: Gorgias email ticket with a friend in CC", "ann@example.com", seed.CC),
    ]
    return DemoSandbox(
        plugin="gorgias",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
    )
