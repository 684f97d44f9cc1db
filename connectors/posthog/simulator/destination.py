"""PostHog's HTTP Webhook destination, as the simulator runs it: one POST per
event to a configured URL, of the template's default body
``{"event": "{event}", "person": "{person}"}`` with the placeholders expanded
to the invocation's globals (the shape ``connectors.posthog.destination``
reads), and PostHog's retries::

    destination = WebhookDestination(url, {SECRET_HEADER: secret})
    row = simulator.analytics.capture("maya@example.com", "$pageview", props, now)
    await destination.deliver(simulator.analytics, [row])

What PostHog does, from its source (PostHog/posthog ``plugin-server/src/cdp``):
the template's inputs (``templates/_destinations/webhook/webhook.template.ts``:
method ``POST``, headers default ``{"Content-Type": "application/json"}``),
the globals (``utils.ts`` ``convertToHogFunctionInvocationGlobals``: the
event's ``url`` and the person's ``url`` point into the PostHog app, the
person's ``name`` is its first display-name property, ``email`` by default,
else the distinct id; timestamps are luxon ISO strings, milliseconds and
``Z``), and the fetch (``services/fetch-executor.service.ts``: a status of
400 or more, an error or no answer within ``CDP_FETCH_TIMEOUT_MS`` = 10 s
fails a try; ``CDP_FETCH_RETRIES`` = 3 tries in all, the n-th retry after
``CDP_FETCH_BACKOFF_BASE_MS`` × n plus up to that much jitter).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.posthog.simulator.data import Analytics
from connectors.simulator_server import sender_tls

TRIES = 3
TIMEOUT_SECONDS = 10.0
BACKOFF_SECONDS = 1.0
DISPLAY_NAME_PROPERTIES = ("email", "Email", "name", "Name", "username", "Username")


def luxon_iso(moment: datetime) -> str:
    """``DateTime.toISO()`` of a UTC luxon time: ``2025-03-20T13:14:09.402Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class WebhookDestination:
    url: str
    headers: Mapping[str, str]
    project_id: int = 1
    site_url: str = "https://posthog.simulator"
    backoff: float = BACKOFF_SECONDS
    """Seconds per retry before jitter (tests set 0)."""
    attempts: list[int] = field(default_factory=list)
    """The status of every try, 0 for one that got no answer."""

    def body(self, analytics: Analytics, event: Mapping[str, Any]) -> dict[str, Any]:
        project_url = f"{self.site_url}/project/{self.project_id}"
        timestamp = luxon_iso(event["timestamp"])
        distinct_id = event["distinct_id"]
        person = analytics.by_distinct_id.get(distinct_id)
        named = (
            next((p for p in DISPLAY_NAME_PROPERTIES if person.properties.get(p)), None)
            if person
            else None
        )
        return {
            "event": {
                "uuid": event["uuid"],
                "event": event["event"],
                "distinct_id": distinct_id,
                "properties": event["properties"],
                "elements_chain": "",
                "timestamp": timestamp,
                "url": f"{project_url}/events/{quote(event['uuid'], safe='')}"
                f"/{quote(timestamp, safe='')}",
            },
            "person": {
                "id": person.uuid,
                "name": str(person.properties[named]) if named else distinct_id,
                "url": f"{project_url}/person/{quote(distinct_id, safe='')}",
                "properties": person.properties,
            }
            if person
            else None,
        }

    async def deliver(
        self,
        analytics: Analytics,
        events: Sequence[Mapping[str, Any]],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> list[int]:
        """Post each event, retried as PostHog does; the last status of
        each (0: never answered)."""
        headers = {"Content-Type": "application/json", **self.headers}
        async with httpx.AsyncClient(
            transport=transport, timeout=TIMEOUT_SECONDS, verify=sender_tls()
        ) as client:
            return [
                await self._send(client, headers, self.body(analytics, event))
                for event in events
            ]

    async def _send(
        self, client: httpx.AsyncClient, headers: dict[str, str], body: Any
    ) -> int:
        status = 0
        for attempt in range(TRIES):
            if attempt:
                await asyncio.sleep(self.backoff * (attempt + random.random()))
            try:
                response = await client.post(self.url, json=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.attempts.append(status)
            if 0 < status < 400:
                break
        return status
