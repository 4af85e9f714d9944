"""order_status answers only for the verified user's orders; check_stock quotes its input."""

from __future__ import annotations

import pytest
from conftest import Fake, SetupFactory, host_conversation
from hypothesis import HealthCheck, given, settings
from shopify_strategies import search_texts

from liveuser import NOT_FOUND
from liveuser_shopify.fake import seed
from liveuser_shopify.plugin import quote
from liveuser_shopify.stock import NOTHING


async def _call(setup: SetupFactory | object, email: str, tool: str, **args: str) -> str:
    assert hasattr(setup, "pipeline")
    return await setup.pipeline.call_tool(  # type: ignore[no-any-return]
        host_conversation(email), "m1", f"call-{tool}-{sorted(args.items())}", tool, args
    )


async def test_order_status_of_own_order(make_setup: SetupFactory, fake: Fake) -> None:
    setup = make_setup()
    before = fake.requests
    text = await _call(setup, seed.ALICE, "order_status", order_number="#1042")
    assert fake.requests - before == 1
    assert "#1042" in text and "DHL Express 1234567890" in text and "estimated delivery" in text


async def test_order_number_without_hash(make_setup: SetupFactory) -> None:
    setup = make_setup()
    text = await _call(setup, seed.ALICE, "order_status", order_number="1038")
    assert "#1038" in text and "delivered" in text


async def test_another_customers_order_reads_as_not_found(make_setup: SetupFactory) -> None:
    setup = make_setup()
    theirs = await _call(setup, seed.ALICE, "order_status", order_number="#1045")
    missing = await _call(setup, seed.ALICE, "order_status", order_number="#9999")
    assert theirs == missing == NOT_FOUND
    assert "1045" not in theirs


async def test_unknown_customer_order_reads_as_not_found(make_setup: SetupFactory) -> None:
    setup = make_setup()
    assert await _call(setup, seed.NOBODY, "order_status", order_number="#1042") == NOT_FOUND


async def test_order_number_with_search_syntax_is_refused(make_setup: SetupFactory) -> None:
    setup = make_setup()
    text = await _call(setup, seed.ALICE, "order_status", order_number="#1 OR name:#1045")
    assert text.startswith("Invalid arguments for order_status")


async def test_stock_by_product_name(make_setup: SetupFactory) -> None:
    setup = make_setup()
    text = await _call(setup, seed.ALICE, "check_stock", product="merino sweater")
    assert "Merino Crew Sweater (M / Navy): in stock" in text
    assert "(L / Navy): out of stock" in text
    assert "(XL / Navy): out of stock, can be ordered (backorder)" in text
    assert "units" not in text  # counts only when the merchant allows


async def test_stock_counts_when_allowed(make_setup: SetupFactory) -> None:
    setup = make_setup(show_stock_counts=True)
    text = await _call(setup, seed.ALICE, "check_stock", product="Wool Beanie")
    assert "Wool Beanie: in stock (12 units)" in text


async def test_stock_by_exact_sku(make_setup: SetupFactory) -> None:
    setup = make_setup()
    text = await _call(setup, seed.ALICE, "check_stock", product="mcs-l-nvy")
    assert "Merino Crew Sweater (L / Navy) [SKU MCS-L-NVY]: out of stock" in text


async def test_draft_products_and_near_skus_are_not_offered(make_setup: SetupFactory) -> None:
    setup = make_setup()
    assert NOTHING in await _call(setup, seed.ALICE, "check_stock", product="Prototype")
    assert NOTHING in await _call(setup, seed.ALICE, "check_stock", product="MCS")


async def test_quotes_in_the_product_name_stay_one_term(make_setup: SetupFactory) -> None:
    setup = make_setup()
    text = await _call(setup, seed.ALICE, "check_stock", product='The "Cozy" Scarf')
    assert 'The "Cozy" Scarf: in stock' in text
    assert NOTHING in await _call(
        setup, seed.ALICE, "check_stock", product='Grinder" status:draft title:"Prototype'
    )


def test_quote_escapes_backslashes_and_quotes() -> None:
    assert quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


@pytest.mark.parametrize("text", ['x" OR title:*', "\\", '"', "title:sweater", "a\nb"])
def test_fake_reads_a_quoted_term_back_as_given(text: str) -> None:
    from liveuser_shopify.fake import search_terms

    terms = search_terms(f"title:{quote(text)}")
    assert len(terms) == 1
    assert terms[0][0] == "title"
    assert terms[0][1] == "".join(c if c.isprintable() else " " for c in text)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=search_texts)
def test_any_quoted_text_is_one_search_term(text: str) -> None:
    from liveuser_shopify.fake import search_terms

    terms = search_terms(f"sku:{quote(text)}")
    assert terms == [("sku", "".join(c if c.isprintable() else " " for c in text))]
