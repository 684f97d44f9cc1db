"""The ingest's write keys: the HTTP Basic user name, or ``writeKey`` in the
body, as Segment takes either (``gateway.ingest``), and which of the two
configured keys one is.

Both at once must name the same key: Segment's libraries send it both ways,
the same. Two different keys are two credentials — the gateway would read
one, and whatever sits in front of it (a proxy, a WAF, a log) perhaps the
other — and are refused as two ``Authorization`` headers are (400). So is a
body naming ``writeKey`` twice: a JSON parser keeps one of the two (orjson
the last, others the first).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from typing import Any

from pydantic import SecretStr

from gateway.errors import Refused
from gateway.settings import Settings

ESCAPED_LETTER = re.compile(rb"\\u00(?:77|72|69|74|65|4[bB]|79)")
"""A letter of ``writeKey`` written as an escape (``\\u0077`` for ``w``):
how a second ``writeKey`` hides from a plain search of the body."""


def conflict() -> Refused:
    return Refused(
        400,
        "conflicting_write_keys",
        "the Basic credentials and the body's writeKey differ, or the body "
        "names writeKey twice: send one key",
    )


def basic_user(header: str | None) -> str | None:
    """The user name of HTTP Basic credentials: Segment's write key."""
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        raise Refused(
            401, "unauthorized", "use HTTP Basic auth with the write key as user name"
        )
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except ValueError as exc:  # binascii.Error, UnicodeDecodeError, non-ASCII
        raise Refused(401, "unauthorized", "malformed Basic credentials") from exc
    return decoded.partition(":")[0]


def write_keys(settings: Settings) -> dict[bool, bytes]:
    """The configured keys by trust: ``True`` for the server write key."""
    keys: dict[bool, SecretStr | None] = {
        False: settings.ingest_write_key,
        True: settings.ingest_server_write_key,
    }
    return {
        trusted: key.get_secret_value().encode()
        for trusted, key in keys.items()
        if key is not None and key.get_secret_value()
    }


def is_trusted(provided: str | None, keys: dict[bool, bytes]) -> bool:
    """Whether ``provided`` is the server write key (``False``: the public one);
    every configured key is compared, in constant time. Should both keys be
    equal (settings refuse it), the public key's limits apply."""
    given = (provided or "").encode()
    matches = [t for t, key in keys.items() if hmac.compare_digest(given, key)]
    if provided is None or not matches:
        raise Refused(401, "unauthorized", "invalid or missing write key")
    return matches[0]


def body_write_key(
    payload: dict[str, Any], body: bytes, header_key: str | None
) -> object:
    """The body's ``writeKey`` (``None``: none), once a ``conflict()`` is ruled
    out: the key named twice in the body's object (``payload``, parsed), or
    another than the Basic credentials' ``header_key``."""
    if body.count(b'writeKey"') > 1 or ESCAPED_LETTER.search(body):
        # a name that may repeat, or hide behind escapes: read again, the
        # body's names as they were sent (the stdlib's parser, each object
        # the tuple of its members: about orjson's cost; orjson keeps one of
        # two names)
        try:
            sent = json.loads(body, object_pairs_hook=tuple)
        except RecursionError as exc:  # orjson reads deeper than the stdlib
            raise Refused(400, "invalid_json", "the body is nested too deeply") from exc
        if sum(name == "writeKey" for name, _ in sent) > 1:
            raise conflict()
    found = payload.get("writeKey")
    if header_key is not None and found is not None and found != header_key:
        raise conflict()
    return found
