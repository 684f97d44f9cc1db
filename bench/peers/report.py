"""The side-by-side table: our gateway and the peers, per shape.

Each peer row is compared with our row of the same kind: a peer without a
cache with ``loaders, no cache`` (every request executes and reads the
upstreams, on both sides), Hive's ``responseCaching`` row (warm) with our warm
row. The ratios read "ours against the peer": req/s and CPU above 1 mean ours
serves more requests and spends more CPU per request; p50 below 1 means ours
answers sooner.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from bench.peers.run import PEER_SHAPES
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE, Shape
from bench.runner import Measurement, Report

OURS = "Customer Graph"


def peers_section(report: Report) -> list[str]:
    if not report.peers and not report.peers_skipped:
        return []
    lines = [
        "## Peers",
        "",
        "The same shapes asked of other servers on the same simulators, latency, "
        "machine, worker count and load generator (`bench/peers`, "
        "docs/benchmarks.md § Peers): *plain Strawberry* "
        "(`bench/peers/plain.py`: a resolver per field calling the upstreams, "
        "no DataLoader, no cache) and *Hive Gateway + Mesh* (a Mesh supergraph "
        "of the three simulators, `bench/peers/hive/`), without and with its "
        "`responseCaching`. Each peer asks the shape in its own schema "
        "(`bench/peers/queries.py`). *calls* — upstream requests per view "
        "counted at the simulators during the single requests; *p50* — one "
        "request at a time; *req/s*, *load p99* — the continuous load; *CPU "
        "ms/req* — CPU seconds of the server's processes (workers included, "
        "from `/proc`) during the load, per request; *errors* — requests "
        "answered with errors or not at all (not counted in req/s). *ours ×* — "
        "our figure "
        "divided by the peer's, against our row of the same kind (no cache: "
        "`loaders, no cache`; warm: our warm row).",
        "",
    ]
    for shape in PEER_SHAPES:
        lines.extend(_table(report, shape))
    for peer, reason in report.peers_skipped.items():
        lines.append(f"- {peer} did not run: {reason}")
    if report.peers_skipped:
        lines.append("")
    return lines


def _table(report: Report, shape: Shape) -> list[str]:
    ours = {m.state: m for m in report.measurements if m.shape.key == shape.key}
    uncached = _ours_uncached(report.measurements, shape)
    lines = [
        f"### {shape.title}",
        "",
        "| server | cache | calls | p50 ms | req/s | load p99 ms | CPU ms/req "
        "| errors | ours × calls | ours × p50 | ours × req/s | ours × CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for state in ("cold", "warm", "warm, list changed"):
        if state in ours:
            lines.append(_row(f"{OURS}, loaders + cache", ours[state], None))
    if uncached is not None:
        lines.append(_row(f"{OURS}, loaders, no cache", uncached, None))
    for peer in (m for m in report.peers if m.shape.key == shape.key):
        baseline = ours.get("warm") if peer.state == "warm" else uncached
        lines.append(_row(peer.mode.name, peer, baseline))
    lines.append("")
    return lines


def _ours_uncached(rows: Iterable[Measurement], shape: Shape) -> Measurement | None:
    for m in rows:
        if m.shape.key == shape.key and m.state == "uncached" and m.mode.loaders:
            return m
    return None


def _row(name: str, m: Measurement, baseline: Measurement | None) -> str:
    cells = [
        name,
        m.state,
        _n(m.calls.total),
        _ms(m.single.percentile_ms(50)),
        f"{m.load.per_second:.0f}",
        _ms(m.load.percentile_ms(99)),
        _ms(m.cpu_ms_per_request, digits=2),
        str(m.single.errors + m.load.errors),
    ]
    if baseline is None:
        cells += ["", "", "", ""]
    else:
        cells += [
            _ratio(baseline.calls.total, m.calls.total),
            _ratio(baseline.single.percentile_ms(50), m.single.percentile_ms(50)),
            _ratio(baseline.load.per_second, m.load.per_second),
            _ratio(baseline.cpu_ms_per_request, m.cpu_ms_per_request),
        ]
    return "| " + " | ".join(cells) + " |"


def _ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return "–"
    value = ours / theirs
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _ms(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"


def _n(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


HIVE = "Hive Gateway + Mesh"
HIVE_CACHED = "Hive Gateway + Mesh + responseCaching"
Row = tuple[str, str, str, bool | None]


def peer_targets(report: Report) -> list[Row]:
    """Issue 20's targets against Hive Gateway + Mesh, as (name, wanted,
    measured, met) rows for the report's Targets table; none without Hive."""
    rows = [*report.measurements, *report.peers]
    found: list[Row] = []
    for shape, factor in ((CUSTOMER_PAGE, 1.0), (CUSTOMER_360, 2.0)):
        ours = _find(rows, "loaders + cache", shape, "warm")
        hive = _find(rows, HIVE_CACHED, shape, "warm")
        if ours is not None and hive is not None:
            ratio = _safe(ours.load.per_second, hive.load.per_second)
            found.append(
                (
                    f"warm {shape.title}: req/s against Hive + responseCaching",
                    f"≥ {factor:g} ×",
                    f"{ratio:.2f} × ({ours.load.per_second:.0f} against "
                    f"{hive.load.per_second:.0f} req/s)",
                    ratio >= factor,
                )
            )
    ours = _find(rows, "loaders, no cache", CUSTOMER_360, "uncached")
    hive = _find(rows, HIVE, CUSTOMER_360, "uncached")
    if ours is not None and hive is not None:
        ratio = _safe(ours.cpu_ms_per_request, hive.cpu_ms_per_request)
        found.append(
            (
                "uncached 360 view: gateway CPU per view against Hive",
                "≤ 1 ×",
                f"{ratio:.2f} × ({ours.cpu_ms_per_request:.1f} against "
                f"{hive.cpu_ms_per_request:.1f} ms)",
                ratio <= 1,
            )
        )
    for shape in PEER_SHAPES:
        cold = _find(rows, "loaders + cache", shape, "cold")
        peers = [m for m in report.peers if m.shape.key == shape.key]
        uncached = [m for m in peers if m.state == "uncached"]
        if cold is not None and uncached:
            fewest = min(m.calls.total for m in uncached)
            found.append(
                (
                    f"{shape.title}: upstream calls per view against the peers",
                    "≤ every peer's",
                    f"{_n(cold.calls.total)} (peers: "
                    + ", ".join(f"{_n(m.calls.total)}" for m in uncached)
                    + ")",
                    cold.calls.total <= fewest,
                )
            )
    return found


def _find(
    rows: Iterable[Measurement], mode: str, shape: Shape, state: str
) -> Measurement | None:
    for m in rows:
        if m.mode.name == mode and m.shape.key == shape.key and m.state == state:
            return m
    return None


def _safe(ours: float, theirs: float) -> float:
    return ours / theirs if theirs > 0 and not math.isnan(theirs) else math.nan
