"""liveuser.bind: one conversation in an OpenAI or Anthropic agent loop.

The loops are the examples in ``examples/``, driven with the official SDK
clients against scripted model servers on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from anthropic import AsyncAnthropic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import AsyncOpenAI
from pydantic import BaseModel
from starlette.applications import Starlette

import liveuser
from liveuser import (
    GET_USER_DATA,
    NOT_FOUND,
    BackendError,
    Plugin,
    Tool,
    ToolCall,
    UserData,
    bind,
    hookimpl,
)
from liveuser.sandbox import ANN_EMAIL, BOB_EMAIL, CHLOE_EMAIL, DOWN_EMAIL, serve
from liveuser.tools import _IDENTITY_FIELD

from .conftest import PipelineFactory, host_conversation
from .scripted_models import ScriptedModel, anthropic_app, openai_app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ANN_ONLY = "1Z999AA10123456784"  # Ann's UPS tracking number in the sandbox
BOB_ONLY = ("Bob Martins", "9400111899223344556677", "B-20931")


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"liveuser_examples_{name}", EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class OrderArgs(BaseModel):
    number: str


ORDERS = {"A-10452": ANN_EMAIL, "B-20931": BOB_EMAIL}


class Orders(Plugin):  # type: ignore[type-arg]
    """A plugin tool: an order by number, shown only to its owner."""

    name: ClassVar[str] = "orders"

    @hookimpl
    def register_tools(self) -> list[Tool]:
        async def lookup(call: ToolCall) -> UserData | None:
            args = call.arguments
            assert isinstance(args, OrderArgs)
            if ORDERS.get(args.number) != call.user.email:
                return None
            return UserData(source=self.name, kind="order", fields={"number": args.number})

        return [
            Tool(name="order", description="An order by number", parameters=OrderArgs, run=lookup)
        ]


# The scripted model asks for the customer's data, then tries to get Bob's by
# naming him, then Bob's order by its number, then a narrowed lookup.
SCRIPT = [
    (GET_USER_DATA, {}),
    (GET_USER_DATA, {"email": BOB_EMAIL, "customer_id": "bob", "sources": ["user_data_api"]}),
    ("order", {"number": "B-20931", "customer_email": BOB_EMAIL}),
    ("order", {"number": "A-10452"}),
]


@pytest.fixture(scope="module")
def openai_model() -> Iterator[tuple[str, ScriptedModel]]:
    script = ScriptedModel(calls=list(SCRIPT))
    with serve(openai_app(script)) as url:
        yield f"{url}/v1", script


@pytest.fixture(scope="module")
def anthropic_model() -> Iterator[tuple[str, ScriptedModel]]:
    script = ScriptedModel(calls=list(SCRIPT))
    with serve(anthropic_app(script)) as url:
        yield url, script


def _assert_only_anns_data(results: list[str], answer: str) -> None:
    mine, named_bob, bobs_order, my_order = results
    assert ANN_ONLY in mine and ANN_ONLY in answer
    assert named_bob == mine  # naming another customer changed nothing
    assert bobs_order == NOT_FOUND
    assert "A-10452" in my_order
    for text in (*results, answer):
        for secret in BOB_ONLY[:2]:
            assert secret not in text


async def _assert_metered_once_each(pipeline: liveuser.Pipeline, ids: list[str]) -> None:
    rows = await pipeline.ledger.audit(ANN_EMAIL)
    recorded = [r.tool_call_id for r in rows if r.tool_call_id]
    assert sorted(recorded) == sorted(ids)
    usage = await pipeline.ledger.usage("default")
    assert sum(u.messages for u in usage) == 1
    over = any(r.chars > 1500 for r in rows)
    assert sum(u.charged_messages for u in usage) == int(over)  # once, and only if due


async def test_bind_gives_its_conversations_context_and_one_set_of_definitions(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Orders())
    ann = host_conversation(ANN_EMAIL)
    binding = await bind(ann, pipeline=pipeline, message_id="m1")
    assert ANN_ONLY in binding.system_prompt and "Bob" not in binding.system_prompt
    assert binding.context.key == ann.key
    assert [d.name for d in binding.definitions] == [GET_USER_DATA, "order"]
    sources = binding.definitions[0].parameters["properties"]["sources"]
    assert sources["items"]["enum"] == ["user_data_api"]
    chat, responses, anthropic = (
        binding.openai_chat_tools(),
        binding.openai_responses_tools(),
        binding.anthropic_tools(),
    )
    for d, c, r, a in zip(binding.definitions, chat, responses, anthropic, strict=True):
        assert c == {
            "type": "function",
            "function": {"name": d.name, "description": d.description, "parameters": d.parameters},
        }
        assert r["type"] == "function" and r["name"] == d.name and r["parameters"] == d.parameters
        assert a == {"name": d.name, "description": d.description, "input_schema": d.parameters}
        assert d.parameters["type"] == "object"
        for field in d.parameters["properties"]:
            assert not _IDENTITY_FIELD.search(field), field


async def test_openai_chat_completions_loop_gives_only_the_verified_users_data(
    make_pipeline: PipelineFactory,
    sandbox: tuple[str, Starlette],
    openai_model: tuple[str, ScriptedModel],
) -> None:
    url, script = openai_model
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Orders())
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    example = _example("openai_agent.py")
    start = len(script.requests)
    async with AsyncOpenAI(base_url=url, api_key="scripted") as client:
        answer = await example.chat_turn(client, binding, "Where is my order?", model="m")
    first, second = script.requests[start:]
    assert [t["function"]["name"] for t in first["tools"]] == [GET_USER_DATA, "order"]
    assert ANN_ONLY in first["messages"][0]["content"]
    results = [m["content"] for m in second["messages"] if m["role"] == "tool"]
    _assert_only_anns_data(results, answer)
    ids = [m["tool_call_id"] for m in second["messages"] if m["role"] == "tool"]
    assert len(set(ids)) == 4
    await _assert_metered_once_each(pipeline, ids)


async def test_openai_responses_loop_gives_only_the_verified_users_data(
    make_pipeline: PipelineFactory,
    sandbox: tuple[str, Starlette],
    openai_model: tuple[str, ScriptedModel],
) -> None:
    url, script = openai_model
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Orders())
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    example = _example("openai_agent.py")
    start = len(script.requests)
    async with AsyncOpenAI(base_url=url, api_key="scripted") as client:
        answer = await example.responses_turn(client, binding, "Where is my order?", model="m")
    first, second = script.requests[start:]
    assert [t["name"] for t in first["tools"]] == [GET_USER_DATA, "order"]
    assert ANN_ONLY in first["instructions"]
    outputs = [i for i in second["input"] if i.get("type") == "function_call_output"]
    _assert_only_anns_data([o["output"] for o in outputs], answer)
    await _assert_metered_once_each(pipeline, [o["call_id"] for o in outputs])


async def test_anthropic_messages_loop_gives_only_the_verified_users_data(
    make_pipeline: PipelineFactory,
    sandbox: tuple[str, Starlette],
    anthropic_model: tuple[str, ScriptedModel],
) -> None:
    url, script = anthropic_model
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Orders())
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    example = _example("anthropic_agent.py")
    start = len(script.requests)
    async with AsyncAnthropic(base_url=url, api_key="scripted") as client:
        answer = await example.messages_turn(client, binding, "Where is my order?", model="m")
    first, second = script.requests[start:]
    assert [t["name"] for t in first["tools"]] == [GET_USER_DATA, "order"]
    assert ANN_ONLY in first["system"]
    blocks = [b for b in second["messages"][-1]["content"] if b["type"] == "tool_result"]
    _assert_only_anns_data([b["content"] for b in blocks], answer)
    await _assert_metered_once_each(pipeline, [b["tool_use_id"] for b in blocks])


async def test_a_repeated_tool_call_id_is_recorded_once(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    call = {"id": "call_1", "function": {"name": GET_USER_DATA, "arguments": "{}"}}
    first = await binding.handle_openai_chat(call)
    again = await binding.handle_openai_chat(call)
    assert first == again
    await _assert_metered_once_each(pipeline, ["call_1"])


async def test_unknown_tools_and_malformed_arguments_come_back_as_text(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    unknown = await binding.handle_openai_chat(
        {"id": "c1", "function": {"name": "refund_everyone", "arguments": "{}"}}
    )
    assert unknown == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "Unknown tool 'refund_everyone'.",
    }
    broken = await binding.handle_openai_response(
        {"call_id": "c2", "name": GET_USER_DATA, "arguments": '{"sources": ['}
    )
    assert broken["type"] == "function_call_output" and broken["call_id"] == "c2"
    assert broken["output"].startswith("Invalid arguments for get_user_data")
    wrong_type = await binding.handle_anthropic(
        {"id": "c3", "name": GET_USER_DATA, "input": {"sources": "everything"}}
    )
    assert wrong_type["tool_use_id"] == "c3"
    assert wrong_type["content"].startswith("Invalid arguments for get_user_data: sources")
    nowhere = await binding.call("c4", GET_USER_DATA, {"sources": ["crm"]})
    assert "No source named 'crm'" in nowhere and ANN_ONLY not in nowhere


async def test_a_back_end_that_is_down_is_unavailable_right_now_not_an_exception(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    binding = await bind(host_conversation(DOWN_EMAIL), pipeline=pipeline, message_id="m1")
    result = await binding.handle_anthropic({"id": "t1", "name": GET_USER_DATA, "input": {}})
    assert "user_data_api is unavailable right now" in result["content"]
    assert len(result["content"]) < 400


async def test_an_unverified_conversation_gets_a_refusal_from_every_tool(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    conversation = host_conversation(ANN_EMAIL).model_copy(update={"claims": {}})
    binding = await bind(conversation, pipeline=pipeline, message_id="m1")
    assert "No verified customer data" in binding.system_prompt
    result = await binding.call("t1", GET_USER_DATA, {})
    assert "No verified customer data" in result and ANN_ONLY not in result


async def test_two_bindings_never_share_data(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    ann = await bind(host_conversation(ANN_EMAIL, "shared-id"), pipeline=pipeline, message_id="m")
    bob = await bind(host_conversation(BOB_EMAIL, "other-id"), pipeline=pipeline, message_id="m")
    ann_result = await ann.call("a1", GET_USER_DATA, {"email": BOB_EMAIL})
    bob_result = await bob.call("b1", GET_USER_DATA, {"email": ANN_EMAIL})
    assert ANN_ONLY in ann_result and "Bob Martins" not in ann_result
    assert "Bob Martins" in bob_result and ANN_ONLY not in bob_result
    assert ANN_ONLY not in bob.system_prompt


identity_keys = st.sampled_from(
    ["email", "customer_email", "customer_id", "user", "user_id", "identifier", "account", "for"]
) | st.text(min_size=1, max_size=12).filter(lambda k: k != "sources")
identity_values = (
    st.sampled_from([BOB_EMAIL, CHLOE_EMAIL, "BOB@EXAMPLE.COM", "cus_0042", "bob", "*"])
    | st.emails().map(str)
    | st.integers()
    | st.none()
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=st.dictionaries(identity_keys, identity_values, max_size=4))
async def test_arguments_naming_someone_else_change_nothing(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette], extra: dict[str, Any]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Orders())
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    plain = await binding.call("plain", GET_USER_DATA, {})
    named = await binding.call("named", GET_USER_DATA, json.dumps(extra))
    assert named == plain and ANN_ONLY in plain
    order = await binding.call("order", "order", {"number": "B-20931", **extra})
    assert order in (NOT_FOUND,) or order.startswith("Invalid arguments for order")
    for text in (named, order):
        assert not re.search("Bob Martins|Chloe Durand|B-20931", text)


class Flaky(Plugin):  # type: ignore[type-arg]
    """A plugin tool whose back-end is down."""

    name: ClassVar[str] = "flaky"

    @hookimpl
    def register_tools(self) -> list[Tool]:
        async def stock(call: ToolCall) -> str:
            raise BackendError(self.name, "answered HTTP 503")

        return [Tool(name="stock", description="Stock", parameters=OrderArgs, run=stock)]


async def test_a_plugin_tool_whose_back_end_is_down_returns_short_text(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    pipeline.registry.register(Flaky())
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    reply = await binding.handle_openai_chat(
        {"id": "c1", "function": {"name": "stock", "arguments": '{"number": "1"}'}}
    )
    expected = "stock is unavailable right now (answered HTTP 503); try again later."
    assert reply["content"] == expected


async def test_next_message_meters_a_new_message_of_the_same_conversation(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    ann = host_conversation(ANN_EMAIL)
    first = await bind(ann, pipeline=pipeline, message_id="m1")
    second = await first.next_message("m2")
    assert second.conversation == ann and second.message_id == "m2"
    assert second.definitions == first.definitions
    assert ANN_ONLY in second.system_prompt
    await second.call("t2", GET_USER_DATA, {})
    rows = await pipeline.ledger.audit(ANN_EMAIL)
    assert sorted((r.message_id, r.tool_call_id) for r in rows) == [
        ("m1", ""),
        ("m2", ""),
        ("m2", "t2"),
    ]


async def test_a_call_without_an_id_is_metered_under_one_of_ours(
    make_pipeline: PipelineFactory, sandbox: tuple[str, Starlette]
) -> None:
    pipeline = make_pipeline(user_data_api_url=sandbox[0])
    binding = await bind(host_conversation(ANN_EMAIL), pipeline=pipeline, message_id="m1")
    reply = await binding.handle_openai_chat(
        {"id": "", "function": {"name": "get_user_data", "arguments": "{}"}}
    )
    assert reply["tool_call_id"] == "" and ANN_ONLY in reply["content"]
    rows = await pipeline.ledger.audit(ANN_EMAIL)
    assert [r.tool_call_id[:9] for r in rows if r.tool_call_id] == ["liveuser-"]
