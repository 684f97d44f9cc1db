"""The local CRM tables (SQLAlchemy 2.0 typed models).

The same models serve SQLite (the embedded default) and PostgreSQL: only portable
types, timezone-aware timestamps stored as UTC, and constraints named by the
convention below so Alembic can alter them on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    exists,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no BIGINT autoincrement; PostgreSQL gets a real bigint identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _customer_fk() -> Mapped[int]:
    return mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    """Normalized: lower-cased, IDNA domain."""
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    """E.164."""
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    locale: Mapped[str | None] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )
    merged_into: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", name="fk_customers_merged_into"), index=True
    )
    """The survivor this customer was merged into (``gateway.identity.merge``):
    its id resolves to the survivor, and lists, segments and look-ups skip
    it. Always the final survivor (a merge re-points earlier ones)."""

    __table_args__ = (
        Index("ix_customers_created_at_id", "created_at", "id"),
        Index("ix_customers_last_name_id", "last_name", "id"),
    )


class CustomerMerge(Base):
    """One merge of ``merged_id`` into ``survivor_id`` and, once undone, its
    unmerge (``gateway.identity.merge``)."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = _customer_fk()
    merged_id: Mapped[int] = _customer_fk()
    explanation: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    """Why: the rules that agreed (or ``manual``), the field choices."""
    journal: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    """What the merge did, for the unmerge to undo it exactly."""
    merged_by: Mapped[str] = mapped_column(String(200), nullable=False)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    unmerged_by: Mapped[str | None] = mapped_column(String(200))
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_customer_merges_merged_id", "merged_id"),
        Index("ix_customer_merges_survivor_id", "survivor_id"),
    )


class DuplicateDismissal(Base):
    """Two customers a data steward said are not one person
    (``dismissDuplicate``): never suggested again. ``first_id < second_id``."""

    __tablename__ = "duplicate_dismissals"

    first_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    second_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    dismissed_by: Mapped[str] = mapped_column(String(200), nullable=False)
    dismissed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint("first_id < second_id", name="order"),
        Index("ix_duplicate_dismissals_second_id", "second_id"),
    )


ERASURE_KINDS = ("erasure", "customer_redact")
"""``privacy_requests.kind`` of an erasure: asked through the API, or by
Shopify's ``customers/redact``."""


async def erasure_under_way(session: AsyncSession, customer_ids: Sequence[int]) -> bool:
    """Whether an erasure of any of ``customer_ids`` is recorded and not done."""
    request = PrivacyRequest
    found = await session.scalar(
        select(request.id)
        .where(
            request.customer_id.in_(customer_ids),
            request.kind.in_(ERASURE_KINDS),
            request.status != "done",
        )
        .limit(1)
    )
    return found is not None


def not_merged(customer_id: Any) -> ColumnElement[bool]:
    """``customer_id`` is no merged customer (``CustomerMerge``): an anti-join
    on the merges, not ``customers.merged_into IS NULL``, which PostgreSQL
    estimates at 0.5 % of the rows until the column has statistics and then
    plans a segment's sub-queries as nested loops (a 60-customer test's
    trigger query took 20 s instead of 20 ms)."""
    merge = CustomerMerge
    return ~exists().where(merge.merged_id == customer_id, merge.unmerged_at.is_(None))


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    line1: Mapped[str | None] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('shipping', 'billing')", name="kind"),
        Index("ix_addresses_customer_id", "customer_id"),
        Index("ix_addresses_country_region_city", "country", "region", "city"),
    )


