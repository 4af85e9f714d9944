"""``import liveuser`` is cheap: every public name is imported on first use.

A process that only builds a pipeline must not pay at start-up for the
template engine, the HTTP stack's retries, the CLI, the MCP server, the web
server or the token and signature libraries. These tests run fresh
interpreters (nothing imported before) and look at ``sys.modules``; they
measure no time.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import liveuser
from liveuser import _EXPORTS

# What only some paths need: rendering (jinja2), requests (httpx2, stamina and
# its tenacity, aiohttp), the CLI (typer, rich), the servers (mcp, starlette,
# uvicorn) and token or webhook signatures (jwt, cryptography), GraphQL.
HEAVY = (
    "jinja2",
    "httpx2",
    "typer",
    "rich",
    "mcp",
    "starlette",
    "uvicorn",
    "stamina",
    "tenacity",
    "jwt",
    "cryptography",
    "aiohttp",
    "graphql",
)


def _imported_after(code: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_import_liveuser_imports_nothing_heavy() -> None:
    loaded = _imported_after("import liveuser")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    # Not even the package's own modules or pydantic: they come with the first name used.
    assert "pydantic" not in loaded


def test_building_a_tenant_with_every_installed_plugin_imports_nothing_heavy() -> None:
    # What a Tenant does on first use: discover every installed plugin through its
    # entry point and build it with its settings (unconfigured ones are skipped).
    loaded = _imported_after(
        "import liveuser\n"
        "tenant = liveuser.Registry(liveuser.Settings()).tenant()\n"
        "assert tenant.plugins, tenant"
    )
    # Not even httpx2: the shared HTTP client is made when a plugin first asks for it.
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_every_plugin_class_loads_without_what_only_its_first_request_needs() -> None:
    loaded = _imported_after(
        "from liveuser.registry import discover_plugins\n"
        "names = {cls.name for cls in discover_plugins()}\n"
        "assert {'zendesk', 'intercom', 'gorgias', 'hubspot', 'freshworks', 'shopify'} <= names"
    )
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_the_http_client_made_on_first_use_is_one_for_the_registry() -> None:
    # Every plugin of every tenant shares the registry's one client (one pool).
    _imported_after(
        "import sys, liveuser\n"
        "settings = liveuser.Settings(tenants={'default': {}, 'acme': {}})\n"
        "registry = liveuser.Registry(settings)\n"
        "tenants = [registry.tenant(), registry.tenant('acme')]\n"
        "assert 'httpx2' not in sys.modules\n"
        "clients = {id(p.http) for t in tenants for p in t.plugins.values()}\n"
        "assert clients == {id(registry.http)} == {id(t.http) for t in tenants}, clients\n"
        "assert 'httpx2' in sys.modules"
    )


def test_the_actions_package_names_are_the_defining_modules_objects() -> None:
    import liveuser.actions as actions

    assert set(actions.__all__) == set(actions._EXPORTS)
    for name in actions.__all__:
        module = importlib.import_module(f"liveuser.actions.{actions._EXPORTS[name]}")
        assert getattr(actions, name) is getattr(module, name), name
    assert set(actions.__all__) <= set(dir(actions))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = actions.no_such_name  # type: ignore[attr-defined]
    # The settings need the policy alone, not the action records or the store.
    loaded = _imported_after(
        "import sys, liveuser\nliveuser.Settings()\n"
        "assert 'liveuser.actions.model' not in sys.modules, 'model'\n"
        "assert 'liveuser.actions.store' not in sys.modules, 'store'"
    )
    assert loaded.isdisjoint(HEAVY)


def test_every_name_in_all_is_importable_and_is_the_defining_modules_object() -> None:
    assert set(_EXPORTS) == set(liveuser.__all__)
    for name in liveuser.__all__:
        module = importlib.import_module(f"liveuser.{_EXPORTS[name]}")
        assert getattr(liveuser, name) is getattr(module, name), name
    namespace: dict[str, object] = {}
    exec(f"from liveuser import {', '.join(liveuser.__all__)}", namespace)
    assert all(namespace[name] is getattr(liveuser, name) for name in liveuser.__all__)


def test_dir_lists_every_public_name_before_it_is_used() -> None:
    names = set(
        json.loads(
            subprocess.run(
                [sys.executable, "-c", "import json, liveuser; print(json.dumps(dir(liveuser)))"],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
        )
    )
    assert set(liveuser.__all__) <= names


@pytest.mark.parametrize("module", sorted(set(_EXPORTS.values())))
def test_each_module_s_names_import_first_in_a_fresh_interpreter(module: str) -> None:
    # Whatever name a program imports first, no import cycle breaks it.
    names = sorted(n for n, m in _EXPORTS.items() if m == module)
    _imported_after(f"from liveuser import {', '.join(names)}")


def test_submodules_resolve_as_attributes_and_unknown_names_are_attribute_errors() -> None:
    # A submodule nobody imported yet is still an attribute of the package, as before.
    _imported_after("import liveuser\nassert liveuser.sandbox.__name__ == 'liveuser.sandbox'")
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = liveuser.no_such_name  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match="NoSuchName"):
        exec("from liveuser import NoSuchName", {})
