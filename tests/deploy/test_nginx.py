"""``deploy/nginx.conf``, the compose file's balancer: ``nginx -t`` accepts
it, and a real nginx started on it (the compose service name and port
swapped for loopback ones) keeps its connections to the gateway alive and
passes the WebSocket upgrade through. Its upstream idle timeout stays below
the gateway's keep-alive (docs/deploying.md). Skipped without nginx on a
laptop, a failure under CI (``./dev`` installs it)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import ANSWER_WAIT
from tests.deploy.files import NGINX, base_resource, compose, configured


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found:
        return found
    reason = "nginx not installed (apt-get install nginx)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def local_config(directory: Path, listen: int, upstream: int) -> Path:
    """The config with the compose names swapped for loopback, and its
    writable paths inside ``directory``."""
    text = NGINX.read_text()
    text = text.replace("server gateway:8000 ", f"server 127.0.0.1:{upstream} ")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    text = text.replace("/tmp/", f"{directory}/")
    path = directory / "nginx.conf"
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    config = local_config(tmp_path, free_port(), free_port())
    checked = subprocess.run(
        [nginx_binary(), "-t", "-q", "-e", "stderr", "-c", str(config)]
        + ["-p", f"{tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def idle_timeout_seconds() -> int:
    match = re.search(r"^\s*keepalive_timeout (\d+)s;", NGINX.read_text(), re.M)
    assert match, "set the upstream keepalive_timeout explicitly"
    return int(match[1])


def test_the_gateway_keeps_connections_longer_than_nginx() -> None:
    compose_env = compose()["services"]["gateway"]["environment"]
    assert configured(compose_env).keep_alive_seconds > idle_timeout_seconds()
    # ingress-nginx's upstream-keepalive-timeout is 60 s as well.
    config_map = base_resource("ConfigMap", "customer-graph")["data"]
    assert configured(config_map).keep_alive_seconds > idle_timeout_seconds()


@dataclass
class Upstream:
    """A stand-in gateway: answers every request, remembers on which
    connection (the balancer's source port) and with which headers."""

    port: int
    seen: list[tuple[int, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    record = Upstream(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            record.seen.append((self.client_address[1], dict(self.headers)))
            if self.headers.get("Upgrade") == "websocket":
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.end_headers()
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def balancer(tmp_path: Path, upstream: Upstream) -> Iterator[int]:
    """nginx on the config, as a daemon: the command returns once nginx
    listens (its log in a file: a daemon holding our pipes would never let
    the command finish)."""
    binary, port = nginx_binary(), free_port()
    config = local_config(tmp_path, port, upstream.port)
    command = [binary, "-e", "stderr", "-c", str(config), "-p", f"{tmp_path}/"]
    with (tmp_path / "nginx.log").open("w") as log:
        started = subprocess.run(command, stdout=log, stderr=log, timeout=30)
    assert started.returncode == 0, (tmp_path / "nginx.log").read_text()
    try:
        yield port
    finally:
        subprocess.run([*command, "-s", "stop"], capture_output=True, timeout=30)


def test_requests_reuse_one_upstream_connection(
    balancer: int, upstream: Upstream
) -> None:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{balancer}", timeout=ANSWER_WAIT
    ) as client:
        for _ in range(10):
            assert client.get("/healthz").text == "ok"
    connections = {source for source, _ in upstream.seen}
    assert len(upstream.seen) == 10
    assert len(connections) == 1
    headers = upstream.seen[0][1]
    assert "Connection" not in headers  # not "close": the connection stays
    assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_a_websocket_handshake_reaches_the_gateway(
    balancer: int, upstream: Upstream
) -> None:
    handshake = (
        "GET /graphql HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", balancer), timeout=10) as client:
        client.sendall(handshake.encode())
        status = client.recv(4096).split(b"\r\n", 1)[0]
    assert status == b"HTTP/1.1 101 Switching Protocols"
    headers = upstream.seen[-1][1]
    assert headers["Upgrade"] == "websocket"
    assert headers["Connection"] == "upgrade"
    assert headers["Sec-WebSocket-Protocol"] == "graphql-transport-ws"


def test_metrics_are_not_served_to_the_outside(
    balancer: int, upstream: Upstream
) -> None:
    """``/metrics`` answers without a key: Prometheus scrapes the replicas
    from inside; the balancer passes none of its spellings on."""
    with httpx.Client(
        base_url=f"http://127.0.0.1:{balancer}", timeout=ANSWER_WAIT
    ) as client:
        for path in ("/metrics", "/metrics?name=x", "/%6Detrics"):
            assert client.get(path).status_code == 404, path
        assert client.get("/healthz").text == "ok"
    assert len(upstream.seen) == 1
