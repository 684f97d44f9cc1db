"""The audit log: who saw whose personal data, who changed what.

Reads are collected per request (one entry per customer, with the fields shown)
— per result over a stream (``StreamAudit``) — and written in batches by
``AuditLog``, off the hot path: on PostgreSQL with
``COPY`` (a second's worth of a busy worker's entries — hundreds — costs ~2 ms
of CPU that way, against ~20 ms as an ``INSERT``, a stall every request in the
worker would wait out).

A batch holds many callers' entries, so one caller's entry must never sink it:
text is stored as PostgreSQL can hold it (a NUL replaced, a name cut to its
column), and should the database still refuse the batch, it is written in
halves, and halves of those, until each refused entry is lost alone. Log
lines carry a code and counts (``AUDIT_ENTRIES_REFUSED``,
``AUDIT_WRITE_FAILED``), never a subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from graphql.pyutils import Path
from sqlalchemy import String, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from gateway.auth.principal import Principal
from gateway.db.auth_models import AuditEntry
from gateway.db.models import utcnow
from gateway.errors import describe

COLUMNS = ("at", "subject", "role", "action", "customer_id", "operation", "fields")
TEXT_LIMITS = {
    name: column.type.length
    for name, column in AuditEntry.__table__.columns.items()
    if isinstance(column.type, String) and column.type.length is not None
}
"""``VARCHAR(n)`` columns and their ``n``: longer text is cut, not refused."""

log = logging.getLogger("gateway.audit")

WRITE_CHUNK = 1_000
"""Entries encoded and sent at once (~3 ms of the event loop on SQLite)."""

WRITE_BATCH = 10_000
"""Entries written in one transaction, at most: on SQLite, whose one writer
at a time a mutation waits for, ~0.1 s. A backlog written in one transaction
held the write for seconds: after 10 s of warm page hits (50 entries each),
``tagCustomer`` waited 11.8 s for it (docs/benchmarks.md, session 38)."""

ROOM_WAIT = 10.0
"""Seconds an answer waits for room in the audit, at most: a database that
accepts no write (a held lock, a connection that hangs) slows answers, it
does not stop them."""

HELD_ENTRIES = 1_000_000
"""Entries a worker holds unwritten, at most, by default
(``CG_AUDIT_HELD_ENTRIES``, ~200 bytes each): past it, an answer waits for
the writes to make room (``AuditLog.room``). A burst of seconds fits; a load
faster than the database, sustained, is served at the database's pace
instead of growing the worker without bound (10 s of warm page hits on
SQLite: 2.4 million entries, ~220 MB held at the peak, written 13 s after)."""

Processor = Callable[[Any], object]
"""How SQLAlchemy binds a column's value for a dialect's driver."""

Entry = tuple[datetime, str | None, str | None, str, int | None, str | None, str]
"""An entry as it is written: its values in ``COLUMNS``' order, its text as
the columns hold it (``_text``) and ``fields`` as JSON text. A tuple of
plain values, not a dict: a warm worker buffers a hundred thousand a second
(a page hit records 50), and a tuple of strings and numbers is built in a
fraction of a dict's time and left alone by the garbage collector."""


@dataclass(slots=True)
class Capture:
    """What one part of a response showed (a cached customer fragment's, in
    ``gateway.http.fragments``): replayed when that part is served again."""

    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    whole: bool = True
    """False once another customer was shown inside it: the part then depends
    on more than its own customer's version and is not kept."""


Shown = dict[str, list[int]]
"""What a stored answer showed, for the audit trail (``AuditTrail.shown``):
each set of fields as the ``fields`` column holds it (``fields_text``), and
the customers shown that set. Kept with a cached answer and replayed when it
is served: its entries are then made from the text as stored, not sorted and
encoded again per customer (a page hit shows 50)."""


