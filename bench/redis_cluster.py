"""A Redis Cluster and a Sentinel setup of the caller's own, on loopback.

``own_cluster``: three masters (``redis-server --cluster-enabled yes``) joined
by ``redis-cli --cluster create``, no replicas; its URL is
``redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/``.
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


@contextmanager
def own_cluster(masters: int = 3) -> Iterator[str]:
    """The URL of a started cluster, every slot served; killed on the way out."""
    with (
        tempfile.TemporaryDirectory(prefix="cg-cluster-") as root,
        ExitStack() as stack,
    ):
        ports = [free_port() for _ in range(masters)]
        for port in ports:
            directory = Path(root) / str(port)
            directory.mkdir()
            stack.enter_context(
                _server(
                    [
                        "--port", str(port), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                        "--cluster-config-file", str(directory / "nodes.conf"),
                        "--save", "", "--appendonly", "no",
                        "--dir", str(directory),
                    ],
                    port,
                )
            )  # fmt: skip
        nodes = [f"127.0.0.1:{port}" for port in ports]
        _cli("--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes")
        deadline = time.monotonic() + 10
        while any(
            "cluster_state:ok" not in _cli("-p", str(port), "cluster", "info")
            for port in ports
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.05)
        yield "redis+cluster://" + ",".join(nodes) + "/"


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
