"""nginx as the load balancer in front of several replicas, as production puts
one: a generated configuration, a free loopback port, no system service.

The configuration is docs/deploying.md's: upstream keep-alive on (with the
empty ``Connection`` header it needs), the WebSocket upgrade passed through,
and a request retried on the next replica when a replica refuses the
connection or fails before answering — for idempotent methods only, nginx's
default: a POST (a mutation) already sent is never sent twice.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

NGINX = "/usr/sbin/nginx"

CONFIG = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format upstreams '$status $upstream_addr $upstream_status $request_method';
  access_log {dir}/access.log upstreams;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{
    default upgrade;
    '' '';
  }}
  upstream gateway {{
{servers}
    keepalive 32;
    keepalive_timeout 60s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://gateway;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
    }}
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Balancer:
    """A running nginx; ``take_out``/``put_back`` do what an operator's
    rolling script does around a replica's restart (nginx's open-source build
    has no active health checks to see ``/readyz`` answer 503)."""

    url: str
    directory: Path
    upstreams: list[str]
    port: int
    down: set[str] = field(default_factory=set)
    process: subprocess.Popen[bytes] | None = None

    def write(self) -> None:
        servers = "\n".join(
            f"    server {address} max_fails=1 fail_timeout=2s"
            + (" down;" if address in self.down else ";")
            for address in self.upstreams
        )
        config = CONFIG.format(dir=self.directory, servers=servers, port=self.port)
        (self.directory / "nginx.conf").write_text(config)

    def take_out(self, address: str) -> None:
        self.down.add(address)
        self._reload()

    def put_back(self, address: str) -> None:
        self.down.discard(address)
        self._reload()

    def _reload(self) -> None:
        """nginx -s reload: new workers with the new list at once; the old
        ones finish their requests and sockets."""
        self.write()
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)


@contextmanager
def nginx(directory: Path, upstreams: Sequence[str]) -> Iterator[Balancer]:
    """nginx balancing over ``upstreams`` (``host:port``)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with (directory / "stderr.log").open("wb") as errors:
        balancer = Balancer(
            f"http://127.0.0.1:{port}", directory, list(upstreams), port
        )
        balancer.write()
        config = directory / "nginx.conf"
        process = balancer.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(config), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if process.poll() is not None:
                    message = (directory / "stderr.log").read_text()
                    raise RuntimeError(f"nginx exited: {message}") from None
                assert time.monotonic() < deadline, "nginx did not listen in 10 s"
                time.sleep(0.05)
        yield balancer
    finally:
        process.terminate()
        process.wait(10)