@dataclass(slots=True)
class AuditTrail:
    """What one request showed and changed."""

    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    writes: list[tuple[int | None, str]] = field(default_factory=list)
    captures: dict[int, tuple[Path, Capture]] = field(default_factory=dict)
    """Parts of the response being captured, by the identity of their path."""
    replayed: dict[int, str] = field(default_factory=dict)
    """Customers only stored answers showed (``replay``), with their fields as
    the column holds them: a customer shown another way too is in ``reads``."""

    def read(self, customer_id: int, field_name: str, path: Path | None = None) -> None:
        """Note that ``field_name`` of the customer was shown, at ``path`` in the
        response when it is known (reads inside a capture are noted there too)."""
        if self.replayed and customer_id in self.replayed:
            self._merge(customer_id, self.replayed.pop(customer_id))
        self.reads[customer_id].add(field_name)
        if self.captures and path is not None:
            capture = self.capture_around(path)
            if capture is not None:
                capture.reads[customer_id].add(field_name)

    def replay(self, shown: Mapping[str, Iterable[int]]) -> None:
        """Note again what a stored answer showed when it was built (no path:
        as ``read`` without one, nothing noted in a capture)."""
        replayed = self.replayed
        for text, customer_ids in shown.items():
            for customer_id in customer_ids:
                known = replayed.get(customer_id)
                if known is None and customer_id not in self.reads:
                    replayed[customer_id] = text
                elif known != text:  # shown more than one way: one entry
                    if known is not None:
                        self._merge(customer_id, replayed.pop(customer_id))
                    self._merge(customer_id, text)

    def _merge(self, customer_id: int, text: str) -> None:
        self.reads[customer_id].update(orjson.loads(text))

    def shown(self) -> Shown:
        """What this request showed, for a cached answer to replay."""
        shown = shown_by_fields(self.reads)
        for customer_id, text in self.replayed.items():
            shown.setdefault(text, []).append(customer_id)
        return shown

    @contextlib.contextmanager
    def capturing(self, path: Path) -> Iterator[Capture]:
        """Capture the reads under ``path`` while the block runs."""
        capture = Capture()
        self.captures[id(path)] = (path, capture)
        try:
            yield capture
        finally:
            del self.captures[id(path)]

    def capture_around(self, path: Path) -> Capture | None:
        """The capture ``path`` lies in (itself included), if any."""
        at: Path | None = path
        while at is not None:
            held = self.captures.get(id(at))
            if held is not None:
                return held[1]
            at = at.prev
        return None

    def wrote(self, customer_id: int | None, mutation: str) -> None:
        self.writes.append((customer_id, mutation))

    def __bool__(self) -> bool:
        return bool(self.reads or self.replayed or self.writes)

    def clear(self) -> None:
        self.reads.clear()
        self.replayed.clear()
        self.writes.clear()

    def rows(self, principal: Principal, operation: str | None) -> list[Entry]:
        """The entries, their text as the columns hold it (``_text``)."""
        at = utcnow()
        subject = _text("subject", principal.subject)
        role = _text("role", principal.role.value)
        read = _text("operation", operation)
        rows: list[Entry] = [
            (at, subject, role, "read", cid, read, text)
            for cid, text in self.replayed.items()
        ]
        rows += [
            (at, subject, role, "read", cid, read, fields_text(names))
            for cid, names in self.reads.items()
        ]
        rows += [
            (at, subject, role, "write", cid, _text("operation", mutation), "[]")
            for cid, mutation in self.writes
        ]
        return rows


def fields_text(names: Iterable[str]) -> str:
    """A set of field names as the ``fields`` column holds it: sorted, JSON."""
    return _json(sorted(names))


def shown_by_fields(reads: Mapping[int, Iterable[str]]) -> Shown:
    """``reads`` (field names per customer) as ``Shown``."""
    shown: Shown = defaultdict(list)
    for customer_id, names in reads.items():
        shown[fields_text(names)].append(customer_id)
    return dict(shown)


