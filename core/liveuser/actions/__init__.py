"""Actions the customer confirms: cancel an order, change its address, refund it.

See :mod:`.model` for the protocol's types, :mod:`.protocol` for the two
steps, :mod:`.store` for the records and :mod:`.policy` for the settings.
The protocol's functions are imported on first use: the settings import the
policy from here, before the pipeline they need exists.
"""

from typing import TYPE_CHECKING, Any

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
)
from .policy import ActionPolicy, HttpActionSettings
from .store import ActionStore

if TYPE_CHECKING:
    from .protocol import confirm, pending_confirmations, propose, recover, stale_after

__all__ = [
    "AWAITING",
    "Action",
    "ActionPolicy",
    "ActionRun",
    "ActionStore",
    "ConfirmResult",
    "Confirmation",
    "HttpActionSettings",
    "Outcome",
    "PendingConfirmation",
    "Plan",
    "State",
    "ToolResult",
    "binding_hash",
    "confirm",
    "pending_confirmations",
    "propose",
    "recover",
    "stale_after",
]


def __getattr__(name: str) -> Any:
    if name in ("confirm", "pending_confirmations", "propose", "recover", "stale_after"):
        from . import protocol

        return getattr(protocol, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
