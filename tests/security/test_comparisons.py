"""Roles × comparing arguments × surfaces: a role searches, filters, orders and
looks up only by what it sees in full (``gateway.auth.policy.COMPARED``).

Asking the server to compare with a value one cannot see is reading it: an
analyst or a marketing key recovered hidden emails prefix by prefix with
``customers(search:)``, birth months and cities with filters, the order of
emails with ``orderBy: EMAIL_ASC``, and tested guesses with
``customer(email:)`` and federation's ``_entities``. Every usage here is made
from the table and the schema (``comparisons.usages``) and sent with the
subject's own value, so an allowed one must find the subject and a refused one
must be 403 ``FORBIDDEN`` naming the argument, with no data and no audit read.
``search`` is sent once per kind it matches: it finds the subject only by a
kind the role sees in full. The schema's arguments are walked on their own
(``comparisons.schema_coordinates``): each is in ``COMPARED`` or declared not
to compare, so a new one fails here until someone decides.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, get_named_type
from strawberry.relay import GlobalID

from gateway.auth.embed_tokens import create_token
from gateway.auth.policy import (
    COMPARED,
    Role,
    compared_in_full,
    may_compare,
    may_run_mutation,
    may_use_root_field,
)
from tests.security import audit
from tests.security.comparisons import (
    Facts,
    Usage,
    not_compared,
    schema_coordinates,
    usages,
)
from tests.security.conftest import API_ROLES, TAG, Stage
from tests.security.entries import api_schema, embed_schema
from tests.security.surfaces import API_SURFACES, EMBED_SURFACES, Surface, send

pytestmark = pytest.mark.storage_independent

USAGES = list(usages(api_schema()))
_TOKENS = itertools.count()


def fresh_embed_token(stage: Stage) -> str:
    """An embed token of the subject with a rate-limit bucket of its own (the
    embed limit is per token, 30 in a burst)."""
    secret = stage.services.settings.secret_key.get_secret_value()
    token, _ = create_token(secret, stage.subject.pk, 3000 + next(_TOKENS))
    return token


@pytest.fixture(scope="module")
async def facts(stage: Stage) -> Facts:
    """The subject's values (its address and birth date are the stage's)."""
    data = await stage.admin(
        "query($id: ID!) { customer(id: $id) { firstName lastName birthMonth"
        " birthDate addresses { country region city } } }",
        id=stage.subject.gid,
    )
    customer = data["customer"]
    address = next(a for a in customer["addresses"] if a["city"] == "Oakland")
    name = " ".join(p for p in (customer["firstName"], customer["lastName"]) if p)
    assert name, "the subject has no name to search by"
    return Facts(
        email=stage.subject.email,
        phone=stage.subject.phone,
        full_name=name,
        address=address,
        birth_month=customer["birthMonth"],
        tag=TAG,
        birth_date=date.fromisoformat(customer["birthDate"]),
        subject=stage.subject.gid,
    )


def test_every_argument_of_every_schema_is_declared_compared_or_not() -> None:
    problems = []
    for label, schema in (("api", api_schema()), ("embed", embed_schema())):
        for coordinate in sorted(schema_coordinates(schema)):
            declared = coordinate in COMPARED
            reason = not_compared(coordinate)
            if declared == (reason is not None):
                problems.append(f"{label}: {coordinate}")
    assert not problems, (
        "declare each in gateway.auth.policy.COMPARED (it compares with personal "
        "data) or in tests/security/comparisons.NOT_COMPARED (why not):\n"
        + "\n".join(problems)
    )


def test_every_compared_coordinate_exists_in_the_schema() -> None:
    stale = set(COMPARED) - schema_coordinates(api_schema())
    assert not stale


def _description(coordinate: str) -> str | None:
    """The schema's description of an argument, input field or enum value;
    ``None`` for an entity key (an output field)."""
    schema = api_schema()
    owner, _, member = coordinate.partition(".")
    named: Any = schema.get_type(owner)
    if "(" in member:
        field, _, argument = member.rstrip(":)").partition("(")
        return named.fields[field].args[argument].description
    if isinstance(named, GraphQLEnumType):
        return named.values[member].description
    if isinstance(named, GraphQLInputObjectType):
        return named.fields[member].description
    return None


@pytest.mark.parametrize("coordinate", sorted(COMPARED))
def test_the_schema_tells_who_may_compare_by_each_argument(coordinate: str) -> None:
    description = _description(coordinate)
    if description is not None:
        assert "FORBIDDEN for" in description or "FORBIDDEN)" in description


def _ids(data: Any) -> set[str]:
    if isinstance(data, dict):
        found = {data["id"]} if isinstance(data.get("id"), str) else set()
        return found.union(*(_ids(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_ids(v) for v in data))
    return set()


async def _refused_without_trace(
    stage: Stage, role: Role, surface: Surface, document: str, variables: dict
) -> dict[str, Any]:
    """The answer's one error, after checking the refusal left nothing."""
    before = await audit.reads(stage, role, stage.subject.pk)
    answer = await send(stage, surface, stage.keys[role], document, variables)
    assert answer.codes == ["FORBIDDEN"], answer.text[:800]
    if not surface.is_socket:
        assert answer.status == 403, answer.text[:800]
    assert not answer.data, answer.text[:800]
    assert stage.subject.email not in answer.text
    assert await audit.reads(stage, role, stage.subject.pk) == before
    return answer.errors[0]


