"""Which arguments an operation uses, by schema coordinate.

``arguments_used`` walks the operation the gate admits (fragments expanded)
and names every argument, input field and enum value given a non-null value,
literal or through a variable, nested to any depth:
``customers(filter: {not: {city: $c}}, orderBy: EMAIL_ASC)`` uses
``Query.customers(filter:)``, ``CustomerFilter.not``… ``CustomerFilter.city``,
``Query.customers(orderBy:)`` and ``CustomerOrderBy.EMAIL_ASC``. A federation
representation (``_Any``) uses its entity's key fields: ``{__typename:
"Customer", email: …}`` is ``Customer.email``. The gate holds the result
against ``gateway.auth.policy.COMPARED``.

Values are read as the executor will read them (``value_from_ast`` on the
coerced variables); a value it cannot read is left out, as the executor then
refuses the operation.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
)
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast

REPRESENTATION = "_Any"
"""Federation's scalar for an entity representation."""


def arguments_used(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any] | None,
) -> frozenset[str]:
    root = schema.get_root_type(operation.operation)
    if root is None:
        return frozenset()
    finder = _Finder(schema, fragments, variables or {})
    finder.selections(operation.selection_set, root, ())
    return frozenset(finder.found)


class _Finder:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.found: set[str] = set()

    def selections(
        self, selection_set: SelectionSetNode, parent: Any, spreads: tuple[str, ...]
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, parent, spreads)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type(condition.name.value if condition else None)
                self.selections(selection.selection_set, target or parent, spreads)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in spreads:
                    target = self._type(fragment.type_condition.name.value)
                    self.selections(
                        fragment.selection_set, target or parent, (*spreads, name)
                    )

    def _type(self, name: str | None) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if name else None

    def _field(self, node: FieldNode, parent: Any, spreads: tuple[str, ...]) -> None:
        definition = (getattr(parent, "fields", None) or {}).get(node.name.value)
        if definition is None:
            return  # no such field: validation refuses the document
        for argument in node.arguments or ():
            declared = definition.args.get(argument.name.value)
            if declared is None:
                continue
            value = value_from_ast(argument.value, declared.type, self.variables)
            if value is Undefined or value is None:
                continue
            self.found.add(f"{parent.name}.{node.name.value}({argument.name.value}:)")
            self._value(value, declared.type)
        if node.selection_set is not None:
            self.selections(
                node.selection_set, get_named_type(definition.type), spreads
            )

    def _value(self, value: Any, type_: GraphQLInputType) -> None:
        if value is None:
            return
        nullable = get_nullable_type(type_)
        if isinstance(nullable, GraphQLList):
            for item in value if isinstance(value, list) else [value]:
                self._value(item, nullable.of_type)
        elif isinstance(nullable, GraphQLInputObjectType):
            for name, field in nullable.fields.items():
                inner = value.get(name) if isinstance(value, dict) else None
                if inner is not None:
                    self.found.add(f"{nullable.name}.{name}")
                    self._value(inner, field.type)
        elif isinstance(nullable, GraphQLEnumType):
            self.found.add(f"{nullable.name}.{nullable.serialize(value)}")
        elif isinstance(nullable, GraphQLScalarType):
            self._representation(nullable, value)

    def _representation(self, scalar: GraphQLScalarType, value: Any) -> None:
        if scalar.name != REPRESENTATION or not isinstance(value, dict):
            return
        entity = value.get("__typename")
        if isinstance(entity, str):
            self.found.update(
                f"{entity}.{key}"
                for key, given in value.items()
                if key != "__typename" and given is not None
            )
