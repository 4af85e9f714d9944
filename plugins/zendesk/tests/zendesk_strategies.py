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
    """Ticket answers that look like Zendesk's, with any field twisted or dropped."""
    ticket: dict[str, Any] = {
        "id": draw(st.sampled_from([1001, 7, "1001", None])),
        "requester_id": draw(st.sampled_from([5001, 5002, "5001", None])),
        "submitter_id": draw(st.sampled_from([5001, 9001, None])),
        "via": draw(
            st.fixed_dictionaries(
                {
                    "channel": st.sampled_from(["email", "web", "api", 4, 0, None, "EMAIL"]),
                    "source": st.none()
                    | st.fixed_dictionaries(
                        {
                            "from": st.none()
                            | st.fixed_dictionaries(
                                {
                                    "address": st.sampled_from(
                                        ["ann@example.com", "x@y.z", "", None, "nope"]
                                    )
                                }
                            )
                        }
                    )
                    | json_values,
                }
            )
            | json_values
        ),
        "from_messaging_channel": draw(st.sampled_from([False, True, "false", None])),
        "email_cc_ids": draw(st.lists(st.sampled_from([5001, 5006]), max_size=2) | json_values),
    }
    if draw(st.booleans()):
        ticket.pop(draw(st.sampled_from(sorted(ticket))))
    user = {
        "id": 5001,
        "email": draw(st.sampled_from(["ann@example.com", "ANN@example.com", None, "", "bad"])),
        "role": draw(st.sampled_from(["end-user", "agent", None])),
        "active": draw(st.sampled_from([True, False, "true", None])),
        "suspended": draw(st.sampled_from([False, True, 0])),
    }
    body: Any = {"ticket": ticket, "users": draw(st.sampled_from([[user], [], None]))}
    return draw(st.just(body) | json_values)
