r"""Reading a hand solution written as people write it: LaTeX math in Markdown or in a ``.tex`` file.

The exercise that started symback is a Persian hand solution in Markdown with ``$$ … $$`` blocks::

    $$ out^{1} = b_3 + w_3^T x + \text{relu}(z) = 4/472 $$
    $$ \frac{\partial loss}{\partial w_1} = x \, (out - 6)\, u(z)\, w_2
       \underbrace{(1 - \tanh(b_1 + x^T w_1)^2)}_{(1 \times 1)} $$
    $$ w_3^{2} = w_3^{1} - \alpha \frac{\partial loss}{\partial w_3^{1}} = \begin{pmatrix} 0.006 \\ 1.459 \end{pmatrix} $$

`parse_latex_solution` turns such text into the same `Solution` as a YAML file (values as
`Item`s, gradient formulas as `Formula`s, each with its line and column) plus the shape
annotations (`ShapeClaim`), which the checker judges too.  What is read:

* **Where**: ``$$ … $$``, ``$ … $``, ``\[ … \]``, ``\( … \)`` and the display environments
  (``equation``, ``align``, ``gather``, ``multline``, starred or not); in Markdown fenced and inline
  code are skipped, in ``.tex`` ``%`` comments and verbatim.  Prose, in any language, is ignored.
* **Rows and chains**: math splits into rows at ``\\`` (outside matrices), into statements at
  ``\quad``, ``\Rightarrow``, ``;``, comparisons and prose in ``\text{…}``, and a statement into a
  chain at ``=``, ``\approx``, ``:=`` and ``\leftarrow``; ``&`` is alignment.  A row that starts with ``=``
  continues the previous row's chain.
* **What a chain claims** (its left side): ``out^{1}``, ``h^{(1)}`` — epoch 1's forward value;
  ``w_3^{2}`` — the parameter *used in* epoch 2, so epoch 1's update (``w_3^{1}``, the initial
  value, is given, not graded); ``\frac{\partial loss}{\partial w_3^{1}}`` — epoch 1's gradient;
  ``\delta_{out}^{1}`` or ``\frac{\partial loss}{\partial out^{1}}`` — a δ.  The value after the
  last ``=``/``\approx`` is the claimed one; the parts between are working, not judged.  A
  per-sample model writes epoch and sample as ``^{1.2}``.  Without an epoch,
  ``\frac{\partial loss}{\partial w_1} = …`` is a **formula** (each symbolic part is judged).
* **Names**: ``w_3``/``w_{3}``/``\mathbf{w}_3`` ↔ ``w3``, ``out``, the model's own LaTeX
  (``latex=``); ``loss`` also as ``L``, ``E``, ``J``, ``\mathcal{L}``, ``\ell``; a model's
  ``notation=`` map names the rest (``{"u": "step", "g": "tanh", "\\hat{y}": "out"}``).
* **Values**: numbers with ASCII, Persian (۰–۹) or Arabic-Indic (٠–٩) digits, the decimal point
  ``.`` or ``٫`` (or the ``decimal_separator`` given: ``/`` reads ``0/253`` as 0.253, ``,`` reads
  ``0,253``), ``\frac{3}{10}``, ``1.2 \times 10^{-3}``, small arithmetic; matrices
  ``pmatrix``/``bmatrix``/``vmatrix``/``matrix``, transposed by ``^T``/``^\top``, times a number.
* **Formulas**: ``x^T`` (transpose), ``h^2`` (entry by entry), ``\tanh``, ``\sigma`` (sigmoid),
  ``\text{relu}``, ``\exp``, ``\log``/``\ln``, ``f'(…)`` (``\tanh'``, ``\sigma'``,
  ``\text{relu}'``), ``\delta_{out}``, ``\frac{a}{b}``, ``I_{3 \times 3}`` (as a factor),
  ``\frac{\partial loss}{\partial h}`` (= δ_h).  A product written ``\cdot``, ``\times`` or by
  juxtaposition is the matrix product, or a scalar multiple when one side is 1×1; ``\odot``,
  ``\circ`` and ``*`` multiply entry by entry.  A chain-rule step (``\frac{\partial out}{\partial
  z}``) is working: not judged.  Convolution and pooling as a report prints them, ``X \star \delta_Z``,
  ``\operatorname{rot180}(K)``, ``\operatorname{pad}_{1}(…)``, ``\operatorname{route}_{\max}(\delta_P \to A)``,
  …, or any function of the formula language with its arguments, ``\operatorname{route\_max}(\delta_P, A, 2)``
  (``latex_calls.py``).  ``\underbrace{…}_{(1 \times 3)}`` claims a shape: the reader
  computes the real one and the checker judges the claim.

The text is untrusted: it is never executed, nor given to ``eval``, ``sympify``, ``parse_expr``
or SymPy's ``parse_latex``.  It is read by an LALR grammar (``latex.lark``, with lark) one side
of a relation at a time; values and formulas become text in the checker's own small language
(`symback.check.arith`), which has its own limits.  Limits here: `MAX_SIDE` characters per side
of a relation, `MAX_NESTING` levels of brackets, `MAX_REGION` characters per math block.  A part
that cannot be read becomes an error of that part (`SolutionError` with line and column); the
rest is graded.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from ..errors import SolutionError
from . import latex_calls
from .formula import FORMULA_FUNCTIONS
from .solution import MAX_BYTES, Formula, Item, ShapeClaim, Solution, shape_mismatch

if TYPE_CHECKING:
    from ..model import Model

MAX_SIDE = 2_000  # characters of one side of a relation: a long formula or a 10×10 matrix fits
MAX_NESTING = 32  # brackets, braces and environments inside one another
MAX_REGION = 100_000  # characters of one math block
SEPARATORS = (".", ",", "/", "٫")

#: Persian (۰–۹) and Arabic-Indic (٠–٩) digits as ASCII; same length, so columns stay right
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
#: marks that only steer the direction of text, and joiners: spaces in math (same length)
_INVISIBLE = re.compile("[\u200b-\u200f\u061c\ufeff\u00a0]")
#: characters that make math display other than it reads (bidi overrides and isolates, as in
#: "Trojan Source") or that no text holds (control characters): math with one is refused
_HOSTILE = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOSS_NAMES = ("L", "E", "J", r"\mathcal{L}", r"\ell", "loss", "l")
#: the learning rate, as a value's working writes it (w^{2} = w^{1} - \alpha …)
_RATES = {r"\alpha", r"\eta", "lr"}
#: the functions a formula may use, by the words and commands people write for them
_FUNCTIONS = {"tanh": "tanh", r"\tanh": "tanh", "sigmoid": "sigmoid", r"\sigma": "sigmoid", "sigma": "sigmoid",
              "relu": "relu", "ReLU": "relu", "exp": "exp", r"\exp": "exp", "log": "log", r"\log": "log",
              r"\ln": "log", "ln": "log", "step": "step", "softplus": "softplus", "softmax": "softmax",
              "sum": "sum", r"\sum": "sum", "sqrt": "sqrt", r"\sqrt": "sqrt"}
_FUNCTIONS.update({word: name for word, name in latex_calls.WORDS.items() if word not in _FUNCTIONS})
#: f′ as a formula of f's argument, in the checker's language ({} is the argument)
_DERIVATIVES = {"tanh": "(1 - tanh({})**2)", "sigmoid": "(sigmoid({0}) * (1 - sigmoid({0})))",
                "relu": "step({})", "exp": "exp({})", "softplus": "sigmoid({})"}
_ELEMENTWISE = {"*", r"\odot", r"\circ", r"\ast", "⊙", "∘"}
_DIVIDE = {"/", r"\div"}
_TRANSPOSE = {"T", r"\top", r"\intercal", r"\mathsf{T}", r"\mathrm{T}", "t"}
_MATH_ENVIRONMENTS = r"equation|align|gather|multline|eqnarray|displaymath|math|flalign|alignat"
_OPAQUE_ENVIRONMENTS = re.compile(r"\\(begin|end)\{([pbvBV]?matrix|smallmatrix|cases|array|dcases)\*?\}")
_LAYOUT = re.compile(r"\\(begin|end)\{(aligned|split|gathered|alignedat|multlined|align|gather|equation|multline"
                     r"|flalign|alignat|eqnarray)\*?\}(\{[0-9]*\})?"
                     r"|\\(label|tag|eqref|ref)\{[^{}]*\}|\\(nonumber|notag|displaystyle|textstyle|mathstrut)"
                     r"(?![A-Za-z])")
_RELATION = re.compile(r"=|\\approx(?![A-Za-z])|\\simeq(?![A-Za-z])|≈|:=|\\coloneqq(?![A-Za-z])"
                       r"|\\leftarrow(?![A-Za-z])|←|\\gets(?![A-Za-z])")
#: what ends a statement: big spaces, implications, comparisons, and prose in \text{…} (words with a
#: space between them, a letter outside ASCII — Persian — or a connective); \text{relu} is a name
_BREAK = re.compile(r"\\q?quad(?![A-Za-z])|\\(Rightarrow|Longrightarrow|implies|therefore|iff|to|mapsto|rightarrow"
                    r"|leq?|geq?|neq?|ne|lt|gt|in|forall)(?![A-Za-z])|[;<>≤≥≠⇒→]"
                    r"|\\(checkmark|blacksquare|square|qed|Box)(?![A-Za-z])"
                    r"|\\(text|mbox|hbox|textrm|textit)\s*\{(?!\s*[A-Za-z]+'?\s*\})[^{}]*\}"
                    r"|\\(text|mbox|hbox|textrm|textit)\s*\{\s*(and|or|where|if|for|so|then|with|thus|hence|since"
                    r"|at)\s*\}")


@dataclass(frozen=True)
class Target:
    """What a chain's left side claims: ``section`` is forward, deltas, grads, updated, formulas
    or given (a parameter's initial value, not graded)."""

    section: str
    name: str
    epoch: int | None
    sample: int | None


class _NotAClaimError(Exception):
    """A part that is working, not a claim (a chain-rule step): not judged, not an error."""


class _UnreadableError(Exception):
    """A part that cannot be read; ``pos`` is its offset in the file."""

    def __init__(self, message: str, pos: int | None = None):
        super().__init__(message)
        self.message, self.pos = message, pos


def parse_latex_solution(text: str, model: Model, file: str = "<solution>", *, decimal_separator: str = ".",
                         markdown: bool = True) -> Solution:
    """Read a hand solution in LaTeX (``markdown=False``: a ``.tex`` file) or Markdown for ``model``.

    ``decimal_separator`` is the author's decimal mark besides ``.`` and ``٫`` (one of
    `SEPARATORS`).  Returns a `Solution`; raises `SolutionError` only when the text cannot be
    read at all (too long); every other problem is an error of its part, with line and column."""
    if decimal_separator not in SEPARATORS:
        raise SolutionError(f"the decimal separator must be one of {' '.join(SEPARATORS)}, not {decimal_separator!r}")
    if len(text) > MAX_BYTES:
        raise SolutionError(f"the text is longer than {MAX_BYTES:,} characters", file=file)
    return _Reader(model, file, decimal_separator).read(text, markdown)


# -- the text: same-length normalisation, math regions, rows, chains --------------------------
def _normalised(text: str, separator: str) -> str:
    """``text`` with every digit ASCII, the decimal marks between digits a point, and marks of
    direction as spaces — character for character, so offsets still point into the file."""
    text = _INVISIBLE.sub(" ", text.translate(_DIGITS)).replace("\t", " ")
    marks = "٫" + (separator if separator != "." else "")
    return re.sub(rf"(?<=[0-9])[{re.escape(marks)}](?=[0-9])", ".", text)


def _masked(text: str, pattern: str) -> str:
    """``text`` with every match of ``pattern`` blanked (newlines kept), same length."""
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S | re.M)