MATRIX = [
    pytest.param(surface, role, usage, id=f"{surface}-{role}-{usage}")
    for usage in USAGES
    for role in API_ROLES
    for surface in API_SURFACES
    if not (usage.root == "Mutation" and surface is Surface.HTTP_GET)
]


@pytest.mark.parametrize(("surface", "role", "usage"), MATRIX)
async def test_a_role_compares_only_with_what_it_sees_in_full(
    stage: Stage, facts: Facts, surface: Surface, role: Role, usage: Usage
) -> None:
    variables = usage.variables(facts, f"{surface}-{role}-{time.monotonic_ns()}")
    runs = may_use_root_field(role, usage.field) and (
        usage.root != "Mutation" or may_run_mutation(role, usage.field)
    )
    if not runs or not may_compare(role, usage.coordinate):
        error = await _refused_without_trace(
            stage, role, surface, usage.document, variables
        )
        if runs:
            assert error["extensions"]["argument"] == usage.coordinate
            assert usage.coordinate in error["message"]
        return
    answer = await send(stage, surface, stage.keys[role], usage.document, variables)
    assert answer.status in (200, None), answer.text[:800]
    assert not answer.errors, answer.text[:800]
    if not usage.finds:
        return
    found = stage.subject.gid in _ids(answer.data)
    assert found == (usage.kind in compared_in_full(role, usage.coordinate)), (
        f"{role} {'did not find' if not found else 'found'} the subject by "
        f"{usage.coordinate} with its {usage.kind}: {answer.text[:400]}"
    )


FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "literal": ('{ customers(filter: {city: "Oakland"}) { totalCount } }', {}),
    "variable default": (
        "query($m: Int = 4) { customers(filter: {birthMonth: $m}) { totalCount } }",
        {},
    ),
    "nested in not/or": (
        "query($t: String!) { segmentPreview(filter: {or: [{tagsAny: [$t]},"
        ' {not: {city: "Oakland"}}]}) { totalCount } }',
        {"t": TAG},
    ),
    "fragment spread": (
        "query { ...F } fragment F on Query { customers(orderBy: EMAIL_ASC) "
        "{ totalCount } }",
        {},
    ),
    "aliased in an inline fragment": (
        '{ ... on Query { x: customer(email: "nobody@example.com") { id } } }',
        {},
    ),
    "beside an allowed field": (
        '{ rfmSummary { segment } customers(search: "a") { totalCount } }',
        {},
    ),
    "skipped by a directive": (
        "{ customers(filter: {hasPhone: true}) @skip(if: true) { totalCount } }",
        {},
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
async def test_an_analyst_is_refused_however_the_comparison_is_written(
    stage: Stage, form: str
) -> None:
    document, variables = FORMS[form]
    await _refused_without_trace(
        stage, Role.ANALYST, Surface.HTTP_POST, document, variables
    )


SAVED: dict[str, dict[str, Any]] = {
    "city": {"city": "Oakland"},
    "birth month": {"birthMonth": 4},
    "birthday": {"birthday": {"withinDays": 365}},
    "tag only": {},
}
"""Saved filters (each with the stage's tag): their members and exports tell
the values they compare with."""


@pytest.fixture(scope="module")
async def saved(stage: Stage) -> dict[str, str]:
    names = {}
    for label, spec in SAVED.items():
        name = f"sec-compared-{label}"
        await stage.admin(
            "mutation($n: String!, $f: SegmentFilter!) { createSegment(name: $n,"
            " filter: $f) { name } }",
            n=name,
            f={**spec, "tagsAny": [TAG]},
        )
        names[label] = name
    return names


def _coordinates(spec: dict[str, Any]) -> Iterator[str]:
    """A saved filter's conditions, nested rules' fields included."""
    fields = api_schema().get_type("SegmentFilter").fields  # type: ignore[union-attr]
    for key, value in spec.items():
        yield f"SegmentFilter.{key}"
        if isinstance(value, dict):
            named = get_named_type(fields[key].type).name
            yield from (f"{named}.{member}" for member in value)


def _may_read(role: Role, label: str) -> bool:
    return all(may_compare(role, c) for c in _coordinates(SAVED[label]))


MEMBERS = """query($n: String!) { segment(name: $n) { name
  members(first: 100) { totalCount edges { node { id } } } } }"""


@pytest.mark.parametrize("label", list(SAVED))
@pytest.mark.parametrize("role", API_ROLES, ids=str)
async def test_a_saved_segments_members_are_read_only_by_roles_that_see_its_fields(
    stage: Stage, saved: dict[str, str], role: Role, label: str
) -> None:
    variables = {"n": saved[label]}
    before = await audit.reads(stage, role, stage.subject.pk)
    answer = await send(stage, Surface.HTTP_POST, stage.keys[role], MEMBERS, variables)
    assert answer.status == 200, answer.text[:800]
    if _may_read(role, label):
        assert not answer.errors, answer.text[:800]
        assert stage.subject.gid in _ids(answer.data)
        return
    assert answer.codes == ["FORBIDDEN"], answer.text[:800]
    assert not answer.data, answer.text[:800]
    assert answer.errors[0]["extensions"]["argument"] in COMPARED
    assert await audit.reads(stage, role, stage.subject.pk) == before


@pytest.mark.parametrize("label", list(SAVED))
@pytest.mark.parametrize("role", API_ROLES, ids=str)
async def test_a_saved_segment_is_exported_only_to_roles_that_see_its_fields(
    stage: Stage, saved: dict[str, str], role: Role, label: str
) -> None:
    before = await audit.reads(stage, role, stage.subject.pk)
    response = await stage.http.get(
        f"/segments/{saved[label]}/export",
        params={"format": "jsonl", "channel": "email"},
        headers={"Authorization": stage.keys[role]},
    )
    if _may_read(role, label):
        assert response.status_code == 200, response.text[:800]
        assert f'"customer_id":{stage.subject.pk}' in response.text
        return
    assert response.status_code == 403, response.text[:800]
    assert "customer_id" not in response.text
    assert await audit.reads(stage, role, stage.subject.pk) == before


def _lookups() -> list[pytest.param]:
    """Every root field of ``/graphql`` that ``/embed/graphql`` lacks, and every
    comparing usage: an embed token can list or look up no one."""
    embed_fields = set(embed_schema().query_type.fields)  # type: ignore[union-attr]
    roots = [
        (f"{{ {name} {{ __typename }} }}", {})
        for name in sorted(api_schema().query_type.fields)  # type: ignore[union-attr]
        if name not in embed_fields
    ]
    return [
        pytest.param(document, variables, id=document[:60])
        for document, variables in roots
    ] + [pytest.param(u.document, u, id=str(u)) for u in USAGES if u.root == "Query"]


@pytest.mark.parametrize(("document", "variables"), _lookups())
@pytest.mark.parametrize("surface", EMBED_SURFACES, ids=str)
async def test_an_embed_token_cannot_list_or_look_up_anyone(
    stage: Stage, facts: Facts, surface: Surface, document: str, variables: Any
) -> None:
    if isinstance(variables, Usage):
        variables = variables.variables(facts, "embed")
    answer = await send(stage, surface, fresh_embed_token(stage), document, variables)
    assert answer.status is None or answer.status < 500, answer.text[:800]
    assert set(answer.codes) == {"GRAPHQL_VALIDATION_FAILED"}, answer.text[:800]
    assert not answer.data, answer.text[:800]
    assert stage.subject.gid not in answer.text


@pytest.mark.parametrize("surface", EMBED_SURFACES, ids=str)
async def test_an_embed_token_reads_no_other_customers_timeline(
    stage: Stage, surface: Surface
) -> None:
    other = str(GlobalID("Customer", str(stage.other_pk)))
    answer = await send(
        stage,
        surface,
        fresh_embed_token(stage),
        "query($id: ID!) { timeline(customerId: $id, first: 5) { edges { cursor } } }",
        {"id": other},
    )
    assert answer.codes == ["FORBIDDEN"], answer.text[:800]
    assert not (answer.data or {}).get("timeline"), answer.text[:800]
