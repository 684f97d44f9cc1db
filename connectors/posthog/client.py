"""The PostHog calls behind a customer's activity.

Events, last-seen times and session counts are read with HogQL through
``POST /api/projects/{id}/query/``: one query answers a whole batch of persons
(``where distinct_id in (…)``), with ``limit n by distinct_id`` keeping each
person to their newest ``n`` events. The events REST list is deprecated and takes
one person per call, so it is not used.

Persons are read through ``/persons/?distinct_id=``, ``?email=`` and a
``?properties=`` filter on ``phone``, which take one value each: those look-ups
run concurrently, one call per id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from connectors.base import RequestObserver, RetryPolicy, UpstreamHTTP
from connectors.errors import UpstreamProtocolError
from connectors.models import ActivityEvent, ExternalCustomer
from connectors.posthog.hogql import (
    MAX_ROWS,
    events_query,
    last_seen_query,
    sessions_query,
)
from connectors.posthog.mapping import (
    customer_from_person,
    event_from_row,
    parse_time,
)

IDS_PER_QUERY = 500
CONCURRENCY = 8


def _phone_filter(phone: str) -> str:
    return json.dumps(
        [{"key": "phone", "value": phone, "operator": "exact", "type": "person"}]
    )


class PostHogConnector:
    name = "posthog"

    def __init__(
        self,
        base_url: str,
        project_id: int | str,
        api_key: str,
        *,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.project_path = f"/api/projects/{project_id}"
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self.http = UpstreamHTTP(
            self.name,
            base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            retry=retry,
            observer=observer,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _persons(self, **params: str) -> list[dict[str, Any]]:
        async with self._limit:
            body = await self.http.get_json(
                f"{self.project_path}/persons/", params=params
            )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise UpstreamProtocolError(self.name, "persons response has no results")
        return results

    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        """Persons by distinct id (identified or anonymous)."""
        unique = list(dict.fromkeys(ids))
        answers = await asyncio.gather(*(self._persons(distinct_id=d) for d in unique))
        found = {
            d: customer_from_person(people[0])
            for d, people in zip(unique, answers, strict=True)
            if people
        }
        return [found.get(d) for d in ids]

    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        answers = await asyncio.gather(*(self._persons(email=e) for e in wanted))
        return {
            e: customer_from_person(people[0])
            for e, people in zip(wanted, answers, strict=True)
            if people
        }

    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Persons whose ``phone`` property equals the E.164 number, one
        ``properties`` filter call per number."""
        wanted = list(dict.fromkeys(p.strip() for p in phones if p.strip()))
        answers = await asyncio.gather(
            *(self._persons(properties=_phone_filter(p)) for p in wanted)
        )
        return {
            p: customer_from_person(people[0])
            for p, people in zip(wanted, answers, strict=True)
            if people
        }

    async def query(self, hogql: str) -> list[list[Any]]:
        """Rows of one HogQL query (a read, so retried like a GET)."""
        body = await self.http.post_json(
            f"{self.project_path}/query/",
            {"query": {"kind": "HogQLQuery", "query": hogql}},
        )
        rows = body.get("results") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise UpstreamProtocolError(self.name, "query response has no results")
        return rows

    async def _batched(
        self, ids: Sequence[str], size: int, build: Callable[[Sequence[str]], str]
    ) -> list[list[Any]]:
        """One query per ``size`` ids, run together; their rows concatenated."""
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + size] for i in range(0, len(unique), size)]
        answers = await asyncio.gather(*(self.query(build(c)) for c in chunks))
        return [row for rows in answers for row in rows]

    async def events_by_persons(
        self, distinct_ids: Sequence[str], *, limit: int = 100, days: int = 90
    ) -> dict[str, list[ActivityEvent]]:
        """The newest ``limit`` events of each person within ``days``, newest first."""
        result: dict[str, list[ActivityEvent]] = {d: [] for d in distinct_ids}
        if not result:
            return result
        per_query = max(1, min(IDS_PER_QUERY, MAX_ROWS // max(1, limit)))
        rows = await self._batched(
            distinct_ids,
            per_query,
            lambda c: events_query(c, limit=limit, days=days),
        )
        for row in rows:
            event = event_from_row(row)
            if event.distinct_id in result:
                result[event.distinct_id].append(event)
        for events in result.values():
            events.sort(key=lambda e: e.occurred_at, reverse=True)
        return result

    async def last_seen_by_persons(
        self, distinct_ids: Sequence[str]
    ) -> dict[str, datetime | None]:
        result: dict[str, datetime | None] = dict.fromkeys(distinct_ids)
        if not result:
            return result
        for distinct_id, seen in await self._batched(
            distinct_ids, IDS_PER_QUERY, last_seen_query
        ):
            result[distinct_id] = parse_time(seen) if seen else None
        return result

    async def sessions_count_by_persons(
        self, distinct_ids: Sequence[str], *, days: int = 30
    ) -> dict[str, int]:
        """Distinct ``$session_id`` values per person in the last ``days``."""
        result = dict.fromkeys(distinct_ids, 0)
        if not result:
            return result
        for distinct_id, count in await self._batched(
            distinct_ids, IDS_PER_QUERY, lambda c: sessions_query(c, days=days)
        ):
            result[distinct_id] = int(count)
        return result
