"""Mutations × roles × surfaces: what ``may_run_mutation`` allows runs; anything
else is 403 FORBIDDEN over HTTP and an error with code FORBIDDEN over
WebSocket, with nothing written. The mutations and their arguments come from
the schema, so a new mutation is in the table the day it exists. Arguments a
role may only use with some values (``ARGUMENTS_BY_ROLE``: marketing's
``setConsent`` state) have their own table: values × the ways a document can
pass them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.auth.policy import Role, may_run_mutation
from tests.security.arguments import call
from tests.security.conftest import API_ROLES, Stage
from tests.security.entries import api_schema
from tests.security.surfaces import Surface, send

pytestmark = pytest.mark.storage_independent


def operation(stage: Stage, name: str) -> tuple[str, dict[str, Any]]:
    """``mutation`` with variables for every required argument of ``name``."""
    return call(stage, api_schema(), "mutation", name)


MUTATIONS = sorted(api_schema().mutation_type.fields)  # type: ignore[union-attr]


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", API_ROLES, ids=str)
@pytest.mark.parametrize("surface", [Surface.HTTP_POST, Surface.WS], ids=str)
async def test_a_role_runs_only_the_mutations_the_policy_allows(
    stage: Stage, surface: Surface, role: Role, mutation: str
) -> None:
    document, variables = operation(stage, mutation)
    before = await stage.rows()
    answer = await send(stage, surface, stage.keys[role], document, variables)
    assert answer.status is None or answer.status < 500, answer.text[:500]
    if may_run_mutation(role, mutation, variables):
        assert "FORBIDDEN" not in answer.codes, answer.text[:500]
        return
    assert "FORBIDDEN" in answer.codes, answer.text[:500]
    if surface is Surface.HTTP_POST:
        assert answer.status == 403, answer.text[:500]
    assert await stage.rows() == before


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("surface", [Surface.EMBED_HTTP, Surface.EMBED_WS], ids=str)
async def test_an_embed_token_runs_no_mutation(
    stage: Stage, surface: Surface, mutation: str
) -> None:
    document, variables = operation(stage, mutation)
    before = await stage.rows()
    answer = await send(stage, surface, stage.embed_token, document, variables)
    assert answer.status is None or answer.status < 500, answer.text[:500]
    assert answer.errors, answer.text[:500]
    assert not answer.data, answer.text[:500]
    assert await stage.rows() == before


CONSENT = "setConsent(customerId: $id, channel: SMS, state: STATE) { state }"
CONSENT_FORMS: dict[str, tuple[str, bool]] = {
    "literal": (f"mutation($id: ID!) {{ {CONSENT} }}", False),
    "variable": (
        f"mutation($id: ID!, $s: ConsentState!) {{ {CONSENT.replace('STATE', '$s')} }}",
        True,
    ),
    "variable default": (
        f"mutation($id: ID!, $s: ConsentState = STATE) {{ "
        f"{CONSENT.replace('STATE', '$s', 1)} }}",
        False,
    ),
    "fragment": (
        f"mutation($id: ID!) {{ ...F }} fragment F on Mutation {{ {CONSENT} }}",
        False,
    ),
}
"""(document with STATE where the value goes, whether it is sent as $s)."""


@pytest.mark.parametrize("form", CONSENT_FORMS)
@pytest.mark.parametrize("state", ["GRANTED", "PENDING", "DENIED"])
@pytest.mark.parametrize("role", API_ROLES, ids=str)
@pytest.mark.parametrize("surface", [Surface.HTTP_POST, Surface.WS], ids=str)
async def test_a_role_sets_only_the_consent_states_the_policy_allows(
    stage: Stage, surface: Surface, role: Role, state: str, form: str
) -> None:
    template, as_variable = CONSENT_FORMS[form]
    document = template.replace("STATE", state)
    variables: dict[str, Any] = {"id": stage.subject.gid}
    if as_variable:
        variables["s"] = state
    before = await stage.rows()
    answer = await send(stage, surface, stage.keys[role], document, variables)
    assert answer.status is None or answer.status < 500, answer.text[:500]
    if may_run_mutation(role, "setConsent", {"state": state}):
        assert answer.data == {"setConsent": {"state": state}}, answer.text[:500]
        return
    assert answer.codes == ["FORBIDDEN"], answer.text[:500]
    if surface is Surface.HTTP_POST:
        assert answer.status == 403, answer.text[:500]
    assert await stage.rows() == before


@pytest.mark.parametrize(
    "sent", [["DENIED"], {"state": "DENIED"}, None, "denied", 1], ids=repr
)
async def test_a_consent_state_of_another_shape_is_refused_not_a_crash(
    stage: Stage, sent: object
) -> None:
    document, _ = CONSENT_FORMS["variable"]
    variables = {"id": stage.subject.gid, "s": sent}
    answer = await send(
        stage, Surface.HTTP_POST, stage.keys[Role.MARKETING], document, variables
    )
    assert answer.status == 403, answer.text[:500]
    assert answer.codes == ["FORBIDDEN"]


async def test_a_mutation_over_get_is_refused_for_every_role(stage: Stage) -> None:
    document, variables = operation(stage, "tagCustomer")
    for role in API_ROLES:
        response = await stage.http.get(
            "/graphql",
            params={"query": document, "variables": json.dumps(variables)},
            headers={"Authorization": stage.keys[role]},
        )
        assert response.status_code == 405, (role, response.text[:300])
