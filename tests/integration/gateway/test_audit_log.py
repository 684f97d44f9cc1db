"""The audit log's batch writer: one entry the database cannot store never
costs the other callers' entries of the batch, and the log says how many
were lost with a code, never with whose entries they were."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import select

from gateway.auth import audit as audit_module
from gateway.auth.audit import AuditLog, AuditTrail
from gateway.auth.policy import Role
from gateway.auth.principal import Principal
from gateway.db.auth_models import AuditEntry
from gateway.runtime.services import Services

T = TypeVar("T")

SECRET_SUB = "maya.secret@example.com"
"""A subject that is personal data: it must not reach the log."""


def caller(subject: str) -> Principal:
    return Principal(subject=subject, role=Role.SUPPORT, rate_key=subject)


def trail(customer_id: int) -> AuditTrail:
    read = AuditTrail()
    read.read(customer_id, "email")
    return read


async def written(db: Services) -> list[tuple[str, int | None, str | None]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.subject, r.customer_id, r.operation) for r in rows]


async def gated_inserts(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Event, asyncio.Event]:
    """``audit``'s transactions held until the second event is set; the
    first is set as one begins."""
    insert = audit._insert
    writing, go_on = asyncio.Event(), asyncio.Event()

    async def gated(rows: list[Any]) -> None:
        writing.set()
        await go_on.wait()
        await insert(rows)

    monkeypatch.setattr(audit, "_insert", gated)
    return writing, go_on


async def answered_once_room_is_made(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch, answer: Awaitable[T]
) -> T:
    """``answer`` (a request to the app, on any surface) with ``audit``
    full: it is not given until the write begun for it has ended; then it
    is. Each test of a surface's wait for room (``AuditLog.room``)."""
    monkeypatch.setattr(audit, "limit", 1)
    writing, go_on = await gated_inserts(audit, monkeypatch)
    waiting = asyncio.ensure_future(answer)
    try:
        await asyncio.wait_for(writing.wait(), 5)  # begun at once
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()
    finally:
        go_on.set()
    return await asyncio.wait_for(waiting, 5)


@pytest.fixture
async def audit(db: Services) -> AuditLog:
    return AuditLog(db.sessions, interval=3600)


