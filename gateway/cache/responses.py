"""Whole responses of customer queries, cached until a customer they show changes.

A help-desk sidebar asks the same query for the same customer again and again,
a back-office list the same page of customers. When every root field of a
query is ``customer(id:)`` or ``node(id:)`` naming a customer, or
``customers(…)`` (a page of the list), the encoded response is kept under a
key made of the document, the operation name, the variables and the caller's
role (the role decides what personal data the response shows). Beside it are
the *versions* it was built from: one per customer it names, one for the
customer list when it shows a page of it, plus one global version.

Reading costs one ``MGET`` (the entry and the current versions together); the
entry is served only when the versions it was built from are still current.
A request seen before is known by its digest (``known``, no parsing), and on
one Redis server that ``MGET`` runs in the script that takes the caller's
rate-limit token (``OperationGate.admit_reading``): a hit is one command.
The worker that stored or read an entry holds it (``gateway.cache.held``):
its hits then read the versions only, not the entry's bytes.
Keys carry a Redis Cluster hash tag, the customer's id (``{42}``; the list's is
``{lists}``, the global version's ``{all}``): a query about one customer reads
its entry and that customer's version from one slot, and the global version
from another. Versions are read *before* the query executes, so a change that
lands while it runs makes the stored response stale at once instead of hiding
the change.

What moves a version:

- a customer's, and the list's: every change on the change bus (webhooks,
  ingest, mutations, sync), so other replicas see it too when the backend is
  Redis. Any change may move a customer into, out of or within a page, so a
  stored page lasts only until the next change to any customer; the page's
  customers are then served from their fragments (``cache/fragments.py``),
  which only their own changes invalidate;
- the global one: whatever changes many customers at once (an insights refresh,
  a new segment).

A version is a random token, never a counter, and never missing when an
answer is stored under it: one read missing (never moved yet — a customer
nobody viewed for ``VERSION_TTL`` —, or evicted by a Redis whose
``maxmemory`` policy evicts, or by the in-process LRU) is created while the
query executes (``SET NX`` of a new token, then read), and the answer is
stored only if this request's token is the one there: had anything else set
it first (a change, whose data the execution may not have seen, or another
request), the answer is not stored. Were answers stored under "missing", a
version evicted after a change would read as "missing" again and make them
current.

Responses with errors are never stored, nor one that answered a merged
record's id with its survivor: its versions are the merged id's, which the
survivor's changes do not move (``Context.survivor_shown``). Entries expire after
``CG_RESPONSE_CACHE_TTL`` seconds whatever happens, which bounds staleness from
upstream changes nobody announced (PostHog has no webhooks). A hit still records
what it showed in the audit trail, as the original execution did.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    FieldNode,
    OperationDefinitionNode,
    OperationType,
    ValueNode,
    VariableNode,
)

from gateway import metrics
from gateway.cache.backends import CacheBackend
from gateway.cache.fragments import FragmentReader, Hit, Shown
from gateway.cache.held import Held, HeldEntries
from gateway.cache.writes import write
from gateway.changes.bus import CustomerChange
from gateway.relay.ids import decode_global_id

VERSION_TTL = 7 * 24 * 3600.0
"""Versions outlive any entry; an expired version only costs a miss."""
_SEPARATOR = b"\x00"
"""Between an entry's header and its body (JSON never holds a raw NUL)."""
_BY_ID = frozenset({"customer", "node"})
_LIST = "customers"
_KNOWN = 10_000
"""Requests whose slot is remembered (``known``), at most."""
_LISTS = "lists"
"""The customer list's version (and its entries' hash tag)."""
_FORMATS = ("v3", "v2", "v1")
"""The entries' formats, the current one first. A new one gets new keys:
during a rolling deploy the old workers and the new miss each other's
entries rather than misread them. An erasure purges every format's."""

_HELD_HIT = metrics.CACHE_REQUESTS.labels(source="response", result="hit")
"""Counted on the held lane's every answer: bound once."""

Versions = Sequence[bytes | None] | asyncio.Task[list[bytes] | None]
"""The versions an answer is stored under: as read, or (one was missing)
being created beside the execution: ``None`` if another writer set one
first, and the answer is then not stored (``ResponseCache.get``)."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cacheable request: where its entry lives and what it depends on."""

    key: str
    version_keys: tuple[str, ...]
    customer_ids: tuple[int, ...]
    lists: bool
    """Whether it shows a page of the customer list."""


