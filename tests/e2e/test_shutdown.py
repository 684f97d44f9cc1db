"""What SIGTERM does to a real ``customer-graph serve --workers 2`` (issue 19,
docs/deploying.md "Rolling restarts"): the replica drains first — ``/readyz``
503 and ``Connection: close`` on answers, still serving — then refuses
connections, closes its WebSockets with 1012 ("service restart") and exits
with 0 within ``CG_SHUTDOWN_GRACE_SECONDS``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from bench.server import free_port
from gateway.db.session import upgrade

KEY = "cg_e2e_shutdown_key"
GRACE = 10


def test_sigterm_drains_then_refuses_closes_sockets_with_1012_and_exits(
    tmp_path: Path,
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    upgrade(database)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    env |= {
        "CG_DATABASE_URL": database,
        "CG_DEMO_API_KEY": KEY,
        "CG_SHUTDOWN_DRAIN_SECONDS": "2",
        "CG_SHUTDOWN_GRACE_SECONDS": str(GRACE),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve",
             "--port", str(port), "--workers", "2"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 240
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve was not ready"
                time.sleep(0.2)
            with ws_client.connect(
                base.replace("http", "ws") + "/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            ) as socket:
                auth = {"Authorization": f"Bearer {KEY}"}
                init = {"type": "connection_init", "payload": auth}
                socket.send(json.dumps(init))
                assert json.loads(socket.recv(30))["type"] == "connection_ack"

                process.send_signal(signal.SIGTERM)
                stopped = time.monotonic()
                # The parent passes it on to both workers within half a
                # second; a worker not told yet still answers 200.
                while (answer := client.get("/readyz")).status_code == 200:
                    assert time.monotonic() - stopped < 5, "never drained"
                assert answer.status_code == 503
                assert answer.json() == {"status": "draining"}
                assert answer.headers["connection"] == "close"

                with pytest.raises(ConnectionClosed) as closed:
                    socket.recv(GRACE)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012
            # Each worker listens on a socket of its own: the one that held
            # the WebSocket has stopped listening; the other stops within
            # moments, draining until then, never ready again. A connection
            # the kernel queued on a socket as it closed is reset (ReadError)
            # or closed before any answer (RemoteProtocolError) rather than
            # refused: either way, no longer accepted.
            refused_by = time.monotonic() + 5
            while True:
                try:
                    answer = client.get("/readyz")
                except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                    break
                assert answer.status_code == 503, "ready again after SIGTERM"
                assert time.monotonic() < refused_by, "still accepting"
                time.sleep(0.05)
        assert process.wait(60) == 0
        print(f"exited {time.monotonic() - stopped:.1f} s after SIGTERM")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
