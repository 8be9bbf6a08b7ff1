"""Reading a hand solution file: untrusted YAML in, plain `Item`s and `Formula`s out.

A solution file is written by a student, so it is hostile data.  It is *composed* (a tree of
nodes with positions) from the events of PyYAML's parser (libyaml's, in C, where PyYAML has
it) and never *constructed*: no Python object is built from it.  Only the YAML core tags are allowed, anchors and aliases are refused (no
billion laughs), and size, node count, depth and scalar length are capped.  Every value keeps
the text exactly as written (``0.0020``, ``3/10``, ``0.1*(4.47-6)``); turning text into a
number is left to the checker, which parses it without ``eval``.

What cannot be read *in* a readable file — a misspelt name, a matrix of the wrong shape, an
epoch the model does not have — does not stop the rest: it is kept in ``Solution.errors``
(a `SolutionError` with its line and column each) and the checker reports it as an ``error``
item beside the values it grades.  Only a file that cannot be read at all (not YAML, too
large, a refused tag) raises.

>>> sol = parse_solution("epochs: {1: {forward: {out: 4.47}}}", model)
>>> sol.items
[Item(epoch=1, sample=None, section='forward', name='out', index=(0, 0), text='4.47', line=1, column=29)]
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from ..errors import SolutionError

if TYPE_CHECKING:
    from ..model import Model

MAX_BYTES = 1_000_000  # file size, checked before reading: a class's solutions are a few kB each
MAX_NODES = 200_000  # YAML nodes (keys, values, list entries) per file: every value of 200 epochs of a small network fits
MAX_DEPTH = 12  # nesting; the deepest legitimate entry (a matrix cell) sits at depth 7
MAX_TEXT = 500  # characters per scalar: a value or a formula

#: in computation order: forward values, their δ (∂L/∂ of each named quantity), gradients, updates
SECTIONS = ("forward", "deltas", "grads", "updated")
TOP_KEYS = ("epochs", "formulas")
METADATA = ("student", "name", "notes")  # tolerated, not returned

_CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, NULL, BOOL = (_CORE + t for t in ("str", "int", "float", "null", "bool"))
ALLOWED_TAGS = frozenset({STR, INT, FLOAT, NULL, BOOL, _CORE + "seq", _CORE + "map"})
_EPOCH_KEY = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # "1", or "1.2" for epoch 1, sample 2; ASCII digits, as in values


@dataclass(frozen=True)
class Item:
    """One written entry of a tensor: where it belongs, its text as written, and its position."""

    epoch: int
    sample: int | None  # 1-based, for models with samples(...) data; else None
    section: str  # "forward" | "grads" | "updated"
    name: str
    index: tuple[int, int]  # 0-based (row, column)
    text: str  # what is judged: in the checker's value language (a LaTeX value is translated: 0/253 → 0.253)
    line: int  # 1-based
    column: int  # 1-based
    source: str | None = field(default=None, compare=False)  # a LaTeX value as written (۰/۲۵۳), shown to its author


@dataclass(frozen=True)
class Formula:
    """A gradient formula written for a trainable parameter, as text."""

    name: str
    text: str  # in the checker's formula language (a LaTeX formula is translated by check/latex.py)
    line: int
    column: int
    source: str | None = field(default=None, compare=False)  # the LaTeX as written, for a formula read from LaTeX


@dataclass(frozen=True)
class ShapeClaim:
    """A shape written under a part of a LaTeX formula (``\\underbrace{…}_{(1 \\times 3)}``) and the
    shape that part really has; ``name`` is the parameter whose gradient the formula is."""

    name: str
    text: str  # the annotated part as written
    claimed: tuple[int, int]
    actual: tuple[int, int]
    line: int
    column: int


@dataclass
class Solution:
    """What a solution file gives, in file order; anything not written is simply absent."""

    file: str
    items: list[Item] = field(default_factory=list)
    formulas: list[Formula] = field(default_factory=list)
    shapes: list[ShapeClaim] = field(default_factory=list)  # LaTeX only: the underbraces' shapes
    errors: list[SolutionError] = field(default_factory=list)  # parts that cannot be read; the rest is graded


def _linked_folder(path) -> str | None:
    """The first folder of ``path`` as written that is a symbolic link (the folders above the
    current one, where the class is, are not the student's), or None."""
    here = os.getcwd()
    folder = os.path.dirname(os.path.abspath(path))
    while folder and folder != os.path.dirname(folder):
        if not (here == folder or here.startswith(folder.rstrip(os.sep) + os.sep)) and os.path.islink(folder):
            return folder
        folder = os.path.dirname(folder)
    return None


#: file suffixes read as LaTeX math in Markdown or in a LaTeX document (`symback.check.latex`)
MARKDOWN_SUFFIXES = (".md", ".markdown")
LATEX_SUFFIXES = (".tex", ".latex")


def load_solution(path: str | os.PathLike, model: Model, *, decimal_separator: str = ".") -> Solution:
    """Read the solution file at ``path`` for ``model``; any problem is one `SolutionError`.

    ``.md``/``.markdown`` and ``.tex`` files are hand solutions in LaTeX (`symback.check.latex`,
    where ``decimal_separator`` applies); any other file is YAML."""
    shown = str(path)
    too_big = f"the file is larger than {MAX_BYTES:,} bytes; a solution file is a few kB"
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):  # it could show another file's content in every output
            raise SolutionError("a symbolic link: a solution file must be the file itself", file=shown)
        through = _linked_folder(path)
        if through is not None:
            raise SolutionError(f"the path goes through a symbolic link ({through}): a solution file must be the "
                                "file itself, in the class's own folders", file=shown)
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device could block or never end
            raise SolutionError("not a regular file", file=shown)
        if info.st_size > MAX_BYTES:
            raise SolutionError(too_big, file=shown)
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # a device or growing file may report a small size
    except FileNotFoundError:
        raise SolutionError("no such solution file", file=shown) from None
    except OSError as e:
        raise SolutionError(f"cannot read the solution file: {e.strerror or e}", file=shown) from None
    if len(raw) > MAX_BYTES:
        raise SolutionError(too_big, file=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line_start = raw.rfind(b"\n", 0, e.start) + 1
        raise SolutionError(f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x})", file=shown,
                            line=raw.count(b"\n", 0, e.start) + 1, column=e.start - line_start + 1) from None
    suffix = os.path.splitext(shown)[1].lower()
    if suffix in MARKDOWN_SUFFIXES + LATEX_SUFFIXES:
        from .latex import parse_latex_solution  # lark's grammar is built only for LaTeX solutions

        return parse_latex_solution(text, model, file=shown, decimal_separator=decimal_separator,
                                    markdown=suffix in MARKDOWN_SUFFIXES)
    return parse_solution(text, model, file=shown)


