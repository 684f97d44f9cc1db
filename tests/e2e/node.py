"""The Node.js tools some end-to-end tests drive (a foreign federation
subgraph, Apollo Gateway, graphql-codegen, tsc, graphql-http's audit
suite), installed from
``tests/node/package-lock.json`` with ``npm ci`` the first time a test needs
them (and again when the lock file changes), and processes started on loopback
that announce their address with a ``READY <url>`` line."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
INSTALLED = NODE_DIR / "node_modules" / ".package-lock.json"


def require_node_tools(what: str) -> Path:
    """``tests/node`` with its packages installed; skipped without Node.js
    and npm on a laptop, a failure in CI (the package build needs them too)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        reason = f"{what} needs Node.js and npm (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    lock = NODE_DIR / "package-lock.json"
    # Test workers (pytest-xdist) may get here at once: one installs, the
    # others wait for it and find the packages installed.
    with (NODE_DIR / ".install.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not INSTALLED.exists() or INSTALLED.stat().st_mtime < lock.stat().st_mtime:
            installed = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if installed.returncode != 0:
                pytest.fail(f"npm ci in {NODE_DIR} failed:\n{installed.stderr[-3000:]}")
    return NODE_DIR


@asynccontextmanager
async def node_server(
    script: str, env: Mapping[str, str], timeout: float = 60.0
) -> AsyncIterator[str]:
    """Run ``tests/node/<script>`` until the block ends; yields its URL."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        cwd=NODE_DIR,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    pytest.fail(f"{script} exited:\n{''.join(output)}")
                output.append(line)
                if line.startswith("READY "):
                    break
        yield line.removeprefix("READY ").strip()
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
