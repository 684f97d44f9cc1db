"""``customer-graph demo``: seed the demo world and serve the gateway on it."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from rich.console import Console

from connectors.demo_world import World
from gateway.app import create_app
from gateway.seed import seed
from gateway.services import open_services
from gateway.settings import Settings


async def run_demo(
    settings: Settings,
    *,
    port: int,
    size: int,
    world_seed: int,
    on_seeded: Callable[[int], None],
    console: Console,
) -> None:
    world = World(seed=world_seed, size=size)
    async with open_services(settings) as services:
        count = await seed(services.sessions, world, on_seeded)
        app = create_app(services=services)
        url = f"http://127.0.0.1:{port}/graphql"
        console.print(f"Seeded [bold]{count}[/bold] customers.")
        console.print(f"GraphiQL: [bold cyan]{url}[/bold cyan]  (Ctrl+C to stop)")
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        await server.serve()
