"""A Redis server of the caller's own, to stop, kill and restart on one port.

``pause`` (SIGSTOP) is a hung Redis: connections open, nothing answers, so
every command waits for its timeout. ``kill`` then ``restart`` is a dead one:
connections refused, then an empty server on the same address.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bench.server import free_port


class RedisServer:
    def __init__(
        self, binary: str, port: int, directory: str, options: Sequence[str] = ()
    ) -> None:
        self.binary = binary
        self.port = port
        self.directory = directory
        self.options = list(options)
        """More ``redis-server`` arguments (a cluster node's)."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.directory,
            *self.options,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not listen on port {self.port}")

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def _signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)


@contextmanager
def own_redis() -> Iterator[RedisServer]:
    """A started server on a free port, killed on the way out."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    with tempfile.TemporaryDirectory(prefix="cg-redis-") as directory:
        server = RedisServer(binary, free_port(), directory)
        server.start()
        try:
            yield server
        finally:
            server.kill()  # SIGKILL ends a stopped process too
