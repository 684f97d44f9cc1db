"""Who exported which customers: the audit of a segment export, the same for
``GET /segments/{name}/export`` and ``customer-graph segments export``.

One ``write`` entry (operation ``export:<segment>``) when the export starts,
then one ``read`` entry per exported customer (operation ``segmentExport``)
naming the personal columns it showed. The read entries of each 5,000-row
batch are handed to the audit log together, before the batch is sent, which
writes them with one ``COPY`` (PostgreSQL) or one multi-row ``INSERT`` — and
makes the export wait when more than ``AUDIT_BACKLOG`` rows are still
unwritten.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable, Sequence

from gateway.auth.audit import AuditLog, AuditTrail
from gateway.auth.policy import EXPORT_COLUMNS, Role
from gateway.auth.principal import Principal

AUDIT_BACKLOG = 20_000
"""Audit rows an export may have waiting (four batches, ~7 MB) before it waits
for them to be written."""

Shown = Callable[[Sequence[dict[str, object]]], Awaitable[None]]


def command_line_operator() -> Principal:
    """Whoever runs the command: the database's owner, so ``admin``, audited
    as ``cli:<login name>``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or passwd
        login = "unknown"
    return Principal(subject=f"cli:{login}", role=Role.ADMIN, rate_key="cli")


def audited_export(audit: AuditLog, principal: Principal, segment: str) -> Shown:
    """Record that ``principal`` exports ``segment``; the callback it returns
    records each batch's customers (give it to ``export_segment``)."""
    trail = AuditTrail()
    trail.wrote(None, f"export:{segment}")
    audit.record(trail, principal, "segmentExport")
    columns = sorted(EXPORT_COLUMNS)

    async def shown(rows: Sequence[dict[str, object]]) -> None:
        """An entry per customer, even when no personal column shows."""
        lists: dict[tuple[str, ...], list[str]] = {}
        reads = []
        for row in rows:
            names = tuple(c for c in columns if row[c] is not None)
            fields = lists.get(names)
            if fields is None:
                fields = lists[names] = list(names)
            customer_id = row["customer_id"]
            assert isinstance(customer_id, int)
            reads.append((customer_id, fields))
        audit.record_reads(principal, "segmentExport", reads)
        await audit.keep_under(AUDIT_BACKLOG)

    return shown
