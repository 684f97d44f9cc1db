"""Prometheus metrics, served at ``/metrics``.

Names are part of the public interface (dashboards and alerts rely on them):
``customer_graph_upstream_requests_total{connector,outcome}``,
``customer_graph_cache_requests_total{source,result}`` and the rest below.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

REQUESTS = Counter(
    "customer_graph_graphql_requests_total",
    "GraphQL operations served, by operation name and outcome.",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "customer_graph_graphql_request_duration_seconds",
    "Time to answer a GraphQL operation once admitted (the caller, its rate "
    "limit and the query limits passed), by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
UPSTREAM_REQUESTS = Counter(
    "customer_graph_upstream_requests_total",
    "HTTP requests sent to upstreams, by connector and outcome.",
    ["connector", "outcome"],
)
UPSTREAM_SHARED = Counter(
    "customer_graph_upstream_reads_shared_total",
    "Upstream reads answered by an identical read in flight instead of being "
    "sent (the cache off), by connector.",
    ["connector"],
)
CACHE_REQUESTS = Counter(
    "customer_graph_cache_requests_total",
    "Cache look-ups by namespace and result.",
    ["source", "result"],
)
REDIS_ERRORS = Counter(
    "customer_graph_cache_errors_total",
    "Redis failures (errors and timeouts) by operation: cache reads and writes, "
    "rate limits, the change feed.",
    ["operation"],
)
REDIS_UP = Gauge(
    "customer_graph_redis_up",
    "1 while this process uses Redis, 0 while its breaker skips it; always 0"
    " in a process with no Redis configured (CG_REDIS_URL unset).",
)
REDIS_SKIPPED = Counter(
    "customer_graph_redis_skipped_total",
    "Redis calls answered in process while the breaker skipped Redis, by operation.",
    ["operation"],
)
UPSTREAM_REFUSED = Counter(
    "customer_graph_upstream_refused_total",
    "Upstream calls the guard did not send, by connector, reason (budget, "
    "breaker) and priority (interactive, background).",
    ["connector", "reason", "priority"],
)
BREAKER_STATE = Gauge(
    "customer_graph_upstream_breaker_state",
    "Each upstream's circuit breaker in this process: 0 closed, 1 half-open, 2 open.",
    ["connector"],
)
STALE_ANSWERS = Counter(
    "customer_graph_stale_answers_total",
    "Cached values served past their TTL because their upstream could not "
    "answer, by source.",
    ["source"],
)
BATCH_SIZE = Histogram(
    "customer_graph_dataloader_batch_size",
    "Keys per DataLoader batch, by loader.",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 250, 500),
)

MIRROR_EVENTS = Counter(
    "customer_graph_mirror_events_total",
    "PostHog events offered to the local event mirror, by how they arrived "
    "(destination, backfill) and what became of them (stored, duplicate, skipped).",
    ["via", "result"],
)
MIRROR_LOOKUPS = Counter(
    "customer_graph_mirror_lookups_total",
    "Persons read from the event mirror: hit (events mirrored) or miss (the "
    "live fallback's, if it is on).",
    ["result"],
)
POSTHOG_FALLBACK = Counter(
    "customer_graph_posthog_fallback_queries_total",
    "Live HogQL queries for persons the event mirror has no events of, by what "
    "they read (activity, summary) and outcome (sent, or refused by the guard "
    "without being sent: PostHog's budget or its breaker).",
    ["read", "outcome"],
)

ASYNCIO_TASKS = Gauge(
    "customer_graph_asyncio_tasks",
    "Asyncio tasks alive in this process when /metrics was read: flat under a "
    "steady load; growing, a leak (tasks never awaited or cancelled).",
)


M = TypeVar("M", Counter, Gauge, Histogram)

_CHILDREN: dict[tuple[Any, ...], Any] = {}


def labelled(metric: M, **labels: str) -> M:
    """``metric.labels(**labels)``, looked up once per metric and label values
    (``labels`` checks its arguments, converts each value and takes a lock
    every time: a few per cent of a view's CPU over its upstream calls,
    batches and cache reads). For labels from a set fixed in the code
    (connectors, loaders, outcomes), never a client's text: every child
    found is kept."""
    key = (metric, *labels.items())
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(**labels)
    return child


def observe_upstream(connector: str, outcome: str) -> None:
    """The connectors' request observer (``shared``: a read not sent)."""
    if outcome == "shared":
        labelled(UPSTREAM_SHARED, connector=connector).inc()
    else:
        labelled(UPSTREAM_REQUESTS, connector=connector, outcome=outcome).inc()


async def metrics_endpoint(request: Request) -> Response:
    ASYNCIO_TASKS.set(len(asyncio.all_tasks()))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


MAX_OPERATION_NAMES = 200
"""Distinct operation names a process labels its series with; later ones are
counted as ``other``. The client's document chooses the name, so without a
bound any caller could add series (each a counter and a histogram of 12
buckets) until ``/metrics`` and the worker's memory grew without end."""
LONGEST_OPERATION_NAME = 100
OTHER = "other"


@dataclass(frozen=True, slots=True)
class _Series:
    """One operation label's children, bound once (``labels`` takes a lock)."""

    ok: Counter
    error: Counter
    latency: Histogram

    @classmethod
    def of(cls, label: str) -> _Series:
        return cls(
            REQUESTS.labels(operation=label, outcome="ok"),
            REQUESTS.labels(operation=label, outcome="error"),
            LATENCY.labels(operation=label),
        )


class OperationSeries:
    """The series of an operation's name: its own for the first ``limit``
    distinct names of at most ``LONGEST_OPERATION_NAME`` characters, ``other``'s
    after that (OpenTelemetry's cardinality limit does the same), and
    ``anonymous``'s for an operation without one."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self._named: dict[str, _Series] = {}
        self._other = _Series.of(OTHER)
        self._anonymous = _Series.of("anonymous")

    def of(self, name: str | None) -> _Series:
        if name is None:
            return self._anonymous
        series = self._named.get(name)
        if series is not None:
            return series
        if len(self._named) >= self.limit or len(name) > LONGEST_OPERATION_NAME:
            return self._other
        series = self._named[name] = _Series.of(name)
        return series


OPERATIONS = OperationSeries()


def observe_operation(name: str | None, ok: bool, seconds: float) -> None:
    """One GraphQL operation answered, executed or from the response cache."""
    series = OPERATIONS.of(name)
    (series.ok if ok else series.error).inc()
    series.latency.observe(seconds)


class OperationMetrics(SchemaExtension):
    """Counts and times every executed GraphQL operation by name
    (``observe_operation``); the outcome is ``ok`` or ``error``, a document
    that does not parse included. Answers from the response cache execute
    nothing and are counted where they are sent (``gateway.http.graphql``).
    Every count's time is the span from the operation's admission (caller,
    rate limit and gate passed) to its answer."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        ok = False
        try:
            yield
            result = self.execution_context.result
            ok = result is not None and not result.errors
        except (GeneratorExit, asyncio.CancelledError):
            ok = True  # a subscription its client ended
            raise
        finally:
            observe_operation(
                _document_name(self.execution_context),
                ok,
                time.perf_counter() - started,
            )


def _document_name(context: ExecutionContext) -> str | None:
    """The operation's name when it names an operation of the parsed
    document: a document that does not parse leaves only the client's
    ``operationName``, any string, which must not become a label."""
    name = context.operation_name
    document = context.graphql_document
    if name is None or document is None:
        return None
    named = (
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    )
    return name if name in named else None
