"""The plugin every tenant registers when it is built: it offers ``get_user_data``.

Kept apart from :mod:`.adapters` so that building a tenant imports neither the
adapters nor the action types; the tool itself is made when the tenant first
collects its tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .hookspecs import hookimpl
from .plugin import NoSettings, Plugin

if TYPE_CHECKING:
    from .tools import Tool


class BuiltinTools(Plugin[NoSettings]):
    """Offers ``get_user_data``; every tenant registers it when it is built."""

    name: ClassVar[str] = "liveuser"

    @hookimpl
    def register_tools(self) -> list[Tool]:
        from .adapters import user_data_tool

        return [user_data_tool()]
