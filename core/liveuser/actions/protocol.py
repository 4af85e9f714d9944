"""The two steps: the model proposes, the customer confirms through the host.

* :func:`propose` runs when the model calls an action: policy, ownership and
  state are checked inside the silo, the summary is written and a one-time
  confirmation stored; the model reads :data:`~.model.AWAITING` only, the
  host receives the :class:`~.model.PendingConfirmation`.
* :func:`confirm` runs when the host says the customer confirmed. It checks,
  with a reason for each refusal: the conversation verifies again as the same
  person; the confirmation exists, belongs to this conversation, is the latest
  proposal, has not expired, was never used, and its binding still matches;
  the action is still on and prepares today the same summary the customer
  saw. Then it executes once (``executing`` and the idempotency key are
  written first), reads the record back and records the outcome.
* :func:`recover` settles records a crash left in flight by reading back,
  never by executing again; only *stale* ones (:func:`stale_after`), so it is
  safe while other workers execute actions on the same database.

Nothing here raises for what a conversation, a model or a vendor gets wrong:
every such case is a sentence.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import BackendError, LiveuserError
from ..http import deadline, no_retries, remaining
from ..models import Conversation, Refusal, VerifiedUser
from ..render import note
from ..silo import Silo
from ..tools import NOT_FOUND, ToolCall
from .model import (
    AWAITING,
    Action,
    ActionRun,
    Confirmation,
    ConfirmResult,
    Outcome,
    PendingConfirmation,
    Plan,
    State,
    ToolResult,
    binding_hash,
    summary_hash,
)

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..registry import Tenant
    from ..settings import TenantSettings

log = logging.getLogger("liveuser")


def _plan_refusal(action: Action, plan: Plan, tenant: Tenant) -> str | None:
    """Why the tenant's policy refuses ``plan``, or None."""
    policy = tenant.settings.actions
    if not policy.is_enabled(action.name):
        return f"The action {action.name} is not enabled for this business."
    states = policy.states_for(action.name, action.accepts)
    if states and plan.state not in states:
        return (
            f"The action {action.name} is not possible for a record in state {note(plan.state, 40)}"
            f" (possible: {', '.join(states)})."
        )
    if plan.amount is not None:
        limit = policy.refund_limit
        if limit is None:
            return f"The action {action.name} moves money and no refund limit is configured."
        if plan.amount > limit:
            return (
                f"The amount {plan.amount} is over this business's limit of {limit} for "
                "refunds made in a support conversation; a member of staff must handle it."
            )
    return None


async def _prepare(action: Action, silo: Silo, arguments: dict[str, Any]) -> Plan | str:
    """The action's plan for these arguments inside the silo, or the reason there is none."""
    try:
        args = action.parameters.model_validate(arguments)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return f"Invalid arguments for {action.name}: {note(where, 64)}: {note(first['msg'])}."
    settings = silo.tenant.settings
    try:
        with deadline(settings.deadline_seconds):
            async with asyncio.timeout(max(remaining(), 0)):
                plan = await action.prepare(ToolCall(silo=silo, arguments=args))
    except TimeoutError:
        return f"The {action.name} lookup did not answer in time; try again later."
    except BackendError as exc:
        return f"{action.name} is unavailable right now ({note(exc.reason)}); try again later."
    except LiveuserError as exc:
        return f"The {action.name} lookup failed: {note(str(exc))}."
    except Exception:
        log.warning("action %s failed to prepare", action.name, exc_info=True)
        return f"The {action.name} lookup failed."
    if plan is None:
        return NOT_FOUND
    if isinstance(plan, str):
        return plan
    refusal = _plan_refusal(action, plan, silo.tenant)
    return refusal if refusal is not None else plan


