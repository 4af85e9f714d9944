"""The fake shop's records as graphql-core resolves them.

Each record is a plain dict keyed by GraphQL field names; the fields that
take arguments (connections, paginated lists) are callables, which
graphql-core's default resolver calls with the field's arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError

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
        self.jobs = 0

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
        }

    def mutation_root(self) -> Resolved:
        def order_cancel(
            _info: Any,
            orderId: str,
            reason: str,
            restock: bool,
            **_: Any,
        ) -> Resolved:
            found = self.find_order(orderId)
            if found is None or found[0]["cancelledAt"] is not None:
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
            o = found[0]
            o.update(cancelledAt=seed.at(0), cancelReason=reason, closed=True, closedAt=seed.at(0))
            self.jobs += 1
            return {
                "job": {"id": f"gid://shopify/Job/{self.jobs}", "done": False},
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
                o["shippingAddress"] = {
                    **o["shippingAddress"],
                    **{k: v for k, v in address.items() if k in ("city", "zip", "provinceCode")},
                }
                if address.get("countryCode"):
                    o["shippingAddress"]["countryCodeV2"] = address["countryCode"]
            return {"order": self.order(o, c), "userErrors": []}

        def refund_create(_info: Any, input: Mapping[str, Any]) -> Resolved:
            found = self.find_order(input["orderId"])
            if found is None:
                return {
                    "order": None,
                    "refund": None,
                    "userErrors": [{"field": ["orderId"], "message": "Order does not exist"}],
                }
            o, c = found
            amount = sum(float(t["amount"]) for t in input.get("transactions") or [])
            refund = {
                "id": f"gid://shopify/Refund/{9000 + len(o['refunds'])}",
                "createdAt": seed.at(0),
                "note": input.get("note"),
                "totalRefundedSet": seed._money(f"{amount:.2f}"),
            }
            o["refunds"].append(refund)
            total = float(o["totalPriceSet"]["shopMoney"]["amount"])
            refunded = sum(
                float(r["totalRefundedSet"]["shopMoney"]["amount"]) for r in o["refunds"]
            )
            o["displayFinancialStatus"] = "REFUNDED" if refunded >= total else "PARTIALLY_REFUNDED"
            return {"order": self.order(o, c), "refund": refund, "userErrors": []}

        return {
            "orderCancel": order_cancel,
            "orderUpdate": order_update,
            "refundCreate": refund_create,
        }
