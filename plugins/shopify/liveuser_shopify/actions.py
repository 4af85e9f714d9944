"""The Shopify order actions: change the shipping address, cancel, refund.

Each is a :class:`liveuser.Action`: the model's call only proposes. ``prepare``
finds the order by number **inside the verified customer**
(``customerByIdentifier`` then ``orders(query: "name:...")``), checks that its
``customer.id`` is that customer's (anything else reads as not found, word for
word the same), and describes exactly what will change. Only when the
customer confirms through the host does liveuser call ``execute`` (once) and
``read_back``:

* address — ``orderUpdate(input: {id, shippingAddress})``; read back: the
  order's ``shippingAddress`` equals the new one.
* cancel — ``orderCancel(orderId, reason: CUSTOMER, restock: true,
  notifyCustomer: true, refundMethod: {originalPaymentMethodsRefund: true})``
  answers a ``Job``; ``job(id:)`` is polled until ``done`` within the
  deadline; read back: ``cancelledAt`` is set.
* refund — ``refundCreate(input: {orderId, refundLineItems, transactions,
  note}) @idempotent(key: <the confirmation's idempotency key>)``, the
  money going back to the order's successful SALE transaction; read back: a
  refund whose note carries the key.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from liveuser import Action, ActionRun, Outcome, Plan, ToolCall, normalize_email
from liveuser.http import remaining

from .client import ShopifyError
from .orders import same_order_name

if TYPE_CHECKING:
    from .plugin import ShopifyPlugin

CHANGE_ADDRESS = "shopify_change_shipping_address"
CANCEL = "shopify_cancel_order"
REFUND = "shopify_refund_order"
ORDER_NAME_PATTERN = r"^\s*#?[A-Za-z0-9][A-Za-z0-9-]{0,31}\s*$"
JOB_POLL_SECONDS = 0.5
"""Wait between polls of an orderCancel Job (the first poll is immediate)."""


class _Model(BaseModel):
    # Validators are built on the first answer parsed, not when the plugin is loaded.
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )


class _Money(_Model):
    amount: Decimal
    currency_code: str | None = None


class _Bag(_Model):
    shop_money: _Money


class _Address(_Model):
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province_code: str | None = None
    country_code_v2: str | None = Field(None, alias="countryCodeV2")
    zip: str | None = None


class _Line(_Model):
    id: str
    title: str
    variant_title: str | None = None
    sku: str | None = None
    current_quantity: int
    original_unit_price_set: _Bag


class _Lines(_Model):
    nodes: list[_Line]


class _Refund(_Model):
    id: str
    note: str | None = None
    total_refunded_set: _Bag


class _Transaction(_Model):
    id: str
    gateway: str | None = None
    kind: str
    status: str
    amount_set: _Bag


class _Ref(_Model):
    id: str


class _Order(_Model):
    id: str
    name: str
    cancelled_at: str | None = None
    display_fulfillment_status: str
    display_financial_status: str | None = None
    customer: _Ref | None = None
    current_total_price_set: _Bag
    shipping_address: _Address | None = None
    line_items: _Lines
    refunds: list[_Refund] = Field(default_factory=list)
    transactions: list[_Transaction] = Field(default_factory=list)

    @property
    def state(self) -> str:
        return "CANCELLED" if self.cancelled_at else self.display_fulfillment_status

    @property
    def currency(self) -> str:
        return self.current_total_price_set.shop_money.currency_code or ""

    def items(self) -> str:
        return ", ".join(
            f"{line.title} × {line.current_quantity}" for line in self.line_items.nodes
        )


class _Email(_Model):
    email_address: str


class _Orders(_Model):
    nodes: list[_Order]


class _Customer(_Model):
    id: str
    default_email_address: _Email | None = None
    orders: _Orders


# -- arguments ---------------------------------------------------------------


class OrderArgs(BaseModel):
    """Which of the customer's orders."""

    model_config = ConfigDict(extra="forbid")

    order_number: str = Field(
        pattern=ORDER_NAME_PATTERN, description="The order number, e.g. #1045 or 1045."
    )


