"""One upstream asked to erase the customer of a request: the connector's
``erase_customer`` for each id the request took when it was made.

Once it did, what we keep by the ids it named goes too (the event mirror's
rows of a PostHog person's anonymous distinct ids, which no link of ours
named). A failure — the upstream down, refusing, or not configured here — records
the source ``failed`` with the error's code (never its message) and raises
``SourceFailed``, so the job engine runs the job again with backoff
(``tasks.py``); the request's other sources are other jobs and go on.
"""

from __future__ import annotations

from connectors.base import ErasingConnector
from connectors.errors import ConnectorError
from gateway.privacy.erasure import forget_upstream_ids
from gateway.privacy.requests import pending_source, record
from gateway.runtime.services import Services


class SourceFailed(Exception):
    """An upstream's erasure failed this time; its job is retried."""

    def __init__(self, source: str, code: str) -> None:
        super().__init__(f"{source}: {code}")
        self.source = source
        self.code = code


def connector_of(services: Services, source: str) -> ErasingConnector | None:
    upstreams = services.upstreams
    found: dict[str, ErasingConnector | None] = {
        "shopify": upstreams.shopify,
        "zendesk": upstreams.zendesk,
        "posthog": upstreams.posthog,
    }
    return found.get(source)


async def erase_upstream(services: Services, request_id: int, source: str) -> None:
    """Ask ``source`` to erase the request's customer; nothing to do when
    the source is done already (a job run twice)."""
    async with services.sessions() as session:
        found = await pending_source(session, request_id, source)
    if found is None:
        return
    external_ids = found[1].external_ids or []
    connector = connector_of(services, source)
    code: str | None = None
    erased: list[str] = []
    if connector is None:
        code = "NOT_CONFIGURED"
    else:
        for external_id in external_ids:  # each is done again on a retry
            try:
                erased += await connector.erase_customer(external_id)
            except ConnectorError as exc:
                code = exc.code
                break
    async with services.sessions() as session, session.begin():
        await forget_upstream_ids(session, source, erased)
        await record(session, request_id, source, "failed" if code else "done", code)
    if code is not None:
        raise SourceFailed(source, code)
