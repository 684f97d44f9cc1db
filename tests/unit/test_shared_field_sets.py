"""The requests running one operation share its collected field sets and
their plans (``gateway.http.fragments._shared``): a document is parsed once
(Strawberry's ``ParserCache``), so a second request of it collects nothing —
unless a directive or a fragment's arguments let its variables decide what
is collected. Every answer is graphql-core's own executor's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from graphql.execution.collect_fields import FieldDetailsList
from strawberry import ID
from strawberry.extensions import ParserCache
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.http import fragments
from gateway.http.fragments import FragmentExecutor


@strawberry.interface
class Event:
    id: strawberry.ID


@strawberry.type
class Viewed(Event):
    path: str


@strawberry.type
class Ordered(Event):
    total: str
    lines: list[str]


@strawberry.type
class Person:
    name: str
    events: list[Event]
    friend: Person | None = None


PEOPLE = {
    "ada": Person(
        name="Ada",
        events=[
            Viewed(id=ID("1"), path="/a"),
            Ordered(id=ID("2"), total="9.00", lines=["x"]),
        ],
    ),
    "bo": Person(name="Bo", events=[Ordered(id=ID("3"), total="1.50", lines=[])]),
}
PEOPLE["ada"].friend = PEOPLE["bo"]


@strawberry.type
class Query:
    @strawberry.field
    def person(self, name: str) -> Person | None:
        return PEOPLE.get(name)


class Counted(FragmentExecutor):
    """Counts the field sets graphql-core collects below the root."""

    collected = 0

    def collect_subfields(
        self, return_type: Any, field_details_list: FieldDetailsList
    ) -> Any:
        Counted.collected += 1
        return super().collect_subfields(return_type, field_details_list)


PLAIN = """
query($who: String!) {
  person(name: $who) {
    name
    events { id ... on Viewed { path } ...Bought }
    friend { name events { __typename id } }
  }
}
fragment Bought on Ordered { total lines }
"""

DIRECTED = """
query($who: String!, $more: Boolean!) {
  person(name: $who) {
    name
    events { id ... on Ordered @include(if: $more) { total } }
    friend @skip(if: $more) { name }
  }
}
"""


def run(executor: type[Any], document: str, *variables: dict[str, Any]) -> list[Any]:
    """Each of ``variables`` in turn, on one schema (one parser cache)."""
    schema = strawberry.Schema(
        query=Query,
        types=[Viewed, Ordered],
        execution_context_class=executor,
        extensions=[ParserCache],
    )

    async def each() -> list[Any]:
        answers = []
        for given in variables:
            result = await schema.execute(document, variable_values=given)
            answers.append((result.data, [e.message for e in result.errors or []]))
        return answers

    return asyncio.run(each())


def test_a_second_request_of_an_operation_collects_nothing_and_answers_alike() -> None:
    asked = [{"who": "ada"}, {"who": "bo"}, {"who": "ada"}, {"who": "nobody"}]
    Counted.collected = 0
    mine = run(Counted, PLAIN, asked[0])
    first = Counted.collected
    assert first > 0
    Counted.collected = 0
    mine = run(Counted, PLAIN, *asked)
    assert Counted.collected == first  # all in the first request: none after
    assert mine == run(StrawberryGraphQLCoreExecutionContext, PLAIN, *asked)
    assert mine[0][0]["person"]["events"][1] == {
        "id": "2",
        "total": "9.00",
        "lines": ["x"],
    }


@pytest.mark.parametrize(
    "order", [[True, False, True], [False, True, False]], ids=["more first", "less"]
)
def test_an_operation_whose_directives_read_variables_collects_for_each(
    order: list[bool],
) -> None:
    asked = [{"who": "ada", "more": more} for more in order]
    Counted.collected = 0
    mine = run(Counted, DIRECTED, *asked)
    assert mine == run(StrawberryGraphQLCoreExecutionContext, DIRECTED, *asked)
    events = [answer[0]["person"]["events"][1] for answer in mine]
    assert events == [
        {"id": "2", "total": "9.00"} if more else {"id": "2"} for more in order
    ]
    friends = [answer[0]["person"].get("friend") for answer in mine]
    assert friends == [None if more else {"name": "Bo"} for more in order]
    assert Counted.collected >= 3 * len(order)  # every request its own


@strawberry.type
class Tick:
    at: int
    person: Person | None


@strawberry.type
class Ticks:
    @strawberry.subscription
    async def ticks(self, count: int) -> AsyncGenerator[Tick, None]:
        for at in range(count):
            yield Tick(at=at, person=PEOPLE["ada"])


class Kept(FragmentExecutor):
    """Keeps the executor a subscription is run with."""

    made: list[FragmentExecutor] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Kept.made.append(self)


def test_a_long_subscriptions_events_leave_its_executors_memos_as_they_were() -> None:
    """graphql-core runs each event on a shallow copy of the subscription's
    executor: its memos were the copy's too, an entry more every event."""
    schema = strawberry.Schema(
        query=Query,
        subscription=Ticks,
        types=[Viewed, Ordered],
        execution_context_class=Kept,
        extensions=[ParserCache],
    )
    document = "subscription { ticks(count: 300) { at person { name events { id } } } }"

    async def events() -> list[Any]:
        stream = await schema.subscribe(document)
        assert not isinstance(stream, strawberry.types.ExecutionResult)
        return [event async for event in stream]

    Kept.made = []
    answers = asyncio.run(events())
    assert [a.data["ticks"]["at"] for a in answers] == list(range(300))
    assert answers[-1].data["ticks"]["person"]["events"] == [{"id": "1"}, {"id": "2"}]
    (executor,) = Kept.made
    memos = (executor._field_sets, executor._subfields, executor._selections)
    assert [len(memo) for memo in memos] == [0, 0, 0]


