"""Every installed connector and back-end, with its fake served on 127.0.0.1.

:func:`start_vendors` starts each plugin's demo sandbox (entry-point group
``liveuser.demo``): its fake as a real server, the settings that point the
plugin at it, and the demo's verified and refused conversations. Tests build
tenants over them with :func:`tenant_settings`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from liveuser import Plugin
from liveuser.demo import DEMO_ENTRY_POINT_GROUP, DemoContext, DemoSandbox, DemoStep
from liveuser.registry import ENTRY_POINT_GROUP
from liveuser.tokens import KeyRing

HOST_KEY_ID = "rel"
HOST_SECRET = "reliability-host-secret-6Vq2Lm9Xw4Tz8Rk1Pn5Bc3Hd7"
HOST_KEYS = KeyRing({HOST_KEY_ID: HOST_SECRET})


@dataclass
class Vendor:
    """One plugin: its class, its running fake's base URL, its demo settings and steps."""

    name: str
    cls: type[Plugin[Any]]
    sandbox: DemoSandbox

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.sandbox.settings)

    @property
    def url(self) -> str:
        """The fake's base URL (``http://127.0.0.1:<port>``)."""
        for value in self.sandbox.settings.values():
            if isinstance(value, str) and value.startswith("http://127.0.0.1:"):
                scheme, host, rest = value.partition("127.0.0.1:")
                return scheme + host + rest.split("/", 1)[0]
        raise LookupError(f"{self.name}: no loopback URL in its settings")

    def step(self, title: str) -> DemoStep:
        """The demo step whose title starts with ``title``."""
        for step in self.sandbox.steps:
            if step.title.startswith(title):
                return step
        raise LookupError(f"{self.name}: no demo step titled {title!r}")


def plugin_classes() -> dict[str, type[Plugin[Any]]]:
    return {ep.name: ep.load() for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def start_vendors(stack: contextlib.ExitStack) -> dict[str, Vendor]:
    """Start every installed plugin's fake on ``stack``; by plugin name."""
    classes = plugin_classes()
    vendors: dict[str, Vendor] = {}
    for ep in importlib.metadata.entry_points(group=DEMO_ENTRY_POINT_GROUP):
        sandbox: DemoSandbox = ep.load()(
            DemoContext(stack=stack, host_keys=HOST_KEYS, rate_limits=False)
        )
        vendors[sandbox.plugin] = Vendor(sandbox.plugin, classes[sandbox.plugin], sandbox)
    return vendors


def tenant_settings(plugins: dict[str, dict[str, Any]], **options: Any) -> dict[str, Any]:
    """TenantSettings fields for a tenant with the reliability host key and ``plugins``."""
    return {"host_keys": {HOST_KEY_ID: HOST_SECRET}, "plugins": plugins, **options}
