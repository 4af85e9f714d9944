"""Shopify's answers as typed models, and the order summaries the model is shown.

A summary carries what answers "Where is my order?" and "When can I expect
delivery?": the order's name and date, payment and fulfillment status, line
items, each shipment's status, carrier, tracking number and URL, estimated
and actual delivery, the promised window before shipping, and the ship-to
city and country. Never the street, zip, phone or email.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from liveuser import normalize_email

from .client import ShopifyError

T = TypeVar("T")


class _Model(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )


class Money(_Model):
    amount: str
    currency_code: str


class MoneyBag(_Model):
    shop_money: Money


class Address(_Model):
    city: str | None = None
    province_code: str | None = None
    country_code_v2: str | None = Field(None, alias="countryCodeV2")


class LineItem(_Model):
    title: str
    variant_title: str | None = None
    sku: str | None = None
    quantity: int
    current_quantity: int | None = None
    unfulfilled_quantity: int | None = None


class Tracking(_Model):
    company: str | None = None
    number: str | None = None
    url: str | None = None


class Fulfillment(_Model):
    name: str | None = None
    status: str
    display_status: str | None = None
    created_at: str | None = None
    in_transit_at: str | None = None
    estimated_delivery_at: str | None = None
    delivered_at: str | None = None
    tracking_info: list[Tracking] = Field(default_factory=list)


class DeliveryMethod(_Model):
    method_type: str | None = None
    presented_name: str | None = None
    min_delivery_date_time: str | None = None
    max_delivery_date_time: str | None = None


class FulfillmentOrder(_Model):
    status: str | None = None
    fulfill_by: str | None = None
    delivery_method: DeliveryMethod | None = None


class Refund(_Model):
    created_at: str | None = None
    total_refunded_set: MoneyBag | None = None


class _Ref(_Model):
    id: str


class _Nodes(_Model, Generic[T]):
    nodes: list[T]


class Order(_Model):
    id: str
    name: str
    created_at: str
    cancelled_at: str | None = None
    cancel_reason: str | None = None
    closed_at: str | None = None
    display_financial_status: str | None = None
    display_fulfillment_status: str
    return_status: str | None = None
    customer: _Ref | None = None
    current_total_price_set: MoneyBag | None = None
    shipping_address: Address | None = None
    line_items: _Nodes[LineItem]
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    fulfillment_orders: _Nodes[FulfillmentOrder] | None = None
    refunds: list[Refund] = Field(default_factory=list)


class _EmailAddress(_Model):
    email_address: str


class Customer(_Model):
    id: str
    display_name: str | None = None
    default_email_address: _EmailAddress | None = None
    number_of_orders: str | int | None = None
    orders: _Nodes[Order]


class _Answer(_Model):
    customer: Customer | None = None


def customer_of(data: dict[str, Any], email: str) -> Customer | None:
    """The customer in a ``customer:`` answer, only if their email is ``email``.

    Shopify looked the customer up by this email; the answer is trusted only
    when its default email address normalises to the same address.
    """
    try:
        customer = _Answer.model_validate(data).customer
    except ValidationError:
        raise ShopifyError("Shopify answered a customer in an unexpected shape") from None
    if customer is None:
        return None
    recorded = customer.default_email_address
    if recorded is None:
        return None
    try:
        same = normalize_email(recorded.email_address) == email
    except ValueError:
        return None
    if not same:
        raise ShopifyError("Shopify answered about another customer than the one asked for")
    return customer


def same_order_name(a: str, b: str) -> bool:
    """``#1042`` and ``1042`` name the same order; case and blanks do not matter."""
    return a.strip().lstrip("#").casefold() == b.strip().lstrip("#").casefold()


def _words(value: str | None) -> str:
    return (value or "").replace("_", " ").lower()


