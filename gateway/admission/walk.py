"""One walk over an operation, measuring what ``gateway.admission.limits`` bounds.

The walk reads the operation in document order — a selection's directives,
its alias, then the field and its selection set, depth first — and stops at
the first limit passed, raising its code: directives, aliases, depth
(``QUERY_TOO_DEEP`` at the first field past it), cost (``QUERY_TOO_COSTLY`` as
soon as the running count passes it), a page size too large for an Int,
introspection where it is off. A hostile document so costs at most what the
limits allow: a kilobyte of fragments that expands to millions of fields is
refused after ``max_cost`` of them.

Fragments are expanded (a fragment that spreads itself is refused); as
graphql-core collects fields, a fragment spread twice in one selection set is
expanded once. Cost counts fields, each multiplied by the page sizes above
it: ``first`` / ``last`` as the executor will read them
(``coerced_variables``), else the argument's default, else
``CONNECTION_DEFAULT`` for a connection and ``LIST_ESTIMATE`` for a plain
list; federation's ``_entities`` by its representations. Each fragment
expanded counts one more: walking a chain of spreads is work too (200 of
them behind each of 5,000 fields, 8 KB, took 2 s when only fields counted).

Introspection (``__schema`` and ``__type`` subtrees) has its own depth bound:
the standard query every tool sends (graphql-js's ``getIntrospectionQuery``,
nine ``ofType`` levels deep) nests 15 deep, past ``max_depth``, while its
denial of service is a loop of ``fields { type { fields …`` lists. So, as
graphql-js's ``MaxIntrospectionDepthRule`` and GraphQL Armor do, the subtree
may nest as deep as the standard query but holds at most two nested lists of
``fields``, ``inputFields``, ``interfaces`` or ``possibleTypes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_variable_values,
    is_list_type,
)
from graphql.language import DirectiveNode
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast

if TYPE_CHECKING:
    from gateway.admission.limits import Limits

LIST_ESTIMATE = 10
"""Elements assumed for a list field without ``first`` (line items, tags…);
a connection's own ``edges`` count once: ``first`` already multiplied them."""

INTROSPECTION_DEPTH = 15
"""The standard introspection query's depth: ``__schema`` → ``types`` →
``fields`` → ``args`` → ``type`` → nine ``ofType`` → ``name``."""
INTROSPECTION_LISTS = ("fields", "inputFields", "interfaces", "possibleTypes")
MAX_INTROSPECTION_LISTS = 2
"""graphql-js refuses a third nested list; the standard query nests one."""

CONNECTION_DEFAULT = 20
"""Page of a connection asked for without ``first``/``last`` or a default of its
own (the timeline serves 20)."""


class LimitExceeded(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        """``field``: the argument refused, for ``BAD_USER_INPUT``."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def coerced_variables(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The variables as the executor will see them; ``None`` when they cannot be
    coerced (the executor refuses them; page sizes count as the largest)."""
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), variables or {}, max_errors=1
    )
    return None if isinstance(coerced, list) else coerced.coerced


