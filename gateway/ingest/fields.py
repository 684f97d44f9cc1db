"""Reading one field of a Segment message by its type: ids, texts, objects,
and the checks every value of a message passes.

Strings must be free of NUL characters and objects nested at most
``MAX_DEPTH`` deep anywhere in a message, its batch's context included
(PostgreSQL's text columns, where traits land, refuse a NUL, as does a cast of
the stored JSON to ``jsonb``; orjson cannot serialize past 254 levels, and
deeper values are a misuse anyway).
"""

from __future__ import annotations

from collections.abc import Mapping

ID_LENGTH = 255
MAX_DEPTH = 32

JSONObject = dict[str, object]


class InvalidMessage(Exception):
    """A message we cannot store; ``reason`` is shown to the sender, ``code``
    (``invalid_message``, ``invalid_timestamp``, ``too_large``) is also logged."""

    def __init__(self, reason: str, code: str = "invalid_message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def id_value(value: object, field: str) -> str | None:
    """Segment ids are strings; integers are accepted and stringified as the
    libraries do. A float is not (orjson reads an integer past 64 bits as one,
    whose text would be another id). An empty id counts as absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidMessage(f"{field} must be a string")
    text = str(value)
    check_text(text, field)
    return text


def usable_id(value: object) -> str | None:
    """``value`` as an id when it is one (a string or an integer, 1 to
    ``ID_LENGTH`` characters), else None: for the placements read only when
    they hold an id, which leave a message valid when they do not."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    as_text = str(value)
    return as_text if 0 < len(as_text) <= ID_LENGTH else None


def text(raw: Mapping[str, object], field: str) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{field} must be a string")
    check_text(value, field)
    return value


def check_text(value: str, field: str) -> None:
    if len(value) > ID_LENGTH:
        raise InvalidMessage(f"{field} is longer than {ID_LENGTH} characters")
    if "\x00" in value:
        raise InvalidMessage(f"{field} contains a NUL character")


def json_object(raw: Mapping[str, object], field: str) -> JSONObject:
    """``raw[field]`` as a (copied) object; absent or null is empty."""
    value = raw.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage(f"{field} must be a JSON object")
    return dict(value)


def check_values(raw: JSONObject) -> None:
    """No NUL in any key or string, no nesting deeper than ``MAX_DEPTH``."""
    stack: list[tuple[object, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidMessage("the message contains a NUL character")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidMessage(f"the message is nested over {MAX_DEPTH} levels deep")
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        stack += [(item, depth + 1) for item in items]
