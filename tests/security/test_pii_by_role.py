"""Roles × entry points × surfaces: every personal-data field, reached every
way the schema allows, shows what ``gateway.auth.policy.PII_POLICY`` says —
full, masked or null — and the read leaves a per-customer audit entry.

The expectation is computed, never copied: the admin's answer (every kind
``FULL``) run through ``policy.apply`` for the role. Fields and paths come from
the schema (``schema_walk``), entry points from ``entries``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.auth import policy
from gateway.auth.policy import PiiKind, Role
from tests.security import audit
from tests.security.conftest import API_ROLES, Stage
from tests.security.entries import (
    SELECTION,
    Entry,
    api_entries,
    api_schema,
    build,
    embed_entries,
    embed_schema,
    reached,
)
from tests.security.schema_walk import (
    PiiLeaf,
    Step,
    expect,
    pii_leaves,
    reach,
    render,
    walk,
)
from tests.security.surfaces import (
    API_SURFACES,
    EMBED_SURFACES,
    Surface,
    send,
    subscribed,
)

pytestmark = pytest.mark.storage_independent

MATRIX = [
    pytest.param(surface, role, entry, id=f"{surface}-{role}-{entry}")
    for entry in api_entries()
    if build(entry).paths
    for role in API_ROLES
    if entry.open_to(role)
    for surface in API_SURFACES
] + [
    pytest.param(surface, Role.EMBED, entry, id=f"{surface}-embed-{entry}")
    for entry in embed_entries()
    for surface in EMBED_SURFACES
]


async def _admin_reference(stage: Stage, entry: Entry, selection: str) -> object:
    reference = entry.reference or entry
    document = reference.document.replace(SELECTION, selection)
    answer = await send(
        stage,
        Surface.HTTP_POST,
        stage.keys[Role.ADMIN],
        document,
        reference.variables(stage),
    )
    assert answer.status == 200, answer.text[:2000]
    assert not answer.errors, answer.text[:2000]
    return reached(answer.data, reference.prefix)


def _compare(
    role: Role,
    paths: dict[str, list[Step]],
    leaves: dict[str, PiiLeaf],
    reference: object,
    objects: object,
    granted: dict[str, frozenset[str]],
) -> tuple[list[str], bool]:
    """Where ``objects`` differ from what ``role`` must see of the admin's
    ``reference`` (with the consents ``granted`` per contact value), and
    whether the role must be shown some personal data."""
    problems, shown = [], False
    for key, steps in sorted(paths.items()):
        kind = leaves[key].kind
        if not any(v is not None for _, v in walk(reference, steps)):
            continue  # not in the subject's data read (another event type, or
            # further than this page)
        want = dict(expect(role, kind, reference, steps, granted=granted))
        got = dict(walk(objects, steps))
        shown |= any(v is not None for v in want.values())
        if leaves[key].stand_in:
            # hidden: the field's own stand-in, a line per kind that quotes
            # nothing ("Note added"); tests/unit/test_pii_coverage checks it
            want = {k: got.get(k) if v is None else v for k, v in want.items()}
        if want != got:
            problems.append(f"{key} ({kind}): want {want} got {got}")
    return problems, shown


@pytest.mark.parametrize(("surface", "role", "entry"), MATRIX)
async def test_each_role_sees_each_personal_field_as_the_policy_says(
    stage: Stage, surface: Surface, role: Role, entry: Entry
) -> None:
    built = build(entry)
    selection = render(list(built.paths.values()))
    reference = await _admin_reference(stage, entry, selection)
    before = await audit.reads(stage, role, stage.subject.pk)
    credential = stage.embed_token if surface.is_embed else stage.keys[role]
    answer = await send(
        stage, surface, credential, built.document, entry.variables(stage)
    )
    assert answer.status in (200, None), answer.text[:2000]
    assert answer.body is not None, answer.text[:2000]
    objects = reached(answer.data, entry.prefix)
    granted = await stage.granted_by_contact()
    problems, shown = _compare(
        role, built.paths, built.leaves, reference, objects, granted
    )
    assert not problems, "\n".join(problems) + f"\nerrors: {answer.errors}"
    if shown:
        after = await audit.wait_for_more_reads(stage, role, stage.subject.pk, before)
        assert after > before, (
            f"{role} was shown the subject's personal data over {surface} via "
            f"{entry}, and no per-customer audit entry was written"
        )


SUBSCRIPTION = "subscription($id: ID!) { customerTimeline(customerId: $id) SELECTION }"
NEWEST_NOTE = (
    "query($id: ID!) { customer(id: $id) { timeline(first: 1, kinds: [NOTE_ADDED])"
    " { edges { node SELECTION } } } }"
)
EVENT_BODY = "Spoke about the refund; lives at 9 Elm Row"


@pytest.mark.parametrize(
    ("surface", "role"),
    [pytest.param(Surface.WS, r, id=f"ws-{r}") for r in API_ROLES]
    + [pytest.param(Surface.EMBED_WS, Role.EMBED, id="embed_ws-embed")],
)
async def test_subscription_events_show_personal_data_as_the_policy_says(
    stage: Stage, surface: Surface, role: Role
) -> None:
    """The event a note sends, against the admin's read of that note on
    ``/graphql`` — every field of it, the stand-in summary too."""
    schema = embed_schema() if surface.is_embed else api_schema()
    leaves = pii_leaves(schema)
    paths = reach(schema, "TimelineEvent", leaves)
    selection = render(list(paths.values()))
    variables = {"id": stage.subject.gid}
    if surface.is_embed:
        path, init = f"/embed/graphql?token={stage.embed_token}", {}
    else:
        path, init = "/graphql", {"Authorization": stage.keys[role]}
    before = await audit.reads(stage, role, stage.subject.pk)
    document = SUBSCRIPTION.replace(SELECTION, selection)
    async with subscribed(stage, path, init, document, variables) as ws:
        await stage.admin(
            "mutation($c: ID!, $b: String!) { addNote(customerId: $c, body: $b) { id } }",
            c=stage.subject.gid,
            b=EVENT_BODY,
        )
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "next", message
    event = message["payload"]["data"]["customerTimeline"]
    read = await stage.admin(NEWEST_NOTE.replace(SELECTION, selection), **variables)
    [reference] = reached(read, ("customer", "timeline", "edges", "node"))
    assert reference["body_NoteAdded"] == EVENT_BODY, reference
    granted = await stage.granted_by_contact()
    problems, shown = _compare(role, paths, leaves, reference, event, granted)
    assert not problems, problems
    assert shown == (policy.apply(role, PiiKind.NOTE, EVENT_BODY) is not None)
    if shown:
        after = await audit.wait_for_more_reads(stage, role, stage.subject.pk, before)
        assert after > before, f"a {role} subscriber saw a note body; no audit entry"


def test_every_kind_of_personal_data_is_reached_by_some_entry() -> None:
    """``address`` marks a container (``Customer.addresses``), not a leaf."""
    kinds: set[PiiKind] = set()
    for entry in api_entries():
        built = build(entry)
        kinds |= {built.leaves[k].kind for k in built.paths}
    assert kinds >= set(PiiKind) - {PiiKind.ADDRESS}