def _when(value: str | None) -> str | None:
    """``2026-11-26T18:00:00Z`` as ``2026-11-26 18:00 UTC``; a bare date stays a date."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:40]
    if moment.hour == moment.minute == 0 and moment.second == 0:
        return moment.date().isoformat()
    offset = moment.utcoffset()
    zone = " UTC" if offset is not None and not offset else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


def _day(value: str | None) -> str | None:
    return value[:10] if value else None


def _money(bag: MoneyBag | None) -> str | None:
    return f"{bag.shop_money.amount} {bag.shop_money.currency_code}" if bag else None


def _item(line: LineItem) -> str:
    text = line.title
    if line.variant_title:
        text += f" ({line.variant_title})"
    quantity = line.current_quantity if line.current_quantity else line.quantity
    text += f" x{quantity}"
    if line.current_quantity == 0 and line.quantity:
        text += " (removed)"
    elif line.unfulfilled_quantity:
        text += f", {line.unfulfilled_quantity} not shipped yet"
    return text


def _shipment(f: Fulfillment) -> str:
    parts = [f"{f.name or 'shipment'}: {_words(f.display_status or f.status)}"]
    for t in f.tracking_info:
        track = " ".join(x for x in (t.company, t.number) if x)
        if track:
            parts.append(f"tracking {track}")
        if t.url:
            parts.append(t.url)
    if f.delivered_at:
        parts.append(f"delivered {_when(f.delivered_at)}")
    elif f.estimated_delivery_at:
        parts.append(f"estimated delivery {_when(f.estimated_delivery_at)}")
    elif f.in_transit_at:
        parts.append(f"in transit since {_when(f.in_transit_at)}")
    return ", ".join(parts)


def _window(orders: list[FulfillmentOrder]) -> str | None:
    for fo in orders:
        method = fo.delivery_method
        if method is None:
            continue
        low, high = _when(method.min_delivery_date_time), _when(method.max_delivery_date_time)
        if low and high:
            return f"expected between {low} and {high}" + (
                f" ({method.presented_name})" if method.presented_name else ""
            )
        if high or low:
            return f"expected by {high or low}"
        if fo.fulfill_by:
            return f"to ship by {_when(fo.fulfill_by)}"
    return None


def summary(order: Order) -> dict[str, Any]:
    """One order as the model is shown it (``id`` is private: tools only)."""
    out: dict[str, Any] = {"order": order.name, "placed": _day(order.created_at)}
    if order.cancelled_at:
        reason = f" ({_words(order.cancel_reason)})" if order.cancel_reason else ""
        out["cancelled"] = f"{_day(order.cancelled_at)}{reason}"
    out["payment"] = _words(order.display_financial_status) or None
    out["fulfillment"] = _words(order.display_fulfillment_status)
    out["items"] = "; ".join(_item(line) for line in order.line_items.nodes)
    if order.fulfillments:
        out["shipments"] = " | ".join(_shipment(f) for f in order.fulfillments)
    if not order.cancelled_at and order.display_fulfillment_status in (
        "UNFULFILLED",
        "PARTIALLY_FULFILLED",
        "SCHEDULED",
        "ON_HOLD",
        "IN_PROGRESS",
        "OPEN",
        "PENDING_FULFILLMENT",
    ):
        pending = [
            fo
            for fo in (order.fulfillment_orders.nodes if order.fulfillment_orders else [])
            if fo.status not in ("CLOSED", "CANCELLED")
        ]
        window = _window(pending)
        if window:
            out["delivery"] = window
    address = order.shipping_address
    if address is not None:
        place = ", ".join(
            x for x in (address.city, address.province_code, address.country_code_v2) if x
        )
        if place:
            out["ship to"] = place
    total = _money(order.current_total_price_set)
    if total:
        out["total"] = total
    refunds = [
        f"{_money(r.total_refunded_set)} on {_day(r.created_at)}"
        for r in order.refunds
        if r.total_refunded_set
    ]
    if refunds:
        out["refunds"] = "; ".join(refunds)
    if order.return_status and order.return_status != "NO_RETURN":
        out["return"] = _words(order.return_status)
    out["id"] = order.id
    return {k: v for k, v in out.items() if v is not None}
