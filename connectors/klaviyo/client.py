"""The Klaviyo calls behind an audience sync: list subscriptions in bulk,
list membership, profiles and lists.

Which endpoint does what, and why (the OpenAPI spec's descriptions, revision
``REVISION``; limits in ``connectors.klaviyo.limits``):

* subscribe: ``POST /api/profile-subscription-bulk-create-jobs``, up to 1,000
  profiles a job, each by email with email marketing consent ``SUBSCRIBED``
  and added to the list; Klaviyo creates a profile it does not know. The job
  is accepted (202, no body) and runs later: its effect shows on the list.
* unsubscribe: ``POST /api/profile-subscription-bulk-delete-jobs``, up to 100
  a job: consent ``UNSUBSCRIBED`` (Klaviyo's consent is per profile, not per
  list), and each profile removed from the list.
* leave a list with consent kept: ``DELETE /api/lists/{id}/relationships/
  profiles``, up to 1,000 Klaviyo profile ids a call — which is why profiles
  are also read by email (``profile_ids``).
* profiles: ``GET /api/profiles`` with ``filter=any(email|id|phone_number,
  […])``, 100 a page; ``POST /api/profile-import`` creates or updates one by
  email (idempotent). ``POST /api/profiles`` is not used: a retry after a
  lost answer would meet its own profile as a 409 duplicate.
* opt-outs: ``GET /api/profiles`` with ``filter=greater-than(subscriptions.
  email.marketing.suppression.timestamp,…)`` and ``additional-fields[profile]
  =subscriptions``, 100 a page: every profile of the account suppressed since
  then (an unsubscribe is an ``UNSUBSCRIBE`` suppression) — one call per 100
  new suppressions, whatever the size of the lists.
* lists: ``GET /api/lists`` (10 a page), ``GET /api/lists/{id}``.

Every write here leaves Klaviyo in the same state when sent twice, so all are
retried (``idempotent=True``) after a 429 (``Retry-After``) or a 5xx. Each
call spends its endpoint's own budget (``limit=<endpoint>``: the guard's
``klaviyo.<endpoint>``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from connectors.errors import UpstreamNotFound
from connectors.klaviyo.limits import (
    LIST_MEMBERS_BATCH,
    LISTS_PAGE,
    PROFILES_PAGE,
    REVISION,
    SUBSCRIBE_BATCH,
    UNSUBSCRIBE_BATCH,
)
from connectors.klaviyo.mapping import (
    any_filter,
    customer_from_profile,
    filterable,
    list_from_json,
    list_members,
    next_cursor,
    opt_out_from_profile,
    profile_upsert,
    resource,
    resources,
    since_filter,
    subscribe_job,
    unsubscribe_job,
)
from connectors.models import EmailList, EmailOptOut, ExternalCustomer
from connectors.pagination import PageGuard
from connectors.retry import RetryPolicy
from connectors.upstream_http import RequestObserver, UpstreamHTTP

JSON_API = "application/vnd.api+json"
CONCURRENCY = 4
CUSTOM_SOURCE = "Customer Graph audience sync"
"""What Klaviyo stores as the consent records' source."""
SUPPRESSED_AT = "subscriptions.email.marketing.suppression.timestamp"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class KlaviyoConnector:
    name = "klaviyo"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        revision: str = REVISION,
        observer: RequestObserver | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self.http = UpstreamHTTP(
            self.name,
            base_url,
            # the private key, in this header only, never in a URL
            # (developers.klaviyo.com/en/docs/authenticate_)
            headers={
                "Accept": JSON_API,
                "revision": revision,
                "Authorization": f"Klaviyo-API-Key {api_key}",
            },
            retry=retry,
            observer=observer,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _gather(self, works: Iterable[Awaitable[T]]) -> list[T]:
        async def bounded(work: Awaitable[T]) -> T:
            async with self._limit:
                return await work

        return list(await asyncio.gather(*(bounded(w) for w in works)))

    async def _send(self, method: str, path: str, endpoint: str, body: Any) -> Any:
        return await self.http.request(
            method,
            path,
            content=_json(body),
            headers={"Content-Type": JSON_API},
            limit=endpoint,
        )

    async def subscribe(self, list_id: str, emails: Sequence[str]) -> int:
        """Subscribe ``emails`` to email marketing and add them to the list;
        the number of jobs sent (one per 1,000)."""
        batches = _chunks(list(dict.fromkeys(emails)), SUBSCRIBE_BATCH)
        await self._gather(
            self._send(
                "POST",
                "/api/profile-subscription-bulk-create-jobs",
                "bulk-subscribe",
                subscribe_job(list_id, batch, CUSTOM_SOURCE),
            )
            for batch in batches
        )
        return len(batches)

    async def unsubscribe(self, list_id: str, emails: Sequence[str]) -> int:
        """Unsubscribe ``emails`` from email marketing and remove them from the
        list; the number of jobs sent (one per 100)."""
        batches = _chunks(list(dict.fromkeys(emails)), UNSUBSCRIBE_BATCH)
        await self._gather(
            self._send(
                "POST",
                "/api/profile-subscription-bulk-delete-jobs",
                "bulk-unsubscribe",
                unsubscribe_job(list_id, batch),
            )
            for batch in batches
        )
        return len(batches)

    async def remove_from_list(self, list_id: str, profile_ids: Sequence[str]) -> int:
        """Take profiles off the list, their consent untouched; the number of
        calls (one per 1,000)."""
        batches = _chunks(list(dict.fromkeys(profile_ids)), LIST_MEMBERS_BATCH)
        await self._gather(
            self._send(
                "DELETE",
                f"/api/lists/{quote(list_id, safe='')}/relationships/profiles",
                "remove-from-list",
                list_members(batch),
            )
            for batch in batches
        )
        return len(batches)

    async def upsert_profile(
        self,
        email: str,
        *,
        external_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> str:
        """Create or update the profile of ``email``; its Klaviyo id."""
        body = await self._send(
            "POST",
            "/api/profile-import",
            "profile-import",
            profile_upsert(
                email,
                external_id=external_id,
                first_name=first_name,
                last_name=last_name,
                properties=properties,
            ),
        )
        return str(resource(body, "profile")["id"])

    async def profile_ids(self, emails: Sequence[str]) -> dict[str, str]:
        """Klaviyo profile ids by (lower-case) email; absent when unknown."""
        found = await self.customers_by_emails(emails)
        return {email: c.external_id for email, c in found.items()}

    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        found = {c.external_id: c for c in await self._profiles("id", ids)}
        return [found.get(i) for i in ids]

    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = [e.strip().lower() for e in emails if e.strip()]
        return {
            c.email: c
            for c in await self._profiles("email", wanted)
            if c.email is not None
        }

    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = [p.strip() for p in phones if p.strip()]
        return {
            c.phone: c
            for c in await self._profiles("phone_number", wanted)
            if c.phone is not None
        }

    async def _profiles(
        self, field: str, values: Sequence[str]
    ) -> list[ExternalCustomer]:
        unique = [v for v in dict.fromkeys(values) if filterable(v)]
        pages = await self._gather(
            self._collect(
                "/api/profiles",
                "get-profiles",
                "profile",
                {"filter": any_filter(field, chunk), "page[size]": PROFILES_PAGE},
            )
            for chunk in _chunks(unique, PROFILES_PAGE)
        )
        return [customer_from_profile(p) for page in pages for p in page]

    async def opt_outs_since(self, since: datetime | None) -> list[EmailOptOut]:
        """Every profile suppressed for email marketing after ``since`` (ever,
        with ``None``), by email: one call per 100."""
        params = {
            "filter": since_filter(SUPPRESSED_AT, since or EPOCH),
            "additional-fields[profile]": "subscriptions",
            "page[size]": PROFILES_PAGE,
        }
        found = await self._collect("/api/profiles", "get-profiles", "profile", params)
        return [o for p in found if (o := opt_out_from_profile(p)) is not None]

    async def _collect(
        self, path: str, endpoint: str, kind: str, params: dict[str, Any]
    ) -> list[Mapping[str, Any]]:
        guard = PageGuard(self.name)
        items: list[Mapping[str, Any]] = []
        while True:
            body = await self.http.get_json(path, params=params, limit=endpoint)
            items.extend(resources(body, kind))
            cursor = next_cursor(body)
            if cursor is None:
                return items
            params = {**params, "page[cursor]": guard.advance(cursor)}

    async def lists(self) -> list[EmailList]:
        """Every list of the account, oldest first as Klaviyo pages them."""
        items = await self._collect(
            "/api/lists", "get-lists", "list", {"page[size]": LISTS_PAGE}
        )
        return [list_from_json(item) for item in items]

    async def get_list(self, list_id: str) -> EmailList | None:
        """The list, or ``None`` when Klaviyo has none by that id."""
        try:
            body = await self.http.get_json(
                f"/api/lists/{quote(list_id, safe='')}", limit="get-list"
            )
        except UpstreamNotFound:
            return None
        return list_from_json(resource(body, "list"))


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
