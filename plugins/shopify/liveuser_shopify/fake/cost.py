"""The fake's query cost, close to Shopify's calculated query cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_object_type,
)

from .schema import schema


def query_cost(document: Any, operation_name: str | None, variables: Mapping[str, Any]) -> int:
    """Shopify's requested cost, approximately: objects 1, scalars 0, connections
    and paginated lists ``2 + first × (their selection)``, mutations 10."""
    op = get_operation_ast(document, operation_name)
    if op is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = {
        v.variable.name.value: getattr(v.default_value, "value", None)
        for v in op.variable_definitions or ()
    }
    s = schema()
    root = s.mutation_type if op.operation == OperationType.MUTATION else s.query_type
    base = 10 if op.operation == OperationType.MUTATION else 0

    def arg(node: FieldNode, name: str) -> int | None:
        for a in node.arguments or ():
            if a.name.value == name:
                value = a.value
                if value.kind == "variable":
                    got = variables.get(value.name.value, defaults.get(value.name.value))  # type: ignore[attr-defined]
                else:
                    got = getattr(value, "value", None)
                try:
                    return int(got) if got is not None else None
                except (TypeError, ValueError):
                    return None
        return None

    def cost(selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None or not hasattr(parent, "fields"):
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                field = parent.fields.get(sel.name.value)
                if field is None:
                    continue
                named = get_named_type(field.type)
                inner = cost(sel.selection_set, named)
                n = arg(sel, "first") or arg(sel, "last")
                if n is not None:
                    total += (
                        2 + n * max(inner, 1)
                        if named.name.endswith("Connection")
                        else 1 + n * inner
                    )
                elif is_object_type(named):
                    total += 1 + inner
            elif isinstance(sel, FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                total += cost(frag.selection_set, parent) if frag else 0
            elif isinstance(sel, InlineFragmentNode):
                total += cost(sel.selection_set, parent)
        return total

    return base + cost(op.selection_set, root)
