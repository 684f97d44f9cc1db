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
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLSchema,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_input_type,
    type_from_ast,
    visit,
)
from graphql.language import Visitor
from graphql.validation import ASTValidationContext
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


def _strings(value: object) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string in ``value``, keys too, at any depth, each with the keys
    of the objects around it (list positions left out; a key's, those of its
    object): a loop over a stack, not a recursion (variables nested 1,000
    levels, which orjson reads, were a ``RecursionError``: an internal
    error)."""
    pending: list[tuple[tuple[str, ...], object]] = [((), value)]
    while pending:
        keys, item = pending.pop()
        if isinstance(item, str):
            yield keys, item
        elif isinstance(item, Mapping):
            for key, member in item.items():
                yield keys, str(key)
                pending.append(((*keys, str(key)), member))
        elif isinstance(item, list):
            pending.extend((keys, member) for member in item)


def _defined(kind: GraphQLInputType | None, keys: Sequence[str]) -> str | None:
    """The innermost of ``keys`` that the input types from ``kind`` down
    define, following them: what a refusal may name. A key they do not
    define is the client's own, never echoed."""
    named = None
    for key in keys:
        holder = get_named_type(kind) if kind is not None else None
        if not isinstance(holder, GraphQLInputObjectType) or key not in holder.fields:
            break
        named, kind = key, holder.fields[key].type
    return named


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
) -> tuple[str, str | None, str | None, tuple[str, ...]] | None:
    """The first string refused (``text_problem``), literal or variable, a
    variable's name included: why, the argument or input field holding a
    literal, or else the variable it is in, and the keys around it there."""
    for field, variable, value in literals.found:
        if (problem := text_problem(value)) is not None:
            return problem, field, variable, ()
    for name, given in variables.items():
        if (problem := text_problem(name)) is not None:
            return problem, None, None, ()
        for keys, value in _strings(given):
            if (problem := text_problem(value)) is not None:
                return problem, None, name, keys
    return None


def _variable_field(
    document: DocumentNode,
    schema: GraphQLSchema,
    variable: str,
    keys: Sequence[str],
    operation_name: str | None,
) -> str | None:
    """Where a variable's refused value is, as a refusal names it: the
    innermost input field of ``keys`` its declared type defines, else the
    argument or input field the operation run (``operation_name``) uses the
    variable as, in it or a fragment it spreads; ``None`` for a variable
    that operation does not declare."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    declared = None
    for given in operation.variable_definitions or ():
        if given.variable.name.value == variable:
            declared = given.type
    if declared is None:
        return None
    kind = type_from_ast(schema, declared)
    inner = _defined(kind if is_input_type(kind) else None, keys)
    if inner is not None:
        return inner
    used = _Literals()
    for node in _run(document, operation):
        visit(node, used)
    return used.used_as.get(variable)


def _run(document: DocumentNode, operation: OperationDefinitionNode) -> list[Node]:
    """The operation and the fragments it spreads, at any depth: what runs
    (graphql-core's validation context finds them)."""
    spread = ASTValidationContext(document, lambda _: None)
    return [operation, *spread.get_recursively_referenced_fragments(operation)]


_VARIABLE_REFUSED = re.compile(
    r"Variable '\$(\w+)' (?:has|got) invalid value(?: at ([^:]*))?"
)
"""graphql-core's refusal of a variable's value: its name, and the path in
it (``.filter.tagsAny[0]``) where the value is not of its type."""


def name_refused_inputs(
    errors: Sequence[GraphQLError],
    document: DocumentNode | None,
    schema: GraphQLSchema,
    operation_name: str | None,
) -> None:
    """graphql-core's refusals of a value name the argument or input field
    holding it (``extensions.field``), as the gateway's own do: a variable's
    (its type, an unknown input field, a required one left out) by the
    innermost input field of the path graphql-core gives that the schema
    defines, else the argument the operation uses the variable as; a
    literal's (its type, an unknown enum value or input field, a required
    input field left out) by the argument or input field it sits in, or for
    a variable's default the variable's place. Never a key of the client's
    own (``_defined``, ``_place``). Errors naming a field already are left."""
    if document is None:
        return
    for error in errors:
        if error.extensions and "field" in error.extensions:
            continue
        field = None
        variable = _VARIABLE_REFUSED.match(error.message)
        if variable is not None:
            keys = re.findall(r"\.(\w+)", variable.group(2) or "")
            field = _variable_field(
                document, schema, variable.group(1), keys, operation_name
            )
        elif error.nodes and isinstance(error.nodes[0], ValueNode | ObjectFieldNode):
            field, default_of = _holding(document, error.nodes[0])
            if field is None and default_of is not None:
                field = _variable_field(
                    document, schema, default_of, (), operation_name
                )
        if field is not None:
            error.extensions = {**(error.extensions or {}), "field": field}


def _holding(document: DocumentNode, node: Node) -> tuple[str | None, str | None]:
    """Where a literal (or an input field written in one) sits: the argument
    or input field around it, or the variable whose default it is."""
    found: list[tuple[str | None, str | None]] = []

    class Holding(Visitor):
        def enter(
            self, visited: Node, _key: object, parent: object, _path: object,
            ancestors: Sequence[object],
        ) -> object:  # fmt: skip
            if visited is node:
                found.append(_place(parent, ancestors))
                return Visitor.BREAK
            return None

    visit(document, Holding())
    return found[0] if found else (None, None)


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
            problem, field, variable, keys = refused
            if field is None and variable is not None and document is not None:
                schema = execution.schema._schema
                field = _variable_field(
                    document, schema, variable, keys, execution.operation_name
                )
            extensions = {"code": "BAD_USER_INPUT"}
            if field is not None:
                extensions["field"] = field
            execution.pre_execution_errors = [
                *(execution.pre_execution_errors or []),
                GraphQLError(problem, extensions=extensions),
            ]
        yield