@strawberry.type
class Holder:
    undefined: Price | None
    required: Price


@strawberry.type
class Price:
    amount: str


@strawberry.type
class Holding:
    @strawberry.field
    def holder(self) -> Holder:
        return Holder(undefined=Undefined, required=Undefined)


def test_a_plain_object_field_read_as_undefined_is_null_as_graphql_core_says() -> None:
    def ask(executor: type[Any]) -> Any:
        schema = strawberry.Schema(query=Holding, execution_context_class=executor)
        result = asyncio.run(schema.execute("{ holder { undefined { amount } } }"))
        required = asyncio.run(schema.execute("{ holder { required { amount } } }"))
        return [
            (r.data, [(e.message, e.path) for e in r.errors or []])
            for r in (result, required)
        ]

    mine = ask(FragmentExecutor)
    assert mine == ask(StrawberryGraphQLCoreExecutionContext)
    assert mine[0] == ({"holder": {"undefined": None}}, [])


def test_an_operation_shares_no_more_than_its_share_of_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``SHARED_FIELDS`` field details an operation's further sets are
    collected by each request, as before: the parser cache's documents,
    crafted to repeat fields and spread fragments wide, hold little."""
    monkeypatch.setattr(fragments, "SHARED_FIELDS", 4)  # the person's set: 1 + 3
    asked = [{"who": "ada"}, {"who": "ada"}]
    Counted.collected = 0
    run(Counted, f"# one request's own operation\n{PLAIN}", asked[0])
    alone = Counted.collected
    document = f"# two requests' own operation\n{PLAIN}"
    Counted.collected = 0
    mine = run(Counted, document, *asked)
    assert mine == run(StrawberryGraphQLCoreExecutionContext, document, *asked)
    # the first request of the operation shared the person's set alone: the
    # second collected all the others again
    assert Counted.collected == 2 * alone - 1


def test_every_operation_together_shares_no_more_than_the_process_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SHARED_TOTAL`` bounds every operation's sets together (many
    operations in one document, or many documents, each within its own
    share); an operation gone gives its share back."""
    before = set(fragments._SHARED)
    asked = [{"who": "ada"}, {"who": "ada"}]
    Counted.collected = 0
    run(Counted, f"# one request alone\n{PLAIN}", asked[0])
    alone = Counted.collected
    monkeypatch.setattr(fragments, "SHARED_TOTAL", fragments._HELD[0] + 4)
    Counted.collected = 0
    run(Counted, f"# two requests, the process's room for one set\n{PLAIN}", *asked)
    assert Counted.collected == 2 * alone - 1
    held = fragments._HELD[0]
    for key in set(fragments._SHARED) - before:
        shared = fragments._SHARED[key]
        fragments._forget(key)
        assert key not in fragments._SHARED
        held -= shared.fields if shared is not None else 0
    assert fragments._HELD[0] == held
