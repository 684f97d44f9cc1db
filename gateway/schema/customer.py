"""The Customer type, the customer list and the customer mutations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry import relay

from gateway.auth.pii import Pii, pii_field
from gateway.auth.policy import PiiKind
from gateway.db import models
from gateway.db.customer_queries import (
    CustomerFilterSpec,
    CustomerOrder,
    CustomerPageRequest,
    customer_cursor,
)
from gateway.db.rows import CustomerRecord, CustomerRow
from gateway.resolvers import activity as activity_reads
from gateway.resolvers import customer as resolve
from gateway.resolvers import orders as order_reads
from gateway.resolvers import support as support_reads
from gateway.resolvers.context import Info
from gateway.schema import activity as activity_fields
from gateway.schema import insights as insights_fields
from gateway.schema import orders as order_fields
from gateway.schema import promotions as promotion_fields
from gateway.schema import replenishment as replenishment_fields
from gateway.schema import support as support_fields
from gateway.schema import tasks as task_fields
from gateway.schema import timeline as timeline_fields
from gateway.schema.connections import Connection
from gateway.schema.crm import (
    Address,
    Consent,
    Identity,
    Note,
    NoteConnection,
    Preference,
)
from gateway.schema.customer_inputs import (
    CreateCustomerInput,
    CustomerFilter,
    UpdateCustomerInput,
)
from gateway.schema.descriptions import (
    describe_values,
    from_source,
    role_null,
    role_refused,
    scope_missing,
    search_by_role,
)
from gateway.schema.upstream_scope import FirstRead, upstream_field

ALL_TICKETS = FirstRead(support_reads.SOURCE, support_reads.all_tickets)
"""What ``openTicketCount`` and ``satisfaction`` read: begun once for both."""
SUMMARY = FirstRead(activity_reads.SOURCE, activity_reads.summary)
"""What ``lastSeenAt`` and ``sessionsCount`` read: begun once for both."""


@strawberry.federation.type(
    keys=["id", "email"],
    description="One person, joined across the shop, the help desk, web"
    " analytics and our own CRM. Fields from an upstream are null when the"
    " customer is not linked to it or it failed (see `errors`).",
)
class Customer(relay.Node):
    id: relay.NodeID[int]
    email: str | None = pii_field(
        PiiKind.EMAIL,
        description="Lower-cased. Null when none is recorded. "
        + role_null(PiiKind.EMAIL),
    )
    phone: str | None = pii_field(
        PiiKind.PHONE,
        description="E.164: +14155550123. Null when none is recorded. "
        + role_null(PiiKind.PHONE),
    )
    first_name: str | None = pii_field(
        PiiKind.NAME,
        description="Null when none is recorded. " + role_null(PiiKind.NAME),
    )
    last_name: str | None = pii_field(
        PiiKind.NAME,
        description="Null when none is recorded. " + role_null(PiiKind.NAME),
    )
    birth_date: date | None = pii_field(
        PiiKind.BIRTH_DATE,
        description="Null when none is recorded. " + role_null(PiiKind.BIRTH_DATE),
    )
    locale: str | None = strawberry.field(
        description='BCP 47 tag, e.g. "en-US"; null when none is recorded.'
    )
    timezone: str | None = strawberry.field(
        description='IANA zone, e.g. "Europe/Berlin"; null when none is recorded.'
    )
    created_at: datetime = strawberry.field(
        description="When we first recorded the customer (UTC)."
    )
    updated_at: datetime = strawberry.field(
        description="Last change to our own record (UTC)."
    )

    @classmethod
    def from_row(cls, row: CustomerRecord) -> Customer:
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

    @strawberry.field(
        extensions=[Pii(PiiKind.BIRTH_MONTH)],
        description="1–12. Null when no birth date is recorded. "
        + role_null(PiiKind.BIRTH_MONTH),
    )
    def birth_month(self) -> int | None:
        return self.birth_date.month if self.birth_date else None

    @strawberry.field(
        extensions=[Pii(PiiKind.ADDRESS)],
        description="Default addresses first; empty when none. "
        + role_null(PiiKind.ADDRESS),
    )
    async def addresses(self, info: Info) -> list[Address] | None:
        return [Address.from_row(a) for a in await resolve.addresses(info, self.id)]

    @strawberry.field(description="The customer's ids in each upstream, by source.")
    async def identities(self, info: Info) -> list[Identity]:
        return [Identity.from_row(i) for i in await resolve.identities(info, self.id)]

    @strawberry.field(description="Our tags, lower-cased, alphabetical.")
    async def tags(self, info: Info) -> list[str]:
        return await resolve.tags(info, self.id)

    @strawberry.field(description="The current consent per channel, by channel.")
    async def consents(self, info: Info) -> list[Consent]:
        return [Consent.from_row(c) for c in await resolve.consents(info, self.id)]

    @strawberry.field(description="Key/value preferences, by key.")
    async def preferences(self, info: Info) -> list[Preference]:
        rows = await resolve.preferences(info, self.id)
        return [Preference(key=p.key, value=p.value) for p in rows]

    @strawberry.field(description="Loyalty points: the sum of the ledger.")
    async def loyalty_balance(self, info: Info) -> int:
        return await resolve.loyalty_balance(info, self.id)

    orders = upstream_field(
        resolver=order_fields.customer_orders,
        starts=FirstRead(order_reads.SOURCE, order_reads.first_orders),
        description="Shopify orders, newest first; `first` at most"
        " CG_MAX_PAGE_SIZE (100 by default). " + from_source("Shopify"),
    )
    returns = upstream_field(
        resolver=order_fields.customer_returns,
        description="Returns of the recent orders (CG_SHOPIFY_ORDER_HISTORY),"
        " newest first. " + from_source("Shopify") + " " + scope_missing("Shopify"),
    )
    abandoned_checkouts = upstream_field(
        resolver=order_fields.customer_abandoned_checkouts,
        description="Checkouts left unpaid, newest first. " + from_source("Shopify"),
    )
    shopify_customer = upstream_field(
        resolver=order_fields.customer_shopify,
        description="The store's own record (lifetime spend, order count). "
        + from_source("Shopify"),
    )
    tickets = upstream_field(
        resolver=support_fields.customer_tickets,
        starts=FirstRead(support_reads.SOURCE, support_reads.first_tickets),
        description="Zendesk tickets the customer requested, newest first;"
        " `first` at most CG_MAX_PAGE_SIZE (100 by default). " + from_source("Zendesk"),
    )
    open_ticket_count = upstream_field(
        resolver=support_fields.customer_open_ticket_count,
        starts=ALL_TICKETS,
        description="Tickets in NEW, OPEN, PENDING or HOLD. " + from_source("Zendesk"),
    )
    satisfaction = upstream_field(
        resolver=support_fields.customer_satisfaction,
        starts=ALL_TICKETS,
        description="Ticket ratings summed up. " + from_source("Zendesk"),
    )
    activity = upstream_field(
        resolver=activity_fields.customer_activity,
        starts=FirstRead(activity_reads.SOURCE, activity_reads.first_activity),
        description="Web activity, newest first; `first` at most CG_MAX_PAGE_SIZE"
        " (100 by default). " + from_source("PostHog"),
    )
    last_seen_at = upstream_field(
        resolver=activity_fields.customer_last_seen_at,
        starts=SUMMARY,
        description="The latest web event (UTC); also null when PostHog has"
        " none. " + from_source("PostHog"),
    )
    sessions_count = upstream_field(
        resolver=activity_fields.customer_sessions_count,
        starts=SUMMARY,
        description="Distinct web sessions in the last 30 days. "
        + from_source("PostHog"),
    )
    traits = strawberry.field(
        resolver=insights_fields.customer_traits,
        description="Computed facts (lifetime value, favourite category…) as of"
        " `computedAt`; null when they were not computed yet for this customer.",
    )
    rfm = strawberry.field(
        resolver=insights_fields.customer_rfm,
        description="Recency/frequency/monetary scores as of `computedAt`; null"
        " when not computed yet or the customer has no order (cancelled ones do"
        " not count).",
    )
    replenishment = strawberry.field(
        resolver=replenishment_fields.customer_replenishment,
        description="Products (SKUs) the customer bought and when each runs out,"
        " the soonest first, those without a date last; `first` at most"
        " CG_MAX_PAGE_SIZE (100 by default). Computed by the insights refresh"
        " and the order webhooks (docs/segments.md, Replenishment).",
    )
    promo_codes = strawberry.field(
        resolver=promotion_fields.customer_promo_codes,
        description="Shopify discount codes made for the customer (createPromoCode,"
        " automations), newest first; `first` at most CG_MAX_PAGE_SIZE (100 by"
        " default).",
    )
    timeline = upstream_field(
        resolver=timeline_fields.customer_timeline,
        description="Everything that happened with the customer, newest first,"
        " from every source: 20 per page unless `first`/`last` (at most"
        " CG_MAX_PAGE_SIZE, 100 by default) says otherwise. Shopify's events"
        " are those of the customer's newest CG_SHOPIFY_ORDER_HISTORY (50 by"
        " default) orders: older orders are in `orders`, not here. A failed"
        " source leaves its events out and is named in `unavailableSources` and"
        " in `errors` (`extensions.source`).",
    )
    tasks = strawberry.field(
        resolver=task_fields.customer_tasks,
        description="The customer's tasks, newest first; `first` at most"
        " CG_MAX_PAGE_SIZE (100 by default).",
    )

    @strawberry.field(
        extensions=[Pii(PiiKind.NOTE)],
        description="Our notes, newest first; `first` at most CG_MAX_PAGE_SIZE"
        " (100 by default). " + role_null(PiiKind.NOTE),
    )
    async def notes(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> NoteConnection | None:
        page = await resolve.notes(info, self.id, first, after)
        return NoteConnection.build(
            page.items, resolve.note_cursor, Note.from_row, has_next=page.has_next
        )


@strawberry.type(description="A page of customers, in the order asked for.")
class CustomerConnection(Connection[Customer]):
    _count_key: strawberry.Private[CustomerPageRequest]

    @strawberry.field(description="Customers matching the search and filter.")
    async def total_count(self, info: Info) -> int:
        return await resolve.customer_count(info, self._count_key)


strawberry.enum(
    CustomerOrder, name="CustomerOrderBy", description="How `customers` is sorted."
)
describe_values(
    CustomerOrder,
    {
        CustomerOrder.CREATED_AT_DESC: "Newest first (the default).",
        CustomerOrder.CREATED_AT_ASC: "Oldest first.",
        CustomerOrder.LAST_NAME_ASC: "By last name, A–Z; customers without one"
        " last. " + role_refused(PiiKind.NAME),
        CustomerOrder.EMAIL_ASC: "By email, A–Z; customers without one last. "
        + role_refused(PiiKind.EMAIL),
    },
)


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        description="One customer by global id or by email (give one); null when"
        " none matches."
    )
    async def customer(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        email: Annotated[
            str | None,
            strawberry.argument(description="Any case. " + role_refused(PiiKind.EMAIL)),
        ] = None,
    ) -> Customer | None:
        row = await resolve.customer(info, id, email)
        return Customer.from_row(row) if row else None

    @strawberry.field(
        description="Customers, paginated by keyset cursors; `first` at most"
        " CG_MAX_PAGE_SIZE (100 by default)."
    )
    async def customers(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Part of an email or a name (case-insensitive), or a"
                " whole phone number. " + search_by_role()
            ),
        ] = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder = CustomerOrder.CREATED_AT_DESC,
        first: int = 20,
        after: str | None = None,
    ) -> CustomerConnection:
        spec = filter.spec() if filter is not None else CustomerFilterSpec()
        request = resolve.customer_page_request(
            info, search, spec, order_by, first, after
        )
        page = await resolve.customers(info, request)
        return CustomerConnection.build(
            page.items,
            lambda row: customer_cursor(row, order_by),
            Customer.from_row,
            has_next=page.has_next,
            _count_key=request,
        )

    @strawberry.field(
        description="A Customer, Note or Task by its global id; null when none has it."
    )
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        row = await resolve.node(info, id)
        if isinstance(row, models.Customer | CustomerRow):
            return Customer.from_row(row)
        if isinstance(row, models.Note):
            return Note.from_row(row)
        if isinstance(row, models.Task):
            return task_fields.Task.from_row(row)
        return None


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(description="Record a new customer.")
    async def create_customer(self, info: Info, input: CreateCustomerInput) -> Customer:
        row = await resolve.create_customer(info, input.new_customer())
        return Customer.from_row(row)

    @strawberry.mutation(description="Change some of a customer's fields.")
    async def update_customer(
        self, info: Info, id: strawberry.ID, input: UpdateCustomerInput
    ) -> Customer:
        row = await resolve.update_customer(info, id, input.changes())
        return Customer.from_row(row)
