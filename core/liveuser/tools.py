"""Model-callable tools that plugins register.

A :class:`Tool` declares its parameters as a pydantic model. Those parameters
never carry an identity: a tool whose schema has a field like ``email``,
``identifier`` or ``customer_id`` is refused when it is built. The tool's
``run`` receives a :class:`ToolCall` holding the caller's silo, whose
verified user is the only person it may act for; records looked up by number
are shown only when they belong to that user, and "not yours" must read the
same as "not found" (:data:`NOT_FOUND`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import PluginError

if TYPE_CHECKING:
    from .models import UserData, VerifiedUser
    from .silo import Silo

NOT_FOUND = "No such record was found for this customer."
"""The one answer for a record that does not exist or belongs to someone else."""

_IDENTITY_FIELD = re.compile(
    r"(e[-_]?mail|identifier|identity|user(_?id|_?name)?|customer(_?id)?|account(_?id)?|phone)$",
    re.IGNORECASE,
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def identity_fields(schema: dict[str, Any]) -> list[str]:
    """The top-level properties of a JSON schema whose names look like an identity."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    return [name for name in properties if _IDENTITY_FIELD.search(str(name))]


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool, inside the caller's silo."""

    silo: Silo
    arguments: BaseModel

    @property
    def user(self) -> VerifiedUser:
        return self.silo.user


@dataclass(frozen=True)
class Tool:
    """A lookup or action the model may call.

    ``run`` returns text or a :class:`~liveuser.models.UserData` (rendered as
    a data block, private fields left out); ``None`` reads as :data:`NOT_FOUND`.
    ``writes`` marks actions: they are never retried on a transport error.
    """

    name: str
    description: str
    parameters: type[BaseModel]
    run: Callable[[ToolCall], Awaitable[str | UserData | None]]
    writes: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if not _TOOL_NAME.match(self.name):
            raise PluginError(f"tool name {self.name!r} must match {_TOOL_NAME.pattern}")
        for field in identity_fields(self.parameters.model_json_schema()):
            raise PluginError(
                f"tool {self.name}: parameter {field!r} looks like an identity; "
                "tools act only for the silo's verified user"
            )

    def with_source(self, source: str) -> Tool:
        return dataclasses.replace(self, source=source)

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters, as model APIs take it."""
        return self.parameters.model_json_schema()
