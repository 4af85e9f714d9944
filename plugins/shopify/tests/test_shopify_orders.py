"""fetch_user_data: the verified customer's recent orders, in one GraphQL request."""

from __future__ import annotations

from conftest import Fake, SetupFactory, host_conversation

from liveuser_shopify.fake import seed


async def test_in_transit_delivered_and_cancelled_orders_in_one_request(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert ctx.verified, ctx.refusal
    assert ctx.sources == ("shopify",) and not ctx.missing
    assert fake.requests - before == 1
    text = ctx.text
    for wanted in (
        "Alice Martin",
        "#1042",
        "in transit",
        "DHL Express 1234567890",
        "https://www.dhl.com/en/express/tracking.html?AWB=1234567890",
        "estimated delivery",
        "#1038",
        "delivered",
        "UPS 1Z999AA10123456784",
        "#1031",
        "cancelled",
        "refunded",
        "Lyon, FR",
        "Merino Crew Sweater (M / Navy) x1",
    ):
        assert wanted in text, wanted
    assert text.index("#1042") < text.index("#1038") < text.index("#1031")  # newest first


async def test_unfulfilled_partial_and_returned_orders(make_setup: SetupFactory) -> None:
    setup = make_setup()
    ctx = await setup.pipeline.context_for(host_conversation(seed.BRUNO), message_id="m1")
    text = ctx.text
    assert "#1045" in text and "unfulfilled" in text and "expected between" in text
    assert "#1040" in text and "partially fulfilled" in text and "1 not shipped yet" in text
    assert "CTT RR123456785PT" in text
    assert "#1036" in text and "return: returned" in text
    assert "Porto, PT" in text


async def test_street_zip_and_ids_never_reach_the_model(make_setup: SetupFactory) -> None:
    setup = make_setup()
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert "69002" not in ctx.text
    assert "gid://shopify" not in ctx.text


async def test_customer_without_orders_says_so(make_setup: SetupFactory) -> None:
    setup = make_setup()
    ctx = await setup.pipeline.context_for(host_conversation(seed.CHEN), message_id="m1")
    assert "Chen Wei" in ctx.text and "none in the last 60 days" in ctx.text


async def test_unknown_customer_is_no_data_not_a_failure(
    make_setup: SetupFactory, fake: Fake
) -> None:
    setup = make_setup()
    before = fake.requests
    ctx = await setup.pipeline.context_for(host_conversation(seed.NOBODY), message_id="m1")
    assert ctx.verified and ctx.sources == () and not ctx.missing
    assert fake.requests - before == 1


async def test_order_count_is_configurable(make_setup: SetupFactory) -> None:
    setup = make_setup(order_count=1)
    ctx = await setup.pipeline.context_for(host_conversation(seed.ALICE), message_id="m1")
    assert "#1042" in ctx.text and "#1038" not in ctx.text
    assert "1 most recent shown of 3" in ctx.text


async def test_each_customer_sees_only_their_own_orders(make_setup: SetupFactory) -> None:
    setup = make_setup()
    alice = await setup.pipeline.context_for(host_conversation(seed.ALICE, "a"), message_id="m1")
    bruno = await setup.pipeline.context_for(host_conversation(seed.BRUNO, "b"), message_id="m1")
    assert "#1045" not in alice.text and "Bruno" not in alice.text
    assert "#1042" not in bruno.text and "Alice" not in bruno.text
