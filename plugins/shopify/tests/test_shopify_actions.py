"""Order actions over the fake shop: proposed by the model, confirmed by the customer, once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import HOST_KEY_ID, HOST_SECRET, Fake, host_conversation

from liveuser import AWAITING, NOT_FOUND, Conversation, PendingConfirmation, Pipeline
from liveuser import confirm as confirm_action
from liveuser.actions import Action, ActionRun, State, recover
from liveuser.adapters import tool_definitions
from liveuser.host import HostConnector
from liveuser.testing import PluginHarness
from liveuser_shopify import ShopifyPlugin
from liveuser_shopify.actions import CANCEL, CHANGE_ADDRESS, REFUND
from liveuser_shopify.fake import fake_settings, seed

ALL = [CHANGE_ADDRESS, CANCEL, REFUND]
NEW_ADDRESS = {
    "order_number": "#1045",
    "address1": "5 Avenida da Liberdade",
    "city": "Lisboa",
    "zip": "1250-096",
    "country_code": "PT",
}

Build = Callable[..., Pipeline]


@pytest.fixture
async def build(tmp_path: Path, fake: Fake) -> AsyncIterator[Build]:
    """Pipelines whose tenant has the given action policy; all actions on by default."""
    async with PluginHarness(tmp_path, [HostConnector, ShopifyPlugin]) as harness:

        def factory(**policy: Any) -> Pipeline:
            policy.setdefault("enabled", ALL)
            policy.setdefault("refund_limit", "100.00")
            return harness.build(
                host_keys={HOST_KEY_ID: HOST_SECRET},
                plugins={"shopify": fake_settings(fake.url)},
                actions=policy,
            ).pipeline

        yield factory


async def propose(
    pipeline: Pipeline, conversation: Conversation, action: str, **args: Any
) -> tuple[str, PendingConfirmation | None]:
    result = await pipeline.call_tool_result(conversation, "m1", f"c-{action}", action, args)
    return result.text, result.pending


def applied(fake: Fake) -> list[tuple[str, str]]:
    return list(fake.app.state.shop.applied)


def order(fake: Fake, gid: str) -> dict[str, Any]:
    found = fake.app.state.shop.find_order(gid)
    assert found is not None
    return found[0]  # type: ignore[no-any-return]


BRUNO_UNFULFILLED = "gid://shopify/Order/5850000000045"
BRUNO_PARTIAL = "gid://shopify/Order/5848000000040"


async def test_address_change_proposed_confirmed_executed_and_read_back(
    build: Build, fake: Fake
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-a")
    text, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert text == AWAITING
    assert pending is not None and pending.confirmation_id not in text
    assert pending.summary == (
        "Change the shipping address of order #1045 (Espresso Grinder × 1) from "
        "1 Rua Porto, 69002 Porto, PT to 5 Avenida da Liberdade, 1250-096 Lisboa, PT."
    )
    assert applied(fake) == []  # proposing changes nothing
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.executed, result.message
    assert result.message == "Order #1045 now ships to 5 Avenida da Liberdade, 1250-096 Lisboa, PT."
    assert applied(fake) == [("orderUpdate", BRUNO_UNFULFILLED)]
    assert order(fake, BRUNO_UNFULFILLED)["shippingAddress"]["city"] == "Lisboa"
    record = await pipeline.action_store.get(pending.confirmation_id)
    assert record is not None and record.state is State.executed
    assert record.identity_hash == pipeline.ledger.identity_hash(seed.BRUNO)
    assert [s for s, _ in await pipeline.action_store.events(record.confirmation_id)] == [
        "proposed",
        "confirmed",
        "executing",
        "executed",
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        {**NEW_ADDRESS, "confirm": True},
        {**NEW_ADDRESS, "confirmation_id": "guessed"},
        {**NEW_ADDRESS, "confirmed": "yes", "approve": True},
    ],
)
async def test_the_model_cannot_confirm_by_itself(
    build: Build, fake: Fake, arguments: dict[str, Any]
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-b")
    text, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **arguments)
    assert pending is None and text.startswith(f"Invalid arguments for {CHANGE_ADDRESS}")
    text, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert text == AWAITING and pending is not None
    # A tool that would confirm does not exist; an id the model guesses confirms nothing.
    for name in ("confirm", "confirm_action", "liveuser_confirm"):
        said = await pipeline.call_tool(bruno, "m2", f"c-{name}", name, {"id": "x"})
        assert said.startswith("Unknown tool")
    refused = await confirm_action(bruno, "guessed-by-the-model", pipeline=pipeline)
    assert refused.status == "refused" and refused.message == "No such confirmation."
    assert applied(fake) == []


async def test_a_replayed_confirmation_is_refused(build: Build, fake: Fake) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-c")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    assert (await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)).executed
    again = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert again.status == "refused"
    assert again.message == "This confirmation was already used: the change was made."
    assert len(applied(fake)) == 1


async def test_an_expired_confirmation_is_refused(build: Build, fake: Fake) -> None:
    pipeline = build(confirmation_ttl_seconds=60)
    bruno = host_conversation(seed.BRUNO, "chat-d")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    store = pipeline.action_store
    real = store.clock
    store.clock = lambda: real() + timedelta(seconds=61)
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "refused"
    assert result.message == "This confirmation has expired; ask for the change again."
    assert applied(fake) == []


async def test_a_confirmation_from_another_conversation_is_refused(
    build: Build, fake: Fake
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-e")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    for other in (host_conversation(seed.BRUNO, "chat-other"), host_conversation(seed.ALICE)):
        result = await confirm_action(other, pending.confirmation_id, pipeline=pipeline)
        assert result.status == "refused"
        assert result.message == "This confirmation belongs to another conversation."
    assert applied(fake) == []


async def test_a_confirmation_for_another_person_in_the_same_conversation_is_refused(
    build: Build, fake: Fake
) -> None:
    pipeline = build()
    _, pending = await propose(
        pipeline, host_conversation(seed.BRUNO, "chat-f"), CHANGE_ADDRESS, **NEW_ADDRESS
    )
    assert pending is not None
    alice_now = host_conversation(seed.ALICE, "chat-f")
    result = await confirm_action(alice_now, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "refused" and "another customer" in result.message
    assert applied(fake) == []


async def test_changed_arguments_need_a_new_confirmation(build: Build, fake: Fake) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-g")
    _, first = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    _, second = await propose(pipeline, bruno, CHANGE_ADDRESS, **{**NEW_ADDRESS, "city": "Faro"})
    assert first is not None and second is not None and "Faro" in second.summary
    old = await confirm_action(bruno, first.confirmation_id, pipeline=pipeline)
    assert old.status == "refused" and "replaced by a newer proposal" in old.message
    assert applied(fake) == []
    # A stored record whose arguments were altered no longer matches its binding.
    _, third = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert third is not None
    with sqlite3.connect(pipeline.action_store.path) as db:
        db.execute(
            "UPDATE action_confirmations SET arguments = replace(arguments, 'Lisboa', 'Evora')"
            " WHERE confirmation_id = ?",
            (third.confirmation_id,),
        )
    db.close()
    tampered = await confirm_action(bruno, third.confirmation_id, pipeline=pipeline)
    assert tampered.status == "refused" and "does not match" in tampered.message
    assert applied(fake) == []


async def test_a_record_that_changed_since_the_summary_needs_a_new_confirmation(
    build: Build, fake: Fake
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-h")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    order(fake, BRUNO_UNFULFILLED)["shippingAddress"] = {
        **order(fake, BRUNO_UNFULFILLED)["shippingAddress"],
        "city": "Braga",
    }
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "refused" and "changed since" in result.message
    assert applied(fake) == []


async def test_a_double_confirmation_executes_once(build: Build, fake: Fake) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-i")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    results = await asyncio.gather(
        *(confirm_action(bruno, pending.confirmation_id, pipeline=pipeline) for _ in range(5))
    )
    assert sorted(r.status for r in results) == ["executed"] + ["refused"] * 4
    assert applied(fake) == [("orderUpdate", BRUNO_UNFULFILLED)]


async def test_another_customers_order_answers_as_not_found(build: Build, fake: Fake) -> None:
    pipeline = build()
    alice = host_conversation(seed.ALICE, "chat-j")
    for action, args in (
        (CHANGE_ADDRESS, NEW_ADDRESS),
        (CANCEL, {"order_number": "#1045"}),
        (REFUND, {"order_number": "#1040"}),
    ):
        theirs, pending = await propose(pipeline, alice, action, **args)
        missing, _ = await propose(pipeline, alice, action, **{**args, "order_number": "#9999"})
        assert pending is None and theirs == missing == NOT_FOUND
    assert applied(fake) == []


async def test_userErrors_leave_no_partial_state_and_say_why(build: Build, fake: Fake) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-k")
    _, pending = await propose(
        pipeline, bruno, CHANGE_ADDRESS, **{**NEW_ADDRESS, "country_code": "ZZ"}
    )
    assert pending is not None
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "failed"
    assert (
        result.message
        == "Nothing was changed: Shopify refused the change: Country is not supported"
    )
    assert applied(fake) == []
    assert order(fake, BRUNO_UNFULFILLED)["shippingAddress"]["city"] == "Porto"
    record = await pipeline.action_store.get(pending.confirmation_id)
    assert record is not None and record.state is State.failed


@pytest.mark.parametrize("fault", ["500", "503"])
async def test_a_5xx_on_the_write_leaves_no_partial_state(
    build: Build, fake: Fake, fault: str
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-l")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    fake.app.state.mutation_faults = [fault, fault]
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.status == "failed"
    assert result.message == "Nothing was changed (the order's shipping address is unchanged)."
    assert applied(fake) == [] and fake.app.state.mutation_faults == [fault]  # never retried
    assert order(fake, BRUNO_UNFULFILLED)["shippingAddress"]["city"] == "Porto"


async def test_a_lost_answer_after_the_write_is_read_back_as_done(build: Build, fake: Fake) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-m")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    fake.app.state.mutation_faults = ["500-after"]
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.executed and len(applied(fake)) == 1


async def test_a_crash_between_execution_and_recording_does_not_execute_twice(
    build: Build, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = build()
    bruno = host_conversation(seed.BRUNO, "chat-n")
    _, pending = await propose(pipeline, bruno, CHANGE_ADDRESS, **NEW_ADDRESS)
    assert pending is not None
    store = pipeline.action_store
    real_move = store.move

    async def crash_on_recording(
        cid: str, old: State, new: State, detail: str | None = None
    ) -> bool:
        if old is State.executing:
            raise KeyboardInterrupt  # the process dies before the outcome is written
        return await real_move(cid, old, new, detail)

    monkeypatch.setattr(store, "move", crash_on_recording)
    with pytest.raises(KeyboardInterrupt):
        await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    monkeypatch.undo()
    assert applied(fake) == [("orderUpdate", BRUNO_UNFULFILLED)]
    record = await store.get(pending.confirmation_id)
    assert record is not None and record.state is State.executing
    # The customer presses again: refused, nothing sent.
    again = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert again.status == "refused"
    # A fresh process (its own store over the same file) recovers by reading back.
    fresh = build()
    fresh.ledger = pipeline.ledger
    fresh._action_store = None
    results = await recover(fresh, older_than=0)  # no other process could hold it
    assert [r.status for r in results] == ["executed"]
    assert applied(fake) == [("orderUpdate", BRUNO_UNFULFILLED)]
    settled = await fresh.action_store.get(pending.confirmation_id)
    assert settled is not None and settled.state is State.executed


async def test_cancel_polls_the_job_before_reading_back(build: Build, fake: Fake) -> None:
    pipeline = build(refund_limit="200.00")
    fake.app.state.shop.job_polls = 2
    bruno = host_conversation(seed.BRUNO, "chat-o")
    text, pending = await propose(pipeline, bruno, CANCEL, order_number="1045")
    assert text == AWAITING and pending is not None
    assert pending.summary == (
        "Cancel order #1045 (Espresso Grinder × 1) and refund EUR 129.00 to the original "
        "payment method. This cannot be undone."
    )
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.executed, result.message
    assert order(fake, BRUNO_UNFULFILLED)["cancelledAt"] is not None
    assert fake.app.state.log.count("LiveUserJob") == 2


async def test_cancel_refuses_a_shipped_order_with_the_reason(build: Build, fake: Fake) -> None:
    pipeline = build(refund_limit="200.00")
    text, pending = await propose(
        pipeline, host_conversation(seed.ALICE, "chat-p"), CANCEL, order_number="#1042"
    )
    assert pending is None
    assert text == (
        f"The action {CANCEL} is not possible for a record in state FULFILLED "
        "(possible: UNFULFILLED)."
    )


async def test_refund_of_chosen_items_within_the_limit(build: Build, fake: Fake) -> None:
    pipeline = build(refund_limit="30.00", accepted_states={REFUND: ["PARTIALLY_FULFILLED"]})
    bruno = host_conversation(seed.BRUNO, "chat-q")
    _, pending = await propose(
        pipeline, bruno, REFUND, order_number="#1040", items=[{"item": "WB-001", "quantity": 1}]
    )
    assert pending is not None
    assert pending.summary == (
        "Refund EUR 24.90 for order #1040 (Wool Beanie × 1) to the original payment method."
    )
    result = await confirm_action(bruno, pending.confirmation_id, pipeline=pipeline)
    assert result.executed, result.message
    assert result.message == ("Refunded EUR 24.90 for order #1040 to the original payment method.")
    assert applied(fake) == [("refundCreate", BRUNO_PARTIAL)]
    assert order(fake, BRUNO_PARTIAL)["displayFinancialStatus"] == "PARTIALLY_REFUNDED"


async def test_refund_over_the_limit_is_refused_with_the_reason(build: Build, fake: Fake) -> None:
    pipeline = build(refund_limit="50.00")
    text, pending = await propose(
        pipeline, host_conversation(seed.BRUNO, "chat-r"), REFUND, order_number="#1040"
    )
    assert pending is None
    assert text == (
        "The amount 89.80 is over this business's limit of 50.00 for refunds made in a "
        "support conversation; a member of staff must handle it."
    )


async def test_refund_replay_of_the_vendor_call_creates_one_refund(
    build: Build, fake: Fake
) -> None:
    """The idempotency key reaches Shopify: the same refund sent twice is made once."""
    pipeline = build(refund_limit="100.00")
    bruno = host_conversation(seed.BRUNO, "chat-s")
    _, pending = await propose(pipeline, bruno, REFUND, order_number="#1040")
    assert pending is not None
    record = await pipeline.action_store.get(pending.confirmation_id)
    assert record is not None
    tools = await pipeline.registry.tenant().tools()
    action = tools[REFUND]
    assert isinstance(action, Action)
    run = ActionRun(pipeline.registry.tenant(), record.target, record.idempotency_key)
    first, second = await action.execute(run), await action.execute(run)
    assert first.done and second.done
    assert applied(fake) == [("refundCreate", BRUNO_PARTIAL)]


async def test_a_disabled_action_is_neither_offered_nor_run(build: Build, fake: Fake) -> None:
    pipeline = build(enabled=[CHANGE_ADDRESS])
    names = [d.name for d in await tool_definitions(pipeline, "default")]
    assert CHANGE_ADDRESS in names and CANCEL not in names and REFUND not in names
    text, pending = await propose(
        pipeline, host_conversation(seed.BRUNO, "chat-t"), CANCEL, order_number="#1045"
    )
    assert pending is None and text == f"The action {CANCEL} is not enabled for this business."
