"""The one place that admits an operation, whatever carried it.

``/graphql`` over HTTP (POST and GET) and WebSocket, and ``/embed/graphql``
over both, call ``OperationGate.admit`` with the caller that
``gateway.auth.admission`` let in, before anything executes. A transport only
finds the credentials and writes a refusal in its own shape (an HTTP status,
or a graphql-transport-ws ``error`` message), always with the same
``extensions.code``. In order:

1. the operation's shape: ``query`` a string (a persisted query resolved by
   the endpoint first), ``variables`` an object (400 ``BAD_REQUEST``);
2. the rate limit, one token per operation — a batch of ten takes ten, as
   ten socket operations do (429 ``RATE_LIMITED`` with ``Retry-After`` /
   ``retryAfter``);
3. the query limits on the parsed document with COERCED variables
   (``gateway.admission.limits``: 400, each its code; ``INTROSPECTION_DISABLED`` in
   production);
4. subscriptions: over WebSocket only (400 ``SUBSCRIPTION_OVER_HTTP``: over
   plain HTTP they would run as a query, and fail inside);
5. mutations: never over GET (405), and only those the role may run, with
   the argument values it may use (403; ``gateway.auth.policy``: marketing's
   ``setConsent`` records an opt-out only);
6. root fields some roles only may use, queries too (403;
   ``policy.ROOT_FIELD_ROLES``: automations are admin's and marketing's,
   outbound webhooks admin's);
7. comparisons: arguments, filter fields, order values and entity keys that
   compare with personal data only for a role that sees it in full
   (``policy.COMPARED``; 403 ``FORBIDDEN`` with ``extensions.argument``).

Errors that do reach the client pass ``present``: codes for all
(``gateway.errors``), and in production no "Did you mean …" suggestions.
Each endpoint has its own gate: the embed one has tighter limits
(``Limits.for_embed``) and a bucket per embed token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSchema, value_from_ast_untyped

from gateway.admission.answers import customer_argument
from gateway.admission.limits import Analysis, LimitExceeded, Limits, analyse
from gateway.auth.admission import take_token
from gateway.auth.audit import AuditTrail
from gateway.auth.policy import (
    COMPARED,
    Role,
    argument_limits,
    may_compare,
    may_run_mutation,
    may_use_root_field,
)
from gateway.auth.principal import Principal
from gateway.auth.ratelimit import RateLimiter
from gateway.errors import Refused, format_errors

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


@dataclass(frozen=True, slots=True)
class Operation:
    """What a transport received, not yet trusted."""

    query: object
    operation_name: object = None
    variables: object = None


@dataclass(frozen=True, slots=True)
class OperationGate:
    schema: GraphQLSchema
    limits: Limits
    limiter: RateLimiter
    production: bool

    async def admit(
        self, principal: Principal, operations: Sequence[Operation], method: str
    ) -> list[Analysis | None]:
        """Each operation's analysis (``None``: a syntax error, which the
        executor reports with its location); ``Refused`` for the first one
        that may not run. ``method`` is the HTTP method, or ``"WS"``."""
        for operation in operations:
            _check_shape(operation)
            await take_token(self.limiter, principal)
        return [self._check(principal, o, method) for o in operations]

    async def admit_reading(
        self,
        principal: Principal,
        operation: Operation,
        method: str,
        reading: Sequence[str],
    ) -> tuple[Analysis | None, list[bytes | None] | None]:
        """``admit`` of one operation, with the values at ``reading`` read in
        the rate limit's round trip (``None``: not read). The response cache's
        entry of a request seen before: a hit then costs one round trip. Read
        before the checks, used only once they all passed."""
        _check_shape(operation)
        values = await take_token(self.limiter, principal, reading)
        return self._check(principal, operation, method), values

    def _check(
        self, principal: Principal, operation: Operation, method: str
    ) -> Analysis | None:
        assert isinstance(operation.query, str)
        try:
            analysis = analyse(
                self.schema,
                operation.query,
                operation.operation_name,  # type: ignore[arg-type]
                operation.variables,  # type: ignore[arg-type]
                self.limits,
            )
        except LimitExceeded as exc:
            named = {"field": exc.field} if exc.field else {}
            raise Refused(400, exc.code, exc.message, extensions=named) from exc
        except GraphQLError:
            return None
        if analysis.is_subscription and method != "WS":
            raise Refused(
                400,
                "SUBSCRIPTION_OVER_HTTP",
                "Subscriptions run over WebSocket (graphql-transport-ws) on this "
                "path, not over plain HTTP.",
            )
        if analysis.is_mutation:
            _check_mutation(principal, analysis, method, operation.variables)
        self._check_root_fields(principal, analysis)
        _check_comparisons(principal, analysis)
        return analysis

    def _check_root_fields(self, principal: Principal, analysis: Analysis) -> None:
        """Root fields kept to some roles (``policy.ROOT_FIELD_ROLES``),
        queries included; a field this schema lacks (the embed one's) is left
        to validation, which names it."""
        root = self.schema.get_root_type(analysis.operation.operation)
        served = root.fields if root is not None else {}
        for node in analysis.root_fields:
            name = node.name.value
            if name in served and not may_use_root_field(principal.role, name):
                raise Refused(403, "FORBIDDEN", _forbidden(principal.role, name))

    def present(self, errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
        """Errors as the client sees them, on every transport."""
        errors = format_errors(errors)
        for error in errors or ():
            error.message = self.message(error.message)
        return errors

    def message(self, text: str) -> str:
        """In production, without "Did you mean …" (field, argument, type and
        enum value names are what an attacker fishes for)."""
        return _SUGGESTION.sub("", text) if self.production else text


def _check_mutation(
    principal: Principal, analysis: Analysis, method: str, variables: object
) -> None:
    if method == "GET":
        raise Refused(
            405,
            "METHOD_NOT_ALLOWED",
            "Mutations must be sent with POST.",
            headers={"Allow": "POST"},
        )
    sent = _as_sent(analysis, variables)
    for node in analysis.root_fields:
        name = node.name.value
        arguments = {
            a.name.value: value_from_ast_untyped(a.value, sent)
            for a in node.arguments or ()
        }
        if not may_run_mutation(principal.role, name, arguments):
            raise Refused(403, "FORBIDDEN", _forbidden(principal.role, name))


def _check_comparisons(principal: Principal, analysis: Analysis) -> None:
    """A role searches, filters, orders and looks up only by what it sees in
    full (``policy.COMPARED``): anything else would be an oracle for a value
    it may not see (``customers(search: "alice@")``, ``orderBy: EMAIL_ASC``)."""
    for coordinate in sorted(analysis.arguments & COMPARED.keys()):
        if not may_compare(principal.role, coordinate):
            kinds = ", ".join(sorted(COMPARED[coordinate]))
            raise Refused(
                403,
                "FORBIDDEN",
                f"The {principal.role} role may not search, filter, order or look"
                f" up by {coordinate}: it does not see {kinds} in full.",
                extensions={"argument": coordinate},
            )


def _as_sent(analysis: Analysis, variables: object) -> dict[str, Any]:
    """The variables as sent, with the operation's defaults for those left out
    (enum values stay their GraphQL names: what ``ARGUMENTS_BY_ROLE`` lists)."""
    sent = dict(variables) if isinstance(variables, dict) else {}
    for definition in analysis.operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in sent and definition.default_value is not None:
            sent[name] = value_from_ast_untyped(definition.default_value)
    return sent


def _forbidden(role: Role, field: str) -> str:
    limits = argument_limits(role, field)
    if not limits:
        return f"The {role} role may not run {field}."
    only = ", ".join(f"{n}: {' or '.join(sorted(v))}" for n, v in limits.items())
    return f"The {role} role may run {field} only with {only}."


def audit_writes(
    trail: AuditTrail, analysis: Analysis | None, variables: dict[str, Any] | None
) -> None:
    """Note each mutation an admitted operation runs, and on which customer,
    in the request's audit trail: the same on every transport."""
    if analysis is None or not analysis.is_mutation:
        return
    for node in analysis.root_fields:
        trail.wrote(customer_argument(node, variables), node.name.value)


def check_shape(operation: Operation, extensions: object = None) -> None:
    """What a WebSocket ``subscribe`` carries, checked as Strawberry checks an
    HTTP body (``query`` may still be ``None``: a persisted query's hash)."""
    if not isinstance(operation.query, str | None):
        raise Refused(400, "BAD_REQUEST", "query must be a string.")
    if not isinstance(operation.operation_name, str | None):
        raise Refused(400, "BAD_REQUEST", "operationName must be a string.")
    if not isinstance(operation.variables, dict | None):
        raise Refused(400, "BAD_REQUEST", "variables must be an object.")
    if not isinstance(extensions, dict | None):
        raise Refused(400, "BAD_REQUEST", "extensions must be an object.")


def _check_shape(operation: Operation) -> None:
    check_shape(operation)
    if operation.query is None:
        raise Refused(400, "BAD_REQUEST", "No GraphQL query found in the request.")
