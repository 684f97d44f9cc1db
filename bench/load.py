"""The load generator: timed GraphQL requests, alone or concurrently, each on a
keep-alive connection of its own (``KeepAlive``: pre-built request bytes, a few
microseconds of the client's CPU a request; ``open_loop``'s over httpx).

Four ways to send, because the figures answer different questions:

- ``sequential`` — one request at a time: latency without queueing, what one
  user waits (and the only fair way to time a cold request).
- ``closed_loop`` — ``concurrency`` clients, each sending its next request as
  soon as the last one answered, until a request count or a deadline: the
  throughput the gateway sustains.
- ``waves`` — ``concurrency`` requests at once, all answered before the next
  wave, with a hook between waves (the runner evicts the cache there): the
  throughput of a cold cache, which a continuous load would warm at once.
- ``open_loop`` — a fixed rate, whatever the answers take (as users arrive):
  a slow phase shows as latency, not as fewer requests (``bench/outage.py``).

A response with GraphQL errors or a non-200 status counts as an error, never as
a fast success.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

Json = dict[str, Any]


class QueryFailed(Exception):
    """A benchmark query answered with errors: the figures would be meaningless."""


@dataclass(frozen=True, slots=True)
class Request:
    document: str
    variables: Json

    def body(self) -> bytes:
        return orjson.dumps({"query": self.document, "variables": self.variables})


@dataclass(frozen=True, slots=True)
class Budget:
    """How much load: ``concurrency`` clients, until ``requests`` were sent or
    ``duration`` seconds passed, whichever comes first."""

    concurrency: int
    requests: int
    duration: float


@dataclass(frozen=True, slots=True)
class Timings:
    """Latencies (seconds) of the answered requests, and what they cost in time."""

    latencies: tuple[float, ...]
    errors: int
    elapsed: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile: with 20 samples, p99 is the slowest."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(math.ceil(q / 100 * len(ordered)), 1)
        return ordered[rank - 1] * 1000


async def post(client: httpx.AsyncClient, request: Request) -> Json:
    """Send once; the parsed ``data``, or ``QueryFailed``."""
    response = await client.post("/graphql", content=request.body(), headers=_HEADERS)
    body = _parse(response)
    if body is None:
        raise QueryFailed(f"HTTP {response.status_code}: {response.text[:500]}")
    data: Json = body["data"]
    return data


async def sequential(
    client: httpx.AsyncClient,
    request: Request,
    samples: int,
    *,
    before_each: Callable[[], Awaitable[None]] | None = None,
    after_each: Callable[[], None] | None = None,
    budget: float = math.inf,
) -> Timings:
    """``samples`` requests one after another (fewer once ``budget`` seconds
    passed, but at least two) on one keep-alive connection (``KeepAlive``:
    httpx's own ~1 ms a request is not in the latency); the hooks run outside
    the timing."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    connection = await KeepAlive.open(client, request)
    try:
        for n in range(samples):
            if n >= 2 and time.perf_counter() - started > budget:
                break
            if before_each is not None:
                await before_each()
            began = time.perf_counter()
            ok = await connection.send()
            seconds = time.perf_counter() - began
            if after_each is not None:
                after_each()
            if ok:
                latencies.append(seconds)
            else:
                errors += 1
    finally:
        connection.close()
    return Timings(tuple(latencies), errors, sum(latencies))


async def closed_loop(
    client: httpx.AsyncClient,
    request: Request,
    budget: Budget,
) -> Timings:
    """``budget.concurrency`` clients, each sending again once answered.

    Each client is one keep-alive connection of ``KeepAlive`` to the server
    ``client`` points at, with ``client``'s headers: httpx costs ~0.5 ms of CPU
    a request, on the cores the gateway is measured on, which would cap the
    figure at the load generator's speed."""
    latencies: list[float] = []
    errors = 0
    sent = 0
    connections = await asyncio.gather(
        *(KeepAlive.open(client, request) for _ in range(budget.concurrency))
    )
    # Timed from here: connecting is not the load's (on a machine stalled
    # while the clients connected, a deadline begun before it passed with
    # nothing sent).
    started = time.perf_counter()
    deadline = started + budget.duration

    async def client_loop(connection: KeepAlive) -> None:
        nonlocal sent, errors
        while sent < budget.requests and time.perf_counter() < deadline:
            sent += 1
            began = time.perf_counter()
            ok = await connection.send()
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    try:
        await asyncio.gather(*(client_loop(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return Timings(tuple(latencies), errors, time.perf_counter() - started)


async def warm_up(
    client: httpx.AsyncClient,
    requests: Iterable[Request],
    budget: Budget,
    *,
    workers: int,
) -> None:
    """Each request sent ``2 × workers`` at once (every worker parses and
    validates its document), then under ``budget``'s continuous load before
    anything is timed: a server with a JIT (Node's V8, Hive Gateway's) needs
    seconds of load to reach its steady speed; the first 3,000 cached 360
    views cost Hive 1.3 ms of CPU each, later ones 0.5 ms (docs/benchmarks.md,
    "Warmed up before timing")."""
    few = Budget(workers * 2, workers * 2, 60)
    for request in requests:
        await closed_loop(client, request, few)
        if budget.duration > 0:
            await closed_loop(client, request, budget)


class KeepAlive:
    """One HTTP/1.1 connection sending the same POST again and again.

    It writes pre-built request bytes and reads the answer by its
    ``Content-Length`` (the gateway always sends one): a few microseconds of
    CPU a request. An answer counts as a success only with status 200 and a
    body without GraphQL errors; a broken connection is reopened."""

    def __init__(self, host: str, port: int, message: bytes) -> None:
        self.host = host
        self.port = port
        self.message = message
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @classmethod
    async def open(cls, client: httpx.AsyncClient, request: Request) -> KeepAlive:
        url = client.base_url
        body = request.body()
        headers = {
            "host": f"{url.host}:{url.port}",
            **{k: v for k, v in client.headers.items() if k != "accept-encoding"},
            **_HEADERS,
            "content-length": str(len(body)),
            "connection": "keep-alive",
        }
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        message = f"POST /graphql HTTP/1.1\r\n{head}\r\n".encode() + body
        connection = cls(url.host, url.port or 80, message)
        with contextlib.suppress(OSError):  # else the first send connects
            await connection._connect()  # before any timing: not a request's
        return connection

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self) -> bool:
        """One request and its answer: whether it was a clean GraphQL answer
        (a broken connection, or none within ``ANSWER_TIMEOUT``, is ``False``
        and is reconnected on the next send; one the server closed while it
        was idle — its keep-alive timeout — is reconnected first)."""
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                if self.reader is not None and self.reader.at_eof():
                    self.close()  # closed by the server while idle: a new one
                if self.writer is None:
                    await self._connect()
                assert self.reader is not None
                assert self.writer is not None
                self.writer.write(self.message)
                head = await self.reader.readuntil(b"\r\n\r\n")
                status, length = _status_and_length(head)
                body = await self.reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            self.close()
            return False
        return status == 200 and b'"errors":' not in body and body.startswith(b"{")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    raise ValueError("an answer without Content-Length")


async def waves(
    client: httpx.AsyncClient,
    request: Request,
    budget: Budget,
    *,
    between: Callable[[], Awaitable[None]],
) -> Timings:
    """Waves of ``budget.concurrency`` simultaneous requests, one on each of
    as many keep-alive connections (``KeepAlive``), ``between`` before each;
    only the waves are timed."""
    latencies: list[float] = []
    errors = 0
    elapsed = 0.0
    connections = [
        await KeepAlive.open(client, request) for _ in range(budget.concurrency)
    ]

    async def timed(connection: KeepAlive) -> tuple[bool, float]:
        began = time.perf_counter()
        ok = await connection.send()
        return ok, time.perf_counter() - began

    try:
        while len(latencies) + errors < budget.requests and elapsed < budget.duration:
            await between()
            size = min(budget.concurrency, budget.requests - len(latencies) - errors)
            started = time.perf_counter()
            results: Sequence[tuple[bool, float]] = await asyncio.gather(
                *(timed(c) for c in connections[:size])
            )
            elapsed += time.perf_counter() - started
            for ok, seconds in results:
                if ok:
                    latencies.append(seconds)
                else:
                    errors += 1
    finally:
        for connection in connections:
            connection.close()
    return Timings(tuple(latencies), errors, elapsed)


async def open_loop(
    client: httpx.AsyncClient,
    next_request: Callable[[], Request],
    rate: float,
    duration: float,
) -> Timings:
    """``rate`` requests a second for ``duration`` seconds, each sent on time
    even while earlier ones are unanswered; returns once all are answered."""
    started = time.perf_counter()
    sent: list[asyncio.Task[tuple[bool, float]]] = []
    while (due := started + len(sent) / rate) < started + duration:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sent.append(asyncio.create_task(_timed(client, next_request())))
    results = await asyncio.gather(*sent)
    latencies = tuple(seconds for ok, seconds in results if ok)
    errors = sum(1 for ok, _ in results if not ok)
    return Timings(latencies, errors, time.perf_counter() - started)


ANSWER_TIMEOUT = 120.0
"""Seconds a request may wait for its whole answer (httpx's timeout here)."""

_HEADERS = {"content-type": "application/json", "accept": "application/json"}


async def _timed(client: httpx.AsyncClient, request: Request) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        response = await client.post(
            "/graphql", content=request.body(), headers=_HEADERS
        )
    except httpx.HTTPError:
        return False, time.perf_counter() - started
    seconds = time.perf_counter() - started
    return _parse(response) is not None, seconds


def _parse(response: httpx.Response) -> Json | None:
    """The body when it is a clean GraphQL answer, else ``None``."""
    if response.status_code != 200:
        return None
    body = orjson.loads(response.content)
    if not isinstance(body, dict) or body.get("errors") or body.get("data") is None:
        return None
    return body
