"""How ``customer-graph serve`` runs uvicorn: as ``uvicorn.run`` does, but with
a supervisor that lets go of the listening socket on SIGTERM.

With ``--workers`` above 1 the parent process binds the socket and its
workers inherit it. uvicorn's parent keeps its copy open until every worker
has exited, so once the workers stop accepting, a new connection is still
taken into the kernel's queue — and reset when the parent finally closes it,
after the balancer has sent its request there (a mutation a balancer must not
retry). Closed by the parent at SIGTERM, the socket lives exactly as long as
the workers still accept (their drain, ``gateway.runtime.shutdown``); after
that a balancer's connect is refused and it tries another replica.
"""

from __future__ import annotations

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from gateway.settings import Settings


class ReleasingMultiprocess(Multiprocess):
    """uvicorn's supervisor, closing its copy of the socket on SIGTERM."""

    def handle_term(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().handle_term()


def run(host: str, port: int, workers: int, settings: Settings) -> None:
    config = uvicorn.Config(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        timeout_keep_alive=settings.keep_alive_seconds,
        # A worker imports the whole gateway before it answers the parent's
        # health checks: a minute on a loaded machine, past uvicorn's 5 s, after
        # which the parent kills it and starts another, again and again.
        timeout_worker_healthcheck=120,
        # The drain comes first, within the same grace.
        timeout_graceful_shutdown=max(
            1, int(settings.shutdown_grace_seconds - settings.shutdown_drain_seconds)
        ),
    )
    if workers > 1:
        ReleasingMultiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits
