"""A Redis Cluster and a Sentinel setup of the caller's own, on loopback.

``own_cluster``: three masters (``redis-server --cluster-enabled yes``) joined
by ``redis-cli --cluster create``, no replicas; its URL is
``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/``, and it can be
killed and started again (an outage of the whole cluster).
``own_sentinel``: one master and one sentinel watching it (``redis-server
<conf> --sentinel``: Debian's ``redis-sentinel`` package is the same binary);
its URL is ``redis+sentinel://127.0.0.1:S/<service>/0``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.redis_server import RedisServer
from bench.server import free_port

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

    def wait_ok(self) -> None:
        deadline = time.monotonic() + 15
        while any(
            "cluster_state:ok" not in _cli("-p", str(node.port), "cluster", "info")
            for node in self.nodes
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.05)


@contextmanager
def own_cluster(masters: int = 3) -> Iterator[LocalCluster]:
    """A started cluster, every slot served; killed on the way out."""
    binary = _binary("redis-server")
    with tempfile.TemporaryDirectory(prefix="cg-cluster-") as root:
        nodes = []
        for _ in range(masters):
            port = free_port()
            directory = Path(root) / str(port)
            directory.mkdir()
            options = [
                "--cluster-enabled", "yes",
                "--cluster-port", str(free_port()),  # not port + 10000: > 65535
                "--cluster-config-file", str(directory / "nodes.conf"),
            ]  # fmt: skip
            nodes.append(RedisServer(binary, port, str(directory), options))
        cluster = LocalCluster(nodes)
        try:
            for node in nodes:
                node.start()
            _cli(
                "--cluster", "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas", "0", "--cluster-yes",
            )  # fmt: skip
            cluster.wait_ok()
            yield cluster
        finally:
            cluster.kill()


@contextmanager
def own_sentinel() -> Iterator[str]:
    """The sentinel URL of a started master and one sentinel watching it."""
    with (
        tempfile.TemporaryDirectory(prefix="cg-sentinel-") as root,
        ExitStack() as stack,
    ):
        master, sentinel = free_port(), free_port()
        stack.enter_context(
            _server(
                ["--port", str(master), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", root],
                master,
            )
        )  # fmt: skip
        config = Path(root) / "sentinel.conf"
        config.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {root}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master} 1\n"
        )
        stack.enter_context(_server([str(config), "--sentinel"], sentinel))
        deadline = time.monotonic() + 10
        while SERVICE not in _cli("-p", str(sentinel), "sentinel", "masters"):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel does not watch the master")
            time.sleep(0.05)
        yield f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}/0"
