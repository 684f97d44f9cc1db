"""PostHog's real-time destination: each delivery is one event, stored in the
local event mirror (``gateway.mirror``).

PostHog's HTTP Webhook destination signs nothing, so it is configured to send
a shared secret in ``X-Customer-Graph-Secret`` (docs/analytics.md): without
``CG_POSTHOG_WEBHOOK_SECRET`` nothing is trusted (503), a missing or wrong
header is 401 before the body is read. The body, read within
``CG_MAX_BODY_BYTES`` (413 past it), must be the template's default
``{"event": "{event}", "person": "{person}"}``
(``connectors.posthog.destination``): else 400, nothing stored.

The event's ``uuid`` is the delivery's identity: PostHog retries a failed
delivery with the same body, and the mirror's primary key stores it once (a
repeat answers ``{"status": "duplicate"}``). Claims in
``webhook_deliveries`` are not used: a row per event there too would double
what analytics volumes write. A new event of a distinct id linked to a
customer announces ``CustomerChange(customer, "posthog", <event name>)``
after the commit, so cached responses renew and the live timeline shows it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from connectors.errors import UpstreamBadResponse
from connectors.posthog.destination import SECRET_HEADER, parse_delivery, verify_secret
from gateway.changes.bus import CustomerChange
from gateway.db.column_limits import check_rows
from gateway.db.models import PostHogEvent, utcnow
from gateway.db.upsert import table_of
from gateway.errors import Refused
from gateway.identity.matching import linked_customer
from gateway.mirror.store import event_row, insert_rows
from gateway.runtime.services import Services
from gateway.webhooks.delivery import answer

SOURCE = "posthog"


async def receive(request: Request, services: Services) -> Response:
    secret = services.settings.posthog_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise Refused(
            503,
            "NOT_CONFIGURED",
            "PostHog deliveries are not configured: set CG_POSTHOG_WEBHOOK_SECRET.",
        )
    if not verify_secret(request.headers.get(SECRET_HEADER), secret.get_secret_value()):
        raise Refused(
            401, "UNAUTHENTICATED", f"Missing or wrong {SECRET_HEADER} header."
        )
    try:
        event = parse_delivery(await request.body())
    except UpstreamBadResponse as exc:
        raise Refused(
            400,
            "BAD_REQUEST",
            f"The body is not a PostHog webhook delivery: {exc.detail}.",
        ) from None
    row = event_row(event, "destination", utcnow())
    check_rows(table_of(PostHogEvent), [row])
    async with services.sessions() as session, session.begin():
        stored = await insert_rows(session, [row], "destination")
        customer = (
            await linked_customer(session, SOURCE, event.distinct_id)
            if stored
            else None
        )
    if not stored:
        return answer(200, status="duplicate")
    if customer is not None:
        await services.changes.publish(CustomerChange(customer, SOURCE, event.name))
    return answer(200, status="processed")
