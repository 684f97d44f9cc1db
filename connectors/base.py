"""The protocols every upstream implements: batched look-ups of canonical
models (``connectors.models``), never one call per id.

The plumbing they share lives beside this module, one concept each:
``upstream_http.py`` (the shared client, deadline, retries and the guard's
admission), ``answers.py`` (statuses and bodies read), ``retry.py`` (backoff,
``Retry-After``), ``pagination.py`` (the page-token guard), ``errors.py``
(the one error tree). A concrete connector only says what to ask and how to
read the answer (``client.py``) and how upstream JSON becomes canonical models
(``mapping.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from connectors.models import (
    Checkout,
    ExternalCustomer,
    Order,
    PersonActivity,
    PersonSummary,
    Return,
    Ticket,
    TicketComment,
)


@runtime_checkable
class Connector(Protocol):
    """What every upstream offers: batched profile look-ups, never one per id."""

    name: str

    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        """Profiles in the order of ``ids``; ``None`` for unknown or deleted ids."""
        ...

    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Profiles keyed by normalized (lower-case) email; absent when unknown."""
        ...

    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Profiles keyed by E.164 phone; absent when unknown."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CommerceConnector(Connector, Protocol):
    async def orders_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Order]]:
        """Every order of each customer, newest first (up to the configured cap)."""
        ...

    async def returns_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Return]]: ...

    async def abandoned_checkouts_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Checkout]]: ...


@runtime_checkable
class SupportConnector(Connector, Protocol):
    async def tickets_by_requesters(
        self, user_ids: Sequence[str]
    ) -> dict[str, list[Ticket]]:
        """Tickets requested by each user, newest first."""
        ...

    async def comments_by_tickets(
        self, ticket_ids: Sequence[str]
    ) -> dict[str, list[TicketComment]]: ...


@runtime_checkable
class ActivityConnector(Connector, Protocol):
    async def activity_by_persons(
        self, distinct_ids: Sequence[str], *, limit: int = 100
    ) -> dict[str, PersonActivity]:
        """Recent events of each person, newest first, with their summary (last
        seen, recent sessions), in one upstream query."""
        ...

    async def summaries_by_persons(
        self, distinct_ids: Sequence[str]
    ) -> dict[str, PersonSummary]:
        """The summary alone, in one upstream query."""
        ...


@runtime_checkable
class ErasingConnector(Protocol):
    name: str

    async def erase_customer(self, external_id: str) -> tuple[str, ...]:
        """Ask the upstream to erase the person ``external_id`` names, for
        good (a data subject's erasure request). Returns once the upstream
        accepted it, with every id the person had there (a PostHog person's
        distinct ids: the anonymous ones too), for the caller to forget what
        it keeps by them; a person it no longer knows counts as erased, so
        the call may be repeated after a failure."""
        ...
