"""Names × invisible characters × where names are created: a name holding a
bidirectional control (U+202E turns ``invoice_exe.pdf`` into what reads as
``invoice_fdp.exe``), a zero-width or other format character, a line or
paragraph separator, a private-use or unassigned code point is refused —
``BAD_USER_INPUT`` over GraphQL (HTTP and WebSocket), exit status 2 from the
command line — and nothing is stored. Such a name would show colleagues
something other than what it is (``keys list``, segment pickers, tag lists)
or pass for another (``help\u200bdesk`` beside ``helpdesk``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.auth.policy import Role
from gateway.db.auth_models import ApiKey
from tests.conftest import row_counts
from tests.security.conftest import Stage
from tests.security.surfaces import Surface, send
from tests.security.test_cli import invoke

pytestmark = pytest.mark.storage_independent

INVISIBLE = {
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "ZWSP": "\u200b",
    "ZWJ": "\u200d",
    "BOM": "\ufeff",
    "soft hyphen": "\u00ad",
    "tag letter": "\U000e0041",
    "line separator": "\u2028",
    "no-break space": "\u00a0",
    "private use": "\ue000",
    "unassigned": "\u0378",
}

NAMED: dict[str, tuple[str, dict[str, Any]]] = {
    "createSegment.name": (
        "mutation($v: String!) { createSegment(name: $v,"
        ' filter: {country: "US"}) { name } }',
        {},
    ),
    "tagCustomer.tags": (
        "mutation($id: ID!, $v: String!) { tagCustomer(customerId: $id,"
        " tags: [$v]) { id } }",
        {"id": True},
    ),
    "createCustomer.input.tags": (
        "mutation($v: String!) { createCustomer(input: {email:"
        ' "sec-names@example.com", tags: [$v]}) { id } }',
        {},
    ),
    "createTask.assignee": (
        "mutation($id: ID!, $v: String!) { createTask(customerId: $id,"
        ' title: "Call back", assignee: $v) { id } }',
        {"id": True},
    ),
    "setConsent.source": (
        "mutation($id: ID!, $v: String!) { setConsent(customerId: $id,"
        " channel: SMS, state: DENIED, source: $v) { state } }",
        {"id": True},
    ),
}
"""Every argument that names something (a segment, a tag, a colleague, who
recorded a consent), in a mutation that would store it."""


async def _rows(stage: Stage) -> dict[str, int]:
    return await row_counts(stage.services)


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("argument", NAMED)
@pytest.mark.parametrize("surface", [Surface.HTTP_POST, Surface.WS], ids=str)
async def test_a_name_with_an_invisible_character_is_refused(
    stage: Stage, surface: Surface, argument: str, char: str
) -> None:
    document, extra = NAMED[argument]
    variables = {"v": f"sec{char}name"}
    if extra.get("id"):
        variables["id"] = stage.subject.gid
    before = await _rows(stage)
    answer = await send(stage, surface, stage.keys[Role.ADMIN], document, variables)
    assert answer.codes == ["BAD_USER_INPUT"], answer.text[:500]
    assert await _rows(stage) == before


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
async def test_the_cli_refuses_a_key_name_with_an_invisible_character(
    stage: Stage, monkeypatch: pytest.MonkeyPatch, char: str
) -> None:
    name = f"sec{char}key"
    code, output = await invoke(
        stage, monkeypatch, "keys", "create", "--name", name, "--role", "support"
    )
    assert code == 2, output
    assert "cg_" not in output
    async with stage.services.sessions() as session:
        assert await session.scalar(select(ApiKey).where(ApiKey.name == name)) is None


@pytest.mark.parametrize(
    "name", ["Ventes été", "مبيعات", "销售", "O'Brien & Co", "Q3 — VIP"]
)
async def test_names_in_any_script_are_still_accepted(stage: Stage, name: str) -> None:
    document, _ = NAMED["createSegment.name"]
    answer = await send(
        stage, Surface.HTTP_POST, stage.keys[Role.ADMIN], document, {"v": name}
    )
    assert answer.data == {"createSegment": {"name": name}}, answer.text[:500]
