"""The constraint language of design spaces: a small whitelisted parser, never ``eval``.

Grammar (a constraint is one boolean expression; ``**`` is right-associative)::

    expr       := and_expr ('or' and_expr)*
    and_expr   := comparison ('and' comparison)*
    comparison := arith (('<' | '<=' | '>' | '>=' | '==' | '!=') arith)?
    arith      := term (('+' | '-') term)*
    term       := unary (('*' | '/') unary)*
    unary      := ('-' | '+') unary | power
    power      := atom ('**' unary)?
    atom       := NUMBER | NAME | '(' expr ')'

Names are parameter or metric names (``[A-Za-z_][A-Za-z0-9_]*``, not ``and``/``or``); numbers
are decimal (``9024``, ``0.5``, ``1e6``). The top level must be boolean (a comparison, or
comparisons joined by and/or); arithmetic only combines numbers. Evaluation works on floats and
on NumPy arrays alike (a batch of designs in one call).

``violation`` measures how far a design is from satisfying a constraint: 0 when it holds,
otherwise a positive relative distance (``(lhs - rhs) / max(|lhs|, |rhs|)`` for ``lhs <= rhs``;
``and`` takes the largest, ``or`` the smallest). Samplers that model constraints use it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Union

import numpy as np

from accelerators.errors import ConfigError

ARITH_OPS: Final = ("+", "-", "*", "/", "**")
COMPARE_OPS: Final = ("<", "<=", ">", ">=", "==", "!=")
BOOL_OPS: Final = ("and", "or")
KEYWORDS: Final = frozenset(BOOL_OPS)
# A violated strict comparison whose two sides are equal still needs a positive violation.
MIN_VIOLATION: Final = 1e-12

_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|==|!=|[-+*/<>()]))")


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class Arith:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: str
    left: "Node"
    right: "Node"


Node = Union[Num, Name, Neg, Arith, Compare, BoolOp]


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: its source text, its tree and the names it reads."""

    text: str
    tree: Node

    @property
    def names(self) -> frozenset[str]:
        return names_in(self.tree)

    def holds(self, env: Mapping[str, object]) -> np.ndarray | bool:
        return evaluate(self.tree, env)

    def violation(self, env: Mapping[str, object]) -> np.ndarray | float:
        return violation(self.tree, env)


