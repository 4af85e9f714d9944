"""One conversation turn: verify, open the silo, fetch, render, meter.

:meth:`Pipeline.context_for` never raises to the agent loop for anything a
conversation, a connector or a back-end can get wrong: an unknown tenant, a
refusal, a missing connector, a failing back-end all come back as a
:class:`Context` that says so. Only a broken installation (the ledger cannot
write) raises.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from .actions.model import Action, ToolResult
from .actions.protocol import propose
from .actions.store import ActionStore
from .errors import LiveuserError, UnknownTenantError
from .http import deadline
from .identity import forget_normalized, normalize_email
from .ledger_sqlite import SqliteEngine
from .metering import Ledger
from .models import (
    Context,
    Conversation,
    ConversationKey,
    Mechanism,
    MeterRecord,
    Refusal,
    VerifiedUser,
)
from .registry import Registry, Tenant, resolve
from .render import Budget, compose, customer_line, overhead, refusal_text
from .silo import Silo

log = logging.getLogger("liveuser")


class Pipeline:
    """Turns conversations into metered contexts for one process."""

    def __init__(self, registry: Registry, ledger: Ledger) -> None:
        self.registry = registry
        self.ledger = ledger
        self._action_store: ActionStore | None = None

    @property
    def action_store(self) -> ActionStore:
        """The action records, in the ledger's database, SQLite file or PostgreSQL
        (opened on first use)."""
        if self._action_store is None:
            self._action_store = ActionStore.beside(self.ledger)
        return self._action_store

    @property
    def _ledger_is_shared(self) -> bool:
        """Whether other processes may have written action records to the ledger's
        database (anything but a private ``":memory:"`` SQLite ledger)."""
        return not isinstance(self.ledger.engine, SqliteEngine) or self.ledger.path != ":memory:"

    def _tenant(self, conversation: Conversation) -> Tenant | Refusal:
        try:
            return self.registry.tenant(conversation.tenant)
        except UnknownTenantError as exc:
            return Refusal(reason=str(exc))

    async def verify(self, conversation: Conversation) -> VerifiedUser | Refusal:
        """Ask the channel's one connector who the author is; any fault is a Refusal."""
        tenant = self._tenant(conversation)
        if isinstance(tenant, Refusal):
            return tenant
        return await _verify(tenant, conversation, conversation.key)

    async def context_for(self, conversation: Conversation, message_id: str) -> Context:
        """The metered context for the message ``message_id`` of ``conversation``."""
        key = conversation.key
        tenant = self._tenant(conversation)
        if isinstance(tenant, Refusal):
            # No tenant, nobody to bill: the refusal is delivered but not metered.
            text = refusal_text(tenant.reason)
            return Context(
                key=key, message_id=message_id, text=text, verified=False, refusal=tenant.reason
            )
        verdict = await _verify(tenant, conversation, key)
        if isinstance(verdict, Refusal):
            text = refusal_text(verdict.reason)
            record = await self._meter(tenant, key, message_id, "", text, (), None)
            return Context(
                key=key,
                message_id=message_id,
                text=text,
                verified=False,
                refusal=verdict.reason,
                charged=record.charged,
                amount=record.amount,
            )
        return await self.context_in(Silo(tenant, verdict, key), message_id)

    async def context_in(self, silo: Silo, message_id: str) -> Context:
        """Fetch, render within the budget and meter a context inside an open silo.

        The silo's user must come from a connector's verification (as in
        :meth:`context_for`) or from the CLI's operator check; liveuser's own
        services and tools never build one by hand.
        """
        tenant, user = silo.tenant, silo.user
        gathered = await silo.gather()
        capped = tenant.settings.monthly_cap is not None and await self._over_cap(tenant)
        limit = self._limit(tenant, capped)
        customer = customer_line(user)
        budget = Budget(max(limit - overhead(user, gathered.missing, capped, customer), 0))
        body = await silo.render(gathered.data, budget)
        text = compose(
            user,
            body,
            missing=gathered.missing,
            trimmed=budget.trimmed,
            capped=capped,
            customer=customer,
        )
        sources = gathered.sources
        record = await self._meter(
            tenant, silo.conversation, message_id, "", text, sources, user.email
        )
        return Context(
            key=silo.conversation,
            message_id=message_id,
            text=text,
            verified=True,
            refusal=None,
            sources=sources,
            missing=gathered.missing,
            trimmed=tuple(budget.trimmed),
            charged=record.charged,
            amount=record.amount,
            capped=capped,
        )

    async def forget(self, email: str) -> int:
        """Erase a person: their ledger records' identity, their action records, and
        every cached datum, verification and remembered host token of theirs in this
        process. Returns the ledger rows and action records erased."""
        erased = await self.ledger.forget(email)
        if self._action_store is not None or self._ledger_is_shared:
            erased += await self.action_store.forget(self.ledger.identity_hash(email))
        normal = normalize_email(email)
        for name in self.registry.tenant_names():
            await self.registry.tenant(name).aforget_identity(normal)
        forget_normalized()  # its cache of addresses, this one included
        return erased

    async def call_tool(
        self,
        conversation: Conversation,
        message_id: str,
        tool_call_id: str,
        name: str,
        arguments: Any,
    ) -> str:
        """Run a tool for the conversation's verified user and meter its result.

        The identity comes from the conversation's verification, never from
        ``arguments``. Any fault of the model, the conversation or the tool
        comes back as text for the model. ``tool_call_id`` must be the model
        API's id for this call (it keys the ledger); an empty one is a
        ``ValueError``, a bug in the caller. An action only proposes here
        (see :meth:`call_tool_result`, which also returns what the host must
        show the customer).
        """
        return (
            await self.call_tool_result(conversation, message_id, tool_call_id, name, arguments)
        ).text

    async def call_tool_result(
        self,
        conversation: Conversation,
        message_id: str,
        tool_call_id: str,
        name: str,
        arguments: Any,
    ) -> ToolResult:
        """As :meth:`call_tool`, with the pending confirmation of a proposed action.

        For an :class:`~liveuser.actions.Action`, ``text`` is only "Awaiting the
        customer's confirmation." and ``pending`` carries the summary the host
        must show the customer and the id it confirms with
        (:func:`liveuser.confirm`); nothing is executed.
        """
        if not tool_call_id:
            raise ValueError("call_tool needs the model's tool_call_id")
        tenant = self._tenant(conversation)
        if isinstance(tenant, Refusal):
            return ToolResult(refusal_text(tenant.reason))
        key = conversation.key
        verdict = await _verify(tenant, conversation, key)
        result: ToolResult
        if isinstance(verdict, Refusal):
            result = ToolResult(refusal_text(verdict.reason))
            identity = None
        else:
            silo = Silo(tenant, verdict, key)
            action = await _action(tenant, name)
            if action is not None:
                result = await propose(self, silo, action, arguments)
            else:
                capped = tenant.settings.monthly_cap is not None and await self._over_cap(tenant)
                limit = self._limit(tenant, capped)
                result = ToolResult(await silo.run_tool(name, arguments, limit=limit))
            identity = verdict.email
        await self._meter(tenant, key, message_id, tool_call_id, result.text, (name,), identity)
        return result

    @staticmethod
    def _limit(tenant: Tenant, capped: bool) -> int:
        settings = tenant.settings
        if capped:
            return min(settings.budget_chars, settings.charge_threshold_chars)
        return settings.budget_chars

    async def _over_cap(self, tenant: Tenant) -> bool:
        """Whether one more charge would pass the tenant's monthly cap.

        Checked before rendering, so concurrent messages may each pass the
        check: the cap can be overshot by at most one charge per message in
        flight at that moment.
        """
        cap = tenant.settings.monthly_cap
        if cap is None:
            return False
        spent = await self.ledger.month_spend(tenant.name)
        return spent + tenant.settings.price_per_message > cap

    async def _meter(
        self,
        tenant: Tenant,
        key: ConversationKey,
        message_id: str,
        tool_call_id: str,
        text: str,
        sources: tuple[str, ...],
        identity: str | None,
    ) -> MeterRecord:
        return await self.ledger.record(
            tenant=tenant.name,
            conversation_id=key.conversation_id,
            message_id=message_id,
            tool_call_id=tool_call_id,
            channel=key.channel.value,
            chars=len(text),
            sources=sources,
            identity=identity,
            pricing=tenant.pricing,
        )


