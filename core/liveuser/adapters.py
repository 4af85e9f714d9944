"""One conversation, bound to an LLM agent loop: OpenAI and Anthropic tool calling.

::

    binding = await liveuser.bind(conversation, pipeline=pipeline, message_id=message_id)
    binding = await binding.next_message(next_message_id)   # the next turn
    binding.system_prompt            # the metered context, for this conversation only
    binding.openai_chat_tools()      # Chat Completions ``tools=``
    binding.openai_responses_tools() # Responses ``tools=``
    binding.anthropic_tools()        # Messages ``tools=``
    await binding.handle_openai_chat(tool_call)   # -> {"role": "tool", ...}
    await binding.handle_openai_response(item)    # -> {"type": "function_call_output", ...}
    await binding.handle_anthropic(tool_use)      # -> {"type": "tool_result", ...}

Every definition comes from one :class:`ToolDefinition`: the built-in
``get_user_data`` (the verified user's data, optionally narrowed to some
sources) and every tool the tenant's plugins registered. No definition has a
parameter that names a person, and whatever the model passes, the data is the
bound conversation's verified user's: arguments go through
:meth:`Pipeline.call_tool`, which takes the identity from the conversation's
verification only. Every result is metered there, keyed by the tool call's
id, under the binding's message id, so a message is charged at most once.

A handler never raises for what the model sends (an unknown tool, malformed
JSON, arguments of the wrong shape) or for a back-end that is down: each comes
back as a short text result the model can act on.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .actions.model import Action, PendingConfirmation
from .errors import ConfigError, LiveuserError
from .models import Context, Conversation
from .render import CLOSE, Budget, note
from .tools import Tool, ToolCall

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .registry import Tenant

GET_USER_DATA = "get_user_data"
"""The built-in tool: the verified user's data, as a context, optionally narrowed."""

_GET_USER_DATA_DESCRIPTION = (
    "Fetch the live account data (orders, subscriptions, account details) of the verified "
    "customer in this conversation. It always returns this customer's data and nobody else's. "
    "Optionally narrow it to some sources."
)
_BLOCK_OPEN = re.compile(r'^<<<liveuser-data source="([^"]*)" kind="([^"]*)">>>$')


class UserDataArgs(BaseModel):
    """Arguments of ``get_user_data``. Anything else the model sends is ignored."""

    sources: list[str] | None = Field(
        default=None, description="Only these sources; every source when omitted."
    )


@dataclass(frozen=True)
class ToolDefinition:
    """One model-callable tool, from which every SDK's shape is built."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai_chat(self) -> dict[str, Any]:
        """The Chat Completions shape (``ChatCompletionFunctionToolParam``)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def openai_responses(self) -> dict[str, Any]:
        """The Responses shape (``FunctionToolParam``)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": False,
        }

    def anthropic(self) -> dict[str, Any]:
        """The Messages shape (``ToolParam``)."""
        return {"name": self.name, "description": self.description, "input_schema": self.parameters}


def user_data_tool() -> Tool:
    """``get_user_data``: the silo's data, rendered, narrowed to the sources asked for."""
    return Tool(
        name=GET_USER_DATA,
        description=_GET_USER_DATA_DESCRIPTION,
        parameters=UserDataArgs,
        run=_get_user_data,
    )


async def _get_user_data(call: ToolCall) -> str:
    """The silo's data, rendered, narrowed to the sources asked for."""
    args = call.arguments
    assert isinstance(args, UserDataArgs)
    silo = call.silo
    known = _sources(silo.tenant)
    wanted = set(args.sources) if args.sources else set(known)
    unknown = sorted(wanted - set(known))
    gathered = await silo.gather()
    data = [d for d in gathered.data if d.source in wanted]
    missing = {k: v for k, v in sorted(gathered.missing.items()) if k in wanted}
    lines: list[str] = []
    if data:
        body = await silo.render(data, Budget(silo.tenant.settings.budget_chars))
        lines.append(_unwrapped(body))
    elif not missing:
        lines.append("No data was found for this customer.")
    for source, reason in missing.items():
        lines.append(
            f"{note(source, 64)} is unavailable right now ({note(reason)}); do not guess its "
            "data, and offer to check again later."
        )
    if unknown:
        lines.append(
            "No source named "
            + ", ".join(repr(note(s, 64)) for s in unknown[:5])
            + (f"; the sources are: {', '.join(known)}." if known else "; there are no sources.")
        )
    return "\n".join(lines)


