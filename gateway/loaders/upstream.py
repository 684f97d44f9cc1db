"""Loaders of upstream data: one connector call per batch.

Keys are external ids (a Shopify gid, a Zendesk user id, a PostHog distinct id);
``ExternalIdByCustomerLoader`` turns our customer ids into those, linking
unlinked customers on the way (``gateway.identity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import Connector
from connectors.models import (
    ActivityEvent,
    Checkout,
    ExternalCustomer,
    Order,
    Ticket,
    TicketComment,
)
from connectors.posthog.client import PostHogConnector
from connectors.shopify.client import ShopifyConnector
from connectors.zendesk.client import ZendeskConnector
from gateway.db import models
from gateway.identity import resolve_links

ACTIVITY_LIMIT = 100
"""Events read per person; ``activity`` pages within these."""


class ExternalIdByCustomerLoader(DataLoader[int, str | None]):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], connector: Connector
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.connector = connector

    async def batch_load_fn(self, customer_ids: Sequence[int]) -> list[str | None]:
        async with self.sessions() as session:
            customers = list(
                await session.scalars(
                    select(models.Customer).where(models.Customer.id.in_(customer_ids))
                )
            )
        links = await resolve_links(self.sessions, self.connector, customers)
        return [links.get(cid) for cid in customer_ids]


class ShopifyCustomerByIdLoader(DataLoader[str, ExternalCustomer | None]):
    def __init__(self, connector: ShopifyConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[ExternalCustomer | None]:
        return await self.connector.customers_by_ids(ids)


class OrdersByShopifyCustomerLoader(DataLoader[str, list[Order]]):
    def __init__(self, connector: ShopifyConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[list[Order]]:
        found = await self.connector.orders_by_customers(ids)
        return [found.get(i, []) for i in ids]


class CheckoutsByShopifyCustomerLoader(DataLoader[str, list[Checkout]]):
    def __init__(self, connector: ShopifyConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[list[Checkout]]:
        found = await self.connector.abandoned_checkouts_by_customers(ids)
        return [found.get(i, []) for i in ids]


class TicketsByZendeskUserLoader(DataLoader[str, list[Ticket]]):
    def __init__(self, connector: ZendeskConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[list[Ticket]]:
        found = await self.connector.tickets_by_requesters(ids)
        return [found.get(i, []) for i in ids]


class CommentsByTicketLoader(DataLoader[str, list[TicketComment]]):
    def __init__(self, connector: ZendeskConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[list[TicketComment]]:
        found = await self.connector.comments_by_tickets(ids)
        return [found.get(i, []) for i in ids]


class EventsByDistinctIdLoader(DataLoader[str, list[ActivityEvent]]):
    def __init__(self, connector: PostHogConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[list[ActivityEvent]]:
        found = await self.connector.events_by_persons(ids, limit=ACTIVITY_LIMIT)
        return [found.get(i, []) for i in ids]


class LastSeenByDistinctIdLoader(DataLoader[str, datetime | None]):
    def __init__(self, connector: PostHogConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[datetime | None]:
        found = await self.connector.last_seen_by_persons(ids)
        return [found.get(i) for i in ids]


class SessionsCountByDistinctIdLoader(DataLoader[str, int]):
    def __init__(self, connector: PostHogConnector) -> None:
        super().__init__()
        self.connector = connector

    async def batch_load_fn(self, ids: Sequence[str]) -> list[int]:
        found = await self.connector.sessions_count_by_persons(ids, days=30)
        return [found.get(i, 0) for i in ids]
