"""``/graphql``'s executor reads plain scalar and enum fields itself
(``FragmentExecutor.execute_fields``): the answers, errors included, are
graphql-core's own, field for field, for values that serialize, values that
are missing where required, values that do not serialize and attributes that
fail to read."""

from __future__ import annotations

import asyncio
import enum
import gc
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
import strawberry
from graphql import GraphQLEnumType
from strawberry.permission import BasePermission
from strawberry.schema.exception_handlers import ExceptionHandler
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from gateway.http.field_plans import leaf_plan, object_plan, serializer
from gateway.http.fragments import FragmentExecutor


@strawberry.enum
class Kind(enum.Enum):
    PAGE_VIEW = "page_view"
    ORDER = "order"


class Broken:
    """An object whose ``name`` fails to read."""

    @property
    def name(self) -> str:
        raise RuntimeError("cannot read the name")


class Anyone(BasePermission):
    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return True


@strawberry.type
class Thing:
    name: str
    note: str | None
    count: int
    kind: Kind
    at: datetime
    amount: Decimal

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return self.name[::-1]

    @strawberry.field
    def loud(self) -> str:
        """A plain method: read by calling it."""
        return self.name.upper()

    @strawberry.field
    def refused(self) -> int | None:
        """A plain method that raises, as ``resolve.readable`` does."""
        raise PermissionError(f"{self.name} is not yours to count")

    @strawberry.field
    def told(self, info: strawberry.Info) -> str:
        return info.field_name

    @strawberry.field(permission_classes=[Anyone])  # type: ignore[untyped-decorator]
    def guarded(self) -> str:
        return self.name


def thing(**values: Any) -> Thing:
    """A ``Thing`` as its resolver may hand it over: right, or not."""
    good: dict[str, Any] = {
        "name": "tee",
        "note": None,
        "count": 3,
        "kind": Kind.ORDER,
        "at": datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        "amount": Decimal("19.90"),
    }
    return Thing(**(good | values))


GOOD = thing()
BAD = [thing(name=None), thing(count="many"), thing(note=7, kind="nope")]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        return [GOOD, *BAD]

    @strawberry.field
    def broken(self) -> Thing | None:
        return cast(Thing, Broken())


DOCUMENT = """
{
  things {
    name note count kind at amount shout(times: 2) loud refused told guarded
    __typename
  }
  broken { name }
}
"""


def answer(executor: type[Any]) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = schema.execute_sync(DOCUMENT)
    return {
        "data": result.data,
        "errors": sorted((e.message, tuple(e.path or ())) for e in result.errors or []),
    }


def test_leaf_fields_answer_as_graphql_core_does() -> None:
    mine = answer(FragmentExecutor)
    assert mine == answer(StrawberryGraphQLCoreExecutionContext)
    assert mine["data"]["things"][0] == {
        "name": "tee",
        "note": None,
        "count": 3,
        "kind": "ORDER",
        "at": "2026-12-04T12:00:00+00:00",
        "amount": "19.90",
        "shout": "TEETEE",
        "loud": "TEE",
        "refused": None,
        "told": "told",
        "guarded": "tee",
        "__typename": "Thing",
    }
    # name, count, kind, broken (7 serializes as "7"), and refused where the
    # thing is not already null
    assert len(mine["errors"]) == 5


ASYNC_DOCUMENT = """
{
  things {
    count later first: name shout kind
    ... on Thing { at later2: later }
    note @include(if: false) amount @skip(if: false) __typename
  }
}
"""


def test_an_objects_fields_keep_the_order_asked_around_resolvers_and_awaits() -> None:
    """The plain fields are read in one loop before the others execute
    (``execute_fields``); the object still lists every field where the
    document asks for it, and fails as graphql-core's objects fail."""

    def ask(executor: type[Any]) -> Any:
        schema = strawberry.Schema(query=Query, execution_context_class=executor)
        return asyncio.run(schema.execute(ASYNC_DOCUMENT))

    mine, theirs = ask(FragmentExecutor), ask(StrawberryGraphQLCoreExecutionContext)
    assert mine.data == theirs.data
    assert sorted(e.message for e in mine.errors) == sorted(
        e.message for e in theirs.errors
    )
    order = ["count", "later", "first", "shout", "kind", "at", "later2"]
    order += ["amount", "__typename"]
    for item in (mine.data or {})["things"]:
        assert item is None or list(item) == order
    assert mine.data["things"][0]["later2"] == "eet"


