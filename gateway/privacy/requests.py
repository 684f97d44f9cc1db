"""Privacy requests: recorded with their sources, their jobs deferred in the
same transaction, and their status kept as the jobs report.

A request stores ids only: our customer id, and for each upstream the ids the
customer had there (the local erasure deletes the links, and the upstream's
job still needs them; a merged customer has several per source) — cleared
once that source is done, since some ids (a PostHog distinct id) are an email
address.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from procrastinate import App
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db import models
from gateway.db.models import utcnow
from gateway.errors import Conflict, NotFound
from gateway.jobs.deferral import Job, defer_with

NAMESPACE = "privacy"
UPSTREAMS = ("shopify", "zendesk", "posthog")
LOCAL = "local"
ERASURE, EXPORT = "erasure", "export"
ERASURE_KINDS = frozenset(models.ERASURE_KINDS)
"""Kinds that erase: the API's, and Shopify's ``customers/redact``."""

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    status: str
    attempts: int
    error: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the API shows it."""

    id: int
    kind: str
    source: str
    status: str
    customer_id: int | None
    received_at: datetime
    completed_at: datetime | None
    sources: tuple[SourceState, ...]
    export: dict[str, object] | None


def task(name: str) -> str:
    return f"{NAMESPACE}:{name}"


async def links_of(session: AsyncSession, customer_id: int) -> dict[str, list[str]]:
    """The customer's ids in each upstream, oldest link first."""
    rows = await session.execute(
        select(models.Identity.source, models.Identity.external_id)
        .where(
            models.Identity.customer_id == customer_id,
            models.Identity.source.in_(UPSTREAMS),
        )
        .order_by(models.Identity.id)
    )
    links: dict[str, list[str]] = {}
    for source, external_id in rows:
        links.setdefault(source, []).append(external_id)
    return links


async def person(session: AsyncSession, customer_id: int) -> int:
    """The customer a request is about: a merged customer's survivor (one
    person: the erasure takes every record merged into it, the export shows
    them all), else the customer itself."""
    survivor = await session.scalar(
        select(models.Customer.merged_into).where(models.Customer.id == customer_id)
    )
    return survivor if survivor is not None else customer_id


async def _customer_exists(session: AsyncSession, customer_id: int) -> None:
    if await session.get(models.Customer, customer_id) is None:
        raise NotFound("No customer with this id.", field="id")


async def open_erasure(
    session: AsyncSession,
    jobs: App,
    customer_id: int,
    *,
    source: str,
    kind: str = ERASURE,
    requested_by: str | None = None,
    done: Collection[str] = (),
    external_customer_id: str | None = None,
) -> models.PrivacyRequest:
    """Record an erasure of ``customer_id`` in ``session``'s transaction and
    defer its jobs: the local erasure, and one per linked upstream not in
    ``done`` (those the request came from). The caller commits."""
    links = await links_of(session, customer_id)
    request = await _new_request(
        session, source, kind, customer_id, requested_by, external_customer_id
    )
    upstream_jobs = [
        _job(request.id, upstream)
        for upstream in _add_sources(session, request.id, links, done, keep_ids=True)
    ]
    await defer_with(session, jobs, task("erase_local"), [_job(request.id)])
    await defer_with(session, jobs, task("erase_upstream"), upstream_jobs)
    return request


async def erase(
    sessions: Sessions, jobs: App, customer_id: int, requested_by: str
) -> int:
    """``eraseCustomer``: the request's id. CONFLICT when the customer is
    being erased or was erased, NOT_FOUND when there is no such customer;
    nothing is written then."""
    try:
        async with sessions() as session, session.begin():
            customer_id = await person(session, customer_id)
            await _erasable(session, customer_id)
            request = await open_erasure(
                session, jobs, customer_id, source="api", requested_by=requested_by
            )
            return request.id
    except IntegrityError as exc:  # a concurrent eraseCustomer won the race
        raise _already_erased() from exc


async def _erasable(session: AsyncSession, customer_id: int) -> None:
    """An erasure of the customer under way is a CONFLICT; so is a finished
    one when the customer is gone. A finished one of a customer that exists
    was of another customer with the same id — SQLite gives the id of the
    newest row deleted to the next one inserted — and does not count."""
    statuses = set(
        await session.scalars(
            select(models.PrivacyRequest.status).where(
                models.PrivacyRequest.customer_id == customer_id,
                models.PrivacyRequest.kind.in_(ERASURE_KINDS),
            )
        )
    )
    exists = await session.get(models.Customer, customer_id) is not None
    if statuses - {"done"} or (statuses and not exists):
        raise _already_erased()
    if not exists:
        raise NotFound("No customer with this id.", field="id")


def _already_erased() -> Conflict:
    return Conflict("This customer is erased, or being erased.", field="id")


async def export(
    sessions: Sessions, jobs: App, customer_id: int, requested_by: str
) -> int:
    """``exportCustomerData``: the request's id; NOT_FOUND for no customer,
    CONFLICT while an erasure of the customer is under way."""
    async with sessions() as session, session.begin():
        customer_id = await person(session, customer_id)
        await _customer_exists(session, customer_id)
        if await models.erasure_under_way(session, [customer_id]):
            raise Conflict(
                "This customer is being erased: there will be nothing to export.",
                field="id",
            )
        request = await open_export(
            session, jobs, customer_id, source="api", requested_by=requested_by
        )
        return request.id


