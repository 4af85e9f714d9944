"""The vendored Admin schema subset, built once per process."""

from __future__ import annotations

import functools
from importlib.resources import files

from graphql import GraphQLSchema, build_schema


@functools.cache
def schema() -> GraphQLSchema:
    """The vendored Admin schema subset (built once per process)."""
    text = files(__package__).joinpath("shopify-admin.graphql").read_text(encoding="utf-8")
    return build_schema(text)
