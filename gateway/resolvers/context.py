"""What every resolver gets: the request, the per-request loaders and the
long-lived services opened by the app's lifespan."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from connectors.scope import current_scope
from gateway.auth.audit import AuditTrail
from gateway.auth.policy import Role
from gateway.auth.principal import Principal
from gateway.db import models
from gateway.loaders import Loaders

if TYPE_CHECKING:
    from gateway.runtime.services import Services


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket
    services: Services
    loaders: Loaders
    principal: Principal | None = None
    audit: AuditTrail = field(default_factory=AuditTrail)
    connection_params: dict[str, object] | None = None
    """WebSocket ``connection_init`` payload (set by Strawberry)."""
    errors: list[GraphQLError] = field(default_factory=list)
    """Errors to send beside the data (a timeline source that failed)."""
    fragments: object | None = None
    """The request's reader of cached customer fragments, when ``/graphql``
    serves the query through them (``gateway.http.fragments``)."""
    survivor_shown: bool = False
    """Whether a customer asked by a merged record's id was answered with its
    survivor: the response is then not stored (``/graphql``'s response cache
    keys it by the versions of the ids asked, which the survivor's changes do
    not move)."""

    @property
    def role(self) -> Role:
        """The caller's role; with no caller (never admitted), the one that
        sees least."""
        return self.principal.role if self.principal is not None else Role.ANALYST

    def consents(self, customer_id: int) -> Awaitable[list[models.Consent]]:
        """The customer's consent rows as they are now (never memoized), the
        load started at once (``gateway.auth.pii``: a level's customers are one
        statement)."""
        loaded: Awaitable[list[models.Consent]] = (
            self.loaders.consents_now_by_customer.load(customer_id)
        )
        return loaded

    @staticmethod
    def answered_stale() -> bool:
        """Whether a source answered this operation from a stale value so far
        (``extensions.stale``): what showed it is not worth keeping."""
        scope = current_scope()
        return scope is not None and bool(scope.stale)

    @property
    def actor(self) -> str:
        """Who is asking, for authored records such as a note."""
        return self.principal.subject if self.principal is not None else "api"


Info = StrawberryInfo[Context, None]
