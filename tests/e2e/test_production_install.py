"""The Dockerfile's path, without Docker (no engine runs on these machines):
wheels of the project and its dependencies (``pip wheel -c constraints.txt .``), installed
offline into a clean virtual environment with no dev extras, then
``db upgrade`` on a fresh PostgreSQL database, ``keys create``, and
``serve --workers 2`` in production mode with Redis, asked for ``/healthz``,
``/readyz`` and one authenticated query.

A run-time import that only a dev extra satisfies fails here the way it would
in the image: ``ModuleNotFoundError`` at the first command.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ANSWER_WAIT
from tests.servers import POSTGRES_URL, REDIS_URL, require, throwaway_database_name

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a fresh virtual environment holding only the wheels."""
    work = tmp_path_factory.mktemp("production-install")
    wheels = work / "wheels"
    run(
        sys.executable, "-m", "pip", "wheel", "-q", "-c", ROOT / "constraints.txt",
        "-w", wheels, ROOT, cwd=work,
    )  # fmt: skip
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    run(
        bin_dir / "pip", "install", "-q", "--no-index", "--find-links", wheels,
        "customer-graph", cwd=work,
    )  # fmt: skip
    return bin_dir


@pytest.fixture
def postgres_database() -> Iterator[str]:
    require("database", POSTGRES_URL, 5432)
    name = throwaway_database_name()
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            POSTGRES_URL.rsplit("/", 1)[0].replace(
                "postgresql://", "postgresql+asyncpg://"
            )
            + f"/{name}"
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_wheels_alone_migrate_create_a_key_and_serve_in_production(
    installed: Path, postgres_database: str, tmp_path: Path
) -> None:
    require("redis", REDIS_URL, 6379)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CG_ENV": "production",
        "CG_DATABASE_URL": postgres_database,
        "CG_REDIS_URL": REDIS_URL,
        "CG_CACHE_PREFIX": f"cgprod{secrets.token_hex(4)}",
        "CG_SECRET_KEY": secrets.token_urlsafe(48),
    }
    cli = installed / "customer-graph"
    run(cli, "db", "upgrade", env=env, cwd=tmp_path)
    printed = run(cli, "keys", "create", "--name", "ci", "--role", "admin", env=env,
                  cwd=tmp_path)  # fmt: skip
    key = re.search(r"cg_[A-Za-z0-9_-]+", printed)
    assert key is not None, printed

    port = free_port()
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "serve exited early"
            assert time.monotonic() < deadline, "serve was not ready in 60 s"
            time.sleep(0.3)
        assert httpx.get(f"{base}/healthz", timeout=ANSWER_WAIT).status_code == 200
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ customers(first: 1) { totalCount } }"},
            headers={"Authorization": f"Bearer {key.group()}"},
            timeout=ANSWER_WAIT,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"data": {"customers": {"totalCount": 0}}}
        refused = httpx.post(
            f"{base}/graphql", json={"query": "{ __typename }"}, timeout=ANSWER_WAIT
        )
        assert refused.status_code == 401
        assert httpx.get(f"{base}/graphql", timeout=ANSWER_WAIT).status_code == 404, (
            "GraphiQL is off"
        )
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output
