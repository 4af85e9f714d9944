"""Actions the customer confirms: cancel an order, change its address, refund it.

See :mod:`.model` for the protocol's types, :mod:`.protocol` for the two
steps, :mod:`.store` for the records and :mod:`.policy` for the settings.
Every name is imported on first use: the settings need only the policy, and
the protocol needs the pipeline, which needs the settings.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    from .protocol import confirm, pending_confirmations, propose, recover, stale_after
    from .store import ActionStore

_EXPORTS = {
    **dict.fromkeys(
        (
            "AWAITING",
            "Action",
            "ActionRun",
            "Confirmation",
            "ConfirmResult",
            "Outcome",
            "PendingConfirmation",
            "Plan",
            "State",
            "ToolResult",
            "binding_hash",
        ),
        "model",
    ),
    "ActionPolicy": "policy",
    "HttpActionSettings": "policy",
    "ActionStore": "store",
    **dict.fromkeys(
        ("confirm", "pending_confirmations", "propose", "recover", "stale_after"), "protocol"
    ),
}

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

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """Import a public name on first use (PEP 562), as the package root does."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value: object = getattr(_importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