class ParseError(ValueError):
    """A constraint that does not follow the grammar; ``position`` is the character offset."""

    def __init__(self, text: str, position: int, message: str):
        self.text = text
        self.position = position
        super().__init__(f"{message} at position {position}: {text[:position]}⟨here⟩{text[position:]}")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise ParseError(text, start, f"unexpected character {text[start]!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        start = match.start(kind)
        if kind == "name" and value in KEYWORDS:
            kind = "op"
        tokens.append((kind, value, start))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, *ops: str) -> str | None:
        kind, value, _ = self.peek()
        if kind == "op" and value in ops:
            self.index += 1
            return value
        return None

    def fail(self, message: str) -> ParseError:
        return ParseError(self.text, self.peek()[2], message)

    def parse(self) -> Node:
        tree = self.expr()
        if self.peek()[0] != "end":
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return tree

    def expr(self) -> Node:
        node = self.and_expr()
        while self.accept("or"):
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.comparison()
        while self.accept("and"):
            node = BoolOp("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.arith()
        op = self.accept(*COMPARE_OPS)
        if op is not None:
            node = Compare(op, node, self.arith())
            if self.peek()[0] == "op" and self.peek()[1] in COMPARE_OPS:
                raise self.fail("chained comparisons are not allowed; join them with 'and'")
        return node

    def arith(self) -> Node:
        node = self.term()
        while (op := self.accept("+", "-")) is not None:
            node = Arith(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (op := self.accept("*", "/")) is not None:
            node = Arith(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("-"):
            return Neg(self.unary())
        if self.accept("+"):
            return self.unary()
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        if self.accept("**"):
            node = Arith("**", node, self.unary())
        return node

    def atom(self) -> Node:
        kind, value, _ = self.peek()
        if kind == "number":
            self.take()
            return Num(float(value))
        if kind == "name":
            self.take()
            return Name(value)
        if self.accept("("):
            node = self.expr()
            if not self.accept(")"):
                raise self.fail("expected ')'")
            return node
        if kind == "end":
            raise self.fail("unexpected end of the constraint")
        raise self.fail(f"unexpected {value!r}")


def _is_bool(node: Node) -> bool:
    return isinstance(node, (Compare, BoolOp))


def _check_types(node: Node, text: str, want_bool: bool) -> None:
    if want_bool and not _is_bool(node):
        raise ParseError(text, 0, "expected a comparison (<, <=, >, >=, ==, !=), optionally joined by and/or")
    if not want_bool and _is_bool(node):
        raise ParseError(text, 0, "a comparison or and/or cannot be used as a number")
    if isinstance(node, BoolOp):
        _check_types(node.left, text, True)
        _check_types(node.right, text, True)
    elif isinstance(node, (Compare, Arith)):
        _check_types(node.left, text, False)
        _check_types(node.right, text, False)
    elif isinstance(node, Neg):
        _check_types(node.operand, text, False)


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint; :class:`ParseError` says where it went wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ParseError(str(text), 0, "an empty constraint")
    tree = _Parser(text).parse()
    _check_types(tree, text, True)
    return Constraint(text.strip(), tree)


def load_constraint(text: object, file: str | None, field: str) -> Constraint:
    """Parse a constraint from a user file, turning a parse error into a ConfigError."""
    if not isinstance(text, str):
        raise ConfigError(file, field, text, "a constraint string such as 'dsp <= 9024'")
    try:
        return parse_constraint(text)
    except ParseError as error:
        raise ConfigError(file, field, text,
                          f"a constraint of names, numbers, + - * / **, comparisons and and/or ({error})") from None


def names_in(node: Node) -> frozenset[str]:
    if isinstance(node, Name):
        return frozenset((node.id,))
    if isinstance(node, Num):
        return frozenset()
    if isinstance(node, Neg):
        return names_in(node.operand)
    return names_in(node.left) | names_in(node.right)


def _value(node: Node, env: Mapping[str, object]):
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        try:
            raw = env[node.id]
        except KeyError:
            raise KeyError(f"constraint name {node.id!r} has no value") from None
        return np.asarray(raw, dtype=float) if not isinstance(raw, (int, float)) else float(raw)
    if isinstance(node, Neg):
        return -_value(node.operand, env)
    assert isinstance(node, Arith)
    left, right = _value(node.left, env), _value(node.right, env)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if node.op == "+":
            return np.add(left, right)
        if node.op == "-":
            return np.subtract(left, right)
        if node.op == "*":
            return np.multiply(left, right)
        if node.op == "/":
            return np.divide(left, right)
        return np.power(np.asarray(left, dtype=float), right)


def _compare(op: str, left, right):
    with np.errstate(invalid="ignore"):
        return {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}[op](left, right)


def evaluate(node: Node, env: Mapping[str, object]) -> np.ndarray | bool:
    """Whether the constraint holds; arrays in ``env`` give an array of booleans (NaN: False)."""
    if isinstance(node, BoolOp):
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        result = np.logical_and(left, right) if node.op == "and" else np.logical_or(left, right)
    elif isinstance(node, Compare):
        result = _compare(node.op, _value(node.left, env), _value(node.right, env))
    else:
        raise TypeError("a constraint's top level must be a comparison")
    return bool(result) if np.ndim(result) == 0 else np.asarray(result, dtype=bool)


def violation(node: Node, env: Mapping[str, object]) -> np.ndarray | float:
    """0 where the constraint holds, else a positive relative distance to holding (inf for NaN)."""
    if isinstance(node, BoolOp):
        left, right = violation(node.left, env), violation(node.right, env)
        result = np.maximum(left, right) if node.op == "and" else np.minimum(left, right)
        return float(result) if np.ndim(result) == 0 else result
    assert isinstance(node, Compare)
    left = np.asarray(_value(node.left, env), dtype=float)
    right = np.asarray(_value(node.right, env), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        scale = np.maximum(np.maximum(np.abs(left), np.abs(right)), 1e-300)
        if node.op in ("<", "<="):
            gap = (left - right) / scale
        elif node.op in (">", ">="):
            gap = (right - left) / scale
        elif node.op == "==":
            gap = np.abs(left - right) / scale
        else:
            gap = np.where(left == right, 1.0, 0.0)
        holds = _compare(node.op, left, right)
        gap = np.where(holds, 0.0, np.where(np.isnan(gap), np.inf, np.maximum(gap, MIN_VIOLATION)))
    return float(gap) if np.ndim(gap) == 0 else gap
