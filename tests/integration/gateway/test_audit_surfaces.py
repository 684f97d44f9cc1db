"""Every way personal data leaves leaves an audit entry for its customer:
``node(id:)``, timeline items, WebSocket queries, subscription events and
mutations, the embed endpoint, and exports (one entry per exported customer)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import delete, func, select

from gateway.auth.audit import entries_for
from gateway.auth.policy import Role
from gateway.db.auth_models import AuditEntry
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import create_segment
from gateway.runtime.services import Services
from tests.conftest import ANSWER_WAIT, graphql_socket
from tests.integration.gateway.surfaces import (
    Maya,
    ask,
    ask_embedded,
    keys,
    maya,
    ws_query,
    ws_url,
)
from tests.integration.gateway.test_audit_log import answered_once_room_is_made
from tests.integration.insights.facts import NOW, add_customer


@pytest.fixture(autouse=True)
async def empty_audit_log(db: Services) -> None:
    """The services outlive a test: entries an earlier test left in the buffer
    are written now, then removed, so each test counts only its own."""
    await db.audit.flush()
    async with db.sessions() as session, session.begin():
        await session.execute(delete(AuditEntry))


async def reads_of(db: Services, pk: int, subject: str) -> list[AuditEntry]:
    await db.audit.flush()
    entries = await entries_for(db.sessions, pk)
    return [e for e in entries if e.action == "read" and e.subject.startswith(subject)]


async def test_a_note_read_by_its_global_id_is_audited_against_its_customer(
    db: Services,
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
) -> None:
    query = "query($n: ID!) { node(id: $n) { ... on Note { body } } }"
    await ask(client, keys[Role.SUPPORT], query, n=maya.note)
    reads = await reads_of(db, maya.pk, "key:support")
    assert [e.fields for e in reads] == [["body"]]


async def test_timeline_items_are_audited_against_their_customer(
    db: Services,
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
) -> None:
    query = """query($id: ID!) { customer(id: $id) { timeline(sources: [CRM]) {
      edges { node { ... on NoteAdded { body } } } } } }"""
    await ask(client, keys[Role.SUPPORT], query, id=maya.id)
    reads = await reads_of(db, maya.pk, "key:support")
    assert "body" in reads[0].fields


async def test_each_websocket_query_is_audited(
    db: Services, ws_url: str, keys: dict[Role, dict[str, str]], maya: Maya
) -> None:
    query = "query($id: ID!) { customer(id: $id) { email } }"
    await ws_query(ws_url, keys[Role.SUPPORT], query, id=maya.id)
    reads = await reads_of(db, maya.pk, "key:support")
    assert [e.fields for e in reads] == [["email"]]


async def test_each_subscription_event_and_websocket_mutation_is_audited(
    db: Services, ws_url: str, keys: dict[Role, dict[str, str]], maya: Maya
) -> None:
    support = keys[Role.SUPPORT]
    document = (
        "subscription($id: ID!) { customerTimeline(customerId: $id) "
        "{ ... on NoteAdded { body } } }"
    )
    add = 'mutation($c: ID!) { addNote(customerId: $c, body: "later") { id } }'
    async with graphql_socket(ws_url) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": support}))
        assert "connection_ack" in await asyncio.wait_for(ws.recv(), ANSWER_WAIT)
        subscribe: dict[str, Any] = {"query": document, "variables": {"id": maya.id}}
        await ws.send(
            json.dumps({"id": "s", "type": "subscribe", "payload": subscribe})
        )
        await asyncio.sleep(0.3)
        mutate = {"query": add, "variables": {"c": maya.id}}
        await ws.send(json.dumps({"id": "m", "type": "subscribe", "payload": mutate}))
        seen = set()
        while "s" not in seen:
            message = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_WAIT))
            if message["type"] == "next":
                seen.add(message["id"])
    await db.audit.flush()
    entries = await entries_for(db.sessions, maya.pk)
    mine = [e for e in entries if e.subject.startswith("key:support")]
    assert ("write", "addNote") in {(e.action, e.operation) for e in mine}
    assert ["body"] in [e.fields for e in mine if e.action == "read"]


async def test_embed_reads_are_audited_under_the_token(
    db: Services, client: httpx.AsyncClient, maya: Maya
) -> None:
    query = """query($id: ID!) { timeline(customerId: $id, sources: [CRM]) {
      edges { node { ... on NoteAdded { body } } } } }"""
    response = await ask_embedded(client, maya.id, query, id=maya.id)
    assert response.status_code == 200
    reads = await reads_of(db, maya.pk, f"embed:{maya.pk}")
    assert reads
    assert reads[0].role == "embed"


async def test_an_operation_named_in_its_document_only_is_audited_by_that_name(
    db: Services,
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
) -> None:
    """Clients often send a named document without ``operationName``: the
    entry carries the name the document gives, over /graphql and the embed."""
    query = "query SidebarNote($n: ID!) { node(id: $n) { ... on Note { body } } }"
    await ask(client, keys[Role.SUPPORT], query, n=maya.note)
    reads = await reads_of(db, maya.pk, "key:support")
    assert [e.operation for e in reads] == ["SidebarNote"]
    query = """query EmbedTimeline($id: ID!) {
      timeline(customerId: $id, sources: [CRM]) {
        edges { node { ... on NoteAdded { body } } } } }"""
    response = await ask_embedded(client, maya.id, query, id=maya.id)
    assert response.status_code == 200
    reads = await reads_of(db, maya.pk, f"embed:{maya.pk}")
    assert {e.operation for e in reads} == {"EmbedTimeline"}


@pytest.mark.parametrize("surface", ["/graphql", "/embed/graphql", "websocket"])
async def test_an_answer_waits_for_room_while_the_audit_is_full(
    db: Services,
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    maya: Maya,
    monkeypatch: pytest.MonkeyPatch,
    ws_url: str,
    surface: str,
) -> None:
    """Past ``CG_AUDIT_HELD_ENTRIES`` unwritten entries an answer is held
    until the audit's writes make room (a load faster than the database is
    served at its pace, not buffered without bound); then it goes, its
    entry written."""
    query = "query($id: ID!) { customer(id: $id) { email } }"
    headers = keys[Role.SUPPORT]
    subject = "key:support"
    if surface == "/embed/graphql":
        issued = await ask(
            client,
            keys[Role.ADMIN],
            "mutation($c: ID!) { createEmbedToken(customerId: $c) { token } }",
            c=maya.id,
        )
        token = issued["createEmbedToken"]["token"]
        headers = {"Authorization": f"Embed {token}"}
        query = "query($id: ID!) { timeline(customerId: $id, sources: [CRM]) {\n"
        query += "  edges { node { ... on NoteAdded { body } } } } }"
        subject = f"embed:{maya.pk}"

    async def answered() -> Any:
        if surface == "websocket":
            return await ws_query(ws_url, headers, query, id=maya.id)
        variables = {"id": maya.id}
        response = await client.post(
            surface, json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    await db.audit.flush()
    assert await answered_once_room_is_made(db.audit, monkeypatch, answered())
    monkeypatch.undo()
    assert await reads_of(db, maya.pk, subject)


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.ANALYST])
async def test_an_export_leaves_one_read_entry_per_exported_customer(
    db: Services,
    client: httpx.AsyncClient,
    keys: dict[Role, dict[str, str]],
    role: Role,
) -> None:
    ids = [await add_customer(db, f"c{i}@example.com", tags=("x",)) for i in range(3)]
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session, session.begin():
        await create_segment(session, "x", {"tagsAny": ["x"]}, NOW)
    response = await client.get("/segments/x/export?format=jsonl", headers=keys[role])
    exported = [orjson.loads(line)["customer_id"] for line in response.text.split()]
    await db.audit.flush()
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.customer_id, AuditEntry.fields).where(
                    AuditEntry.action == "read",
                    AuditEntry.operation == "segmentExport",
                )
            )
        ).all()
        writes = await session.scalar(
            select(func.count()).where(AuditEntry.operation == "export:x")
        )
    assert sorted(exported) == sorted(ids)
    assert sorted(r.customer_id for r in rows) == sorted(ids)
    shown = {"email"} if role is Role.SUPPORT else set()
    assert all(shown <= set(r.fields) for r in rows)
    if role is Role.ANALYST:
        assert all(r.fields == [] for r in rows)
    assert writes == 1


__all__ = ["keys", "maya", "ws_url"]  # fixtures, used by name