@strawberry.type
class Price:
    amount: Decimal
    currency: str


@strawberry.type
class Line:
    title: str
    price: Price
    prices: list[Price]
    maybe: Price | None
    thing: Thing | None


@strawberry.type
class Basket:
    lines: list[Line]
    first: Line | None
    gaps: list[Price | None]

    @strawberry.field
    def cheapest(self) -> list[Line]:
        """A plain method's list of objects."""
        return self.lines[:1]

    @strawberry.field
    async def later(self) -> Line:
        await asyncio.sleep(0)
        return self.lines[0]


def price(amount: str = "1.50") -> Price:
    return Price(amount=Decimal(amount), currency="EUR")


def line(**values: Any) -> Line:
    good: dict[str, Any] = {
        "title": "mug",
        "price": price(),
        "prices": [price(), price("2")],
        "maybe": None,
        "thing": GOOD,
    }
    return Line(**(good | values))


BASKETS: list[Basket | None] = [
    Basket(lines=[line(), line(maybe=price("3"))], first=line(), gaps=[price(), None]),
    # a required object missing
    Basket(lines=[line(price=None)], first=None, gaps=[]),
    # a list's required item missing
    Basket(lines=[line()], first=line(prices=[price(), None]), gaps=[]),
    # not a list
    Basket(lines=cast(list[Line], 7), first=None, gaps=[]),
    # a bad value deeper down
    Basket(lines=[line()], first=line(thing=BAD[0]), gaps=[]),
]


@strawberry.type
class Shop:
    @strawberry.field
    def baskets(self) -> list[Basket | None]:
        return BASKETS


BASKET_DOCUMENT = """
{
  baskets {
    lines { title price { amount currency } prices { amount } maybe { amount }
            thing { name count } }
    first { title price { currency } prices { currency } thing { name } }
    gaps { amount }
    later { title price { amount } }
    cheapest { title prices { amount } }
  }
}
"""


def test_plain_objects_and_lists_of_them_complete_as_graphql_core_does() -> None:
    """Objects read off their parent without a resolver (``object_plan``):
    the same answers and errors, messages and paths included, for good
    values, a required object missing, a list's required item missing, a
    value that is not a list and a bad value deeper down."""

    def ask(executor: type[Any]) -> Any:
        schema = strawberry.Schema(query=Shop, execution_context_class=executor)
        return asyncio.run(schema.execute(BASKET_DOCUMENT))

    mine, theirs = ask(FragmentExecutor), ask(StrawberryGraphQLCoreExecutionContext)
    assert mine.data == theirs.data
    errors = sorted((e.message, tuple(e.path or ())) for e in mine.errors or [])
    assert errors == sorted((e.message, tuple(e.path or ())) for e in theirs.errors)
    assert len(errors) == 4
    assert mine.data["baskets"][0]["lines"][1]["maybe"] == {"amount": "3"}
    assert mine.data["baskets"][0]["cheapest"][0]["title"] == "mug"
    assert mine.data["baskets"][1] is None
    assert mine.data["baskets"][2]["first"] is None
    assert mine.data["baskets"][4]["first"]["thing"] is None


@pytest.mark.parametrize(
    ("field", "plan"),
    [("title", "leaf"), ("price", "object"), ("prices", "object"), ("maybe", "object")]
    + [("thing", "object"), ("cheapest", "object"), ("later", "none")],
)
def test_which_fields_of_an_object_are_plain(field: str, plan: str) -> None:
    schema = strawberry.Schema(query=Shop)._schema
    parent = schema.type_map["Basket" if field in ("cheapest", "later") else "Line"]
    leaf = leaf_plan({}, parent, field)  # type: ignore[arg-type]
    found = object_plan({}, parent, field, [])  # type: ignore[arg-type]
    assert (leaf is not None, found is not None) == (plan == "leaf", plan == "object")


