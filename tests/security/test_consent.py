"""Consent at read time: roles × consent states × surfaces × fields.

A ``marketing`` caller sees a customer's email in full only where that
customer's EMAIL consent is granted and the phone only where SMS consent is;
absent, pending or withdrawn consent gives null, never a masked value. Other
roles are unchanged. Expectations come from the policy table
(``policy.apply`` with the person's granted channels), and marketing's are
also spelled out, so a table that masked again would fail here.

The consent is read when the value is: a withdrawal between two reads nulls
the second one on every surface — through the response cache, on another
replica sharing Redis, on the same WebSocket — and it costs one statement per
page, not one per customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, select

from gateway.auth import policy
from gateway.auth.policy import PiiKind, Role
from gateway.db.auth_models import AuditEntry
from gateway.insights.refresh import refresh_all
from gateway.runtime.services import Services
from tests.integration.gateway.conftest import open_gateway
from tests.security.conftest import API_ROLES, Stage
from tests.security.consent_people import (
    CUSTOMER,
    READERS,
    SEGMENT,
    STATES,
    TAG,
    Person,
    export_channel,
    gql,
    make_person,
    open_socket,
    set_consent,
)
from tests.security.entries import api_schema, embed_schema
from tests.security.schema_walk import pii_leaves, reach

pytestmark = pytest.mark.storage_independent

FIELDS = {"email": PiiKind.EMAIL, "phone": PiiKind.PHONE}
CHANNEL_FIELD = {"email": "email", "sms": "phone"}


@pytest.fixture(scope="module")
async def people(stage: Stage) -> dict[str, Person]:
    """A person per consent state, and one (granted both) per surface for the
    withdrawal tests; all in ``SEGMENT``."""
    made = {state: await make_person(stage, state) for state in STATES}
    for surface in [*READERS, "replica", "same socket"]:
        made[f"fresh {surface}"] = await make_person(stage, "granted")
    await gql(
        stage,
        Role.ADMIN,
        "mutation($n: String!, $t: String!) { createSegment(name: $n,"
        " filter: {tagsAny: [$t]}) { name } }",
        n=SEGMENT,
        t=TAG,
    )
    await refresh_all(stage.services.sessions, stage.services.settings)
    return made


def wanted(role: Role, person: Person) -> dict[str, Any]:
    """The contact fields ``role`` must see of ``person``, from the table."""
    return {
        name: policy.apply(role, kind, getattr(person, name), person.granted)
        for name, kind in FIELDS.items()
    }


def marketing_rule(person: Person) -> dict[str, Any]:
    """The rule, spelled out: in full where the channel is granted, else null."""
    return {
        "email": person.email if "email" in person.granted else None,
        "phone": person.phone if "sms" in person.granted else None,
    }


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("role", API_ROLES, ids=str)
@pytest.mark.parametrize("surface", list(READERS))
async def test_contact_fields_follow_consent_on_every_surface(
    stage: Stage, people: dict[str, Person], surface: str, role: Role, state: str
) -> None:
    person = people[state]
    got = await READERS[surface](stage, stage.keys[role], person)
    channel = export_channel(surface)
    if channel is not None and channel not in person.granted:
        assert got is None, f"a {channel} export listed a customer without consent"
        return
    assert got is not None
    assert got == wanted(role, person)
    if role is Role.MARKETING:
        assert got == marketing_rule(person)
        assert set(got.values()) <= {None, person.email, person.phone}, "masked"
        if channel is not None:  # a channel's export carries its contact in full
            field = CHANNEL_FIELD[channel]
            assert got[field] == getattr(person, field)


@pytest.mark.parametrize("surface", list(READERS))
async def test_a_withdrawal_nulls_the_very_next_read(
    stage: Stage, people: dict[str, Person], surface: str
) -> None:
    """Read twice (the second a response-cache hit where there is one),
    withdraw, read again: null at once, through every cache."""
    person = people[f"fresh {surface}"]
    read, key = READERS[surface], stage.keys[Role.MARKETING]
    hits = _response_hits()
    assert await read(stage, key, person) == marketing_rule(person)
    assert await read(stage, key, person) == marketing_rule(person)
    if surface in ("http_post", "http_get"):
        assert _response_hits() > hits, "the second read was not a cache hit"
    await set_consent(stage, Role.MARKETING, person.gid, "EMAIL", "DENIED")
    after = await read(stage, key, person)
    if export_channel(surface) == "email":
        assert after is None  # no longer exported for email
    else:
        assert after == {"email": None, "phone": person.phone}
    await set_consent(stage, Role.MARKETING, person.gid, "SMS", "DENIED")
    last = await read(stage, key, person)
    assert last is None if export_channel(surface) else last == _nothing()


def _nothing() -> dict[str, Any]:
    return {"email": None, "phone": None}


async def test_a_withdrawal_on_one_replica_nulls_the_next_read_on_another(
    stage: Stage, people: dict[str, Person]
) -> None:
    """Replica B has the response stored (a hit); the withdrawal lands on A;
    B's next read is null: the customer's version lives in the shared Redis."""
    person = people["fresh replica"]
    headers = {"Authorization": stage.keys[Role.MARKETING]}
    body = {"query": CUSTOMER, "variables": {"id": person.gid}}
    settings = stage.services.settings
    async with open_gateway(settings, stage.simulators, stage.world) as other:

        async def read_on_b() -> Any:
            answer = (
                await other.http.post("/graphql", json=body, headers=headers)
            ).json()
            assert "errors" not in answer, answer
            return answer["data"]["customer"]

        assert await read_on_b() == marketing_rule(person)
        hits = _response_hits()
        assert await read_on_b() == marketing_rule(person)
        assert _response_hits() > hits
        await set_consent(stage, Role.MARKETING, person.gid, "EMAIL", "DENIED")
        assert await read_on_b() == {"email": None, "phone": person.phone}


async def test_a_withdrawal_applies_to_the_next_operation_on_the_same_socket(
    stage: Stage, people: dict[str, Person]
) -> None:
    """A socket's loaders live as long as it does: the consent is not one of
    the things they remember."""
    person = people["fresh same socket"]
    async with open_socket(stage, stage.keys[Role.MARKETING]) as socket:
        first = await socket.query(CUSTOMER, {"id": person.gid})
        assert first["customer"] == marketing_rule(person)
        await set_consent(stage, Role.MARKETING, person.gid, "SMS", "DENIED")
        second = await socket.query(CUSTOMER, {"id": person.gid})
        assert second["customer"] == {"email": person.email, "phone": None}


def _response_hits() -> float:
    value = REGISTRY.get_sample_value(
        "customer_graph_cache_requests_total", {"source": "response", "result": "hit"}
    )
    return value or 0.0


@contextmanager
def counted(services: Services) -> Iterator[list[str]]:
    """The SQL statements sent meanwhile, the audit trail's writes and the
    API key's look-ups left out: a key is remembered 10 s, and on a loaded
    CI box more than that once passed between the warm-up and a page (the
    admin's page of 50 cost 2 statements, its page of 10 one)."""
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = statement.lstrip().upper()
        if not text.startswith(("PRAGMA", "INSERT INTO AUDIT_LOG")) and (
            "FROM API_KEYS" not in text
        ):
            statements.append(statement)

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


PAGE = "query($n: Int!) { customers(first: $n) { edges { node { email phone } } } }"


async def test_the_consent_check_costs_one_statement_a_page_not_one_a_customer(
    stage: Stage, people: dict[str, Person]
) -> None:
    costs: dict[tuple[Role, int], int] = {}
    for role in (Role.ADMIN, Role.MARKETING):
        await gql(stage, role, PAGE, n=1)  # the key is looked up once
        for size in (10, 50):
            await stage.services.audit.flush()
            with counted(stage.services) as statements:
                data = await gql(stage, role, PAGE, n=size)
            assert len(data["customers"]["edges"]) == size
            costs[role, size] = len(statements)
    assert costs[Role.MARKETING, 10] == costs[Role.MARKETING, 50], costs
    assert costs[Role.MARKETING, 50] == costs[Role.ADMIN, 50] + 1, costs


async def test_marketing_is_audited_only_for_the_contact_data_it_was_shown(
    stage: Stage, people: dict[str, Person]
) -> None:
    for state in ("granted", "absent", "email only"):
        await READERS["http_post"](stage, stage.keys[Role.MARKETING], people[state])
    await stage.services.audit.flush()
    async with stage.services.sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.subject == f"key:sec-{Role.MARKETING}",
                    AuditEntry.action == "read",
                    AuditEntry.customer_id.in_(
                        [people[s].pk for s in ("granted", "absent", "email only")]
                    ),
                )
            )
        )
    shown: dict[int, set[str]] = {}
    for entry in entries:
        shown.setdefault(entry.customer_id or 0, set()).update(entry.fields)
    assert shown.get(people["granted"].pk, set()) >= {"email", "phone"}
    assert not shown.get(people["absent"].pk, set()) & {"email", "phone"}
    assert shown.get(people["email only"].pk, set()) & {"email", "phone"} == {"email"}


@pytest.mark.parametrize("name", ["api", "embed"])
def test_no_timeline_event_carries_contact_data(name: str) -> None:
    """So the timeline and its subscription have no email or phone to gate:
    a contact field reachable from an event would need the consent rule."""
    schema = api_schema() if name == "api" else embed_schema()
    leaves = pii_leaves(schema)
    paths = reach(schema, "TimelineEvent", leaves)
    kinds = {leaves[key].kind for key in paths}
    assert not kinds & set(FIELDS.values())
