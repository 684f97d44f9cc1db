"""``Audiences``: what the rest of the gateway calls — connect, disconnect,
list the connections, sync them, and add one customer to a list (an
automation's action). ``audiences_for(services)`` builds it when Klaviyo is
configured (a cheap object: the sessions and the connector it uses live in
the services); ``None`` otherwise, and its callers answer ``NOT_CONFIGURED``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from connectors.errors import ConnectorError
from connectors.klaviyo.client import KlaviyoConnector
from gateway.audiences import connections
from gateway.audiences.connections import Connection, check_list_id, segment_named
from gateway.audiences.readback import ReadBackFailed
from gateway.audiences.sync import (
    Sessions,
    SyncReport,
    email_consent_granted,
    sync_connection,
)
from gateway.audiences.tables import AudienceConnection
from gateway.auth.policy import Role
from gateway.changes.bus import ChangeBus
from gateway.db import models
from gateway.errors import Forbidden, GatewayError, NotFound, describe
from gateway.insights.segment_filter import hidden_conditions
from gateway.runtime.services import Services

log = logging.getLogger("gateway.audiences")


class Added(StrEnum):
    SUBSCRIBED = "subscribed"
    """Sent to Klaviyo's bulk subscribe job for the list."""
    NO_CONSENT = "no_consent"
    """Nothing sent: the customer has not granted email consent."""


class Audiences:
    def __init__(
        self, sessions: Sessions, klaviyo: KlaviyoConnector, changes: ChangeBus
    ) -> None:
        self.sessions = sessions
        self.klaviyo = klaviyo
        self.changes = changes

    async def connect(self, segment: str, list_id: str, role: Role) -> Connection:
        """FORBIDDEN to a role that may not read the segment's members (its
        filter compares what the role does not see in full): the list would
        copy them out."""
        check_list_id(list_id)
        async with self.sessions() as session:
            saved = await segment_named(session, segment)
        if hidden := hidden_conditions(role, saved.filter):
            raise Forbidden(
                f"The {role} role may not connect a segment that filters by"
                f" {', '.join(hidden)}: it does not see them in full.",
                argument=hidden[0],
            )
        found = await self.klaviyo.get_list(list_id)
        async with self.sessions.begin() as session:
            row = await connections.connect(session, segment, found, list_id)
            connection_id = row.id
        return await self._connection(connection_id)

    async def disconnect(self, segment: str, list_id: str) -> None:
        check_list_id(list_id)
        async with self.sessions.begin() as session:
            await connections.disconnect(session, segment, list_id)

    async def _connection(self, connection_id: int) -> Connection:
        async with self.sessions() as session:
            found = await connections.all_connections(session)
        return next(c for c in found if c.id == connection_id)

    async def sync(self, connection_id: int, now: datetime | None = None) -> SyncReport:
        return await sync_connection(
            self.sessions,
            self.klaviyo,
            self.changes,
            connection_id,
            now or datetime.now(UTC),
        )

    async def sync_all(self, now: datetime | None = None) -> dict[int, SyncReport]:
        """Every connection in turn; one that fails is logged, reported with
        its ``failure`` and retried at the next sync, the others go on."""
        async with self.sessions() as session:
            ids = list(await session.scalars(select(AudienceConnection.id)))
        reports: dict[int, SyncReport] = {}
        for connection_id in ids:
            try:
                reports[connection_id] = await self.sync(connection_id, now)
            except (ReadBackFailed, ConnectorError, GatewayError) as exc:
                failure = _failure(exc)
                log.warning(
                    "audience sync of connection %s failed: %s (%s)",
                    connection_id,
                    failure,
                    describe(exc),
                )
                reports[connection_id] = SyncReport(failure=failure)
        return reports

    async def add_to_list(
        self,
        customer_id: int,
        list_id: str,
        properties: Mapping[str, object] | None = None,
    ) -> Added:
        """Subscribe one customer to a list — only with email consent granted,
        by the CRM's address; ``properties`` (a promo code) are set on the
        profile first."""
        check_list_id(list_id)
        customer = models.Customer
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(customer.email, email_consent_granted()).where(
                        customer.id == customer_id
                    )
                )
            ).first()
        if row is None:
            raise NotFound("No customer has this id.", field="customerId")
        email, granted = row
        if not granted:
            return Added.NO_CONSENT
        if properties:
            await self.klaviyo.upsert_profile(email, properties=properties)
        await self.klaviyo.subscribe(list_id, [email])
        return Added.SUBSCRIBED


def _failure(exc: Exception) -> str:
    """What stopped a sync, in words fit for a log line and a terminal: no
    upstream message, no address."""
    if isinstance(exc, ReadBackFailed):
        cause = exc.__cause__
        code = cause.code if isinstance(cause, ConnectorError) else "error"
        return f"reading consent back from Klaviyo failed ({code}): nothing changed"
    if isinstance(exc, ConnectorError):
        return f"Klaviyo failed ({exc.code}): what it accepted is recorded"
    assert isinstance(exc, GatewayError)
    return exc.message


async def all_connections(sessions: Sessions) -> list[Connection]:
    """The connections with their counts (no Klaviyo call: readable when
    Klaviyo is not configured any more)."""
    async with sessions() as session:
        return await connections.all_connections(session)


def audiences_for(services: Services) -> Audiences | None:
    klaviyo = services.upstreams.klaviyo
    if klaviyo is None:
        return None
    return Audiences(services.sessions, klaviyo, services.changes)


async def sync_after_refresh(services: Services) -> None:
    """The scheduled sync: every connection, after each insights refresh
    (which runs one at a time across replicas), when Klaviyo is configured."""
    audiences = audiences_for(services)
    if audiences is not None:
        await audiences.sync_all()
