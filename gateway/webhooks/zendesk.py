"""Zendesk event-subscription deliveries: verify, then announce the customer.

The signature covers ``TIMESTAMP + BODY`` and the timestamp is checked to be
within five minutes, so a captured delivery cannot be replayed later (401).
Zendesk re-delivers an event with the same envelope ``id``: that is the dedupe
key (``X-Zendesk-Webhook-Id`` names the subscription, not the delivery).

A ticket event's ticket is noted with its requester
(``gateway.db.ticket_changes``), linked to a customer of ours or not: reads
take it past Zendesk search, whose index lags writes, for
``CG_ZENDESK_SEARCH_LAG`` seconds — so the read that follows the eviction
this delivery causes has the new or changed ticket.

The event's requester (``ticket.*``) or user (``user.*``) is found through its
``zendesk`` identity. An unlinked user is read from the Zendesk API, when one is
configured, and linked by email, then phone — never created: a help-desk user
is not necessarily a store customer.

A ticket rated bad (the envelope a Zendesk trigger posts, type
``ticket.satisfaction_rated``: ``gateway.automations.events``) opens the runs
of the automations it triggers in the delivery's transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from connectors.errors import ConnectorError, UpstreamBadResponse
from connectors.models import ExternalCustomer
from connectors.zendesk.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_event,
    verify_signature,
)
from gateway.automations import events
from gateway.db.models import utcnow
from gateway.db.ticket_changes import note_ticket_change
from gateway.errors import Refused
from gateway.identity.matching import (
    add_link,
    clean_email,
    clean_phone,
    customer_by_contact,
    linked_customer,
)
from gateway.runtime.services import Services
from gateway.webhooks.delivery import log, process_once

SOURCE = "zendesk"
MAX_AGE_SECONDS = 300


async def receive(request: Request, services: Services) -> Response:
    secret = services.settings.zendesk_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise Refused(
            503,
            "NOT_CONFIGURED",
            "Zendesk webhooks are not configured: set CG_ZENDESK_WEBHOOK_SECRET.",
        )
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not (
        signature
        and timestamp
        and verify_signature(
            body,
            signature,
            timestamp,
            secret.get_secret_value(),
            max_age=MAX_AGE_SECONDS,
        )
    ):
        raise Refused(
            401,
            "UNAUTHENTICATED",
            "Invalid, missing or stale Zendesk webhook signature.",
        )
    try:
        change = parse_event(body)
    except UpstreamBadResponse as exc:
        raise Refused(
            400,
            "BAD_REQUEST",
            f"The body is not a Zendesk event envelope: {exc.detail}.",
        ) from None
    if not change.event_id:
        raise Refused(400, "BAD_REQUEST", "The event envelope has no id.")
    external_id = change.customer_external_id
    ticket_id = change.payload.get("ticket_id")
    profile = await _unlinked_profile(services, external_id)

    async def work(session: AsyncSession) -> list[int]:
        if external_id is None:
            return []
        if isinstance(ticket_id, str):
            await note_ticket_change(
                session,
                ticket_id,
                external_id,
                lag=services.settings.zendesk_search_lag,
            )
        found = await linked_customer(session, SOURCE, external_id)
        if found is None and profile is not None:
            match = await customer_by_contact(
                session,
                services.match_rules,
                SOURCE,
                clean_email(profile.email),
                clean_phone(profile.phone),
            )
            if match is not None:
                found, explanation = match
                add_link(session, found, SOURCE, external_id, explanation)
        rated_bad = events.rated_bad(change.topic, change.payload)
        if found is not None and isinstance(ticket_id, str) and rated_bad:
            await events.ticket_rated_bad(
                session, services.jobs, found, ticket_id, utcnow()
            )
        return [] if found is None else [found]

    return await process_once(
        services, SOURCE, change.topic, [f"event:{change.event_id}"], work
    )


async def _unlinked_profile(
    services: Services, external_id: str | None
) -> ExternalCustomer | None:
    """The Zendesk user, read only when no link exists yet (outside the
    transaction: an HTTP call must not hold database locks). An upstream
    failure answers 503 so that Zendesk retries."""
    connector = services.upstreams.zendesk
    if external_id is None or connector is None:
        return None
    async with services.sessions() as session:
        if await linked_customer(session, SOURCE, external_id) is not None:
            return None
    try:
        (profile,) = await connector.customers_by_ids([external_id])
    except ConnectorError as exc:
        log.warning("zendesk user %s not readable: %s", external_id, exc)
        raise Refused(
            503, "UPSTREAM_UNAVAILABLE", "Zendesk is unavailable; retry later."
        ) from exc
    return profile
