"""Documents in the class's language: message catalogs, and the language of the document being made.

The English text of the templates and of the sentences symback builds is the message id; a
catalog per language (``symback/locale/<lang>/LC_MESSAGES/symback.po``, text, kept up to date
with ``make messages``) gives its translation.  The ``.po`` is compiled in memory when first
used (Babel's ``read_po`` and ``write_mo``), so no binary ``.mo`` is kept beside it.

A document is made inside ``with using(Language("fa")):``.  The language lives in a context
variable, not a global: each thread starts in English and a worker process sets its own, so
two documents in two languages can be made at the same time.  Python code writes
``_("text %(n)s", n=...)`` (`gettext`) and `ngettext`; the templates get the same functions
through Jinja2's i18n extension (``render.environment``).  Terminal output, JSON and
``result.json`` are for programs and stay English.

>>> with using(Language("fa")):
...     gettext("Model")
'مدل'
"""

from __future__ import annotations

import ast
import contextvars
import gettext as _gettext
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from .errors import OptionError

DOMAIN = "symback"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: languages a document can be written in (English is the catalogs' source language)
LANGUAGES = ("en", "fa")
#: languages written right to left
RTL = ("fa",)
#: how digits are written in prose (math keeps Latin digits)
DIGIT_STYLES = ("latin", "persian")
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang``, compiled once per process; English is the identity."""
    if lang not in LANGUAGES:
        raise OptionError(f"--lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    if lang == "en":
        return _gettext.NullTranslations()
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with open(path, "rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy (unchecked) translation is not used
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Language:
    """The language of a document and how its prose writes digits."""

    code: str = "en"
    digits: str = "latin"

    def __post_init__(self):
        if self.code not in LANGUAGES:
            raise OptionError(f"--lang must be one of {', '.join(LANGUAGES)}, not {self.code!r}")
        if self.digits not in DIGIT_STYLES:
            raise OptionError(f"--digits-style must be one of {', '.join(DIGIT_STYLES)}, not {self.digits!r}")
        if self.digits == "persian" and self.code != "fa":
            raise OptionError("--digits-style persian needs --lang fa")

    @property
    def rtl(self) -> bool:
        return self.code in RTL

    def message(self, message: str) -> str:
        """``message`` translated, not yet filled in; the digits a translation writes in its prose
        (``50 significant digits``) in the prose's digits.  What the templates' ``_`` calls."""
        return self.num(translations(self.code).gettext(message))

    def messages(self, singular: str, plural: str, n: int) -> str:
        """The form of a message for ``n``, translated, not yet filled in.  The templates' ``ngettext``."""
        return self.num(translations(self.code).ngettext(singular, plural, n))

    def formula(self, message: str) -> str:
        """A sentence that writes formulas in words (a derivative rule's): translated, its digits kept
        (a `Message`'s values too: ``relu′(0)``'s 1)."""
        if isinstance(message, Message):
            text = translations(self.code).gettext(message.msgid)
            return text % self._shown(message.variables) if message.variables else text
        return translations(self.code).gettext(message)

    def gettext(self, message: str, **variables) -> str:
        """``message`` translated, then filled with ``variables`` (``%(name)s``) when any are given;
        a variable that is a `Message` is shown translated too."""
        text = self.message(message)
        return text % self._shown(variables) if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables) -> str:
        """The singular or plural form for ``n``, translated; ``%(num)s`` is ``n`` in the prose's digits."""
        return self.messages(singular, plural, n) % {"num": self.num(n), **self._shown(variables)}

    def shown(self, text):
        """What a document shows for ``text``: a `Message` translated and filled in (a count or an epoch,
        an ``int``, in the prose's digits; a value or a name as it is); anything else as it is."""
        if not isinstance(text, Message):
            return text
        translated = self.message(text.msgid)
        if not text.variables:
            return translated
        return translated % {k: self.num(v) if isinstance(v, int) and not isinstance(v, bool) else v
                             for k, v in self._shown(text.variables).items()}

    def _shown(self, variables: dict) -> dict:
        return {k: self.shown(v) if isinstance(v, Message) else v for k, v in variables.items()}

    def num(self, value) -> str:
        """A number of the prose (an epoch, a count), in the prose's digits: 12 or ۱۲."""
        text = str(value)
        return text.translate(_PERSIAN_DIGITS) if self.digits == "persian" else text


