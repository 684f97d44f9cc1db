"""Where the test suite finds its real PostgreSQL and Redis.

``CG_TEST_DATABASE_URL`` / ``CG_TEST_REDIS_URL`` name them (default: the local
default ports). Each run creates its own PostgreSQL database and drops it at the
end, so concurrent runs on one server do not collide. A server that cannot be
reached skips the tests that need it — except under ``CI``, where it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "CG_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_KINDS = {"redis": "single_redis_url", "cluster": "cluster_redis_url"}
"""The Redis tests run on each kind: its id → the session fixture of its URL
(the shared server; a 3-master cluster started once, tests/conftest.py)."""


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> None:
    if reachable(url, default_port):
        return
    reason = f"{name} not reachable at {urlsplit(url).netloc} (set CG_TEST_{name.upper()}_URL)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def needed(*programs: str) -> None:
    """Skip without these programs — fail under ``CI``, which must have them."""
    missing = [p for p in programs if shutil.which(p) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def asyncpg_url(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    path = f"/{database}" if database else parts.path
    return f"postgresql+asyncpg://{parts.netloc}{path}"


def throwaway_database_name() -> str:
    return f"cg_test_{uuid.uuid4().hex[:12]}"


def require_program(path: str) -> None:
    """A server binary a test starts itself (nginx from Debian's packages,
    which ``./dev`` installs where it may)."""
    if os.access(path, os.X_OK):
        return
    reason = f"{path} is not installed (./dev installs it as root)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)
