"""``POST /webhooks/{source}``: deliveries from Shopify, Zendesk and PostHog's
real-time destination.

Each source's module authenticates its deliveries and turns them into effects
(``gateway.webhooks.shopify``, ``gateway.webhooks.zendesk``,
``gateway.webhooks.posthog``); what they share —
exactly-once processing, customer linking, answers — is in
``gateway.webhooks.delivery``. Every answer is a small JSON body: a rejected
delivery says why in one sentence (a body over ``CG_MAX_BODY_BYTES`` is 413),
a failure is logged here and answered 500
without details, so the upstream retries and nothing leaks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.admission.body_limit import BodyTooLarge
from gateway.errors import BadUserInput, describe
from gateway.runtime.services import Services
from gateway.webhooks import posthog, shopify, zendesk
from gateway.webhooks.delivery import Rejected, answer, log

Receiver = Callable[[Request, Services], Awaitable[Response]]
RECEIVERS: dict[str, Receiver] = {
    "shopify": shopify.receive,
    "zendesk": zendesk.receive,
    "posthog": posthog.receive,
}


async def webhook(request: Request) -> Response:
    receive = RECEIVERS.get(request.path_params["source"])
    if receive is None:
        return answer(404, error="Unknown webhook source.")
    services: Services = request.app.state.services
    try:
        return await receive(request, services)
    except Rejected as exc:
        return answer(exc.status, error=exc.message)
    except BadUserInput as exc:  # e.g. a value longer than its column
        return answer(400, error=exc.message)
    except BodyTooLarge:  # BodyLimit stopped reading: refused, not failed
        limit = services.settings.max_body_bytes
        return answer(413, error=f"The delivery exceeds {limit} bytes.")
    except Exception as exc:  # the upstream retries a 500; the reason is logged
        log.error(
            "webhook from %s failed: %s", request.path_params["source"], describe(exc)
        )
        return answer(500, error="The delivery could not be processed.")
