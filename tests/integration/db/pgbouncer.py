"""A real PgBouncer in transaction mode, started by a test in front of the
test PostgreSQL on a free loopback port (Debian's ``pgbouncer``; ``./dev``
installs it where it may). Missing: the test is skipped, except under ``CI``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

INI = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/userlist.txt
pool_mode = transaction
default_pool_size = {pool}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
"""


def require_pgbouncer() -> None:
    if Path(BINARY).exists():
        return
    reason = "pgbouncer is not installed (./dev installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_pgbouncer(postgres_url: str, pool: int = 2) -> AsyncIterator[int]:
    """PgBouncer's port, in front of ``postgres_url``'s server; ``pool``
    server connections per database and user, so that the clients' many
    connections share few server ones (as a fleet's do)."""
    require_pgbouncer()
    target = urlsplit(postgres_url)
    user = target.username or "postgres"
    directory = Path(tempfile.mkdtemp(prefix="cg-pgbouncer-"))
    directory.chmod(0o755)  # read by ``nobody`` when the tests run as root
    listen = _free_port()
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            host=target.hostname or "127.0.0.1",
            port=target.port or 5432,
            listen=listen,
            directory=directory,
            pool=pool,
        )
    )
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    for path in directory.iterdir():
        path.chmod(0o644)
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses root
    process = await asyncio.create_subprocess_exec(
        BINARY,
        *as_user,
        str(ini),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    draining = None
    try:
        await _listening(process.stderr)
        draining = asyncio.create_task(_drain(process.stderr))  # a full pipe stalls it
        yield listen
    finally:
        process.terminate()
        await process.wait()
        if draining is not None:
            await draining
        shutil.rmtree(directory, ignore_errors=True)


async def _listening(stderr: asyncio.StreamReader) -> None:
    """Wait for PgBouncer's log line saying it listens (or for its exit)."""
    seen = []
    while line := (await asyncio.wait_for(stderr.readline(), 10)).decode():
        seen.append(line.strip())
        if "listening on 127.0.0.1" in line:
            return
    raise RuntimeError("pgbouncer did not start: " + " | ".join(seen[-5:]))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
