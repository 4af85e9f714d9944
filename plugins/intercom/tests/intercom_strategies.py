"""Hypothesis strategies shared by the connector's tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from liveuser_intercom.fake import seed

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats()
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)

signatures = (
    header_values
    | st.builds(
        lambda s: "sha1=" + s, st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40)
    )
    | st.builds(
        lambda s: "sha256=" + s, st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
    )
)


@st.composite
def conversation_bodies(draw: st.DrawFn) -> Any:
    """Conversation answers that look like Intercom's, with any field twisted or dropped."""
    body: dict[str, Any] = seed.conversation(
        draw(st.sampled_from([seed.EMAIL_VERIFIED, seed.MESSENGER_USER, seed.GROUP]))
    )
    source = body["source"]
    source["type"] = draw(st.sampled_from(["email", "conversation", "sms", None, 7, "EMAIL"]))
    source["delivered_as"] = draw(
        st.sampled_from(["customer_initiated", "automated", None, "", True])
    )
    source["author"] = draw(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["user", "lead", "admin", "bot", None]),
                "id": st.sampled_from([seed.ANN, seed.BOB, "", None, 5]),
                "email": st.sampled_from(["ann@example.com", "x@y.z", "", None, "nope"]),
            }
        )
        | json_values
    )
    body["contacts"] = draw(
        st.sampled_from([body["contacts"], {"contacts": []}, {"contacts": None}, None])
        | json_values
    )
    if draw(st.booleans()):
        body.pop(draw(st.sampled_from(sorted(body))))
    return draw(st.just(body) | json_values)
