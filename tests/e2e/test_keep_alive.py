"""``customer-graph serve`` keeps an idle connection open for
``CG_KEEP_ALIVE_SECONDS`` (issue 19: a balancer's pool must never reuse a
connection the gateway already closed), measured on a real server with a raw
HTTP/1.1 socket, timed until the server closes it. The default outlasts the
usual 60 s of a balancer's idle timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.db.session import upgrade
from gateway.settings import Settings
from tests.e2e.raw_http import answered

KEEP_ALIVE = 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory: Path = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    database = f"sqlite+aiosqlite:///{directory / 'gateway.db'}"
    upgrade(database)
    env |= {"CG_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE), "CG_DATABASE_URL": database}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve was not up in 60 s"
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_server_closes_an_idle_connection_after_the_setting(served: int) -> None:
    """Timed from the client: the close comes after about ``KEEP_ALIVE``
    seconds — never before half of it, and well before uvicorn's own 5 s
    (a busy machine delays what the client sees, so the bounds are wide)."""
    with socket.create_connection(("127.0.0.1", served), timeout=15) as connection:
        assert answered(connection)
        started = time.monotonic()
        end = connection.recv(4096)  # blocks until the server closes
        elapsed = time.monotonic() - started
    assert end == b""
    assert KEEP_ALIVE / 2 <= elapsed < 4.0


def test_the_default_outlasts_a_balancers_usual_idle_timeout() -> None:
    assert Settings.model_fields["keep_alive_seconds"].default > 60