def _unwrapped(body: str) -> str:
    """Rendered blocks as plain sections: the tool result is one data block already.

    Data inside a block is escaped (no ``<<<`` survives), so only liveuser's
    own delimiter lines match here.
    """
    out: list[str] = []
    for line in body.split("\n"):
        opened = _BLOCK_OPEN.match(line)
        if opened:
            out.append(f"[{opened[1]}: {opened[2]}]")
        elif line != CLOSE:
            out.append(line)
    return "\n".join(out)


def _sources(tenant: Tenant) -> list[str]:
    return sorted({name for name, _ in tenant.hook_functions("fetch_user_data")})


def builtin_definition(sources: list[str] | None = None) -> ToolDefinition:
    """The ``get_user_data`` definition; ``sources`` become the parameter's enum."""
    items: dict[str, Any] = {"type": "string"}
    if sources:
        items["enum"] = list(sources)
    return ToolDefinition(
        name=GET_USER_DATA,
        description=_GET_USER_DATA_DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "sources": {
                    "type": "array",
                    "items": items,
                    "description": "Only these sources; every source when omitted.",
                }
            },
            "additionalProperties": False,
        },
    )


def _plugin_definition(tool: Tool) -> ToolDefinition:
    schema = dict(tool.schema())
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return ToolDefinition(name=tool.name, description=tool.description, parameters=schema)


async def tool_definitions(pipeline: Pipeline, tenant_name: str) -> list[ToolDefinition]:
    """``get_user_data`` then every plugin tool of the tenant, by name.

    An unknown tenant, or plugins whose tools clash, give ``get_user_data``
    alone (calling it then says why there is no data).
    """
    try:
        tenant = pipeline.registry.tenant(tenant_name)
        tools = await tenant.tools()
    except LiveuserError:
        return [builtin_definition()]
    definitions = [builtin_definition(_sources(tenant))]
    policy = tenant.settings.actions
    for name in sorted(tools):
        tool = tools[name]
        if isinstance(tool, Action) and not policy.is_enabled(name):
            continue  # an action is offered only once the business turns it on
        if name != GET_USER_DATA:
            definitions.append(_plugin_definition(tool))
    return definitions


async def enabled_actions(pipeline: Pipeline, tenant_name: str) -> list[str]:
    """The tenant's actions that are on (installed and enabled), by name."""
    try:
        tenant = pipeline.registry.tenant(tenant_name)
        tools = await tenant.tools()
    except LiveuserError:
        return []
    policy = tenant.settings.actions
    return sorted(n for n, t in tools.items() if isinstance(t, Action) and policy.is_enabled(n))


OnConfirmation = Callable[[PendingConfirmation], Awaitable[None] | None]
"""The host's hook for a proposed action: show ``summary`` to the customer, word for
word, beside a confirm button that calls :func:`liveuser.confirm` with its id."""


