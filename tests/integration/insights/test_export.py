"""Segment exports: consent per channel, the PII policy hook, both formats,
over the command's streaming function and over HTTP."""

from __future__ import annotations

import csv
import io

import httpx
import orjson

from gateway.auth.contact import Contact, ContactRow
from gateway.insights import export as export_module
from gateway.insights.export import ExportRequest, FullAccess, export_segment
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import create_segment
from gateway.runtime.services import Services
from tests.integration.insights.facts import NOW, add_customer


class MaskEmail:
    """A policy that hides the email's local part, to see it applied."""

    def apply(self, column: str, value: object) -> object:
        return value

    def contact(self, customer: ContactRow) -> Contact:
        email = customer.email and "***@" + customer.email.split("@")[1]
        return Contact(email, customer.phone)


async def newsletter(db: Services) -> None:
    await add_customer(db, "yes@example.com", tags=("news",), email_consent="granted")
    await add_customer(db, "no@example.com", tags=("news",), email_consent="denied")
    await add_customer(db, "sms@example.com", tags=("news",), sms_consent="granted")
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session, session.begin():
        await create_segment(session, "news", {"tagsAny": ["news"]}, NOW)


async def collect(db: Services, request: ExportRequest, policy=None) -> bytes:
    chunks = [
        c async for c in export_segment(db.sessions, request, policy or FullAccess())
    ]
    return b"".join(chunks)


async def test_marketing_export_keeps_only_granted_consent(db: Services) -> None:
    await newsletter(db)
    body = await collect(db, ExportRequest("news", "jsonl", "email"))
    rows = [orjson.loads(line) for line in body.splitlines()]
    assert [r["email"] for r in rows] == ["yes@example.com"]
    sms = await collect(db, ExportRequest("news", "jsonl", "sms"))
    assert [orjson.loads(line)["email"] for line in sms.splitlines()] == [
        "sms@example.com"
    ]


async def test_every_row_goes_through_the_policy(db: Services) -> None:
    await newsletter(db)
    body = await collect(db, ExportRequest("news", "csv"), MaskEmail())
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["email"] for r in rows] == ["***@example.com"] * 3
    assert rows[0]["lifetime_value"] == "0.00"


async def test_exports_stream_in_batches_by_customer_id(
    db: Services, monkeypatch
) -> None:
    monkeypatch.setattr(export_module, "BATCH", 2)
    await newsletter(db)
    request = ExportRequest("news", "csv")
    chunks = [c async for c in export_segment(db.sessions, request, FullAccess())]
    assert [c.count(b"\n") for c in chunks] == [3, 1]  # header + 2 rows, 1 row
    lines = b"".join(chunks).decode().splitlines()
    assert lines[0].startswith("customer_id,email,")
    ids = [int(line.split(",")[0]) for line in lines[1:]]
    assert ids == sorted(ids)
    assert len(ids) == 3


async def test_an_empty_export_is_a_header_only(db: Services) -> None:
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session, session.begin():
        await create_segment(session, "nobody", {"tagsAny": ["none"]}, NOW)
    csv_body = await collect(db, ExportRequest("nobody", "csv"))
    assert csv_body.decode().splitlines() == [",".join(export_module.COLUMNS)]
    assert await collect(db, ExportRequest("nobody", "jsonl")) == b""


async def test_export_over_http_streams_csv(client: httpx.AsyncClient, db) -> None:
    await newsletter(db)
    response = await client.get("/segments/news/export?format=csv&channel=email")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "yes@example.com" in response.text
    assert "no@example.com" not in response.text
    missing = await client.get("/segments/nope/export")
    assert missing.status_code == 404
    bad = await client.get("/segments/news/export?format=xml")
    assert bad.status_code == 400


async def test_http_exports_follow_the_callers_role(
    client: httpx.AsyncClient, db: Services
) -> None:
    from gateway.auth.keys import create_key
    from gateway.auth.policy import Role

    await newsletter(db)
    url = "/segments/news/export?format=jsonl&channel=email"
    anonymous = await client.get(url, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    rows = {}
    for role in (Role.MARKETING, Role.ANALYST):
        key, _ = await create_key(db.sessions, f"export-{role}", role)
        headers = {"Authorization": f"Bearer {key}"}
        no_channel = await client.get("/segments/news/export", headers=headers)
        if role is Role.MARKETING:
            assert (
                no_channel.status_code == 400
            )  # marketing names the consented channel
        response = await client.get(url, headers=headers)
        assert response.status_code == 200
        rows[role] = [orjson.loads(line) for line in response.text.splitlines()]
        if role is Role.MARKETING:  # sms@ granted SMS only: no usable email
            sms = await client.get(url.replace("=email", "=sms"), headers=headers)
            assert [orjson.loads(line)["email"] for line in sms.text.splitlines()] == [
                None
            ]
    # email consent granted: the address in full (it is sent to), never masked
    assert [r["email"] for r in rows[Role.MARKETING]] == ["yes@example.com"]
    assert [r["email"] for r in rows[Role.ANALYST]] == [None]
    assert rows[Role.ANALYST][0]["city"] is None
