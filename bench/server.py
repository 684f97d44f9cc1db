"""The gateway under test: ``customer-graph serve --workers N`` in a
subprocess, as an operator starts it (a listening socket per worker included).

The benchmark measures the server users run — uvicorn worker processes
configured only by ``CG_*`` environment variables — not an app mounted in the
benchmark's own event loop, which would share a core with the load generator
and skip HTTP parsing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from gateway.settings import Settings

STARTUP_TIMEOUT = 60.0
GATEWAY = "gateway.app:create_app"


def environment(settings: Settings) -> dict[str, str]:
    """What was set in ``settings`` (by argument or ``CG_*`` variable) as the
    ``CG_*`` variables that reproduce it; defaults are left to the server, so
    ``gateway_server``'s ``defaults`` can fill them in."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(
        exclude_none=True, exclude_unset=True
    ).items():
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"CG_{name.upper()}"] = text
    return env


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports. Each is held until all are
    drawn: drawn one at a time, closed in between, the kernel may hand out
    the same port twice (a Redis cluster's two nodes once got one)."""
    with ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass(frozen=True, slots=True)
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    ready_path: str = "/readyz"

    async def ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Return once ``ready_path`` answers 200; raise if the server died."""
        await _wait_ready(self.url, self.process, self.ready_path, timeout)


@asynccontextmanager
async def gateway_server(
    settings: Settings,
    *,
    workers: int,
    defaults: Mapping[str, str],
    log: Path,
    app: str = GATEWAY,
) -> AsyncIterator[Gateway]:
    """Start the gateway on a free loopback port and yield at once
    (``Gateway.ready`` waits for it); stop it, workers included, on the way out.

    The environment is this process's, overlaid with ``settings``; ``defaults``
    fill in variables the operator did not set. Its output goes to ``log``:
    a failing request's traceback there must not bury the report. ``app`` is
    the ASGI factory (the benchmark's plain peer serves its own).
    """
    port = free_port()
    # No balancer pools connections to it: stopping needs no drain.
    env = {
        "CG_SHUTDOWN_DRAIN_SECONDS": "0",
        **defaults,
        **os.environ,
        **environment(settings),
    }
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if app == GATEWAY:
        # As an operator runs it: a listening socket per worker, among others.
        env.setdefault("CG_LOG_LEVEL", "WARNING")
        command = [sys.executable, "-m", "gateway.cli.main", "serve", *where]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--factory", *where,
                   "--log-level", "warning", "--no-access-log"]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop() can take its workers too
        )
    try:
        yield Gateway(f"http://127.0.0.1:{port}", process)
    finally:
        await asyncio.to_thread(stop, process)


async def _wait_ready(
    url: str, process: subprocess.Popen[bytes], path: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server at {url} was not ready in {timeout:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets uvicorn's supervisor stop its workers; if it hangs, SIGKILL
    to it and its workers (killed alone, it left them serving, orphaned: ten
    such workers were found after a day's benchmark runs)."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # not started in a session of its own
            process.kill()
        process.wait()
