"""A Redis Cluster and a Sentinel setup of the caller's own, on loopback.

``own_cluster``: three masters (``redis-server --cluster-enabled yes``) joined
by ``redis-cli --cluster create``, no replicas; its URL is
``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/``, and it can be
killed and started again (an outage of the whole cluster); with a replica per
master, one master killed is a failover.
``own_sentinel``: a master, its replica and one sentinel watching them
(``redis-server <conf> --sentinel``: Debian's ``redis-sentinel`` package is
the same binary); its URL is ``redis+sentinel://127.0.0.1:S/<service>/0``,
and the master killed is a failover to the replica.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.redis_server import RedisServer
from bench.server import free_ports

SERVICE = "cgmaster"
"""The name the sentinel knows the master by."""


def _binary(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"{name} is not installed")
    return binary


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def _server(arguments: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [_binary("redis-server"), *arguments], stdout=subprocess.DEVNULL
    )
    try:
        _wait_listening(port)
        yield
    finally:
        process.kill()
        process.wait()


def _cli(*arguments: str) -> str:
    return subprocess.run(
        [_binary("redis-cli"), *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


class LocalCluster:
    """Cluster nodes on loopback, to stop and start all at once: restarted,
    each reads its ``nodes.conf`` (its slots, its peers) and the cluster is
    whole again, empty."""

    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://{hosts}/"

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self.wait_ok()

    def node(self, port: int) -> RedisServer:
        (found,) = [node for node in self.nodes if node.port == port]
        return found

    def wait_ok(self) -> None:
        """Until every running node says every slot is served."""
        self._wait("cluster_state:ok", "cluster", "info")

    def wait_failed_over(self) -> None:
        """Until a killed master's replica took its slots over."""
        self._wait("master,fail", "cluster", "nodes")
        self.wait_ok()

    def wait_replicated(self) -> None:
        """Until every running master has its replica attached."""
        self._wait("connected_slaves:1", "info", "replication", masters_only=True)

    def _wait(self, text: str, *command: str, masters_only: bool = False) -> None:
        deadline = time.monotonic() + 30
        while True:
            running = [node for node in self.nodes if node.process is not None]
            answers = [_cli("-p", str(node.port), *command) for node in running]
            if masters_only:
                roles = [_cli("-p", str(n.port), "role") for n in running]
                answers = [
                    a
                    for a, r in zip(answers, roles, strict=True)
                    if r.startswith("master")
                ]
            if all(text in answer for answer in answers):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not reach {text}")
            time.sleep(0.05)


@contextmanager
def own_cluster(
    masters: int = 3, replicas: int = 0, node_timeout_ms: int = 15_000
) -> Iterator[LocalCluster]:
    """A started cluster, every slot served (``replicas`` per master, which
    take over ``node_timeout_ms`` after their master stops answering);
    killed on the way out."""
    binary = _binary("redis-server")
    with tempfile.TemporaryDirectory(prefix="cg-cluster-") as root:
        nodes = []
        count = masters * (1 + replicas)
        ports = free_ports(2 * count)  # each node's, then its cluster bus's
        for port, bus in zip(ports[:count], ports[count:], strict=True):
            directory = Path(root) / str(port)
            directory.mkdir()
            options = [
                "--cluster-enabled", "yes",
                "--cluster-port", str(bus),  # not port + 10000: > 65535
                "--cluster-config-file", str(directory / "nodes.conf"),
                "--cluster-node-timeout", str(node_timeout_ms),
                # a replica of an idle master counts as too stale to take
                # over (its last exchange is old); 0: it always may
                "--cluster-replica-validity-factor", "0",
            ]  # fmt: skip
            nodes.append(RedisServer(binary, port, str(directory), options))
        cluster = LocalCluster(nodes)
        try:
            for node in nodes:
                node.start()
            _cli(
                "--cluster", "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas", str(replicas), "--cluster-yes",
            )  # fmt: skip
            cluster.wait_ok()
            if replicas:
                cluster.wait_replicated()
            yield cluster
        finally:
            cluster.kill()


@dataclass(frozen=True, slots=True)
class LocalSentinel:
    port: int
    """The sentinel's."""
    master: RedisServer
    replica: RedisServer
    """Promoted by the sentinel a second after the master stops answering."""

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{SERVICE}/0"

    def wait_promoted(self) -> None:
        """Until the sentinel names the replica as the master."""
        deadline = time.monotonic() + 30
        ask = ["-p", str(self.port), "sentinel", "get-master-addr-by-name", SERVICE]
        while str(self.replica.port) not in _cli(*ask):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel did not promote the replica")
            time.sleep(0.05)


@contextmanager
def own_sentinel() -> Iterator[LocalSentinel]:
    """A master, its replica and one sentinel watching them, started."""
    binary = _binary("redis-server")
    with (
        tempfile.TemporaryDirectory(prefix="cg-sentinel-") as root,
        ExitStack() as stack,
    ):
        master_port, replica_port, sentinel = free_ports(3)
        master = RedisServer(binary, master_port, root)
        replica_dir = Path(root) / "replica"
        replica_dir.mkdir()
        replica = RedisServer(
            binary,
            replica_port,
            str(replica_dir),
            ["--replicaof", "127.0.0.1", str(master.port)],
        )
        for server in (master, replica):
            server.start()
            stack.callback(server.kill)
        config = Path(root) / "sentinel.conf"
        config.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {root}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        stack.enter_context(_server([str(config), "--sentinel"], sentinel))
        deadline = time.monotonic() + 15
        while "num-slaves\n1" not in _cli("-p", str(sentinel), "sentinel", "masters"):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel does not see the master's replica")
            time.sleep(0.05)
        yield LocalSentinel(sentinel, master, replica)
