"""Every connection the gateway opens to Redis names itself (``CLIENT
SETNAME``): an operator reading ``CLIENT LIST`` on a shared Redis tells the
gateway's connections from other clients', and each from its host and
process — its pool's, its script calls' own (``gateway.shared_redis.direct``),
and a cluster's on every node."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from bench.redis_server import RedisServer
from gateway.redis_address import parse_redis_url
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis, client_name

SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1])"


async def named(client: Redis | RedisCluster, name: str) -> int:
    """Connections named ``name`` on every server ``client`` reaches."""
    if isinstance(client, RedisCluster):
        found: Any = await client.client_list(target_nodes=RedisCluster.ALL_NODES)
        entries = [e for node in found.values() for e in node]
    else:
        entries = await client.client_list()
    return sum(entry.get("name") == name for entry in entries)


def test_the_name_says_what_host_and_process_connect() -> None:
    name = client_name()
    assert name is not None
    assert re.fullmatch(r"customer-graph:[A-Za-z0-9._-]+:\d+", name), name
    assert client_name("") is None


@pytest.mark.parametrize("name", ["with space", "new\nline", "x" * 65])
def test_a_name_redis_would_refuse_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(redis_client_name=name)


@pytest.mark.parametrize("name", ["customer-graph", "cg-eu-1", ""])
async def test_every_connection_to_redis_is_named(redis_url: str, name: str) -> None:
    """As ``CG_REDIS_CLIENT_NAME`` says; with it empty, no ``CLIENT SETNAME``
    is sent at all (a Redis whose ACL refuses it)."""
    address = parse_redis_url(redis_url)
    observer: Redis | RedisCluster = (
        RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in address.nodes])
        if address.mode == "cluster"
        else Redis.from_url(redis_url)
    )
    shared = SharedRedis.open(redis_url, timeout=1.0, name=name)
    key = f"cgtest{uuid.uuid4().hex[:10]}:named"
    mine = client_name(name)
    try:
        # this worker's other tests may hold connections of their own
        before = await named(observer, mine) if mine else 0
        await shared.client.set(key, b"1", px=5_000)
        assert await shared.script(SCRIPT)([key], ["2"])
        assert (await shared.client.client_info()).get("name", "") == (mine or "")
        if mine:
            # the pool's connection and, on one server, the script calls' own
            expected = 1 if isinstance(shared.client, RedisCluster) else 2
            assert await named(observer, mine) - before >= expected
    finally:
        await shared.aclose()
        await observer.aclose()


async def test_a_redis_refusing_client_setname_is_served_with_the_name_off(
    redis_server: RedisServer,
) -> None:
    """An ACL written before the gateway named its connections may refuse
    ``CLIENT SETNAME``: every connection then fails (an outage, the breaker
    open), until ``CG_REDIS_CLIENT_NAME`` is set empty."""
    admin = Redis.from_url(redis_server.url)
    await admin.execute_command(
        "ACL", "SETUSER", "gateway", "on", ">pw", "~*", "+@all", "-client|setname"
    )
    await admin.aclose()
    url = redis_server.url.replace("redis://", "redis://gateway:pw@")
    key = f"cgtest{uuid.uuid4().hex[:10]}:acl"
    for name, served in (("customer-graph", False), ("", True)):
        shared = SharedRedis.open(url, timeout=1.0, name=name)
        try:
            await shared.breaker.run("set", lambda s=shared: s.client.set(key, b"1"))
            assert await shared.script(SCRIPT)([key], ["2"]) if served else True
            assert shared.breaker.closed is served
        finally:
            await shared.aclose()