class Identity(Base):
    """A customer's id in an upstream (``shopify`` gid, Zendesk user id, …)."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str] = mapped_column(String(255), nullable=False)
    linked_by: Mapped[str] = mapped_column(String(16), default="manual", nullable=False)
    """The rule that linked it (``gateway.identity.rules.MatchRule``), or
    ``sync``/``manual``/``webhook`` for links made before rules were declared."""
    explanation: Mapped[dict[str, object] | None] = mapped_column(JSON)
    """``gateway.identity.rules.Explanation.to_json()``: rule, strength,
    values compared, source, when. ``None`` for links older than migration 0021."""
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        UniqueConstraint(
            "source", "external_id", name="uq_identities_source_external_id"
        ),
        Index("ix_identities_customer_id_source", "customer_id", "source"),
    )


class IdentityCheck(Base):
    """A look-up of the customer in ``source`` (by email, then phone) that found
    no record: not repeated until ``CG_CACHE_TTL_LINKS`` old or the customer
    changes, so customers unknown upstream cost no call per page, even with a
    cold cache."""

    __tablename__ = "identity_checks"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Tag(Base):
    __tablename__ = "tags"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (Index("ix_tags_name", "name"),)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        Index("ix_notes_customer_id_created_at", "customer_id", "created_at", "id"),
    )


class Consent(Base):
    """The current consent per channel; one row per (customer, channel)."""

    __tablename__ = "consents"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        CheckConstraint("state IN ('granted', 'denied', 'pending')", name="state"),
    )


class LoyaltyEntry(Base):
    """Ledger of points; the balance is the sum, never stored."""

    __tablename__ = "loyalty_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        Index("ix_loyalty_entries_customer_id", "customer_id", "created_at"),
    )


class Preference(Base):
    __tablename__ = "preferences"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), nullable=False)


class WebhookDelivery(Base):
    """Deliveries already processed, so a repeated one is acknowledged and skipped."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(255), nullable=False)
    topic: Mapped[str] = mapped_column(String(100), nullable=False)
    customer_id: Mapped[int | None] = mapped_column(BigId)
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        UniqueConstraint(
            "source", "delivery_id", name="uq_webhook_deliveries_source_delivery"
        ),
        Index("ix_webhook_deliveries_received_at", "received_at"),
    )


class ZendeskTicketChange(Base):
    """A Zendesk ticket a webhook said was created or changed, and when we
    heard: for ``CG_ZENDESK_SEARCH_LAG`` seconds its requester's tickets are
    read past Zendesk search, whose index lags writes
    (``gateway.db.ticket_changes``). Kept by Zendesk ids, linked to a
    customer of ours or not; the webhook that writes one prunes the expired."""

    __tablename__ = "zendesk_ticket_changes"

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester_id: Mapped[str] = mapped_column(String(32), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index(
            "ix_zendesk_ticket_changes_requester_id_changed_at",
            "requester_id",
            "changed_at",
        ),
        Index("ix_zendesk_ticket_changes_changed_at", "changed_at"),
    )


IN_FLIGHT = "kind = 'erasure' AND status <> 'done'"
"""The erasures still under way: one per customer at a time."""


class PrivacyRequest(Base):
    """A data subject request: an erasure or an export asked through the API
    (``source`` ``api``), or one of Shopify's compliance topics (``shopify``).
    Ids only, never the person's contact data (``gateway.privacy``): what the
    request was about is our customer id and the upstream's id."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    """``erasure`` or ``export`` (the API); ``data_request``,
    ``customer_redact`` or ``shop_redact`` (Shopify)."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    """``pending``, ``done`` or ``failed`` (a source failed; it is retried)."""
    external_customer_id: Mapped[str | None] = mapped_column(String(255))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    """The API caller's subject (an API key's name, a token's subject)."""
    export: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    """An export's document, once built."""
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
        Index(
            "uq_privacy_requests_erased_customer",
            "customer_id",
            unique=True,
            postgresql_where=text(IN_FLIGHT),
            sqlite_where=text(IN_FLIGHT),
        ),
    )
    """One erasure of a customer under way at a time (``eraseCustomer``:
    CONFLICT); ``gateway.privacy.requests`` refuses one after it is done."""


class PrivacyRequestSource(Base):
    """Where one request stands in one place its data lives: ``local`` (our
    tables), ``shopify``, ``zendesk`` or ``posthog``, with the upstream's ids
    taken when the request was made (the local erasure deletes the links; a
    merged customer has several per source)."""

    __tablename__ = "privacy_request_sources"

    request_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("privacy_requests.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_ids: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    """Cleared once the source is done: some (a PostHog distinct id) are emails."""
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """``pending``, ``done``, ``failed`` or ``not_linked``."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(64))
    """The last failure's code (``UPSTREAM_UNAVAILABLE``…), never its message."""
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'not_linked')", name="status"
        ),
    )


