"""The exceptions liveuser raises.

Every error is a :class:`LiveuserError` with a one-line message that names the
plugin, vendor, tenant or field at fault::

    LiveuserError
    ├── ConfigError           bad liveuser.toml, bad settings, missing secret
    ├── PluginError           a plugin broke the contract (bad return, clash)
    ├── UnknownTenantError    a conversation or call for a tenant not configured
    ├── TokenError            a host token that is unsigned, expired, tampered,
    │                         for another audience or another tenant
    ├── BackendError          a back-end's fault while fetching; never reaches
    │   ├── BackendTimeout    the agent loop: the pipeline turns it into a
    │   ├── BackendStatusError   missing source with this message as reason
    │   ├── BackendResponseError
    │   └── CrossTalkError    data that names someone other than the user asked
    ├── WebhookError          a webhook delivery that is forged, altered,
    │                         stale or replayed
    ├── SiloViolation         data or a context offered to the wrong silo
    └── LedgerError           the metering ledger cannot record or answer

Expected errors reach the CLI as a message and an exit code, and the
model-facing path as data (a refusal or a missing source), never as a
traceback.
"""

from __future__ import annotations


class LiveuserError(Exception):
    """Base class of every error liveuser raises on purpose."""


class ConfigError(LiveuserError):
    """The configuration (file, environment or code) is invalid."""


class PluginError(LiveuserError):
    """A plugin failed to load or broke the hook contract."""


class UnknownTenantError(LiveuserError):
    """A tenant was named that is not configured."""


class TokenError(LiveuserError):
    """A host token failed verification; the message says why."""


class BackendError(LiveuserError):
    """A back-end could not provide data. ``source`` names the back-end."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class BackendTimeout(BackendError):
    """The back-end did not answer within the assembly deadline."""


class BackendStatusError(BackendError):
    """The back-end answered with an HTTP error status."""

    def __init__(self, source: str, reason: str, status: int) -> None:
        super().__init__(source, reason)
        self.status = status


class BackendResponseError(BackendError):
    """The back-end answered with malformed or oversized data."""


class CrossTalkError(BackendError):
    """The back-end answered about someone other than the user asked for."""


class WebhookError(LiveuserError):
    """A webhook delivery failed its signature, timestamp or replay check."""


class SiloViolation(LiveuserError):
    """Something tried to move data across silos; always a bug, never data."""


class LedgerError(LiveuserError):
    """The metering ledger failed."""