@pytest.mark.parametrize(
    ("field", "read"),
    [("name", True), ("note", True), ("kind", True), ("shout", False)]
    + [("loud", True), ("refused", True), ("later", False), ("told", False)]
    + [("guarded", False)],
)
def test_which_fields_are_read_directly(field: str, read: bool) -> None:
    schema = strawberry.Schema(query=Query)._schema
    thing = schema.type_map["Thing"]
    assert (leaf_plan({}, thing, field) is not None) is read  # type: ignore[arg-type]


class Refusal(Exception):
    pass


@strawberry.type
class Refused:
    message: str


@strawberry.type
class Count:
    value: int


class Refusals(ExceptionHandler[Refusal, Refused]):
    def handle(
        self, exception: Refusal, *, field: StrawberryField, info: strawberry.Info
    ) -> Refused:
        return Refused(message=str(exception))


@strawberry.type
class Counter:
    @strawberry.field
    def count(self) -> Count | Refused:
        raise Refusal("no count for you")


@strawberry.type
class Counted:
    @strawberry.field
    def counter(self) -> Counter:
        return Counter()


def test_what_an_exception_handler_turns_into_a_value_stays_a_value() -> None:
    """A Strawberry exception handler turns what a method of a union's type
    raises into a value; such a method is not read directly."""

    def answers(executor: type[Any]) -> Any:
        schema = strawberry.Schema(
            query=Counted,
            execution_context_class=executor,
            exception_handlers=[Refusals()],
        )
        return schema.execute_sync(
            "{ counter { count { ... on Refused { message } } } }"
        )

    mine, theirs = (
        answers(FragmentExecutor),
        answers(StrawberryGraphQLCoreExecutionContext),
    )
    assert (
        mine.data
        == theirs.data
        == {"counter": {"count": {"message": "no count for you"}}}
    )
    assert mine.errors is theirs.errors is None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    legs: int


@strawberry.type
class Kennel:
    @strawberry.field
    def pets(self) -> list[Pet]:
        return [Pet(name="rex", legs=4), Pet(name="tweety", legs=2)]

    @strawberry.field
    def impostor(self) -> Pet | None:
        """Not a ``Pet``: its type's ``is_type_of`` (it has an interface) says so."""
        return cast(Pet, GOOD)

    @strawberry.field
    def impostors(self) -> list[Pet | None]:
        return [Pet(name="rex", legs=4), cast(Pet, GOOD)]


def test_objects_complete_as_graphql_core_does_whatever_is_type_of_says() -> None:
    def ask(executor: type[Any]) -> Any:
        schema = strawberry.Schema(
            query=Kennel, types=[Pet], execution_context_class=executor
        )
        return schema.execute_sync(
            "{ pets { name legs } impostor { name } impostors { name legs } }"
        )

    mine, theirs = ask(FragmentExecutor), ask(StrawberryGraphQLCoreExecutionContext)
    assert mine.data == theirs.data
    assert mine.data["pets"] == [
        {"name": "rex", "legs": 4},
        {"name": "tweety", "legs": 2},
    ]
    assert mine.data["impostor"] is None
    assert mine.data["impostors"] == [{"name": "rex", "legs": 4}, None]
    assert [(e.message, e.path) for e in mine.errors] == [
        (e.message, e.path) for e in theirs.errors
    ]
    assert len(mine.errors) == 2


