"""Retention on both backends: per table, rows past it go and younger ones
stay (received webhooks' claims never before their floor, outbound messages
only once every delivery is finished, privacy requests emptied, not deleted);
a backlog goes in statements of bounded rows; retention off keeps all; the
hourly job and ``customer-graph purge [--dry-run]`` run the same purge."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.db.auth_models import AuditEntry
from gateway.db.models import (
    PostHogEvent,
    PrivacyRequest,
    TrackedEvent,
    WebhookDelivery,
    utcnow,
)
from gateway.jobs.deferral import Job, defer_with
from gateway.jobs.worker import drain
from gateway.outbound.tables import (
    OutboundAttempt,
    OutboundDelivery,
    OutboundEndpoint,
    OutboundMessage,
)
from gateway.retention import tasks
from gateway.retention.purge import purge
from gateway.runtime.services import Services
from gateway.settings import Settings
from tests.conftest import StatementCounter

NOW = utcnow()
OLD = NOW - timedelta(days=100)
YOUNG = NOW - timedelta(hours=12)
ON = {
    "retention_tracked_events_days": 30,
    "retention_posthog_events_days": 90,
    "retention_audit_days": 30,
    "retention_webhook_payloads_days": 1,
}
OFF = dict.fromkeys(ON, 0)

PURGED_WHEN_ON = {
    "tracked_events": 1,
    "posthog_events": 1,
    "audit_log": 1,
    "webhook_deliveries": 1,  # the 100-day claim; 2 days is within the floor
    "privacy_requests.export": 1,  # the finished one; the pending one waits
    "outbound_attempts": 1,  # the delivered delivery's, not the failed one's
    "outbound_deliveries": 1,
    "outbound_messages": 1,  # the old one whose deliveries are all finished
}
LEFT_WHEN_ON = {
    TrackedEvent: 1,
    PostHogEvent: 1,
    AuditEntry: 1,
    WebhookDelivery: 2,
    PrivacyRequest: 3,
    OutboundAttempt: 2,
    OutboundDelivery: 2,
    OutboundMessage: 2,
}


def configured(services: Services, values: dict[str, int]) -> Settings:
    return services.settings.model_copy(update=values)


async def seed(services: Services) -> None:
    """An old and a young row in each table (and the cases between)."""
    async with services.sessions.begin() as session:
        for n, when in enumerate((OLD, YOUNG)):
            session.add_all(
                [
                    TrackedEvent(message_id=f"m{n}", type="track", occurred_at=when),
                    PostHogEvent(
                        uuid=f"u{n}",
                        distinct_id="d",
                        event="$pageview",
                        occurred_at=when,
                        via="destination",
                    ),
                    AuditEntry(at=when, subject="s", role="admin", action="read"),
                    WebhookDelivery(
                        source="shopify",
                        delivery_id=f"w{n}",
                        topic="t",
                        received_at=when,
                    ),
                ]
            )
        session.add(
            WebhookDelivery(
                source="shopify",
                delivery_id="within-floor",
                topic="t",
                received_at=NOW - timedelta(days=2),
            )
        )
        for completed in (OLD, YOUNG, None):
            session.add(
                PrivacyRequest(
                    source="api",
                    kind="export",
                    status="pending" if completed is None else "done",
                    export={"local": {"customer": {"id": 1}}},
                    received_at=OLD,
                    completed_at=completed,
                )
            )
        endpoint = OutboundEndpoint(url="https://e.test", event_types=[], secret="s")
        session.add(endpoint)
        for n, (created, status) in enumerate(
            [(OLD, "delivered"), (OLD, "failed"), (YOUNG, "delivered")]
        ):
            message = OutboundMessage(
                msg_id=f"msg_{n}", event_type="t", body="{}", created_at=created
            )
            session.add(message)
            await session.flush()
            delivery = OutboundDelivery(
                message_id=message.id, endpoint_id=endpoint.id, status=status
            )
            session.add(delivery)
            await session.flush()
            session.add(
                OutboundAttempt(
                    delivery_id=delivery.id,
                    attempted_at=created,
                    outcome=status,
                    duration_ms=1,
                )
            )


async def counts(services: Services) -> dict[type, int]:
    async with services.sessions() as session:
        return {
            table: int(
                await session.scalar(select(func.count()).select_from(table)) or 0
            )
            for table in LEFT_WHEN_ON
        }


async def dropped_exports(services: Services) -> int:
    async with services.sessions() as session:
        exports = await session.scalars(select(PrivacyRequest.export))
        return sum(e is None for e in exports)


@pytest.mark.parametrize(
    ("values", "purged", "left"),
    [
        (ON, PURGED_WHEN_ON, LEFT_WHEN_ON),
        (OFF, dict.fromkeys(PURGED_WHEN_ON, 0), None),
    ],
    ids=["on", "off"],
)
async def test_rows_past_retention_go_and_the_rest_stay_per_table(
    db: Services,
    values: dict[str, int],
    purged: dict[str, int],
    left: dict[type, int] | None,
) -> None:
    await seed(db)
    before = await counts(db)
    report = await purge(db.sessions, configured(db, values), now=NOW)
    assert {p.name: p.rows for p in report} == purged
    assert await counts(db) == (left or before)
    assert await dropped_exports(db) == purged["privacy_requests.export"]
    again = await purge(db.sessions, configured(db, values), now=NOW)
    assert all(p.rows == 0 for p in again)


async def test_a_backlog_goes_in_statements_of_bounded_rows(
    db: Services, sql: StatementCounter
) -> None:
    async with db.sessions.begin() as session:
        session.add_all(
            AuditEntry(at=OLD, subject="s", role="admin", action="read")
            for _ in range(5)
        )
    sql.reset()
    settings = configured(db, {"retention_audit_days": 30})
    report = await purge(db.sessions, settings, now=NOW, batch_rows=2)
    deletes = [s for s in sql.statements if s.lstrip().upper().startswith("DELETE")]
    assert [p.rows for p in report if p.name == "audit_log"] == [5]
    assert len(deletes) == 3  # 2 + 2 + 1: the last batch, short, ends it
    assert all("LIMIT" in s.upper() for s in deletes)


async def test_the_hourly_job_purges(jobs_db: Services) -> None:
    await seed(jobs_db)
    wired = dataclasses.replace(jobs_db, settings=configured(jobs_db, ON))
    async with jobs_db.sessions.begin() as session:
        await defer_with(
            session, jobs_db.jobs, "retention:purge", [Job({"timestamp": 0})]
        )
    await drain(jobs_db.jobs, wired.settings, wired, {tasks.NAMESPACE: tasks.blueprint})
    assert await counts(jobs_db) == LEFT_WHEN_ON


async def test_the_command_prints_counts_per_table_and_a_dry_run_changes_nothing(
    db: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(db)
    monkeypatch.setenv("CG_DATABASE_URL", db.settings.database_url)
    for name, value in ON.items():
        monkeypatch.setenv(f"CG_{name.upper()}", str(value))
    runner = CliRunner()
    before = await counts(db)
    dry = await asyncio.to_thread(runner.invoke, app, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    assert await counts(db) == before
    done = await asyncio.to_thread(runner.invoke, app, ["purge"])
    assert done.exit_code == 0, done.output
    assert printed(dry.output) == printed(done.output) == PURGED_WHEN_ON
    assert await counts(db) == LEFT_WHEN_ON


def printed(output: str) -> dict[str, int]:
    """The command's table as {table: rows} (``│ name │ kept │ rows │``)."""
    cells = [line.strip("│ ").split("│") for line in output.splitlines()]
    return {
        row[0].strip(): int(row[-1].replace(",", ""))
        for row in cells
        if len(row) == 3 and row[0].strip() in PURGED_WHEN_ON
    }
