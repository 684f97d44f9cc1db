"""Outbound webhooks: the events the gateway sends to operators' endpoints,
signed by the Standard Webhooks specification (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``).

Not to be confused with ``gateway.webhooks``, which receives the upstreams'
webhooks. Here: the endpoints and their secrets (``endpoints.py``), the one
check of where a delivery may go (``targets.py``), publishing an event as one
stored message, a delivery per matching endpoint and their lanes' jobs, in
one transaction (``publish.py``), one signed HTTP attempt (``sending.py``),
claims and each batch's outcomes recorded with the retry, dead-letter and
disable decisions (``attempts.py``), the job engine's tasks that send a
lane's batch and a retry (``tasks.py``) and the delivery log's reads, retries and
replays (``deliveries.py``). docs/webhooks-outbound.md tells the whole story.
"""