class AddressArgs(OrderArgs):
    """The order and its new shipping address (the whole address)."""

    address1: str = Field(min_length=1, max_length=120, description="Street and number.")
    address2: str | None = Field(None, max_length=120, description="Flat, floor, building.")
    city: str = Field(min_length=1, max_length=80)
    province_code: str | None = Field(
        None, pattern=r"^[A-Za-z0-9-]{1,8}$", description="Province or state code, if any."
    )
    zip: str = Field(min_length=1, max_length=16, description="Postal code.")
    country_code: str = Field(pattern=r"^[A-Z]{2}$", description="ISO country code, e.g. PT.")


class RefundLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=120, description="Line item title or SKU.")
    quantity: int = Field(ge=1, le=1000)


class RefundArgs(OrderArgs):
    """The order and, for a partial refund, which items; the whole order when omitted."""

    items: list[RefundLine] | None = Field(
        None, max_length=50, description="Items to refund; omit to refund the whole order."
    )


# -- the actions ---------------------------------------------------------------


def _quote(value: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _one_line(address: _Address | dict[str, Any] | None) -> str:
    if address is None:
        return "no address"
    a = address if isinstance(address, dict) else address.model_dump()
    parts = [
        a.get("address1"),
        a.get("address2"),
        " ".join(p for p in (a.get("zip"), a.get("city")) if p),
        a.get("province_code"),
        a.get("country_code_v2") or a.get("country_code"),
    ]
    return ", ".join(str(p) for p in parts if p)


def _user_errors(errors: Any) -> str | None:
    if not errors:
        return None
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    return f"Shopify refused the change: {str(first.get('message', 'unknown error'))[:200]}"


class ShopifyActions:
    """The three actions of one :class:`~liveuser_shopify.ShopifyPlugin`."""

    def __init__(self, plugin: ShopifyPlugin) -> None:
        self.plugin = plugin

    def all(self) -> list[Action]:
        return [
            Action.create(
                name=CHANGE_ADDRESS,
                description="Change the shipping address of one of the customer's orders "
                "that has not shipped yet.",
                parameters=AddressArgs,
                prepare=self.prepare_address,
                execute=self.execute_address,
                read_back=self.read_back_address,
                accepts=("UNFULFILLED",),
            ),
            Action.create(
                name=CANCEL,
                description="Cancel one of the customer's orders that has not shipped yet, "
                "refunding it to the original payment method.",
                parameters=OrderArgs,
                prepare=self.prepare_cancel,
                execute=self.execute_cancel,
                read_back=self.read_back_cancel,
                accepts=("UNFULFILLED",),
            ),
            Action.create(
                name=REFUND,
                description="Refund one of the customer's orders, whole or some of its items, "
                "to the original payment method.",
                parameters=RefundArgs,
                prepare=self.prepare_refund,
                execute=self.execute_refund,
                read_back=self.read_back_refund,
                accepts=("FULFILLED", "PARTIALLY_FULFILLED"),
            ),
        ]

    # -- lookups -------------------------------------------------------------

    async def _own_order(self, call: ToolCall) -> _Order | None:
        """The order named in the arguments, only if it is the verified customer's."""
        args = call.arguments
        assert isinstance(args, OrderArgs)
        wanted = args.order_number.strip()
        name = f"#{wanted}" if wanted.isdigit() else wanted
        email = call.user.email
        data = await self.plugin.client.query(
            "LiveUserActionOrderByNumber", {"email": email, "q": f"name:{_quote(name)}"}
        )
        try:
            raw = data.get("customer")
            customer = None if raw is None else _Customer.model_validate(raw)
        except ValidationError:
            raise ShopifyError("Shopify answered an order in an unexpected shape") from None
        if customer is None or customer.default_email_address is None:
            return None
        try:
            same = normalize_email(customer.default_email_address.email_address) == email
        except ValueError:
            return None
        if not same:
            raise ShopifyError("Shopify answered about another customer than the one asked for")
        for order in customer.orders.nodes:
            owner = order.customer.id if order.customer else None
            if same_order_name(order.name, wanted) and owner == customer.id:
                return order
        return None

    async def _order(self, gid: str) -> _Order | None:
        data = await self.plugin.client.query("LiveUserActionOrderById", {"id": gid})
        try:
            raw = data.get("order")
            return None if raw is None else _Order.model_validate(raw)
        except ValidationError:
            raise ShopifyError("Shopify answered an order in an unexpected shape") from None

    # -- change the shipping address ----------------------------------------------

    async def prepare_address(self, call: ToolCall) -> Plan | None:
        order = await self._own_order(call)
        if order is None:
            return None
        args = call.arguments
        assert isinstance(args, AddressArgs)
        new = {
            "address1": args.address1.strip(),
            "address2": (args.address2 or "").strip() or None,
            "city": args.city.strip(),
            "province_code": args.province_code,
            "zip": args.zip.strip(),
            "country_code": args.country_code,
        }
        summary = (
            f"Change the shipping address of order {order.name} ({order.items()}) from "
            f"{_one_line(order.shipping_address)} to {_one_line(new)}."
        )
        return Plan(summary=summary, target={"order": order.id, "address": new}, state=order.state)

    async def execute_address(self, run: ActionRun) -> Outcome:
        new = run.target["address"]
        address = {
            "address1": new["address1"],
            "address2": new["address2"],
            "city": new["city"],
            "provinceCode": new["province_code"],
            "zip": new["zip"],
            "countryCode": new["country_code"],
        }
        data = await self.plugin.client.query(
            "LiveUserOrderUpdate",
            {"input": {"id": run.target["order"], "shippingAddress": address}},
            read=False,
        )
        refused = _user_errors((data.get("orderUpdate") or {}).get("userErrors"))
        return Outcome(False, refused) if refused else Outcome(True, "sent")

    async def read_back_address(self, run: ActionRun) -> Outcome:
        order = await self._order(run.target["order"])
        new = run.target["address"]
        seen = order.shipping_address if order else None
        if seen is not None and (
            seen.address1,
            seen.address2,
            seen.city,
            seen.province_code,
            seen.zip,
            seen.country_code_v2,
        ) == (
            new["address1"],
            new["address2"],
            new["city"],
            new["province_code"],
            new["zip"],
            new["country_code"],
        ):
            assert order is not None
            return Outcome(True, f"Order {order.name} now ships to {_one_line(new)}.")
        return Outcome(False, "the order's shipping address is unchanged")

    # -- cancel ---------------------------------------------------------------------

    async def prepare_cancel(self, call: ToolCall) -> Plan | None:
        order = await self._own_order(call)
        if order is None:
            return None
        total = order.current_total_price_set.shop_money.amount
        summary = (
            f"Cancel order {order.name} ({order.items()}) and refund {order.currency} {total} to "
            "the original payment method. This cannot be undone."
        )
        return Plan(summary=summary, target={"order": order.id}, state=order.state, amount=total)

    async def execute_cancel(self, run: ActionRun) -> Outcome:
        data = await self.plugin.client.query(
            "LiveUserOrderCancel", {"id": run.target["order"]}, read=False
        )
        payload = data.get("orderCancel") or {}
        refused = _user_errors(payload.get("orderCancelUserErrors"))
        if refused:
            return Outcome(False, refused)
        job = payload.get("job") or {}
        job_id = job.get("id")
        if not isinstance(job_id, str):
            raise ShopifyError("Shopify answered the cancellation without a job")
        while not job.get("done"):
            data = await self.plugin.client.query("LiveUserJob", {"id": job_id})
            job = data.get("job") or {}
            if job.get("done"):
                break
            if remaining() <= JOB_POLL_SECONDS:
                raise ShopifyError("Shopify's cancellation job did not finish before the deadline")
            await asyncio.sleep(JOB_POLL_SECONDS)
        return Outcome(True, "sent")

    async def read_back_cancel(self, run: ActionRun) -> Outcome:
        order = await self._order(run.target["order"])
        if order is not None and order.cancelled_at:
            return Outcome(
                True, f"Order {order.name} is cancelled; the refund goes to the original payment."
            )
        return Outcome(False, "the order is not cancelled")

    # -- refund -----------------------------------------------------------------------

    async def prepare_refund(self, call: ToolCall) -> Plan | str | None:
        order = await self._own_order(call)
        if order is None:
            return None
        args = call.arguments
        assert isinstance(args, RefundArgs)
        sale = next(
            (
                t
                for t in order.transactions
                if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS"
            ),
            None,
        )
        if sale is None:
            return f"Order {order.name} has no payment that can be refunded."
        refundable = order.current_total_price_set.shop_money.amount
        lines: list[dict[str, Any]] = []
        if args.items is None:
            amount = refundable
            chosen = [(line, line.current_quantity) for line in order.line_items.nodes]
            chosen = [(line, q) for line, q in chosen if q > 0]
        else:
            chosen = []
            for wanted in args.items:
                line = _match(order.line_items.nodes, wanted.item)
                if line is None:
                    return f"Order {order.name} has no item {wanted.item[:60]!r}."
                if wanted.quantity > line.current_quantity:
                    return (
                        f"Order {order.name} has {line.current_quantity} of {line.title} left to "
                        "refund."
                    )
                chosen.append((line, wanted.quantity))
            try:
                amount = sum(
                    (line.original_unit_price_set.shop_money.amount * q for line, q in chosen),
                    Decimal("0"),
                )
            except InvalidOperation:
                return f"Order {order.name} has an item without a price."
            amount = min(amount, refundable)
        if amount <= 0:
            return f"Order {order.name} has nothing left to refund."
        lines = [{"lineItemId": line.id, "quantity": q} for line, q in chosen]
        what = ", ".join(f"{line.title} × {q}" for line, q in chosen) or "the order"
        summary = (
            f"Refund {order.currency} {amount:.2f} for order {order.name} ({what}) to the original "
            "payment method."
        )
        target = {
            "order": order.id,
            "lines": lines,
            "amount": f"{amount:.2f}",
            "parent": sale.id,
            "gateway": sale.gateway or "",
        }
        return Plan(summary=summary, target=target, state=order.state, amount=amount)

    async def execute_refund(self, run: ActionRun) -> Outcome:
        t = run.target
        refund_input = {
            "orderId": t["order"],
            "note": f"Refund confirmed by the customer in support (ref {run.idempotency_key})",
            "notify": True,
            "refundLineItems": [
                {
                    "lineItemId": line["lineItemId"],
                    "quantity": line["quantity"],
                    "restockType": "NO_RESTOCK",
                }
                for line in t["lines"]
            ],
            "transactions": [
                {
                    "orderId": t["order"],
                    "parentId": t["parent"],
                    "gateway": t["gateway"],
                    "kind": "REFUND",
                    "amount": t["amount"],
                }
            ],
        }
        data = await self.plugin.client.query(
            "LiveUserRefundCreate",
            {"input": refund_input, "key": run.idempotency_key},
            read=False,
        )
        refused = _user_errors((data.get("refundCreate") or {}).get("userErrors"))
        return Outcome(False, refused) if refused else Outcome(True, "sent")

    async def read_back_refund(self, run: ActionRun) -> Outcome:
        order = await self._order(run.target["order"])
        for refund in order.refunds if order else []:
            if refund.note and run.idempotency_key in refund.note:
                money = refund.total_refunded_set.shop_money
                assert order is not None
                return Outcome(
                    True,
                    f"Refunded {order.currency} {money.amount} for order {order.name} to the "
                    "original payment method.",
                )
        return Outcome(False, "no refund was made")


def _match(lines: list[_Line], wanted: str) -> _Line | None:
    """The line whose title or SKU is ``wanted`` (case-insensitive), if exactly one."""
    key = wanted.strip().casefold()
    found = [
        line for line in lines if line.title.casefold() == key or (line.sku or "").casefold() == key
    ]
    return found[0] if len(found) == 1 else None