def parse_solution(text: str, model: Model, file: str = "<solution>") -> Solution:
    """Read solution text for ``model``; ``file`` is the name used in error messages."""
    if len(text) > MAX_BYTES:
        raise SolutionError(f"the text is longer than {MAX_BYTES:,} characters", file=file)
    return _Reader(model, file).read(_compose(text, file))


# -- YAML, safely ------------------------------------------------------------------------
try:  # libyaml's parser, in C: about 9× faster than PyYAML's own
    from yaml.cyaml import CParser as _Events
except ImportError:  # PyYAML built without libyaml: its reader, scanner and parser in Python
    class _Events(Reader, Scanner, Parser):
        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.?[0-9]+(?:[eE][-+]?[0-9]+)?")


class _GuardedLoader(Composer, _Events, Resolver):
    """PyYAML's composer with the limits above, on the parser's events.  Nothing constructs
    Python objects from the nodes."""

    def resolve(self, kind, value, implicit):
        # most scalars of a solution are plain decimals: one regex instead of the resolver's many
        if kind is ScalarNode and implicit[0] and value[:1] in "0123456789.+-" and value \
                and _PLAIN_NUMBER.fullmatch(value) and "_" not in value:
            return FLOAT if ("." in value or "e" in value or "E" in value) else INT
        return super().resolve(kind, value, implicit)

    def __init__(self, stream: str):
        _Events.__init__(self, stream)
        Composer.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._count = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            raise _refused("aliases are not allowed (nor anchors such as &name): write every value out",
                           event.start_mark)
        if event.tag not in (None, "!"):  # an explicit tag: refuse it before reading what it tags
            _check_tag(event.tag, event.start_mark)
        self._count += 1
        if self._count > MAX_NODES:
            raise _refused(f"the file has more than {MAX_NODES:,} entries", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refused(f"the file is nested more than {MAX_DEPTH} levels deep", event.start_mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        _check_tag(node.tag, node.start_mark)  # implicit ones too: timestamps, merge keys (<<)
        if isinstance(node, ScalarNode) and len(node.value) > MAX_TEXT:
            raise _refused(f"a value longer than {MAX_TEXT} characters", node.start_mark)
        return node


def _check_tag(tag: str, mark: yaml.Mark) -> None:
    if tag not in ALLOWED_TAGS:
        shown = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
        raise _refused(f"the tag {shown} is not allowed: a solution file holds only numbers, text, "
                       "lists and mappings", mark)


def _refused(message: str, mark: yaml.Mark) -> SolutionError:
    return SolutionError(message, line=mark.line + 1, column=mark.column + 1)


def _compose(text: str, file: str) -> Node | None:
    try:
        loader = _GuardedLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except SolutionError as e:
        e.file = file
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = " ".join(part for part in (e.context, e.problem) if part) or "not valid YAML"
        if "nesting depth" in message:  # libyaml's own cap, met before the composer's
            raise SolutionError(f"the file is nested more than {MAX_DEPTH} levels deep", file=file,
                                line=mark and mark.line + 1, column=mark and mark.column + 1) from None
        raise SolutionError(f"YAML syntax error: {message}", file=file, line=mark and mark.line + 1,
                            column=mark and mark.column + 1) from None
    except yaml.reader.ReaderError as e:  # an unprintable character
        position = min(max(e.position, 0), len(text))
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "\0")
        raise SolutionError(f"character {character:#x} is not allowed in YAML", file=file,
                            line=line, column=column) from None
    except yaml.YAMLError as e:
        raise SolutionError(f"not valid YAML: {e}", file=file) from None


# -- the solution's structure --------------------------------------------------------------
class _Reader:
    """Walks the composed tree top-down, checking names and shapes against the model.

    A part that cannot be read is kept in ``solution.errors`` and skipped; the walk goes on."""

    def __init__(self, model: Model, file: str):
        self.model = model
        self.file = file
        nodes = model.nodes
        self.shapes = {n.name: n.shape for n in nodes if n.name}
        self.forward = [n.name for n in nodes if n.name and not n.is_leaf]
        self.deltas = [n.name for n in model.program.named_deltas]
        self.trainable = [p.name for p in model.trainable]
        # training reports a sample number whenever the model has samples(...) data
        self.per_sample = any(d.samples is not None for d in model.data)
        self.solution = Solution(file)

    def error(self, message: str, node: Node) -> SolutionError:
        mark = node.start_mark
        return SolutionError(message, file=self.file, line=mark.line + 1, column=mark.column + 1)

    def read(self, root: Node | None) -> Solution:
        if root is None or _is_null(root):  # an empty file, or only comments
            return self.solution
        if not isinstance(root, MappingNode):
            raise self.error(f"a solution file is a mapping with `epochs:` and `formulas:`, not {_kind(root)}", root)
        for key, key_node, value in self.entries(root, "the solution file"):
            with self.skipped():
                if key == "epochs":
                    self.epochs(value)
                elif key == "formulas":
                    self.formulas(value)
                elif key in METADATA:
                    if not isinstance(value, ScalarNode):
                        raise self.error(f"{key} is a line of text, not {_kind(value)}", value)
                else:
                    raise self.unknown(key, key_node, TOP_KEYS + METADATA, "a key of a solution file")
        return self.solution

    @contextmanager
    def skipped(self, where: tuple | None = None) -> Iterator[None]:
        """Keep a problem in one part of the file as an error of that part (``where``: its
        epoch, sample, section and name, as far as known), and read on."""
        try:
            yield
        except SolutionError as e:
            if where is not None and getattr(e, "where", None) is None:
                e.where = where
            self.solution.errors.append(e)

    def entries(self, node: Node, what: str) -> Iterator[tuple[str, Node, Node]]:
        """The (key text, key node, value node) pairs of a mapping; null means nothing written.
        A key written twice is an error of its own; its second value is not read."""
        if _is_null(node):
            return
        if not isinstance(node, MappingNode):
            raise self.error(f"{what} must be a mapping (key: value lines), not {_kind(node)}", node)
        first: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.solution.errors.append(self.error(f"a key in {what} must be a name, not {_kind(key)}", key))
                continue
            if key.value in first:
                self.solution.errors.append(self.error(
                    f"{key.value!r} is written twice in {what} (first on line {first[key.value]})", key))
                continue
            first[key.value] = key.start_mark.line + 1
            yield key.value, key, value

    def epochs(self, node: Node) -> None:
        first: dict[tuple[int, int | None], int] = {}
        for key, key_node, sections in self.entries(node, "epochs"):
            with self.skipped():
                epoch = self.epoch_key(key, key_node)
                if epoch in first:  # "1" and 01, say
                    raise self.error(f"epoch {key!r} is written twice (first on line {first[epoch]})", key_node)
                first[epoch] = key_node.start_mark.line + 1
                self.epoch(epoch, sections, f"epoch {key}")

    def epoch_key(self, key: str, node: Node) -> tuple[int, int | None]:
        """``1`` → (1, None); for per-sample models ``"1.2"`` → (1, 2).  The plain 1.2 is read as written."""
        n, epochs = self.model.samples, self.model.epochs
        form = f'"1.1" … "1.{n}" (epoch 1, sample 1 … {n})' if self.per_sample else "1, 2, …"
        match = _EPOCH_KEY.fullmatch(key.strip()) if node.tag in (STR, INT, FLOAT) else None
        if not match or len(key.strip()) > 12:
            raise self.error(f"{key[:40]!r} is not an epoch: write epoch keys as {form}", node)
        epoch, sample = int(match[1]), None if match[2] is None else int(match[2])
        if not 1 <= epoch <= epochs:
            plural = "" if epochs == 1 else "s"
            raise self.error(f"epoch {epoch}: the model trains for {epochs} epoch{plural}, counted from 1", node)
        if not self.per_sample:
            if sample is not None:
                raise self.error(f"{key!r}: this model has no per-sample data; write the epoch as {epoch}", node)
        elif sample is None:
            if n != 1:
                raise self.error(f"epoch {epoch}: this model updates once per sample; write the keys as "
                                 f'"{epoch}.1" … "{epoch}.{n}"', node)
            sample = 1
        elif not 1 <= sample <= n:
            raise self.error(f"sample {sample}: each epoch has {n} sample{'' if n == 1 else 's'}", node)
        return epoch, sample

    def epoch(self, key: tuple[int, int | None], node: Node, label: str) -> None:
        epoch, sample = key
        for section, section_node, names in self.entries(node, label):
            with self.skipped():
                if section not in SECTIONS:
                    raise self.unknown(section, section_node, SECTIONS, "a section")
                valid = {"forward": self.forward, "deltas": self.deltas}.get(section, self.trainable)
                for name, name_node, value in self.entries(names, section):
                    with self.skipped((epoch, sample, section, name)):
                        if name not in valid:
                            what = {"forward": "a computed quantity of the model",
                                    "deltas": "a computed quantity with a δ"}.get(section, "a trainable parameter")
                            raise self.unknown(name, name_node, valid, what)
                        for index, cell in self.cells(name, value):
                            self.solution.items.append(Item(epoch, sample, section, name, index, cell.value,
                                                            cell.start_mark.line + 1, cell.start_mark.column + 1))

    def cells(self, name: str, node: Node) -> list[tuple[tuple[int, int], ScalarNode]]:
        """The written entries of tensor ``name`` with their (row, column), checked against its shape."""
        rows, cols = self.shapes[name]
        if isinstance(node, ScalarNode):
            if _is_null(node):
                return []
            if (rows, cols) != (1, 1):
                raise self.shape_error(name, node, "a single value")
            found = [((0, 0), node)]
        elif isinstance(node, MappingNode):
            raise self.error(f"{name}: write a number or a list of rows, not a mapping", node)
        elif node.value and all(isinstance(row, SequenceNode) for row in node.value):
            lengths = [len(row.value) for row in node.value]
            if len(lengths) != rows or any(length != cols for length in lengths):
                written = (f"{len(lengths)}×{lengths[0]}" if len(set(lengths)) == 1
                           else f"{len(lengths)} rows of lengths {', '.join(map(str, lengths))}")
                hint = " (transposed?)" if (len(lengths), lengths[0]) == (cols, rows) and len(set(lengths)) == 1 \
                    and rows != cols else ""
                raise self.shape_error(name, node, written + hint)
            found = [((r, c), x) for r, row in enumerate(node.value) for c, x in enumerate(row.value)]
        elif all(isinstance(x, ScalarNode) for x in node.value):
            length = len(node.value)
            if rows == 1 and length == cols:  # a row vector written flat
                found = [((0, c), x) for c, x in enumerate(node.value)]
            elif cols == 1 and length == rows:  # a column vector written flat
                found = [((r, 0), x) for r, x in enumerate(node.value)]
            else:
                raise self.shape_error(name, node, f"a flat list of {length}")
        else:
            raise self.error(f"{name}: a list holds either rows [[…], […]] or values, not both", node)
        written = []
        for index, cell in found:
            if not isinstance(cell, ScalarNode):
                raise self.error(f"{name}: each entry must be a single value, not {_kind(cell)}", cell)
            if cell.tag == BOOL:
                raise self.error(f"{name}: {cell.value!r} is not a number", cell)
            if not _is_null(cell):
                written.append((index, cell))
        return written

    def formulas(self, node: Node) -> None:
        for name, name_node, value in self.entries(node, "formulas"):
            with self.skipped((None, None, "formulas", name)):
                if name not in self.trainable:
                    raise self.unknown(name, name_node, self.trainable, "a trainable parameter")
                if not isinstance(value, ScalarNode) or value.tag == BOOL:
                    raise self.error(f'formula for {name}: write it as text in quotes, e.g. "(out - 6) * h"', value)
                if not _is_null(value):
                    mark = value.start_mark
                    self.solution.formulas.append(Formula(name, value.value, mark.line + 1, mark.column + 1))

    def shape_error(self, name: str, node: Node, written: str) -> SolutionError:
        return self.error(shape_mismatch(name, self.shapes[name], written), node)

    def unknown(self, key: str, node: Node, valid: tuple[str, ...] | list[str], what: str) -> SolutionError:
        folded = {name.lower(): name for name in valid}  # W2 → w2
        close = difflib.get_close_matches(key.lower(), folded, n=1)
        hint = f"; did you mean {folded[close[0]]!r}?" if close else ""
        return self.error(f"{key[:60]!r} is not {what}{hint} (expected one of: {', '.join(valid)})", node)


def shape_mismatch(name: str, shape: tuple[int, int], written: str) -> str:
    """"w3 is 2×1 (a column of 2), but 1×2 (transposed?) is written": the sentence of a value written in
    another shape than its tensor's, whichever reader found it (``written`` says what was written)."""
    rows, cols = shape
    layout = ("a single value" if (rows, cols) == (1, 1) else f"a row of {cols}" if rows == 1
              else f"a column of {rows}" if cols == 1 else f"{rows} rows of {cols}")
    return f"{name} is {rows}×{cols} ({layout}), but {written} is written"


def _is_null(node: Node) -> bool:
    """``~``, ``null``, an empty value or empty quotes: not written, so not judged."""
    return isinstance(node, ScalarNode) and (node.tag == NULL or (node.tag == STR and not node.value.strip()))


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"the value {node.value!r}"
