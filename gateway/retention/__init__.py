"""Retention: how long tracked events, audit entries and webhook data are
kept, and the purge that enforces it.

``tables.py`` says what is purged, by which time column and setting
(``CG_RETENTION_*``), and the floor of received webhooks' claims;
``purge.py`` deletes what is past it in bounded batches, each its own short
transaction, and counts (``--dry-run``: counts only); ``tasks.py`` runs it
hourly on the job engine (namespace ``retention``). ``customer-graph purge``
runs it by hand. docs/retention.md is the operator's story.

Imported by ``gateway.app`` (its blueprint) and ``gateway.cli``; it imports
``db``, ``outbound`` (its tables) and ``settings``.
"""
