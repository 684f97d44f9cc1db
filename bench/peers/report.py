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

from bench.peers.rounds import CONTESTS, Turn, Verdict
from bench.peers.run import PEER_SHAPES
from bench.queries import Shape
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
        "from `/proc`) from the load's start until idle again, per request; "
        "*errors* — requests "
        "answered with errors or not at all (not counted in req/s). *ours ×* — "
        "our figure "
        "divided by the peer's, against our row of the same kind (no cache: "
        "`loaders, no cache`; warm: our warm row).",
        "",
    ]
    for shape in PEER_SHAPES:
        lines.extend(_table(report, shape))
    lines.extend(rounds_section(report))
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


Row = tuple[str, str, str, bool | None]


def peer_targets(report: Report) -> list[Row]:
    """Issue 20's targets against Hive Gateway + Mesh, as (name, wanted,
    measured, met) rows for the report's Targets table; none without Hive.
    A target measured in alternated rounds is judged by their median ratio;
    the figures measured alone are shown beside it."""
    rows = [*report.measurements, *report.peers]
    found: list[Row] = []
    for contest in CONTESTS:
        ours = _find(rows, contest.mode, contest.shape, contest.state)
        theirs = _find(rows, contest.peer, contest.shape, contest.state)
        if ours is None or theirs is None:
            continue
        alone = contest.ratio(_turn(ours), _turn(theirs))
        if contest.cpu:
            a, b = ours.cpu_ms_per_request, theirs.cpu_ms_per_request
            figures = f"{a:.1f} against {b:.1f} ms"
        else:
            a, b = ours.load.per_second, theirs.load.per_second
            figures = f"{a:.0f} against {b:.0f} req/s"
        measured, met = f"{alone:.2f} × ({figures})", contest.met(alone)
        verdict = Verdict.of([r for r in report.rounds if r.contest == contest])
        if verdict is not None:
            judged = (
                f"met in {verdict.met_in} of {_rounds(verdict.rounds)} (median "
                f"{verdict.median:.2f} ×, {verdict.low:.2f}–{verdict.high:.2f} ×)"
            )
            # measured alone at each server's most, not at the contest's rate
            alone_too = contest.rate is None
            measured = f"{judged}; measured alone {measured}" if alone_too else judged
            met = verdict.met
        elif contest.rate is not None:
            continue  # measured in rounds only
        found.append((contest.name, contest.wanted, measured, met))
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


def _rounds(n: int) -> str:
    return f"{n} alternated round{'' if n == 1 else 's'}"


def _turn(m: Measurement) -> Turn:
    return Turn(m.load.per_second, m.cpu_ms_per_request, m.load.errors)


def rounds_section(report: Report) -> list[str]:
    """Every alternated round, by target."""
    if not report.rounds:
        return []
    lines = [
        "### Alternated rounds",
        "",
        "Each target against a peer measured again, with a pair of servers of "
        "its own: in each round both get the same continuous load one after "
        "the other, the first swapped every round (`bench/peers/rounds.py`): "
        "each server as many requests as it answers, or where the target "
        "names a rate, that many a second to each (an open loop: CPU per "
        "request at one load, whatever the machine's contention at each "
        "server's most). "
        "*machine busy*, *stolen* — the whole machine's CPU time (both "
        "cores) busy, and taken by the hypervisor, during our load / the "
        "peer's. *upstreams' CPU ms/req* — the three simulators' processes' "
        "CPU per request, ours / the peer's: what each server's calls cost "
        "the upstreams, here on the same two cores as the servers. A round "
        "with errors has no ratio. The Targets table judges these targets met "
        "when more than half of their rounds meet them.",
        "",
        "| target | round | first | ours req/s | peer req/s | ours CPU ms/req "
        "| peer CPU ms/req | upstreams' CPU ms/req | machine busy % | stolen % "
        "| errors | ratio | met |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |",
    ]
    for contest in CONTESTS:
        rounds = [r for r in report.rounds if r.contest == contest]
        for number, r in enumerate(rounds, 1):
            ratio = r.ratio
            met = "–" if math.isnan(ratio) else ("yes" if contest.met(ratio) else "no")
            lines.append(
                f"| {contest.name} | {number} | {r.first} | {r.ours.rate:.0f} | "
                f"{r.theirs.rate:.0f} | {_ms(r.ours.cpu_ms, 2)} | "
                f"{_ms(r.theirs.cpu_ms, 2)} | "
                f"{_ms(r.ours.upstream_cpu_ms)} / {_ms(r.theirs.upstream_cpu_ms)} | "
                f"{_pair(r.ours.busy, r.theirs.busy)} | "
                f"{_pair(r.ours.stolen, r.theirs.stolen)} | "
                f"{r.ours.errors + r.theirs.errors} | "
                f"{'–' if math.isnan(ratio) else f'{ratio:.2f}'} | {met} |"
            )
    lines.append("")
    return lines


def _pair(ours: float, theirs: float) -> str:
    """Two shares as percentages, ours / the peer's."""
    return " / ".join(
        "–" if math.isnan(x) else f"{x * 100:.0f}" for x in (ours, theirs)
    )