def _field(obj: Any, name: str) -> Any:
    """``obj.name`` for an SDK model, ``obj[name]`` for a plain dict."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def decode_arguments(raw: Any) -> Any:
    """JSON text as the model wrote it, decoded; malformed text stays a string.

    :meth:`Pipeline.call_tool` answers a non-object with a short text.
    """
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str | bytes):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return raw


class Binding:
    """One conversation's context, tool definitions and tool-call handler.

    Built by :func:`bind`. The context and every tool result belong to the
    bound conversation only; tool results are metered under ``message_id``.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        conversation: Conversation,
        message_id: str,
        context: Context,
        definitions: list[ToolDefinition],
        on_confirmation: OnConfirmation | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.conversation = conversation
        self.message_id = message_id
        self.context = context
        self.definitions = tuple(definitions)
        self.on_confirmation = on_confirmation
        self.pending: list[PendingConfirmation] = []
        """Every confirmation proposed through this binding, in order."""

    def __repr__(self) -> str:
        return f"<Binding {self.conversation.key!r} message={self.message_id!r}>"

    @property
    def system_prompt(self) -> str:
        """The context as a system-prompt block (only ever this conversation's)."""
        return self.context.text_for(self.conversation)

    def openai_chat_tools(self) -> list[dict[str, Any]]:
        """``tools=`` for ``client.chat.completions.create``."""
        return [d.openai_chat() for d in self.definitions]

    def openai_responses_tools(self) -> list[dict[str, Any]]:
        """``tools=`` for ``client.responses.create``."""
        return [d.openai_responses() for d in self.definitions]

    def anthropic_tools(self) -> list[dict[str, Any]]:
        """``tools=`` for ``client.messages.create``."""
        return [d.anthropic() for d in self.definitions]

    async def next_message(self, message_id: str) -> Binding:
        """The same conversation bound for its next message: a fresh, metered context."""
        context = await self.pipeline.context_for(self.conversation, message_id)
        return Binding(
            self.pipeline,
            self.conversation,
            message_id,
            context,
            list(self.definitions),
            self.on_confirmation,
        )

    async def call(self, tool_call_id: str, name: str, arguments: Any) -> str:
        """Run one tool call for the bound conversation; the result text, metered.

        ``arguments`` is the JSON text or the decoded object. A call without
        an id is metered under a fresh one. A proposed action's confirmation goes
        to ``on_confirmation`` (and :attr:`pending`); the model reads only that it
        awaits the customer's confirmation.
        """
        result = await self.pipeline.call_tool_result(
            self.conversation,
            self.message_id,
            # Some OpenAI-compatible servers send no id: meter the call under one of ours.
            tool_call_id or f"liveuser-{uuid.uuid4().hex}",
            str(name or ""),
            decode_arguments(arguments),
        )
        if result.pending is not None:
            self.pending.append(result.pending)
            if self.on_confirmation is not None:
                shown = self.on_confirmation(result.pending)
                if inspect.isawaitable(shown):
                    await shown
        return result.text

    async def handle_openai_chat(self, tool_call: Any) -> dict[str, Any]:
        """A Chat Completions tool call -> the ``{"role": "tool"}`` message to append."""
        function = _field(tool_call, "function")
        call_id = str(_field(tool_call, "id") or "")
        text = await self.call(call_id, _field(function, "name"), _field(function, "arguments"))
        return {"role": "tool", "tool_call_id": call_id, "content": text}

    async def handle_openai_response(self, item: Any) -> dict[str, Any]:
        """A Responses ``function_call`` item -> the ``function_call_output`` input item."""
        call_id = str(_field(item, "call_id") or "")
        text = await self.call(call_id, _field(item, "name"), _field(item, "arguments"))
        return {"type": "function_call_output", "call_id": call_id, "output": text}

    async def handle_anthropic(self, block: Any) -> dict[str, Any]:
        """A Messages ``tool_use`` block -> the ``tool_result`` block for the next user turn."""
        use_id = str(_field(block, "id") or "")
        text = await self.call(use_id, _field(block, "name"), _field(block, "input"))
        return {"type": "tool_result", "tool_use_id": use_id, "content": text}


async def bind(
    conversation: Conversation,
    *,
    pipeline: Pipeline,
    message_id: str,
    on_confirmation: OnConfirmation | None = None,
) -> Binding:
    """Bind ``conversation`` for the message ``message_id``: context, tools, handler.

    Builds and meters the context (as :meth:`Pipeline.context_for`) and lists
    ``get_user_data`` with every plugin tool of the tenant and every action it
    turned on. Never raises for anything the conversation or a back-end gets
    wrong: the context then says why there is no data, and so does every tool
    result. A tenant with actions on needs ``on_confirmation`` (the host shows
    each proposed change to the customer): without it this raises
    :class:`~liveuser.errors.ConfigError`.
    """
    if on_confirmation is None and await enabled_actions(pipeline, conversation.tenant):
        raise ConfigError(
            f"tenant {conversation.tenant} has actions on: bind(..., on_confirmation=...) must "
            "show the customer each proposed change to confirm"
        )
    definitions = await tool_definitions(pipeline, conversation.tenant)
    context = await pipeline.context_for(conversation, message_id)
    return Binding(pipeline, conversation, message_id, context, definitions, on_confirmation)
