"""The ``operation`` label of ``customer_graph_graphql_requests_total`` and
its latency histogram is bounded: the client's document chooses the name, so
each new name would otherwise add series to every worker for good."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from gateway import metrics
from gateway.metrics import LONGEST_OPERATION_NAME, OTHER, OperationSeries


def _name() -> str:
    return f"Op{uuid.uuid4().hex}"


def test_the_first_names_have_their_own_series_later_ones_share_other() -> None:
    series = OperationSeries(limit=2)
    first, second, third = _name(), _name(), _name()
    assert series.of(first) is series.of(first)
    assert series.of(second) is not series.of(first)
    assert series.of(third) is series.of(_name())
    assert series.of(first) is series.of(first)  # known names keep theirs


def test_a_long_name_shares_other_and_no_name_is_anonymous() -> None:
    series = OperationSeries(limit=2)
    long = "Q" * (LONGEST_OPERATION_NAME + 1)
    longest = "Q" * LONGEST_OPERATION_NAME
    assert series.of(long) is not series.of(longest)  # room left: kept out
    series.of(_name())  # the second name: the limit reached
    spilled = series.of(_name())
    assert series.of(long) is spilled
    assert series.of(None) is series.of(None) is not spilled


def test_observed_operations_are_counted_under_their_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "OPERATIONS", OperationSeries(limit=1))
    kept, spilled = _name(), _name()
    other_before = (
        REGISTRY.get_sample_value(
            "customer_graph_graphql_requests_total",
            {"operation": OTHER, "outcome": "error"},
        )
        or 0.0
    )
    metrics.observe_operation(kept, True, 0.01)
    metrics.observe_operation(spilled, False, 0.01)
    sample = REGISTRY.get_sample_value
    assert (
        sample(
            "customer_graph_graphql_requests_total",
            {"operation": kept, "outcome": "ok"},
        )
        == 1.0
    )
    assert (
        sample(
            "customer_graph_graphql_requests_total",
            {"operation": spilled, "outcome": "error"},
        )
        is None
    )
    assert (
        sample(
            "customer_graph_graphql_requests_total",
            {"operation": OTHER, "outcome": "error"},
        )
        == other_before + 1
    )


def test_a_labelled_child_is_looked_up_once_and_counts_where_labels_would() -> None:
    connector = f"c{uuid.uuid4().hex[:8]}"
    child = metrics.labelled(
        metrics.UPSTREAM_REQUESTS, connector=connector, outcome="ok"
    )
    assert child is metrics.labelled(
        metrics.UPSTREAM_REQUESTS, connector=connector, outcome="ok"
    )
    assert child is metrics.UPSTREAM_REQUESTS.labels(connector=connector, outcome="ok")
    assert child is not metrics.labelled(
        metrics.UPSTREAM_REQUESTS, connector=connector, outcome="error"
    )
    metrics.observe_upstream(connector, "ok")
    metrics.observe_upstream(connector, "ok")
    counted = REGISTRY.get_sample_value(
        "customer_graph_upstream_requests_total",
        {"connector": connector, "outcome": "ok"},
    )
    assert counted == 2


def test_a_labelled_child_is_the_same_whatever_order_its_labels_are_given_in() -> None:
    read = f"r{uuid.uuid4().hex[:8]}"
    one = metrics.labelled(metrics.POSTHOG_FALLBACK, read=read, outcome="sent")
    other = metrics.labelled(metrics.POSTHOG_FALLBACK, outcome="sent", read=read)
    assert one is other is metrics.POSTHOG_FALLBACK.labels(read=read, outcome="sent")
    swapped = metrics.labelled(metrics.POSTHOG_FALLBACK, read="sent", outcome=read)
    assert swapped is not one
