"""The schema as an Apollo Federation v2 subgraph.

``Customer`` is an entity (``@key(fields: "id")`` and ``@key(fields: "email")``)
so a supergraph (Apollo Router or Gateway, Hive Gateway, Cosmo) can join other
subgraphs' types to it; ``_service { sdl }`` is what ``customer-graph schema
--federation`` prints. Entities are resolved by ``Customer.resolve_reference``
through the request's DataLoaders: a hundred representations are one batch.

Strawberry's own ``_entities`` resolver fails the whole field on a
representation it cannot read (no ``__typename``, not an object, a type that is
no entity); here such a representation is a ``BAD_USER_INPUT`` error for its
own position only, and the others are answered.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Final, Literal

import strawberry
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import Info

from gateway.errors import BadUserInput
from gateway.schema.base import QuietErrors

FEDERATION_VERSION: Final[Literal["2.7"]] = "2.7"
"""Not Strawberry's newest default: a router composes only the spec versions it
knows, and the schema uses nothing newer than ``@key``, so an older version
lets older routers (Apollo's since 2.7) compose it."""


class FederatedSchema(QuietErrors, strawberry.federation.Schema):
    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        return [self._entity(info, r, index) for index, r in enumerate(representations)]

    def _entity(self, info: Info, representation: Any, index: int) -> Any:
        if not (
            isinstance(representation, dict)
            and representation.get("__typename") in self._entity_names
        ):
            return BadUserInput(
                "A representation is an object with the `__typename` of an entity "
                f"({', '.join(sorted(self._entity_names))}) and its key fields.",
                field=f"representations.{index}",
            )
        copy = FederationAny(dict(representation))  # Strawberry pops __typename
        return super().entities_resolver(info, [copy])[0]

    @cached_property
    def _entity_names(self) -> frozenset[str]:
        return frozenset(
            name
            for name, type_ in self.schema_converter.type_map.items()
            if any(isinstance(d, Key) for d in type_.definition.directives or ())
        )
