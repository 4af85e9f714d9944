"""The whole plugin contract: four hooks.

Plugins are classes (see :class:`liveuser.Plugin`) whose methods are marked
with :data:`hookimpl`. Any implementation may be ``async def``. pluggy awaits
nothing, so no hook uses pluggy's ``firstresult``: the pipeline calls the
implementations, awaits what they return in one place
(:func:`liveuser.registry.resolve`) and decides which answer counts, as each
hook's docstring says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .models import Conversation, Refusal, UserData, VerifiedUser
    from .render import Budget
    from .tools import Tool

PROJECT = "liveuser"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def verify_user(
    conversation: Conversation,
) -> VerifiedUser | Refusal | Awaitable[VerifiedUser | Refusal | None] | None:
    """Decide whether the author of ``conversation`` is a verified user.

    Called by the pipeline on exactly one plugin: the one whose ``channels``
    contain ``conversation.channel`` (two plugins claiming a channel is a load
    error). Other plugins are never asked.

    Return a :class:`VerifiedUser` whose identity comes only from what the
    vendor recorded or signed, or that a host token proves (never from text the
    end user typed or attributes they can edit), with a
    :class:`VerificationRecord` saying how, with what evidence and when; list
    in ``record.other_participants`` every outside participant besides the
    author. Return a :class:`Refusal` with a reason a person can read for
    anything else. ``None`` counts as a refusal ("the connector could not
    decide"); so does an exception, which is logged. No plugin owning the
    channel is a refusal too.

    Example::

        @hookimpl
        async def verify_user(self, conversation):
            ticket = await self.client.ticket(conversation.conversation_id)
            if ticket.via != "email":
                return Refusal(reason="only email tickets are verified")
            return VerifiedUser(
                tenant=conversation.tenant, email=ticket.requester_email,
                channel=conversation.channel,
                record=VerificationRecord(vendor="acme", mechanism="email_ticket",
                                          evidence=f"ticket {ticket.id} requester"),
            )
    """


@hookspec
def fetch_user_data(
    user: VerifiedUser,
) -> UserData | Sequence[UserData] | Awaitable[UserData | Sequence[UserData] | None] | None:
    """Fetch what this back-end knows about ``user``.

    Called on every plugin that implements it, concurrently, under the
    tenant's assembly deadline, once per (tenant, user, source) per cache
    period. ``user`` is the verified user of the calling silo, never an
    identifier chosen by the model or the end user.

    Return one :class:`UserData` (or several) whose ``source`` is the plugin's
    name, or ``None`` when the back-end has nothing on this user. Raise a
    :class:`~liveuser.errors.BackendError` (or let any exception out) when it
    fails: the pipeline leaves the source out of the context and names it,
    with the reason, in ``Context.missing``. Every answer counts; nothing is
    merged across plugins.

    Example::

        @hookimpl
        async def fetch_user_data(self, user):
            plan = await self.crm.plan_for(user.email)
            return UserData(source=self.name, kind="subscription", fields={"plan": plan})
    """


@hookspec
def render_context(
    user: VerifiedUser, data: Sequence[UserData], budget: Budget
) -> str | Awaitable[str | None] | None:
    """Render ``data`` about ``user`` into the text the model receives.

    Called on every implementation, latest registered first; the first answer
    that is not ``None``, after awaiting, wins. The core's default renderer is
    registered first, so it answers only when no plugin does. The text must fit
    ``budget.chars`` and report what it dropped with ``budget.trim(name)``;
    private fields (``UserData.private``) must never appear, and back-end text
    must stay inside a delimited block it cannot close (use
    :func:`liveuser.render.data_block`).

    Return the rendered text, or ``None`` to let the next renderer answer.
    An exception is a bug in the renderer and propagates.

    Example::

        @hookimpl
        def render_context(self, user, data, budget):
            return None  # let the default renderer answer
    """


@hookspec
def register_tools() -> Sequence[Tool] | Awaitable[Sequence[Tool] | None] | None:
    """Offer model-callable lookups or actions.

    Called on every plugin when the tenant first collects its tools (the first
    tool definition or call), and again after a registration; every answer
    counts, and two tools with one name is a :class:`~liveuser.errors.PluginError`.
    Each :class:`~liveuser.tools.Tool` runs inside the caller's silo and
    receives the silo's verified user, never an identity from the model; its
    parameters must not include one. A tool
    that looks up a record by number shows it only when it belongs to that
    user, and "not yours" reads the same as "not found". Return ``None`` for
    no tools. A write is an :class:`~liveuser.actions.Action`
    (``Action.create(prepare=..., execute=..., read_back=...)``): offered only
    once the tenant enables it, the model's call only proposes it, and it runs
    once, when the host confirms it for the customer (:func:`liveuser.confirm`).

    Example::

        @hookimpl
        def register_tools(self):
            return [Tool(name="stock", description="Units in stock for a product",
                         parameters=StockQuery, run=self.stock)]
    """
