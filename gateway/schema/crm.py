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
from gateway.db import models
from gateway.db.rows import AddressRow, ConsentRow, CustomerRecord
from gateway.resolvers import crm as resolve
from gateway.resolvers.context import Info
from gateway.resolvers.identity import Explanation
from gateway.schema.connections import Connection
from gateway.schema.descriptions import describe_values, role_null

if TYPE_CHECKING:
    from gateway.schema.customer import Customer


@strawberry.enum(description="What an address is used for.")
class AddressKind(enum.Enum):
    SHIPPING = "shipping"
    BILLING = "billing"


describe_values(
    AddressKind,
    {
        AddressKind.SHIPPING: "Where orders go.",
        AddressKind.BILLING: "Where invoices go.",
    },
)


@strawberry.enum(description="A channel we may contact the customer on.")
class ConsentChannel(enum.Enum):
    EMAIL = "email"
    SMS = "sms"


describe_values(
    ConsentChannel,
    {
        ConsentChannel.EMAIL: "Marketing email.",
        ConsentChannel.SMS: "Marketing text messages.",
    },
)


@strawberry.enum(description="Whether the customer agreed to be contacted.")
class ConsentState(enum.Enum):
    GRANTED = "granted"
    DENIED = "denied"
    PENDING = "pending"


describe_values(
    ConsentState,
    {
        ConsentState.GRANTED: "Agreed: may be contacted.",
        ConsentState.DENIED: "Refused: must not be.",
        ConsentState.PENDING: "Asked, not yet confirmed (double opt-in): must not be.",
    },
)


@strawberry.type(description="A postal address of the customer.")
class Address:
    kind: AddressKind = strawberry.field(description="Shipping or billing.")
    line1: str | None = pii_field(
        PiiKind.STREET,
        description="Street and number. Null when not recorded. "
        + role_null(PiiKind.STREET),
    )
    line2: str | None = pii_field(
        PiiKind.STREET,
        description="Flat, floor, c/o. Null when not recorded. "
        + role_null(PiiKind.STREET),
    )
    city: str | None = strawberry.field(description="Null when not recorded.")
    region: str | None = strawberry.field(
        description="State or province; null when not recorded."
    )
    postcode: str | None = pii_field(
        PiiKind.STREET,
        description="Null when not recorded. " + role_null(PiiKind.STREET),
    )
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. DE.")
    is_default: bool = strawberry.field(description="The default address of its kind.")
    customer_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Address | AddressRow) -> Address:
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


@strawberry.input(description="A postal address; `kind` and `country` required.")
class AddressInput:
    kind: AddressKind = strawberry.field(description="Shipping or billing.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. DE.")
    line1: str | None = strawberry.field(default=None, description="Street and number.")
    line2: str | None = strawberry.field(default=None, description="Flat, floor, c/o.")
    city: str | None = strawberry.field(default=None, description="City or town.")
    region: str | None = strawberry.field(
        default=None, description="State or province."
    )
    postcode: str | None = strawberry.field(default=None, description="Postal code.")
    is_default: bool = strawberry.field(
        default=False, description="Make it the default address of its kind."
    )


@strawberry.enum(description="What a rule may do by itself.")
class MatchStrength(enum.Enum):
    STRONG = strawberry.enum_value("strong", description="Links by itself.")
    WEAK = strawberry.enum_value("weak", description="Only suggests.")


@strawberry.type(description="Why a record was linked to the customer.")
class LinkExplanation:
    rule: str = strawberry.field(
        description="The rule that linked it: a `MatchRule`'s value (`email`,"
        " `phone`, `external_id`)."
    )
    strength: MatchStrength = strawberry.field(description="The rule's strength.")
    source: str = strawberry.field(description="The upstream whose record it is.")
    compared: str | None = pii_field(
        PiiKind.TEXT,
        description="The value compared (normalized; two values joined by ` = `"
        " when they differ in form). " + role_null(PiiKind.TEXT),
    )
    at: datetime = strawberry.field(description="When it was linked (UTC).")
    customer_id: strawberry.Private[int]

    @classmethod
    def of(cls, data: dict[str, object], customer_id: int) -> LinkExplanation:
        explanation = Explanation.from_json(data)
        return cls(
            customer_id=customer_id,
            rule=explanation.rule,
            strength=MatchStrength[explanation.strength.name],
            source=explanation.source,
            compared=" = ".join(dict.fromkeys(explanation.values)) or None,
            at=explanation.at,
        )


