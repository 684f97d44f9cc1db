"""The benchmark of the gateway's loaders and cache: ``python -m bench``.

Seeds the demo world, serves the upstream simulators with a simulated latency,
starts ``customer-graph serve`` with and without loaders and cache, and writes
latency, throughput and upstream calls per query to ``docs/benchmarks.md``.
"""
