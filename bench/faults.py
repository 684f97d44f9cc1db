"""``python -m bench.faults``: how long a customer 360 view takes while Shopify
misbehaves — answering 429 to everything, or taking 15 s — for a customer
seen for the first time (nothing cached, not linked) and for one viewed a
moment ago (its orders past their TTL, kept as the last good value).

The gateway is the app in this process over ASGI, with the default settings
but a 1 s Shopify TTL; the three simulators are served on loopback with no
added latency. Prints a Markdown table (docs/benchmarks.md, "Upstream faults").
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.demo_world import World
from gateway.app import create_app
from gateway.db.session import upgrade
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.runtime.services import open_services
from gateway.settings import Settings

KEY = "cg_bench_faults_key"
VIEW = """query($email: String!) { customer(email: $email) { email
  orders(first: 5) { edges { node { id name } } }
  tickets(first: 5) { edges { node { id } } }
  activity(first: 5) { edges { node { name } } } } }"""


def rate_limited(simulators: Simulators) -> None:
    simulators.shopify.force_rate_limit(10**6)


def slow(simulators: Simulators) -> None:
    simulators.shopify.latency = 15.0


FAULTS: dict[str, Callable[[Simulators], None]] = {
    "Shopify answers 429": rate_limited,
    "Shopify takes 15 s": slow,
}


async def measure() -> list[tuple[str, str, float, str]]:
    """``(fault, customer, seconds, what the answer held)`` per scenario."""
    world = World(seed=42, size=60)
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'faults.db'}"
    await asyncio.to_thread(upgrade, url)
    rows = []
    async with simulated_upstreams(world) as simulators:
        base = Settings(
            database_url=url,
            demo_api_key=SecretStr(KEY),
            insights_refresh_interval=0,
            cache_ttl_shopify=1.0,
        )
        async with open_services(simulators.settings(base)) as services:
            await seed(services.sessions, world)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(services=services)),
                base_url="http://gateway",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=300,
            ) as http:
                emails = iter(c.email for c in world.customers)

                async def view(email: str) -> tuple[float, dict[str, Any]]:
                    started = time.monotonic()
                    answer = await http.post(
                        "/graphql", json={"query": VIEW, "variables": {"email": email}}
                    )
                    return time.monotonic() - started, answer.json()

                for fault, inject in FAULTS.items():
                    seen = next(emails)
                    await view(seen)
                    await asyncio.sleep(1.1)  # its orders are past their TTL
                    inject(simulators)
                    for who, email in (("first view", next(emails)), ("seen", seen)):
                        seconds, body = await view(email)
                        rows.append((fault, who, seconds, _held(body)))
                    simulators.heal()
                    simulators.shopify.latency = 0.0
    return rows


def _held(body: dict[str, Any]) -> str:
    errors = sorted(
        f"{e['extensions'].get('source')} {e['extensions']['code']}"
        for e in body.get("errors", [])
    )
    stale = [s["source"] for s in body.get("extensions", {}).get("stale", [])]
    parts = [*errors, *(f"{s} stale" for s in stale)]
    return ", ".join(parts) or "all fresh"


def main() -> None:
    rows = asyncio.run(measure())
    print("| fault | customer | answered in | the answer |")
    print("| --- | --- | --- | --- |")
    for fault, who, seconds, held in rows:
        print(f"| {fault} | {who} | {seconds:.2f} s | {held} |")


if __name__ == "__main__":
    main()
