"""``/graphql``'s executor reads a plain field whose one extension is ``Pii``
itself (``FragmentExecutor.execute_fields``, ``Pii.shown``): for every
role and every kind of personal data, what it answers, the errors it raises
and the reads it notes in the audit trail are what the extension gives through
graphql-core's executor — consented kinds included, which go that way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.utils.str_converters import to_camel_case

from gateway.auth.audit import AuditTrail
from gateway.auth.contact import GRANTED
from gateway.auth.pii import Pii, pii_field
from gateway.auth.policy import PiiKind, Role
from gateway.http.field_plans import leaf_plan
from gateway.http.fragments import FragmentExecutor

VALUES = {
    PiiKind.EMAIL: "ada@example.com",
    PiiKind.PHONE: "+14155550123",
    PiiKind.BIRTH_DATE: "1990-05-17",
    PiiKind.BIRTH_MONTH: "5",
    PiiKind.ADDRESS: "Lisbon",
    PiiKind.STREET: "1 Rua Augusta",
    PiiKind.NAME: "Ada",
    PiiKind.NOTE: "called twice",
    PiiKind.TEXT: "my order is late",
    PiiKind.URL: "https://shop.example/cart?email=ada@example.com",
    PiiKind.EXTERNAL_ID: "gid://shopify/Customer/7",
}
assert set(VALUES) == set(PiiKind)


class Noted(FieldExtension):
    """An extension besides ``Pii``: the field is not read directly."""

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs)


def _person_type() -> type:
    """A type with a nullable field of every kind, and the awkward ones."""
    namespace: dict[str, Any] = {
        "__annotations__": {"customer_id": strawberry.Private[int]},
    }
    for kind in PiiKind:
        namespace["__annotations__"][kind.value] = str | None
        namespace[kind.value] = pii_field(kind)
    namespace["__annotations__"] |= {
        "display_name": str,
        "required_email": str,
        "double": str | None,
    }
    namespace["display_name"] = pii_field(
        PiiKind.NAME, redacted=lambda person: f"Customer {person.customer_id}"
    )
    namespace["required_email"] = pii_field(PiiKind.EMAIL)
    namespace["double"] = strawberry.field(extensions=[Pii(PiiKind.NAME), Noted()])
    return strawberry.type(type("Person", (), namespace))


Person = _person_type()


def person(customer_id: int, **values: Any) -> Any:
    fields = {kind.value: VALUES[kind] for kind in PiiKind}
    fields |= {"display_name": "Ada L.", "required_email": VALUES[PiiKind.EMAIL]}
    return Person(customer_id=customer_id, double="Ada", **(fields | values))


PEOPLE = [person(1), person(2, email=None, name=None), person(3)]
"""Customer 2 lacks some values; customer 3 granted no consent."""


@strawberry.type
class Query:
    @strawberry.field
    def people(self) -> list[Person]:  # type: ignore[valid-type]
        return PEOPLE


@dataclass
class Context:
    """What the executor and the extension read of a request's context."""

    role: Role
    principal: Any = None
    audit: AuditTrail = field(default_factory=AuditTrail)

    def __post_init__(self) -> None:
        self.principal = SimpleNamespace(role=self.role)

    async def consents(self, customer_id: int) -> Iterable[Any]:
        if customer_id == 3:
            return []
        return [
            SimpleNamespace(channel=channel, state=GRANTED)
            for channel in ("email", "sms")
        ]


FIELDS = " ".join(
    [
        *(to_camel_case(k.value) for k in PiiKind),
        "displayName",
        "double",
        "alias: email",
    ]
)


async def answer(executor: type[Any], role: Role, document: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    context = Context(role)
    result = await schema.execute(document, context_value=context)
    return {
        "data": result.data,
        "errors": sorted((e.message, tuple(e.path or ())) for e in result.errors or []),
        "reads": dict(context.audit.reads),
    }


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_sees_and_is_audited_as_the_extension_says(role: Role) -> None:
    document = f"{{ people {{ {FIELDS} }} }}"
    mine = await answer(FragmentExecutor, role, document)
    assert mine == await answer(StrawberryGraphQLCoreExecutionContext, role, document)
    assert mine["data"] is not None
    assert not mine["errors"]


@pytest.mark.parametrize("role", list(Role))
async def test_a_required_value_a_role_may_not_see_fails_as_graphql_core_fails(
    role: Role,
) -> None:
    document = "{ people { name requiredEmail } }"
    mine = await answer(FragmentExecutor, role, document)
    assert mine == await answer(StrawberryGraphQLCoreExecutionContext, role, document)


async def test_the_extension_resolves_only_what_consents_or_other_extensions_decide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[str] = []
    resolve = Pii.resolve

    def counted(self: Pii, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        called.append(info.field_name)
        return resolve(self, next_, source, info, **kwargs)

    monkeypatch.setattr(Pii, "resolve", counted)
    document = f"{{ people {{ {FIELDS} }} }}"
    await answer(FragmentExecutor, Role.ADMIN, document)
    assert called == ["double"] * len(PEOPLE)
    called.clear()
    await answer(FragmentExecutor, Role.MARKETING, document)
    assert sorted(set(called)) == ["double", "email", "phone"]


@pytest.mark.parametrize(
    ("name", "pii"),
    [("email", True), ("displayName", True), ("requiredEmail", True)]
    + [("double", None), ("customerId", None)],
)
def test_which_personal_fields_are_read_directly(name: str, pii: bool | None) -> None:
    schema = strawberry.Schema(query=Query)._schema
    parent = schema.type_map["Person"]
    plan = leaf_plan({}, parent, name)  # type: ignore[arg-type]
    if pii is None:
        assert plan is None
    else:
        assert isinstance(plan[4], Pii)  # type: ignore[index]
