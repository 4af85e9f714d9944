"""The fake shop's records: customers whose orders are unfulfilled, in transit,
delivered, partially fulfilled, cancelled and refunded, and a few products.

Dates are relative to when the module is loaded, so every order sits inside
Shopify's default 60-day window. Records are plain dicts keyed by the Admin
GraphQL field names; the fake adds the fields that take arguments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

_NOW = datetime.now(UTC).replace(microsecond=0)

ALICE: Final = "alice@example.com"
"""Orders in transit (#1042), delivered (#1038) and cancelled and refunded (#1031)."""
BRUNO: Final = "bruno@example.com"
"""Orders unfulfilled (#1045), partially fulfilled (#1040) and returned and refunded (#1036)."""
CHEN: Final = "chen@example.com"
"""A customer without orders."""
NOBODY: Final = "nobody@example.com"
"""No such customer."""

IN_TRANSIT: Final = "#1042"
DELIVERED: Final = "#1038"
CANCELLED: Final = "#1031"
UNFULFILLED: Final = "#1045"
PARTIAL: Final = "#1040"
REFUNDED: Final = "#1036"


def at(days: float, hour: int = 0) -> str:
    """An ISO 8601 UTC moment ``days`` from now (negative: in the past)."""
    moment = _NOW + timedelta(days=days)
    if hour:
        moment = moment.replace(hour=hour, minute=0, second=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def _money(amount: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": "EUR"}
    return {"shopMoney": money, "presentmentMoney": money}


def _line(
    n: int,
    title: str,
    sku: str,
    qty: int,
    *,
    price: str,
    variant: str | None = None,
    current: int | None = None,
    unfulfilled: int = 0,
) -> dict[str, Any]:
    return {
        "id": _gid("LineItem", n),
        "title": title,
        "name": title,
        "sku": sku,
        "variantTitle": variant,
        "quantity": qty,
        "currentQuantity": qty if current is None else current,
        "unfulfilledQuantity": unfulfilled,
        "variant": None,
        "originalUnitPriceSet": _money(price),
    }


def _fulfillment(
    n: int,
    name: str,
    display: str,
    *,
    created: str,
    company: str,
    number: str,
    url: str,
    in_transit: str | None = None,
    estimated: str | None = None,
    delivered: str | None = None,
) -> dict[str, Any]:
    return {
        "id": _gid("Fulfillment", n),
        "name": name,
        "status": "SUCCESS",
        "displayStatus": display,
        "createdAt": created,
        "updatedAt": created,
        "inTransitAt": in_transit,
        "estimatedDeliveryAt": estimated,
        "deliveredAt": delivered,
        "totalQuantity": 1,
        "requiresShipping": True,
        "trackingInfo": [{"company": company, "number": number, "url": url}],
    }


def _fo(
    n: int,
    status: str,
    *,
    low: str | None = None,
    high: str | None = None,
    fulfill_by: str | None = None,
) -> dict[str, Any]:
    return {
        "id": _gid("FulfillmentOrder", n),
        "status": status,
        "requestStatus": "UNSUBMITTED",
        "fulfillAt": None,
        "fulfillBy": fulfill_by,
        "createdAt": at(-1),
        "updatedAt": at(-1),
        "deliveryMethod": {
            "id": _gid("DeliveryMethod", n),
            "methodType": "SHIPPING",
            "presentedName": "Standard shipping",
            "minDeliveryDateTime": low,
            "maxDeliveryDateTime": high,
        },
    }


def _address(city: str, country: str, province: str | None = None) -> dict[str, Any]:
    return {
        "id": _gid("MailingAddress", abs(hash(city)) % 10_000),
        "address1": f"1 Rua {city}" if country == "PT" else f"1 rue de {city}",
        "address2": None,
        "city": city,
        "province": None,
        "provinceCode": province,
        "country": None,
        "countryCode": country,
        "countryCodeV2": country,
        "zip": "69002",
    }


def _order(
    n: int,
    name: str,
    created: float,
    *,
    financial: str,
    fulfillment: str,
    lines: list[dict[str, Any]],
    total: str,
    address: dict[str, Any],
    fulfillments: list[dict[str, Any]] | None = None,
    fulfillment_orders: list[dict[str, Any]] | None = None,
    cancelled: str | None = None,
    cancel_reason: str | None = None,
    refunds: list[dict[str, Any]] | None = None,
    return_status: str = "NO_RETURN",
) -> dict[str, Any]:
    return {
        "id": _gid("Order", n),
        "name": name,
        "number": int(name.lstrip("#")) - 1000,
        "createdAt": at(created),
        "processedAt": at(created),
        "updatedAt": at(created),
        "cancelledAt": cancelled,
        "cancelReason": cancel_reason,
        "closed": cancelled is not None,
        "closedAt": cancelled,
        "confirmationNumber": f"C{n}",
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfillment,
        "returnStatus": return_status,
        "currencyCode": "EUR",
        "totalPriceSet": _money(total),
        "currentTotalPriceSet": _money("0.00" if financial == "REFUNDED" else total),
        "shippingAddress": address,
        "test": False,
        "lineItems": lines,
        "fulfillments": fulfillments or [],
        "fulfillmentOrders": fulfillment_orders or [],
        "refunds": refunds or [],
        "transactions": [
            {
                "id": _gid("OrderTransaction", n),
                "gateway": "shopify_payments",
                "kind": "SALE",
                "status": "SUCCESS",
                "amountSet": _money(total),
            }
        ],
    }


def _customer(
    n: int, first: str, last: str, email: str, orders: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": _gid("Customer", n),
        "firstName": first,
        "lastName": last,
        "displayName": f"{first} {last}",
        "email": email,
        "defaultEmailAddress": {"emailAddress": email},
        "verifiedEmail": True,
        "state": "ENABLED",
        "numberOfOrders": str(len(orders)),
        "createdAt": at(-400),
        "orders": orders,
    }


def customers() -> list[dict[str, Any]]:
    """Fresh copies of the seeded customers, each with their orders."""
    lyon = _address("Lyon", "FR")
    porto = _address("Porto", "PT")
    alice = _customer(
        7208461484211,
        "Alice",
        "Martin",
        ALICE,
        [
            _order(
                5843104260275,
                IN_TRANSIT,
                -6,
                financial="PAID",
                fulfillment="FULFILLED",
                total="64.90",
                address=lyon,
                lines=[
                    _line(
                        1, "Merino Crew Sweater", "MCS-M-NVY", 1, price="64.90", variant="M / Navy"
                    )
                ],
                fulfillments=[
                    _fulfillment(
                        5120093700275,
                        "#1042-F1",
                        "IN_TRANSIT",
                        created=at(-5),
                        company="DHL Express",
                        number="1234567890",
                        url="https://www.dhl.com/en/express/tracking.html?AWB=1234567890",
                        in_transit=at(-4),
                        estimated=at(2, hour=18),
                    )
                ],
                fulfillment_orders=[_fo(1, "CLOSED")],
            ),
            _order(
                5838001111111,
                DELIVERED,
                -20,
                financial="PAID",
                fulfillment="FULFILLED",
                total="24.00",
                address=lyon,
                lines=[_line(2, "Wool Beanie", "WB-001", 2, price="12.00")],
                fulfillments=[
                    _fulfillment(
                        5110000000001,
                        "#1038-F1",
                        "DELIVERED",
                        created=at(-19),
                        company="UPS",
                        number="1Z999AA10123456784",
                        url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
                        in_transit=at(-18),
                        estimated=at(-15, hour=18),
                        delivered=at(-15, hour=14),
                    )
                ],
                fulfillment_orders=[_fo(2, "CLOSED")],
            ),
            _order(
                5830022029491,
                CANCELLED,
                -26,
                financial="REFUNDED",
                fulfillment="UNFULFILLED",
                total="19.90",
                address=lyon,
                cancelled=at(-25),
                cancel_reason="CUSTOMER",
                lines=[_line(3, "Wool Beanie", "WB-001", 1, price="19.90", current=0)],
                fulfillment_orders=[_fo(3, "CLOSED")],
                refunds=[
                    {
                        "id": _gid("Refund", 1),
                        "createdAt": at(-25),
                        "note": None,
                        "totalRefundedSet": _money("19.90"),
                    }
                ],
            ),
        ],
    )
    bruno = _customer(
        7208461484999,
        "Bruno",
        "Costa",
        BRUNO,
        [
            _order(
                5850000000045,
                UNFULFILLED,
                -1,
                financial="PAID",
                fulfillment="UNFULFILLED",
                total="129.00",
                address=porto,
                lines=[_line(4, "Espresso Grinder", "EG-200", 1, price="129.00", unfulfilled=1)],
                fulfillment_orders=[
                    _fo(
                        4, "OPEN", low=at(3, hour=9), high=at(6, hour=18), fulfill_by=at(1, hour=17)
                    )
                ],
            ),
            _order(
                5848000000040,
                PARTIAL,
                -4,
                financial="PAID",
                fulfillment="PARTIALLY_FULFILLED",
                total="89.80",
                address=porto,
                lines=[
                    _line(
                        5, "Merino Crew Sweater", "MCS-L-NVY", 1, price="64.90", variant="L / Navy"
                    ),
                    _line(6, "Wool Beanie", "WB-001", 1, price="24.90", unfulfilled=1),
                ],
                fulfillments=[
                    _fulfillment(
                        5120000000040,
                        "#1040-F1",
                        "IN_TRANSIT",
                        created=at(-3),
                        company="CTT",
                        number="RR123456785PT",
                        url="https://www.ctt.pt/feapl_2/app/open/objectSearch/objectSearch.jspx?objects=RR123456785PT",
                        in_transit=at(-2),
                        estimated=at(1, hour=12),
                    )
                ],
                fulfillment_orders=[
                    _fo(5, "CLOSED"),
                    _fo(6, "OPEN", low=at(4, hour=9), high=at(8, hour=18)),
                ],
            ),
            _order(
                5836000000036,
                REFUNDED,
                -30,
                financial="REFUNDED",
                fulfillment="FULFILLED",
                total="64.90",
                address=porto,
                return_status="RETURNED",
                lines=[
                    _line(
                        7, "Merino Crew Sweater", "MCS-M-NVY", 1, price="64.90", variant="M / Navy"
                    )
                ],
                fulfillments=[
                    _fulfillment(
                        5110000000036,
                        "#1036-F1",
                        "DELIVERED",
                        created=at(-29),
                        company="CTT",
                        number="RR000000036PT",
                        url="https://www.ctt.pt/feapl_2/app/open/objectSearch/objectSearch.jspx?objects=RR000000036PT",
                        in_transit=at(-28),
                        delivered=at(-26, hour=11),
                    )
                ],
                fulfillment_orders=[_fo(7, "CLOSED")],
                refunds=[
                    {
                        "id": _gid("Refund", 2),
                        "createdAt": at(-20),
                        "note": "Returned",
                        "totalRefundedSet": _money("64.90"),
                    }
                ],
            ),
        ],
    )
    chen = _customer(7208461485000, "Chen", "Wei", CHEN, [])
    return [alice, bruno, chen]


def _variant(
    n: int,
    title: str,
    sku: str,
    qty: int | None,
    *,
    policy: str = "DENY",
    tracked: bool = True,
    available: bool | None = None,
) -> dict[str, Any]:
    return {
        "id": _gid("ProductVariant", n),
        "title": title,
        "displayName": title,
        "sku": sku,
        "barcode": None,
        "availableForSale": (qty or 0) > 0 or policy == "CONTINUE" or not tracked
        if available is None
        else available,
        "inventoryQuantity": qty,
        "sellableOnlineQuantity": max(qty or 0, 0),
        "inventoryPolicy": policy,
        "price": "0.00",
        "inventoryItem": {"id": _gid("InventoryItem", n), "sku": sku, "tracked": tracked},
    }


def products() -> list[dict[str, Any]]:
    """Fresh copies of the seeded products, each with its variants."""

    def product(n: int, title: str, status: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": _gid("Product", n),
            "title": title,
            "handle": title.lower().replace(" ", "-"),
            "status": status,
            "vendor": "Acme",
            "productType": "",
            "tracksInventory": True,
            "totalInventory": sum(max(v["inventoryQuantity"] or 0, 0) for v in variants),
            "hasOnlyDefaultVariant": len(variants) == 1,
            "onlineStoreUrl": None,
            "variants": variants,
        }

    return [
        product(
            1,
            "Merino Crew Sweater",
            "ACTIVE",
            [
                _variant(11, "M / Navy", "MCS-M-NVY", 4),
                _variant(12, "L / Navy", "MCS-L-NVY", 0),
                _variant(13, "XL / Navy", "MCS-XL-NVY", 0, policy="CONTINUE"),
            ],
        ),
        product(2, "Wool Beanie", "ACTIVE", [_variant(21, "Default Title", "WB-001", 12)]),
        product(3, "Espresso Grinder", "ACTIVE", [_variant(31, "Default Title", "EG-200", 0)]),
        product(4, "Prototype Grinder", "DRAFT", [_variant(41, "Default Title", "PG-1", 50)]),
        product(5, 'The "Cozy" Scarf', "ACTIVE", [_variant(51, "Default Title", 'SC-"1\\', 3)]),
        product(
            6,
            "Gift Card",
            "ACTIVE",
            [_variant(61, "Default Title", "GIFT-50", None, tracked=False)],
        ),
    ]