ENGLISH = Language()
_current: contextvars.ContextVar[Language] = contextvars.ContextVar("symback_language", default=ENGLISH)


@contextmanager
def using(language: Language):
    """Make the documents of this block in ``language`` (this thread or task only)."""
    token = _current.set(language)
    try:
        yield language
    finally:
        _current.reset(token)


def current() -> Language:
    """The language of the document being made (English outside `using`)."""
    return _current.get()


def gettext(message: str, **variables) -> str:
    """``message`` in the current document's language (see `Language.gettext`)."""
    return _current.get().gettext(message, **variables)


_ = gettext


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    """The form for ``n`` in the current document's language (see `Language.ngettext`)."""
    return _current.get().ngettext(singular, plural, n, **variables)


def formula(message: str) -> str:
    """A sentence with formulas in words in the current document's language (see `Language.formula`)."""
    return _current.get().formula(message)


class Message(str):
    """A sentence symback builds from values where no document is being made (a training note, a rule's
    sentence with a node's settings, why a check was skipped): as a ``str`` it is the English sentence —
    what ``result.json``, JSON and the terminal show — and it keeps its message id and values, so that a
    document shows it in the document's language (`Language.shown`).

    >>> note = N_("relu inactive (%(value)s)", value="z = -0.5 < 0")
    >>> note, Language("fa").shown(note)
    ('relu inactive (z = -0.5 < 0)', 'relu غیرفعال است (z = -0.5 < 0)')
    """

    def __new__(cls, msgid: str, **variables):
        self = super().__new__(cls, msgid % _english(variables) if variables else msgid)
        self.msgid, self.variables = msgid, variables
        return self

    def __reduce__(self):  # pickled (a check worker's history) as id and values, not as the English alone
        return _message, (self.msgid, self.variables)


def _message(msgid: str, variables: dict) -> Message:
    return Message(msgid, **variables)


def _english(variables: dict) -> dict:
    return {k: str(v) if isinstance(v, Message) else v for k, v in variables.items()}


def N_(message: str, **variables):  # noqa: N802 (gettext's name for it)
    """Mark ``message`` for the catalog where it is defined; it is translated where it is used.  With
    ``variables``, a `Message`: the English sentence filled in, shown translated by a document."""
    return Message(message, **variables) if variables else message


def num(value) -> str:
    """A number of the prose in the current document's digits."""
    return _current.get().num(value)


def shown(text):
    """``text`` as the current document shows it (see `Language.shown`)."""
    return _current.get().shown(text)


#: the catalogues of sentences kept as data, not as gettext calls: the derivative rules' (the string
#: arguments of these calls after the operation's name) and the mistakes' (these dictionaries' values)
_SENTENCE_CALLS = ("defrule", "_elementwise")
_SENTENCE_TABLES = ("TITLES", "MESSAGES")


def extract_sentences(fileobj, keywords, comment_tags, options):
    """A Babel extractor for ``engine/rules.py`` and ``check/mistakes.py``: the sentence each rule says
    (``N_("…", α=…)`` where it is built with the node's settings) and each catalogued mistake's title and
    message, read from the syntax tree, never run.  They are
    translated where a document shows them (``document._rules``, ``check/feedback.py``)."""
    tree = ast.parse(fileobj.read())
    for node in ast.walk(tree):
        strings = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SENTENCE_CALLS:
            strings = node.args[1:]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "N_":
            strings = node.args[:1]  # a sentence built with a node's settings (relu′ at 0)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and \
                any(isinstance(t, ast.Name) and t.id in _SENTENCE_TABLES for t in node.targets):
            strings = node.value.values
        for arg in strings:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield arg.lineno, None, arg.value, []  # (no gettext keyword: the string as it is)


_PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)[sd]|(?<![\\\w])\{[A-Za-z_]\w*\}")  # {x}, not a TeX group \\emph{x}


def placeholders(text: str) -> list[str]:
    """The ``%(name)s`` and ``{name}`` placeholders of a message, sorted (a translation keeps them all)."""
    return sorted(_PLACEHOLDER.findall(text))
