"""The public surface: __all__ is sorted, complete and importable."""

from __future__ import annotations

import liveuser


def test_all_is_sorted_and_every_name_exists() -> None:
    assert liveuser.__all__ == sorted(liveuser.__all__, key=lambda n: (not n.isupper(), n))
    for name in liveuser.__all__:
        assert hasattr(liveuser, name), name


def test_every_public_name_in_the_package_namespace_is_exported() -> None:
    public = {
        name
        for name, value in vars(liveuser).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("liveuser")
        and not isinstance(value, type(liveuser))
    }
    assert public <= set(liveuser.__all__)
