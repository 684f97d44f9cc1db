"""A document is validated once per parsed document (``ValidatedDocuments``),
not hashed node by node on every request: the same errors each time, and
never another schema's answer."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.extensions import ParserCache

from gateway.schema import validated
from gateway.schema.validated import ValidatedDocuments


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"


@strawberry.type
class Other:
    @strawberry.field
    def bye(self) -> str:
        return "bye"


def schema(query: type) -> strawberry.Schema:
    return strawberry.Schema(
        query=query,
        extensions=[lambda: ParserCache(maxsize=16), lambda: ValidatedDocuments(16)],
    )


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    validate = validated.validate_document

    def counted(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, rules)

    monkeypatch.setattr(validated, "validate_document", counted)
    ValidatedDocuments._caches.clear()
    return seen


async def test_a_document_is_validated_once_and_answers_as_validated(
    validations: list[str],
) -> None:
    hello = schema(Query)
    for _ in range(3):
        assert (await hello.execute("{ hello }")).data == {"hello": "hi"}
        wrong = await hello.execute("{ nope }")
        assert wrong.errors is not None
        assert "Cannot query field 'nope'" in wrong.errors[0].message
    assert validations == ["{ hello }", "{ nope }"]


async def test_another_schema_validates_the_same_text_itself(
    validations: list[str],
) -> None:
    assert (await schema(Query).execute("{ hello }")).errors is None
    answer = await schema(Other).execute("{ hello }")
    assert answer.errors is not None
    assert validations == ["{ hello }", "{ hello }"]


async def test_the_cache_keeps_its_newest_documents(validations: list[str]) -> None:
    small = strawberry.Schema(
        query=Query,
        extensions=[lambda: ParserCache(maxsize=16), lambda: ValidatedDocuments(2)],
    )
    for text in ("{ hello }", "{ a: hello }", "{ b: hello }", "{ hello }"):
        assert (await small.execute(text)).errors is None
    assert validations == ["{ hello }", "{ a: hello }", "{ b: hello }", "{ hello }"]
    assert len(ValidatedDocuments._caches[2]) == 2
