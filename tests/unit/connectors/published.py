"""Shopify's published 2025-07 Admin schema (tests/data/shopify/README.md): the
schema itself, and the access scope each type and field requires."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_client_schema

PUBLISHED = Path(__file__).parents[2] / "data" / "shopify" / "admin_2025-07.json.gz"


@cache
def _introspection() -> dict[str, Any]:
    with gzip.open(PUBLISHED) as file:
        loaded: dict[str, Any] = json.load(file)
    return loaded


@cache
def published_schema() -> GraphQLSchema:
    """Taken as valid: graphql-core holds deprecations on interface
    implementations to a rule Shopify's schema does not follow
    (``Customer.hasTimelineComment`` deprecated, its interface's not)."""
    return build_client_schema(_introspection()["data"], assume_valid=True)


def required_access(type_name: str, field: str | None = None) -> list[str]:
    """The scopes Shopify names for a type (or one of its fields)."""
    for item in _introspection()["offline_scopes"]["items"]:
        if item["typeName"] == type_name and item.get("fieldName") == field:
            scopes: list[str] = item["offlineScopes"]
            return scopes
    return []
