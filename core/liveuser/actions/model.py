"""Actions, their proposals and the one-time confirmation that binds them.

An :class:`Action` is a :class:`~liveuser.tools.Tool` that writes. The
model's call never executes it: it *proposes*. The action's ``prepare``
looks the record up inside the silo (the verified user's own, else the same
answer as for a record that does not exist) and returns a :class:`Plan`: a
plain-language summary of exactly what will change and what ``execute``
needs. liveuser keeps a :class:`Confirmation` bound by :func:`binding_hash`
to (tenant, conversation, verified identity, action, arguments, summary hash,
expiry) and hands the host a :class:`PendingConfirmation` to show the
customer word for word; the model only reads :data:`AWAITING`.

Only the host, when the customer confirms, runs the action
(:func:`liveuser.confirm`): once, under an idempotency key, then reads the
record back (``read_back``) to know what really happened.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ..errors import PluginError
from ..tools import Tool, ToolCall

if TYPE_CHECKING:
    from ..models import VerifiedUser
    from ..registry import Tenant

AWAITING = "Awaiting the customer's confirmation."
"""All the model reads after proposing: never the confirmation id or anything to confirm with."""


@dataclass(frozen=True)
class Plan:
    """What an action would do, as prepared inside the silo.

    ``summary`` is shown to the customer word for word; ``target`` (JSON
    values only) is everything ``execute`` and ``read_back`` need, such as the
    record's vendor id; ``state`` is the record's state, checked against the
    tenant's policy; ``amount`` is money the action moves (checked against the
    refund limit).
    """

    summary: str
    target: dict[str, Any]
    state: str
    amount: Decimal | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of an action: ``done`` as read back from the vendor, and a sentence."""

    done: bool
    detail: str


@dataclass(frozen=True)
class ActionRun:
    """One confirmed execution: the tenant, the prepared plan and its idempotency key.

    ``user`` is the verified customer who confirmed (for ``execute``); it is
    ``None`` when a record is read back after a crash, where no one is verified.
    """

    tenant: Tenant
    target: dict[str, Any]
    idempotency_key: str
    user: VerifiedUser | None = None


async def _proposed_only(call: ToolCall) -> str:  # never called: actions are proposed
    raise PluginError("an action runs only through liveuser's confirmation protocol")


@dataclass(frozen=True, kw_only=True)
class Action(Tool):
    """A write the customer must confirm. Build it with :meth:`create`.

    * ``prepare(call)`` — find the record inside the silo and describe the
      change: a :class:`Plan`, a refusal sentence (``str``), or ``None`` for
      "not found" (also for someone else's record).
    * ``execute(run)`` — perform it once, passing ``run.idempotency_key`` to
      the vendor where it takes one; an :class:`Outcome` with ``done=False``
      when the vendor refused (its message as ``detail``).
    * ``read_back(run)`` — read the record and say whether the change is
      there; it is called after every execution and, after a crash, instead
      of executing again.
    * ``accepts`` — the record states it accepts unless the tenant says otherwise.
    """

    prepare: Callable[[ToolCall], Awaitable[Plan | str | None]]
    execute: Callable[[ActionRun], Awaitable[Outcome]]
    read_back: Callable[[ActionRun], Awaitable[Outcome]]
    accepts: tuple[str, ...] = ()

    @classmethod
    def create(
        cls,
        *,
        name: str,
        description: str,
        parameters: type[BaseModel],
        prepare: Callable[[ToolCall], Awaitable[Plan | str | None]],
        execute: Callable[[ActionRun], Awaitable[Outcome]],
        read_back: Callable[[ActionRun], Awaitable[Outcome]],
        accepts: tuple[str, ...] = (),
    ) -> Action:
        return cls(
            name=name,
            description=description + " Nothing changes until the customer confirms it.",
            parameters=parameters,
            run=_proposed_only,
            writes=True,
            prepare=prepare,
            execute=execute,
            read_back=read_back,
            accepts=accepts,
        )


class State(StrEnum):
    """Where a confirmation is: proposed → confirmed → executing → executed | failed.

    ``superseded`` is a proposal replaced by a newer one of the same action in
    the same conversation; ``expired`` one the customer never confirmed in time.
    """

    proposed = "proposed"
    superseded = "superseded"
    expired = "expired"
    confirmed = "confirmed"
    executing = "executing"
    executed = "executed"
    failed = "failed"


@dataclass(frozen=True)
class Confirmation:
    """One proposal as stored, with everything its binding covers.

    ``created_at`` and ``updated_at`` (the last transition) are set by the
    store when it reads a record back; they are not bound and not compared.
    """

    confirmation_id: str
    tenant: str
    channel: str
    conversation_id: str
    identity_hash: str
    action: str
    arguments: dict[str, Any]
    target: dict[str, Any]
    summary: str
    summary_hash: str
    expires_at: datetime
    binding: str
    idempotency_key: str
    state: State
    outcome: str | None = None
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def expected_binding(self) -> str:
        return binding_hash(
            tenant=self.tenant,
            channel=self.channel,
            conversation_id=self.conversation_id,
            identity_hash=self.identity_hash,
            action=self.action,
            arguments=self.arguments,
            summary_hash=self.summary_hash,
            expires_at=self.expires_at,
        )

    def replace(self, **changes: Any) -> Confirmation:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class PendingConfirmation:
    """What the host must show the customer, word for word, beside a confirm button.

    Pass ``confirmation_id`` to :func:`liveuser.confirm` when the customer
    confirms; never give it to the model.
    """

    confirmation_id: str
    action: str
    summary: str
    expires_at: datetime


@dataclass(frozen=True)
class ToolResult:
    """A tool call's model-facing text and, for a proposed action, what the host must show."""

    text: str
    pending: PendingConfirmation | None = None


@dataclass(frozen=True)
class ConfirmResult:
    """The answer to :func:`liveuser.confirm`: ``message`` is for the customer."""

    status: Literal["executed", "failed", "refused"]
    message: str
    confirmation_id: str

    @property
    def executed(self) -> bool:
        return self.status == "executed"


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def summary_hash(summary: str) -> str:
    return hashlib.sha256(summary.encode("utf-8")).hexdigest()


def binding_hash(
    *,
    tenant: str,
    channel: str,
    conversation_id: str,
    identity_hash: str,
    action: str,
    arguments: dict[str, Any],
    summary_hash: str,
    expires_at: datetime,
) -> str:
    """SHA-256 over every field a confirmation is bound to; any change gives another hash."""
    fields = [
        tenant,
        channel,
        conversation_id,
        identity_hash,
        action,
        canonical(arguments),
        summary_hash,
        expires_at.isoformat(timespec="microseconds"),
    ]
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()
