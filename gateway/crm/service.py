"""``Crm``: every CRM write commits, then announces its ``CustomerChange``.

Built once per process in ``gateway.runtime.services`` with the session factory and
the change bus; the resolvers call it and keep only request-local work
(forgetting what the request's loaders read). An announcement is what
invalidates cached upstream data and stored responses and feeds live
timelines: a write that forgot it served stale data (a ``customer: null``
stored before ``createCustomer`` outlived the creation). A write that raises
committed nothing and announces nothing.

    crm = Crm(sessions, changes)
    note = await crm.add_note(customer_id, author="ana@example.com", body="Called")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.crm import customers, tasks
from gateway.crm.customers import NewCustomer, Sessions
from gateway.db import models

SOURCE = "crm"
"""The ``CustomerChange.source`` of every write here."""


class Crm:
    def __init__(self, sessions: Sessions, changes: ChangeBus) -> None:
        self._sessions = sessions
        self._changes = changes

    async def _announce(self, customer_id: int, kind: str) -> None:
        await self._changes.publish(CustomerChange(customer_id, SOURCE, kind))

    async def create_customer(self, data: NewCustomer) -> models.Customer:
        row = await customers.create_customer(self._sessions, data)
        await self._announce(row.id, "customer_created")
        return row

    async def update_customer(
        self, customer_id: int, changes: Mapping[str, object]
    ) -> models.Customer:
        """Apply ``changes`` (field → new value; ``None`` clears a nullable field)."""
        row = await customers.update_customer(self._sessions, customer_id, changes)
        await self._announce(row.id, "profile_updated")
        return row

    async def add_note(self, customer_id: int, author: str, body: str) -> models.Note:
        note = await customers.add_note(self._sessions, customer_id, author, body)
        await self._announce(note.customer_id, "note_added")
        return note

    async def tag_customer(
        self, customer_id: int, tags: Sequence[str], *, add: bool
    ) -> None:
        tagged = await customers.tag_customer(
            self._sessions, customer_id, tags, add=add
        )
        await self._announce(tagged, "tag_added" if add else "tag_removed")

    async def set_consent(
        self, customer_id: int, channel: str, state: str, source: str
    ) -> models.Consent:
        consent = await customers.set_consent(
            self._sessions, customer_id, channel, state, source
        )
        await self._announce(consent.customer_id, "consent_changed")
        return consent

    async def add_loyalty_points(
        self, customer_id: int, points: int, reason: str
    ) -> models.LoyaltyEntry:
        entry = await customers.add_loyalty_points(
            self._sessions, customer_id, points, reason
        )
        await self._announce(entry.customer_id, "loyalty_changed")
        return entry

    async def create_task(
        self,
        customer_id: int,
        title: str,
        due_at: datetime | None,
        assignee: str | None,
        actor: str,
    ) -> models.Task:
        task = await tasks.create_task(
            self._sessions, customer_id, title, due_at, assignee, actor
        )
        await self._announce(task.customer_id, "task_created")
        return task

    async def complete_task(self, task_id: int, actor: str) -> models.Task:
        task = await tasks.complete_task(self._sessions, task_id, actor)
        await self._announce(task.customer_id, "task_completed")
        return task
