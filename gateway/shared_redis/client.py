"""The one Redis client of a process, and its breaker.

``CG_REDIS_URL`` names one server, a Redis Cluster or a Sentinel-watched
master (``gateway.redis_address``); whichever it is, the client fails fast:
one timeout (``CG_REDIS_TIMEOUT``) bounds connecting and every command, and
redis-py's retries are off — redis-py 8 retries a failed command up to 10
times with a backoff capped at 1 s by default (redis-py 8.1.0,
``redis/_defaults.py``: ``DEFAULT_RETRY_COUNT = 10``, ``DEFAULT_RETRY_BASE =
0.01``, ``DEFAULT_RETRY_CAP = 1``; the ``retry=`` default of ``Redis`` and of
``RedisCluster``, whose retries also re-read the cluster's topology). Whether
to try again is the breaker's decision, taken once for every user of the
process. A cluster client that failed re-reads the topology on its next call
(redis-py marks it for that on a connection error or timeout), so the
breaker's probe after a failover finds the promoted replica; a Sentinel
client asks the sentinels for the master on each new connection.

The few commands whose form differs on a cluster are here: ``mget`` (one
``MGET`` per hash slot there) and the change feed's channel (sharded pub/sub,
``channels.py``). Pipelines, ``DEL`` and one-key scripts need nothing: a
cluster pipeline sends each command to its slot's node, one round trip per
node, and redis-py's cluster ``delete`` splits its keys per slot.

Every connection names itself (``CLIENT SETNAME``, ``client_name()``), so an
operator reading ``CLIENT LIST`` on a shared Redis tells the gateway's
connections from other clients', and each from its host and process.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from gateway.redis_address import RedisAddress, parse_redis_url
from gateway.shared_redis.batched import BatchedScript
from gateway.shared_redis.breaker import RedisBreaker
from gateway.shared_redis.direct import close_links, reset_links

NAME = "customer-graph"
"""``CG_REDIS_CLIENT_NAME``'s default: what connections are named by."""
MAX_CONNECTIONS = 100
"""Connections a process keeps to a single Redis server (redis-py's default
pool size; a cluster's and Sentinel's clients keep redis-py's own pools).
A command that finds them all busy waits up to ``CG_REDIS_TIMEOUT`` for one
(``BlockingConnectionPool``), as it would for an answer: redis-py's default
pool refused it at once (``MaxConnectionsError``), and a burst of more than
100 commands in flight in one worker opened the breaker."""


@dataclass(slots=True)
class SharedRedis:
    client: Redis | RedisCluster
    breaker: RedisBreaker
    sentinel: Sentinel | None = None
    """The sentinels' clients, closed with the rest (Sentinel mode only)."""
    scripts: dict[str, BatchedScript] = field(default_factory=dict)
    """``script``'s instances, by their Lua text."""

    @classmethod
    def open(
        cls, url: str, timeout: float, prefix: str = "cg", name: str = NAME
    ) -> SharedRedis:
        """A client of ``url``, its connections named ``client_name(name)``
        (none when ``name`` is empty)."""
        address = parse_redis_url(url)
        options = _options(timeout, name)
        sentinel = None
        client: Redis | RedisCluster
        if address.mode == "cluster":
            client = _cluster(address, options)
        elif address.mode == "sentinel":
            sentinel, client = _sentinel(address, options)
        else:
            client = Redis.from_pool(
                BlockingConnectionPool.from_url(
                    url, max_connections=MAX_CONNECTIONS, timeout=timeout, **options
                )
            )

        async def probe() -> None:
            """A write, not a PING: a server that answers but refuses writes
            (a read-only replica during a failover, out of memory) is not back.
            On a cluster the write reaches one master; every master must
            answer a PING too."""
            await client.set(f"{prefix}:redis-probe", b"1", px=1000)
            if isinstance(client, RedisCluster):
                await client.ping(target_nodes=RedisCluster.PRIMARIES)

        async def reset() -> None:
            """Drop the idle connections. Not those in use: redis-py dropped
            under a command raises ``AttributeError`` from it (a ``None``
            writer or reader, redis-py issue #2349); a command on the wire
            ends as Redis answers or fails it, and redis-py then disconnects
            a connection that failed."""
            if isinstance(client, RedisCluster):
                for node in client.get_nodes():
                    await node.disconnect_free_connections()
            else:
                await client.connection_pool.disconnect(inuse_connections=False)
                reset_links(client)  # the script calls' own connection too

        breaker = RedisBreaker(probe, reset=reset, timeout=timeout)
        return cls(client, breaker, sentinel)

    def script(self, text: str) -> BatchedScript:
        """The one ``BatchedScript`` of ``text`` on this client: whoever calls
        it in a turn (each upstream's budget bucket) shares that turn's write."""
        found = self.scripts.get(text)
        if found is None:
            found = self.scripts[text] = BatchedScript(self.client, text)
        return found

    async def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """``MGET``; on a cluster one per hash slot of ``keys`` (pipelined,
        one round trip per node), answers in the order of ``keys``."""
        if isinstance(self.client, RedisCluster):
            values = await self.client.mget_nonatomic(list(keys))
        else:
            values = await self.client.mget(list(keys))
        return as_bytes(values)

    async def aclose(self) -> None:
        await self.breaker.aclose()
        close_links(self.client)
        await self.client.aclose()
        if self.sentinel is not None:
            for client in self.sentinel.sentinels:
                await client.aclose()


def client_name(name: str = NAME) -> str | None:
    """This process's name in ``CLIENT LIST``: ``<name>:<host>:<pid>`` (the
    host a pod's name on Kubernetes; anything but letters, digits, ``.``,
    ``_`` and ``-`` made ``-``, as Redis refuses spaces in a name); ``None``
    for an empty ``name`` (``CG_REDIS_CLIENT_NAME``)."""
    if not name:
        return None
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64] or "-"
    return f"{name}:{host}:{os.getpid()}"


class _Options(TypedDict):
    socket_timeout: float
    socket_connect_timeout: float
    retry: Retry
    health_check_interval: int
    client_name: str | None


def _options(timeout: float, name: str) -> _Options:
    """Fail fast (the module's docstring), and say who connects."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 30,
        "client_name": client_name(name),
    }


def _cluster(address: RedisAddress, options: _Options) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        username=address.username,
        password=address.password,
        ssl=address.tls,
        **options,
    )


def _sentinel(address: RedisAddress, options: _Options) -> tuple[Sentinel, Redis]:
    """The sentinels (no password: the URL's is the master's) and a client of
    the master they name."""
    # untyped before redis-py 8.2, typed since: either passes
    sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        list(address.nodes),
        sentinel_kwargs={**options, "ssl": address.tls},
    )
    client = sentinel.master_for(
        address.service,
        db=address.db,
        username=address.username,
        password=address.password,
        ssl=address.tls,
        **options,
    )
    return sentinel, client


def as_bytes(values: Sequence[bytes | str | None]) -> list[bytes | None]:
    """An ``MGET``'s values as bytes, whichever form the client answered in."""
    return [v.encode() if isinstance(v, str) else v for v in values]