class ResponseCache:
    def __init__(
        self, backend: CacheBackend, prefix: str, ttl: float, held_bytes: int = 0
    ) -> None:
        self.backend = backend
        self.ttl = ttl
        self.held = HeldEntries(held_bytes, ttl)
        """Entries this worker stored or read, served while their versions
        are current (``gateway.cache.held``); ``held_bytes`` 0: none."""
        self._prefix = prefix
        self._entries = self._entries_of(_FORMATS[0])
        self._versions = f"{prefix}:response-version:"
        self.fragment_prefix = self._fragments_of(_FORMATS[0])
        self._known: dict[str, Lookup] = {}
        """``lookup``'s answers by request digest (``known``)."""

    def fragments(self, role: str) -> FragmentReader:
        """A request's reader of customers' fragments (``cache/fragments.py``),
        valid under the same versions as whole responses."""
        return FragmentReader(self, role)

    def lookup(
        self,
        operation: OperationDefinitionNode,
        document: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        role: str,
    ) -> Lookup | None:
        """The cache slot of a query, or ``None`` when it is not cacheable."""
        if operation.operation is not OperationType.QUERY:
            return None
        digest = _digest(document, operation_name, variables, role)
        if digest is None:
            return None
        known = self._known.get(digest)
        if known is not None:  # only cacheable requests are known
            return known
        roots = _roots(operation, variables or {})
        if roots is None:
            return None
        ids, lists = roots
        unique = tuple(sorted(set(ids)))
        names = ([_LISTS] if lists else []) + [str(cid) for cid in unique]
        found = Lookup(
            key=f"{self._entries}{{{names[0]}}}:{digest}",
            version_keys=tuple(self.version_key(n) for n in ["all", *names]),
            customer_ids=unique,
            lists=lists,
        )
        if len(self._known) >= _KNOWN:
            self._known.clear()
        self._known[digest] = found
        return found

    def known(
        self,
        document: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        role: str,
    ) -> Lookup | None:
        """The slot ``lookup`` found for this very request before, without
        parsing it: read with the rate limit's token, before the gate has
        the document analysed (``OperationGate.admit_reading``)."""
        digest = _digest(document, operation_name, variables, role)
        return None if digest is None else self._known.get(digest)

    def reading(self, lookup: Lookup) -> list[str]:
        """The keys ``get`` reads: the entry, then its versions — only the
        versions when this worker holds the entry."""
        if lookup.key in self.held:
            return list(lookup.version_keys)
        return [lookup.key, *lookup.version_keys]

    def held_answer(self, lookup: Lookup, read: Sequence[bytes | None]) -> Hit | None:
        """The answer this worker holds, when ``read`` (the values at
        ``reading(lookup)``) are its versions, read while it was held; else
        ``None`` and nothing done: ``get`` with the same values then decides
        (a stale copy dropped, the entry read from Redis)."""
        if len(read) != len(lookup.version_keys):
            return None
        hit = self._held(lookup, read)
        if hit is not None:
            _HELD_HIT.inc()
        return hit

    def _held(self, lookup: Lookup, versions: Sequence[bytes | None]) -> Hit | None:
        """The held copy, if stored under ``versions``."""
        held = self.held.get(lookup.key)
        if held is None or held.versions != _texts(versions):
            return None
        return Hit(body=held.body, shown=held.shown)

    async def get(
        self, lookup: Lookup, read: Sequence[bytes | None] | None = None
    ) -> tuple[Hit | None, Versions]:
        """The entry if it is current, and the versions to store an answer
        under (for ``put``); ``read``: the values at ``reading(lookup)``, when
        already read. A version missing makes any entry stale: it is created
        in a task, beside the execution (``write``: inside
        ``deferred_writes`` the request waits for it before it ends)."""
        if read is None:
            read = await self.backend.get_many(self.reading(lookup))
        hit = None
        if len(read) == len(lookup.version_keys):  # the versions only: held here
            entry, versions = None, read
            hit = self._held(lookup, versions)
            if hit is None and all(versions):  # stale, or let go: Redis's
                self.held.drop(lookup.key)
                entry = (await self.backend.get_many([lookup.key]))[0]
        else:
            entry, versions = read[0], read[1:]
        stored_under: Versions = versions
        if not all(versions):
            created = asyncio.ensure_future(
                self._created(lookup.version_keys, versions)
            )
            await write(created)
            stored_under = created
        elif hit is None and entry is not None:
            current = _current(entry, versions)
            if current is not None:
                hit = Hit(body=current.body, shown=current.shown)
                self.held.keep(lookup.key, current)
        metrics.CACHE_REQUESTS.labels(
            source="response", result="hit" if hit else "miss"
        ).inc()
        return hit, stored_under

    async def _created(
        self, keys: Sequence[str], versions: Sequence[bytes | None]
    ) -> list[bytes] | None:
        """``versions`` (read at ``keys``) with the missing ones created; or
        ``None`` when one was set by another writer first."""
        tokens = {
            key: secrets.token_hex(8).encode()
            for key, version in zip(keys, versions, strict=True)
            if not version
        }
        held = await self.backend.add_many(tokens, VERSION_TTL)
        if list(tokens.values()) != held:
            return None
        return [v or tokens[k] for k, v in zip(keys, versions, strict=True)]

    async def put(
        self,
        lookup: Lookup,
        versions: Versions,
        body: bytes,
        shown: Shown,
    ) -> None:
        """Store ``body``: at once under versions read, once created under
        versions ``get`` created (not at all if another writer came first)."""
        if isinstance(versions, asyncio.Task):
            created = await versions
            if created is None:
                return
            versions = created
        at = time.time()
        stored = [v.decode() if v else "" for v in versions]
        header = orjson.dumps({"versions": stored, "shown": shown, "at": at})
        await self.backend.set_many({lookup.key: header + _SEPARATOR + body}, self.ttl)
        self.held.keep(lookup.key, Held.of(tuple(stored), shown, body, at, header))

    async def minted(
        self, keys: Sequence[str], versions: Sequence[bytes | None]
    ) -> list[bytes | None]:
        """``versions`` (read at ``keys``) with the missing ones created:
        no answer is ever stored under a version that is not there."""
        missing = [k for k, v in zip(keys, versions, strict=True) if not v]
        if not missing:
            return list(versions)
        tokens = {key: secrets.token_hex(8).encode() for key in missing}
        held = await self.backend.add_many(tokens, VERSION_TTL)
        made = dict(zip(tokens, held, strict=True))
        return [v or made[k] for k, v in zip(keys, versions, strict=True)]

    async def forget_customers(self, changes: Sequence[CustomerChange]) -> None:
        """Change bus subscriber: new versions for the changed customers."""
        ids = {c.customer_id for c in changes}
        await self._bump([_LISTS, *(str(cid) for cid in ids)])

    async def purge_customers(self, customer_ids: Sequence[int]) -> int:
        """Delete what is stored of erased customers, not only make it
        unreadable: their whole answers and fragments, and every stored page
        of the list (any may show them). One scan (``delete_prefixed``); how
        many entries went."""
        self.held.clear()
        prefixes = []
        for entries, fragments in (
            (self._entries_of(f), self._fragments_of(f)) for f in _FORMATS
        ):
            prefixes.append(f"{entries}{{{_LISTS}}}:")
            for cid in customer_ids:
                prefixes += [f"{entries}{{{cid}}}:", f"{fragments}{{{cid}}}:"]
        return await self.backend.delete_prefixed(prefixes)

    def _entries_of(self, version: str) -> str:
        return f"{self._prefix}:response:{version}:"

    def _fragments_of(self, version: str) -> str:
        return f"{self._prefix}:response-fragment:{version}:"

    async def forget_all(self) -> None:
        await self._bump(["all"])

    async def _bump(self, names: Sequence[str]) -> None:
        token = secrets.token_hex(8).encode()
        await self.backend.set_many(
            {self.version_key(name): token for name in names}, VERSION_TTL
        )

    def version_key(self, name: str) -> str:
        """A version's key: a customer id, or ``all``."""
        return f"{self._versions}{{{name}}}"


