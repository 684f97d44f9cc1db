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
from collections.abc import Iterator, Mapping

from graphql import GraphQLError, StringValueNode, visit
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


def _strings(value: object) -> Iterator[str]:
    """Every string in ``value``, keys too, at any depth: a loop over a stack,
    not a recursion (variables nested 1,000 levels, which orjson reads, were
    a ``RecursionError``: an internal error)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            for key, member in item.items():
                yield str(key)
                pending.append(member)
        elif isinstance(item, list):
            pending.extend(item)


def _may_hold_bad_literals(query: str) -> bool:
    """A literal holds a refused character raw or through a ``\\u`` escape,
    and none is longer than the document: a scan of the text spares most
    documents the walk (~0.1 ms for a customer page's query)."""
    return (
        len(query) > MAX_TEXT_LENGTH
        or "\\u" in query
        or FORBIDDEN.search(query) is not None
    )


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        self.found.append(node.value)


class TextInputs(SchemaExtension):
    """List it after ``ValidatedDocuments``: the refusal is
    added to the validation errors, so nothing executes."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        literals = _Literals()
        if execution.graphql_document is not None and _may_hold_bad_literals(
            execution.query or ""
        ):
            visit(execution.graphql_document, literals)
        for value in [*literals.found, *_strings(execution.variables or {})]:
            problem = text_problem(value)
            if problem is not None:
                refusal = GraphQLError(problem, extensions={"code": "BAD_USER_INPUT"})
                execution.pre_execution_errors = [
                    *(execution.pre_execution_errors or []),
                    refusal,
                ]
                break
        yield
