"""Endpoints' signing secrets are stored sealed under ``CG_SECRET_KEY``: the
database holds no secret that signs, deliveries still verify with the secret
the API showed, a rotated ``CG_SECRET_KEY`` with the old one in
``CG_PREVIOUS_SECRET_KEYS`` still opens them, and without it the attempt
fails (and is retried) without a word of the secret; the migration seals
what was stored in the clear."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.db.session import upgrade
from gateway.outbound.publish import publish
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundAttempt,
    OutboundDelivery,
    OutboundEndpoint,
)
from gateway.runtime.services import Services
from gateway.sealing import Sealer
from gateway.settings import Settings
from tests.integration.outbound.conftest import (
    Inbox,
    endpoint_for,
    eventually,
    worker,
)

pytestmark = pytest.mark.storage_independent

NEW_KEY = "rotated-" + "k7Qp" * 12


async def stored(services: Services) -> tuple[str, str | None]:
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(OutboundEndpoint.secret, OutboundEndpoint.previous_secret)
            )
        ).one()
    return row.secret, row.previous_secret


async def status(services: Services) -> str:
    async with services.sessions() as session:
        return str(await session.scalar(select(OutboundDelivery.status)))


def rekeyed(services: Services, *previous: str) -> Services:
    settings = services.settings.model_copy(
        update={
            "secret_key": SecretStr(NEW_KEY),
            "previous_secret_keys": [SecretStr(k) for k in previous],
        }
    )
    return dataclasses.replace(services, settings=settings)


async def test_the_database_holds_the_secret_sealed_and_deliveries_verify(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "sealed")
    [shown] = inbox.secrets["sealed"]
    secret, _ = await stored(outbound)
    assert shown.startswith("whsec_")
    assert shown not in secret
    assert not secret.startswith("whsec_")
    assert outbound.sealer.unseal(secret) == shown
    await publish(outbound, "customer.updated", {"id": 1})
    async with worker(outbound):
        await eventually(lambda: inbox.received)
    assert [r.verified for r in inbox.received] == [True]


async def test_a_rotated_secret_key_opens_what_the_previous_one_sealed(
    outbound: Services, inbox: Inbox
) -> None:
    await endpoint_for(outbound, inbox, "kept")
    old = outbound.settings.secret_key.get_secret_value()
    rotated = rekeyed(outbound, old)
    await publish(rotated, "customer.updated", {"id": 2})
    async with worker(rotated):
        await eventually(lambda: inbox.received)
    assert [r.verified for r in inbox.received] == [True]


async def test_a_secret_no_key_opens_fails_the_attempt_and_says_so_without_it(
    outbound: Services, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = await endpoint_for(outbound, inbox, "lost")
    [shown] = inbox.secrets["lost"]
    lost = rekeyed(outbound)  # the old key forgotten
    await publish(lost, "customer.updated", {"id": 3})

    async def failed() -> bool:
        done = (DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value)
        return await status(lost) in done  # retried at once here: dead soon

    async with worker(lost):
        await eventually(failed)
    assert inbox.received == []
    async with lost.sessions() as session:
        errors = await session.scalars(select(OutboundAttempt.error_class))
        assert set(errors) == {"SecretUnreadable"}
    unreadable = [r for r in caplog.records if "signing secret" in r.getMessage()]
    assert unreadable
    assert f"endpoint {endpoint}" in unreadable[0].getMessage()
    assert all(shown not in r.getMessage() for r in caplog.records)


async def test_the_migration_seals_secrets_stored_in_the_clear(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'clear.db'}"
    await asyncio.to_thread(upgrade, url, "0019")
    engine = create_async_engine(url)
    clear, previous = "whsec_" + "A" * 44, "whsec_" + "B" * 44
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO outbound_endpoints (url, event_types, secret,"
                " previous_secret, enabled, created_at) VALUES ('https://h.example/x',"
                " '[]', :s, :p, 1, '2026-12-01 00:00:00')"
            ),
            {"s": clear, "p": previous},
        )
    await asyncio.to_thread(upgrade, url)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT secret, previous_secret FROM outbound_endpoints")
            )
        ).one()
    await engine.dispose()
    sealer = Sealer.of(Settings())
    assert clear not in row.secret
    assert (sealer.unseal(row.secret), sealer.unseal(row.previous_secret)) == (
        clear,
        previous,
    )
