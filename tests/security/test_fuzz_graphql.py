"""Property-based fuzzing of GraphQL operations: hypothesis-graphql writes
queries and mutations valid against the gateway's schema (and the embed
schema's), sent as each role; bodies that are arbitrary JSON or bytes; known
operations with variables of the wrong types. Whatever comes in: no 5xx, no
traceback, SQL or internal path in the answer, every error coded, no personal
data the role may not see, and none in any log record."""

from __future__ import annotations

import json
import logging
from datetime import UTC
from typing import Any

import graphql
import pytest
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy import select

from gateway.auth import policy
from gateway.auth.policy import PII_POLICY, PiiKind, Role, Treatment
from gateway.db import models
from tests.security.conftest import API_ROLES, NOTE_BODY, Stage
from tests.security.entries import api_schema, embed_schema
from tests.security.fuzzing import (
    Tally,
    answer_problems,
    describe,
    log_problems,
    personal_in,
    run_examples,
)

SCALARS = {
    "Date": st.dates().map(nodes.String),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
    "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
        nodes.String
    ),
    "JSON": st.just(graphql.ObjectValueNode(fields=())),
    # federation's representations: an empty one is refused (BAD_USER_INPUT)
    "_Any": st.just(graphql.ObjectValueNode(fields=())),
}


@pytest.fixture(scope="module")
async def contacts(stage: Stage) -> dict[PiiKind, set[str]]:
    """The seeded customers' contact data, by kind."""
    async with stage.services.sessions() as session:
        rows = (
            await session.execute(select(models.Customer.email, models.Customer.phone))
        ).all()
    return {
        PiiKind.EMAIL: {e for e, _ in rows if e},
        PiiKind.PHONE: {p for _, p in rows if p and len(p) > 6},
        PiiKind.NOTE: {NOTE_BODY},
    }


def hidden_from(
    role: Role,
    contacts: dict[PiiKind, set[str]],
    granted: dict[str, frozenset[str]],
) -> set[str]:
    """What ``role`` must never see in full: with ``CONSENTED``, the values
    whose customer has not granted the channel (``granted``: value → channels;
    marketing may only withdraw consent, so it only shrinks while fuzzing)."""
    return {
        value
        for kind, values in contacts.items()
        if PII_POLICY[role][kind] is not Treatment.FULL
        for value in values
        if policy.apply(role, kind, value, granted.get(value, ())) != value
    }


def everything(contacts: dict[PiiKind, set[str]]) -> set[str]:
    return {v for values in contacts.values() for v in values}


async def _post(
    stage: Stage, role: Role, body: Any, *, raw: bool = False
) -> tuple[int, str]:
    embed = role is Role.EMBED
    path = "/embed/graphql" if embed else "/graphql"
    headers = {
        "Authorization": f"Embed {stage.embed_token}" if embed else stage.keys[role],
        "Content-Type": "application/json",
    }
    content = body if raw else json.dumps(body).encode()
    response = await stage.http.post(path, content=content, headers=headers)
    return response.status_code, response.text


def _operations(role: Role) -> Any:
    if role is Role.EMBED:
        return queries(embed_schema(), custom_scalars=SCALARS)
    schema = api_schema()
    return st.one_of(
        queries(schema, custom_scalars=SCALARS),
        mutations(schema, custom_scalars=SCALARS),
    )


ROLES = [*API_ROLES, Role.EMBED]


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_fuzz_generated_operations_never_fail_or_leak(
    stage: Stage,
    contacts: dict[PiiKind, set[str]],
    caplog: pytest.LogCaptureFixture,
    role: Role,
) -> None:
    tally = Tally(f"fuzz operations as {role}")
    hidden = hidden_from(role, contacts, await stage.granted_by_contact())
    every = everything(contacts)
    caplog.set_level(logging.INFO)

    async def check(document: Any) -> None:
        caplog.clear()
        status, text = await _post(stage, role, {"query": document})
        problems = answer_problems(status, text)
        if personal_in(text, hidden):
            problems.append(f"personal data shown to {role}")
        problems += log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(role=role, query=document, status=status, answer=text[:800]),
        )

    await run_examples(_operations(role), check)
    tally.finish()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
BODIES = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"query": JSON | st.text()},
        optional={"variables": JSON, "operationName": JSON, "extensions": JSON},
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=2000),
)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EMBED], ids=str)
async def test_fuzz_arbitrary_bodies_never_fail_or_leak(
    stage: Stage,
    contacts: dict[PiiKind, set[str]],
    caplog: pytest.LogCaptureFixture,
    role: Role,
) -> None:
    tally = Tally(f"fuzz bodies as {role}")
    every = everything(contacts)
    caplog.set_level(logging.INFO)

    async def check(body: bytes) -> None:
        caplog.clear()
        status, text = await _post(stage, role, body, raw=True)
        problems = answer_problems(status, text) + log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(role=role, body=body[:800], status=status, answer=text[:800]),
        )

    await run_examples(BODIES, check)
    tally.finish()


TYPED = [
    "query($id: ID!) { customer(id: $id) { id email } }",
    "query($email: String) { customer(email: $email) { id } }",
    "query($n: Int!, $s: String, $f: CustomerFilter) { customers(first: $n, search: $s, filter: $f) { totalCount } }",
    "query($f: SegmentFilter!) { segmentPreview(filter: $f, first: 5) { totalCount } }",
    "query($id: ID!, $n: Int, $k: [TimelineKind!], $since: DateTime) { customer(id: $id) { timeline(first: $n, kinds: $k, since: $since) { edges { cursor } } } }",
    "mutation($c: ID!, $p: Int!, $r: String!) { addLoyaltyPoints(customerId: $c, points: $p, reason: $r) { points } }",
    "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
]


@pytest.mark.parametrize(
    "document", TYPED, ids=lambda d: d.split("{")[1].split("(")[0].strip()
)
async def test_fuzz_variables_of_any_type_never_fail_or_leak(
    stage: Stage,
    contacts: dict[PiiKind, set[str]],
    caplog: pytest.LogCaptureFixture,
    document: str,
) -> None:
    tally = Tally(f"fuzz variables of {document[:40]}")
    every = everything(contacts)
    caplog.set_level(logging.INFO)
    names = [
        n.strip("$:")
        for n in document.split(")")[0].split("(", 1)[1].split()
        if n.startswith("$")
    ]
    variables = st.fixed_dictionaries({}, optional={n: JSON for n in names})

    async def check(values: dict[str, Any]) -> None:
        caplog.clear()
        status, text = await _post(
            stage, Role.ADMIN, {"query": document, "variables": values}
        )
        problems = answer_problems(status, text) + log_problems(caplog.records, every)
        tally.check(
            problems,
            describe(
                query=document, variables=values, status=status, answer=text[:800]
            ),
        )

    await run_examples(variables, check)
    tally.finish()