async def test_entries_recorded_while_a_write_is_under_way_are_written_without_another(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer's write takes the buffer; entries recorded during it are
    written by the timer's next turn, not when some later request records."""
    audit = AuditLog(db.sessions, interval=0.05)
    writing, go_on = await gated_inserts(audit, monkeypatch)
    audit.record(trail(1), caller("key:first"), "First")
    await writing.wait()
    audit.record(trail(2), caller("key:during"), "During")
    go_on.set()
    for _ in range(200):  # the timer's turns, 0.05 s apart; nothing recorded
        if len(await written(db)) == 2:
            break
        await asyncio.sleep(0.01)
    assert [c for _, c, _ in await written(db)] == [1, 2]
    await audit.aclose()


async def test_an_entry_holding_nul_or_an_overlong_name_is_stored_cleaned_with_the_others(
    db: Services, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    audit.record(trail(1), caller("key:before"), "Before")
    audit.record(trail(2), caller(f"jwt:{SECRET_SUB}\x00x"), "Op\x00")
    audit.record(trail(3), caller("key:after"), "O" * 300)
    await audit.flush()
    rows = await written(db)
    assert [(s, c) for s, c, _ in rows] == [
        ("key:before", 1),
        (f"jwt:{SECRET_SUB}\ufffdx", 2),
        ("key:after", 3),
    ]
    assert rows[1][2] == "Op\ufffd"
    assert len(rows[2][2] or "") == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_entry_the_database_refuses_loses_only_itself_with_a_coded_line(
    db: Services, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    audit.record(trail(1), caller("key:before"), "Before")
    audit.record(trail(2**63), caller(f"jwt:{SECRET_SUB}"), "Unstorable")
    audit.record(trail(3), caller("key:after"), "After")
    await audit.flush()
    assert [(s, c) for s, c, _ in await written(db)] == [
        ("key:before", 1),
        ("key:after", 3),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("AUDIT_ENTRIES_REFUSED"), lines
    assert "1 of 3" in lines[0], lines
    assert SECRET_SUB not in lines[0], lines
    assert "Unstorable" not in lines[0], lines


async def test_scattered_refused_entries_of_a_large_batch_are_found_in_few_writes(
    db: Services, audit: AuditLog, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {17, 500, 501, 999}
    for n in range(1000):
        audit.record(trail(2**63 if n in bad else n + 1), caller("key:k"), "Op")
    writes = 0
    insert = audit._insert

    async def counted(rows: list[dict[str, object]]) -> None:
        nonlocal writes
        writes += 1
        await insert(rows)

    audit._insert = counted  # type: ignore[method-assign]
    await audit.flush()
    stored = [c for _, c, _ in await written(db)]
    assert stored == [n + 1 for n in range(1000) if n not in bad]
    assert writes < 100, writes  # one by one: 1,001
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert lines[0].startswith("AUDIT_ENTRIES_REFUSED: 4 of 1000"), lines


async def test_a_busy_seconds_entries_are_written_a_chunk_at_a_time(
    db: Services, audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encoding tens of thousands of entries at once held the event loop past
    Redis's 100 ms timeout (a warm page's hits record 50 each): they go in
    ``WRITE_CHUNK`` at a time, the loop free between chunks, one transaction."""
    sent: list[int] = []
    executemany = audit_module._executemany
    copy = asyncpg.Connection.copy_records_to_table

    def counted(dialect: Any, rows: list[dict[str, object]]) -> Any:
        sent.append(len(rows))
        return executemany(dialect, rows)

    async def copied(self: Any, table: str, **options: Any) -> Any:
        sent.append(len(options["records"]))
        return await copy(self, table, **options)

    monkeypatch.setattr(audit_module, "_executemany", counted)
    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", copied)
    entries = 2 * audit_module.WRITE_CHUNK + 500
    for n in range(entries):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    await audit.flush()
    assert sent == [audit_module.WRITE_CHUNK] * 2 + [500]
    assert len(await written(db)) == entries


async def test_entries_waiting_to_be_written_are_plain_values_the_collector_leaves_alone(
    db: Services, audit: AuditLog
) -> None:
    """A warm worker buffers a second's entries (tens of thousands: a page hit
    records 50) until the write: as containers of their own they were
    scanned by every collection until then."""
    for n in range(100):
        page = AuditTrail()
        page.replay({'["displayName","email"]': [50 * n + c for c in range(1, 51)]})
        audit.record(page, caller("key:k"), "CustomerPage")
    gc.collect()
    waiting = audit._rows
    assert len(waiting) == 5_000
    assert not [entry for entry in waiting if gc.is_tracked(entry)]
    await audit.flush()
    async with db.sessions() as session:
        first = await session.scalar(
            select(AuditEntry).where(AuditEntry.customer_id == 1)
        )
    assert first is not None
    assert (first.subject, first.role, first.action, first.operation) == (
        "key:k",
        "support",
        "read",
        "CustomerPage",
    )
    assert first.fields == ["displayName", "email"]


async def test_an_exports_entries_name_each_customers_own_fields(
    db: Services, audit: AuditLog
) -> None:
    """``record_reads`` encodes each distinct list of names once, by its
    identity: lists made one by one (a generator's) and freed as it goes
    must not be taken for one another."""
    shown = [["email"], ["phone"], ["email", "phone"]]
    audit.record_reads(
        caller("cli:k"),
        "segmentExport",
        ((n, list(shown[n % 3])) for n in range(1, 301)),
    )
    await audit.flush()
    async with db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.customer_id, AuditEntry.fields).order_by(AuditEntry.id)
        )
        found = [(cid, fields) for cid, fields in rows]
    assert found == [(n, shown[n % 3]) for n in range(1, 301)]


async def test_a_database_that_cannot_be_written_stops_the_entry_by_entry_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    down = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    audit = AuditLog(async_sessionmaker(down), interval=3600)
    for n in range(50):
        audit.record(trail(n + 1), caller(f"key:k{n}"), "Op")
    await audit.flush()
    await down.dispose()
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("AUDIT_WRITE_FAILED"), lines
    assert "50" in lines[0], lines


async def test_a_backlog_is_written_a_transaction_per_batch_in_order(
    db: Services, audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seconds of entries in one transaction held SQLite's one writer as
    long: a mutation waited 11.8 s behind them. A transaction per
    ``WRITE_BATCH``, each taken from the buffer as it goes."""
    monkeypatch.setattr(audit_module, "WRITE_BATCH", 3)
    insert = audit._insert
    batches: list[int] = []

    async def counted(rows: list[Any]) -> None:
        batches.append(len(rows))
        assert audit.held == len(rows) + 7 - sum(batches)  # the rest still held
        await insert(rows)

    monkeypatch.setattr(audit, "_insert", counted)
    for n in range(7):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    await audit.flush()
    assert batches == [3, 3, 1]
    assert [c for _, c, _ in await written(db)] == list(range(1, 8))
    assert audit.held == 0


async def test_a_database_that_fails_mid_backlog_loses_the_rest_in_one_line(
    db: Services,
    audit: AuditLog,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second batch meets a database that cannot be written: it and the
    batch after it are lost in one coded line; the first stays written, and
    an entry recorded meanwhile waits for the next write."""
    monkeypatch.setattr(audit_module, "WRITE_BATCH", 3)
    insert = audit._insert
    calls = 0

    async def failing(rows: list[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await insert(rows)
            return
        audit.record(trail(99), caller("key:late"), "Op")
        raise ConnectionRefusedError("the database went away")

    monkeypatch.setattr(audit, "_insert", failing)
    for n in range(8):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    await audit.flush()
    assert [c for _, c, _ in await written(db)] == [1, 2, 3]
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("AUDIT_WRITE_FAILED: 5 of 8 audit entries lost"), lines
    assert calls == 2  # the batch after it not tried
    assert audit.held == 1  # the late entry, for the next write
    assert not audit.full  # the database failing: nobody waits for it


async def test_refused_entries_of_several_batches_are_logged_once(
    db: Services,
    audit: AuditLog,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A write of many transactions says what it could not store in one
    line, not one per transaction."""
    monkeypatch.setattr(audit_module, "WRITE_BATCH", 3)
    bad = {1, 5}
    for n in range(7):
        audit.record(trail(2**63 if n in bad else n + 1), caller("key:k"), "Op")
    await audit.flush()
    assert [c for _, c, _ in await written(db)] == [1, 3, 4, 5, 7]
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("AUDIT_ENTRIES_REFUSED: 2 of 7"), lines


async def test_a_producer_asking_for_room_waits_while_the_audit_is_full(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``limit`` held entries, ``room`` starts a write at once (not a
    second later) and returns when a batch of it brought them under."""
    monkeypatch.setattr(audit_module, "WRITE_BATCH", 2)
    audit = AuditLog(db.sessions, interval=3600, limit=4)
    writing, go_on = await gated_inserts(audit, monkeypatch)
    for n in range(3):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    assert not audit.full
    await audit.room()  # under the limit: at once, nothing written
    assert not writing.is_set()
    for n in range(3, 5):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    assert audit.full
    waiting = asyncio.ensure_future(audit.room())
    try:
        await asyncio.wait_for(writing.wait(), 5)  # not the hour's interval
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
    finally:
        go_on.set()
    await asyncio.wait_for(waiting, 5)
    assert not audit.full
    await audit.aclose()
    assert [c for _, c, _ in await written(db)] == [1, 2, 3, 4, 5]


async def test_a_database_that_accepts_no_write_delays_answers_and_stops_none(
    db: Services,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A transaction that hangs (a held lock, a connection gone silent):
    ``room`` gives up after ``ROOM_WAIT`` with one coded line for every
    producer that waited meanwhile, and the answers go."""
    monkeypatch.setattr(audit_module, "ROOM_WAIT", 0.05)
    audit = AuditLog(db.sessions, interval=3600, limit=2)
    writing, go_on = await gated_inserts(audit, monkeypatch)
    for n in range(3):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    try:
        waiters = [asyncio.ensure_future(audit.room()) for _ in range(3)]
        await asyncio.wait_for(asyncio.gather(*waiters), 5)
        assert writing.is_set()
    finally:
        go_on.set()
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("AUDIT_BACKLOG: 3 audit entries unwritten"), lines
    await audit.aclose()
    assert len(await written(db)) == 3


async def test_an_export_waiting_for_the_audit_cuts_no_write_when_it_leaves(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``keep_under`` waits for the timer's write rather than writing in
    its caller's task: a client that leaves mid-export (its task cancelled)
    cancels no transaction, and no entry is lost."""
    audit = AuditLog(db.sessions, interval=3600)
    writing, go_on = await gated_inserts(audit, monkeypatch)
    for n in range(4):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    export = asyncio.ensure_future(audit.keep_under(2))
    try:
        await asyncio.wait_for(writing.wait(), 5)
        export.cancel()
        with pytest.raises(asyncio.CancelledError):
            await export
    finally:
        go_on.set()
    await audit.aclose()
    assert [c for _, c, _ in await written(db)] == [1, 2, 3, 4]


async def test_an_export_goes_on_once_its_own_entries_are_written_however_busy(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Others recording as fast as the audit writes keep the entries held
    above the export's threshold: it waits for those recorded before it
    only, not for the level to fall."""
    monkeypatch.setattr(audit_module, "WRITE_BATCH", 2)
    audit = AuditLog(db.sessions, interval=3600)
    insert = audit._insert
    recorded = 4

    async def busy(rows: list[Any]) -> None:
        nonlocal recorded
        for _ in range(3):  # traffic: more recorded than each write takes
            if recorded < 40:
                recorded += 1
                audit.record(trail(recorded), caller("key:busy"), "Op")
        await insert(rows)

    monkeypatch.setattr(audit, "_insert", busy)
    for n in range(4):
        audit.record(trail(n + 1), caller("key:k"), "Op")
    await asyncio.wait_for(audit.keep_under(2), 5)
    stored = [c for _, c, _ in await written(db)]
    assert stored[:4] == [1, 2, 3, 4]
    assert len(stored) < 10  # its own, not everyone's since
    monkeypatch.setattr(audit, "_insert", insert)  # the traffic over
    await audit.aclose()
    assert [c for _, c, _ in await written(db)] == list(range(1, recorded + 1))
