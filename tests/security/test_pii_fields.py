"""The schema's own account of personal data: a field whose name looks
personal must carry the ``Pii`` extension, or no table would know its kind."""

from __future__ import annotations

from tests.security.entries import api_schema, embed_schema
from tests.security.schema_walk import pii_leaves


def test_every_field_named_like_personal_data_is_marked_pii() -> None:
    unmarked = sorted(
        f"{name}: {leaf.key} (looks like {leaf.kind})"
        for name, schema in (("api", api_schema()), ("embed", embed_schema()))
        for leaf in pii_leaves(schema).values()
        if not leaf.declared
    )
    assert not unmarked, "fields without the Pii extension:\n" + "\n".join(unmarked)
