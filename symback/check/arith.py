"""Safe parsing of the numbers written in a solution file, with the tokenizer and parser that
`symback.check.formula` shares for gradient formulas.

A solution file is untrusted input, so its text never reaches ``eval``, ``exec``,
``compile``, ``sympify`` or Python's ``ast``: a small tokenizer and a recursive-descent
parser accept exactly the grammar below, and every bad input raises `SolutionError` with
one sentence saying what is wrong and at which character (counted from 1; the 0-based
offset is also on the error as ``.position``).  The caller adds file, line and column.

Grammar (``^`` and ``**`` are the same; names, ``@``, ``.T`` and ``axis=`` only in formulas)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/" | "@") unary)*
    unary   := ("+" | "-") unary | power
    power   := postfix (("^" | "**") unary)?         the exponent: a plain signed number
    postfix := atom (".T")*
    atom    := NUMBER | NAME | NAME "(" args ")" | "(" expr ")" | "(" expr ("," expr)+ ")"
    args    := expr ("," (NAME "=")? expr)*

A bracketed list ``(2, 1)`` is a pair (formulas only): a window, stride or padding of rows and
columns, as a model file writes ``max_pool2d(A, (2, 1))``; `symback.check.formula` reads it only there.

Limits, so that no input can hang or take memory:

* ``MAX_LENGTH`` = 500 characters;
* ``MAX_DEPTH`` = 32 levels of parentheses, signs, calls and exponents;
* ``MAX_EXPONENT`` = 64: in ``x^n`` the exponent is a number literal with ``|n| <= 64``;
* ``MAX_DIGITS`` = 60 digits in a number, ``|e| <= MAX_SCIENTIFIC`` = 400 in ``1e-3``;
* ``MAX_MAGNITUDE`` = 1e200: a larger number is refused by the parser; in a value, a larger
  result anywhere, a division by zero, the log of a number that is not positive or the
  square root of a negative number is an error.

**Values** (`parse_value`) are numbers, fractions and small arithmetic, computed at 50
significant digits::

    >>> e = parse_value("0.1*(4.47-6)")
    >>> mpmath.nstr(e.value, 10), [lit.text for lit in e.literals]
    ('-0.153', ['0.1', '4.47', '6'])

`Expression.rounding` says how far the written value may be from the exact one because the
author rounded.  A plain number is good to half a unit in its last written digit (``0.0020``
to 0.00005).  An expression such as ``"0.1*(4.47-6)"`` uses the exact learning rate 0.1 and
the rounded output 4.47, so its uncertainty is propagated to first order from the literals
that are neither integers nor exact problem constants: here 0.1 × 0.005::

    >>> mpmath.nstr(e.rounding({Fraction(1, 10)}), 5)
    '0.0005'

Formulas (`symback.check.formula.parse_formula`) go through the same tokenizer and parser into the
same tree; that module builds the tree into a matrix expression.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import mpmath

from ..errors import SolutionError

MAX_LENGTH = 500
MAX_DEPTH = 32
MAX_EXPONENT = 64
MAX_DIGITS = 60
MAX_SCIENTIFIC = 400
MAX_MAGNITUDE = 10**200
DIGITS = 50  # significant digits of every value


def _error(message: str, position: int, hint: str = "") -> SolutionError:
    error = SolutionError(f"{message} at character {position + 1}" + (f" ({hint})" if hint else ""))
    error.position = position
    return error


# ---------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^@(),=.])"
)
_NUMBER = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")
_HINTS = {
    "'": "write the number without quotes",
    '"': "write the number without quotes",
    "\u2212": "write -",
    "\u00d7": "write *",
    "\u00b7": "write *",
    "\u2299": "write *",
    "\u00f7": "write /",
    "\u1d40": "write .T",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, name, op or end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            return [*tokens, _Token("end", "", pos)]
        m = _TOKEN.match(text, pos)
        if m is None:
            c = text[pos]
            # by name, not by glyph: a stray '×' must not read as a shape message
            shown = repr(c) if c.isascii() else unicodedata.name(c, f"U+{ord(c):04X}")
            raise _error(f"unexpected character {shown}", pos, _HINTS.get(c, ""))
        if m.lastgroup == "number" and m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "._"):
            raise _error(f"malformed number {text[pos : m.end() + 1]!r}", pos, "write * for a product")
        tokens.append(_Token(m.lastgroup, m.group(), pos))
        pos = m.end()


# ---------------------------------------------------------------------------------
# The parser: text -> a small tree, shared by values and formulas
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A number as written: ``half_unit`` is half a unit in its last written digit.

    ``whole`` is a plain integer (``0``, ``12``: no point, no exponent), which claims that exact
    value; ``significant`` counts the written significant digits (``0.0020`` has 2).
    """

    text: str
    value: Fraction
    half_unit: Fraction
    position: int  # 0-based offset in the text
    whole: bool = False
    significant: int = 1


