"""The Customer type, the customer list and the customer mutations."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry import relay

from gateway.auth.pii import Pii, pii_field
from gateway.auth.policy import PiiKind
from gateway.context import Info
from gateway.db import models
from gateway.db.customer_queries import (
    CustomerOrder,
    CustomerPageRequest,
    customer_cursor,
)
from gateway.resolvers import customer as resolve
from gateway.schema import activity as activity_fields
from gateway.schema import insights as insights_fields
from gateway.schema import orders as order_fields
from gateway.schema import support as support_fields
from gateway.schema import tasks as task_fields
from gateway.schema import timeline as timeline_fields
from gateway.schema.connections import page_info
from gateway.schema.crm import (
    Address,
    AddressInput,
    Consent,
    ConsentChannel,
    ConsentState,
    Identity,
    Note,
    NoteConnection,
    NoteEdge,
    Preference,
)


@strawberry.federation.type(keys=["id", "email"])
class Customer(relay.Node):
    id: relay.NodeID[int]
    email: str | None = pii_field(PiiKind.EMAIL, description="Normalized.")
    phone: str | None = pii_field(PiiKind.PHONE, description="E.164: +14155550123.")
    first_name: str | None = pii_field(PiiKind.NAME)
    last_name: str | None = pii_field(PiiKind.NAME)
    birth_date: date | None = pii_field(PiiKind.BIRTH_DATE)
    locale: str | None
    timezone: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.Customer) -> Customer:
        return cls(
            id=row.id,
            email=row.email,
            phone=row.phone,
            first_name=row.first_name,
            last_name=row.last_name,
            birth_date=row.birth_date,
            locale=row.locale,
            timezone=row.timezone,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @property
    def customer_id(self) -> int:
        """Whose personal data this is, for the audit (``gateway.auth.pii``)."""
        return self.id

    @classmethod
    async def resolve_reference(
        cls, info: Info, **representation: object
    ) -> Customer | None:
        """A router's ``{id}`` or ``{email}`` (``gateway.schema.federation``)."""
        row = await resolve.customer_reference(info, representation)
        return cls.from_row(row) if row else None

    @strawberry.field(
        extensions=[Pii(PiiKind.NAME, redacted=lambda c: f"Customer {c.id}")],
        description="The name, else (or where the role may not see names) "
        "a label that reveals nothing.",
    )
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or f"Customer {self.id}"

    @strawberry.field(extensions=[Pii(PiiKind.BIRTH_MONTH)], description="1–12.")
    def birth_month(self) -> int | None:
        return self.birth_date.month if self.birth_date else None

    @strawberry.field(extensions=[Pii(PiiKind.ADDRESS)])
    async def addresses(self, info: Info) -> list[Address] | None:
        return [Address.from_row(a) for a in await resolve.addresses(info, self.id)]

    @strawberry.field
    async def identities(self, info: Info) -> list[Identity]:
        return [Identity.from_row(i) for i in await resolve.identities(info, self.id)]

    @strawberry.field
    async def tags(self, info: Info) -> list[str]:
        return await resolve.tags(info, self.id)

    @strawberry.field
    async def consents(self, info: Info) -> list[Consent]:
        return [Consent.from_row(c) for c in await resolve.consents(info, self.id)]

    @strawberry.field
    async def preferences(self, info: Info) -> list[Preference]:
        rows = await resolve.preferences(info, self.id)
        return [Preference(key=p.key, value=p.value) for p in rows]

    @strawberry.field(description="Sum of the loyalty ledger.")
    async def loyalty_balance(self, info: Info) -> int:
        return await resolve.loyalty_balance(info, self.id)

    orders = strawberry.field(resolver=order_fields.customer_orders)
    returns = strawberry.field(resolver=order_fields.customer_returns)
    abandoned_checkouts = strawberry.field(
        resolver=order_fields.customer_abandoned_checkouts
    )
    shopify_customer = strawberry.field(resolver=order_fields.customer_shopify)
    tickets = strawberry.field(resolver=support_fields.customer_tickets)
    open_ticket_count = strawberry.field(
        resolver=support_fields.customer_open_ticket_count
    )
    satisfaction = strawberry.field(resolver=support_fields.customer_satisfaction)
    activity = strawberry.field(resolver=activity_fields.customer_activity)
    last_seen_at = strawberry.field(resolver=activity_fields.customer_last_seen_at)
    sessions_count = strawberry.field(resolver=activity_fields.customer_sessions_count)
    traits = strawberry.field(resolver=insights_fields.customer_traits)
    rfm = strawberry.field(resolver=insights_fields.customer_rfm)
    timeline = strawberry.field(resolver=timeline_fields.customer_timeline)
    tasks = strawberry.field(resolver=task_fields.customer_tasks)

    @strawberry.field(extensions=[Pii(PiiKind.NOTE)], description="Newest first.")
    async def notes(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> NoteConnection | None:
        page = await resolve.notes(info, self.id, first, after)
        edges = [
            NoteEdge(cursor=resolve.note_cursor(n), node=Note.from_row(n))
            for n in page.items
        ]
        return NoteConnection(
            edges=edges, page_info=page_info(edges, has_next=page.has_next)
        )


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: relay.PageInfo
    _count_key: strawberry.Private[CustomerPageRequest]

    @strawberry.field(description="Customers matching the search and filter.")
    async def total_count(self, info: Info) -> int:
        return await resolve.customer_count(info, self._count_key)


strawberry.enum(CustomerOrder, name="CustomerOrderBy")


@strawberry.input
class ConsentFilter:
    channel: ConsentChannel
    state: ConsentState | None = None


@strawberry.input(description="All given conditions must hold.")
class CustomerFilter:
    country: str | None = None
    region: str | None = None
    city: str | None = None
    tags_any: list[str] | None = strawberry.field(
        default=None, description="Has at least one of these tags."
    )
    consent: ConsentFilter | None = None
    birth_month: int | None = strawberry.field(default=None, description="1–12.")
    created_after: datetime | None = None
    created_before: datetime | None = None
    has_phone: bool | None = None


@strawberry.input
class CreateCustomerInput:
    email: str
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    locale: str | None = None
    timezone: str | None = None
    addresses: list[AddressInput] | None = None
    tags: list[str] | None = None


@strawberry.input(description="Only the fields given change; null clears one.")
class UpdateCustomerInput:
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    birth_date: date | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="One customer by global id or by email.")
    async def customer(
        self, info: Info, id: strawberry.ID | None = None, email: str | None = None
    ) -> Customer | None:
        row = await resolve.customer(info, id, email)
        return Customer.from_row(row) if row else None

    @strawberry.field(description="Customers, paginated by keyset cursors.")
    async def customers(
        self,
        info: Info,
        search: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder = CustomerOrder.CREATED_AT_DESC,
        first: int = 20,
        after: str | None = None,
    ) -> CustomerConnection:
        request = resolve.customer_page_request(search, filter, order_by, first, after)
        page = await resolve.customers(info, request)
        edges = [
            CustomerEdge(
                cursor=customer_cursor(row, order_by), node=Customer.from_row(row)
            )
            for row in page.items
        ]
        return CustomerConnection(
            edges=edges,
            page_info=page_info(edges, has_next=page.has_next),
            _count_key=request,
        )

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        row = await resolve.node(info, id)
        if isinstance(row, models.Customer):
            return Customer.from_row(row)
        if isinstance(row, models.Note):
            return Note.from_row(row)
        return None


@strawberry.type
class CustomerMutation:
    @strawberry.mutation
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> Customer:
        return Customer.from_row(await resolve.create_customer(info, input))

    @strawberry.mutation
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: UpdateCustomerInput
    ) -> Customer:
        return Customer.from_row(await resolve.update_customer(info, id, input))