async def open_export(
    session: AsyncSession,
    jobs: App,
    customer_id: int,
    *,
    source: str,
    kind: str = EXPORT,
    requested_by: str | None = None,
    external_customer_id: str | None = None,
) -> models.PrivacyRequest:
    """Record an export of ``customer_id`` and defer its job, in
    ``session``'s transaction. The caller commits."""
    request = await _new_request(
        session, source, kind, customer_id, requested_by, external_customer_id
    )
    links = await links_of(session, customer_id)
    _add_sources(session, request.id, links, (), keep_ids=False)
    await defer_with(session, jobs, task("export"), [_job(request.id)])
    return request


async def _new_request(
    session: AsyncSession,
    source: str,
    kind: str,
    customer_id: int,
    requested_by: str | None,
    external_customer_id: str | None,
) -> models.PrivacyRequest:
    """A pending request, flushed (its id is its jobs')."""
    request = models.PrivacyRequest(
        source=source,
        kind=kind,
        status="pending",
        customer_id=customer_id,
        external_customer_id=external_customer_id,
        requested_by=requested_by,
    )
    session.add(request)
    await session.flush()
    return request


def record_unmatched(
    session: AsyncSession, source: str, kind: str, external_customer_id: str | None
) -> None:
    """A request about no customer of ours (an upstream's id we never
    linked, or a whole shop's): recorded, done, nothing to do."""
    session.add(
        models.PrivacyRequest(
            source=source,
            kind=kind,
            status="done",
            external_customer_id=external_customer_id,
            completed_at=utcnow(),
        )
    )


def _add_sources(
    session: AsyncSession,
    request_id: int,
    links: Mapping[str, list[str]],
    done: Collection[str],
    *,
    keep_ids: bool,
) -> list[str]:
    """A row per source (``local`` and each upstream: ``done`` when in
    ``done``, ``not_linked`` without a link, else ``pending``, with the
    upstream's ids when ``keep_ids``); the upstreams left pending."""
    session.add(_source(request_id, LOCAL, None, "pending"))
    pending = []
    for upstream in UPSTREAMS:
        external_ids = links.get(upstream)
        if upstream in done:
            status = "done"
        elif not external_ids:
            status = "not_linked"
        else:
            status = "pending"
            pending.append(upstream)
        kept = external_ids if keep_ids and status == "pending" else None
        session.add(_source(request_id, upstream, kept, status))
    return pending


def _source(
    request_id: int, source: str, external_ids: list[str] | None, status: str
) -> models.PrivacyRequestSource:
    return models.PrivacyRequestSource(
        request_id=request_id,
        source=source,
        external_ids=external_ids,
        status=status,
        attempts=0,
        updated_at=utcnow(),
    )


def _job(request_id: int, source: str | None = None) -> Job:
    args: dict[str, object] = {"request_id": request_id}
    if source is not None:
        args["source"] = source
    return Job(args, lock=f"privacy:{request_id}:{source or LOCAL}")


async def record(
    session: AsyncSession,
    request_id: int,
    source: str,
    status: str,
    error: str | None = None,
) -> None:
    """``source`` of the request is now ``status`` (one attempt more); the
    request's own status follows: ``done`` once every source is done or not
    linked, ``failed`` while one failed, else ``pending``. The request's row
    is locked first: its sources' jobs finish concurrently, and each must see
    the others' status."""
    request = await session.get(models.PrivacyRequest, request_id, with_for_update=True)
    row = await session.get(models.PrivacyRequestSource, (request_id, source))
    if request is None or row is None:
        return
    row.status = status
    row.attempts += 1
    row.error = error
    row.updated_at = utcnow()
    if status == "done":
        row.external_ids = None
    await session.flush()
    statuses = set(
        await session.scalars(
            select(models.PrivacyRequestSource.status).where(
                models.PrivacyRequestSource.request_id == request_id
            )
        )
    )
    if statuses <= {"done", "not_linked"}:
        request.status = "done"
        request.completed_at = request.completed_at or utcnow()
    else:
        request.status = "failed" if "failed" in statuses else "pending"


async def read(sessions: Sessions, request_id: int) -> Request:
    """The request; NOT_FOUND when there is none."""
    async with sessions() as session:
        row = await session.get(models.PrivacyRequest, request_id)
        if row is None:
            raise NotFound("No privacy request with this id.", field="id")
        sources = await session.scalars(
            select(models.PrivacyRequestSource)
            .where(models.PrivacyRequestSource.request_id == request_id)
            .order_by(models.PrivacyRequestSource.source)
        )
        return Request(
            id=row.id,
            kind=row.kind,
            source=row.source,
            status=row.status,
            customer_id=row.customer_id,
            received_at=row.received_at,
            completed_at=row.completed_at,
            sources=tuple(
                SourceState(s.source, s.status, s.attempts, s.error, s.updated_at)
                for s in sources
            ),
            export=row.export,
        )


async def pending_source(
    session: AsyncSession, request_id: int, source: str
) -> tuple[models.PrivacyRequest, models.PrivacyRequestSource] | None:
    """The request and its source row, unless that source is done already
    (a job run twice) or gone."""
    row = await session.get(models.PrivacyRequestSource, (request_id, source))
    request = await session.get(models.PrivacyRequest, request_id)
    if row is None or request is None or row.status in ("done", "not_linked"):
        return None
    return request, row