@dataclass(frozen=True)
class _Node:
    kind: str  # num, name, neg, sum, product, pow, call, T, tuple
    pos: int
    parts: tuple = ()
    data: object = None  # num: literal index; name: the name; sum/product: ((op, pos), ...); call: (name, kwargs)


class _Parser:
    def __init__(self, text: str, functions: Collection[str], symbols: Collection[str] | None):
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0
        self.functions = functions
        self.symbols = symbols  # None: a value, where names are only function calls
        self.literals: list[Literal] = []
        self.exponents: set[int] = set()  # literals that are exponents: exact by nature
        self.tree = self.parse()

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.i += 1
        return token

    def fail(self, token: _Token, expected: str, hint: str = "") -> SolutionError:
        found = "the end of the text" if token.kind == "end" else repr(token.text)
        return _error(f"expected {expected}, found {found}", token.pos, hint)

    @contextmanager
    def nested(self, token: _Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(f"nested more than {MAX_DEPTH} levels deep", token.pos)
        yield
        self.depth -= 1

    def parse(self) -> _Node:
        node = self.chain(self.term, ("+", "-"), "sum")
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "an operator or the end of the text")
        return node

    def chain(self, operand: Callable[[], _Node], ops: tuple[str, ...], kind: str) -> _Node:
        parts, marks = [operand()], [("", 0)]
        while self.peek().kind == "op" and self.peek().text in ops:
            op = self.advance()
            marks.append((op.text, op.pos))
            parts.append(operand())
        return parts[0] if len(parts) == 1 else _Node(kind, parts[0].pos, tuple(parts), tuple(marks))

    def term(self) -> _Node:
        return self.chain(self.unary, ("*", "/") if self.symbols is None else ("*", "/", "@"), "product")

    def unary(self) -> _Node:
        sign = self.peek()
        if sign.text not in ("+", "-"):
            return self.power()
        self.advance()
        with self.nested(sign):
            operand = self.unary()
        return operand if sign.text == "+" else _Node("neg", sign.pos, (operand,))

    def power(self) -> _Node:
        base = self.postfix()
        op = self.peek()
        if op.text not in ("^", "**"):
            return base
        self.advance()
        with self.nested(op):
            exponent = self.unary()
        literal = exponent.parts[0] if exponent.kind == "neg" else exponent
        if literal.kind != "num":
            raise _error(f"the exponent after {op.text!r} must be a plain number such as 2 or -1", op.pos)
        if self.literals[literal.data].value > MAX_EXPONENT:
            raise _error(f"an exponent larger than {MAX_EXPONENT}", literal.pos)
        self.exponents.add(literal.data)
        return _Node("pow", op.pos, (base, exponent))

    def postfix(self) -> _Node:
        node, flips = self.atom(), 0
        while self.symbols is not None and self.peek().text == ".":
            self.advance()
            if self.advance().text != "T":
                raise self.fail(self.peek(-1), "T after '.'", "only .T, the transpose, may follow a dot")
            flips += 1  # x.T.T is x: no nesting, however many
        return _Node("T", node.pos, (node,)) if flips % 2 else node

    def atom(self) -> _Node:
        token = self.advance()
        if token.kind == "number":
            return self.number(token)
        if token.text == "(":
            with self.nested(token):
                node = self.chain(self.term, ("+", "-"), "sum")
                if self.symbols is not None and self.peek().text == ",":  # a pair: (2, 1)
                    parts = [node]
                    while self.peek().text == ",":
                        self.advance()
                        parts.append(self.chain(self.term, ("+", "-"), "sum"))
                    node = _Node("tuple", token.pos, tuple(parts))
            if self.advance().text != ")":
                raise self.fail(self.peek(-1), "')'", f"to close the '(' at character {token.pos + 1}")
            return node
        if token.kind == "name":
            return self.call(token) if self.peek().text == "(" else self.name(token)
        raise self.fail(token, "a number, a name or '('" if self.symbols is not None else "a number or '('")

    def unknown(self, token: _Token, what: str, known: Collection[str]) -> SolutionError:
        close = difflib.get_close_matches(token.text, list(known), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(known))
        return _error(f"unknown {what} {token.text!r}", token.pos, hint)

    def name(self, token: _Token) -> _Node:
        if self.symbols is not None and token.text in self.symbols:
            return _Node("name", token.pos, data=token.text)
        if token.text in self.functions:
            raise _error(f"{token.text} needs its argument in parentheses", token.pos)
        if self.symbols is None:
            raise self.unknown(token, "name", self.functions)
        raise self.unknown(token, "name", [*self.symbols, *self.functions])

    def call(self, token: _Token) -> _Node:
        if self.symbols is not None and token.text in self.symbols and token.text not in self.functions:
            raise _error(f"{token.text!r} is not a function", token.pos, "write * for a product")
        if token.text not in self.functions:
            raise self.unknown(token, "function", self.functions)
        opening = self.advance()
        args, keywords = [], {}
        with self.nested(opening):
            while True:
                key = self.peek()
                if self.symbols is not None and key.kind == "name" and self.peek(1).text == "=":
                    if key.text in keywords:
                        raise _error(f"{key.text}= is given twice", key.pos)
                    self.i += 2
                    keywords[key.text] = self.chain(self.term, ("+", "-"), "sum")
                elif keywords:
                    raise _error("a positional argument after a keyword argument", key.pos)
                else:
                    args.append(self.chain(self.term, ("+", "-"), "sum"))
                if self.peek().text != ",":
                    break
                self.advance()
        if self.advance().text != ")":
            raise self.fail(self.peek(-1), "')'", f"to close the '(' at character {opening.pos + 1}")
        return _Node("call", token.pos, tuple(args), (token.text, tuple(keywords.items())))

    def number(self, token: _Token) -> _Node:
        self.literals.append(literal(token.text, token.pos))
        return _Node("num", token.pos, data=len(self.literals) - 1)