class AuditLog:
    """Buffers audit rows and writes them in batches, at most ``interval``
    seconds late: one INSERT per second instead of one per request, a
    transaction per ``WRITE_BATCH`` entries. At most ``limit`` entries are
    held unwritten before a producer that asks for ``room`` waits."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = 1.0,
        limit: int = HELD_ENTRIES,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.limit = limit
        self._rows: list[Entry] = []
        self._unwritten = 0
        """Entries of the transaction under way."""
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._hurry = asyncio.Event()
        """Set when the timer must write now: a producer waits, or closing."""
        self._batch = asyncio.Event()
        """Set (and replaced) as each transaction ends: producers waiting
        for the entries held to fall wake up and look."""
        self._failing = False
        """The last transaction failed with the database (not an entry): no
        producer waits while its entries are lost anyway."""
        self._over_since: float | None = None
        self._done = 0
        """Entries taken off the buffer and written (or lost) so far."""
        self._writing = asyncio.Lock()

    @property
    def held(self) -> int:
        """Entries recorded and not written yet (those of the transaction
        under way included)."""
        return len(self._rows) + self._unwritten

    @property
    def full(self) -> bool:
        """Whether a producer asking for ``room`` would wait."""
        return self.held >= self.limit and not self._failing

    async def room(self) -> None:
        """Returns at once while fewer than ``limit`` entries are held (or
        the database is failing, when they are lost anyway); else once the
        writes, begun now, brought them under it, or after ``ROOM_WAIT``
        seconds at most (a database that accepts no write, a coded line
        then). The answers over HTTP and WebSocket ask before they go: a
        load faster than the database waits for it rather than holding ever
        more entries in memory."""
        try:
            async with asyncio.timeout(ROOM_WAIT):
                await self._until(lambda: self.held < self.limit)
        except TimeoutError:
            now = time.monotonic()
            if self._over_since is None or now - self._over_since >= ROOM_WAIT:
                self._over_since = now  # a line per wait, not per request
                log.warning(
                    "AUDIT_BACKLOG: %d audit entries unwritten after %.0f s "
                    "over the limit of %d; answering without waiting",
                    self.held,
                    ROOM_WAIT,
                    self.limit,
                )

    async def _until(self, done: Callable[[], bool]) -> None:
        """Once ``done()`` (or the database fails): the timer writes at once
        meanwhile, each transaction's end a look."""
        while not done() and not self._failing:
            self._hurry.set()
            self._schedule()
            await self._batch.wait()

    def record(
        self, trail: AuditTrail, principal: Principal, operation: str | None
    ) -> None:
        self._rows.extend(trail.rows(principal, operation))
        self._schedule()

    def record_reads(
        self,
        principal: Principal,
        operation: str,
        reads: Iterable[tuple[int, list[str]]],
    ) -> None:
        """Many customers' reads at once (an export's batch), without a trail:
        ``(customer id, sorted field names)``, the same list object for the
        same names (each distinct list is encoded once)."""
        at = utcnow()
        subject = _text("subject", principal.subject)
        role = _text("role", principal.role.value)
        action = _text("operation", operation)
        encoded: dict[int, tuple[list[str], str]] = {}  # kept: ids stay unique
        for cid, names in reads:
            known = encoded.get(id(names))
            if known is None:
                known = encoded[id(names)] = (names, _json(names))
            self._rows.append((at, subject, role, "read", cid, action, known[1]))
        self._schedule()

    async def keep_under(self, rows: int) -> None:
        """When ``rows`` or more entries wait (every caller's counted), once
        those recorded before the call are written: a producer faster than
        the writes (a million-row export) waits for them instead of piling
        up, and goes on however much others record meanwhile. The timer
        writes, so an export whose client leaves cuts no transaction off."""
        if self.held < rows:
            return
        through = self._done + self.held
        await self._until(lambda: self._done >= through)

    def _schedule(self) -> None:
        if self._rows and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        """Write what waits ``interval`` seconds after the first entry (at
        once when a producer waits), then again for entries recorded
        meanwhile (while a write was under way, ``_schedule`` saw this task
        still running and started none): none waits for a later request to
        be written."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), self.interval)
            if not self._closing:
                self._hurry.clear()
            await self.flush()
            if not self._rows or self._closing:  # aclose writes the rest
                self._wake()  # no producer left waiting for a write to come
                return

    async def flush(self) -> None:
        """Returns once every row recorded before the call is written: a
        write already under way (the timer's) is waited for, not overtaken."""
        async with self._writing:
            await self._write()

    async def _write(self) -> None:
        """The entries recorded before the call, ``WRITE_BATCH`` a
        transaction, taken from the buffer as each goes (the memory they
        held freed batch by batch). Refused entries are counted over the
        whole write and logged once; a failure that is not an entry's loses
        the rest of the write's entries with it, in one line."""
        left = total = len(self._rows)
        refused: list[Exception] = []
        try:
            while left:
                rows = self._rows[: min(left, WRITE_BATCH)]
                del self._rows[: len(rows)]
                left -= len(rows)
                self._unwritten = len(rows)
                try:
                    await self._insert(rows)
                except Exception as exc:  # never fail answered requests
                    lost, failure = await self._salvage(rows, exc, refused)
                    if failure is not None:  # the database's: the rest too
                        del self._rows[:left]
                        self._done += len(rows) + left
                        log.error(
                            "AUDIT_WRITE_FAILED: %d of %d audit entries lost: %s",
                            len(refused) + lost + left,
                            total,
                            describe(failure),
                        )
                        self._failing, refused, left = True, [], 0
                        continue
                self._failing = False
                self._done += len(rows)
                self._unwritten = 0
                self._wake()
        except BaseException as exc:  # cancelled (flush's caller, or the timer's)
            self._done += self._unwritten
            log.error(
                "AUDIT_WRITE_FAILED: up to %d of %d audit entries lost: %s",
                self._unwritten,
                total,
                describe(exc),
            )
            raise  # the rest stay buffered for the next write
        finally:
            self._unwritten = 0
            self._wake()
        if refused:
            log.error(
                "AUDIT_ENTRIES_REFUSED: %d of %d audit entries refused by the "
                "database, the others written: %s",
                len(refused),
                total,
                describe(refused[-1]),
            )

    def _wake(self) -> None:
        """Producers waiting for the entries held to fall look again."""
        self._batch.set()
        self._batch = asyncio.Event()

    async def _salvage(
        self, rows: list[Entry], error: Exception, refused: list[Exception]
    ) -> tuple[int, Exception | None]:
        """After a refused batch: its halves, then the refused halves' halves,
        so an entry the database cannot store is found in about 2·log₂(n)
        writes and lost alone (one by one, a 5,000-entry batch took 31 s on
        PostgreSQL), its error added to ``refused``. A failure that is not an
        entry's (the database unreachable) ends it, the rest would fail
        alike: the batch's entries not written then, and that failure."""
        pending: list[tuple[list[Entry], Exception | None]]
        pending = [(rows, error)]  # parts to write, with why one already failed
        while pending:
            part, failure = pending.pop()
            if failure is None:
                try:
                    await self._insert(part)
                    continue
                except Exception as exc:  # never fail answered requests
                    failure = exc
            if not _refused_entry(failure):
                return len(part) + sum(len(p) for p, _ in pending), failure
            if len(part) == 1:
                refused.append(failure)
            else:  # the first half next, so entries keep their order
                middle = len(part) // 2
                pending += [(part[middle:], None), (part[:middle], None)]
        return 0, None

    async def _insert(self, rows: list[Entry]) -> None:
        """One transaction, written ``WRITE_CHUNK`` entries at a time: a busy
        worker's second holds tens of thousands (a page hit records 50), and
        encoding them at once stalled the event loop past Redis's timeout."""
        async with self.sessions() as session, session.begin():
            connection = await session.connection()
            copy = None
            if connection.dialect.name == "postgresql":
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None  # an open connection has its driver's
                copy = driver.copy_records_to_table
            for start in range(0, len(rows), WRITE_CHUNK):
                part = rows[start : start + WRITE_CHUNK]
                if copy is not None:
                    await copy(AuditEntry.__tablename__, columns=COLUMNS, records=part)
                else:
                    statement, values = _executemany(connection.dialect, part)
                    await connection.exec_driver_sql(statement, values)

    async def aclose(self) -> None:
        """Write what is buffered; a flush under way finishes first (never cut
        off halfway through a database write)."""
        self._closing = True
        self._hurry.set()
        if self._task is not None:
            await self._task
        await self.flush()


class StreamAudit(SchemaExtension):
    """Audits each result of a stream as it goes out.

    A WebSocket (graphql-transport-ws) shares one context, so one trail, among
    every operation it runs, and a subscription may stream for hours: the HTTP
    view's one record per request would never come. Before each result leaves
    (a query's answer, a subscription's event) the trail is recorded under the
    operation's name and emptied. Two operations running at once on one socket
    share the trail: each read is still recorded once, under the caller, though
    possibly under the other operation's name.
    """

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        trail = getattr(context, "audit", None)
        if isinstance(trail, AuditTrail) and principal is not None and trail:
            audit_log: AuditLog = context.services.audit
            audit_log.record(trail, principal, self.execution_context.operation_name)
            trail.clear()
        yield


async def entries_for(
    sessions: async_sessionmaker[AsyncSession], customer_id: int, limit: int = 100
) -> Sequence[AuditEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.customer_id == customer_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return list(rows)


def _json(names: Sequence[str]) -> str:
    """Field names as the ``fields`` column (JSON) holds them."""
    return orjson.dumps(names).decode()


@functools.cache
def _insert_for(dialect: Dialect) -> tuple[str, list[Processor | None]]:
    """The dialect's ``INSERT`` of an ``Entry`` (its values in ``COLUMNS``'
    order), and how each is bound: the columns' own processors (values stored
    as SQLAlchemy stores them), but ``fields``, already JSON."""
    table = AuditEntry.__table__
    compiled = insert(AuditEntry).compile(dialect=dialect, column_keys=list(COLUMNS))
    assert tuple(compiled.positiontup or ()) == COLUMNS
    return compiled.string, [
        None if name == "fields" else table.c[name].type.bind_processor(dialect)
        for name in COLUMNS
    ]


def _executemany(
    dialect: Dialect, rows: list[Entry]
) -> tuple[str, list[tuple[object, ...]]]:
    """An ``INSERT`` of ``rows`` as the driver's one ``executemany`` (SQLite):
    a third less CPU than SQLAlchemy's bulk insert, which on a busy worker's
    thousands of entries a second was a sixth of a cached answer's CPU. A
    value is bound once however many entries hold it (a trail's entries
    share their time)."""
    statement, binds = _insert_for(dialect)
    bound = [(i, bind) for i, bind in enumerate(binds) if bind is not None]
    if not bound:
        return statement, [tuple(row) for row in rows]
    done: dict[tuple[int, int], object] = {}  # every row lives: ids stay unique
    values: list[tuple[object, ...]] = []
    for row in rows:
        converted: list[object] = list(row)
        for i, bind in bound:
            key = (i, id(row[i]))
            if key not in done:
                done[key] = bind(row[i])
            converted[i] = done[key]
        values.append(tuple(converted))
    return statement, values


def _text(column: str, value: str | None) -> str | None:
    """``value`` as ``column`` holds it: PostgreSQL text cannot hold NUL
    (``CharacterNotInRepertoireError``), and a ``VARCHAR(n)`` refuses longer
    values (an operation name is any length)."""
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")[: TEXT_LIMITS[column]]


def _refused_entry(exc: BaseException) -> bool:
    """Whether the database refused the entry's values (SQLSTATE classes 22,
    data, and 23, integrity; a number past ``BIGINT``), rather than failing to
    write at all."""
    if isinstance(exc, ValueError | TypeError | OverflowError | DataError):
        return True
    cause = getattr(exc, "orig", None) or exc
    state = getattr(cause, "sqlstate", None)
    return isinstance(state, str) and state[:2] in ("22", "23")