async def _action(tenant: Tenant, name: str) -> Action | None:
    """The tenant's action called ``name``, if that tool is one."""
    try:
        tool = (await tenant.tools()).get(name)
    except LiveuserError:
        return None
    return tool if isinstance(tool, Action) else None


async def _verify(
    tenant: Tenant, conversation: Conversation, key: ConversationKey
) -> VerifiedUser | Refusal:
    if tenant.settings.cache_ttl_seconds > 0:
        cached = await tenant.shared_verification(conversation)
        if cached is not None:
            return cached
    verifier = tenant.verifier(conversation.channel)
    if isinstance(verifier, Refusal):
        return verifier
    name, fn = verifier
    seconds = tenant.settings.deadline_seconds
    try:
        with deadline(seconds):
            verdict = fn(conversation=conversation)
            # A sync connector has already answered (checked by type first: the
            # common case, and cheaper than isawaitable's ABC check).
            if type(verdict) is not VerifiedUser and inspect.isawaitable(verdict):
                async with asyncio.timeout(seconds):
                    verdict = await resolve(verdict)
    except TimeoutError:
        log.warning("connector %s did not verify %s within %g s", name, key, seconds)
        return Refusal(reason=f"{name} could not verify the user in time")
    except Exception as exc:
        log.warning("connector %s failed to verify %s", name, key, exc_info=True)
        return Refusal(reason=f"{name} could not verify the user ({type(exc).__name__})")
    if verdict is None:
        return Refusal(reason=f"{name} could not verify the user")
    if isinstance(verdict, Refusal):
        return verdict
    if type(verdict) is not VerifiedUser:
        log.warning("connector %s answered %r", name, type(verdict).__name__)
        return Refusal(reason=f"{name} answered something that is not a verification")
    if verdict.tenant != conversation.tenant or verdict.channel != conversation.channel:
        log.warning("connector %s verified a user of another tenant or channel", name)
        return Refusal(reason=f"{name} verified a user for another conversation")
    if verdict.record.mechanism is Mechanism.operator:
        log.warning("connector %s claimed an operator verification", name)
        return Refusal(
            reason=f"{name} answered an operator verification, which only the liveuser CLI makes"
        )
    if verdict.record.other_participants:
        return Refusal(
            reason="the conversation has other outside participants (CC, followers or a "
            "group), so user data would reach them too"
        )
    if tenant.settings.cache_ttl_seconds > 0:
        await tenant.remember_verification(conversation, verdict)
    return verdict
