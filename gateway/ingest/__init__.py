"""Segment-compatible ingest: the HTTP Tracking API on ``/v1``.

Any Segment or RudderStack library (or plain HTTP) can send here by pointing
its host at the gateway (docs/ingest.md). Routes, all ``POST`` with a JSON
body::

    /v1/identify  /v1/track  /v1/page  /v1/screen  /v1/group  /v1/alias
    /v1/batch     {"batch": [message, ...], "sentAt"?, "context"?}

Two write keys, each the HTTP Basic user name with an empty password, or
``writeKey`` in the body, as Segment accepts both: the public
``CG_INGEST_WRITE_KEY`` (it ships in browsers: identify may only create and
fill empty fields) and the secret ``CG_INGEST_SERVER_WRITE_KEY`` (trusted:
identify may link on email and change profiles, alias may link); see
``profiles``. Bodies may be gzipped (``Content-Encoding: gzip``, ``gunzip``).
Traits and ids are read from every placement the Segment and RudderStack
specs allow (``placements``), times as ``times`` says.

Answers::

    200 {"success": true}
    200 {"success": true,
         "errors":   [{"index": 2, "messageId": "m3" | null,
                       "code": "invalid_timestamp", "message": "..."}],
         "warnings": [{"index": 0, "messageId": "m1", "field": "traits.phone",
                       "message": "..."}]}
    400 / 401 / 413 / 415 / 429 / 500 / 503
        {"success": false, "code": "...", "message": "..."}

``errors`` (batch only) lists the messages refused and not stored — the valid
ones of the batch are stored, and the answer is still 200, as Segment's. On a
single-message route a refused message is a 400 with the message's code
instead (413 when it is too large). ``warnings`` lists what a stored message
did not apply: a trait left out (an invalid phone, say) or refused under the
public key (a stored value kept, an email of another customer), or an alias
not linked. The public key's
sender is told only what the message alone decides (an invalid trait, an
alias: never linked under it), so its answers are the same whether or not an
email, phone or userId belongs to a customer; the server key is told all.
Error codes:
``too_large`` (413: a body over 32 KB per message or 500 KB per batch,
Segment's limits, plain or inflated; a message over 32 KB in a batch is one
of its ``errors``), ``invalid_json``, ``invalid_body`` (not valid gzip),
``invalid_message``, ``invalid_timestamp`` (see ``messages``),
``unsupported_encoding`` (415: a coding other than gzip), ``unauthorized``
(401), ``ingest_disabled`` (503, no write key set), ``conflict`` (503, nothing
stored: concurrent requests kept changing the same customers, see ``store``),
``server_error`` (500, nothing stored; Segment libraries retry it).

What is kept:

- every message is one ``tracked_events`` row: ``message_id`` (the sender's
  ``messageId``, or ``api-<uuid>`` when absent), ``type``, ``name`` (track
  ``event``, page/screen ``name``, group ``groupId``), ``properties`` (track,
  page and screen properties — a page's ``category`` included —, identify and
  group traits — identify's ``traits`` and ``context.traits`` merged —,
  ``{"previousId"}`` for an alias), ``context``, ``user_id``,
  ``anonymous_id``, ``occurred_at`` (see ``messages``), ``received_at`` and
  ``customer_id`` when the userId is linked to a customer. A ``messageId``
  already stored is acknowledged and skipped (unique index), as Segment
  de-duplicates on it;
- identify also creates or updates the customer (its traits), resolved by the
  userId's link in ``identities`` (source ``segment``), then — server key only
  — by the traits' email, created when unknown and an email is given, and
  links the userId to it (``profiles`` says what each key may change); other
  messages whose userId is not linked find their customer — server key only —
  by the email they name, linking nothing (``store``);
- alias (server key only) links its ``userId`` to the customer of
  ``previousId`` when that is a linked userId; screen and group are stored as
  events only. Anonymous ids are stored, not linked.

Every customer touched gets one ``CustomerChange(id, "ingest", kind)`` per
request once it is committed; ``kind`` is ``identify`` if the profile changed,
else the type of the customer's first message. All of a request is written in
one transaction (``store``).
"""

from gateway.ingest.http import ingest_routes

__all__ = ["ingest_routes"]
