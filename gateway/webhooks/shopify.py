"""Shopify deliveries: authenticate, then keep our customers in step with the store.

Checks run cheapest-to-forge last: without a configured API secret nothing can
be trusted (503); a bad or absent ``X-Shopify-Hmac-Sha256`` is 401 before any
other header is even looked at; then the other required headers and the JSON
(400). A delivery is processed once per ``X-Shopify-Webhook-Id`` *and* once per
``X-Shopify-Event-Id``, since a retry of one event may carry a new webhook id.

Customer topics find our customer through its ``shopify`` identity, linking an
unlinked one by email, then phone; ``customers/create`` for a stranger creates
the CRM customer, so a new store customer appears in the graph at once.
Compliance topics are privacy requests (``gateway.privacy``), recorded by
ids, never with the payload's email and phone: ``customers/redact`` erases
the linked customer as ``eraseCustomer`` does — our tables and the other
upstreams; Shopify, which asked, is done — and ``customers/data_request``
builds the customer's export for the merchant to hand over. A request
naming no customer of ours is recorded, done. ``shop/redact`` drops every
Shopify link we hold (the CRM profiles are ours, not Shopify-derived).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from connectors.errors import ConnectorError, UpstreamBadResponse
from connectors.models import UpstreamChange
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.webhooks import (
    CUSTOMER_TOPICS,
    HMAC_HEADER,
    ORDER_TOPICS,
    missing_headers,
    parse_delivery,
    verify_hmac,
)
from gateway.automations import events
from gateway.db import models
from gateway.db.models import utcnow
from gateway.errors import Refused
from gateway.identity.matching import (
    add_link,
    clean_email,
    clean_phone,
    customer_by_contact,
    linked_customer,
)
from gateway.identity.rules import MatchRule, MatchRules, explain
from gateway.insights.refresh import record_orders
from gateway.privacy import requests
from gateway.runtime.services import Services
from gateway.webhooks.delivery import answer, log, process_once

SOURCE = "shopify"
PRIVACY_KINDS = {
    "customers/data_request": "data_request",
    "customers/redact": "customer_redact",
    "shop/redact": "shop_redact",
}
HANDLED = ORDER_TOPICS | CUSTOMER_TOPICS | {"refunds/create"} | PRIVACY_KINDS.keys()
ORDER_CUSTOMER = "query($id: ID!) { order(id: $id) { customer { id } } }"


async def receive(request: Request, services: Services) -> Response:
    secret = services.settings.shopify_api_secret
    if secret is None or not secret.get_secret_value():
        raise Refused(
            503,
            "NOT_CONFIGURED",
            "Shopify webhooks are not configured: set CG_SHOPIFY_API_SECRET.",
        )
    body = await request.body()
    if not verify_hmac(
        body, request.headers.get(HMAC_HEADER), secret.get_secret_value()
    ):
        raise Refused(
            401, "UNAUTHENTICATED", "Invalid or missing X-Shopify-Hmac-Sha256."
        )
    if missing := missing_headers(request.headers):
        raise Refused(400, "BAD_REQUEST", f"Missing headers: {', '.join(missing)}.")
    try:
        change = parse_delivery(body, request.headers)
    except UpstreamBadResponse as exc:
        raise Refused(
            400,
            "BAD_REQUEST",
            f"The body is not a Shopify payload for this topic: {exc.detail}.",
        ) from None
    if change.topic not in HANDLED:
        log.info("shopify topic %r ignored", change.topic)
        return answer(200, status="ignored")
    external_id = change.customer_external_id
    if change.topic == "refunds/create":
        external_id = await _refund_customer(services.upstreams.shopify, change)
    keys = [f"webhook:{change.delivery_id}"]
    if change.event_id:
        keys.append(f"event:{change.event_id}")

    async def work(session: AsyncSession) -> list[int]:
        if change.topic in PRIVACY_KINDS:
            return await _privacy(session, services, change)
        if external_id is None:
            return []
        found = await _customer(session, services.match_rules, change, external_id)
        if found is not None and change.order is not None:
            await record_orders(session, found, [change.order])
            if change.topic == "orders/create":  # its automations' runs commit here
                await events.order_placed(
                    session, services.jobs, found, change.order.id, utcnow()
                )
        return [] if found is None else [found]

    return await process_once(services, SOURCE, change.topic, keys, work)


async def _refund_customer(
    connector: ShopifyConnector | None, change: UpstreamChange
) -> str | None:
    """A refund names only its order; the order's customer comes from the API.
    Without a configured connector the refund is recorded and announces nothing;
    an upstream failure answers 503 so that Shopify retries later."""
    order_gid = change.payload.get("order_gid")
    if connector is None or not isinstance(order_gid, str):
        return None
    try:
        data = await connector.query(ORDER_CUSTOMER, {"id": order_gid})
    except ConnectorError as exc:
        log.warning("shopify refund: order %s not readable: %s", order_gid, exc)
        raise Refused(
            503, "UPSTREAM_UNAVAILABLE", "Shopify is unavailable; retry later."
        ) from exc
    customer = (data.get("order") or {}).get("customer") or {}
    found = customer.get("id")
    return found if isinstance(found, str) else None


async def _customer(
    session: AsyncSession, rules: MatchRules, change: UpstreamChange, external_id: str
) -> int | None:
    found = await linked_customer(session, SOURCE, external_id)
    if found is not None:
        return found
    profile = change.customer  # a customer topic's body, or an order's customer
    if profile is None:
        return None
    email, phone = clean_email(profile.email), clean_phone(profile.phone)
    match = await customer_by_contact(session, rules, SOURCE, email, phone)
    if match is not None:
        customer_id, explanation = match
    elif change.topic == "customers/create" and email:
        customer = models.Customer(
            email=email,
            phone=phone,
            first_name=(profile.first_name or "")[:100] or None,
            last_name=(profile.last_name or "")[:100] or None,
        )
        session.add(customer)
        await session.flush()
        customer_id = customer.id
        explanation = explain(MatchRule.EXTERNAL_ID, SOURCE, external_id)
    else:
        return None
    add_link(session, customer_id, SOURCE, external_id, explanation)
    return customer_id


async def _privacy(
    session: AsyncSession, services: Services, change: UpstreamChange
) -> list[int]:
    """The request recorded, its jobs deferred in the delivery's transaction;
    the jobs announce what they change."""
    kind = PRIVACY_KINDS[change.topic]
    external_id = change.customer_external_id
    if kind == "shop_redact":
        await session.execute(
            delete(models.Identity).where(models.Identity.source == SOURCE)
        )
        requests.record_unmatched(session, SOURCE, kind, None)
        return []
    customer_id = (
        await linked_customer(session, SOURCE, external_id) if external_id else None
    )
    if customer_id is None:
        requests.record_unmatched(session, SOURCE, kind, external_id)
    elif kind == "customer_redact":
        await requests.open_erasure(
            session,
            services.jobs,
            customer_id,
            source=SOURCE,
            kind=kind,
            done={SOURCE},
            external_customer_id=external_id,
        )
    else:
        await requests.open_export(
            session,
            services.jobs,
            customer_id,
            source=SOURCE,
            kind=kind,
            external_customer_id=external_id,
        )
    return []
