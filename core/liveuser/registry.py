"""Tenants, their plugin managers, and plugin discovery.

Each :class:`Tenant` has its own settings, host keys, caches and pluggy
``PluginManager`` holding plugin *instances* built with that tenant's
settings, so one tenant's keys can never serve another. The
:class:`Registry` builds tenants on first use, registering in this order:

1. the core's default renderer (:class:`~liveuser.render.DefaultRenderer`);
2. the built-in tools (:class:`~liveuser.builtin_tools.BuiltinTools`);
3. :class:`~liveuser.actions.http_action.HttpActions`, when the tenant sets
   ``[[tenants.<t>.actions.http]]``;
4. the built-in plugin classes, each built with the tenant's settings unless
   disabled or not configured: the ``host`` connector
   (:class:`~liveuser.host.HostConnector`, which needs no settings) and the
   ``user_data_api`` back-end (:class:`~liveuser.backends.user_data_api.UserDataApi`,
   when ``[tenants.<t>.plugins.user_data_api]`` is set);
5. every plugin class found through the entry-point group ``liveuser``
   (iterated here, not by pluggy's loader, so each class is built with its
   settings and a broken entry point is logged and skipped; a name already
   taken is skipped too);
6. what the code registers (``registry.register(MyBackend(...))``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import logging
import types
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from pydantic import ValidationError

from . import hookspecs
from .caches import Caches, InProcessCaches, RedisCaches, TTLCache
from .errors import ConfigError, PluginError, UnknownTenantError
from .identity import normalize_email
from .models import Channel, Conversation, ConversationKey, Refusal, VerifiedUser
from .plugin import Plugin, PluginRuntime, PluginSettings
from .settings import (
    DEFAULT_TENANT,
    Settings,
    TenantSettings,
    describe_validation_error,
    load_settings,
)
from .tokens import KeyRing
from .tools import Tool

if TYPE_CHECKING:
    from .http import HttpClient
    from .metering import Pricing

log = logging.getLogger("liveuser")

ENTRY_POINT_GROUP = "liveuser"
T = TypeVar("T")


async def resolve(value: T | Awaitable[T]) -> T:
    """Await ``value`` if a hook implementation returned a coroutine; the one place we do."""
    if type(value) is types.CoroutineType or inspect.isawaitable(value):
        return await value
    return value


def discover_plugins() -> list[type[Plugin[Any]]]:
    """Every plugin class installed under the ``liveuser`` entry-point group.

    A plugin that fails to import, or is not a :class:`Plugin` subclass, is
    logged and skipped.
    """
    found: list[type[Plugin[Any]]] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Plugin)):
                raise PluginError(f"{ep.value} is not a liveuser.Plugin subclass")
        except Exception as exc:
            log.warning("liveuser plugin %r failed to load and is skipped: %s", ep.name, exc)
            continue
        if ep.dist is not None:
            cls._liveuser_dist_version = ep.dist.version  # type: ignore[attr-defined]
        found.append(cls)
    return found


def _verification_key(conversation: Conversation) -> tuple[ConversationKey, str]:
    """A conversation plus a digest of the credentials and the vendor record presented."""
    try:
        seen = json.dumps([conversation.claims, conversation.payload], sort_keys=True, default=str)
    except (TypeError, ValueError):
        seen = repr((sorted(conversation.claims.items()), conversation.payload))
    return conversation.key, hashlib.sha256(seen.encode()).hexdigest()


class Tenant:
    """One business: its settings, keys, caches and plugin instances."""

    def __init__(
        self, name: str, settings: TenantSettings, http: HttpClient | Callable[[], HttpClient]
    ) -> None:
        self.name = name
        self.settings = settings
        self._http = http
        self.host_keys = KeyRing(settings.host_keys) if settings.host_keys else None
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, Plugin[Any]] = {}
        self.owners: dict[Channel, Plugin[Any]] = {}
        self.data_cache = TTLCache()
        self.verifications = TTLCache()
        self.caches: Caches = InProcessCaches(self.data_cache, self.verifications)
        self._tools: dict[str, Tool] | None = None
        self._hook_functions: dict[str, tuple[tuple[str, Callable[..., Any]], ...]] = {}
        self._verifiers: dict[Channel, tuple[str, Callable[..., Any]] | Refusal] = {}
        self._pricing: Pricing | None = None

    def __repr__(self) -> str:
        return f"<Tenant {self.name!r} plugins={sorted(self.plugins)}>"

    @property
    def http(self) -> HttpClient:
        """The HTTP client this tenant's plugins share (made on first use)."""
        http = self._http
        return http() if callable(http) else http

    # -- plugins ---------------------------------------------------------

    def build(self, cls: type[Plugin[Any]]) -> Plugin[Any] | None:
        """Build ``cls`` with this tenant's settings; None when it is not configured."""
        section = self.settings.plugins.get(cls.name)
        if cls.name in self.settings.disabled_plugins:
            return None
        try:
            settings = self._plugin_settings(cls, section or {})
        except ValidationError as exc:
            if section is None:
                log.debug("plugin %s is not configured for tenant %s", cls.name, self.name)
                return None
            raise ConfigError(
                describe_validation_error(exc, f"tenant {self.name}: plugin {cls.name} settings")
            ) from None
        return cls(settings)

    def _plugin_settings(self, cls: type[Plugin[Any]], values: dict[str, Any]) -> PluginSettings:
        if self.name == DEFAULT_TENANT:
            return cls.settings_model(**values)
        # Other tenants never read the default tenant's environment variables.
        prefix = f"LIVEUSER_TENANT_{self.name.upper()}_{cls.name.upper()}_"
        return cls.settings_model(_env_prefix=prefix, **values)

    def register(self, plugin: Plugin[Any]) -> Plugin[Any]:
        """Add ``plugin`` to this tenant; a clash of names, channels or hooks is a PluginError."""
        if not isinstance(plugin, Plugin):
            raise PluginError(f"{plugin!r} is not a liveuser.Plugin instance")
        if plugin.name in self.plugins:
            raise PluginError(f"tenant {self.name}: a plugin named {plugin.name!r} is registered")
        for channel in plugin.channels:
            owner = self.owners.get(channel)
            if owner is not None:
                raise PluginError(
                    f"tenant {self.name}: plugins {owner.name!r} and {plugin.name!r} "
                    f"both claim channel {channel.value}"
                )
        plugin.bind(
            PluginRuntime(
                tenant=self.name,
                http=self._http,
                host_keys=self.host_keys,
                max_response_bytes=self.settings.max_response_bytes,
                forget_verification=self.forget_verification,
                forget_identity=self._forget_identity,
            )
        )
        try:
            self.pm.register(plugin, name=plugin.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {plugin.name}: {exc}") from None
        self.plugins[plugin.name] = plugin
        if plugin.template_package:
            from .render import DefaultRenderer

            for other in self.plugins.values():
                if isinstance(other, DefaultRenderer):
                    other.add_templates(plugin.template_package)
        for channel in plugin.channels:
            self.owners[channel] = plugin
        self._tools = None
        self._hook_functions.clear()
        self._verifiers.clear()
        return plugin

    def hook_functions(self, hook: str) -> tuple[tuple[str, Callable[..., Any]], ...]:
        """(plugin name, function) for each implementation of ``hook``, in pluggy's call order.

        Kept until the next registration: the pipeline asks on every message.
        """
        found = self._hook_functions.get(hook)
        if found is None:
            impls = getattr(self.pm.hook, hook).get_hookimpls()
            found = tuple((impl.plugin_name, impl.function) for impl in reversed(impls))
            self._hook_functions[hook] = found
        return found

    def verifier(self, channel: Channel) -> tuple[str, Callable[..., Any]] | Refusal:
        """(plugin name, ``verify_user`` function) of the one plugin that owns
        ``channel``, or the Refusal that says why there is none."""
        found = self._verifiers.get(channel)
        if found is None:
            owner = self.owners.get(channel)
            if owner is None:
                found = Refusal(reason=f"no connector for channel {channel.value} is installed")
            else:
                found = next(
                    ((n, f) for n, f in self.hook_functions("verify_user") if n == owner.name),
                    Refusal(reason=f"connector {owner.name} cannot verify users"),
                )
            self._verifiers[channel] = found
        return found

    @property
    def pricing(self) -> Pricing:
        """The tenant's price and threshold, as the ledger takes them."""
        settings, pricing = self.settings, self._pricing
        if (
            pricing is None
            or pricing.threshold != settings.charge_threshold_chars
            or pricing.price != settings.price_per_message
        ):
            from .metering import Pricing

            pricing = self._pricing = Pricing(
                threshold=settings.charge_threshold_chars, price=settings.price_per_message
            )
        return pricing

    async def tools(self) -> dict[str, Tool]:
        """Every tool the plugins registered, by name (collected once)."""
        if self._tools is None:
            tools: dict[str, Tool] = {}
            for plugin_name, fn in self.hook_functions("register_tools"):
                offered = await resolve(fn())
                for tool in offered or ():
                    if not isinstance(tool, Tool):
                        raise PluginError(f"plugin {plugin_name} registered {tool!r}, not a Tool")
                    if tool.name in tools:
                        raise PluginError(f"two plugins register a tool named {tool.name!r}")
                    tools[tool.name] = tool.with_source(plugin_name)
            self._tools = tools
        return self._tools

    # -- caches ------------------------------------------------------------

    def forget_verification(self, key: ConversationKey) -> None:
        """Drop the cached verification of one conversation (for every worker sharing it)."""
        self.verifications.drop(lambda k, _: k[0] == key)
        self.caches.forget_verification(key)

    def cached_verification(self, conversation: Conversation) -> VerifiedUser | None:
        """This process's verification of this conversation, if the same credentials
        earned it lately (the in-process cache; see :meth:`shared_verification`)."""
        found = self.verifications.get(_verification_key(conversation))
        return found if isinstance(found, VerifiedUser) else None

    async def shared_verification(self, conversation: Conversation) -> VerifiedUser | None:
        """The verification of this conversation from the tenant's caches (Redis or local)."""
        return await self.caches.verification(_verification_key(conversation))

    async def remember_verification(self, conversation: Conversation, user: VerifiedUser) -> None:
        if self.settings.cache_ttl_seconds <= 0:
            return
        # Never longer than the data it unlocks nor past its evidence's expiry; new
        # credentials or a changed vendor record (another author, a CC) verify again.
        ttl = self.settings.cache_ttl_seconds
        if user.record.expires_at is not None:
            ttl = min(ttl, (user.record.expires_at - datetime.now(UTC)).total_seconds())
        await self.caches.remember_verification(_verification_key(conversation), user, ttl)

    def _forget_identity(self, email: str) -> int:
        try:
            return self.forget_identity(normalize_email(email))
        except ValueError:
            return 0

    def forget_identity(self, email: str) -> int:
        """Drop every cached datum and verification of ``email`` in this process
        (and, with shared caches, start dropping them for every worker)."""
        dropped = self.data_cache.drop(lambda k, _: k[0] == email)
        dropped += self.verifications.drop(lambda _, user: user.email == email)
        dropped += self._forget_tokens(email)
        if isinstance(self.caches, RedisCaches):
            self.caches.later(self.caches.forget_identity(email))
        return dropped

    def _forget_tokens(self, email: str) -> int:
        """Drop the host connector's remembered identity tokens of ``email``."""
        from .host import HostConnector

        host = self.plugins.get("host")
        return host.forget(email) if isinstance(host, HostConnector) else 0

    async def settle(self) -> None:
        """Wait for the shared caches' forgetting that sync code started."""
        if isinstance(self.caches, RedisCaches):
            await self.caches.settle()

    async def aforget_identity(self, email: str) -> int:
        """Drop every cached datum and verification of ``email``, for every worker."""
        if isinstance(self.caches, InProcessCaches):
            return self.forget_identity(email)
        return self._forget_tokens(email) + await self.caches.forget_identity(email)


class Registry:
    """Every tenant of this process, built on first use."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        http: HttpClient | None = None,
        discover: bool = True,
        builtins: Iterable[type[Plugin[Any]]] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._http = http
        self._discover = discover
        self._builtins = list(builtins) if builtins is not None else _builtin_plugins()
        self._classes: list[type[Plugin[Any]]] | None = None
        self._tenants: dict[str, Tenant] = {}
        self._pending: dict[str, list[Plugin[Any]]] = {}
        self._redis: Any = None

    @property
    def http(self) -> HttpClient:
        """The process's HTTP client, with the settings' vendor request budgets."""
        if self._http is None:
            url = self.settings.redis_url
            from .budgets import RequestBudget
            from .http import HttpClient

            budget = RequestBudget(
                self.settings.rate_limits, None if url is None else url.get_secret_value()
            )
            self._http = HttpClient(budget=budget)
        return self._http

    @property
    def redis(self) -> Any:
        """The ``redis.asyncio`` client of ``redis_url`` (None without one), made once."""
        url = self.settings.redis_url
        if url is None:
            return None
        if self._redis is None:
            try:
                import redis.asyncio
            except ImportError:
                raise ConfigError(
                    "redis_url needs the redis extra: pip install 'liveuser[redis]'"
                ) from None
            self._redis = redis.asyncio.Redis.from_url(
                url.get_secret_value(), socket_timeout=2.0, socket_connect_timeout=2.0
            )
        return self._redis

    def plugin_classes(self) -> list[type[Plugin[Any]]]:
        """Built-in plugin classes, then installed ones (one per name; first wins)."""
        if self._classes is None:
            classes: dict[str, type[Plugin[Any]]] = {}
            found = discover_plugins() if self._discover else []
            for cls in [*self._builtins, *found]:
                if cls.name in classes and classes[cls.name] is not cls:
                    log.warning("two plugins are named %r; %s is skipped", cls.name, cls)
                    continue
                classes[cls.name] = cls
            self._classes = list(classes.values())
        return self._classes

    def tenant_names(self) -> list[str]:
        return sorted(self.settings.tenants)

    def tenant(self, name: str = DEFAULT_TENANT) -> Tenant:
        """The tenant called ``name``; :class:`UnknownTenantError` if it is not configured."""
        tenant = self._tenants.get(name)
        if tenant is not None:
            return tenant
        settings = self.settings.tenants.get(name)
        if settings is None:
            raise UnknownTenantError(f"unknown tenant {name!r}")
        # The client is made when a plugin first asks: building a tenant imports no HTTP library.
        tenant = Tenant(name, settings, lambda: self.http)
        if self.redis is not None:
            tenant.caches = RedisCaches(self.redis, name)
        from .builtin_tools import BuiltinTools
        from .render import DefaultRenderer

        tenant.register(DefaultRenderer())
        tenant.register(BuiltinTools())
        if settings.actions.http:
            from .actions.http_action import HttpActions

            tenant.register(HttpActions(settings.actions.http))
        for cls in self.plugin_classes():
            plugin = tenant.build(cls)
            if plugin is not None:
                tenant.register(plugin)
        for plugin in self._pending.pop(name, []):
            tenant.register(plugin)
        self._tenants[name] = tenant
        return tenant

    def register(self, plugin: Plugin[Any], tenant: str = DEFAULT_TENANT) -> Plugin[Any]:
        """Register a plugin instance in code, for one tenant."""
        if tenant not in self.settings.tenants:
            raise UnknownTenantError(f"unknown tenant {tenant!r}")
        return self.tenant(tenant).register(plugin)

    async def aclose(self) -> None:
        for tenant in self._tenants.values():
            await tenant.settle()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def _builtin_plugins() -> list[type[Plugin[Any]]]:
    from .backends.user_data_api import UserDataApi
    from .host import HostConnector

    return [HostConnector, UserDataApi]
