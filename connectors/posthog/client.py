"""The PostHog calls behind a customer's activity.

Events, last-seen times and session counts are read with HogQL through
``POST /api/projects/{id}/query/``: one query answers a whole batch of persons
(``where distinct_id in (…)``) and all three at once (``hogql.activity_query``),
with ``limit n by distinct_id`` keeping each person to their newest ``n``
events; ``summaries_by_persons`` leaves the events out. The events REST list is
deprecated and takes one person per call, so it is not used.

``events_between`` reads everyone's events of a time range a page at a
time (oldest first), for the local event mirror's backfill.

Persons by email or phone are one HogQL query per batch too, over
``person_distinct_ids`` — except a few (``REST_LOOKUPS``), read through the
persons API (``/persons/?email=``, ``?properties=`` for the phone), one call
each: PostHog allows a key 120 HogQL queries an hour but 1,200 persons calls,
and a help desk links customers one view at a time (measured by the soak,
docs/benchmarks.md: one HogQL query per first view spent the hour's queries
in minutes). By distinct id they are read through ``/persons/?distinct_id=``,
which takes one value: those look-ups run concurrently, one call per id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from connectors.answers import reads_answers
from connectors.errors import UpstreamBadResponse
from connectors.models import (
    ActivityEvent,
    ExternalCustomer,
    PersonActivity,
    PersonSummary,
)
from connectors.posthog.hogql import (
    MAX_ROWS,
    activity_query,
    history_query,
    persons_query,
    summary_query,
)
from connectors.posthog.mapping import (
    activity_from_rows,
    customer_from_person,
    event_from_row,
    persons_from_rows,
)
from connectors.retry import RetryPolicy
from connectors.upstream_http import RequestObserver, UpstreamHTTP

NAME = "posthog"
IDS_PER_QUERY = 500
REST_LOOKUPS = 5
"""Emails or phones up to this many are looked up through the persons API
(under PostHog's general throttles, 240 a minute and 1,200 an hour), more in
one HogQL query (under its query throttle, 120 an hour)."""
CONCURRENCY = 8


class PostHogConnector:
    name = NAME

    def __init__(
        self,
        base_url: str,
        project_id: int | str,
        api_key: str,
        *,
        observer: RequestObserver | None = None,
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
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _persons(self, **params: str) -> list[dict[str, Any]]:
        async with self._limit:
            # The budget counts HogQL queries (PostHog's hourly query
            # throttle); the persons API is under its general throttles.
            body = await self.http.get_json(
                f"{self.project_path}/persons/", params=params, cost=0
            )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise UpstreamBadResponse(self.name, "persons response has no results")
        return results

    @reads_answers(NAME)
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

    async def erase_customer(self, external_id: str) -> tuple[str, ...]:
        """Person deletion with their events, as PostHog's data-deletion guide
        says: the persons of the distinct id (``/persons/?distinct_id=``),
        then ``DELETE /persons/{uuid}/?delete_events=true`` for each (PostHog
        accepts it and deletes the events in the background). No person
        left for the id: erased already. Returns the persons' distinct ids."""
        distinct_ids = [external_id]
        for person in await self._persons(distinct_id=external_id):
            known = person.get("distinct_ids")
            if isinstance(known, list):
                distinct_ids += [d for d in known if isinstance(d, str)]
            person_id = person.get("uuid") or person.get("id")
            if not isinstance(person_id, str | int):
                raise UpstreamBadResponse(self.name, "person without an id")
            async with self._limit:
                await self.http.request(
                    "DELETE",
                    f"{self.project_path}/persons/{person_id}/",
                    params={"delete_events": "true"},
                    cost=0,
                )
        return tuple(dict.fromkeys(distinct_ids))

    async def _persons_by(
        self, person_property: str, values: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Persons whose ``person_property`` equals one of ``values``, keyed by
        that value: a persons call per value up to ``REST_LOOKUPS`` of them,
        else one HogQL query per ``IDS_PER_QUERY`` values."""
        if len(values) <= REST_LOOKUPS:
            answers = await asyncio.gather(
                *(self._persons(**_person_filter(person_property, v)) for v in values)
            )
            customers = [customer_from_person(p) for ps in answers for p in ps]
        else:
            rows = await self._batched(
                values, IDS_PER_QUERY, lambda c: persons_query(person_property, c)
            )
            customers = persons_from_rows(rows)
        found: dict[str, ExternalCustomer] = {}
        wanted = set(values)
        for customer in customers:
            value = getattr(customer, person_property)
            if value in wanted:
                found.setdefault(value, customer)
        return found

    @reads_answers(NAME)
    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        return await self._persons_by("email", wanted) if wanted else {}

    @reads_answers(NAME)
    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Persons whose ``phone`` property equals the E.164 number."""
        wanted = list(dict.fromkeys(p.strip() for p in phones if p.strip()))
        return await self._persons_by("phone", wanted) if wanted else {}

    async def query(self, hogql: str) -> list[list[Any]]:
        """Rows of one HogQL query (a read, so retried like a GET)."""
        body = await self.http.post_json(
            f"{self.project_path}/query/",
            {"query": {"kind": "HogQLQuery", "query": hogql}},
            read=True,
        )
        rows = body.get("results") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise UpstreamBadResponse(self.name, "query response has no results")
        return rows

    async def _batched(
        self, ids: Sequence[str], size: int, build: Callable[[Sequence[str]], str]
    ) -> list[list[Any]]:
        """One query per ``size`` ids, run together; their rows concatenated."""
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + size] for i in range(0, len(unique), size)]
        answers = await asyncio.gather(*(self.query(build(c)) for c in chunks))
        return [row for rows in answers for row in rows]

    @reads_answers(NAME)
    async def activity_by_persons(
        self,
        distinct_ids: Sequence[str],
        *,
        limit: int = 100,
        days: int = 90,
        session_days: int = 30,
    ) -> dict[str, PersonActivity]:
        """Each person's newest ``limit`` events within ``days`` (newest first),
        last-seen time and sessions within ``session_days``: one query."""
        if not distinct_ids:
            return {}
        per_query = max(1, min(IDS_PER_QUERY, MAX_ROWS // max(1, limit)))
        rows = await self._batched(
            distinct_ids,
            per_query,
            lambda c: activity_query(
                c, limit=limit, days=days, session_days=session_days
            ),
        )
        return activity_from_rows(distinct_ids, rows)

    @reads_answers(NAME)
    async def summaries_by_persons(
        self, distinct_ids: Sequence[str], *, session_days: int = 30
    ) -> dict[str, PersonSummary]:
        """Last-seen time and sessions within ``session_days`` of each person,
        without their events: one query."""
        if not distinct_ids:
            return {}
        rows = await self._batched(
            distinct_ids,
            IDS_PER_QUERY,
            lambda c: summary_query(c, session_days=session_days),
        )
        return {
            d: activity.summary
            for d, activity in activity_from_rows(distinct_ids, rows).items()
        }

    @reads_answers(NAME)
    async def events_between(
        self, since: datetime, until: datetime, *, limit: int
    ) -> list[ActivityEvent]:
        """One page of everyone's events from ``since`` until ``until``,
        oldest first (``hogql.history_query``): one query."""
        rows = await self.query(history_query(since, until, limit=limit))
        try:
            return [event_from_row(row) for row in rows]
        except (TypeError, ValueError, AttributeError) as exc:
            raise UpstreamBadResponse(self.name, "malformed event row") from exc


def _person_filter(person_property: str, value: str) -> dict[str, str]:
    """The persons API's filter for one value: ``email`` has its own
    parameter, other properties go in ``properties`` (PostHog's property
    filter JSON)."""
    if person_property == "email":
        return {"email": value}
    condition = {"key": person_property, "value": value, "operator": "exact"}
    return {"properties": json.dumps([{**condition, "type": "person"}])}
