"""A worker's commands beyond its Redis connections wait for one (up to
``CG_REDIS_TIMEOUT``) instead of failing: redis-py's default pool refused
them at once (``MaxConnectionsError``), which opened the breaker under a
burst of concurrent commands (docs/benchmarks.md, "The upstream client")."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from gateway.shared_redis.client import MAX_CONNECTIONS, SharedRedis


async def test_commands_beyond_the_pool_wait_for_a_connection(
    single_redis_url: str,
) -> None:
    shared = SharedRedis.open(single_redis_url, timeout=1.0)
    assert isinstance(shared.client, Redis)
    pool = shared.client.connection_pool
    assert pool.max_connections == MAX_CONNECTIONS
    pool.max_connections = 2
    empty = f"cg-test-pool-{uuid.uuid4().hex}"
    try:
        # each holds its connection 50 ms: twelve need six turns of two
        answers = await asyncio.gather(
            *(
                shared.breaker.run("get", lambda: shared.client.blpop([empty], 0.05))
                for _ in range(12)
            )
        )
        assert answers == [None] * 12
        assert shared.breaker.closed
    finally:
        await shared.aclose()
