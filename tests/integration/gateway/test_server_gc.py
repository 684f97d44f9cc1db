"""A server process's garbage collector after start-up (``gateway.app``): what
exists then is frozen out of the collector's passes, and the young generation
is collected every ``GC_YOUNG`` container allocations instead of CPython's 700
(docs/benchmarks.md, "The collector's young generation, and the warm hit
in one command")."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from pydantic import SecretStr

from gateway.app import GC_YOUNG, create_app
from gateway.db.session import upgrade
from gateway.settings import Settings


async def test_a_server_process_freezes_its_start_up_and_collects_young_objects_less_often(
    tmp_path: Path,
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await asyncio.to_thread(upgrade, database)
    app = create_app(
        Settings(
            _env_file=None,
            database_url=database,
            demo_api_key=SecretStr("cg_test_server_gc_key"),
        )
    )
    before = gc.get_threshold()
    try:
        async with app.router.lifespan_context(app):
            young, *older = gc.get_threshold()
            assert (young, older) == (GC_YOUNG, list(before[1:]))
            assert gc.get_freeze_count() > 10_000  # the schema, services, modules
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
