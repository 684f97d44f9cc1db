"""Query limits, checked on the parsed document before anything executes.

One walk over the operation (fragments expanded, cycles refused) measures its
depth, its aliases and its cost — fields counted with list multipliers taken
from ``first``/``last`` (literal, variable or the argument's default) — and the
parser itself stops at the token limit, so a hostile document costs little to
refuse. Each refusal has its own code; the HTTP view answers 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from graphql.language import DocumentNode

from gateway.settings import Settings

LIST_ESTIMATE = 10
"""Elements assumed for a list field without ``first`` (line items, tags…);
a connection's own ``edges`` count once: ``first`` already multiplied them."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 10_000
    max_document_bytes: int = 100_000
    introspection: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            max_document_bytes=settings.max_document_bytes,
            introspection=settings.introspection_enabled,
        )


class LimitExceeded(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Analysis:
    document: DocumentNode
    operation: OperationDefinitionNode
    depth: int = 0
    aliases: int = 0
    cost: int = 0

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation is OperationType.MUTATION

    @property
    def root_fields(self) -> list[FieldNode]:
        return [
            s
            for s in self.operation.selection_set.selections
            if isinstance(s, FieldNode)
        ]


def analyse(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
) -> Analysis:
    """Parse and measure ``query``; raise ``LimitExceeded`` past any limit.

    A document graphql-core cannot parse is left for the executor to report,
    except when parsing stopped at the token limit. Analyses are remembered
    per document, operation and variables (variables change the cost), so a
    query sent again is not walked again.
    """
    try:
        frozen = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON (cannot come from a request body): no reuse
        frozen = b""
    if not frozen or len(frozen) > _REMEMBERED_VARIABLES_BYTES:
        return _analyse(schema, query, operation_name, variables, limits)
    return _remembered(schema, query, operation_name, frozen, limits)


_REMEMBERED_VARIABLES_BYTES = 4096
"""Larger variables are analysed afresh: the memory stays small."""


@lru_cache(maxsize=1024)
def _remembered(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    variables: bytes,
    limits: Limits,
) -> Analysis:
    return _analyse(schema, query, operation_name, orjson.loads(variables), limits)


def _analyse(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
) -> Analysis:
    if len(query.encode()) > limits.max_document_bytes:
        raise LimitExceeded(
            "QUERY_TOO_LARGE",
            f"The document exceeds {limits.max_document_bytes} bytes.",
        )
    document = _parse(query, limits.max_tokens)
    operation = _operation(document, operation_name)
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.get_root_type(operation.operation)
    analysis = Analysis(document=document, operation=operation)
    if root is None:
        return analysis
    walker = _Walker(schema, fragments, variables or {}, limits)
    analysis.cost = walker.walk(operation.selection_set, root, 1, 1, ())
    analysis.depth = walker.depth
    analysis.aliases = walker.aliases
    if walker.depth > limits.max_depth:
        raise LimitExceeded(
            "QUERY_TOO_DEEP",
            f"The query nests {walker.depth} deep (limit {limits.max_depth}).",
        )
    if walker.aliases > limits.max_aliases:
        raise LimitExceeded(
            "TOO_MANY_ALIASES",
            f"The query uses {walker.aliases} aliases (limit {limits.max_aliases}).",
        )
    if analysis.cost > limits.max_cost:
        raise LimitExceeded(
            "QUERY_TOO_COSTLY",
            f"The query may return {analysis.cost} nodes (limit {limits.max_cost}).",
        )
    return analysis


_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|\.\.\.'
    r"|[_A-Za-z][_0-9A-Za-z]*|-?\d[\d.eE+-]*|[!$&()\[\]{}:=@|]"
)
_COMMENT = re.compile(r"#[^\n\r]*")


def _too_many_tokens(query: str, max_tokens: int) -> bool:
    """A cheap count (a regular expression, stopping past the limit): graphql-core
    needs ~10 ms to reach 2,000 tokens before it gives up, this well under one."""
    tokens = _TOKEN.finditer(_COMMENT.sub("", query) if "#" in query else query)
    return next(islice(tokens, max_tokens, None), None) is not None


