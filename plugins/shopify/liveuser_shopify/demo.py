"""The Shopify part of ``liveuser demo`` (entry-point group ``liveuser.demo``).

Shopify is a back-end, not a channel: its steps are host-channel
conversations whose users the host vouches for with a liveuser identity
token, answered from the fake shop with one GraphQL request each.
"""

from __future__ import annotations

from typing import Any

from liveuser import Channel, Conversation
from liveuser.demo import UNLIMITED, DemoContext, DemoSandbox, DemoStep
from liveuser.sandbox import serve
from liveuser.tokens import Purpose, mint_token

from .actions import CANCEL, CHANGE_ADDRESS, REFUND
from .fake import create_fake_shopify, fake_settings, schema, seed

NEW_ADDRESS = {
    "order_number": seed.UNFULFILLED,
    "address1": "5 Avenida da Liberdade",
    "city": "Lisboa",
    "zip": "1250-096",
    "country_code": "PT",
}


def demo(context: DemoContext) -> DemoSandbox:
    """Start the fake shop and list the demo's Shopify conversations."""
    app = create_fake_shopify()
    if not context.rate_limits:  # an inexhaustible cost bucket
        app.state.maximum = app.state.available = app.state.restore_rate = float(UNLIMITED)
    url = context.stack.enter_context(serve(app))
    schema()  # build the schema now, not during the first step

    def host(
        title: str,
        question: str,
        email: str,
        cid: str,
        *,
        token: bool = True,
        tool: tuple[str, dict[str, Any]] | None = None,
        confirm: bool = False,
    ) -> DemoStep:
        claims = {}
        if token:
            claims["token"] = mint_token(
                context.host_keys, tenant="default", purpose=Purpose.identity, subject=email
            )
        conv = Conversation(channel=Channel.host, conversation_id=cid, claims=claims)
        return DemoStep(title, question, email, conv, tool, confirm)

    steps = [
        host(
            "Shopify orders: in transit, delivered, cancelled and refunded (1 GraphQL request)",
            "Where is my order?",
            seed.ALICE,
            "shopify-chat-1",
        ),
        host(
            "Same Shopify customer, next message (served from cache)",
            "When can I expect delivery?",
            seed.ALICE,
            "shopify-chat-1",
        ),
        host(
            "Same Shopify customer, tracking question (served from cache)",
            "What is my tracking number?",
            seed.ALICE,
            "shopify-chat-1",
        ),
        host(
            "Shopify orders: unfulfilled with a delivery window, partially shipped, returned",
            "When can I expect delivery?",
            seed.BRUNO,
            "shopify-chat-2",
        ),
        host(
            "Shopify customer with no recent orders",
            "Where is my order?",
            seed.CHEN,
            "shopify-chat-3",
        ),
        host(
            "Shopify order_status for the customer's own order (1 request)",
            f"What's happening with order {seed.IN_TRANSIT}?",
            seed.ALICE,
            "shopify-chat-1",
            tool=("order_status", {"order_number": seed.IN_TRANSIT}),
        ),
        host(
            "Shopify order_status for another customer's order: reads as not found",
            f"What's happening with order {seed.UNFULFILLED}?",
            seed.ALICE,
            "shopify-chat-1",
            tool=("order_status", {"order_number": seed.UNFULFILLED}),
        ),
        host(
            "Action proposed: the model asks to change the shipping address (nothing changes yet)",
            "Please send order #1045 to my new flat in Lisbon, 5 Avenida da Liberdade, 1250-096.",
            seed.BRUNO,
            "shopify-chat-2",
            tool=(CHANGE_ADDRESS, NEW_ADDRESS),
        ),
        host(
            "The model tries to confirm the change by itself: refused, nothing sent",
            "Yes, do it.",
            seed.BRUNO,
            "shopify-chat-2",
            tool=(CHANGE_ADDRESS, {**NEW_ADDRESS, "confirm": True, "confirmation_id": "c-1"}),
        ),
        host(
            "The customer confirms: executed once, then read back from Shopify",
            "(presses Confirm)",
            seed.BRUNO,
            "shopify-chat-2",
            confirm=True,
        ),
        host(
            "Verified: the order now ships to Lisboa",
            f"Where will order {seed.UNFULFILLED} be delivered?",
            seed.BRUNO,
            "shopify-chat-2",
            tool=("order_status", {"order_number": seed.UNFULFILLED}),
        ),
        host(
            "Refused: no identity token, so Shopify is never asked",
            "Where is my order?",
            seed.ALICE,
            "shopify-chat-4",
            token=False,
        ),
    ]
    return DemoSandbox(
        plugin="shopify",
        settings=fake_settings(url),
        steps=steps,
        requests=lambda: int(app.state.requests),
        actions=[CHANGE_ADDRESS, CANCEL, REFUND],
    )
