"""``customer-graph serve --workers 2`` spreads connections over its workers
(issue 20: with uvicorn's one shared socket, a keep-alive load often landed
on one worker while the other idled). Each worker listens on a socket of its
own with ``SO_REUSEPORT`` (``gateway/cli/serving.py``); which worker holds
each connection is read from /proc, as the kernel sees it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.server import free_port
from gateway.cli.serving import SPREAD_BY_KERNEL
from gateway.db.session import upgrade
from tests.e2e.fleet import Replica
from tests.e2e.raw_http import answered

CONNECTIONS = 16

pytestmark = pytest.mark.skipif(not SPREAD_BY_KERNEL, reason="Linux's SO_REUSEPORT")


def _environment(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    database = f"sqlite+aiosqlite:///{directory / 'gateway.db'}"
    upgrade(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    return env | {"CG_DATABASE_URL": database}


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    env = await asyncio.to_thread(
        _environment, tmp_path
    )  # migrations: a loop of their own
    served = Replica("serve", free_port(), env, tmp_path / "serve.log")
    served.start()
    try:
        await served.ready()
        yield served
        assert await served.stop() == 0
    finally:
        served.kill()


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
    return children


def _server_sockets(port: int) -> dict[int, int]:
    """Established connections to ``port`` on loopback: the client's port →
    the inode of the server's end."""
    ends = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state == "01" and int(local.split(":")[1], 16) == port:
            ends[int(remote.split(":")[1], 16)] = inode
    return ends


def _holder(inode: int, pids: list[int]) -> int | None:
    wanted = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == wanted:
                    return pid
            except OSError:
                continue
    return None


async def test_sixteen_keep_alive_connections_are_spread_over_both_workers(
    replica: Replica,
) -> None:
    assert replica.process is not None
    workers = _children(replica.process.pid)
    connections = [
        socket.create_connection(("127.0.0.1", replica.port), timeout=30)
        for _ in range(CONNECTIONS)
    ]
    try:
        assert all(answered(connection) for connection in connections)
        ends = _server_sockets(replica.port)
        held = Counter(
            _holder(ends[connection.getsockname()[1]], workers)
            for connection in connections
        )
    finally:
        for connection in connections:
            connection.close()
    assert None not in held, held
    # The kernel hashes each connection's address and port: some unevenness,
    # but both workers hold several (at most one worker in ~2,000 runs gets
    # fewer than two of sixteen by chance).
    assert len(held) == 2, held
    assert min(held.values()) >= 2, held


def test_a_port_in_use_fails_serve_at_start_in_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli.main", "serve",
             "--port", str(port), "--workers", "2"],
            cwd=tmp_path, env=_environment(tmp_path),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Cannot listen on 127.0.0.1:{port}: Address already in use."
    ]


async def test_a_second_serve_on_the_port_fails_instead_of_joining_the_workers(
    replica: Replica, tmp_path: Path
) -> None:
    """``SO_REUSEPORT`` would let it in, sharing the first one's traffic."""
    env = await asyncio.to_thread(_environment, tmp_path / "second")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway.cli.main", "serve",
         "--port", str(replica.port), "--workers", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Cannot listen on 127.0.0.1:{replica.port}: Address already in use."
    ]
