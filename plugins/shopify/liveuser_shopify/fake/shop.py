"""The fake shop's records as graphql-core resolves them.

Each record is a plain dict keyed by GraphQL field names; the fields that
take arguments (connections, paginated lists) are callables, which
graphql-core's default resolver calls with the field's arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from graphql import GraphQLError
from graphql.execution.values import get_directive_values

from . import seed
from .search import CUSTOMER_SEARCH, ORDER_SEARCH, PRODUCT_SEARCH, VARIANT_SEARCH, matches

Resolved = dict[str, Any]


def _connection(items: list[Any], args: Mapping[str, Any]) -> Resolved:
    if args.get("reverse"):
        items = list(reversed(items))
    indexed = list(enumerate(items))
    after, before = args.get("after"), args.get("before")
    if after is not None:
        indexed = [(i, x) for i, x in indexed if i > _cursor_index(after)]
    if before is not None:
        indexed = [(i, x) for i, x in indexed if i < _cursor_index(before)]
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError(
            "you must provide one of first or last", extensions={"code": "BAD_REQUEST"}
        )
    total = len(indexed)
    if first is not None:
        indexed = indexed[: max(first, 0)]
    if last is not None:
        indexed = indexed[-last:] if last > 0 else []
    return {
        "nodes": [x for _, x in indexed],
        "edges": [{"cursor": f"c{i}", "node": x} for i, x in indexed],
        "pageInfo": {
            "hasNextPage": len(indexed) < total and (first is not None),
            "hasPreviousPage": after is not None,
            "startCursor": f"c{indexed[0][0]}" if indexed else None,
            "endCursor": f"c{indexed[-1][0]}" if indexed else None,
        },
    }


def _cursor_index(cursor: str) -> int:
    if not re.fullmatch(r"c[0-9]{1,6}", cursor):
        raise GraphQLError("Invalid cursor", extensions={"code": "BAD_REQUEST"})
    return int(cursor[1:])


def _first(items: list[Any], first: int | None) -> list[Any]:
    return items if first is None else items[: max(first, 0)]


class Shop:
    """The fake shop's records and the views graphql-core resolves over them."""

    def __init__(self) -> None:
        self.customers = seed.customers()
        self.products = seed.products()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_polls = 2
        """How many polls of ``job(id:)`` until a cancellation is done."""
        self.refunds_by_key: dict[str, Resolved] = {}
        self.applied: list[tuple[str, str]] = []
        """(mutation, order id) for every change that took effect, in order."""

    # views: plain dicts whose argument-taking fields are callables
    def customer(self, c: dict[str, Any]) -> Resolved:
        view = dict(c)

        def orders(_info: Any, **args: Any) -> Resolved:
            found = [o for o in c["orders"] if matches(o, args.get("query"), ORDER_SEARCH)]
            key = {
                "CREATED_AT": "createdAt",
                "PROCESSED_AT": "processedAt",
                "UPDATED_AT": "updatedAt",
                "ORDER_NUMBER": "number",
            }.get(args.get("sortKey") or "ID", "id")
            if key == "id":
                found.sort(key=lambda o: int(o["id"].rsplit("/", 1)[1]))
            else:
                found.sort(key=lambda o: o[key])
            return _connection([self.order(o, c) for o in found], args)

        view["orders"] = orders
        return view

    def order(self, o: dict[str, Any], owner: dict[str, Any]) -> Resolved:
        view = dict(o)
        view["customer"] = lambda _info: self.customer(owner)
        view["lineItems"] = lambda _info, **a: _connection(o["lineItems"], a)
        view["fulfillments"] = lambda _info, first=None, query=None: [
            self.fulfillment(f) for f in _first(o["fulfillments"], first)
        ]
        view["fulfillmentOrders"] = lambda _info, **a: _connection(
            [
                fo
                for fo in o["fulfillmentOrders"]
                if a.get("displayable") is not True or fo["status"] != "CLOSED"
            ],
            a,
        )
        view["refunds"] = lambda _info, first=None: _first(o["refunds"], first)
        view["transactions"] = lambda _info, first=None: _first(o["transactions"], first)
        return view

    @staticmethod
    def fulfillment(f: dict[str, Any]) -> Resolved:
        view = dict(f)
        view["trackingInfo"] = lambda _info, first=None: _first(f["trackingInfo"], first)
        return view

    def product(self, p: dict[str, Any]) -> Resolved:
        view = dict(p)
        view["variants"] = lambda _info, **a: _connection(
            [self.variant(v, p) for v in p["variants"]], a
        )
        view["variantsCount"] = {"count": len(p["variants"]), "precision": "EXACT"}
        view["totalVariants"] = len(p["variants"])
        return view

    def variant(self, v: dict[str, Any], p: dict[str, Any]) -> Resolved:
        view = dict(v)
        view["product"] = lambda _info: self.product(p)
        return view

    # lookups
    def find_order(self, gid: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for c in self.customers:
            for o in c["orders"]:
                if o["id"] == gid:
                    return o, c
        return None

    def query_root(self) -> Resolved:
        def by_identifier(_info: Any, identifier: Mapping[str, Any]) -> Resolved | None:
            given = {k: v for k, v in identifier.items() if v is not None}
            if len(given) != 1:
                raise GraphQLError(
                    "'CustomerIdentifierInput' requires exactly one argument, but "
                    f"{len(given)} were provided.",
                    extensions={"code": "INVALID_VARIABLE"},
                )
            ((key, value),) = given.items()
            for c in self.customers:
                if key == "emailAddress" and str(value).strip().casefold() == c["email"].casefold():
                    return self.customer(c)
                if key == "id" and value == c["id"]:
                    return self.customer(c)
            return None

        def customer(_info: Any, id: str) -> Resolved | None:
            return next((self.customer(c) for c in self.customers if c["id"] == id), None)

        def customers(_info: Any, **a: Any) -> Resolved:
            return _connection(
                [
                    self.customer(c)
                    for c in self.customers
                    if matches(c, a.get("query"), CUSTOMER_SEARCH)
                ],
                a,
            )

        def order(_info: Any, id: str) -> Resolved | None:
            found = self.find_order(id)
            return self.order(*found) if found else None

        def orders(_info: Any, **a: Any) -> Resolved:
            return _connection(
                [
                    self.order(o, c)
                    for c in self.customers
                    for o in c["orders"]
                    if matches(o, a.get("query"), ORDER_SEARCH)
                ],
                a,
            )

        def products(_info: Any, **a: Any) -> Resolved:
            return _connection(
                [
                    self.product(p)
                    for p in self.products
                    if matches(p, a.get("query"), PRODUCT_SEARCH)
                ],
                a,
            )

        def variants(_info: Any, **a: Any) -> Resolved:
            return _connection(
                [
                    self.variant(v, p)
                    for p in self.products
                    for v in p["variants"]
                    if matches(v, a.get("query"), VARIANT_SEARCH)
                ],
                a,
            )

        return {
            "customerByIdentifier": by_identifier,
            "customer": customer,
            "customers": customers,
            "order": order,
            "orders": orders,
            "products": products,
            "productVariants": variants,
            "job": lambda _info, id: self.poll_job(id),
        }

    def mutation_root(self) -> Resolved:
        """``orderCancel`` (a Job, applied when polled done), ``orderUpdate`` (the shipping
        address) and ``refundCreate`` (line items, deduplicated by its ``@idempotent`` key).

        Like Shopify, none of them asks whose order it is: that guard is the caller's.
        Every change that takes effect is appended to :attr:`applied`.
        """

        def order_cancel(
            _info: Any,
            orderId: str,
            reason: str,
            restock: bool,
            **_: Any,
        ) -> Resolved:
            found = self.find_order(orderId)
            pending = found is not None and any(
                j["order"] is found[0] and not j["done"] for j in self.jobs.values()
            )
            if found is None or found[0]["cancelledAt"] is not None or pending:
                error = {
                    "field": ["orderId"],
                    "message": "Order not found"
                    if found is None
                    else "Order has already been cancelled",
                    "code": "NOT_FOUND" if found is None else "INVALID",
                }
                return {
                    "job": None,
                    "orderCancelUserErrors": [error],
                    "userErrors": [{k: error[k] for k in ("field", "message")}],
                }
            if found[0]["displayFulfillmentStatus"] == "FULFILLED":
                error = {
                    "field": ["orderId"],
                    "message": "Cannot cancel a fulfilled order",
                    "code": "INVALID",
                }
                return {
                    "job": None,
                    "orderCancelUserErrors": [error],
                    "userErrors": [{k: error[k] for k in ("field", "message")}],
                }
            job_id = f"gid://shopify/Job/{len(self.jobs) + 1}"
            self.jobs[job_id] = {"order": found[0], "reason": reason, "polls": 0, "done": False}
            return {
                "job": {"id": job_id, "done": False},
                "orderCancelUserErrors": [],
                "userErrors": [],
            }

        def order_update(_info: Any, input: Mapping[str, Any]) -> Resolved:
            found = self.find_order(input["id"])
            if found is None:
                return {
                    "order": None,
                    "userErrors": [{"field": ["id"], "message": "Order does not exist"}],
                }
            o, c = found
            address = input.get("shippingAddress")
            if address:
                if address.get("countryCode") and address["countryCode"] not in _COUNTRIES:
                    return {
                        "order": None,
                        "userErrors": [
                            {
                                "field": ["shippingAddress", "countryCode"],
                                "message": "Country is not supported",
                            }
                        ],
                    }
                fields = ("address1", "address2", "city", "zip", "provinceCode")
                o["shippingAddress"] = {
                    **o["shippingAddress"],
                    **{k: address.get(k) for k in fields},
                }
                if address.get("countryCode"):
                    o["shippingAddress"]["countryCodeV2"] = address["countryCode"]
                    o["shippingAddress"]["countryCode"] = address["countryCode"]
                self.applied.append(("orderUpdate", o["id"]))
            return {"order": self.order(o, c), "userErrors": []}

        def refund_create(info: Any, input: Mapping[str, Any]) -> Resolved:
            key = _idempotency_key(info)
            if key is None:
                raise GraphQLError(
                    "refundCreate requires an idempotency key (@idempotent directive)",
                    extensions={"code": "BAD_REQUEST"},
                )
            if key in self.refunds_by_key:
                return self.refunds_by_key[key]
            result = _refund(input)
            if not result["userErrors"]:
                self.refunds_by_key[key] = result
            return result

        def _refund(input: Mapping[str, Any]) -> Resolved:
            found = self.find_order(input["orderId"])
            if found is None:
                return {
                    "order": None,
                    "refund": None,
                    "userErrors": [{"field": ["orderId"], "message": "Order does not exist"}],
                }
            o, c = found
            lines = {line["id"]: line for line in o["lineItems"]}
            wanted = list(input.get("refundLineItems") or [])
            for i, item in enumerate(wanted):
                line = lines.get(item["lineItemId"])
                if line is None:
                    return _refund_error(
                        ["refundLineItems", str(i), "lineItemId"], "Line item does not exist"
                    )
                if not 0 < item["quantity"] <= line["currentQuantity"]:
                    return _refund_error(
                        ["refundLineItems", str(i), "quantity"],
                        "Quantity cannot refund more items than were purchased",
                    )
            money = Decimal("0")
            sales = {t["id"] for t in o["transactions"] if t["kind"] == "SALE"}
            for i, transaction in enumerate(input.get("transactions") or []):
                if transaction["kind"] != "REFUND" or (
                    transaction.get("parentId") and transaction["parentId"] not in sales
                ):
                    return _refund_error(
                        ["transactions", str(i), "parentId"], "Transaction parent is invalid"
                    )
                money += Decimal(str(transaction["amount"]))
            refundable = Decimal(o["currentTotalPriceSet"]["shopMoney"]["amount"])
            if money > refundable:
                return _refund_error(
                    ["transactions"], f"Refund amount exceeds the refundable amount {refundable}"
                )
            if not wanted and money <= 0:
                return _refund_error(["refundLineItems"], "Nothing to refund")
            for item in wanted:
                lines[item["lineItemId"]]["currentQuantity"] -= item["quantity"]
            refund = {
                "id": f"gid://shopify/Refund/{9000 + len(o['refunds'])}",
                "createdAt": seed.at(0),
                "note": input.get("note"),
                "totalRefundedSet": seed._money(f"{money:.2f}"),
            }
            o["refunds"].append(refund)
            if money > 0:
                o["transactions"].append(
                    {
                        "id": f"gid://shopify/OrderTransaction/{8000 + len(o['transactions'])}",
                        "gateway": "shopify_payments",
                        "kind": "REFUND",
                        "status": "SUCCESS",
                        "amountSet": seed._money(f"{money:.2f}"),
                    }
                )
            left = refundable - money
            o["currentTotalPriceSet"] = seed._money(f"{max(left, Decimal(0)):.2f}")
            o["displayFinancialStatus"] = "REFUNDED" if left <= 0 else "PARTIALLY_REFUNDED"
            self.applied.append(("refundCreate", o["id"]))
            return {"order": self.order(o, c), "refund": refund, "userErrors": []}

        return {
            "orderCancel": order_cancel,
            "orderUpdate": order_update,
            "refundCreate": refund_create,
        }

    def poll_job(self, job_id: str) -> Resolved | None:
        """A Job as ``job(id:)`` answers it; the cancellation lands when it is done."""
        job = self.jobs.get(job_id)
        if job is None:
            return None
        job["polls"] += 1
        if not job["done"] and job["polls"] >= self.job_polls:
            job["done"] = True
            o = job["order"]
            when = seed.at(0)
            o.update(cancelledAt=when, cancelReason=job["reason"], closed=True, closedAt=when)
            self.applied.append(("orderCancel", o["id"]))
        return {"id": job_id, "done": job["done"]}


_COUNTRIES = frozenset({"FR", "PT", "DE", "ES", "IT", "BE", "NL", "GB", "US", "CA"})


def _refund_error(field: list[str], message: str) -> Resolved:
    return {"order": None, "refund": None, "userErrors": [{"field": field, "message": message}]}


def _idempotency_key(info: Any) -> str | None:
    """The ``@idempotent(key:)`` on the mutation field, if any."""
    directive = info.schema.get_directive("idempotent")
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    key = (values or {}).get("key")
    return key if isinstance(key, str) and key else None