@strawberry.type(description="The customer's id in one upstream.")
class Identity:
    """This customer's id in an upstream (``shopify``, ``zendesk``, ``posthog``…)."""

    source: str = strawberry.field(
        description="The upstream: shopify, zendesk, posthog or ingest."
    )
    external_id: str | None = pii_field(
        PiiKind.EXTERNAL_ID,
        description="The customer's id there (a Shopify gid, a Zendesk user id, "
        "a Segment userId, which some senders make the email…). "
        + role_null(PiiKind.EXTERNAL_ID, "an email or phone masked, others shown"),
    )
    linked_by: str = strawberry.field(
        description="The rule that linked it (email, phone, external_id; identify"
        " or alias for a sender's userId); sync, manual or webhook for links"
        " older than the rules."
    )
    explanation: LinkExplanation | None = strawberry.field(
        description="Why it was linked: rule, strength, values compared, source"
        " and when. Null when the link was made before the rules were declared."
    )
    created_at: datetime = strawberry.field(description="When it was linked (UTC).")
    customer_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Identity) -> Identity:
        explained = row.explanation
        return cls(
            source=row.source,
            external_id=row.external_id,
            linked_by=row.linked_by,
            explanation=(
                LinkExplanation.of(explained, row.customer_id) if explained else None
            ),
            created_at=row.created_at,
            customer_id=row.customer_id,
        )


@strawberry.type(description="A note a colleague wrote about the customer.")
class Note(relay.Node):
    """``author`` is who wrote it (``key:<name>``, ``jwt:<sub>``): a colleague,
    not the customer, so it is shown to every role that may see the note."""

    id: relay.NodeID[int]
    author: str = strawberry.field(
        description="Who wrote it: `key:<name>` or `jwt:<sub>`."
    )
    body: str | None = pii_field(
        PiiKind.NOTE, description="The note's text. " + role_null(PiiKind.NOTE)
    )
    created_at: datetime = strawberry.field(description="When it was written (UTC).")
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


@strawberry.type(description="A page of notes, newest first.")
class NoteConnection(Connection[Note]):
    pass


@strawberry.type(description="The customer's current consent for one channel.")
class Consent:
    channel: ConsentChannel = strawberry.field(description="The channel.")
    state: ConsentState = strawberry.field(description="Granted, denied or pending.")
    source: str = strawberry.field(
        description='Who recorded it: setConsent\'s `source` ("api" by default)'
        " or the upstream it came from."
    )
    changed_at: datetime = strawberry.field(description="When it last changed (UTC).")

    @classmethod
    def from_row(cls, row: models.Consent | ConsentRow) -> Consent:
        return cls(
            channel=ConsentChannel(row.channel),
            state=ConsentState(row.state),
            source=row.source,
            changed_at=row.changed_at,
        )


@strawberry.type(description="One credit or redemption in the loyalty ledger.")
class LoyaltyEntry:
    points: int = strawberry.field(
        description="Positive: credited; negative: redeemed."
    )
    reason: str = strawberry.field(description="Why, as the writer gave it.")
    created_at: datetime = strawberry.field(description="When it was booked (UTC).")


@strawberry.type(description="A customer preference, e.g. newsletter language.")
class Preference:
    key: str = strawberry.field(description="The preference's name.")
    value: str = strawberry.field(description="Its value, as text.")


CustomerRef = Annotated["Customer", strawberry.lazy("gateway.schema.customer")]


def _customer(row: CustomerRecord) -> Customer:
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
