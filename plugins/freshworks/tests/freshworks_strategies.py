"""Hypothesis strategies shared by the connector's tests."""

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


@st.composite
def ticket_bodies(draw: st.DrawFn) -> Any:
    """Ticket answers that look like Freshdesk's, with any field twisted or dropped."""
    body: dict[str, Any] = {
        "id": draw(st.sampled_from([20, 7, "20", None])),
        "source": draw(st.sampled_from([1, 2, 3, 7, 8, 9, 10, 13, 0, "1", None, True])),
        "requester_id": draw(st.sampled_from([1001, 1002, "1001", None])),
        "spam": draw(st.sampled_from([False, True, None, "false", 0])),
        "deleted": draw(st.sampled_from([False, True, None, "true"])),
        "cc_emails": draw(
            st.lists(st.sampled_from(["friend@example.org", "ANN@example.com", "bad"]), max_size=2)
            | st.none()
            | json_values
        ),
        "requester": draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "id": st.sampled_from([1001, 1002, "1001"]),
                    "email": st.sampled_from(
                        ["ann@example.com", "ANN@Example.com", None, "", "nope"]
                    ),
                }
            )
            | json_values
        ),
    }
    if draw(st.booleans()):
        body.pop(draw(st.sampled_from(sorted(body))))
    return draw(st.just(body) | json_values)


@st.composite
def chat_bodies(draw: st.DrawFn) -> Any:
    """Conversation answers in the current (``user_id``) or older (``users``) shape."""
    body: dict[str, Any] = {
        "conversation_id": draw(st.sampled_from(["c1", "c2", None])),
        "user_id": draw(st.sampled_from(["u1", "u2", None, "", 5])),
        "users": draw(
            st.none()
            | st.lists(
                st.fixed_dictionaries({"id": st.sampled_from(["u1", "u2", "u3"])}), max_size=3
            )
            | json_values
        ),
    }
    if draw(st.booleans()):
        body.pop(draw(st.sampled_from(sorted(body))))
    return draw(st.just(body) | json_values)