async def propose(pipeline: Pipeline, silo: Silo, action: Action, arguments: Any) -> ToolResult:
    """The model's call of ``action``: a stored proposal and the pending confirmation,
    or the reason there is none (as text for the model)."""
    if not silo.tenant.settings.actions.is_enabled(action.name):
        return ToolResult(f"The action {action.name} is not enabled for this business.")
    if not isinstance(arguments, Mapping):
        return ToolResult(f"Invalid arguments for {action.name}: expected an object.")
    args = dict(arguments)
    planned = await _prepare(action, silo, args)
    if isinstance(planned, str):
        return ToolResult(planned)
    store = pipeline.action_store
    key = silo.conversation
    validated = action.parameters.model_validate(args).model_dump(mode="json")
    expires_at = store.clock() + timedelta(
        seconds=silo.tenant.settings.actions.confirmation_ttl_seconds
    )
    digest = summary_hash(planned.summary)
    identity = pipeline.ledger.identity_hash(silo.user.email)
    record = Confirmation(
        confirmation_id=secrets.token_urlsafe(24),
        tenant=key.tenant,
        channel=key.channel.value,
        conversation_id=key.conversation_id,
        identity_hash=identity,
        action=action.name,
        arguments=validated,
        target=planned.target,
        summary=planned.summary,
        summary_hash=digest,
        expires_at=expires_at,
        binding=binding_hash(
            tenant=key.tenant,
            channel=key.channel.value,
            conversation_id=key.conversation_id,
            identity_hash=identity,
            action=action.name,
            arguments=validated,
            summary_hash=digest,
            expires_at=expires_at,
        ),
        idempotency_key=str(uuid.uuid4()),
        state=State.proposed,
    )
    await store.propose(record)
    pending = PendingConfirmation(
        confirmation_id=record.confirmation_id,
        action=action.name,
        summary=record.summary,
        expires_at=expires_at,
    )
    return ToolResult(AWAITING, pending)


def _refused(cid: str, reason: str) -> ConfirmResult:
    return ConfirmResult(status="refused", message=reason, confirmation_id=cid)


_USED = {
    State.superseded: "This confirmation was replaced by a newer proposal; confirm that one.",
    State.expired: "This confirmation has expired; ask for the change again.",
    State.confirmed: "This confirmation was already used.",
    State.executing: "This confirmation was already used.",
    State.executed: "This confirmation was already used: the change was made.",
    State.failed: "This confirmation was already used: the change failed.",
}


async def confirm(
    conversation: Conversation, confirmation_id: str, *, pipeline: Pipeline
) -> ConfirmResult:
    """Execute the action the customer of ``conversation`` confirmed, once.

    Call it from the host when the customer presses the confirm button (or
    replies to confirm in the channel), never from anything the model says.
    Returns a :class:`ConfirmResult`: ``executed``, ``failed`` (the vendor
    refused or could not be reached; nothing was changed unless the message
    says otherwise) or ``refused`` (with the reason; nothing was attempted).
    """
    cid = str(confirmation_id or "")
    try:
        tenant = pipeline.registry.tenant(conversation.tenant)
    except LiveuserError as exc:
        return _refused(cid, str(exc))
    verdict = await pipeline.verify(conversation)
    if isinstance(verdict, Refusal):
        return _refused(cid, f"The customer is not verified: {verdict.reason}.")
    store = pipeline.action_store
    record = await store.get(cid) if cid else None
    key = conversation.key
    if record is None:
        return _refused(cid, "No such confirmation.")
    if (record.tenant, record.channel, record.conversation_id) != (
        key.tenant,
        key.channel.value,
        key.conversation_id,
    ):
        return _refused(cid, "This confirmation belongs to another conversation.")
    if record.identity_hash != pipeline.ledger.identity_hash(verdict.email):
        return _refused(cid, "This confirmation was made for another customer.")
    if record.state is not State.proposed:
        return _refused(cid, _USED[record.state])
    if record.binding != record.expected_binding() or record.summary_hash != summary_hash(
        record.summary
    ):
        return _refused(cid, "This confirmation does not match what was proposed; ask again.")
    if store.clock() >= record.expires_at:
        await store.move(cid, State.proposed, State.expired)
        return _refused(cid, _USED[State.expired])
    action = await _action(tenant, record.action)
    if action is None:
        return _refused(cid, f"The action {record.action} is not available.")
    silo = Silo(tenant, verdict, key)
    again = await _prepare(action, silo, record.arguments)
    if isinstance(again, str):
        return _refused(cid, f"The change can no longer be made: {again}")
    if again.summary != record.summary or again.target != record.target:
        return _refused(
            cid,
            "The record changed since the customer was shown the summary; ask for the change "
            "again to see what it would do now.",
        )
    if not await store.move(cid, State.proposed, State.confirmed):
        return _refused(cid, _USED[State.confirmed])
    return await _execute(pipeline, tenant, action, record, verdict)


