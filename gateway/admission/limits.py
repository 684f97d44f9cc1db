"""Query limits, checked on the document before anything executes, in one
order on every surface — ``/graphql`` and ``/embed/graphql`` differ only in
the limits (``Limits.for_embed``), never in the order:

1. its size in bytes (``QUERY_TOO_LARGE``);
2. its tokens (``QUERY_TOO_MANY_TOKENS``), counted before graphql-core parses;
3. the operation to run (``BAD_REQUEST`` for none, or a name that is not
   there);
4. one walk over that operation in document order (``gateway.admission.walk``),
   stopping at the first limit it passes: directives, aliases, depth, cost, a
   page size too large for an Int, a fragment that spreads itself,
   introspection where it is off.

A document past two limits gets the first one's code, so a surface with
tighter limits may refuse it earlier, with an earlier check's code: 100
directives on a field are 700 tokens, ``QUERY_TOO_MANY_TOKENS`` under the
embed's 400, ``TOO_MANY_DIRECTIVES`` on ``/graphql``.

Page sizes are read as the executor will see them: variables coerced by
graphql-core (``100.0`` is the Int ``100``), literals through the argument's
type. An integer literal too large for an Int (thousands of digits) is refused
(``BAD_USER_INPUT``); any other size that cannot be read (``"ten"``, a variable
the executor will refuse) counts as the largest page and is left to
validation. Every transport answers a refusal before execution
(``gateway.admission.gate``).
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
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from graphql.language import DocumentNode

from gateway.admission.arguments import arguments_used
from gateway.admission.walk import LimitExceeded, Walker, coerced_variables
from gateway.settings import Settings

__all__ = ["Analysis", "LimitExceeded", "Limits", "analyse"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 10_000
    max_document_bytes: int = 100_000
    max_directives: int = 50
    max_page_size: int = 100
    """What a page size that cannot be read in advance counts as."""
    introspection: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            max_document_bytes=settings.max_document_bytes,
            max_directives=settings.max_directives,
            max_page_size=settings.max_page_size,
            introspection=settings.introspection_enabled,
        )

    @classmethod
    def for_embed(cls, settings: Settings) -> Limits:
        """Tighter: an embed token lives in other companies' pages."""
        return cls(
            max_depth=settings.embed_max_depth,
            max_aliases=settings.embed_max_aliases,
            max_tokens=settings.embed_max_tokens,
            max_cost=settings.embed_max_cost,
            max_document_bytes=settings.embed_max_document_bytes,
            max_directives=settings.embed_max_directives,
            max_page_size=settings.max_page_size,
            introspection=settings.introspection_enabled,
        )


@dataclass(slots=True)
class Analysis:
    document: DocumentNode
    operation: OperationDefinitionNode
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    arguments: frozenset[str] = frozenset()
    """The schema coordinates of the arguments, input fields and enum values
    the operation gives a value (``gateway.admission.arguments``): the gate holds
    them against the role's comparisons (``policy.COMPARED``)."""

    @property
    def name(self) -> str | None:
        """The operation's name in its document (a request need not repeat
        it as ``operationName``)."""
        return self.operation.name.value if self.operation.name else None

    @property
    def is_mutation(self) -> bool:
        return self.operation.operation is OperationType.MUTATION

    @property
    def is_subscription(self) -> bool:
        return self.operation.operation is OperationType.SUBSCRIPTION

    @property
    def root_fields(self) -> list[FieldNode]:
        """The operation's root fields, with inline fragments and fragment
        spreads expanded: ``mutation { ... on Mutation { addNote } }`` runs
        ``addNote`` as surely as ``mutation { addNote }`` (permissions and the
        audit read these)."""
        fragments = {
            d.name.value: d
            for d in self.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        found: list[FieldNode] = []
        pending = list(self.operation.selection_set.selections)
        seen: set[str] = set()
        while pending:
            selection = pending.pop(0)
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.extend(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    pending.extend(fragments[name].selection_set.selections)
        return found


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
    coerced = coerced_variables(schema, operation, variables)
    walker = Walker(schema, fragments, coerced, limits)
    walker.count_directives(operation.directives)
    walker.walk(operation.selection_set, root, 1, 1)
    analysis.depth = walker.depth
    analysis.aliases = walker.aliases
    analysis.cost = walker.cost
    analysis.arguments = arguments_used(schema, operation, fragments, coerced)
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
    if name is not None:
        raise LimitExceeded(
            "BAD_REQUEST", "operationName names no operation in the document."
        )
    raise LimitExceeded("BAD_REQUEST", "Name the operation to run (operationName).")
