"""The words the schema uses to describe itself in GraphiQL's Docs panel.

Every type, field, enum value and input field has a description
(``tests/unit/test_schema_descriptions.py`` fails otherwise). A description
says what the value is, its unit or format, the order of a list and its page
limit; it does not restate the field's name.

**Null convention.** A nullable output field's description says when it is
null, in a sentence containing "null when" (a state of the data) or "null
where" (the caller's role), in any case. The usual reasons are phrased by the
helpers below, so they read the same everywhere and follow the code they
describe:

- ``from_source``: the customer is not linked to that upstream, or the upstream
  failed — the response then carries an error whose ``extensions.source`` names
  it (``gateway.errors``), and the rest of the data is still served;
- ``scope_missing``: the upstream did not grant the gateway the access scope
  the field needs (Shopify's ``read_products``, ``read_returns``): the error's
  ``extensions.code`` is ``UPSTREAM_FORBIDDEN``, the rest is served;
- ``role_null``: the caller's role may not see that kind of personal data
  (``gateway.auth.policy.PII_POLICY``, applied by the ``Pii`` field extension);
  ``role_refused`` and ``search_by_role`` say the same of arguments that
  compare with it (``gateway.auth.policy.COMPARED``);
- otherwise the description says it plainly ("null when none is recorded",
  "null when the task is open").

**Money** is ``Money { amount currencyCode }``: ``amount`` a decimal string
with the currency's fixed number of digits (``"12.50"`` USD, ``"1200"`` JPY,
``"1.250"`` KWD), never a float.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from gateway.auth.policy import (
    CONSENT_CHANNELS,
    PII_POLICY,
    SEARCHED,
    PiiKind,
    Treatment,
    searched,
)


def from_source(source: str) -> str:
    """When a field read from ``source`` (an upstream's display name) is null."""
    return (
        f"Null when the customer is not linked to {source} (or {source} is not "
        f"configured), or when {source} failed: the response's `errors` then "
        f'hold one with `extensions.source` "{source.lower()}". When {source} '
        "fails after a recent read, that read answers instead, and the "
        f'response\'s `extensions.stale` lists `{{source: "{source.lower()}", '
        "fetchedAt}`."
    )


def scope_missing(source: str) -> str:
    """When a field read from ``source`` is null for an access scope the
    upstream did not grant (``connectors.errors.UpstreamForbidden``)."""
    return (
        f"Null when {source} did not grant the gateway the access scope it needs:"
        " the response's `errors` then hold one with `extensions.code`"
        ' "UPSTREAM_FORBIDDEN" (docs/shopify.md).'
    )


def role_null(kind: PiiKind, masked_as: str = "") -> str:
    """When a field holding ``kind`` of personal data is null or masked, by
    role; ``masked_as`` shows what a masked value looks like."""
    hidden = _roles(kind, Treatment.HIDE)
    masked = _roles(kind, Treatment.MASK)
    consented = _roles(kind, Treatment.CONSENTED)
    words = f"Null where the caller's role may not see it ({hidden})."
    if consented:
        channel = CONSENT_CHANNELS[kind].upper()
        words += (
            f" For {consented}: the value in full where the customer's {channel}"
            " consent is granted when it is read, else null (denied, pending or"
            " none recorded), never masked."
        )
    if not masked:
        return words
    return f"{words} Masked for {masked}" + (f": {masked_as}." if masked_as else ".")


def role_refused(kind: PiiKind) -> str:
    """Who may not search, filter, order or look up by a value of ``kind``
    (``gateway.auth.policy.COMPARED``: only roles that see it in full may)."""
    roles = ", ".join(
        role.value
        for role, rules in PII_POLICY.items()
        if rules[kind] is not Treatment.FULL
    )
    words = kind.value.replace("_", " ")
    return f"FORBIDDEN for roles that do not see {words} in full ({roles})."


def search_by_role() -> str:
    """What ``customers(search:)`` matches for each role (``policy.searched``)."""
    parts = []
    for role in PII_POLICY:
        fields = sorted(searched(role))
        if len(fields) < len(SEARCHED):
            parts.append(f"{role.value}: {' and '.join(fields) or 'FORBIDDEN'}")
    return (
        "Only what the caller's role sees in full is searched ("
        + "; ".join(parts)
        + ")."
    )


def _roles(kind: PiiKind, treatment: Treatment) -> str:
    return ", ".join(
        role.value for role, rules in PII_POLICY.items() if rules[kind] is treatment
    )


def describe_values(cls: type[enum.Enum], values: Mapping[enum.Enum, str]) -> None:
    """Give the values of an enum made with ``strawberry.enum(cls)`` in a module
    that does not import strawberry (``Kind``, ``Source``…) their descriptions."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    by_value = {member.value: text for member, text in values.items()}
    for value in definition.values:
        value.description = by_value[value.value]
