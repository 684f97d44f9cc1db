"""Every string a client sends, checked once before anything executes.

Strings reach a resolver as literals in the document or as variables (a JSON
value of any shape). ``TextInputs``, a schema extension, walks both and
refuses the operation with ``BAD_USER_INPUT`` when one holds a NUL or another
C0 control character other than tab, newline and carriage return (PostgreSQL
refuses NUL in text: it was an internal error), a lone surrogate (it cannot be
encoded to UTF-8 for the database or the response), or more than
``MAX_TEXT_LENGTH`` characters. Tighter limits per field are the columns' own
(``gateway.db.column_limits``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain

from graphql import (
    ArgumentNode,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

MAX_TEXT_LENGTH = 10_000
"""The longest text any column takes (a note's body)."""
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is refused as input text, or ``None``."""
    if len(value) > MAX_TEXT_LENGTH:
        return f"Text inputs have at most {MAX_TEXT_LENGTH} characters."
    if FORBIDDEN.search(value):
        return "Text inputs must not hold control characters or lone surrogates."
    return None


def _strings(value: object, name: str) -> Iterator[tuple[str, str]]:
    """Every string in ``value``, keys too, at any depth, each with the name
    of the input field holding it (``name`` outside any object; a key's is its
    object's): a loop over a stack, not a recursion (variables nested 1,000
    levels, which orjson reads, were a ``RecursionError``: an internal error)."""
    pending = [(name, value)]
    while pending:
        holder, item = pending.pop()
        if isinstance(item, str):
            yield holder, item
        elif isinstance(item, Mapping):
            for key, member in item.items():
                yield holder, str(key)
                pending.append((str(key), member))
        elif isinstance(item, list):
            pending.extend((holder, member) for member in item)


def _may_hold_bad_literals(query: str) -> bool:
    """A literal holds a refused character raw or through a ``\\u`` escape,
    and none is longer than the document: a scan of the text spares most
    documents the walk (~0.1 ms for a customer page's query)."""
    return (
        len(query) > MAX_TEXT_LENGTH
        or "\\u" in query
        or FORBIDDEN.search(query) is not None
    )


def _holder(parent: object, ancestors: Sequence[object]) -> str | None:
    """The argument or input field a node sits in, the nearest (graphql-core
    gives its parent apart from the rest of its ancestors)."""
    for ancestor in (parent, *reversed(ancestors)):
        if isinstance(ancestor, ArgumentNode | ObjectFieldNode):
            return ancestor.name.value
    return None


class _Literals(Visitor):
    """The document's string literals, and where each variable is used."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.used_as: dict[str, str] = {}

    def enter_string_value(
        self, node: StringValueNode, _key: object, parent: object, _path: object,
        ancestors: Sequence[object],
    ) -> None:  # fmt: skip
        self.found.append((_holder(parent, ancestors) or "", node.value))

    def enter_variable(
        self, node: VariableNode, _key: object, parent: object, _path: object,
        ancestors: Sequence[object],
    ) -> None:  # fmt: skip
        holder = _holder(parent, ancestors)
        if holder is not None:
            self.used_as.setdefault(node.name.value, holder)


class TextInputs(SchemaExtension):
    """List it after ``ValidatedDocuments``: the refusal is
    added to the validation errors, so nothing executes. It names the
    argument or input field holding the string refused (``extensions.field``,
    as ``gateway.errors.GatewayError`` names it), a variable by where the
    document uses it."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        literals = _Literals()
        if document is not None and _may_hold_bad_literals(execution.query or ""):
            visit(document, literals)
        variables = execution.variables or {}
        sent = (
            (holder, value)
            for name, given in variables.items()
            for holder, value in _strings(given, f"${name}")
        )
        for holder, value in chain(literals.found, sent):
            problem = text_problem(value)
            if problem is not None:
                if holder.startswith("$") and document is not None:
                    if not literals.used_as:
                        visit(document, literals)  # where each variable goes
                    holder = literals.used_as.get(holder[1:], holder)
                extensions = {"code": "BAD_USER_INPUT"}
                if holder:
                    extensions["field"] = holder
                refusal = GraphQLError(problem, extensions=extensions)
                execution.pre_execution_errors = [
                    *(execution.pre_execution_errors or []),
                    refusal,
                ]
                break
        yield