@lru_cache(maxsize=1024)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    """Parsed documents, cached: clients send the same few documents over and
    over, and parsing is most of what checking them costs."""
    if _too_many_tokens(query, max_tokens):
        raise LimitExceeded(
            "QUERY_TOO_MANY_TOKENS", f"The document has more than {max_tokens} tokens."
        )
    try:
        return parse(query, max_tokens=max_tokens, no_location=True)
    except GraphQLError as exc:
        if "more than" in exc.message and "tokens" in exc.message:
            raise LimitExceeded(
                "QUERY_TOO_MANY_TOKENS",
                f"The document has more than {max_tokens} tokens.",
            ) from exc
        raise


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [
        d for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    if name is None and len(operations) == 1:
        return operations[0]
    for operation in operations:
        if name is not None and operation.name and operation.name.value == name:
            return operation
    if not operations:
        raise LimitExceeded("BAD_REQUEST", "The document has no operation.")
    raise LimitExceeded("BAD_REQUEST", "Name the operation to run (operationName).")


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.depth = 0
        self.aliases = 0

    def walk(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        multiplier: int,
        depth: int,
        spreads: tuple[str, ...],
    ) -> int:
        if depth > self.limits.max_depth:
            self.depth = max(self.depth, depth)
            return 0  # deep enough to refuse: no need to walk further
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self._field(selection, parent, multiplier, depth, spreads)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = (
                        self.schema.get_type(selection.type_condition.name.value)
                        or parent
                    )
                cost += self.walk(
                    selection.selection_set, target, multiplier, depth, spreads
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spreads:
                    raise LimitExceeded(
                        "GRAPHQL_VALIDATION_FAILED", f"Fragment {name} spreads itself."
                    )
                fragment = self.fragments.get(name)
                if fragment is not None:
                    target = (
                        self.schema.get_type(fragment.type_condition.name.value)
                        or parent
                    )
                    cost += self.walk(
                        fragment.selection_set,
                        target,
                        multiplier,
                        depth,
                        (*spreads, name),
                    )
        return cost

    def _field(
        self,
        node: FieldNode,
        parent: Any,
        multiplier: int,
        depth: int,
        spreads: tuple[str, ...],
    ) -> int:
        self.depth = max(self.depth, depth)
        if node.alias is not None:
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise LimitExceeded(
                    "TOO_MANY_ALIASES",
                    f"The query uses more than {self.limits.max_aliases} aliases.",
                )
        name = node.name.value
        if name in ("__schema", "__type") and not self.limits.introspection:
            raise LimitExceeded("INTROSPECTION_DISABLED", "Introspection is disabled.")
        definition: GraphQLField | None = None
        if isinstance(parent, GraphQLObjectType) or hasattr(parent, "fields"):
            definition = parent.fields.get(name)
        if node.selection_set is None:
            return multiplier
        in_connection = getattr(parent, "name", "").endswith("Connection")
        size = 1 if in_connection else self._page_size(node, definition)
        child = get_named_type(definition.type) if definition is not None else None
        inner = multiplier * size
        return multiplier + self.walk(
            node.selection_set, child, inner, depth + 1, spreads
        )

    def _page_size(self, node: FieldNode, definition: GraphQLField | None) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = argument.value
                if isinstance(value, IntValueNode):  # 12 digits: past any Int;
                    return max(1, int(value.value[:12]))  # 5,000 were a 500
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    if isinstance(given, int):
                        return max(1, given)
        if definition is None:
            return 1
        for arg_name in ("first", "last"):
            arg = definition.args.get(arg_name)
            if arg is not None and isinstance(arg.default_value, int):
                return max(1, arg.default_value)
        return LIST_ESTIMATE if is_list_type(get_nullable_type(definition.type)) else 1
