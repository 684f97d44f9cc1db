"""CRM data kept by us: addresses, identities, notes, consents, loyalty,
preferences — their types and the mutations that change them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.db import models
from gateway.resolvers import crm as resolve

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum
class AddressKind(enum.Enum):
    SHIPPING = "shipping"
    BILLING = "billing"


@strawberry.enum
class ConsentChannel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"


@strawberry.enum
class ConsentState(enum.Enum):
    GRANTED = "granted"
    DENIED = "denied"
    PENDING = "pending"


@strawberry.type
class Address:
    kind: AddressKind
    line1: str | None = pii_field(PiiKind.STREET)
    line2: str | None = pii_field(PiiKind.STREET)
    city: str | None
    region: str | None
    postcode: str | None = pii_field(PiiKind.STREET)
    country: str
    is_default: bool
    customer_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Address) -> Address:
        return cls(
            kind=AddressKind(row.kind),
            line1=row.line1,
            line2=row.line2,
            city=row.city,
            region=row.region,
            postcode=row.postcode,
            country=row.country,
            is_default=row.is_default,
            customer_id=row.customer_id,
        )


@strawberry.input
class AddressInput:
    kind: AddressKind
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. DE.")
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    is_default: bool = False


@strawberry.type
class Identity:
    """This customer's id in an upstream (``shopify``, ``zendesk``, ``posthog``…)."""

    source: str
    external_id: str
    linked_by: str = strawberry.field(description="manual, email, phone or webhook.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: models.Identity) -> Identity:
        return cls(
            source=row.source,
            external_id=row.external_id,
            linked_by=row.linked_by,
            created_at=row.created_at,
        )


@strawberry.type
class Note(relay.Node):
    """``author`` is who wrote it (``key:<name>``, ``jwt:<sub>``): a colleague,
    not the customer, so it is shown to every role that may see the note."""

    id: relay.NodeID[int]
    author: str
    body: str | None = pii_field(
        PiiKind.NOTE, description="Null where the caller's role may not see notes."
    )
    created_at: datetime
    customer_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Note) -> Note:
        return cls(
            id=row.id,
            author=row.author,
            body=row.body,
            created_at=row.created_at,
            customer_id=row.customer_id,
        )


@strawberry.type
class NoteEdge:
    cursor: str
    node: Note


@strawberry.type
class NoteConnection:
    edges: list[NoteEdge]
    page_info: relay.PageInfo


@strawberry.type
class Consent:
    channel: ConsentChannel
    state: ConsentState
    source: str
    changed_at: datetime

    @classmethod
    def from_row(cls, row: models.Consent) -> Consent:
        return cls(
            channel=ConsentChannel(row.channel),
            state=ConsentState(row.state),
            source=row.source,
            changed_at=row.changed_at,
        )


@strawberry.type
class LoyaltyEntry:
    points: int
    reason: str
    created_at: datetime


@strawberry.type
class Preference:
    key: str
    value: str


CustomerRef = Annotated["Customer", strawberry.lazy("gateway.schema.customer")]


def _customer(row: models.Customer) -> Customer:
    from gateway.schema.customer import Customer

    return Customer.from_row(row)


@strawberry.type
class CrmMutation:
    @strawberry.mutation(
        description="Add a note to a customer; the author is the caller."
    )
    async def add_note(self, info: Info, customer_id: strawberry.ID, body: str) -> Note:
        return Note.from_row(await resolve.add_note(info, customer_id, body))

    @strawberry.mutation(description="Add tags (lower-cased; existing ones are kept).")
    async def tag_customer(
        self, info: Info, customer_id: strawberry.ID, tags: list[str]
    ) -> CustomerRef:
        return _customer(await resolve.tag_customer(info, customer_id, tags, add=True))

    @strawberry.mutation(
        description="Remove tags; tags the customer lacks are ignored."
    )
    async def untag_customer(
        self, info: Info, customer_id: strawberry.ID, tags: list[str]
    ) -> CustomerRef:
        return _customer(await resolve.tag_customer(info, customer_id, tags, add=False))

    @strawberry.mutation(description="Record the customer's consent for a channel.")
    async def set_consent(
        self,
        info: Info,
        customer_id: strawberry.ID,
        channel: ConsentChannel,
        state: ConsentState,
        source: str = "api",
    ) -> Consent:
        row = await resolve.set_consent(
            info, customer_id, channel.value, state.value, source
        )
        return Consent.from_row(row)

    @strawberry.mutation(
        description="Credit (positive) or redeem (negative) loyalty points."
    )
    async def add_loyalty_points(
        self, info: Info, customer_id: strawberry.ID, points: int, reason: str
    ) -> LoyaltyEntry:
        row = await resolve.add_loyalty_points(info, customer_id, points, reason)
        return LoyaltyEntry(
            points=row.points, reason=row.reason, created_at=row.created_at
        )
