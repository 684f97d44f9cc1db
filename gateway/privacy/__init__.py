"""Data subject requests: a customer's erasure and export, reaching every
place their data lives — our tables and each linked upstream.

``requests.py`` records a request (``privacy_requests``, ids only) with a
status per source (``privacy_request_sources``: ``local``, ``shopify``,
``zendesk``, ``posthog``) and defers its jobs in the same transaction;
``erasure.py`` deletes the customer from every local table;
``upstreams.py`` asks one upstream to erase (each connector's
``erase_customer``); ``export.py`` builds the export's JSON document;
``tasks.py`` is the job engine's blueprint (namespace ``privacy``), one job
per source so that a failing upstream is retried with backoff while the
others finish. docs/privacy.md says what is erased and why.

Imported by ``gateway.resolvers`` (the API), ``gateway.webhooks`` (Shopify's
``customers/redact``) and ``gateway.app`` (the blueprint).
"""