def _digest(
    document: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    role: str,
) -> str | None:
    """What names a request's answer: its document, operation, variables and
    the caller's role (which decides what personal data it shows). ``None``
    for variables nested past what orjson encodes (254 levels): not cached."""
    try:
        encoded = orjson.dumps(
            [document, operation_name, variables or {}, role],
            option=orjson.OPT_SORT_KEYS,
        )
    except TypeError:  # orjson.JSONEncodeError
        return None
    return hashlib.sha256(encoded).hexdigest()


def _texts(versions: Sequence[bytes | None]) -> tuple[str, ...]:
    return tuple(v.decode() if v else "" for v in versions)


def _current(entry: bytes, versions: Sequence[bytes | None]) -> Held | None:
    """The entry, when stored under ``versions``; ``None`` when not, or when
    its header cannot be read (a miss, never an error)."""
    header, _, body = entry.partition(_SEPARATOR)
    now = _texts(versions)
    try:
        meta = orjson.loads(header)
        if tuple(meta["versions"]) != now:
            return None
        return Held.of(now, meta["shown"], body, float(meta["at"]), header)
    except (ValueError, KeyError, TypeError):
        return None


def _roots(
    operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> tuple[list[int], bool] | None:
    """The customers a query's root fields name by id, and whether one asks for
    a page of the list; ``None`` unless it is a query whose every root field
    is one of these."""
    if operation.operation is not OperationType.QUERY:
        return None
    ids: list[int] = []
    lists = False
    for field in operation.selection_set.selections:
        if not isinstance(field, FieldNode):
            return None  # a fragment at the root: not worth reading through
        name = field.name.value
        if name == "__typename":
            continue
        if field.directives:
            return None
        if name == _LIST:
            lists = True
            continue
        if name not in _BY_ID:
            return None
        arguments = {a.name.value: a.value for a in field.arguments or ()}
        if set(arguments) != {"id"}:
            return None
        raw = _value(arguments["id"], variables)
        if not isinstance(raw, str):
            return None
        try:
            type_name, pk = decode_global_id(raw)
        except Exception:  # a malformed id: let the executor report it
            return None
        if type_name != "Customer":
            return None
        ids.append(pk)
    return (ids, lists) if ids or lists else None


def _value(node: ValueNode, variables: Mapping[str, Any]) -> object:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    return getattr(node, "value", None)
