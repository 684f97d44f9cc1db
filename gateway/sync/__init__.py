"""Backfills: bring identity links (and, for the store, customers) up to date
with an upstream, resumable, reporting progress.

Imported by ``gateway.cli.main`` and ``gateway.demo.command``.
"""