class TrackedEvent(Base):
    """Events received by the Segment-compatible ingest API (track, page, identify)."""

    __tablename__ = "tracked_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    user_id: Mapped[str | None] = mapped_column(String(255))
    anonymous_id: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, object]] = mapped_column(
        JSON, nullable=False, default=dict
    )
    context: Mapped[dict[str, object]] = mapped_column(
        JSON, nullable=False, default=dict
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        Index(
            "ix_tracked_events_customer_id_occurred_at",
            "customer_id",
            "occurred_at",
            "id",
        ),
        Index("ix_tracked_events_user_id", "user_id"),
        Index("ix_tracked_events_anonymous_id", "anonymous_id"),
        Index("ix_tracked_events_name_occurred_at", "name", "occurred_at"),
        Index("ix_tracked_events_occurred_at", "occurred_at"),
    )
    """``name, occurred_at``: the segment rule ``viewedProduct`` reads one
    event name within recent days (``gateway.insights.segment_rules``)."""


class PostHogEvent(Base):
    """The local mirror of PostHog's events (``gateway.mirror``): what its
    real-time destination delivers and the backfill reads, one row per event
    ``uuid`` (so a redelivery or a backfill overlap stores nothing twice).

    Keyed by PostHog's ``distinct_id``, as the query API reads them: a
    customer's rows are those of the distinct id it is linked to. Only what
    ``activity`` and the timeline show is kept: ``properties`` without
    PostHog's own ``$`` keys, as the connector's mapping reads them.
    """

    __tablename__ = "posthog_events"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    distinct_id: Mapped[str] = mapped_column(String(200), nullable=False)
    """PostHog refuses distinct ids longer than 200 characters."""
    event: Mapped[str] = mapped_column(String(400), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    url: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict[str, object]] = mapped_column(
        JSON, nullable=False, default=dict
    )
    via: Mapped[str] = mapped_column(String(16), nullable=False)
    """``destination`` or ``backfill``: how the row arrived."""
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        CheckConstraint("via IN ('destination', 'backfill')", name="via"),
        Index(
            "ix_posthog_events_distinct_id_occurred_at",
            "distinct_id",
            "occurred_at",
            "uuid",
        ),
        Index("ix_posthog_events_occurred_at", "occurred_at"),
    )


class PostHogPersonCheck(Base):
    """A person the event mirror held no event of, whom the live fallback
    found quiet: never seen, or last seen before the widest window the
    gateway shows (``gateway.mirror.reads.ACTIVITY_DAYS``). Until
    ``CHECK_TTL`` old it answers for them (no events, no sessions, this
    last-seen time) without another query; an event delivered since makes
    them mirrored, and the mirror answers instead."""

    __tablename__ = "posthog_person_checks"

    distinct_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SyncState(Base):
    """Where the last backfill of a source stopped, so ``sync`` can resume."""

    __tablename__ = "sync_state"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(500))
    synced_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class CustomerEvent(Base):
    """Local CRM history (notes, tags, consent, loyalty, tasks) for the timeline,
    written in the same transaction as the change it records."""

    __tablename__ = "customer_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(32), nullable=False, default="crm")
    summary: Mapped[str] = mapped_column(String(500), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, object]] = mapped_column(
        JSON, nullable=False, default=dict
    )
    occurred_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )

    __table_args__ = (
        Index(
            "ix_customer_events_customer_id_occurred_at",
            "customer_id",
            "occurred_at",
            "id",
        ),
    )


class Task(Base):
    """A follow-up for a customer; ``status`` is ``open`` until completed."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = _customer_fk()
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="open")
    assignee: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status"),
        Index("ix_tasks_customer_id_created_at", "customer_id", "created_at", "id"),
    )