class Walker:
    """``count_directives`` of the operation, then ``walk`` its selection set
    once: the measures are then on the walker, unless it raised
    ``LimitExceeded``."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any] | None,
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.depth = 0
        self.aliases = 0
        self.directives = 0
        self.cost = 0
        self._open: set[str] = set()
        """The fragments being expanded around the current selection."""

    def count_directives(self, directives: tuple[DirectiveNode, ...] | None) -> None:
        """One refusal for a pile of directives, not one error per directive."""
        self.directives += len(directives or ())
        if self.directives > self.limits.max_directives:
            raise LimitExceeded(
                "TOO_MANY_DIRECTIVES",
                f"The query uses more than {self.limits.max_directives} directives.",
            )

    def walk(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        multiplier: int,
        depth: int,
        lists: int | None = None,
        expanded: set[str] | None = None,
    ) -> None:
        """``lists``: inside introspection, the introspection lists above;
        ``None`` elsewhere. ``expanded``: the fragments already expanded into
        this selection set."""
        if lists is not None and depth > INTROSPECTION_DEPTH:
            raise LimitExceeded(
                "QUERY_TOO_DEEP",
                f"The introspection query nests deeper than {INTROSPECTION_DEPTH}.",
            )
        if depth > self.limits.max_depth and lists is None:
            raise LimitExceeded(
                "QUERY_TOO_DEEP",
                f"The query nests {depth} deep (limit {self.limits.max_depth}).",
            )
        expanded = set() if expanded is None else expanded
        for selection in selection_set.selections:
            self.count_directives(selection.directives)
            if isinstance(selection, FieldNode):
                self._field(selection, parent, multiplier, depth, lists)
            elif isinstance(selection, InlineFragmentNode):
                target = self._target(selection.type_condition, parent)
                self.walk(
                    selection.selection_set, target, multiplier, depth, lists, expanded
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._spread(selection.name.value, expanded)
                if fragment is None:
                    continue
                target = self._target(fragment.type_condition, parent)
                self.walk(
                    fragment.selection_set, target, multiplier, depth, lists, expanded
                )
                self._open.discard(fragment.name.value)

    def _target(self, condition: NamedTypeNode | None, parent: Any) -> Any:
        if condition is None:
            return parent
        return self.schema.get_type(condition.name.value) or parent

    def _spread(self, name: str, expanded: set[str]) -> FragmentDefinitionNode | None:
        """The fragment to expand here, now open; ``None`` when it was
        expanded into this selection set already (or does not exist:
        validation says so)."""
        if name in self._open:
            raise LimitExceeded(
                "GRAPHQL_VALIDATION_FAILED", f"Fragment {name} spreads itself."
            )
        fragment = self.fragments.get(name)
        if fragment is None or name in expanded:
            return None
        expanded.add(name)
        self._open.add(name)
        self._count(1)
        self.count_directives(fragment.directives)
        return fragment

    def _field(
        self,
        node: FieldNode,
        parent: Any,
        multiplier: int,
        depth: int,
        lists: int | None,
    ) -> None:
        if node.alias is not None:
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise LimitExceeded(
                    "TOO_MANY_ALIASES",
                    f"The query uses more than {self.limits.max_aliases} aliases.",
                )
        name = node.name.value
        if name in ("__schema", "__type", "_service") and not self.limits.introspection:
            raise LimitExceeded("INTROSPECTION_DISABLED", "Introspection is disabled.")
        if lists is None and name in ("__schema", "__type"):
            lists = 0
        if lists is None:
            self.depth = max(self.depth, depth)
        elif name in INTROSPECTION_LISTS:
            lists += 1
            if lists > MAX_INTROSPECTION_LISTS:
                raise LimitExceeded(
                    "QUERY_TOO_DEEP",
                    f"The introspection query nests {lists} lists of fields, "
                    f"interfaces or types (limit {MAX_INTROSPECTION_LISTS}).",
                )
        self._count(multiplier)
        if node.selection_set is None:
            return
        definition: GraphQLField | None = None
        if isinstance(parent, GraphQLObjectType) or hasattr(parent, "fields"):
            definition = parent.fields.get(name)
        in_connection = getattr(parent, "name", "").endswith("Connection")
        size = 1 if in_connection else self._page_size(node, definition)
        child = get_named_type(definition.type) if definition is not None else None
        self.walk(node.selection_set, child, multiplier * size, depth + 1, lists)

    def _count(self, nodes: int) -> None:
        self.cost += nodes
        if self.cost > self.limits.max_cost:
            raise LimitExceeded(
                "QUERY_TOO_COSTLY",
                f"The query may return more than {self.limits.max_cost} nodes.",
            )

    def _page_size(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """``first``/``last``; for federation's ``_entities``, the number of
        representations a router sends."""
        if definition is None:
            return 1  # no such field: validation refuses the document
        for argument in node.arguments or ():
            name = argument.name.value
            if name == "representations":
                return self._representations(argument.value)
            declared = definition.args.get(name)
            if name not in ("first", "last") or declared is None:
                continue
            if isinstance(argument.value, VariableNode):
                if self.variables is None:
                    return self.limits.max_page_size
                value = self.variables.get(argument.value.name.value)
            else:
                value = value_from_ast(argument.value, declared.type)
                if value is Undefined and isinstance(argument.value, IntValueNode):
                    raise LimitExceeded(
                        "BAD_USER_INPUT",
                        f"`{name}` must be an Int (a 32-bit integer).",
                        field=name,
                    )
                if value is Undefined:  # "ten", 1.5: validation refuses it
                    return self.limits.max_page_size
            if isinstance(value, int):
                return max(1, value)
        for arg_name in ("first", "last"):
            arg = definition.args.get(arg_name)
            if arg is not None and isinstance(arg.default_value, int):
                return max(1, arg.default_value)
        if get_named_type(definition.type).name.endswith("Connection"):
            return CONNECTION_DEFAULT
        return LIST_ESTIMATE if is_list_type(get_nullable_type(definition.type)) else 1

    def _representations(self, value: object) -> int:
        if isinstance(value, ListValueNode):
            return max(1, len(value.values))
        if isinstance(value, VariableNode):
            if self.variables is None:
                return self.limits.max_page_size
            given = self.variables.get(value.name.value)
            if isinstance(given, list):
                return max(1, len(given))
        return 1
