"""liveuser: live, verified user data for AI support agents, siloed per conversation.

Public names are re-exported here; everything else is internal.

``import liveuser`` imports nothing else: each public name is imported from
its module on first use (``liveuser.Pipeline``, ``from liveuser import
Pipeline``), so a process pays only for the parts it uses. Submodules
(``liveuser.http``) resolve the same way.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actions import (
        AWAITING,
        Action,
        ActionPolicy,
        ActionRun,
        ConfirmResult,
        Outcome,
        PendingConfirmation,
        Plan,
    )
    from .actions.protocol import confirm, pending_confirmations, recover
    from .adapters import GET_USER_DATA, Binding, ToolDefinition, bind
    from .errors import (
        BackendError,
        BackendResponseError,
        BackendStatusError,
        BackendTimeout,
        ConfigError,
        CrossTalkError,
        LedgerError,
        LiveuserError,
        PluginError,
        SiloViolation,
        TokenError,
        UnknownTenantError,
        WebhookError,
    )
    from .hookspecs import hookimpl
    from .http import HttpAnswer, HttpClient
    from .identity import normalize_email
    from .metering import Ledger, Pricing
    from .models import (
        Channel,
        Context,
        Conversation,
        ConversationKey,
        Mechanism,
        MeterRecord,
        Refusal,
        UserData,
        VerificationRecord,
        VerifiedUser,
    )
    from .pipeline import Pipeline
    from .plugin import NoSettings, Plugin, PluginSettings
    from .registry import Registry, Tenant
    from .render import Budget
    from .settings import Settings, TenantSettings, load_settings
    from .silo import Silo
    from .tools import NOT_FOUND, Tool, ToolCall

__all__ = [
    "AWAITING",
    "GET_USER_DATA",
    "NOT_FOUND",
    "Action",
    "ActionPolicy",
    "ActionRun",
    "BackendError",
    "BackendResponseError",
    "BackendStatusError",
    "BackendTimeout",
    "Binding",
    "Budget",
    "Channel",
    "ConfigError",
    "ConfirmResult",
    "Context",
    "Conversation",
    "ConversationKey",
    "CrossTalkError",
    "HttpAnswer",
    "HttpClient",
    "Ledger",
    "LedgerError",
    "LiveuserError",
    "Mechanism",
    "MeterRecord",
    "NoSettings",
    "Outcome",
    "PendingConfirmation",
    "Pipeline",
    "Plan",
    "Plugin",
    "PluginError",
    "PluginSettings",
    "Pricing",
    "Refusal",
    "Registry",
    "Settings",
    "Silo",
    "SiloViolation",
    "Tenant",
    "TenantSettings",
    "TokenError",
    "Tool",
    "ToolCall",
    "ToolDefinition",
    "UnknownTenantError",
    "UserData",
    "VerificationRecord",
    "VerifiedUser",
    "WebhookError",
    "bind",
    "confirm",
    "hookimpl",
    "load_settings",
    "normalize_email",
    "pending_confirmations",
    "recover",
]

# Where each public name lives; ``__getattr__`` imports it from there on first use.
_EXPORTS: dict[str, str] = {
    "AWAITING": "actions",
    "GET_USER_DATA": "adapters",
    "NOT_FOUND": "tools",
    "Action": "actions",
    "ActionPolicy": "actions",
    "ActionRun": "actions",
    "BackendError": "errors",
    "BackendResponseError": "errors",
    "BackendStatusError": "errors",
    "BackendTimeout": "errors",
    "Binding": "adapters",
    "Budget": "render",
    "Channel": "models",
    "ConfigError": "errors",
    "ConfirmResult": "actions",
    "Context": "models",
    "Conversation": "models",
    "ConversationKey": "models",
    "CrossTalkError": "errors",
    "HttpAnswer": "http",
    "HttpClient": "http",
    "Ledger": "metering",
    "LedgerError": "errors",
    "LiveuserError": "errors",
    "Mechanism": "models",
    "MeterRecord": "models",
    "NoSettings": "plugin",
    "Outcome": "actions",
    "PendingConfirmation": "actions",
    "Pipeline": "pipeline",
    "Plan": "actions",
    "Plugin": "plugin",
    "PluginError": "errors",
    "PluginSettings": "plugin",
    "Pricing": "metering",
    "Refusal": "models",
    "Registry": "registry",
    "Settings": "settings",
    "Silo": "silo",
    "SiloViolation": "errors",
    "Tenant": "registry",
    "TenantSettings": "settings",
    "TokenError": "errors",
    "Tool": "tools",
    "ToolCall": "tools",
    "ToolDefinition": "adapters",
    "UnknownTenantError": "errors",
    "UserData": "models",
    "VerificationRecord": "models",
    "VerifiedUser": "models",
    "WebhookError": "errors",
    "bind": "adapters",
    "confirm": "actions.protocol",
    "hookimpl": "hookspecs",
    "load_settings": "settings",
    "normalize_email": "identity",
    "pending_confirmations": "actions.protocol",
    "recover": "actions.protocol",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all

    def __getattr__(name: str) -> object:
        """Import a public name, or a submodule, of the package on first use (PEP 562)."""
        module = _EXPORTS.get(name)
        if module is not None:
            value: object = getattr(_importlib.import_module(f".{module}", __name__), name)
        elif name.isidentifier() and not name.startswith("_"):
            try:
                value = _importlib.import_module(f".{name}", __name__)
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