async def _action(tenant: Tenant, name: str) -> Action | None:
    try:
        tools = await tenant.tools()
    except LiveuserError:
        return None
    found = tools.get(name)
    return found if isinstance(found, Action) else None


async def _execute(
    pipeline: Pipeline, tenant: Tenant, action: Action, record: Confirmation, user: VerifiedUser
) -> ConfirmResult:
    store = pipeline.action_store
    cid = record.confirmation_id
    run = ActionRun(tenant, record.target, record.idempotency_key, user)
    if not await store.move(cid, State.confirmed, State.executing):
        return _refused(cid, _USED[State.confirmed])
    seconds = tenant.settings.deadline_seconds
    try:
        with deadline(seconds), no_retries():
            async with asyncio.timeout(max(remaining(), 0)):
                written: Outcome | None = await action.execute(run)
    except Exception as exc:  # the vendor's fault or ours: whether it happened is read back
        reason = exc.reason if isinstance(exc, BackendError) else type(exc).__name__
        log.warning("action %s (%s) failed to execute: %s", action.name, cid, reason)
        written = None
    if written is not None and not written.done:
        await store.move(cid, State.executing, State.failed, written.detail)
        return ConfirmResult("failed", f"Nothing was changed: {written.detail}", cid)
    return await _settle(pipeline, tenant, action, record, executed=written is not None)


async def _read_back(tenant: Tenant, action: Action, record: Confirmation) -> Outcome | None:
    """The vendor's record as read back under the tenant's deadline, or None when it
    could not be read."""
    run = ActionRun(tenant=tenant, target=record.target, idempotency_key=record.idempotency_key)
    try:
        with deadline(tenant.settings.deadline_seconds):
            async with asyncio.timeout(max(remaining(), 0)):
                return await action.read_back(run)
    except Exception as exc:
        reason = exc.reason if isinstance(exc, BackendError) else type(exc).__name__
        log.warning(
            "action %s (%s) could not be read back: %s", action.name, record.confirmation_id, reason
        )
        return None


async def _record_outcome(
    pipeline: Pipeline, cid: str, seen: Outcome, *, executed: bool
) -> tuple[ConfirmResult, bool]:
    """Write what was read back (``executing`` → ``executed`` | ``failed``): the result,
    and whether this call moved the record (a concurrent one may have)."""
    store = pipeline.action_store
    if seen.done:
        moved = await store.move(cid, State.executing, State.executed, seen.detail)
        return ConfirmResult("executed", seen.detail, cid), moved
    detail = seen.detail if executed else f"Nothing was changed ({seen.detail})."
    moved = await store.move(cid, State.executing, State.failed, detail)
    return ConfirmResult("failed", detail, cid), moved


async def _settle(
    pipeline: Pipeline, tenant: Tenant, action: Action, record: Confirmation, *, executed: bool
) -> ConfirmResult:
    """Read the record back and write the outcome: the only way ``executing`` ends."""
    seen = await _read_back(tenant, action, record)
    if seen is None:
        # Unknown: stays `executing`, settled later by recover() (never executed again).
        return ConfirmResult(
            "failed",
            "The change was sent but could not be checked yet; it will not be sent again. "
            "A member of staff will check it.",
            record.confirmation_id,
        )
    result, _ = await _record_outcome(pipeline, record.confirmation_id, seen, executed=executed)
    return result


