"""A document's validation, done once per parsed document.

Strawberry's ``ValidationCache`` is an ``lru_cache`` over (schema, document,
rules): each lookup hashes the document, and graphql-core's AST nodes are
frozen dataclasses that hash every field of every node, the locations
included, on every call (~120 µs for the customer 360 view's document, its
whole validation's worth again on every request). ``ParserCache`` hands out
one ``DocumentNode`` per query text, so the document's identity is key
enough: the entry keeps the document (its ``id`` is not reused while it is
cached) and is used only for the same schema and rules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


@dataclass(frozen=True, slots=True)
class _Validated:
    document: DocumentNode
    schema: GraphQLSchema
    rules: tuple[object, ...]
    errors: list[GraphQLError]


class ValidatedDocuments(SchemaExtension):
    """Pass as a factory, after ``ParserCache`` and ``AddValidationRules``:
    ``lambda: ValidatedDocuments(entries)`` shares one cache of ``entries``
    documents across requests."""

    _caches: dict[int, OrderedDict[int, _Validated]] = {}

    def __init__(self, entries: int = 1024) -> None:
        self.entries = entries
        self.validated = self._caches.setdefault(entries, OrderedDict())

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        schema = context.schema._schema
        rules = tuple(context.validation_rules)
        key = id(document)
        found = self.validated.get(key)
        if (
            found is None
            or found.document is not document
            or found.schema is not schema
            or found.rules != rules
        ):
            found = _Validated(
                document, schema, rules, validate_document(schema, document, rules)
            )
            self.validated[key] = found
            if len(self.validated) > self.entries:
                self.validated.popitem(last=False)
        else:
            self.validated.move_to_end(key)
        context.pre_execution_errors = found.errors
        yield
