"""The plugin's queries and the fake both follow the Admin schema subset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import graphql
import httpx2
import pytest
from conftest import Fake
from graphql.validation import NoDeprecatedCustomRule

from liveuser_shopify.fake import FAKE_ACCESS_TOKEN, query_cost, schema
from liveuser_shopify.queries import CUSTOMER_ORDERS, DOCUMENTS, ORDER_FRAGMENT

SHARED_SPEC = Path(__file__).resolve().parents[4] / "shared/vendor-specs/shopify-admin.graphql"
VENDORED = Path(__file__).resolve().parents[1] / "liveuser_shopify/fake/shopify-admin.graphql"


def _problems(document: str) -> list[str]:
    rules = [*graphql.specified_rules, NoDeprecatedCustomRule]
    return [e.message for e in graphql.validate(schema(), graphql.parse(document), rules)]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_plugin_queries_validate_without_deprecated_fields(name: str) -> None:
    assert _problems(DOCUMENTS[name]) == []


def test_a_renamed_field_fails_validation() -> None:
    broken = (CUSTOMER_ORDERS + ORDER_FRAGMENT).replace("estimatedDeliveryAt", "estimatedDelivery")
    assert any("estimatedDelivery" in p for p in _problems(broken))
    deprecated = (CUSTOMER_ORDERS + ORDER_FRAGMENT).replace("countryCodeV2", "countryCode")
    assert any("deprecated" in p for p in _problems(deprecated))


def test_vendored_schema_is_the_shared_spec() -> None:
    if not SHARED_SPEC.is_file():
        if os.environ.get("CI"):  # CI always has shared/ beside the clone: never skip there
            pytest.fail(f"shared spec not found at {SHARED_SPEC}")
        pytest.skip(f"shared spec not found at {SHARED_SPEC}")
    assert VENDORED.read_bytes() == SHARED_SPEC.read_bytes()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_plugin_queries_stay_under_the_single_query_cost_limit(name: str) -> None:
    variables = {
        "orderCount": 10,
        "email": "a@b.c",
        "q": "",
        "productQuery": "",
        "variantQuery": "",
    }
    assert query_cost(graphql.parse(DOCUMENTS[name]), name, variables) <= 1000


async def _post(fake: Fake, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with httpx2.AsyncClient() as client:
        answer = await client.post(
            f"{fake.url}/admin/api/2026-07/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": FAKE_ACCESS_TOKEN},
        )
    return answer.status_code, answer.json()


async def test_fake_reports_unknown_fields_like_shopify(fake: Fake) -> None:
    status, body = await _post(fake, "{ orders(first: 1) { nodes { definitelyNotAField } } }")
    assert status == 200 and "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "undefinedField"


async def test_fake_reports_parse_errors_like_shopify(fake: Fake) -> None:
    status, body = await _post(fake, "{ orders(first: 1) { nodes { id }")
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "PARSE_ERROR"


async def test_fake_requires_exactly_one_customer_identifier(fake: Fake) -> None:
    _, body = await _post(fake, "{ customerByIdentifier(identifier: {}) { id } }")
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert "exactly one argument" in body["errors"][0]["message"]


async def test_fake_refuses_queries_over_the_cost_limit(fake: Fake) -> None:
    query = "{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }"
    _, body = await _post(fake, query)
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_every_answer_reports_its_cost(fake: Fake) -> None:
    _, body = await _post(fake, "{ products(first: 1) { nodes { id } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] >= cost["actualQueryCost"] > 0
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


CANCEL = """
mutation Cancel($id: ID!) {
  orderCancel(orderId: $id, reason: CUSTOMER, restock: true, refund: false) {
    job { id done }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}
"""
READ_BACK = '{ order(id: "gid://shopify/Order/5850000000045") { cancelledAt cancelReason closed } }'
JOB = "query Job($id: ID!) { job(id: $id) { id done } }"
UPDATE = """
mutation Update($input: OrderInput!) {
  orderUpdate(input: $input) { order { shippingAddress { city } } userErrors { field message } }
}
"""
REFUND = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { totalRefundedSet { shopMoney { amount } } }
    order { displayFinancialStatus }
    userErrors { field message }
  }
}
"""


async def test_order_action_mutations_run_against_the_schema(fake: Fake) -> None:
    gid = "gid://shopify/Order/5850000000045"
    _, body = await _post(fake, CANCEL, {"id": gid})
    job = body["data"]["orderCancel"]["job"]
    assert job["done"] is False
    _, read = await _post(fake, READ_BACK)
    assert read["data"]["order"]["cancelledAt"] is None  # the Job has not run yet
    polls = [(await _post(fake, JOB, {"id": job["id"]}))[1] for _ in range(2)]
    assert [p["data"]["job"]["done"] for p in polls] == [False, True]
    _, read = await _post(fake, READ_BACK)
    assert read["data"]["order"]["cancelReason"] == "CUSTOMER"
    _, again = await _post(fake, CANCEL, {"id": gid})
    assert again["data"]["orderCancel"]["orderCancelUserErrors"][0]["code"] == "INVALID"
    _, missing = await _post(fake, CANCEL, {"id": "gid://shopify/Order/1"})
    assert missing["data"]["orderCancel"]["orderCancelUserErrors"][0]["code"] == "NOT_FOUND"
    _, updated = await _post(
        fake, UPDATE, {"input": {"id": gid, "shippingAddress": {"city": "Braga"}}}
    )
    assert updated["data"]["orderUpdate"]["order"]["shippingAddress"]["city"] == "Braga"
    transaction = {"orderId": gid, "amount": "129.00", "gateway": "manual", "kind": "REFUND"}
    refund = {"input": {"orderId": gid, "transactions": [transaction]}, "key": "k-1"}
    _, refunded = await _post(fake, REFUND, refund)
    assert refunded["data"]["refundCreate"]["order"]["displayFinancialStatus"] == "REFUNDED"
    _, replayed = await _post(fake, REFUND, refund)  # the same key: the same refund, once
    assert replayed["data"] == refunded["data"]
    assert [m for m, _ in fake.app.state.shop.applied].count("refundCreate") == 1


async def test_refund_without_an_idempotency_key_is_refused_like_2026_04(fake: Fake) -> None:
    unkeyed = REFUND.replace("@idempotent(key: $key)", "").replace(", $key: String!", "")
    _, body = await _post(
        fake, unkeyed, {"input": {"orderId": "gid://shopify/Order/5850000000045"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert fake.app.state.shop.applied == []