def literal(text: str, pos: int = 0) -> Literal:
    """A number literal as written, within the limits (digits, exponent, magnitude)."""
    whole, fraction, sign, power = _NUMBER.fullmatch(text).groups("")
    if len(whole) + len(fraction) > MAX_DIGITS:
        raise _error(f"a number with more than {MAX_DIGITS} digits", pos)
    if len(power.lstrip("0")) > 3 or int(power or 0) > MAX_SCIENTIFIC:
        raise _error(f"a number whose exponent e{sign}{power} is beyond ±{MAX_SCIENTIFIC}", pos)
    scale = Fraction(10) ** ((-1 if sign == "-" else 1) * int(power or 0) - len(fraction))
    value = int(whole + fraction or "0") * scale
    if value > MAX_MAGNITUDE:
        raise _error("a number larger than 1e200", pos)
    digits = (whole + fraction).lstrip("0")
    # a zero written with an exponent (0e1, 0.0e5) has no last digit to round: it claims exactly 0
    exact = (not fraction and "." not in text and not power) or (bool(power) and value == 0)
    return Literal(text, value, scale / 2, pos, whole=exact, significant=max(len(digits), 1))


def _parse(text: str, functions: Collection[str], symbols: Collection[str] | None) -> _Parser:
    if not isinstance(text, str):
        raise SolutionError(f"expected a number or a formula as text, found {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SolutionError(f"the text is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise SolutionError("the text is empty")
    return _Parser(text, functions, symbols)


# ---------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------


_PREC = mpmath.libmp.dps_to_prec(DIGITS)


def _mp(x: Fraction) -> mpmath.mpf:
    """``x`` rounded once to 50 digits (no precision context is entered: a class has many values)."""
    return mpmath.mp.make_mpf(mpmath.libmp.from_rational(x.numerator, x.denominator, _PREC, "n"))


def _guarded(f: Callable, ok: Callable, message: str) -> Callable:
    def checked(x):
        if not ok(x):
            raise ValueError(message)
        return f(x)

    return checked


def _sigmoid(x):
    e = mpmath.exp(-abs(x))  # never overflows
    return 1 / (1 + e) if x >= 0 else e / (1 + e)


VALUE_FUNCTIONS: Mapping[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "tanh": mpmath.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: max(x, mpmath.mpf(0)),
    "exp": _guarded(mpmath.exp, lambda x: x <= 461, "exp of a number above 461 is larger than 1e200"),
    "log": _guarded(mpmath.log, lambda x: x > 0, "log of a number that is not positive"),
    "sqrt": _guarded(mpmath.sqrt, lambda x: x >= 0, "square root of a negative number"),
    "softplus": lambda x: max(x, mpmath.mpf(0)) + mpmath.log1p(mpmath.exp(-abs(x))),
}


def _checked(x, pos: int):
    if not isinstance(x, mpmath.mpf):
        raise _error("a value that is not a real number", pos)
    if abs(x) > MAX_MAGNITUDE:
        raise _error("a value larger than 1e200", pos)
    return x


def _value(node: _Node, literals: list, functions: Mapping) -> mpmath.mpf:
    kind, parts = node.kind, node.parts
    if kind == "num":
        return _checked(literals[node.data], node.pos)
    if kind == "neg":
        return -_value(parts[0], literals, functions)
    if kind == "pow":
        base, n = (_value(p, literals, functions) for p in parts)
        if base == 0 and n < 0:
            raise _error("division by zero", node.pos)
        if base < 0 and n != int(n):
            raise _error("a negative number to a fractional power", node.pos)
        return _checked(mpmath.power(base, n), node.pos)
    if kind == "call":
        name, keywords = node.data
        if len(parts) != 1 or keywords:
            raise _error(f"{name} takes exactly one argument", node.pos)
        try:
            return _checked(functions[name](_value(parts[0], literals, functions)), node.pos)
        except (ValueError, ZeroDivisionError) as e:
            raise _error(str(e), node.pos) from None
    x = _value(parts[0], literals, functions)  # a sum or a product, left to right
    for (op, pos), part in zip(node.data[1:], parts[1:]):
        y = _value(part, literals, functions)
        if op == "/" and y == 0:
            raise _error("division by zero", pos)
        x = _checked(x + y if op == "+" else x - y if op == "-" else x * y if op == "*" else x / y, pos)
    return x


class Expression:
    """A parsed value: ``.value`` at 50 digits, its ``.literals`` and their rounding.

    ``kind`` says what the text claims (see ``check/claims.py``): ``"whole"`` — a plain integer
    such as ``0`` or ``-2``, that exact value; ``"decimal"`` — a plain number with a point or an
    exponent, rounded or truncated to its last digit; ``"expression"`` — arithmetic, whose
    numbers are rounded.
    """

    def __init__(self, text: str, parser: _Parser | None, functions: Mapping, plain: Literal | None = None):
        self.text = text
        self._functions = functions
        if plain is not None:  # a plain number: no tree to walk
            self.literals: list[Literal] = [plain]
            self._tree, self._exponents = _Node("num", plain.position, data=0), set()
            self.is_number = True
        else:
            self.literals = parser.literals
            self._tree, self._exponents = parser.tree, parser.exponents
            kinds = [t.text if t.kind == "op" else t.kind for t in parser.tokens]
            self.is_number = kinds in (["number", "end"], ["-", "number", "end"], ["+", "number", "end"])
        self._mp = [_mp(lit.value) for lit in self.literals]
        self.kind = ("whole" if self.literals[0].whole else "decimal") if self.is_number else "expression"
        self.value: mpmath.mpf = self._plain() if plain is not None else self.evaluate({})

    def _plain(self) -> mpmath.mpf:
        # built from the signed fraction: an mpf's unary minus would round to the context's 53 bits
        return _mp(-self.literals[0].value) if self.text.lstrip().startswith("-") else self._mp[0]

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, value={mpmath.nstr(self.value, 15)})"

    @property
    def significant(self) -> int | None:
        """Significant digits written: a plain number's; an expression's fewest among its rounded
        numbers; None when nothing in it is rounded (``3/10``, ``2``)."""
        if self.kind == "whole":
            return None
        if self.kind == "decimal":
            return self.literals[0].significant
        rounded = [lit.significant for k, lit in enumerate(self.literals)
                   if lit.value.denominator != 1 and k not in self._exponents]
        return min(rounded) if rounded else None

    @property
    def unit(self) -> mpmath.mpf:
        """A unit in the last written digit of a plain number (how far truncation may go)."""
        return 2 * _mp(self.literals[0].half_unit)

    def evaluate(self, overrides: Mapping[int, mpmath.mpf]) -> mpmath.mpf:
        """The value with literal ``k`` (an index into ``.literals``) replaced by ``overrides[k]``."""
        literals = list(self._mp)
        with mpmath.workdps(DIGITS):
            for k, v in overrides.items():
                literals[k] = mpmath.mpf(v)
            return +_value(self._tree, literals, self._functions)

    def rounding(self, exact: Collection[Fraction] = frozenset()) -> mpmath.mpf:
        """How far the written value may be from the exact one because its author rounded.

        A plain number: half a unit in its last written digit; a whole number (``0``, ``12``)
        claims its exact value: 0.  An expression: first-order propagation,
        Σ_k |evaluate({k: l_k + h_k}) − value| over the literals ``l_k`` (half unit ``h_k``)
        that are not integers, not in ``exact`` (exact problem constants such as the learning
        rate) and not exponents; where ``l_k + h_k`` leaves the domain (a division by zero,
        say), ``l_k − h_k`` is used.  At most `ARITHMETIC_SPREAD` · |value|: a result claims at
        least two significant digits, else cancellation (``99999*0.3-29999.7``: ±5,000 around
        0) would make any value "right".
        """
        if self.is_number:
            return mpmath.mpf(0) if self.kind == "whole" else _mp(self.literals[0].half_unit)
        total = mpmath.mpf(0)
        with mpmath.workdps(DIGITS):
            for k, lit in enumerate(self.literals):
                if lit.value.denominator == 1 or lit.value in exact or k in self._exponents:
                    continue
                h = _mp(lit.half_unit)
                try:
                    nudged = self.evaluate({k: self._mp[k] + h})
                except SolutionError:
                    nudged = self.evaluate({k: self._mp[k] - h})
                total += abs(nudged - self.value)
            return min(total, _mp(ARITHMETIC_SPREAD) * abs(self.value))


#: the widest a written expression's rounding may make it, relative to its value
ARITHMETIC_SPREAD = Fraction(1, 20)

_PLAIN = re.compile(r"\s*([+-]?)\s*((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*")


def parse_value(text: str, functions: Mapping[str, Callable] = VALUE_FUNCTIONS) -> Expression:
    """A number, fraction or small arithmetic from a solution file: ``"4.47"``, ``"3/10"``, ``"0.1*(4.47-6)"``."""
    if isinstance(text, str) and len(text) <= MAX_LENGTH:
        plain = _PLAIN.fullmatch(text)
        if plain:  # most values are plain numbers: no tokens, no tree
            return Expression(text, None, functions, literal(plain[2], plain.start(2)))
    return Expression(text, _parse(text, functions, None), functions)