_DELIMITERS = re.compile(r"\$\$|\\\[|\\\(|\\begin\{(" + _MATH_ENVIRONMENTS + r")\*?\}|\$")
_CLOSING = {"$$": re.compile(r"\$\$"), "\\[": re.compile(r"\\\]"), "\\(": re.compile(r"\\\)"),
            "$": re.compile(r"(?<!\\)\$")}


def _without_comments(text: str, markdown: bool) -> str:
    """``text`` with what is not read blanked (same length): in Markdown fenced code (a fence closes
    only with one as long), inline code and HTML comments; in LaTeX ``%`` comments, verbatim and
    the comment environment."""
    if markdown:
        text = _masked(text, r"^ {0,3}(`{3,}|~{3,}).*?(^ {0,3}\1[`~]*[ \t]*$|\Z)")  # fenced code
        text = _masked(text, r"<!--.*?(-->|\Z)")  # HTML comments
        return _masked(text, r"(`+)[^`\n]*?\1")  # inline code
    text = _masked(text, r"(?<!\\)%[^\n]*")  # comments
    return _masked(text, r"\\begin\{(verbatim|lstlisting|minted|comment)\}.*?(\\end\{\1\}|\Z)|\\verb(.).*?\3")


def _regions(text: str, markdown: bool) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """The math of ``text`` (comments and code already blanked) as (start, end) offsets of each
    block's content, and the blocks never closed as (offset, what).  In Markdown a blank line ends
    a paragraph, and math with it: ``$$`` or ``$`` not closed before one is not closed."""
    text = text.replace("\\$", "  ")
    regions, unclosed = [], []
    at = 0
    while True:
        m = _DELIMITERS.search(text, at)
        if m is None:
            return regions, unclosed
        opening = m.group(0)
        if m.group(1):
            closing = re.compile(r"\\end\{" + re.escape(m.group(1)) + r"\*?\}")
        else:
            closing = _CLOSING[opening]
        end = closing.search(text, m.end())
        broken = end is not None and re.search(r"\n[ \t]*\n", text[m.end():end.start()]) is not None
        if opening == "$" and (end is None or broken or text[m.end():m.end() + 1].isspace()):
            at = m.end()  # a lone dollar in prose (a price; "$ " does not open math, as in Pandoc), not math
            continue
        if markdown and opening == "$$" and broken:
            unclosed.append((m.start(), opening))
            at = m.end()
            continue
        if end is None:
            unclosed.append((m.start(), opening))
            return regions, unclosed
        regions.append((m.end(), end.start()))
        at = end.end()


def _top_level(text: str, start: int, end: int, brackets: str) -> Iterator[tuple[int, int, int]]:
    """(position, bracket depth, environment depth) of each character of ``text[start:end]`` that
    begins something (a character, a command, an escaped character), matrices' and cases' own
    markers skipped: what the scanners below need to tell the top level of a block."""
    closing = {"{": "}", "(": ")", "[": "]"}
    opened, closers = set(brackets), {closing[b] for b in brackets}
    depth = env = 0
    i = start
    while i < end:
        c = text[i]
        if c == "\\":
            m = _OPAQUE_ENVIRONMENTS.match(text, i)
            if m:
                env += 1 if m.group(1) == "begin" else -1
                i = m.end()
                continue
            yield i, depth, env
            i += 1 + (i + 1 < end and not text[i + 1].isalpha())  # \{ \} \\ are not brackets
            continue
        yield i, depth, env
        if c in opened:
            depth += 1
        elif c in closers:
            depth -= 1
        i += 1


