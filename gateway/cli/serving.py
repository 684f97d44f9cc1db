"""How ``customer-graph serve`` runs uvicorn: as ``uvicorn.run`` does, but with
one listening socket per worker and a supervisor that lets go of the port on
SIGTERM.

**One socket per worker.** uvicorn's ``--workers`` has the parent bind one
socket that every worker inherits and accepts from. Which worker wakes for a
new connection is then up to the scheduler, and under a keep-alive load one
worker often takes them all (an outside benchmark saw per-process CPU 0.99
against 0.002, halving throughput). On Linux each worker here listens on a
socket of its own bound to the same address with ``SO_REUSEPORT``, and the
kernel spreads new connections over them by a hash of the client's address
and port (``tests/e2e/test_worker_sockets.py``: 16 keep-alive connections
over two workers).

The parent still binds the address first, without listening, so that a port
in use — by anything, another ``serve`` included, whose workers a
``SO_REUSEPORT`` socket would otherwise join — fails ``serve`` at start in one
line, and so that nothing else takes the port while the workers start.
Elsewhere (no load-balancing ``SO_REUSEPORT``) the workers share the parent's
socket as uvicorn does.

**Letting go on SIGTERM.** uvicorn's parent keeps its socket open until every
worker has exited, so once the workers stop accepting, a new connection on a
shared socket is still taken into the kernel's queue — and reset when the
parent finally closes it, after the balancer has sent its request there (a
mutation a balancer must not retry). Closed by the parent at SIGTERM, the port
is held exactly as long as the workers still accept (their drain,
``gateway.runtime.shutdown``); after that a balancer's connect is refused and
it tries another replica.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import typer
import uvicorn
from uvicorn.config import LOG_LEVELS
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.runtime.one_write import OneWriteProtocol
from gateway.settings import Settings

SPREAD_BY_KERNEL = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _reusable(family: int, kind: type[socket.socket] = socket.socket) -> socket.socket:
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _worker_socket(family: int, address: tuple[Any, ...]) -> socket.socket:
    """Runs in a worker as it unpickles its socket: a listener of its own."""
    sock = _reusable(family)
    sock.bind(address)
    return sock


class AddressSocket(socket.socket):
    """The parent's socket: bound, never listening. A worker given it binds
    its own socket to the same address (``_worker_socket``) instead of
    sharing this one — pickling is how uvicorn hands sockets to workers."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (_worker_socket, (self.family, self.getsockname()))


def _address_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        # A plain bind first: it fails on a port anything listens on or holds,
        # another ``serve``'s workers included, which SO_REUSEPORT would join.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        sock = _reusable(family, AddressSocket)
        sock.bind((host, port))
    except OSError as exc:
        typer.echo(f"Cannot listen on {host}:{port}: {exc.strerror}.", err=True)
        raise SystemExit(1) from None
    return sock


class ReleasingMultiprocess(Multiprocess):
    """uvicorn's supervisor, closing its copy of the socket on SIGTERM."""

    def handle_term(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().handle_term()


def run(host: str, port: int, workers: int, settings: Settings) -> None:
    config = server_config(host, port, workers, settings)
    if workers > 1:
        sock = _address_socket(host, port) if SPREAD_BY_KERNEL else config.bind_socket()
        ReleasingMultiprocess(config, sockets=[sock]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits


def server_config(
    host: str, port: int, workers: int, settings: Settings
) -> uvicorn.Config:
    """uvicorn's configuration of ``serve``."""
    return uvicorn.Config(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # Above INFO no access line is written: uvicorn would still build
        # each one's arguments (the address, the quoted path) per response.
        access_log=LOG_LEVELS.get(settings.log_level.lower(), 0) <= logging.INFO,
        timeout_keep_alive=settings.keep_alive_seconds,
        http=OneWriteProtocol,
        # A worker imports the whole gateway before it answers the parent's
        # health checks: a minute on a loaded machine, past uvicorn's 5 s, after
        # which the parent kills it and starts another, again and again.
        timeout_worker_healthcheck=120,
        # The drain comes first, within the same grace.
        timeout_graceful_shutdown=max(
            1, int(settings.shutdown_grace_seconds - settings.shutdown_drain_seconds)
        ),
    )
