"""A pub/sub channel every replica publishes on and listens to.

On one server (or a Sentinel-watched master) it is classic pub/sub:
``PUBLISH`` / ``SUBSCRIBE``. On a Redis Cluster it is sharded pub/sub (Redis
7.0+): ``SPUBLISH`` / ``SSUBSCRIBE``, the channel served by the master of its
hash slot, so a message published through any node reaches the subscribers
of every replica without being broadcast over the whole cluster bus (classic
``PUBLISH`` on a cluster is sent to every node). When that master fails over,
its subscribers' connection ends: the reader's error opens the breaker and it
subscribes again once a probe finds the cluster back, on the promoted master.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub, RedisCluster

from gateway.shared_redis.client import SharedRedis


async def publish(redis: SharedRedis, channel: str, message: bytes) -> int:
    """Send ``message``; the number of subscribers (of that node) it reached."""
    if isinstance(redis.client, RedisCluster):
        sent: int = await redis.client.spublish(channel, message)
    else:
        sent = await redis.client.publish(channel, message)
    return sent


class Subscription:
    """One channel's messages, read one at a time: ``await open()``, then
    ``await next(timeout)`` (``None`` when none came), ``await aclose()``."""

    def __init__(self, redis: SharedRedis, channel: str) -> None:
        self.channel = channel
        self._client = redis.client
        self._pubsub: PubSub | ClusterPubSub = redis.client.pubsub(
            ignore_subscribe_messages=True
        )

    async def open(self) -> None:
        if isinstance(self._pubsub, ClusterPubSub):
            assert isinstance(self._client, RedisCluster)
            # SSUBSCRIBE looks up the channel's master in the slot map without
            # reading it first: read it (at start, and again after a failure).
            await self._client.initialize()
            await self._pubsub.ssubscribe(self.channel)
        else:
            await self._pubsub.subscribe(self.channel)

    async def next(self, timeout: float) -> bytes | None:
        """The next message's data, waiting ``timeout`` seconds at most."""
        message: dict[str, Any] | None
        if isinstance(self._pubsub, ClusterPubSub):
            message = await self._pubsub.get_sharded_message(
                ignore_subscribe_messages=True, timeout=timeout
            )
        else:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timeout
            )
        if message is None:
            return None
        data = message["data"]
        return data if isinstance(data, bytes) else str(data).encode()

    async def aclose(self) -> None:
        await self._pubsub.aclose()