def _rows(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The rows of a math block: split at ``\\\\`` outside braces, matrices and cases."""
    rows, row_start = [], start
    for i, depth, env in _top_level(text, start, end, "{"):
        if depth <= 0 and env <= 0 and text.startswith("\\\\", i):
            rows.append((row_start, i))
            row_start = i + 2
    rows.append((row_start, end))
    return rows


def _unaligned(text: str, start: int, end: int) -> str:
    """``text`` with the alignment marks ``&`` of ``text[start:end]`` blanked, except in matrices
    (where they separate columns)."""
    chars = list(text)
    for i, _depth, env in _top_level(text, start, end, ""):
        if text[i] == "&" and env <= 0:
            chars[i] = " "
    return "".join(chars)


def _split(text: str, start: int, end: int, pattern: re.Pattern, brackets: str = "{([") -> list[tuple[int, int, str]]:
    """(start, end, separator) of the parts of ``text[start:end]`` between top-level matches of
    ``pattern`` (the separator is what ended the part; '' for the last)."""
    parts, part_start = [], start
    for i, depth, env in _top_level(text, start, end, brackets):
        if i < part_start or depth > 0 or env > 0 or text[i] in brackets:
            continue
        m = pattern.match(text, i)
        if m and m.end() <= end:
            parts.append((part_start, i, m.group(0)))
            part_start = m.end()
    parts.append((part_start, end, ""))
    return parts


_SCRIPT = re.compile(r"(?<!\\)([\^_])\s*([A-Za-z0-9]|\\(?:top|intercal|prime)(?![A-Za-z]))")  # \_ is no script


def _braced_scripts(text: str) -> tuple[str, list[int]]:
    """``x^2`` → ``x^{2}``, ``w_3`` → ``w_{3}``, as TeX reads a one-character script; with the
    offset in ``text`` of every character of the result (inserted braces take their script's)."""
    out, back, at = [], [], 0
    for m in _SCRIPT.finditer(text):
        out.append(text[at:m.start(2)])
        back.extend(range(at, m.start(2)))
        out.append("{" + m.group(2) + "}")
        back.extend([m.start(2)] + list(range(m.start(2), m.end(2))) + [m.end(2) - 1])
        at = m.end(2)
    out.append(text[at:])
    back.extend(range(at, len(text)))
    back.append(len(text))
    return "".join(out), back


def _nesting(text: str) -> int:
    depth = deepest = 0
    for m in re.finditer(r"[{(\[]|[})\]]|\\begin\{|\\end\{", text):
        opening = m.group(0) in "{([" or m.group(0) == "\\begin{"
        depth += 1 if opening else -1
        deepest = max(deepest, depth)
    return deepest


# -- the grammar ------------------------------------------------------------------------
_FUNCTION_COMMANDS = frozenset(k for k in _FUNCTIONS if k.startswith("\\"))


def _retype(token: Token) -> Token:
    """A command or a word in a font that names a function (``\\tanh``, ``\\text{relu}``) is a FUNC."""
    value = token.value
    if token.type == "FONTED":
        value = _fonted_word(value)
    if value in _FUNCTION_COMMANDS or (token.type == "FONTED" and value in _FUNCTIONS):
        return Token.new_borrow_pos("FUNC", token.value, token)
    return token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("symback.check").joinpath("latex.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                lexer_callbacks={"COMMAND": _retype, "FONTED": _retype})


_FONT = re.compile(r"\\(text|textrm|textit|mathrm|mathit|mathbf|mathsf|boldsymbol|bm|operatorname)\s*\{([^{}]*)\}")


def _fonted_word(text: str) -> str:
    """``\\text{relu}`` → ``relu``; ``\\hat{y}`` and ``\\mathcal{L}`` stay as written."""
    m = _FONT.fullmatch(text.strip())
    return m.group(2).strip() if m else re.sub(r"\s+", "", text)


def _key(text: str) -> str:
    """A name as written, in one canonical form: fonts and braces dropped (``\\mathbf{w}_{3}`` → ``w_3``)."""
    text = _FONT.sub(lambda m: m.group(2), text)
    return re.sub(r"[\s{}]|\\[,;:! ]", "", text)


# -- reading ------------------------------------------------------------------------------
class _Reader:
    def __init__(self, model: Model, file: str, separator: str):
        self.model, self.file, self.separator = model, file, separator
        nodes = [n for n in model.nodes if n.name]
        self.shapes = {n.name: tuple(n.shape) for n in nodes}
        self.forward = {n.name for n in nodes if not n.is_leaf}
        self.deltas = {n.name for n in model.program.named_deltas}
        self.trainable = {p.name for p in model.trainable}
        self.loss = model.loss.name
        self.per_sample = any(d.samples is not None for d in model.data)
        self.names: dict[str, str] = {}  # a written name's key → the model's name
        self.functions: dict[str, str] = {}  # a written name's key → a function
        from ..numeric.printing import latex_names  # the model's LaTeX (latex= included)

        for name, written in latex_names(model).items():
            self.names.setdefault(_key(written), name)
        for name in self.shapes:
            m = re.fullmatch(r"([A-Za-z]+)_?([0-9]+)", name)
            if m:
                self.names.setdefault(f"{m[1]}_{m[2]}", name)
            self.names[name] = name
        for written in _LOSS_NAMES:
            self.names.setdefault(_key(written), self.loss)
        for written, meaning in model.notation.items():
            if meaning in self.shapes:
                self.names[_key(written)] = meaning
            else:
                self.functions[_key(written)] = meaning
        self.rate = str(model.lr)  # exact: a Rational such as 1/10
        self.solution = Solution(file)

    # -- positions and errors
    def read(self, raw: str, markdown: bool) -> Solution:
        self.raw = raw
        self.text = _without_comments(_normalised(raw, self.separator), markdown)
        #: a file that writes epochs braced (h^{1}, h^{(1)}) writes a square as h^2; one that writes them
        #: in brackets (h^{(1)}) can have its formulas judged in an epoch's working too
        self.braced = re.search(r"\^\s*\{\s*[(\[]?\s*[0-9]+\s*[)\]]?\s*\}", self.text) is not None
        self.parenthesized = re.search(r"\^\s*\{\s*[(\[]\s*[0-9]+\s*[)\]]\s*\}", self.text) is not None
        self.lines = [0] + [m.end() for m in re.finditer("\n", self.text)]
        regions, unclosed = _regions(self.text, markdown)
        for offset, opening in unclosed:
            closing = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}.get(opening, opening.replace("begin", "end"))
            self.solution.errors.append(self.error(f"{opening} opens math that is never closed ({closing})", offset))
        for start, end in regions:
            hostile = _HOSTILE.search(self.text, start, end)
            if hostile:
                self.solution.errors.append(self.error(
                    f"character U+{ord(hostile.group(0)):04X} in math: a control or text-direction character can make "
                    "math show other than it reads; this block is not read", hostile.start()))
                continue
            if end - start > MAX_REGION:
                self.solution.errors.append(self.error(
                    f"a math block of more than {MAX_REGION:,} characters", start))
                continue
            self.region(start, end)
        self.slashes()
        return self.solution

    def slashes(self) -> None:
        """Values such as 0/253 and 3/200, three or more, without ``--decimal-separator /``: decimals
        written with a slash, as in Persian hand-writing, that would be graded as fractions — the file
        is refused (`SolutionError`) with the option to pass."""
        if self.separator == "/":
            return
        slashed = [i for i in self.solution.items if re.fullmatch(r"-?([0-9]+)/([0-9]+)", i.text)
                   and (i.text.lstrip("-").startswith("0/") or len(i.text.split("/")[1]) >= 3)]
        if len(slashed) >= 3:  # the whole file would be misread: say so first, and only that
            first = slashed[0]
            raise SolutionError(f"{first.text} and {len(slashed) - 1} more look like decimals written with a slash "
                                "(0/253 for 0.253): pass --decimal-separator / (or write fractions as \\frac{3}{200})",
                                file=self.file, line=first.line, column=first.column)

    def where(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.lines, offset)
        return line, offset - self.lines[line - 1] + 1

    def error(self, message: str, offset: int, target: Target | None = None) -> SolutionError:
        line, column = self.where(offset)
        e = SolutionError(message, file=self.file, line=line, column=column)
        if target is not None:
            e.where = (target.epoch, target.sample, target.section, target.name)
        return e

    # -- structure
    def region(self, start: int, end: int) -> None:
        # the block alone (offsets in it + self.base are the file's), its layout blanked
        self.base = start
        text = _unaligned(_masked(self.text[start:end], _LAYOUT.pattern), 0, end - start)
        chain: list[tuple[int, int]] | None = None
        for row_start, row_end in _rows(text, 0, end - start):
            statements = _split(text, row_start, row_end, _BREAK)
            for number, (s, e, _) in enumerate(statements):
                sides = [(a, b) for a, b, _ in _split(text, s, e, _RELATION)]
                if len(sides) == 1:
                    if chain is not None:
                        self.chain(text, chain)
                        chain = None
                    continue
                continues = number == 0 and not text[sides[0][0]:sides[0][1]].strip() and chain is not None
                if continues:
                    chain += sides[1:]
                    continue
                if chain is not None:
                    self.chain(text, chain)
                chain = sides
        if chain is not None:
            self.chain(text, chain)

    def parse(self, text: str, start: int, end: int) -> tuple[Tree, list[int]]:
        """One side of a relation as a tree; positions in it map to the file through the offsets."""
        side = _unpunctuated(text[start:end])
        if len(side) > MAX_SIDE:
            raise _UnreadableError(f"more than {MAX_SIDE:,} characters between two = signs", self.base + start)
        if _nesting(side) > MAX_NESTING:
            raise _UnreadableError(f"brackets nested more than {MAX_NESTING} deep", self.base + start)
        braced, back = _braced_scripts(side)
        try:
            tree = _parser().parse(braced)
        except LarkError as e:
            pos = getattr(e, "pos_in_stream", None)
            at = self.base + start + (back[min(pos, len(back) - 1)] if isinstance(pos, int) else 0)
            shown = getattr(e, "token", None) or getattr(e, "char", None)
            what = f"unexpected {str(shown)[:20]!r}" if shown else "cannot be read"
            raise _UnreadableError(f"cannot read this math ({what})", at) from None
        return tree, [self.base + start + b for b in back]

    def chain(self, text: str, sides: list[tuple[int, int]]) -> None:
        (s0, e0), rest = sides[0], [side for side in sides[1:] if text[side[0]:side[1]].strip()]
        if not text[s0:e0].strip():
            return
        try:
            lhs, back = self.parse(text, s0, e0)
            self.side = _Side(self.text, self.raw, back)
            target = self.target(lhs)
        except (_UnreadableError, _NotAClaimError):
            return  # the left side is not one of the model's quantities: prose-like math, not a claim
        if target is None or target.section == "given":
            return
        if target.section != "formulas" and not text[sides[-1][0]:sides[-1][1]].strip():
            at = self.base + sides[-1][0]
            self.solution.errors.append(self.error("nothing after the last = : write the value there (prose in "
                                                   "\\text{…} ends the math that is read)", at, target))
            return
        # a gradient's formula is judged where it is written without an epoch, and — in a file that writes
        # epochs in brackets, h^{(1)}, so that h^2 is a square — also in an epoch's working
        formulas = target.section == "formulas" or (target.section == "grads" and self.parenthesized)
        seen: set = set()  # the bracketed epochs a formula's names carry: its numbers' epoch
        for number, (s, e) in enumerate(rest):
            last = number == len(rest) - 1
            try:
                tree, back = self.parse(text, s, e)
            except _UnreadableError as u:
                if last or target.section == "formulas":  # a claim, or a formula: it must be read
                    self.solution.errors.append(self.error(u.message, u.pos, target))
                continue
            self.side = _Side(self.text, self.raw, back)
            translator = _Translator(self, self.side, target, epochs="bracketed" if formulas else "any")
            symbolic = _has_names(tree)
            try:
                if symbolic:
                    formula, _shape = translator.formula(tree)
                    if formulas:
                        self.solution.formulas.append(Formula(
                            target.name, formula, *self.where(self.base + s + _lead(text, s)),
                            source=" ".join(text[s:e].split())))  # as written, its layout (\\end{aligned}) left out
                        seen |= translator.seen
                elif target.section != "formulas" and last:
                    self.values(target, translator, tree, self.base + s)
                elif last and len(seen) == 1:  # ∂L/∂b_2 = 2(h_2^{(1)} - y) … = -1.09: epoch 1's gradient
                    step = self.located("grads", target.name, next(iter(seen)), tree)
                    self.values(step, translator, tree, self.base + s)
                elif last:
                    raise _UnreadableError(f"which epoch is this value of ∂L/∂{target.name}? write "
                                           f"\\frac{{\\partial L}}{{\\partial {target.name}^{{1}}}} for epoch 1",
                                           self.base + s)
            except _NotAClaimError:
                pass
            except _UnreadableError as u:
                if symbolic and target.section != "formulas" and not last:
                    continue  # working in the symbols of one epoch (w_3^1 - \alpha …): not a claim
                self.solution.errors.append(self.error(u.message, u.pos if u.pos is not None else self.base + s,
                                                       target))
            self.solution.shapes.extend(translator.claims)

    # -- what the left side claims
    def target(self, tree: Tree) -> Target | None:
        factor = _single_factor(tree)
        if factor is None:
            return None
        base, postfix = factor.children[0], factor.children[1:]
        if base.data == "derivative":
            _, _, top, _, bottom = base.children
            if self.resolve_tree(top) != self.loss:
                return None
            inner = _single_factor(bottom)
            if inner is None:
                return None
            name, epoch = self.name_and_epoch(inner.children[0], inner.children[1:] + postfix)
            if name is None:
                return None
            if name in self.trainable:
                section = "grads"
            elif name in self.deltas:
                section = "deltas"
            else:
                return None
            if epoch is None:
                return Target("formulas", name, None, None) if section == "grads" else None
            return self.located(section, name, epoch, tree)
        if base.data == "command" and base.children[0].value == r"\delta":
            subs = [p for p in postfix if p.data == "sub"]
            if not subs:
                return None
            key = self.script_key(subs[0])
            name = self.names.get(key)
            if name is None or name not in self.deltas:
                return None
            rest = [p for p in postfix if p is not subs[0]]
            epoch = self.epoch_of(rest)
            return None if epoch is None else self.located("deltas", name, epoch, tree)
        name, epoch = self.name_and_epoch(base, postfix)
        if name is None:
            if epoch is not None and base.data == "name":  # w_4^{2}: a value claimed for a name the model lacks
                written = _key(self.source_of(tree)).split("^")[0]
                unknown = self.unknown(written, tree)
                if unknown is not None:  # close to one of the model's names: a slip, said; else a quantity of
                    self.solution.errors.append(unknown)  # the author's own (p for softmax(z)), not judged
            return None
        if epoch is None:
            return None
        if name in self.trainable:  # the value used in a step: the update of the step before
            k, sample = epoch
            if k == 0:
                self.solution.errors.append(self.error(
                    f"{name}^{{(0)}}: epochs are counted from 1 here — {name}^{{(1)}} is the initial value (the one "
                    f"used in epoch 1), {name}^{{(2)}} the value after epoch 1's update", self.tree_offset(tree)))
                raise _NotAClaimError
            if self.per_sample:
                step = self.located("updated", name, epoch, tree)  # checked as written: epoch k, sample s
                k, sample = step.epoch, step.sample
                if (k, sample) == (1, 1):
                    return Target("given", name, None, None)
                previous = (k, sample - 1) if sample > 1 else (k - 1, self.model.samples)
                return Target("updated", name, *previous)
            if k == 1 and sample is None:
                return Target("given", name, None, None)
            return self.located("updated", name, (k - 1, sample), tree)
        if name in self.forward:
            return self.located("forward", name, epoch, tree)
        return None

    def located(self, section: str, name: str, epoch: tuple[int, int | None], tree: Tree) -> Target:
        k, sample = epoch
        epochs = self.model.epochs
        if not 1 <= k <= epochs:
            self.solution.errors.append(self.error(
                f"epoch {k}: the model trains for {epochs} epoch{'s' if epochs > 1 else ''}, counted from 1",
                self.tree_offset(tree)))
            raise _NotAClaimError
        if self.per_sample:
            n = self.model.samples
            if sample is None and n == 1:
                sample = 1
            if sample is None or not 1 <= sample <= n:
                self.solution.errors.append(self.error(
                    f"this model updates once per sample: write the epoch and sample as {name}^{{{k}.1}} … "
                    f"^{{{k}.{n}}}", self.tree_offset(tree)))
                raise _NotAClaimError
        elif sample is not None:
            self.solution.errors.append(self.error(
                f"this model has no per-sample data: write the epoch as ^{{{k}}}", self.tree_offset(tree)))
            raise _NotAClaimError
        return Target(section, name, k, sample)

    def name_and_epoch(self, base: Tree, postfix: list[Tree]) -> tuple[str | None, tuple[int, int | None] | None]:
        if base.data not in ("name", "fonted"):
            return None, None
        subs = [p for p in postfix if p.data == "sub"]
        key = _key(base.children[0].value) + (f"_{self.script_key(subs[0])}" if subs else "")
        rest = [p for p in postfix if not subs or p is not subs[0]]
        epoch = self.epoch_of(rest)
        return self.names.get(key), epoch

    def epoch_of(self, postfix: list[Tree]) -> tuple[int, int | None] | None:
        sups = [p for p in postfix if p.data == "sup"]
        if len(sups) != 1 or len(postfix) != 1:
            return None
        key = self.script_key(sups[0])
        if self.braced and not self.source_of(sups[0].children[0]).lstrip().startswith("{"):
            return None  # a file that writes epochs braced, h^{1} or h^{(1)}, writes a square as h^2
        m = re.fullmatch(r"[(\[]?([0-9]{1,6})(?:[.,]([0-9]{1,6}))?[)\]]?", key)
        return (int(m[1]), None if m[2] is None else int(m[2])) if m else None

    def script_key(self, postfix: Tree) -> str:
        return self.side.script(postfix)

    def resolve_tree(self, tree: Tree) -> str | None:
        factor = _single_factor(tree)
        if factor is None:
            return None
        name, epoch = self.name_and_epoch(factor.children[0], factor.children[1:])
        return name if epoch is None else None

    def source_of(self, node) -> str:
        return self.side.source(node)

    def tree_offset(self, tree: Tree) -> int:
        return self.side.offset(tree)

    def unknown(self, written: str, tree: Tree) -> SolutionError | None:
        """An error for a name with an epoch that is close to one of the model's (``w_4`` beside w1…w3),
        or None for a symbol of the author's own."""
        valid = sorted(self.shapes)
        folded = {v.lower(): v for v in valid}
        close = difflib.get_close_matches(written.replace("_", "").lower(), list(folded), n=1, cutoff=0.5)
        if not close:
            return None
        return self.error(f"{written[:40]!r} with an epoch is not a quantity of the model; did you mean "
                          f"{folded[close[0]]}? (expected one of: {', '.join(valid)})", self.tree_offset(tree))

    # -- values
    def values(self, target: Target, translator: _Translator, tree: Tree, start: int) -> None:
        """The entries of a claimed value (``start``: its offset in the file), checked against the shape."""
        rows, cols = self.shapes[target.name]
        cells = translator.value(tree)
        written = (len(cells), len(cells[0]) if cells else 0)
        if written != (rows, cols):
            if written == (1, 1) and (rows, cols) != (1, 1):
                what = "a single value"
            else:
                what = f"{written[0]}×{written[1]}" + (" (transposed?)" if written == (cols, rows) else "")
            raise _UnreadableError(shape_mismatch(target.name, (rows, cols), what), start)
        for r, row in enumerate(cells):
            for c, cell in enumerate(row):
                if cell is None:
                    continue
                text, offset, source = cell
                self.solution.items.append(Item(target.epoch, target.sample, target.section, target.name, (r, c),
                                                text, *self.where(offset), source=source))


def _unpunctuated(side: str) -> str:
    """A side without the sentence's punctuation and spacing after it (``0.3318.``, ``0.2240,\\;``)."""
    while True:
        side = side.rstrip()
        if side[-2:] in ("\\,", "\\;", "\\!", "\\:") and side[-3:-2] != "\\":
            side = side[:-2]
        elif side[-1:] in (",", ".", ";") and side[-2:-1] != "\\":
            side = side[:-1]
        else:
            return side


def _lead(text: str, start: int) -> int:
    """How many blank characters open the part at ``start``."""
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    return i - start


def _single_factor(tree: Tree) -> Tree | None:
    """The one factor an expression is (``w_3^{2}``), or None for a sum or product."""
    if not isinstance(tree, Tree) or tree.data != "expr":
        return None
    sign, *rest = tree.children
    if sign is not None or len(rest) != 1:
        return None
    term = rest[0]
    factors = [c for c in term.children if isinstance(c, Tree)]
    if len(term.children) != 1 or len(factors) != 1:
        return None
    return factors[0]


def _has_names(tree: Tree) -> bool:
    """Whether a side is symbolic (names, δ, derivatives) rather than numbers only; a function
    of numbers (``\\tanh(3.2)``) and the transpose of a matrix of numbers (``^T``) are numbers."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data in ("name", "fonted", "derivative"):
            return True
        if node.data == "command" and node.children[0].value not in (r"\top", r"\intercal"):
            return True
        if node.data == "sup" and _is_transpose(node):
            continue
        stack.extend(node.children)
    return False


def _is_transpose(sup: Tree) -> bool:
    """``^{T}``, ``^{\\top}``, ``^\\intercal``: a transpose, not a power or an epoch."""
    script = sup.children[0]
    if isinstance(script, Tree) and script.data == "top":
        return True
    factor = _single_factor(script.children[0]) if isinstance(script, Tree) and script.data == "braced" else None
    if factor is None or len(factor.children) != 1:
        return False
    base = factor.children[0]
    if base.data == "name":
        return base.children[0].value in ("T", "t")
    if base.data in ("top", "command"):
        return base.children[0].value in (r"\top", r"\intercal")
    return base.data == "fonted" and _fonted_word(base.children[0].value) == "T"


class _Side:
    """Where the nodes of one parsed side of a relation are in the file: ``back`` maps each
    character of the parsed text (scripts braced) to its offset in the file; ``text`` is the file
    as read (digits ASCII, comments blanked), ``raw`` as written."""

    def __init__(self, text: str, raw: str, back: list[int]):
        self.text, self.raw, self.back = text, raw, back

    def offset(self, node) -> int:
        pos = node.start_pos if isinstance(node, Token) else getattr(node.meta, "start_pos", 0)
        return self.back[min(pos or 0, len(self.back) - 1)]

    def source(self, node, raw: bool = False) -> str:
        """The file's text of ``node``: as read, or (``raw``) as written, Persian digits and all."""
        if isinstance(node, Token):
            start, end = node.start_pos, node.end_pos
        elif getattr(node.meta, "empty", True):
            return ""
        else:
            start, end = node.meta.start_pos, node.meta.end_pos
        a, b = self.back[start], self.back[min(end, len(self.back) - 1)]
        return (self.raw if raw else self.text)[a:b]

    def script(self, postfix: Tree) -> str:
        """A superscript's or subscript's text in canonical form, without its braces: ``^{(1)}`` → ``(1)``."""
        return _key(self.source(postfix.children[0])).strip("{}")


class _Translator:
    """A side of a relation into the checker's language: a formula (text, shape), or a value
    (a grid of entry texts with their offsets).  Records the shape claims of underbraces."""

    def __init__(self, reader: _Reader, side: _Side, target: Target, *, epochs: str | None = None):
        """``epochs``: which superscripts on a name are its epoch, dropped (and kept in ``seen``):
        ``"any"`` (``out^{1}``, in the working of a value's chain), ``"bracketed"`` (only
        ``h^{(1)}``/``h^{[1]}``), None (a formula's: every superscript is a power or a transpose)."""
        self.reader, self.side, self.target, self.epochs = reader, side, target, epochs
        self.seen: set[tuple[int, int | None]] = set()
        self.offset, self.source = side.offset, side.source
        self.claims: list[ShapeClaim] = []

    # -- formulas: (text, shape)
    def formula(self, node) -> tuple[str, tuple[int, int] | None]:
        """``node`` in the checker's formula language, and its shape (None for the identity)."""
        kind = node.data
        if kind == "expr":
            sign, *rest = node.children
            parts = []
            text, shape = None, None
            for i in range(0, len(rest), 2):
                op = sign if i == 0 else rest[i - 1]
                t, s = self.formula(rest[i])
                if s is None:
                    raise _UnreadableError("the identity I is read only as a factor of a product", self.offset(rest[i]))
                minus = op is not None and op.value in "-−"
                parts.append(("- " if minus else "+ ") + _wrapped(t))
                shape = s if shape is None else _broadcast(shape, s)
            text = " ".join(parts)
            return (text[2:] if text.startswith("+ ") else text), shape
        if kind == "term":
            return self.product(node)
        if kind == "factor":
            return self.factor(node)
        raise _UnreadableError("cannot read this part of a formula", self.offset(node))

    def product(self, node: Tree) -> tuple[str, tuple[int, int] | None]:
        children = list(node.children)
        items: list[tuple[str, Tree, bool]] = []  # (operator, factor, negated)
        op, negate = "juxt", False
        for child in children:
            if isinstance(child, Token):
                if child.type == "MULOP":
                    op = child.value
                elif child.type == "PM":
                    negate = child.value in "-−"
                continue
            if child is None:
                continue
            items.append((op, child, negate))
            op, negate = "juxt", False
        items = self.calls(items)
        text, shape = None, None
        for op, factor, negated in items:
            t, s = factor if isinstance(factor, tuple) else self.formula(factor)
            where = 0 if isinstance(factor, tuple) else self.offset(factor)
            if negated:
                t = f"-{_wrapped(t)}"
            if text is None:
                text, shape = t, s
                continue
            if s is None or shape is None:  # the identity I_n: a factor that changes nothing, where it fits
                n = int((t if s is None else text).split(":")[1])
                other = shape if s is None else s
                if other is not None and other[1 if s is None else 0] != n:
                    raise _UnreadableError(f"I_{n} does not fit beside a {other[0]}×{other[1]} factor", where)
                if s is not None:
                    text, shape = t, s
                continue
            if latex_calls.CORRELATE.fullmatch(op):
                text, shape = latex_calls.correlated(self.reader, op, text, shape, t, s)
            elif op in _ELEMENTWISE:
                text, shape = f"{_wrapped(text)} * {_wrapped(t)}", _broadcast(shape, s)
            elif op in _DIVIDE:
                text, shape = f"{_wrapped(text)} / {_wrapped(t)}", _broadcast(shape, s)
            else:
                text, shape = _product(text, shape, t, s)
        if shape is None:
            raise _UnreadableError("the identity I is read only as a factor of a product", self.offset(node))
        return text, shape


    def calls(self, items: list) -> list:
        """A word that names a function, followed by brackets, applies it: ``u(z)``, ``g(u_1)``;
        powers written after the brackets apply to the result (``g(u)^2``)."""
        out = []
        i = 0
        while i < len(items):
            op, factor, negated = items[i]
            function = self.word_function(factor)
            if function is not None and i + 1 < len(items) and items[i + 1][0] == "juxt" \
                    and items[i + 1][1].children[0].data == "paren":
                argument = items[i + 1][1]
                inner = argument.children[0].children[0]
                text, shape = self.apply(function, factor.children[1:], inner, self.offset(factor))
                text, shape = self.postfixed(text, shape, argument.children[1:])
                out.append((op, (text, shape), negated))
                i += 2
                continue
            out.append(items[i])
            i += 1
        return out

    def word_function(self, factor) -> str | None:
        if not isinstance(factor, Tree) or factor.data != "factor":
            return None
        base = factor.children[0]
        if base.data not in ("name", "fonted"):
            return None
        key = _key(base.children[0].value)
        if any(p.data == "sub" for p in factor.children[1:]):
            return None
        if key in self.reader.functions:
            return self.reader.functions[key]
        if key in self.reader.names:
            return None
        return _FUNCTIONS.get(key)

    def apply(self, function: str, modifiers: list, inner: Tree, where: int) -> tuple[str, tuple[int, int]]:
        if function in latex_calls.READ_HERE:
            return self.window_call(function, modifiers, [inner], where)
        argument, shape = self.formula(inner)
        if shape is None:
            raise _UnreadableError("the identity I is read only as a factor of a product", where)
        primes = sum(1 for m in modifiers if m.data == "prime")
        if function == "sqrt":
            raise _UnreadableError("√ is not read in formulas", where)
        if function not in FORMULA_FUNCTIONS:
            raise _UnreadableError(f"{function!r} is not a function a formula can use", where)
        if primes > 1:
            raise _UnreadableError(f"{function}'' (a second derivative) is not read in formulas", where)
        if primes:
            if function not in _DERIVATIVES:
                raise _UnreadableError(f"{function}′ is not read in formulas", where)
            text = _DERIVATIVES[function].format(argument)
        else:
            text = f"{function}({argument})"
            if function == "sum":
                shape = (1, 1)
        powers = [m for m in modifiers if m.data == "sup"]
        if powers:
            text, shape = self.postfixed(text, shape, powers)
        return text, shape

    def window_call(self, function: str, modifiers: list, inners: list, where: int) -> tuple[str, tuple[int, int]]:
        """Convolution, pooling, reshaping (``latex_calls.py``): the subscript is a size (``pad_{1}``), and
        ``route_{\\max}(\\delta_P \\to A)`` takes its window from the model."""
        if any(m.data == "prime" for m in modifiers):
            raise _UnreadableError(f"{function}′ is not read in formulas", where)
        subs = [m for m in modifiers if m.data == "sub"]
        if function == "route_max" and len(inners) == 1:
            inners = latex_calls.split_at_arrow(inners[0]) or inners
        args = []
        for inner in inners:
            factor = _single_factor(inner)
            if factor is not None and len(factor.children) == 1 and factor.children[0].data == "tuple":
                args.append((f"({self.arith(factor.children[0].children[0])}, "  # a pair: (2, 1)
                             f"{self.arith(factor.children[0].children[1])})", (1, 1)))
                continue
            text, shape = self.formula(inner)
            if shape is None:
                raise _UnreadableError("the identity I is read only as a factor of a product", where)
            args.append((text, shape))
        try:
            text = latex_calls.window_text(self.reader, function, self.side.script(subs[0]) if subs else None, args)
        except latex_calls.UnreadableError as u:
            raise _UnreadableError(u.message, where) from None
        shape = latex_calls.shape_of(self.reader, text, args[0][1])
        powers = [m for m in modifiers if m.data == "sup"]
        return self.postfixed(text, shape, powers) if powers else (text, shape)

    def postfixed(self, text: str, shape, postfix: list) -> tuple[str, tuple[int, int]]:
        for p in postfix:
            if p.data == "prime":
                raise _UnreadableError("a prime (′) is read only on a function: \\tanh'(u), \\sigma'(z)", self.offset(p))
            if p.data == "sub":
                raise _UnreadableError("a subscript here is not read in a formula", self.offset(p))
            script = self.side.script(p)
            if script in _TRANSPOSE:
                text, shape = f"{_wrapped(text)}.T", (shape[1], shape[0])
            elif re.fullmatch(r"[-−]?[0-9]{1,2}", script):
                text = f"{_wrapped(text)}**{script.replace('−', '-')}"
            elif re.fullmatch(r"\\circ\(?[-−]?[0-9]{1,2}\)?", script):
                text = f"{_wrapped(text)}**{script[5:].strip('()').replace('−', '-')}"
            else:
                raise _UnreadableError(f"^{{{script[:20]}}} is not read in a formula (a power, or T for the transpose)",
                                  self.offset(p))
        return text, shape

    def factor(self, node: Tree) -> tuple[str, tuple[int, int] | None]:
        base, postfix = node.children[0], list(node.children[1:])
        kind = base.data
        if kind in ("name", "fonted", "command"):
            text, shape, postfix = self.symbol(base, postfix)
        elif kind == "number":
            text, shape = base.children[0].value, (1, 1)
        elif kind == "paren":
            text, shape = self.formula(base.children[0])
            text = f"({text})"
        elif kind == "call":
            function_token, *modifiers, inner = base.children
            word = function_token.value
            function = _FUNCTIONS.get(word) or _FUNCTIONS.get(_fonted_word(word)) \
                or self.reader.functions.get(_key(_fonted_word(word)))
            if function is None:
                raise _UnreadableError(f"{word[:30]} is not a function a formula can use", self.offset(base))
            text, shape = self.apply(function, modifiers, inner, self.offset(base))
        elif kind == "call_args":  # \operatorname{route\_max}(\delta_P, A, 2): the formula language's own call
            function_token, *rest = base.children
            modifiers = [c for c in rest if c.data != "expr"]
            word = function_token.value
            function = _FUNCTIONS.get(word) or _FUNCTIONS.get(_fonted_word(word))
            if function is None or function not in FORMULA_FUNCTIONS:
                raise _UnreadableError(f"{word[:30]} is not a function a formula can use", self.offset(base))
            text, shape = self.window_call(function, modifiers, [c for c in rest if c.data == "expr"],
                                           self.offset(base))
        elif kind == "frac":
            _, top, bottom = base.children
            a, sa = self.formula(top)
            b, sb = self.formula(bottom)
            if sa is None or sb is None:
                raise _UnreadableError("the identity I is read only as a factor of a product", self.offset(base))
            text, shape = f"{_wrapped(a)} / {_wrapped(b)}", _broadcast(sa, sb)
        elif kind == "derivative":
            _, _, top, _, bottom = base.children
            if self.reader.resolve_tree(top) != self.reader.loss:
                raise _NotAClaimError  # ∂out/∂z: a chain-rule step, working rather than a formula
            name = self.reader.resolve_tree(bottom)
            if name is None or name not in self.reader.deltas:
                raise _NotAClaimError
            text, shape = f"delta_{name}", self.reader.shapes[name]
        elif kind == "brace":
            _, inner = base.children
            text, shape = self.formula(inner)
            subs = [p for p in postfix if p.data in ("sub", "sup")]
            if subs:
                postfix = [p for p in postfix if p is not subs[0]]
                self.claim(base, subs[0], shape)
        elif kind in ("matrix", "tuple"):
            raise _UnreadableError("numbers in a matrix or vector in a formula: write the formula in the model's "
                                   "names", self.offset(base))
        else:
            raise _UnreadableError("cannot read this part of a formula", self.offset(base))
        if postfix:
            if shape is None:
                raise _UnreadableError("the identity I is read only as a factor of a product", self.offset(base))
            text, shape = self.postfixed(text, shape, postfix)
        return text, shape

    def symbol(self, base: Tree, postfix: list) -> tuple[str, tuple[int, int] | None, list]:
        word = _key(base.children[0].value)  # \mathbf{w} → w, \hat{y} → \haty, \delta as it is
        subs = [p for p in postfix if p.data == "sub"]
        sub = subs[0] if subs and subs[0] is postfix[0] else None
        rest = postfix[1:] if sub is not None else postfix
        if word == r"\delta":
            if sub is None:
                raise _UnreadableError("δ needs the quantity it belongs to: \\delta_{out}", self.offset(base))
            name = self.reader.names.get(self.reader.script_key(sub))
            if name is None or name not in self.reader.deltas:
                raise _UnreadableError(f"δ_{self.reader.script_key(sub)[:20]} is not the δ of a quantity of the model",
                                  self.offset(base))
            return f"delta_{name}", self.reader.shapes[name], rest
        key = word + (f"_{self.reader.script_key(sub)}" if sub is not None else "")
        name = self.reader.names.get(key)
        if name is not None:
            epoch = self.reader.epoch_of(rest[:1]) if self.epochs and rest and rest[0].data == "sup" else None
            if epoch is not None and (self.epochs == "any" or self.reader.script_key(rest[0])[:1] in "(["):
                rest = rest[1:]  # out^{1}: the value of epoch 1, in a value's working
                self.seen.add(epoch)
            elif epoch is not None and epoch[0] == self.target.epoch:
                raise _NotAClaimError  # out^{2} in epoch 2's working: an epoch or a square? not judged as a formula
            return name, self.reader.shapes[name], rest
        if key in _RATES and key not in self.reader.names:
            return f"({self.reader.rate})", (1, 1), rest
        if word == "I" and sub is not None:
            m = re.fullmatch(r"\(?([0-9]{1,4})(?:(?:\\times|×|x|\*|,)([0-9]{1,4}))?\)?", self.reader.script_key(sub))
            if m and (m[2] is None or m[1] == m[2]):
                return f"I:{int(m[1])}", None, rest
        if base.data == "name" and sub is None and len(word) > 1:  # a run of letters: names side by side
            names = _segmented(word, self.reader.names)
            if names:
                text, shape = names[0], self.reader.shapes[names[0]]
                for n in names[1:]:
                    text, shape = _product(text, shape, n, self.reader.shapes[n])
                return f"({text})", shape, rest
        written = key if len(key) < 30 else key[:30] + "…"
        raise _UnreadableError(f"{written!r} is not a name of the model (nor in its notation)", self.offset(base))

    def claim(self, brace: Tree, script: Tree, shape: tuple[int, int] | None) -> None:
        text = self.source(script.children[0])
        words = re.sub(r"\\(text|mathrm|textrm)\s*\{([^{}]*)\}", r"\2", text)
        m = re.fullmatch(r"\s*\{?\s*[(\[]?\s*([0-9]{1,4})\s*(?:\\times|×|x|\*|\\cdot|,)\s*([0-9]{1,4})\s*[)\]]?\s*\}?\s*",
                         words)
        if not m or shape is None:
            return  # a label under the brace (δ_h, "the error"), not a shape
        claimed = (int(m[1]), int(m[2]))
        offset = self.offset(brace)
        self.claims.append(ShapeClaim(self.target.name, self.source(brace).strip()[:200], claimed, shape,
                                      *self.reader.where(offset)))

    # -- values: a grid of (text, offset)
    def value(self, tree: Tree) -> list[list[tuple[str, int] | None]]:
        factor = _single_factor(tree)
        if factor is not None and factor.children[0].data in ("matrix", "tuple"):
            return self.matrix(factor)
        if tree.data == "expr" and tree.children[0] is None and len(tree.children) == 2:
            term = tree.children[1]
            parts = [c for c in term.children if isinstance(c, Tree)]
            ops = [c for c in term.children if isinstance(c, Token)]
            matrices = [p for p in parts if p.children[0].data == "matrix"]
            if len(parts) == 2 and len(matrices) == 1 and all(o.type == "MULOP" and o.value not in _DIVIDE
                                                               for o in ops):
                scalar = parts[0] if matrices[0] is parts[1] else parts[1]
                factor_text = self.arith(scalar)
                grid = self.matrix(matrices[0])
                written = self.written(scalar)
                return [[None if c is None else (f"{_wrapped(factor_text)}*{_wrapped(c[0])}", c[1], f"{written} · {c[2]}")
                         for c in row] for row in grid]
        return [[(self.arith(tree), self.offset(tree), self.written(tree))]]

    def matrix(self, factor: Tree) -> list[list[tuple[str, int] | None]]:
        """A matrix's entries, or a vector's written ``(a, b)``/``[a, b]`` (a row; ``^T`` makes it a column)."""
        base, postfix = factor.children[0], factor.children[1:]
        if base.data == "tuple":
            grid = [[(self.arith(c), self.offset(c), self.written(c)) for c in base.children]]
            return self.transposed(grid, postfix)
        rows_tree = base.children[1]
        grid = []
        for row in rows_tree.children:
            if not isinstance(row, Tree):
                continue
            cells = [c for c in row.children if not (isinstance(c, Token) and c.type == "AMP")]
            grid.append([None if c is None else (self.arith(c), self.offset(c), self.written(c)) for c in cells])
        while grid and all(c is None for c in grid[-1]):  # a \\ after the last row
            grid.pop()
        if not grid:
            raise _UnreadableError("an empty matrix", self.offset(base))
        width = max(len(r) for r in grid)
        if any(len(r) != width for r in grid):
            raise _UnreadableError("the rows of this matrix have different lengths", self.offset(base))
        return self.transposed(grid, postfix)

    def transposed(self, grid: list, postfix: list) -> list:
        for p in postfix:
            script = self.side.script(p) if p.data == "sup" else None
            if script not in _TRANSPOSE:
                raise _UnreadableError("a matrix value may only be transposed (^T)", self.offset(p))
            grid = [list(col) for col in zip(*grid)]
        return grid

    def written(self, node) -> str:
        """A value as its author wrote it (digits and marks as in the file), on one line."""
        return " ".join(self.side.source(node, raw=True).split())[:200]

    def arith(self, node) -> str:
        """A numeric expression in the checker's value language (``0.1*(4.47-6)``)."""
        if node is None:
            return ""
        if isinstance(node, Token):
            return node.value
        kind = node.data
        if kind == "expr":
            sign, *rest = node.children
            out = []
            for i in range(0, len(rest), 2):
                op = sign if i == 0 else rest[i - 1]
                t = self.arith(rest[i])
                if op is not None:
                    out.append(("-" if op.value in "-−" else "+") + _wrapped(t))
                else:
                    out.append(t)
            return "".join(out)
        if kind == "term":
            out: list[str] = []
            op, negate = None, False
            for child in node.children:
                if isinstance(child, Token):
                    if child.type == "MULOP":
                        op = "/" if child.value in _DIVIDE else "*"
                    elif child.type == "PM":
                        negate = child.value in "-−"
                    continue
                if child is None:
                    continue
                power = _power_of_ten(child, self.side)
                if power is not None and out and op == "*" and re.fullmatch(r"\*?[0-9.]+", out[-1]):
                    out[-1] += f"e{power}"  # 1.2 \times 10^{-3}: one number, as written
                else:
                    t = _wrapped(self.arith(child))
                    t = f"(-{t})" if negate else t
                    out.append(t if not out else (op or "*") + t)
                op, negate = None, False
            return "".join(out)
        if kind == "factor":
            base, *postfix = node.children
            text = self.arith_base(base)
            for p in postfix:
                if p.data != "sup":
                    raise _UnreadableError("a subscript or prime in a number", self.offset(p))
                exponent = self.side.script(p).replace("−", "-")
                if not re.fullmatch(r"[-+]?[0-9]{1,3}", exponent):
                    raise _UnreadableError(f"the exponent {exponent[:20]!r} is not a whole number", self.offset(p))
                text = f"{_wrapped(text)}^{exponent}"
            return text
        raise _UnreadableError("cannot read this number", self.offset(node))

    def arith_base(self, base: Tree) -> str:
        kind = base.data
        if kind == "number":
            return base.children[0].value.replace("{,}", ".").replace("{.}", ".")
        if kind == "paren":
            return f"({self.arith(base.children[0])})"
        if kind == "tuple":
            raise _UnreadableError("a vector inside a value: write the value as one vector", self.offset(base))
        if kind == "frac":
            _, top, bottom = base.children
            return f"({self.arith(top)})/({self.arith(bottom)})"
        if kind == "call":
            function_token, *modifiers, inner = base.children
            function = _FUNCTIONS.get(function_token.value) or _FUNCTIONS.get(_fonted_word(function_token.value))
            if function is None or modifiers:
                raise _UnreadableError(f"{function_token.value[:30]} of a number is not read", self.offset(base))
            return f"{function}({self.arith(inner)})"
        if kind == "brace":
            return self.arith(base.children[1])
        if kind == "matrix":
            raise _UnreadableError("a matrix inside a value: write the value as one matrix", self.offset(base))
        raise _UnreadableError("cannot read this number", self.offset(base))


def _power_of_ten(factor: Tree, side: _Side) -> str | None:
    """``10^{-3}`` → ``-3``; None for any other factor."""
    if factor.data != "factor" or len(factor.children) != 2 or factor.children[0].data != "number" \
            or factor.children[0].children[0].value != "10" or factor.children[1].data != "sup":
        return None
    exponent = side.script(factor.children[1]).replace("−", "-")
    return exponent if re.fullmatch(r"[-+]?[0-9]{1,3}", exponent) else None


def _wrapped(text: str) -> str:
    """``text`` in brackets unless it is one name, number or call."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\(.*\))?|[0-9.]+|\(.*\)", text) and _balanced_whole(text):
        return text
    return f"({text})"


def _balanced_whole(text: str) -> bool:
    """Whether the outermost brackets of ``text`` (if it starts with one) close at its end."""
    if not text.endswith(")"):
        return True
    depth = 0
    for i, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and c == ")" and i != len(text) - 1:
            return False
    return True


def _product(a: str, a_shape: tuple[int, int], b: str, b_shape: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """Two factors side by side (or with ``\\cdot``, ``\\times``): a scalar multiple when one is 1×1, else
    the matrix product — when its sizes do not fit, the checker says so with both shapes."""
    if a_shape == (1, 1) or b_shape == (1, 1):
        return f"{_wrapped(a)} * {_wrapped(b)}", b_shape if a_shape == (1, 1) else a_shape
    return f"{_wrapped(a)} @ {_wrapped(b)}", (a_shape[0], b_shape[1])


def _broadcast(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """The shape NumPy broadcasting gives (``a`` where it fails: the checker then names both)."""
    shape = []
    for m, n in zip(a, b):
        if m != n and 1 not in (m, n):
            return a  # the checker names both shapes when it reads the formula
        shape.append(max(m, n))
    return tuple(shape)


def _segmented(word: str, names: dict[str, str]) -> list[str] | None:
    """``hw`` → [h, w] when both are names of the model; None when the letters are not names."""
    best: dict[int, list[str]] = {0: []}
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 12), end):
            if start in best and word[start:end] in names:
                best[end] = best[start] + [names[word[start:end]]]
                break
    return best.get(len(word)) if len(best.get(len(word), [])) > 1 else None
