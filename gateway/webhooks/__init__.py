"""``POST /webhooks/{source}``: deliveries from Shopify, Zendesk and PostHog's
real-time destination.

Each source's module authenticates its deliveries and turns them into effects
(``gateway.webhooks.shopify``, ``gateway.webhooks.zendesk``,
``gateway.webhooks.posthog``); what they share —
exactly-once processing, customer linking, answers — is in
``gateway.webhooks.delivery``. Every answer is a small JSON body: a rejected
delivery (``gateway.errors.Refused``) says why in one sentence with a code
(a body over ``CG_MAX_BODY_BYTES`` is 413 ``REQUEST_TOO_LARGE``), a failure is
logged here and answered 500 without details, so the upstream retries and
nothing leaks. An upstream look-up a delivery needs answers within
``CG_READ_DEADLINE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.scope import Priority, call_scope
from gateway.errors import BadUserInput, Refused, describe
from gateway.runtime.services import Services
from gateway.webhooks import posthog, shopify, zendesk
from gateway.webhooks.delivery import log

Receiver = Callable[[Request, Services], Awaitable[Response]]
RECEIVERS: dict[str, Receiver] = {
    "shopify": shopify.receive,
    "zendesk": zendesk.receive,
    "posthog": posthog.receive,
}


def webhook_routes() -> list[Route]:
    """``POST /webhooks/<source>``, a route for each source: an unknown
    source is a path nothing serves (404, whatever the method), a known one
    takes POST only (405, with ``Allow``)."""
    return [
        Route(f"/webhooks/{source}", partial(webhook, source=source), methods=["POST"])
        for source in RECEIVERS
    ]


async def webhook(request: Request, *, source: str) -> Response:
    receive = RECEIVERS[source]
    services: Services = request.app.state.services
    try:
        # A look-up upstream answers by the read deadline (the vendor waits
        # a few seconds, then retries), at background priority.
        with call_scope(services.settings.read_deadline_seconds, Priority.BACKGROUND):
            return await receive(request, services)
    except Refused as refused:  # BodyLimit's BodyTooLarge too: refused, not failed
        return refused.response("plain")
    except BadUserInput as exc:  # e.g. a value longer than its column
        return Refused(400, exc.code, exc.message).response("plain")
    except Exception as exc:  # the upstream retries a 500; the reason is logged
        log.error("webhook from %s failed: %s", source, describe(exc))
        failed = Refused(
            500, "INTERNAL_SERVER_ERROR", "The delivery could not be processed."
        )
        return failed.response("plain")
