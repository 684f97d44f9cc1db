"""``python -m bench [options]``: run the benchmark, print and write the report.

Options are parsed here once; ``customer-graph bench`` passes its arguments on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.peers.run import CHOICES
from bench.report import render, targets, write
from bench.runner import Options, Report, run

DEFAULT_OUTPUT = Path("docs/benchmarks.md")


def parse(
    argv: Sequence[str] | None, prog: str = "python -m bench"
) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Benchmark the gateway's DataLoaders and Redis cache against "
        "the simulated upstreams.",
    )
    default = Options()
    parser.add_argument("--customers", type=int, help=f"default {default.customers}")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=default.latency_ms,
        help="simulated upstream latency per call (default %(default)s)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server; the run creates and drops a database on it "
        "(default: SQLite in a temporary directory)",
    )
    parser.add_argument("--redis-url", default=default.redis_url)
    parser.add_argument("--workers", type=int, default=default.workers)
    parser.add_argument("--concurrency", type=int, default=default.concurrency)
    parser.add_argument("--samples", type=int, help="sequential requests per row")
    parser.add_argument("--requests", type=int, help="requests per load, at most")
    parser.add_argument("--duration", type=float, help="seconds per load, at most")
    parser.add_argument(
        "--warm-up",
        type=float,
        help="seconds of load per shape on each server before timing it "
        f"(default {default.warm_up:g}; 0: a few requests only)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (50 customers, few requests); writes no file "
        "unless --output is given",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"the Markdown report (default {DEFAULT_OUTPUT}; none with --quick)",
    )
    parser.add_argument(
        "--peers",
        choices=CHOICES,
        default=default.peers,
        help="measure other servers on the same simulators: plain Strawberry, "
        "Hive Gateway + Mesh (needs Node.js; npm ci the first time) "
        "(default %(default)s: both, Hive only where Node.js is installed)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="alternated rounds of each target against a peer, both servers up; "
        f"even, so each is first as often (default {default.rounds}; 2 with "
        "--quick; 0: none)",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and (args.rounds < 0 or args.rounds % 2):
        parser.error("--rounds must be an even number (0: none)")
    small = args.quick
    options = Options(
        customers=args.customers or (50 if small else default.customers),
        latency_ms=args.latency_ms,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workers=args.workers,
        concurrency=args.concurrency,
        samples=args.samples or (5 if small else default.samples),
        sample_budget=2.0 if small else default.sample_budget,
        requests=args.requests or (40 if small else default.requests),
        duration=args.duration or (2.0 if small else default.duration),
        warm_up=(
            args.warm_up
            if args.warm_up is not None
            else (0.5 if small else default.warm_up)
        ),
        peers=args.peers,
        rounds=args.rounds
        if args.rounds is not None
        else (2 if small else default.rounds),
    )
    output = args.output or (None if small else DEFAULT_OUTPUT)
    return options, output


def failed(report: Report) -> tuple[int, int]:
    """Requests answered with errors or not at all: ours, and the peers'."""
    ours = sum(m.single.errors + m.load.errors for m in report.measurements)
    theirs = sum(m.single.errors + m.load.errors for m in report.peers)
    ours += sum(r.ours.errors for r in report.rounds)
    theirs += sum(r.theirs.errors for r in report.rounds)
    return ours, theirs


def main(argv: Sequence[str] | None = None, prog: str = "python -m bench") -> int:
    """Run; 0 when the run completed (a missed target, or a peer failing
    requests, is a finding, not a failure), 1 when one of our queries
    answered with errors."""
    options, output = parse(argv, prog)
    report = asyncio.run(run(options, lambda line: print(line, file=sys.stderr)))
    if output is not None:
        figures = write(report, output)
        print(f"written to {output}", file=sys.stderr)
    else:
        figures = render(report)
    print(figures)
    ours, theirs = failed(report)
    if ours:
        print(
            f"{ours} requests failed; the gateways' logs: {report.logs}",
            file=sys.stderr,
        )
    if theirs:
        print(
            f"the peers failed {theirs} requests (their table's errors column); "
            f"their logs: {report.logs}",
            file=sys.stderr,
        )
    for peer, reason in report.peers_skipped.items():
        print(f"peer skipped: {peer}: {reason}", file=sys.stderr)
    missed = [t.name for t in targets(report) if t.met is False]
    if missed:
        print(f"targets missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if ours else 0


if __name__ == "__main__":
    raise SystemExit(main())
