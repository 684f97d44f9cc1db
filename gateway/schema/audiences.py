"""Audiences: saved segments kept subscribed to Klaviyo lists
(docs/audiences.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.audiences.connections import Connection
from gateway.resolvers import audiences as resolve
from gateway.resolvers.context import Info


@strawberry.type(
    description="A saved segment kept subscribed to a Klaviyo list: its members"
    " with email consent granted are subscribed, those who leave the segment are"
    " taken off the list, those who withdraw consent are unsubscribed, at each"
    " sync (after every insights refresh; `customer-graph audiences sync`)."
)
class AudienceConnection:
    segment: str = strawberry.field(description="The saved segment's name.")
    list_id: str = strawberry.field(description="The Klaviyo list's id.")
    list_name: str = strawberry.field(
        description="The list's name in Klaviyo when it was connected."
    )
    created_at: datetime = strawberry.field(description="When it was connected (UTC).")
    synced_at: datetime | None = strawberry.field(
        description="When a sync last finished (UTC); null when none has yet."
    )
    subscribed: int = strawberry.field(
        description="Customers the sync subscribed to the list and still keeps there."
    )
    removed: int = strawberry.field(
        description="Customers taken off the list after leaving the segment."
    )
    unsubscribed: int = strawberry.field(
        description="Customers unsubscribed after withdrawing email consent."
    )

    @classmethod
    def from_connection(cls, found: Connection) -> AudienceConnection:
        return cls(
            segment=found.segment,
            list_id=found.list_id,
            list_name=found.list_name,
            created_at=found.created_at,
            synced_at=found.synced_at,
            subscribed=found.subscribed,
            removed=found.removed,
            unsubscribed=found.unsubscribed,
        )


@strawberry.type
class AudienceQuery:
    @strawberry.field(
        description="Every segment connected to a Klaviyo list, by segment name,"
        " with its members by state."
    )
    async def audience_connections(self, info: Info) -> list[AudienceConnection]:
        return [
            AudienceConnection.from_connection(c)
            for c in await resolve.connections(info)
        ]


@strawberry.type
class AudienceMutation:
    @strawberry.mutation(
        description="Keep a saved segment subscribed to a Klaviyo list; its members"
        " are sent at the next sync. NOT_FOUND for an unknown segment,"
        " BAD_USER_INPUT (field listId) for a list Klaviyo does not have, CONFLICT"
        " when already connected, NOT_CONFIGURED without CG_KLAVIYO_API_KEY."
        " Admin and marketing only."
    )
    async def connect_segment_to_list(
        self, info: Info, segment: str, list_id: str
    ) -> AudienceConnection:
        return AudienceConnection.from_connection(
            await resolve.connect(info, segment, list_id)
        )

    @strawberry.mutation(
        description="Stop keeping a segment subscribed to a list, and forget what"
        " was synced; the profiles already on the list stay there. NOT_FOUND when"
        " not connected. Admin and marketing only."
    )
    async def disconnect_segment_from_list(
        self, info: Info, segment: str, list_id: str
    ) -> bool:
        return await resolve.disconnect(info, segment, list_id)
