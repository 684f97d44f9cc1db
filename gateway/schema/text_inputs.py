"""Every string a client sends, checked once before anything executes.

Strings reach a resolver as literals in the document or as variables (a JSON
value of any shape). ``TextInputs``, a schema extension, walks both and
refuses the operation with ``BAD_USER_INPUT`` when one holds a NUL or another
C0 control character other than tab, newline and carriage return (PostgreSQL
refuses NUL in text: it was an internal error), DEL or a C1 control character
(``FORBIDDEN``), a lone surrogate (it cannot be
encoded to UTF-8 for the database or the response), or more than
``MAX_TEXT_LENGTH`` characters. Tighter limits per field are the columns' own
(``gateway.db.column_limits``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from graphql import (
    ArgumentNode,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    visit,
)
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

MAX_TEXT_LENGTH = 10_000
"""The longest text any column takes (a note's body)."""
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 controls but tab, newline and carriage return; DEL; C1 controls (U+0080 to
U+009F: CSI, U+009B, is an escape to some terminals and log viewers); lone
surrogates."""


def text_problem(value: str) -> str | None:
    """Why ``value`` is refused as input text, or ``None``."""
    if len(value) > MAX_TEXT_LENGTH:
        return f"Text inputs have at most {MAX_TEXT_LENGTH} characters."
    if FORBIDDEN.search(value):
        return "Text inputs must not hold control characters or lone surrogates."
    return None


NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}\Z")
"""A key an input type can define (a GraphQL name), that a refusal may name:
any other key of a client's JSON is not echoed back."""


def _strings(value: object) -> Iterator[tuple[str | None, str]]:
    """Every string in ``value``, keys too, at any depth, each with the input
    field holding it (``None`` outside any object that names one: a key's
    is its object's; a member's its key, if ``NAME`` holds of it): a loop over
    a stack, not a recursion (variables nested 1,000 levels, which orjson
    reads, were a ``RecursionError``: an internal error)."""
    pending: list[tuple[str | None, object]] = [(None, value)]
    while pending:
        holder, item = pending.pop()
        if isinstance(item, str):
            yield holder, item
        elif isinstance(item, Mapping):
            for key, member in item.items():
                key = str(key)
                yield holder, key
                pending.append((key if NAME.match(key) else holder, member))
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


def _place(
    parent: object, ancestors: Sequence[object]
) -> tuple[str | None, str | None]:
    """Where a node sits: the nearest argument or input field around it, or
    else the variable whose default it is (graphql-core gives its parent
    apart from the rest of its ancestors)."""
    for ancestor in (parent, *reversed(ancestors)):
        if isinstance(ancestor, ArgumentNode | ObjectFieldNode):
            return ancestor.name.value, None
        if isinstance(ancestor, VariableDefinitionNode):
            return None, ancestor.variable.name.value
    return None, None


class _Literals(Visitor):
    """The document's string literals, each with where it sits (``_place``),
    and where each variable is used (the argument or input field)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str | None, str | None, str]] = []
        self.used_as: dict[str, str] = {}

    def enter_string_value(
        self, node: StringValueNode, _key: object, parent: object, _path: object,
        ancestors: Sequence[object],
    ) -> None:  # fmt: skip
        self.found.append((*_place(parent, ancestors), node.value))

    def enter_variable(
        self, node: VariableNode, _key: object, parent: object, _path: object,
        ancestors: Sequence[object],
    ) -> None:  # fmt: skip
        field = _place(parent, ancestors)[0]
        if field is not None:
            self.used_as.setdefault(node.name.value, field)


def _refused(
    literals: _Literals, variables: Mapping[str, object]
) -> tuple[str, str | None, str | None] | None:
    """The first string refused (``text_problem``), literal or variable, a
    variable's name included: why, and the input field holding it or else
    the variable it is in."""
    for field, variable, value in literals.found:
        if (problem := text_problem(value)) is not None:
            return problem, field, variable
    for name, given in variables.items():
        if (problem := text_problem(name)) is not None:
            return problem, None, None
        for field, value in _strings(given):
            if (problem := text_problem(value)) is not None:
                return problem, field, name
    return None


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
        refused = _refused(literals, execution.variables or {})
        if refused is not None:
            problem, field, variable = refused
            if field is None and variable is not None and document is not None:
                used = _Literals()  # where the variable goes
                visit(document, used)
                field = used.used_as.get(variable)
            extensions = {"code": "BAD_USER_INPUT"}
            if field is not None:
                extensions["field"] = field
            execution.pre_execution_errors = [
                *(execution.pre_execution_errors or []),
                GraphQLError(problem, extensions=extensions),
            ]
        yield
