"""The unified customer timeline: items, their keyset order and the k-way merge.

Every source (Shopify, Zendesk, PostHog, the ingest API, our CRM history)
produces ``TimelineItem``s for a ``Window`` of the keyset order
``(occurred_at, source, sort_id)``, at most ``window.limit`` of them; the merge
takes what the page needs from those runs. Nothing here reads a database or an
upstream: ``sources`` does, through the per-request loaders.
"""
