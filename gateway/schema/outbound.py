"""Outbound webhooks in the graph (admin only): endpoints, their secrets, the
delivery log, retries and replays. How deliveries are signed, retried and
dead-lettered: docs/webhooks-outbound.md."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry import relay

from gateway.resolvers import outbound as resolve
from gateway.resolvers.context import Info
from gateway.resolvers.outbound import (
    Created,
    Delivery,
    DeliveryStatus,
    OutboundEndpoint,
    Outcome,
)
from gateway.schema.connections import Connection


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(enum.Enum):
    PENDING = strawberry.enum_value(
        DeliveryStatus.PENDING.value, description="Queued, not attempted yet."
    )
    SENDING = strawberry.enum_value(
        DeliveryStatus.SENDING.value, description="An attempt is under way."
    )
    FAILED = strawberry.enum_value(
        DeliveryStatus.FAILED.value,
        description="The last attempt failed; the next is at `nextAttemptAt`.",
    )
    DELIVERED = strawberry.enum_value(
        DeliveryStatus.DELIVERED.value, description="The endpoint answered 2xx."
    )
    DEAD = strawberry.enum_value(
        DeliveryStatus.DEAD.value,
        description="No more attempts (all spent, 410 Gone, or the endpoint"
        " disabled): retryDelivery queues it again.",
    )


@strawberry.enum(description="What one attempt came to.")
class WebhookAttemptOutcome(enum.Enum):
    DELIVERED = strawberry.enum_value(Outcome.DELIVERED.value, description="2xx.")
    FAILED = strawberry.enum_value(
        Outcome.FAILED.value,
        description="Another status, a timeout or a connection error.",
    )
    GONE = strawberry.enum_value(
        Outcome.GONE.value, description="410 Gone: the endpoint was disabled."
    )
    REFUSED = strawberry.enum_value(
        Outcome.REFUSED.value,
        description="Not sent: the host resolved to an address deliveries may"
        " not reach, or did not resolve.",
    )
    DISABLED = strawberry.enum_value(
        Outcome.DISABLED.value, description="Not sent: the endpoint is disabled."
    )


@strawberry.type(description="Where events are sent, signed with its secret.")
class WebhookEndpoint(relay.Node):
    id: relay.NodeID[int]
    url: str = strawberry.field(description="The http(s) URL deliveries go to.")
    description: str | None = strawberry.field(
        description="What it is for; null when none was given."
    )
    event_types: list[str] = strawberry.field(
        description="The event types it receives; empty: every type."
    )
    enabled: bool = strawberry.field(description="Whether deliveries are sent.")
    disabled_reason: str | None = strawberry.field(
        description="`operator` (disableWebhookEndpoint) or `gone` (it answered"
        " 410); null when enabled."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until when the secret before the last rotation still signs"
        " (UTC); null when no rotation is in its grace period."
    )
    created_at: datetime = strawberry.field(description="When it was saved (UTC).")

    @classmethod
    def of(cls, row: OutboundEndpoint) -> WebhookEndpoint:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
        )


@strawberry.type(description="An endpoint and its signing secret, shown this once.")
class WebhookEndpointSecret:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description="`whsec_…`: verify deliveries with it (any Standard Webhooks"
        " library). It is never shown again."
    )

    @classmethod
    def of(cls, created: Created) -> WebhookEndpointSecret:
        return cls(endpoint=WebhookEndpoint.of(created.endpoint), secret=created.secret)


@strawberry.type(description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    attempted_at: datetime = strawberry.field(description="When it was sent (UTC).")
    outcome: WebhookAttemptOutcome = strawberry.field(description="What it came to.")
    status_code: int | None = strawberry.field(
        description="The HTTP status; null when there was no answer."
    )
    duration_ms: int = strawberry.field(description="Milliseconds it took.")
    error_class: str | None = strawberry.field(
        description="`HTTPStatus`, `ReadTimeout`, `ConnectError`, `TargetRefused`"
        "…; null when delivered."
    )
    response_excerpt: str | None = strawberry.field(
        description="At most 120 characters of a failed answer, control"
        " characters, email addresses and long digit runs replaced; null when"
        " delivered or empty."
    )


@strawberry.type(description="One event sent to one endpoint, and its attempts.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    endpoint_id: strawberry.ID = strawberry.field(description="Its endpoint's id.")
    message_id: str = strawberry.field(
        description="`msg_…`: the `webhook-id` header, the same on every attempt"
        " and replay."
    )
    event_type: str = strawberry.field(description="The event's type.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(
        description="Attempts since it was last queued (`log` has them all)."
    )
    last_status_code: int | None = strawberry.field(
        description="The last attempt's HTTP status; null when none answered."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due (UTC); null when the status is"
        " not FAILED."
    )
    created_at: datetime = strawberry.field(description="When it was published (UTC).")
    delivered_at: datetime | None = strawberry.field(
        description="When an attempt was answered 2xx (UTC); null when none was."
    )
    log: list[WebhookAttempt] = strawberry.field(
        description="Every attempt, oldest first."
    )

    @classmethod
    def of(cls, found: Delivery) -> WebhookDelivery:
        row = found.row
        return cls(
            id=row.id,
            endpoint_id=strawberry.ID(
                relay.to_base64(WebhookEndpoint.__name__, row.endpoint_id)
            ),
            message_id=found.msg_id,
            event_type=found.event_type,
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            log=[
                WebhookAttempt(
                    attempted_at=a.attempted_at,
                    outcome=WebhookAttemptOutcome(a.outcome),
                    status_code=a.status_code,
                    duration_ms=a.duration_ms,
                    error_class=a.error_class,
                    response_excerpt=a.response_excerpt,
                )
                for a in found.log
            ],
        )


@strawberry.type(description="A page of webhook endpoints, oldest first.")
class WebhookEndpointConnection(Connection[WebhookEndpoint]):
    pass


@strawberry.type(description="A page of webhook deliveries, newest first.")
class WebhookDeliveryConnection(Connection[WebhookDelivery]):
    pass


@strawberry.type
class OutboundQuery:
    @strawberry.field(
        description="Outbound webhook endpoints, oldest first (admin only)."
        " `first` at most CG_MAX_PAGE_SIZE."
    )
    async def webhook_endpoints(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> WebhookEndpointConnection:
        page = await resolve.endpoint_page(info, first, after)
        return WebhookEndpointConnection.build(
            page.items,
            resolve.endpoint_cursor,
            WebhookEndpoint.of,
            has_next=page.has_next,
        )

    @strawberry.field(
        description="Outbound webhook deliveries, newest first, of one endpoint"
        " and in one status if given (admin only). `first` at most"
        " CG_MAX_PAGE_SIZE."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        state = None if status is None else DeliveryStatus[status.name]
        page = await resolve.delivery_page(info, endpoint_id, state, first, after)
        return WebhookDeliveryConnection.build(
            page.items,
            resolve.delivery_cursor,
            WebhookDelivery.of,
            has_next=page.has_next,
        )


@strawberry.type
class OutboundMutation:
    @strawberry.mutation(
        description="Save an endpoint and get its secret (shown this once)."
        " BAD_USER_INPUT (with `field`) for a URL that is not http(s), carries"
        " credentials, does not resolve or reaches a non-public address; for an"
        " event type that is not lower-case letters, digits, `.`, `_`, `-`."
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        url: str,
        event_types: list[str] | None = None,
        description: str | None = None,
    ) -> WebhookEndpointSecret:
        created = await resolve.create_endpoint(
            info, url, event_types or [], description
        )
        return WebhookEndpointSecret.of(created)

    @strawberry.mutation(
        description="A new secret (shown this once); the previous one still signs"
        " beside it for CG_OUTBOUND_SECRET_GRACE_SECONDS, each delivery carrying"
        " both signatures."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointSecret:
        return WebhookEndpointSecret.of(await resolve.rotate_secret(info, id))

    @strawberry.mutation(
        description="Stop sending to the endpoint: its queued deliveries become"
        " DEAD when their turn comes."
    )
    async def disable_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpoint:
        return WebhookEndpoint.of(await resolve.set_endpoint_enabled(info, id, False))

    @strawberry.mutation(description="Send to the endpoint again.")
    async def enable_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpoint:
        return WebhookEndpoint.of(await resolve.set_endpoint_enabled(info, id, True))

    @strawberry.mutation(
        description="Delete the endpoint with its deliveries and their log;"
        " returns its id. NOT_FOUND for an unknown id."
    )
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> strawberry.ID:
        await resolve.delete_endpoint(info, id)
        return id

    @strawberry.mutation(
        description="Queue a DEAD or FAILED delivery again with a fresh attempt"
        " budget. CONFLICT for another status or a disabled endpoint."
    )
    async def retry_delivery(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        return WebhookDelivery.of(await resolve.retry_delivery(info, id))

    @strawberry.mutation(
        description="Send a DELIVERED delivery again: a new attempt, the same"
        " message id and body (receivers deduplicate by `webhook-id`)."
        " CONFLICT for another status or a disabled endpoint."
    )
    async def replay_delivery(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        return WebhookDelivery.of(await resolve.replay_delivery(info, id))
