"""The local mirror of PostHog's events: a customer's web activity, last-seen
time and sessions read from our database instead of PostHog's query API,
which allows about 120 HogQL queries an hour per key (PostHog's
``posthog/rate_limit.py``) — a help desk's views would spend that in minutes.

- ``store``: events written once each, by uuid, whether PostHog's real-time
  destination delivered them (``gateway.webhooks.posthog``) or the backfill
  read them;
- ``reads``: a batch of persons' newest events and their summaries, in SQL;
- ``fallback``: the live HogQL path, only for persons the mirror has no event
  of, spending PostHog's one budget (``gateway.guard``) at fallback priority,
  and counted;
- ``backfill``: history from the query API, page by page, spending the same
  budget as background work, resumable, for ``customer-graph mirror backfill``.

Rows are keyed by PostHog's ``distinct_id``, as the query API reads them:
our customer is linked to one (``gateway.identity``) and reads its rows.
They live in a table of their own, ``posthog_events``, not in the ingest's
``tracked_events``: those are keyed by a Segment ``messageId`` and linked by
Segment userIds, carry identify traits under trust rules, and are the
timeline's ``INGEST`` source — PostHog's events there would show twice, and
the reads here need ``(distinct_id, occurred_at)`` ordering, which that table
has no index for.
Imported by the loaders, insights, webhooks, the command line and the demo;
imports connectors' canonical models, ``gateway.db`` and ``gateway.metrics``.
"""
