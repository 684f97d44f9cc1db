"""What is kept how long: one ``Retained`` per table, in purge order.

Each names its rows past a cutoff as a SELECT of their keys (so a batch is
``… WHERE key IN (that SELECT LIMIT n)`` and a dry run counts the same
SELECT) on an indexed time column (migration ``0022``), and what happens to
them: deleted, or — a finished privacy request, the record that it was
handled — its export document dropped (the request itself holds ids only).

Received webhooks' claims (``webhook_deliveries``) make deliveries
exactly-once: a claim purged while its upstream may still retry would let a
retry be processed twice. They are kept ``WEBHOOK_CLAIM_FLOOR_DAYS`` at least,
whatever ``CG_RETENTION_WEBHOOK_PAYLOADS_DAYS`` says.

Outbound webhooks are purged leaf first — attempts, then deliveries, then
messages — each table in its own bounded statements; only deliveries that are
finished (delivered or dead) go, and a message only once none of its
deliveries is still on its way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import InstrumentedAttribute

from gateway.db.auth_models import AuditEntry
from gateway.db.models import (
    PostHogEvent,
    PrivacyRequest,
    TrackedEvent,
    WebhookDelivery,
)
from gateway.outbound.tables import (
    DeliveryStatus,
    OutboundAttempt,
    OutboundDelivery,
    OutboundMessage,
)
from gateway.settings import Settings

WEBHOOK_CLAIM_FLOOR_DAYS = 3
"""Days a received webhook's claim is kept at least: Shopify retries a failed
delivery for up to 48 hours (its longest documented schedule), Zendesk and
PostHog's destination for less (minutes to hours); a day more for an
upstream's own delays and a replay by hand."""

FINISHED = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)
"""Outbound deliveries nothing will send again unless an operator asks."""


@dataclass(frozen=True)
class Retained:
    """One table's retention: ``rows(cutoff)`` selects the keys of the rows
    past it; ``action`` is what the purge does to them."""

    name: str
    setting: str
    """The ``Settings`` field of its days (``CG_`` + its name, upper case)."""
    key: InstrumentedAttribute[Any]
    rows: Callable[[datetime], Select[Any]]
    action: Literal["delete", "drop_export"] = "delete"
    floor_days: int = 0

    def kept_days(self, settings: Settings) -> int:
        """Days kept under ``settings``; 0: forever."""
        days = int(getattr(settings, self.setting))
        return max(days, self.floor_days) if days else 0


def _older(
    key: InstrumentedAttribute[Any], when: InstrumentedAttribute[datetime]
) -> Callable[[datetime], Select[Any]]:
    return lambda cutoff: select(key).where(when < cutoff)


def _finished_attempts(cutoff: datetime) -> Select[Any]:
    a, d, m = OutboundAttempt, OutboundDelivery, OutboundMessage
    return (
        select(a.id)
        .join(d, d.id == a.delivery_id)
        .join(m, m.id == d.message_id)
        .where(m.created_at < cutoff, d.status.in_(FINISHED))
    )


def _finished_deliveries(cutoff: datetime) -> Select[Any]:
    d, m = OutboundDelivery, OutboundMessage
    return (
        select(d.id)
        .join(m, m.id == d.message_id)
        .where(m.created_at < cutoff, d.status.in_(FINISHED))
    )


def _finished_messages(cutoff: datetime) -> Select[Any]:
    d, m = OutboundDelivery, OutboundMessage
    on_its_way = exists().where(d.message_id == m.id, d.status.not_in(FINISHED))
    return select(m.id).where(m.created_at < cutoff, ~on_its_way)


def _finished_exports(cutoff: datetime) -> Select[Any]:
    p = PrivacyRequest
    return select(p.id).where(p.completed_at < cutoff, p.export.is_not(None))


WEBHOOKS = "retention_webhook_payloads_days"

RETAINED: tuple[Retained, ...] = (
    Retained(
        "tracked_events",
        "retention_tracked_events_days",
        TrackedEvent.id,
        _older(TrackedEvent.id, TrackedEvent.occurred_at),
    ),
    Retained(
        "posthog_events",
        "retention_posthog_events_days",
        PostHogEvent.uuid,
        _older(PostHogEvent.uuid, PostHogEvent.occurred_at),
    ),
    Retained(
        "audit_log",
        "retention_audit_days",
        AuditEntry.id,
        _older(AuditEntry.id, AuditEntry.at),
    ),
    Retained(
        "webhook_deliveries",
        WEBHOOKS,
        WebhookDelivery.id,
        _older(WebhookDelivery.id, WebhookDelivery.received_at),
        floor_days=WEBHOOK_CLAIM_FLOOR_DAYS,
    ),
    Retained(
        "privacy_requests.export",
        WEBHOOKS,
        PrivacyRequest.id,
        _finished_exports,
        action="drop_export",
    ),
    Retained("outbound_attempts", WEBHOOKS, OutboundAttempt.id, _finished_attempts),
    Retained(
        "outbound_deliveries", WEBHOOKS, OutboundDelivery.id, _finished_deliveries
    ),
    Retained("outbound_messages", WEBHOOKS, OutboundMessage.id, _finished_messages),
)
