"""Hypothesis strategies shared by the HubSpot connector's tests."""

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

addresses = st.sampled_from(
    ["dana.reyes@example.com", "DANA.REYES@example.com", "ann@example.com", "support@shop.example"]
)


@st.composite
def parties(draw: st.DrawFn, field: str) -> dict[str, Any]:
    party: dict[str, Any] = {}
    if draw(st.booleans()):
        party["actorId"] = draw(st.sampled_from(["V-90215536001", "V-90215536002", "A-1", "E-x"]))
    if draw(st.booleans()):
        party[field] = draw(st.sampled_from(["FROM", "ORIGINAL_FROM", "TO", "CC", "BCC", None]))
    if draw(st.booleans()):
        party["deliveryIdentifier"] = {
            "type": draw(st.sampled_from(["HS_EMAIL_ADDRESS", "CHANNEL_SPECIFIC_OPAQUE_ID"])),
            "value": draw(addresses | st.text(max_size=10)),
        }
    return party


@st.composite
def messages(draw: st.DrawFn, thread_id: str = "7319246510") -> dict[str, Any]:
    """Message entries shaped like HubSpot's, with fields twisted or dropped."""
    msg: dict[str, Any] = {
        "type": draw(st.sampled_from(["MESSAGE", "COMMENT", "WELCOME_MESSAGE", "ASSIGNMENT"])),
        "id": draw(st.sampled_from(["m1", "m2", "m3"])),
        "conversationsThreadId": draw(st.sampled_from([thread_id, "1"])),
        "createdAt": draw(st.sampled_from(["2026-11-20T09:14:03.112Z", "2026-11-21T00:00:00Z"])),
        "direction": draw(st.sampled_from(["INCOMING", "OUTGOING", None])),
        "channelId": draw(st.sampled_from(["1002", "1000", "1001"])),
        "senders": draw(st.lists(parties("senderField"), max_size=3)),
        "recipients": draw(st.lists(parties("recipientField"), max_size=3)),
    }
    for key in draw(st.sets(st.sampled_from(sorted(msg)), max_size=2)):
        msg[key] = draw(json_values)
    return msg
