"""The vendored Admin schema subset, plus the action extensions, built once per process."""

from __future__ import annotations

import functools
from importlib.resources import files

from graphql import GraphQLSchema, build_schema


@functools.cache
def schema() -> GraphQLSchema:
    """The vendored Admin schema subset and ``extensions.graphql`` (built once per process)."""
    package = files(__package__)
    text = package.joinpath("shopify-admin.graphql").read_text(encoding="utf-8")
    extensions = package.joinpath("extensions.graphql").read_text(encoding="utf-8")
    return build_schema(text + "\n" + extensions)
