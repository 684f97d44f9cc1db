"""The job engine: durable background work on procrastinate (PostgreSQL).

``engine.py`` builds the process's one procrastinate ``App`` from the settings
(PostgreSQL: jobs in its tables, through a psycopg pool of its own; SQLite:
in memory, not durable) and registers each package's tasks, given as
blueprint factories; ``worker.py`` runs a worker in the gateway's lifespan or
on its own (``customer-graph worker``); ``deferral.py`` defers jobs in the
transaction of the rows they work on; ``recovery.py`` takes up the jobs of a
worker that died. Why procrastinate: docs/architecture.md, "Background jobs".

Task bodies are called with ``pass_context=True`` and find the process's
services in ``context.additional_context["services"]``.

Imported by ``gateway.runtime`` (which builds the App), ``gateway.cli`` and
the packages whose tasks it runs; it imports only ``settings`` and
``errors`` (and ``db`` for a transaction's dialect).
"""