async def pending_confirmations(
    conversation: Conversation, *, pipeline: Pipeline
) -> list[PendingConfirmation]:
    """The conversation's proposals still waiting for the customer (for hosts that
    poll instead of taking them from the tool result, such as MCP hosts)."""
    records = await pipeline.action_store.pending(
        conversation.tenant, conversation.channel.value, conversation.conversation_id
    )
    return [
        PendingConfirmation(r.confirmation_id, r.action, r.summary, r.expires_at) for r in records
    ]


_LONGEST_DEADLINE = 10.0  # the most TenantSettings.deadline_seconds allows

RECOVERY_MARGIN_SECONDS = 30.0
"""Added to twice a tenant's deadline to make a record stale: the database writes
around the vendor calls, and clock skew between hosts sharing a database."""


def stale_after(settings: TenantSettings | None = None) -> float:
    """Seconds after its last write past which no live process still holds an
    in-flight record of a tenant with ``settings`` (None: the longest deadline
    allowed, for a tenant no longer configured).

    A confirmation moves to ``executing`` just before the vendor is called under
    the tenant's ``deadline_seconds``; the read back that settles it has as long
    again. So a live process settles its record within twice the deadline of
    the last write, and :data:`RECOVERY_MARGIN_SECONDS` covers the rest
    (``deadline_seconds = 10``: 50 seconds)."""
    seconds = _LONGEST_DEADLINE if settings is None else settings.deadline_seconds
    return 2 * seconds + RECOVERY_MARGIN_SECONDS


async def recover(pipeline: Pipeline, *, older_than: float | None = None) -> list[ConfirmResult]:
    """Settle the action records a crash left in flight, by reading back, never by
    executing again. Safe to run at any time and from any number of processes
    sharing the database at once; ``liveuser serve`` runs it in every worker at
    start-up and every minute, ``liveuser actions recover`` on demand.

    Only *stale* records are touched: ``confirmed`` or ``executing`` and last
    written more than ``older_than`` seconds ago, by default their tenant's
    :func:`stale_after` (twice its deadline plus
    :data:`RECOVERY_MARGIN_SECONDS`), longer than any live process holds one:
    a record another worker is executing right now is left to it. Pass a
    smaller age (tests pass 0) only when no process that could be executing
    actions on this database is running.

    ``confirmed`` (the vendor was never called) becomes ``failed``.
    ``executing`` is first claimed (:meth:`~.store.ActionStore.take_over`: of
    concurrent recoveries one takes it), then read back: ``executed`` if the
    change is there, else ``failed``. A record whose tenant or action is no
    longer configured, or that cannot be read back now, stays in flight (and
    is logged) for a later run.

    Returns one result per record *this call* settled; a record settled by a
    concurrent call is in that call's results only.
    """
    store = pipeline.action_store
    now = store.clock()
    results: list[ConfirmResult] = []
    for record in await store.in_flight():
        cid = record.confirmation_id
        try:
            tenant: Tenant | None = pipeline.registry.tenant(record.tenant)
        except LiveuserError:
            tenant = None
        if older_than is not None:
            age = older_than
        else:
            age = stale_after(None if tenant is None else tenant.settings)
        seen_at = record.updated_at
        if seen_at is None or seen_at > now - timedelta(seconds=max(age, 0.0)):
            continue  # fresh: a live process may hold it
        if record.state is State.confirmed:
            detail = "Interrupted before it was sent; nothing was changed."
            if await store.move(cid, State.confirmed, State.failed, detail):
                results.append(ConfirmResult("failed", detail, cid))
            continue
        action = None if tenant is None else await _action(tenant, record.action)
        if tenant is None or action is None:
            log.warning(
                "action record %s (%s of tenant %s) stays executing: the action is not "
                "configured here",
                cid,
                record.action,
                record.tenant,
            )
            continue
        if not await store.take_over(cid, State.executing, seen_at):
            continue  # another recovery took it
        seen = await _read_back(tenant, action, record)
        if seen is None:
            continue  # stays executing, claimed: tried again once it is stale again
        result, moved = await _record_outcome(pipeline, cid, seen, executed=True)
        if moved:
            results.append(result)
    return results
