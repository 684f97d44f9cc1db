"""Writes addressed to a merged customer's id (a link in another tool, a
sidebar opened before the merge): they land on its survivor, as reads do,
and the rows they add are noted on the merge (``customer_merges.journal``,
``written``) so that an unmerge gives them back to the customer they were
written about (``gateway.identity.merge``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models


def target(customer: models.Customer) -> int:
    """The customer a write to ``customer`` lands on."""
    return customer.merged_into if customer.merged_into is not None else customer.id


async def note_written(
    session: AsyncSession, merged_id: int, rows: Sequence[tuple[str, int]]
) -> None:
    """Record ``(table, id)`` rows written through ``merged_id`` on its active
    merge, in the caller's transaction (the merge's row locked meanwhile)."""
    merge = models.CustomerMerge
    found = (
        await session.execute(
            select(merge.id, merge.journal)
            .where(merge.merged_id == merged_id, merge.unmerged_at.is_(None))
            .order_by(merge.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    if found is None:
        return
    merge_id, journal = found
    before = journal.get("written")
    written = [*(before if isinstance(before, list) else [])]
    written += [[table, row_id] for table, row_id in rows]
    await session.execute(
        update(merge)
        .where(merge.id == merge_id)
        .values(journal={**journal, "written": written})
    )
