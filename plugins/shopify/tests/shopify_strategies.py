"""Hypothesis strategies shared by the Shopify back-end's tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats()
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)

search_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60
)
"""Anything the model might pass as a product name: quotes, backslashes, colons, OR."""

numbers = st.one_of(st.integers(), st.floats(allow_nan=True), st.none(), st.text(max_size=5))


@st.composite
def throttle_bodies(draw: st.DrawFn) -> Any:
    """GraphQL bodies with ``extensions.cost`` in any shape, sound or twisted."""
    status = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "maximumAvailable": numbers,
                "currentlyAvailable": numbers,
                "restoreRate": numbers,
            },
        )
        | json_values
    )
    cost = draw(
        st.fixed_dictionaries(
            {},
            optional={"requestedQueryCost": numbers, "throttleStatus": st.just(status)},
        )
        | json_values
    )
    return draw(
        st.fixed_dictionaries({"extensions": st.fixed_dictionaries({"cost": st.just(cost)})})
        | json_values
    )


@st.composite
def order_nodes(draw: st.DrawFn) -> Any:
    """Order nodes as Shopify answers them, with any field twisted or dropped."""
    node: dict[str, Any] = {
        "id": draw(st.sampled_from(["gid://shopify/Order/1", None, 5])),
        "name": draw(st.sampled_from(["#1001", "", None])),
        "createdAt": draw(st.sampled_from(["2026-11-01T10:00:00Z", "yesterday", None])),
        "displayFulfillmentStatus": draw(st.sampled_from(["FULFILLED", "UNFULFILLED", None])),
        "lineItems": draw(
            st.sampled_from([{"nodes": []}, {"nodes": [{"title": "X", "quantity": 1}]}, None, []])
        ),
        "fulfillments": draw(
            st.sampled_from([[], [{"status": "SUCCESS", "trackingInfo": [{}]}], None])
        ),
        "customer": draw(st.sampled_from([{"id": "gid://shopify/Customer/1"}, None, {}])),
    }
    extra = draw(
        st.dictionaries(
            st.sampled_from(["refunds", "shippingAddress", "cancelledAt"]), json_values, max_size=2
        )
    )
    node.update(extra)
    return node
