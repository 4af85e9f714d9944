"""liveuser: live, verified user data for AI support agents, siloed per conversation.

Public names are re-exported here; everything else is internal.
"""

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
