"""Automations: a trigger, conditions and ordered actions, run once per
customer and occasion on the job engine (docs/automations.md).

``definitions`` reads and checks what an automation is (its GraphQL inputs'
JSON); ``tables`` stores it and its runs; ``triggers`` selects, set-wise in
SQL, who a periodic trigger fires for and on which occasion; ``evaluate``
runs them (segment snapshots included) and ``events`` opens the runs of
order and ticket webhooks; ``runs`` inserts runs with their jobs;
``execute`` runs a run's actions through ``actions``' executors; ``tasks``
is the job engine's blueprint; ``service`` manages automations for the API
and ``dry_run`` shows what one would do.

Imported by the resolvers, the webhooks and the composition roots (which
register ``tasks``); it imports the CRM writes, the insights' segment
filters, the change bus, the job engine and the database layer.
"""
