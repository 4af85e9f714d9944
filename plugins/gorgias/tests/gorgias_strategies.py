"""Hypothesis strategies shared by the connector's tests."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from liveuser_gorgias.fake import seed

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats()
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)

_CHANNELS = ["email", "chat", "contact_form", "api", "sms", "EMAIL", "", None, 4, "help-center"]
_VIAS = ["email", "helpdesk", "api", "chat", "rule", None, "Email"]
_ADDRESSES = ["ann@example.com", "ANN@example.com", "mallory@evil.example", "", None, "nope"]


@st.composite
def ticket_bodies(draw: st.DrawFn) -> Any:
    """Ticket answers that look like Gorgias's, with fields twisted or dropped."""
    ticket: dict[str, Any] = copy.deepcopy(seed.TICKETS[seed.EMAIL_VERIFIED])
    first = ticket["messages"][0]
    ticket["channel"] = draw(st.sampled_from(_CHANNELS))
    ticket["via"] = draw(st.sampled_from(_VIAS))
    ticket["from_agent"] = draw(st.sampled_from([False, True, "false", None]))
    ticket["spam"] = draw(st.sampled_from([False, True, 0, None]))
    ticket["deleted_datetime"] = draw(st.sampled_from([None, "2026-11-01T10:00:00+00:00", 0]))
    first["via"] = draw(st.sampled_from(_VIAS))
    first["channel"] = draw(st.sampled_from(_CHANNELS))
    first["from_agent"] = draw(st.sampled_from([False, True, None, "no"]))
    first["source"]["type"] = draw(st.sampled_from(_CHANNELS))
    first["source"]["from"] = draw(
        st.sampled_from([None, {}, {"address": None}])
        | st.builds(lambda a: {"address": a}, st.sampled_from(_ADDRESSES))
    )
    first["source"]["cc"] = draw(
        st.lists(st.builds(lambda a: {"address": a}, st.sampled_from(_ADDRESSES)), max_size=2)
    )
    first["sender"] = draw(st.sampled_from([None, {"id": seed.ANN}, {"id": seed.BOB}, {"id": "x"}]))
    customer = ticket["customer"]
    customer["email"] = draw(st.sampled_from(_ADDRESSES))
    customer["channels"][0]["deleted_datetime"] = draw(st.sampled_from([None, "2026-10-30"]))
    if draw(st.booleans()):
        ticket["customer"] = draw(st.sampled_from([None, {}, {"id": seed.ANN}]))
    if draw(st.booleans()):
        ticket.pop(draw(st.sampled_from(sorted(ticket))))
    return draw(st.just(ticket) | json_values)
