"""The query shapes our code sends to MongoDB, read from the source (no import, no server).

A *shape* names what the server has to get right, not the field names: the collection method,
the filter's terms (``_id`` equality, ``=`` for another field's equality, each query operator,
``$exists:false`` and ``null`` spelled out, ``$or(...)`` with its branches), the update's
operators, and the options that change the answer (``upsert``, ``after``, ``projection``,
``sort``, ``limit``, ``ordered=False``). For example::

    update_one(_id $lt; $inc $set $setOnInsert) upsert

Filters and updates built in variables are followed inside the function (``q = {...}``,
``q["seq"] = {...}``, ``{**due, ...}``), and ``stage_update(...)`` adds the outbox's ``$set``
and ``$inc``. Indexes are read from ``IndexSpec(...)`` declarations:
``index(2 keys desc) unique``. The MongoDB-semantics suite (``tests/mongo``) names each shape it
covers; its inventory test fails when the code uses a shape the suite does not cover.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Site", "scan", "shapes_in_source"]

#: collection methods whose first argument is a filter
FILTER_METHODS = {
    "find",
    "find_one",
    "count_documents",
    "update_one",
    "update_many",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "replace_one",
    "delete_one",
    "delete_many",
    "UpdateOne",
    "UpdateMany",
    "DeleteOne",
    "DeleteMany",
    "ReplaceOne",
}
UPDATE_METHODS = {"update_one", "update_many", "find_one_and_update", "UpdateOne", "UpdateMany"}
OTHER_METHODS = {
    "insert_one",
    "insert_many",
    "bulk_write",
    "aggregate",
    "distinct",
    "create_index",
    "create_indexes",
    "watch",
    "InsertOne",
}
#: helpers that extend an update document: the operators they add
UPDATE_HELPERS = {"stage_update": {"$set", "$inc"}}


@dataclass(frozen=True, slots=True)
class Site:
    """One call that reaches MongoDB: where it is and its shape."""

    path: str
    line: int
    shape: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.shape}"


class _Function:
    """The assignments of one function, to follow names to the dicts they hold."""

    def __init__(self, node: ast.AST) -> None:
        self.values: dict[str, list[ast.expr]] = {}
        self.items: dict[str, list[tuple[ast.expr, ast.expr]]] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    self._bind(target, sub.value)
            elif isinstance(sub, ast.AnnAssign) and sub.value is not None:
                self._bind(sub.target, sub.value)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.values.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            self.items.setdefault(target.value.id, []).append((target.slice, value))


def _const(node: ast.expr) -> object:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _const(node.operand)
        return -inner if isinstance(inner, int | float) else None
    return node.value if isinstance(node, ast.Constant) else None


class _Reader:
    def __init__(self, scope: _Function) -> None:
        self.scope = scope

    def pairs(
        self, node: ast.expr, seen: frozenset[str] = frozenset()
    ) -> Iterator[tuple[ast.expr | None, ast.expr]]:
        """The (key, value) pairs a dict expression may hold (``None`` key: unknown)."""
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    yield from self.pairs(value, seen)
                else:
                    yield key, value
        elif isinstance(node, ast.Name) and node.id not in seen:
            inner = seen | {node.id}
            for value in self.scope.values.get(node.id, []):
                yield from self.pairs(value, inner)
            yield from self.scope.items.get(node.id, [])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and node.args:
            yield from self.pairs(node.args[0], seen)

    def filter_terms(self, node: ast.expr) -> set[str]:
        terms: set[str] = set()
        for key, value in self.pairs(node):
            name = _const(key) if key is not None else None
            if name in ("$or", "$and", "$nor"):
                branches = value.elts if isinstance(value, ast.List) else []
                inner = sorted(set().union(*(self.filter_terms(b) for b in branches)))
                terms.add(f"{name}({' '.join(inner)})")
            elif name == "_id":
                ops = self.operators(value)
                terms.add("_id" + "".join(sorted(ops)) if ops else "_id")
            else:
                ops = self.operators(value)
                terms |= ops or {"null" if _is_none(value) else "="}
        return terms

    def operators(self, value: ast.expr) -> set[str]:
        ops: set[str] = set()
        for key, inner in self.pairs(value):
            op = _const(key) if key is not None else None
            if isinstance(op, str) and op.startswith("$"):
                if op == "$exists":
                    ops.add(f"$exists:{str(_const(inner)).lower()}")
                elif op in ("$eq", "$ne") and _is_none(inner):
                    ops.add(f"{op}:null")
                else:
                    ops.add(op)
        return ops

    def update_terms(self, node: ast.expr) -> set[str]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            added = UPDATE_HELPERS.get(node.func.id)
            if added is not None and node.args:
                return self.update_terms(node.args[0]) | added
        terms: set[str] = set()
        for key, value in self.pairs(node):
            op = _const(key) if key is not None else None
            if isinstance(op, str) and op.startswith("$"):
                terms.add(op)
                if op == "$set" and any(_looks_like_a_time(v) for _, v in self.pairs(value)):
                    terms.add("$set:datetime?")
        return terms or {"replace"}


def _looks_like_a_time(node: ast.expr) -> bool:
    """A value that is probably a ``datetime`` (``now``, ``x.created_at``, ``datetime.now()``):
    ``$set`` of a datetime stores a string on the stand-in, so updates write epoch ms."""
    if isinstance(node, ast.Call):
        func = node.func
        return isinstance(func, ast.Attribute) and func.attr in ("now", "utcnow")
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name in ("now", "at", "when") or name.endswith(("_at", "_time"))


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _arg(call: ast.Call, index: int, name: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _kw(call: ast.Call, name: str) -> object:
    node = next((k.value for k in call.keywords if k.arg == name), None)
    if node is None:
        return None
    return _const(node) if isinstance(node, ast.Constant) else "set"


def _method(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in FILTER_METHODS | OTHER_METHODS:
        return str(name)
    return None


def _chain(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> list[str]:
    """Cursor methods chained on a ``find`` (``.sort``, ``.limit``)."""
    out: list[str] = []
    node: ast.AST = call
    while isinstance(attr := parents.get(node), ast.Attribute):
        if attr.attr in ("sort", "limit", "skip"):
            out.append(attr.attr)
        node = parents.get(attr, attr)
    return sorted(set(out))


def _shape(call: ast.Call, method: str, reader: _Reader, parents: dict[ast.AST, ast.AST]) -> str:
    parts: list[str] = []
    if method in FILTER_METHODS:
        query = _arg(call, 0, "filter")
        parts.append(" ".join(sorted(reader.filter_terms(query))) if query is not None else "")
    if method in UPDATE_METHODS:
        update = _arg(call, 1, "update")
        parts.append(" ".join(sorted(reader.update_terms(update))) if update is not None else "")
    options: list[str] = []
    positional = 2 if method in UPDATE_METHODS - {"find_one_and_update"} else 99
    upsert = _arg(call, positional, "upsert")
    if upsert is not None and _const(upsert) is not False:
        options.append("upsert")
    if _kw(call, "return_document") is not None:
        options.append("after")
    if _kw(call, "ordered") is False:
        options.append("ordered=False")
    if method in ("find", "find_one") and _arg(call, 1, "projection") is not None:
        options.append("projection")
    if method == "find":
        options += _chain(call, parents)
    return f"{method}({'; '.join(parts)})" + "".join(f" {o}" for o in options)


def _index_shape(call: ast.Call) -> str:
    keys = _arg(call, 1, "keys")
    elts = keys.elts if isinstance(keys, ast.List) else []
    directions = [_const(e.elts[1]) for e in elts if isinstance(e, ast.Tuple)]
    text = f"index({len(elts)} key{'s' if len(elts) != 1 else ''}"
    text += " desc)" if -1 in directions else ")"
    for flag, kw in (("unique", "unique"), ("ttl", "ttl_s"), ("sparse", "sparse")):
        if _kw(call, kw) not in (None, False):
            text += f" {flag}"
    return text


def shapes_in_source(source: str, path: str = "<source>") -> list[Site]:
    """Every MongoDB call and index declaration in one module's source."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    sites: list[Site] = []
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    owner: dict[ast.AST, _Function] = {}
    for fn in functions:  # innermost function wins: walk outer ones first
        scope = _Function(fn)
        for node in ast.walk(fn):
            owner[node] = scope
    module_scope = _Function(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "IndexSpec":
            sites.append(Site(path, node.lineno, _index_shape(node)))
            continue
        method = _method(node)
        if method is None:
            continue
        reader = _Reader(owner.get(node, module_scope))
        sites.append(Site(path, node.lineno, _shape(node, method, reader, parents)))
    return sorted(sites, key=lambda s: s.line)


def scan(root: Path, paths: Iterable[Path]) -> list[Site]:
    """The sites of every module in ``paths`` (shown relative to ``root``)."""
    sites: list[Site] = []
    for path in sorted(paths):
        sites += shapes_in_source(path.read_text(), str(path.relative_to(root)))
    return sites
