"""Klaviyo's published OpenAPI spec (the trimmed copy beside this file:
``klaviyo_openapi.json``, from github.com/klaviyo/openapi ``openapi/stable.json``,
revision 2026-07-15, the operations the connector uses with their schemas as
published), as JSON Schema for ``jsonschema``.

OpenAPI 3.0 marks ``null`` with ``nullable: true`` beside a ``type`` or a
``$ref``; JSON Schema spells it as a type: each is rewritten so, and nothing
else is changed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC = Path(__file__).with_name("klaviyo_openapi.json")
JSON_API = "application/vnd.api+json"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if not node.get("nullable"):
        return converted
    if "$ref" in converted:
        return {
            "anyOf": [{"$ref": converted.pop("$ref")}, {"type": "null"}],
            **converted,
        }
    kind = converted.get("type")
    if isinstance(kind, str):
        converted["type"] = [kind, "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = _nullable(json.loads(SPEC.read_text()))
    return loaded


def _validator(schema: dict[str, Any]) -> Draft7Validator:
    root = Resource.from_contents(spec(), default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource("urn:klaviyo", root)
    return Draft7Validator({**schema, "$id": "urn:klaviyo"}, registry=registry)


def _check(schema: dict[str, Any], instance: Any) -> None:
    errors = sorted(_validator(schema).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def _ref(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["$ref"]
    return {"$ref": "urn:klaviyo" + ref}


def check_request(path: str, method: str, body: Any) -> None:
    operation = spec()["paths"][path][method]
    schema = operation["requestBody"]["content"][JSON_API]["schema"]
    _check(_ref(schema), body)


def check_response(path: str, method: str, status: int, body: Any) -> None:
    responses = spec()["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses[f"{str(status)[0]}XX"]
    if "$ref" in answer:
        answer = spec()["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"][JSON_API]["schema"]
    _check(_ref(schema) if "$ref" in schema else _inline(schema), body)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(schema).replace('"#/components', '"urn:klaviyo#/components')
    inlined: dict[str, Any] = json.loads(text)
    return inlined
