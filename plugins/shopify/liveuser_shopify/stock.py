"""``check_stock``: product availability by a product name or SKU the model passes.

Not user data, so an argument is fine; but it goes into Shopify's search
syntax, so it is quoted and escaped as one term, and the results are checked
again here: a product counts only when it is active and its title holds
every word asked for, a variant only when its SKU is exactly the one asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .client import ShopifyError
from .orders import _Model, _Nodes

MAX_WORDS = 8

NOTHING = "No product matching that name or SKU was found in the shop."


class StockQuery(BaseModel):
    """Arguments of ``check_stock``."""

    model_config = ConfigDict(extra="forbid")

    product: str = Field(
        min_length=1,
        max_length=100,
        description="A product name (or part of it) or an exact SKU.",
    )


class _Tracked(_Model):
    tracked: bool = True


class _ProductRef(_Model):
    id: str
    title: str
    status: str


class Variant(_Model):
    id: str
    title: str
    sku: str | None = None
    available_for_sale: bool
    inventory_quantity: int | None = None
    inventory_policy: str
    inventory_item: _Tracked | None = None
    product: _ProductRef | None = None


class Product(_Model):
    id: str
    title: str
    status: str
    variants: _Nodes[Variant]


class _Answer(_Model):
    products: _Nodes[Product]
    product_variants: _Nodes[Variant]


def search_terms(wanted: str, quote: Callable[[str], str]) -> tuple[str, str]:
    """The ``products`` and ``productVariants`` search strings for ``wanted``.

    Each word of a product name is its own quoted ``title:`` term (ANDed), so
    word order and words in between do not matter; the SKU is one quoted term.
    """
    titles = " ".join(f"title:{quote(word)}" for word in wanted.split()[:MAX_WORDS])
    return f"{titles} status:active", f"sku:{quote(wanted)}"


def _words(text: str) -> list[str]:
    return text.casefold().split()


def availability(v: Variant, show_counts: bool) -> str:
    tracked = v.inventory_item.tracked if v.inventory_item else True
    count = v.inventory_quantity
    if v.available_for_sale and (not tracked or (count is not None and count > 0)):
        return f"in stock ({count} units)" if show_counts and tracked else "in stock"
    if v.available_for_sale and v.inventory_policy == "CONTINUE":
        return "out of stock, can be ordered (backorder)"
    return "out of stock"


def _label(title: str, variant: Variant) -> str:
    if variant.title and variant.title != "Default Title":
        return f"{title} ({variant.title})"
    return title


def stock_answer(data: dict[str, Any], wanted: str, *, show_counts: bool) -> str:
    try:
        answer = _Answer.model_validate(data)
    except ValidationError:
        raise ShopifyError("Shopify answered products in an unexpected shape") from None
    words = _words(wanted)
    lines: dict[str, str] = {}
    for product in answer.products.nodes:
        title = _words(product.title)
        if product.status != "ACTIVE" or not all(any(w in t for t in title) for w in words):
            continue
        for variant in product.variants.nodes:
            lines[variant.id] = (
                f"{_label(product.title, variant)}: {availability(variant, show_counts)}"
            )
    for variant in answer.product_variants.nodes:
        parent = variant.product
        if parent is None or parent.status != "ACTIVE" or variant.id in lines:
            continue
        if (variant.sku or "").casefold() != wanted.casefold():
            continue
        lines[variant.id] = (
            f"{_label(parent.title, variant)} [SKU {variant.sku}]: "
            f"{availability(variant, show_counts)}"
        )
    if not lines:
        return NOTHING
    return "\n".join(lines.values())
