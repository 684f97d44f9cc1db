"""Hostile ids × every root field that takes an ID, on every endpoint: a
global id whose number is no key (``2**63`` and past, negative, zero, not
decimal ASCII) is ``BAD_USER_INPUT`` or ``NOT_FOUND``, never an internal
error (PostgreSQL cannot compare a number past ``BIGINT`` with a key), never
data, never a row written. The fields come from the schemas, so a new ID
argument is in the table the day it exists."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from graphql import GraphQLSchema, get_named_type
from strawberry.relay import to_base64

from gateway.auth.embed_tokens import create_token
from gateway.auth.policy import Role
from tests.security.arguments import KINDS, call, root
from tests.security.conftest import Stage
from tests.security.entries import api_schema, embed_schema, node_types
from tests.security.leaks import assert_no_leak
from tests.security.surfaces import Surface, send

pytestmark = pytest.mark.storage_independent

NUMBERS: list[object] = [2**63, 2**64, 10**40, -1, 0, "1e5", "٣", "+7", "007"]
"""Past ``BIGINT``, no key, or not as we write keys (``int()`` reads the last
three as 3, 7 and 7: they would alias real rows)."""
REFUSALS = {"BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"}
"""``FORBIDDEN``: an embed token asked for a customer that is not its own."""


def _id_arguments(schema: GraphQLSchema, embed: bool) -> list[Any]:
    rows = []
    for kind in KINDS:
        operations = root(schema, kind)
        for name, field in operations.fields.items() if operations else ():
            for arg_name, arg in field.args.items():
                if get_named_type(arg.type).name == "ID":
                    rows.append(
                        pytest.param(
                            embed,
                            kind,
                            name,
                            arg_name,
                            id=f"{'embed' if embed else 'api'} {kind} {name}.{arg_name}",
                        )
                    )
    return rows


ROWS = _id_arguments(api_schema(), False) + _id_arguments(embed_schema(), True)


def _types(name: str, argument: str) -> list[str]:
    """The type names an id of this argument is tried as."""
    if name == "node":
        return node_types(api_schema())
    if name == "completeTask" and argument == "id":
        return ["Task"]
    return ["Customer"]


def _surface(embed: bool, kind: str) -> Surface:
    if kind == "subscription":
        return Surface.EMBED_WS if embed else Surface.WS
    return Surface.EMBED_HTTP if embed else Surface.HTTP_POST


def _check(answer: Any, label: str) -> None:
    assert answer.status is None or answer.status < 500, (label, answer.text[:500])
    assert answer.errors, (label, answer.text[:500])
    assert set(answer.codes) <= REFUSALS, (label, answer.text[:500])
    assert not any((answer.data or {}).values()), (label, answer.text[:500])


@pytest.mark.parametrize(("embed", "kind", "name", "argument"), ROWS)
async def test_an_id_that_is_no_key_is_refused_on_every_field_that_takes_one(
    stage: Stage, embed: bool, kind: str, name: str, argument: str
) -> None:
    schema = embed_schema() if embed else api_schema()
    credential = stage.keys[Role.ADMIN]
    if embed:  # a token of its own: each has a rate-limit bucket
        secret = stage.services.settings.secret_key.get_secret_value()
        credential, _ = create_token(secret, stage.subject.pk, 600)
    surface = _surface(embed, kind)
    before = await stage.rows()
    for type_name in _types(name, argument):
        for number in NUMBERS:
            hostile = to_base64(type_name, number)  # type: ignore[arg-type]
            document, variables = call(stage, schema, kind, name, {argument: hostile})
            answer = await send(stage, surface, credential, document, variables)
            assert_no_leak(stage, answer.text)
            _check(answer, f"{type_name}:{number}")
    assert await stage.rows() == before


ENTITIES = (
    "query($representations: [_Any!]!) {"
    " _entities(representations: $representations) { ... on Customer { email } } }"
)


async def test_a_federation_key_that_is_no_key_is_refused(stage: Stage) -> None:
    representations = [
        {"__typename": "Customer", "id": to_base64("Customer", n)}  # type: ignore[arg-type]
        for n in NUMBERS
    ]
    answer = await send(
        stage,
        Surface.HTTP_POST,
        stage.keys[Role.ADMIN],
        ENTITIES,
        {"representations": representations},
    )
    assert answer.status == 200, answer.text[:500]
    assert_no_leak(stage, answer.text)
    assert answer.data == {"_entities": [None] * len(NUMBERS)}, answer.text[:500]
    assert set(answer.codes) <= REFUSALS, answer.text[:500]


CONNECTIONS = {
    "customers": "query($after: String) { customers(first: 1, after: $after)"
    " { edges { cursor } } }",
    "notes": "query($id: ID!, $after: String) { customer(id: $id)"
    " { notes(first: 1, after: $after) { edges { cursor } } } }",
    "tasks": "query($id: ID!, $after: String) { customer(id: $id)"
    " { tasks(first: 1, after: $after) { edges { cursor } } } }",
    "timeline": "query($id: ID!, $after: String) { customer(id: $id)"
    " { timeline(first: 1, after: $after) { edges { cursor } } } }",
    "segment members": "query($name: String!, $after: String) { segment(name: $name)"
    " { members(first: 1, after: $after) { edges { cursor } } } }",
    "segmentPreview": "query($tag: String!, $after: String) { segmentPreview("
    "filter: {tagsAny: [$tag]}, first: 1, after: $after) { edges { cursor } } }",
}


def _past_bigint(value: object) -> object:
    if type(value) is int:
        return 2**63
    if isinstance(value, str) and value.isdigit():  # a zero-padded id
        return str(2**63)
    return value


def _forged(cursor: str) -> str:
    """``cursor`` with each integer of its key (or zero-padded id) replaced
    by ``2**63``."""
    key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    forged = [key[0], *(_past_bigint(v) for v in key[1:])]
    assert forged != key, f"no integer in {key}"
    return base64.urlsafe_b64encode(orjson.dumps(forged)).decode().rstrip("=")


@pytest.mark.parametrize("connection", list(CONNECTIONS))
async def test_a_cursor_whose_key_is_past_bigint_is_refused(
    stage: Stage, connection: str
) -> None:
    from tests.security.conftest import SEGMENT, TAG

    document = CONNECTIONS[connection]
    variables = {"id": stage.subject.gid, "name": SEGMENT, "tag": TAG}
    variables = {k: v for k, v in variables.items() if f"${k}" in document}
    first = await stage.admin(document, **variables)
    cursor = next(
        v for k, v in _walk(first) if k == "cursor"
    )  # the first page's cursor
    answer = await send(
        stage,
        Surface.HTTP_POST,
        stage.keys[Role.ADMIN],
        document,
        {**variables, "after": _forged(cursor)},
    )
    assert answer.status == 200, answer.text[:500]
    assert answer.codes == ["BAD_USER_INPUT"], answer.text[:500]


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