def test_plain_objects_are_completed_without_graphql_cores_dispatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An object of an object type is collected and executed at once
    (``FragmentExecutor.complete_value``): graphql-core's
    ``complete_object_value`` runs only for what it refuses, here the
    impostor."""
    calls: list[str] = []
    complete = StrawberryGraphQLCoreExecutionContext.complete_object_value

    def counted(self: Any, return_type: Any, *args: Any) -> Any:
        calls.append(return_type.name)
        return complete(self, return_type, *args)

    monkeypatch.setattr(
        StrawberryGraphQLCoreExecutionContext, "complete_object_value", counted
    )
    schema = strawberry.Schema(
        query=Kennel, types=[Pet], execution_context_class=FragmentExecutor
    )
    result = schema.execute_sync("{ pets { name } impostors { name } }")
    assert result.data is not None
    assert calls == ["Pet"]  # the impostor's, which is_type_of refuses


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


@strawberry.type
class Crowd:
    @strawberry.field
    def mixed(self) -> list[Price | None]:
        """Objects, awaitables of them, and gaps."""
        return [price(), _later(price("2")), None, _later(None), price("4")]

    @strawberry.field
    def strict(self) -> list[Price] | None:
        """A required item missing between awaitables: the list fails, and
        what it still holds is settled, not left unawaited."""
        return [_later(price()), price("2"), None, _later(price("3"))]

    @strawberry.field
    def nested(self) -> list[Basket]:
        return [b for b in BASKETS if b is not None][:1]


def test_lists_of_objects_complete_as_graphql_core_does_around_awaits_and_gaps() -> (
    None
):
    document = (
        "{ mixed { amount } strict { amount currency } "
        "nested { lines { title prices { amount } } later { title } } }"
    )

    def ask(executor: type[Any]) -> Any:
        schema = strawberry.Schema(query=Crowd, execution_context_class=executor)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = asyncio.run(schema.execute(document))
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
        return result

    mine, theirs = ask(FragmentExecutor), ask(StrawberryGraphQLCoreExecutionContext)
    assert mine.data == theirs.data
    assert [(e.message, e.path) for e in mine.errors] == [
        (e.message, e.path) for e in theirs.errors
    ]
    assert mine.data["mixed"] == [
        {"amount": "1.50"},
        {"amount": "2"},
        None,
        None,
        {"amount": "4"},
    ]
    assert mine.data["strict"] is None
    assert mine.data["nested"][0]["later"] == {"title": "mug"}
    assert len(mine.errors) == 1


def test_a_list_of_plain_objects_is_completed_without_graphql_cores_item_machinery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each plain item's fields are collected and executed at once
    (``FragmentExecutor._complete_objects``): graphql-core completes only the
    items that are not plain, here the gap."""
    calls: list[Any] = []
    complete = StrawberryGraphQLCoreExecutionContext.complete_list_item_value

    def counted(self: Any, item: Any, *args: Any) -> Any:
        calls.append(item)
        return complete(self, item, *args)

    monkeypatch.setattr(
        StrawberryGraphQLCoreExecutionContext, "complete_list_item_value", counted
    )
    schema = strawberry.Schema(query=Shop, execution_context_class=FragmentExecutor)
    result = schema.execute_sync(
        "{ baskets { lines { title prices { amount } } gaps { amount } } }"
    )
    assert result.data is not None
    assert result.data["baskets"][0]["gaps"] == [{"amount": "1.50"}, None]
    assert calls == [None]  # the gap; the not-a-list basket is an error first


class Size(enum.Enum):
    SMALL = "s"
    LITTLE = "s"  # an alias: serialized by the first name
    LARGE = "l"


class Other(enum.Enum):
    SMALL = "s"


class Level(enum.Enum):
    """Members that cannot be hashed: ``__eq__`` without ``__hash__``."""

    LOW = "low"
    HIGH = "high"

    def __eq__(self, other: object) -> bool:
        return self is other or other == self.value


def serialized(serialize: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", serialize(value)
    except Exception as error:  # noqa: BLE001 - compared, not handled
        return "error", type(error)


@pytest.mark.parametrize(
    "value",
    [Size.SMALL, Size.LITTLE, Size.LARGE, "s", "l", "x", Other.SMALL, None, ["s"], 3],
)
def test_an_enum_leaf_serializes_as_strawberry_does(value: Any) -> None:
    """The executor's enum serializer looks each member's name up, where
    Strawberry's scans the type's values: the same answer for members,
    aliases, raw values, another enum's member and what is no value at all."""
    schema = strawberry.Schema(query=Query, types=[strawberry.enum(Size)])
    size = cast(GraphQLEnumType, schema._schema.type_map["Size"])
    assert serialized(serializer(size), value) == serialized(size.serialize, value)


@pytest.mark.parametrize("value", [Level.LOW, Level.HIGH, "low", "x", None])
def test_an_enum_of_members_that_cannot_be_hashed_serializes_too(value: Any) -> None:
    schema = strawberry.Schema(query=Query, types=[strawberry.enum(Level)])
    level = cast(GraphQLEnumType, schema._schema.type_map["Level"])
    assert serialized(serializer(level), value) == serialized(level.serialize, value)
