"""The base class of every liveuser plugin.

A plugin is a class with a ``name``, the ``channels`` it verifies (connectors
only), a ``settings_model`` and hook methods marked ``@hookimpl``. The core
builds one instance per tenant with that tenant's validated settings and binds
it to the tenant's runtime, so hooks reach ``self.settings`` and ``self.http``
and one tenant's keys never serve another::

    class CrmSettings(PluginSettings):
        model_config = SettingsConfigDict(env_prefix="LIVEUSER_CRM_", extra="forbid")
        token: SecretStr = Field(description="CRM API token")

    class Crm(Plugin[CrmSettings]):
        name = "crm"
        settings_model = CrmSettings

        @hookimpl
        async def fetch_user_data(self, user):
            ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import PluginError
from .hookspecs import PROJECT
from .models import Channel, ConversationKey

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .http import HttpClient
    from .tokens import KeyRing


class PluginSettings(BaseSettings):
    """Base of every plugin's settings model: no unknown keys, secrets as ``SecretStr``."""

    model_config = SettingsConfigDict(extra="forbid")


class NoSettings(PluginSettings):
    """For plugins that need no settings."""


S = TypeVar("S", bound=PluginSettings)


@dataclass(frozen=True)
class PluginRuntime:
    """What the core gives a plugin instance of one tenant."""

    tenant: str
    http: HttpClient | Callable[[], HttpClient]
    """The process's shared client, or a function that makes it on first use
    (building a tenant imports no HTTP library)."""
    host_keys: KeyRing | None
    max_response_bytes: int
    forget_verification: Callable[[ConversationKey], None]
    """Drop a cached verification (the vendor reported a new requester, a merge
    or a suspension); the next message verifies again."""
    forget_identity: Callable[[str], int] = lambda email: 0
    """Drop every cached verification, datum and remembered host token of one person
    (the vendor reported a suspension, deletion or merge of that user); returns how
    many were dropped."""


class Plugin(Generic[S]):
    """Base class of connectors, back-ends, renderers and tool providers."""

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]] = frozenset()
    settings_model: ClassVar[type[PluginSettings]] = NoSettings
    template_package: ClassVar[str | None] = None
    """A package whose ``templates/`` folder supplies ``<kind>.j2`` section templates."""

    def __init__(self, settings: S | None = None) -> None:
        if not getattr(type(self), "name", ""):
            raise PluginError(f"plugin class {type(self).__qualname__} has no name")
        self.settings: S = settings if settings is not None else self.settings_model()  # type: ignore[assignment]
        self._runtime: PluginRuntime | None = None

    def bind(self, runtime: PluginRuntime) -> None:
        """Attach the plugin to one tenant. Called by the core, once."""
        if self._runtime is not None and self._runtime.tenant != runtime.tenant:
            raise PluginError(
                f"plugin {self.name} is bound to tenant {self._runtime.tenant!r} already"
            )
        self._runtime = runtime

    @property
    def runtime(self) -> PluginRuntime:
        if self._runtime is None:
            raise PluginError(f"plugin {self.name} is not registered with a tenant")
        return self._runtime

    @property
    def tenant(self) -> str:
        return self.runtime.tenant

    @property
    def http(self) -> HttpClient:
        """The process's shared HTTP client (made by the first plugin that asks)."""
        http = self.runtime.http
        return http() if callable(http) else http

    def webhook_routes(self) -> Sequence[BaseRoute]:
        """Starlette routes for this tenant's vendor webhooks (none by default).

        ``liveuser serve`` mounts them under ``/webhooks/<plugin>/<tenant>/``.
        A route answers JSON and never raises to the caller: a delivery that is
        not genuine gets ``401`` with the reason, a missing secret ``503``.
        """
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def plugin_version(plugin: Plugin[Any] | type[Plugin[Any]]) -> str:
    """The version of the distribution that ships ``plugin`` (an instance or its class),
    or ``"builtin"``."""
    cls = plugin if isinstance(plugin, type) else type(plugin)
    version = getattr(plugin, "__version__", None) or getattr(
        cls, "_liveuser_dist_version", "builtin"
    )
    return str(version)


def hook_names(cls: type[Plugin[Any]]) -> list[str]:
    """The hooks ``cls`` implements (its ``@hookimpl`` methods), without building it."""
    names = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            options = getattr(value, f"{PROJECT}_impl", None)  # set by pluggy's marker
            if isinstance(options, dict):
                names.add(options.get("specname") or name)
    return sorted(names)
