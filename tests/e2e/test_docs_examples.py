"""Every example in README.md and docs/*.md runs as written against
``customer-graph demo``: each GraphQL block (queries and mutations over HTTP,
subscriptions over WebSocket), each Python block, and each ``curl`` or
``customer-graph`` command of a shell block.

The demo is started the way the README says (``customer-graph demo``, in a
directory of its own); only its port differs, so examples naming
``127.0.0.1:8000`` are pointed at it. ``$KEY`` in a shell example is the demo's
admin key, as printed by the demo.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import ANSWER_WAIT

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KEY = "cg_docs_examples_key"
LONG_RUNNING = ("customer-graph demo", "customer-graph serve", "customer-graph bench")


@dataclass(frozen=True)
class Example:
    language: str
    code: str
    where: str


def examples() -> list[Example]:
    found = []
    fence = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)
    for path in DOCUMENTS:
        text = path.read_text()
        for match in fence.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(ROOT)}:{line}"
            found.append(Example(match.group(1), match.group(2), where))
    return found


def shell_commands(code: str) -> list[str]:
    """The ``curl`` and ``customer-graph`` commands of a shell block, with
    continuation lines joined and trailing comments dropped."""
    commands = []
    for command in code.replace("\\\n", " ").splitlines():
        command = command.split("  #", 1)[0].strip()
        if command.startswith(("curl ", "customer-graph ")) and not command.startswith(
            LONG_RUNNING
        ):
            commands.append(command)
    return commands


@dataclass
class Demo:
    base_url: str
    directory: Path

    def local(self, code: str) -> str:
        return code.replace("127.0.0.1:8000", self.base_url.removeprefix("http://"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    directory = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "demo", "--port", str(port)],
        cwd=directory,
        # The suite's workers share two cores with this demo: a read may wait
        # seconds for CPU, past the default 2 s deadline (a README example
        # once answered UPSTREAM_TIMEOUT on a loaded run). The deadline's own
        # tests set theirs.
        env={**env, "CG_DEMO_API_KEY": KEY, "CG_READ_DEADLINE_SECONDS": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(timeout=2) as probe:
            while not _ready(probe, base_url):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the demo was not up in 180 s"
                time.sleep(0.5)
        yield Demo(base_url, directory)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors, errors


def _ready(probe: httpx.Client, base_url: str) -> bool:
    try:
        return probe.get(f"{base_url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def keith_id(demo: Demo) -> str:
    answer = httpx.post(
        f"{demo.base_url}/graphql",
        json={"query": '{ customer(email: "keith.henderson@example.com") { id } }'},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=ANSWER_WAIT,
    ).json()
    customer_id: str = answer["data"]["customer"]["id"]
    return customer_id


EXAMPLES = examples()
GRAPHQL = [e for e in EXAMPLES if e.language == "graphql"]
PYTHON = [e for e in EXAMPLES if e.language == "python"]
SHELL = [
    (e, command)
    for e in EXAMPLES
    if e.language in ("sh", "bash", "console")
    for command in shell_commands(e.code)
]


def test_the_documents_hold_examples_of_every_kind() -> None:
    assert len(GRAPHQL) >= 5
    assert PYTHON
    assert len(SHELL) >= 3


async def test_every_example_runs_in_document_order_against_one_demo(
    demo: Demo,
) -> None:
    """In the order a reader meets them (an example may use what one before
    it made: a segment created, then updated, then deleted), every failure
    named by its place."""
    failures = []
    for example in EXAMPLES:
        try:
            if example.language == "graphql":
                await _graphql(demo, example)
            elif example.language == "python":
                await asyncio.to_thread(_python, demo, example)
            elif example.language in ("sh", "bash", "console"):
                for command in shell_commands(example.code):
                    await asyncio.to_thread(_shell, demo, command)
        except (AssertionError, httpx.HTTPError, OSError, TimeoutError) as exc:
            failures.append(f"{example.where}: {type(exc).__name__}: {exc}")
    assert not failures, "\n\n".join(failures)


async def _graphql(demo: Demo, example: Example) -> None:
    variables = {"id": keith_id(demo)} if "$id" in example.code else {}
    if example.code.lstrip().startswith("subscription"):
        await _subscribe(demo, example.code, variables)
        return
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            f"{demo.base_url}/graphql",
            json={"query": example.code, "variables": variables},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body["errors"]
    assert body["data"], body


async def _subscribe(demo: Demo, document: str, variables: dict[str, str]) -> None:
    url = demo.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {KEY}"}}))  # fmt: skip
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": document, "variables": variables}}))  # fmt: skip
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
        except TimeoutError:
            return  # subscribed, waiting for the customer's next event
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message


def _python(demo: Demo, example: Example) -> None:
    done = subprocess.run(
        [sys.executable, "-c", demo.local(example.code)],
        cwd=demo.directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "rror" not in done.stderr, done.stderr


def _shell(demo: Demo, command: str) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    env |= {"KEY": KEY, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    if command.startswith("curl "):
        command = f"curl --fail-with-body --silent --show-error {command[5:]}"
    done = subprocess.run(
        ["bash", "-c", demo.local(command)],
        cwd=demo.directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{shlex.quote(command)}:\n{done.stdout}{done.stderr}"
    assert '"success":false' not in done.stdout.replace(" ", "")
    assert '"errors"' not in done.stdout
