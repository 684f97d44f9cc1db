"""A frontend team's typed client, generated from the running gateway.

graphql-codegen (``@graphql-codegen/cli`` with the ``typescript`` and
``typescript-operations`` plugins, from ``tests/node``) reads the schema from a
development gateway on loopback with the standard introspection query and
generates types for the README's first example (the customer 360 query):
the schema's types with ``typescript`` into ``schema.ts`` and the query's with
``typescript-operations`` into ``operations.ts`` (since version 6 that plugin
declares the enums it needs itself: both in one file declare them twice).
``tsc --strict`` then compiles a small client that uses them, and refuses one
that misreads them, so the types say what the query returns. Before
introspection had its own depth bound, codegen's schema fetch (13 deep) was
refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.live_gateway import AUTH, live_gateways
from tests.e2e.node import require_node_tools

README = Path(__file__).resolve().parents[2] / "README.md"

CLIENT = """\
import type { Unnamed_1_Query } from "./operations";

export async function customer360(
  url: string,
  key: string,
  query: string,
): Promise<Unnamed_1_Query> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data: Unnamed_1_Query };
  return body.data;
}

export function summary(result: Unnamed_1_Query): string {
  const customer = result.customer;
  if (customer === null) return "no such customer";
  const orders = customer.orders?.totalCount ?? 0;
  const latest = customer.orders?.edges[0]?.node.name ?? "none";
  const tags: string[] = customer.tags;
  const kinds = (customer.timeline?.edges ?? []).map((edge) => edge.node.__typename);
  return `${customer.displayName}: ${orders} orders (latest ${latest}), `
    + `tags ${tags.join(", ")}, timeline ${kinds.join(", ")}`;
}
"""

MISREAD = """\
import type { Unnamed_1_Query } from "./operations";

export function orders(result: Unnamed_1_Query): number {
  return result.customer.orders.totalCount;
}
"""


def first_graphql_block(markdown: str) -> str:
    match = re.search(r"```graphql\n(.*?)```", markdown, re.DOTALL)
    assert match is not None, "README.md has no GraphQL example"
    return match.group(1)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def node_tools() -> Path:
    return require_node_tools("the graphql-codegen test")


async def test_codegen_types_the_readme_360_query_and_tsc_compiles_a_client(
    node_tools: Path, tmp_path: Path
) -> None:
    (tmp_path / "customer360.graphql").write_text(
        first_graphql_block(README.read_text(encoding="utf-8"))
    )
    async with live_gateways(tmp_path) as (replicas, _):
        config = {
            "schema": [{f"{replicas[0].base_url}/graphql": {"headers": AUTH}}],
            "documents": [str(tmp_path / "customer360.graphql")],
            "generates": {
                str(tmp_path / "schema.ts"): {
                    "plugins": ["typescript"],
                    "config": {"defaultScalarType": "unknown"},
                },
                str(tmp_path / "operations.ts"): {
                    "plugins": ["typescript-operations"],
                    "config": {"defaultScalarType": "unknown"},
                },
            },
        }
        (tmp_path / "codegen.json").write_text(json.dumps(config))
        generated = await asyncio.to_thread(
            run,
            [
                str(node_tools / "node_modules/.bin/graphql-codegen"),
                "--config",
                str(tmp_path / "codegen.json"),
            ],
            node_tools,
        )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    types = (tmp_path / "operations.ts").read_text()
    assert "export type Unnamed_1_Query = { customer: {" in types

    (tmp_path / "client.ts").write_text(CLIENT)
    (tmp_path / "misread.ts").write_text(MISREAD)
    tsc = [
        str(node_tools / "node_modules/.bin/tsc"),
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--lib",
        "es2022,dom",
    ]
    compiled = run([*tsc, "schema.ts", "client.ts"], tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    refused = run([*tsc, "misread.ts"], tmp_path)
    assert refused.returncode != 0
    assert "possibly 'null'" in refused.stdout
