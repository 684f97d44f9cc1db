"""The one Redis client of a process, and its breaker.

The client fails fast: one timeout (``CG_REDIS_TIMEOUT``) bounds connecting
and every command, and redis-py's retries are off — redis-py 8 retries a
failed command up to 10 times with a backoff capped at 1 s by default
(redis-py 8.1.0, ``redis/_defaults.py``: ``DEFAULT_RETRY_COUNT = 10``,
``DEFAULT_RETRY_BASE = 0.01``, ``DEFAULT_RETRY_CAP = 1``; the ``retry=``
default of ``redis/asyncio/client.py``'s ``Redis``). Whether to try again is
the breaker's decision, taken once for every user of the process.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.shared_redis.breaker import RedisBreaker


@dataclass(slots=True)
class SharedRedis:
    client: Redis
    breaker: RedisBreaker

    @classmethod
    def open(cls, url: str, timeout: float, prefix: str = "cg") -> SharedRedis:
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )

        async def probe() -> None:
            """A write, not a PING: a server that answers but refuses writes
            (a read-only replica during a failover, out of memory) is not back."""
            await client.set(f"{prefix}:redis-probe", b"1", px=1000)

        async def reset() -> None:
            """Drop the idle connections. Not those in use: redis-py dropped
            under a command raises ``AttributeError`` from it (a ``None``
            writer or reader, redis-py issue #2349); a command on the wire
            ends as Redis answers or fails it, and redis-py then disconnects
            a connection that failed."""
            await client.connection_pool.disconnect(inuse_connections=False)

        breaker = RedisBreaker(probe, reset=reset)
        return cls(client, breaker)

    async def aclose(self) -> None:
        await self.breaker.aclose()
        await self.client.aclose()
