"""HogQL parsed by PostHog's own parser, read into the simulator's ``Select``.

The parser is the ``hogql-parser`` package that PostHog's query API runs
(posthog/hogql/parser.py); ``parse_select_json`` gives its tree as JSON, or an
error object for text it refuses, which the simulator refuses as PostHog does.
The tree is read for the subset ``connectors.posthog.hogql`` sends (selects
joined by ``UNION ALL``; fields, strings, ``NULL``, ``count``/``max``/``min``;
comparisons joined by ``and``; one ``group by``/``order by``/``limit by`` field;
``limit``); any other node or clause is a ``HogQLError`` naming it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from types import ModuleType
from typing import Any

from connectors.posthog.simulator import hogql_ast as ast
from connectors.posthog.simulator.hogql_ast import HogQLError, HogQLSyntaxError

Node = dict[str, Any]
_CLAUSES = {"node", "select", "select_from", "where", "group_by", "order_by"}
_CLAUSES |= {"limit", "limit_by"}
_OPS = {"==": "=", "!=": "!=", ">=": ">=", ">": ">", "<=": "<=", "<": "<", "in": "in"}
_INTERVALS = {f"toInterval{u.title()}": u + "s" for u in ("second", "minute", "hour")}
_INTERVALS |= {"toIntervalDay": "days", "toIntervalWeek": "weeks"}


class ParserFailure(RuntimeError):
    """The parser failed inside (its ``ParsingError``): PostHog answers 500."""


def _load_parser() -> Callable[..., str]:
    """PostHog's parser imports ``posthog.hogql.ast``, ``.base`` and ``.errors``
    when it loads and keeps them (common/hogql_parser/parser_python.cpp,
    ``parser_modexec``); its JSON functions only raise ``errors.SyntaxError`` and
    ``errors.ParsingError``. Stand-ins serve that import and are removed after
    it, whatever ``posthog`` (such as PostHog's SDK) was there before."""
    names = ["posthog", "posthog.hogql"]
    names += [f"posthog.hogql.{part}" for part in ("ast", "base", "errors")]
    before = {name: sys.modules.pop(name, None) for name in names}
    sys.modules.update({name: ModuleType(name) for name in names})
    errors = sys.modules["posthog.hogql.errors"]
    vars(errors).update(SyntaxError=HogQLSyntaxError, ParsingError=ParserFailure)
    try:
        import hogql_parser
    finally:
        for name in names:
            del sys.modules[name]
        sys.modules.update({n: m for n, m in before.items() if m is not None})
    return hogql_parser.parse_select_json


_parse_select_json = _load_parser()


@lru_cache(maxsize=512)
def _parsed(text: str) -> str:
    """The parser's tree of ``text`` as JSON, remembered: a gateway sends the
    same few queries again and again (a view's, a page's), and the parser
    takes ~14 ms of CPU for each, which a real PostHog spends on its own
    servers, not on the cores of the gateway under test (docs/benchmarks.md,
    "The simulators' own CPU")."""
    return _parse_select_json(text, is_internal=True)


def parse(text: str, *, now: datetime) -> list[ast.Select]:
    """The selects of a query (several when joined by ``UNION ALL``); ``now``
    is what ``now()`` means in it."""
    tree: Node = json.loads(_parsed(text))
    if tree.get("error"):
        if tree.get("type") == "SyntaxError":
            raise HogQLSyntaxError(str(tree.get("message")))
        raise ParserFailure(str(tree.get("type")))
    parts = [tree]
    if tree["node"] == "SelectSetQuery":
        parts = [tree["initial_select_query"]]
        for part in tree["subsequent_select_queries"]:
            if part["set_operator"] != "UNION ALL":
                raise _unsupported(part["set_operator"])
            parts.append(part["select_query"])
    selects = [_Reader(now).select(part) for part in parts]
    if len({len(s.items) for s in selects}) > 1:
        raise HogQLError(
            "Different number of columns in UNION ALL elements: "
            + ", ".join(str(len(s.items)) for s in selects)
        )
    return selects


def _unsupported(what: object) -> HogQLError:
    return HogQLError(f"The PostHog simulator does not run {what}")


class _Reader:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.schema: dict[str, Any] = {}

    def select(self, node: Node) -> ast.Select:
        if node["node"] != "SelectQuery":
            raise _unsupported(f"a nested {node['node']}")
        extra = sorted(k for k, v in node.items() if v and k not in _CLAUSES)
        if extra:
            raise _unsupported(f"`{extra[0]}`")
        source = node.get("select_from")
        if not source or source["table"]["node"] != "Field":
            raise _unsupported("a select without a table")
        if any(source[k] for k in source if k not in ("node", "table")):
            raise _unsupported("joins, aliases or sampling")
        table = ".".join(source["table"]["chain"])
        if table not in ast.TABLES:
            raise _unsupported(f"the table `{table}`")
        self.schema = ast.TABLES[table]
        query = ast.Select(table, [self.item(e) for e in node["select"]], [])
        where = node.get("where")
        conditions = where["exprs"] if where and where["node"] == "And" else [where]
        query.where = [self.condition(c) for c in conditions if c]
        if node.get("group_by"):
            query.group_by = self.only_field(node["group_by"], "group by")
        if node.get("order_by"):
            order = node["order_by"]
            query.order_by = self.only_field([o["expr"] for o in order], "order by")
            query.descending = order[0]["order"] == "DESC"
        if limit_by := node.get("limit_by"):
            if limit_by.get("offset_value"):
                raise _unsupported("`limit … offset … by`")
            field = self.only_field(limit_by["exprs"], "limit by")
            query.limit_by = (self.integer(limit_by["n"]), field)
        if node.get("limit"):
            query.limit = self.integer(node["limit"])
        return query

    def field(self, node: Node) -> ast.Field:
        if node.get("chain") == ["*"]:
            raise _unsupported("`*`")
        if node["node"] != "Field":
            raise _unsupported(f"a {node['node']} where a field is expected")
        return ast.resolve(tuple(node["chain"]), self.schema)

    def only_field(self, nodes: list[Node], clause: str) -> ast.Field:
        if len(nodes) != 1:
            raise _unsupported(f"`{clause}` on {len(nodes)} expressions")
        return self.field(nodes[0])

    def item(self, node: Node) -> ast.Item:
        kind = node["node"]
        if kind == "Constant" and (node["value"] is None or type(node["value"]) is str):
            return ast.Constant(node["value"])
        if kind == "Call" and node["name"] in ("count", "max", "min"):
            args = [a for a in node["args"] if a.get("chain") != ["*"]]
            if node.get("params") or node.get("filter_expr") or len(args) > 1:
                raise _unsupported(f"this {node['name']}()")
            if not args and node["name"] != "count":
                raise HogQLError(f"Aggregation '{node['name']}' requires 1 argument")
            arg = self.field(args[0]) if args else None
            return ast.Aggregate(node["name"], bool(node["distinct"]), arg)
        return self.field(node)

    def condition(self, node: Node) -> ast.Condition:
        if node["node"] != "CompareOperation" or node["op"] not in _OPS:
            raise _unsupported(f"the condition {node.get('op', node['node'])}")
        right = node["right"]
        values = right["exprs"] if right["node"] == "Tuple" else [right]
        return ast.Condition(
            self.field(node["left"]),
            _OPS[node["op"]],
            tuple(self.value(v) for v in values),
        )

    def integer(self, node: Node) -> int:
        if node["node"] != "Constant" or type(node["value"]) is not int:
            raise _unsupported("a limit that is not an integer")
        return int(node["value"])

    def value(self, node: Node) -> Any:
        kind, name = node["node"], node.get("name")
        if kind == "Constant" and type(node["value"]) in (str, int):
            return node["value"]
        if kind == "Call" and name == "now" and not node["args"]:
            return self.now
        if kind == "Call" and name == "toDateTime" and len(node["args"]) == 1:
            return str(self.value(node["args"][0]))  # hogql_eval reads it as a time
        if kind == "ArithmeticOperation" and node["op"] in ("+", "-"):
            start, step = self.value(node["left"]), node["right"]
            unit = _INTERVALS.get(step.get("name", ""))
            if isinstance(start, datetime) and unit and len(step["args"]) == 1:
                delta = timedelta(**{unit: self.integer(step["args"][0])})
                return start + delta if node["op"] == "+" else start - delta
        raise _unsupported(f"this {kind} value")
