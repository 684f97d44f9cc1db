"""The GraphQL over HTTP audit suite (npm ``graphql-http``'s
``serverAudits``, from ``tests/node``) against a live gateway: every audit —
the MUSTs, the SHOULDs and the MAYs of the spec — passes. Its requests carry
the tests' API key (the gateway answers no anonymous caller).

Before this test, two SHOULDs failed: a document that does not parse or
validate was answered with ``"data": null`` where the spec (and GraphQL's
own, "Response") wants no data entry for an error raised before execution."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from tests.e2e.live_gateway import AUTH, live_gateways
from tests.e2e.node import require_node_tools


async def audits(url: str) -> list[dict[str, Any]]:
    node_dir = require_node_tools("the GraphQL over HTTP audit")
    process = await asyncio.create_subprocess_exec(
        "node",
        "http-audit.mjs",
        cwd=node_dir,
        env={**os.environ, "GRAPHQL_URL": url, "AUTHORIZATION": AUTH["Authorization"]},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-3000:]
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_every_graphql_over_http_audit_passes(tmp_path: Path) -> None:
    async with live_gateways(tmp_path) as (replicas, _):
        results = await audits(replicas[0].base_url + "/graphql")
    failed = [r for r in results if r["status"] != "ok"]
    assert len(results) >= 60  # the suite of graphql-http 1.23.1 holds 61
    assert any(r["name"].startswith("MUST") for r in results)
    assert not failed, json.dumps(failed, indent=2)
