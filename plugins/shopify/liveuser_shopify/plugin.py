"""The Shopify back-end: the verified customer's recent orders, and two tools.

Shopify verifies nobody: this plugin owns no channel. It answers
``fetch_user_data`` for users a connector (or the host channel) verified,
with one Admin GraphQL request: the customer found by the verified email
(``customerByIdentifier``) with their most recent orders, line items,
fulfillments, tracking and delivery estimates. ``order_status`` reads one
order by number inside that same customer (one request) and ``check_stock``
reads products and variants by title or SKU (one request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from liveuser import (
    ConfigError,
    Plugin,
    Tool,
    ToolCall,
    UserData,
    VerifiedUser,
    hookimpl,
)
from liveuser.webhook_routes import webhook_route
from liveuser.webhooks import SeenDeliveries

from .settings import ShopifySettings
from .webhooks import ShopifyDelivery, verify_webhook

if TYPE_CHECKING:
    from .client import ShopifyClient

# The answer models (.orders, .stock) and the actions (.actions) are imported by
# the first query or tool list that needs them: loading and building the plugin
# does not pay for their dozens of pydantic models.

ORDER_NAME_PATTERN = r"^\s*#?[A-Za-z0-9][A-Za-z0-9-]{0,31}\s*$"


class OrderNumber(BaseModel):
    """Arguments of ``order_status``."""

    model_config = ConfigDict(extra="forbid")

    order_number: str = Field(
        pattern=ORDER_NAME_PATTERN,
        description="The order number the customer gave, e.g. #1042 or 1042.",
    )


def quote(value: str) -> str:
    """``value`` as one quoted term of Shopify's search syntax (``\\`` and ``"`` escaped)."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ShopifyPlugin(Plugin[ShopifySettings]):
    """Orders, delivery, tracking and stock for the verified customer, from Shopify."""

    name: ClassVar[str] = "shopify"
    settings_model = ShopifySettings

    def __init__(self, settings: ShopifySettings | None = None) -> None:
        super().__init__(settings)
        self._client: ShopifyClient | None = None
        self._seen = SeenDeliveries(ttl=86_400.0)

    @property
    def client(self) -> ShopifyClient:
        if self._client is None:
            from .client import ShopifyClient  # with the HTTP library: on first use

            self._client = ShopifyClient(self.http, self.settings, self.runtime.max_response_bytes)
        return self._client

    # -- user data -----------------------------------------------------------

    @hookimpl
    async def fetch_user_data(self, user: VerifiedUser) -> UserData | None:
        """The customer's most recent orders; None when Shopify has no such customer."""
        from .orders import customer_of, summary

        data = await self.client.query(
            "LiveUserCustomerOrders",
            {"email": user.email, "orderCount": self.settings.order_count},
        )
        customer = customer_of(data, user.email)
        if customer is None:
            return None
        orders = [summary(o) for o in customer.orders.nodes if _owned(o.customer, customer.id)]
        fields: dict[str, object] = {"customer": customer.display_name or "-"}
        total = customer.number_of_orders
        fields["orders"] = f"{len(orders)} most recent shown" + (
            f" of {total}" if total is not None else ""
        )
        if not orders:
            fields["orders"] = "none in the last 60 days"
        return UserData(
            source=self.name,
            kind="orders",
            fields=fields,
            items=orders,
            private=frozenset({"id"}),
        )

    # -- tools ---------------------------------------------------------------

    @hookimpl
    def register_tools(self) -> list[Tool]:
        from .actions import ShopifyActions
        from .stock import StockQuery

        return [
            Tool(
                name="order_status",
                description="Status, shipments, tracking and delivery estimate of one of the "
                "customer's own orders, by order number.",
                parameters=OrderNumber,
                run=self.order_status,
            ),
            Tool(
                name="check_stock",
                description="Whether a product is in stock, by product name or SKU.",
                parameters=StockQuery,
                run=self.check_stock,
            ),
            # Offered to the model only once the tenant enables them ([tenants.x.actions]).
            *ShopifyActions(self).all(),
        ]

    async def order_status(self, call: ToolCall) -> UserData | None:
        """One order of the silo's user; None (not found) for anyone else's or none."""
        from .orders import customer_of, same_order_name, summary

        assert isinstance(call.arguments, OrderNumber)
        wanted = call.arguments.order_number.strip()
        name = f"#{wanted}" if wanted.isdigit() else wanted
        email = call.user.email
        data = await self.client.query(
            "LiveUserOrderByNumber", {"email": email, "q": f"name:{quote(name)}"}
        )
        customer = customer_of(data, email)
        if customer is None:
            return None
        for order in customer.orders.nodes:
            if same_order_name(order.name, wanted) and _owned(order.customer, customer.id):
                return UserData(
                    source=self.name,
                    kind="order",
                    items=[summary(order)],
                    private=frozenset({"id"}),
                )
        return None

    async def check_stock(self, call: ToolCall) -> str:
        from .stock import StockQuery, search_terms, stock_answer

        assert isinstance(call.arguments, StockQuery)
        wanted = call.arguments.product.strip()
        product_query, variant_query = search_terms(wanted, quote)
        data = await self.client.query(
            "LiveUserCheckStock", {"productQuery": product_query, "variantQuery": variant_query}
        )
        return stock_answer(data, wanted, show_counts=self.settings.show_stock_counts)

    # -- webhooks ------------------------------------------------------------

    def webhook_routes(self) -> Sequence[Any]:
        """``POST /`` (under ``/webhooks/shopify/<tenant>/`` in ``liveuser serve``):
        deliveries checked by :meth:`receive_webhook`, answered with their
        ``{"topic", "webhook_id"}`` only, never their payload."""

        def handle(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
            delivery = self.receive_webhook(headers, body)
            return {"topic": delivery.topic, "webhook_id": delivery.webhook_id}

        return [webhook_route("/", handle)]

    def receive_webhook(self, headers: Mapping[str, str], body: bytes) -> ShopifyDelivery:
        """Verify a Shopify webhook delivery (HMAC of the raw body, id not seen before).

        Raises :class:`liveuser.WebhookError` for a forged, altered or replayed
        delivery and :class:`liveuser.ConfigError` without a client secret.
        """
        secrets = [
            s.get_secret_value()
            for s in (self.settings.client_secret, self.settings.previous_client_secret)
            if s is not None
        ]
        if not secrets:
            raise ConfigError(f"tenant {self.tenant}: shopify client_secret is not set")
        domain = f"{self.settings.shop}.myshopify.com" if self.settings.shop else None
        return verify_webhook(
            secrets, headers, body, seen=self._seen, shop_domain=domain, namespace=self.tenant
        )


def _owned(ref: object, customer_id: str) -> bool:
    return getattr(ref, "id", None) == customer_id
