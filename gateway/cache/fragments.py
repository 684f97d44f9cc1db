"""Each customer's encoded part of a response, cached until that customer changes.

The response cache (``gateway.cache.responses``) keeps whole answers to
``customer(id:)``; a page of customers, a segment's members or any other
query showing several customers is different on every call (another page,
another filter) but mostly made of the same customers asked the same way. So
every ``Customer`` object a query completes is kept on its own: its encoded
JSON, under a key made of the customer's id and a digest of what was asked of
it (the selection set as printed, the fragments and variable values it uses,
and the caller's role, which decides what personal data it shows).

A query reads the fragments of a level's customers, and the versions they
depend on, in one ``MGET`` (``FragmentReader.read``, batched per event-loop
turn); only customers without a current fragment execute
(``gateway.http.fragments``). Validity:

- the **versions** of the response cache: the customer's and the global one,
  read *before* the customer's fields execute and stored with the fragment, so
  a change that lands while it executes makes it stale at once. What executes
  then shares no upstream read begun before them
  (``connectors.scope.fresh_from_now``); and a customer whose versions moved
  since this request first read them is not stored: the request's loaders may
  hold what an earlier occurrence of the customer read before the change.
  A missing version is created before the fragment executes
  (``ResponseCache.minted``): nothing is stored under "missing";
- the customer row's **``updated_at``**: the row of a page is read before the
  versions are (by the page's own statement), so a fragment also names the row
  it was built from, and serves only a request that read the same row.

A fragment is served whole or not at all: one customer's part of a response
is never half from the cache and half executed. A fragment is stored only when
its part of the response has no error and no stale upstream value. Like a
whole response, it expires after ``CG_RESPONSE_CACHE_TTL`` seconds whatever
happens (PostHog announces nothing). A hit records in the audit trail what the
fragment showed, as its execution did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiodataloader import DataLoader

from connectors.scope import fresh_from_now
from gateway import metrics

if TYPE_CHECKING:
    from gateway.cache.responses import ResponseCache

_SEPARATOR = b"\x00"
"""Between a fragment's header and its body (JSON never holds a raw NUL)."""

Shown = Mapping[str, Sequence[int]]
"""What a stored answer showed, for the audit trail, as the trail gives it to
be stored and replays it (``gateway.auth.audit.Shown``)."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored answer, a whole response or a customer's fragment, current."""

    body: bytes
    shown: Shown


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one customer's fragment for one selection lives."""

    customer_id: int
    selection: str
    """The digest of what was asked of the customer, the role included."""


@dataclass(frozen=True, slots=True)
class Read:
    """One customer's fragment as read, with the versions current at that moment."""

    entry: bytes | None
    versions: tuple[str, str]
    """(global, customer): what a fragment built now is stored under."""
    kept: bool = True
    """Whether a fragment built now may be stored: the versions are those
    this request first read for the customer."""

    def current(self, updated_at: datetime) -> Hit | None:
        """The fragment, if it was built from these versions and this row."""
        meta: dict[str, Any] | None = None
        if self.entry is not None:
            header, _, body = self.entry.partition(_SEPARATOR)
            meta = orjson.loads(header)
            if meta["v"] != list(self.versions) or meta["u"] != updated_at.isoformat():
                meta = None
        metrics.CACHE_REQUESTS.labels(
            source="fragment", result="miss" if meta is None else "hit"
        ).inc()
        if meta is None:
            return None
        return Hit(body=body, shown=meta["s"])


class FragmentReader:
    """One request's fragments: batched reads, writes gathered for ``flush``."""

    def __init__(self, cache: ResponseCache, role: str) -> None:
        self.cache = cache
        self.role = role
        self._loader: DataLoader[Slot, Read] = DataLoader(self._read_many, cache=False)
        self._writes: dict[str, bytes] = {}
        self._first: dict[int, tuple[str, str]] = {}
        """The versions this request first read, by customer."""

    def digest(self, selection: bytes) -> str:
        """The digest naming a selection (printed, with its fragments and
        variable values) as this request's role sees it."""
        material = self.role.encode() + _SEPARATOR + selection
        return hashlib.sha256(material).hexdigest()[:32]

    async def read(self, slot: Slot) -> Read:
        """The slot's fragment; reads of one event-loop turn share one ``MGET``."""
        read: Read = await self._loader.load(slot)
        return read

    def store(
        self,
        slot: Slot,
        read: Read,
        updated_at: datetime,
        shown: Shown,
        body: bytes,
    ) -> None:
        """Keep ``body`` for the slot, under the versions ``read`` found; written
        by ``flush``. Not if those moved since the request first read them."""
        if not read.kept:
            return
        header = orjson.dumps(
            {
                "v": list(read.versions),
                "u": updated_at.isoformat(),
                "s": shown,
            }
        )
        self._writes[self._key(slot)] = header + _SEPARATOR + body

    async def flush(self) -> None:
        """Write what ``store`` gathered: one ``set_many`` per request."""
        if self._writes:
            writes, self._writes = self._writes, {}
            await self.cache.backend.set_many(writes, self.cache.ttl)

    async def _read_many(self, slots: Sequence[Slot]) -> list[Read]:
        ids = sorted({slot.customer_id for slot in slots})
        version_keys = [self.cache.version_key("all")] + [
            self.cache.version_key(str(cid)) for cid in ids
        ]
        raw = await self.cache.backend.get_many(
            [self._key(slot) for slot in slots] + version_keys
        )
        entries = raw[: len(slots)]
        found = await self.cache.minted(version_keys, raw[len(slots) :])
        # what executes now is stored under these versions: a read begun
        # before them may predate a change they follow
        fresh_from_now()
        versions = [v.decode() if v else "" for v in found]
        by_id = {c: (versions[0], v) for c, v in zip(ids, versions[1:], strict=True)}
        for customer_id, read in by_id.items():
            self._first.setdefault(customer_id, read)
        reads = []
        for slot, entry in zip(slots, entries, strict=True):
            read = by_id[slot.customer_id]
            reads.append(Read(entry, read, read == self._first[slot.customer_id]))
        return reads

    def _key(self, slot: Slot) -> str:
        return f"{self.cache.fragment_prefix}{{{slot.customer_id}}}:{slot.selection}"
