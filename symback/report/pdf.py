"""LaTeX to PDF through a real TeX engine.

The engine (``latexmk`` by default, or ``pdflatex``/``lualatex``/``xelatex``) runs in a
temporary folder with stdin closed, non-interactively, with a time limit and
``SOURCE_DATE_EPOCH`` fixed so the same ``.tex`` gives the same PDF.  Without an engine,
`TexMissingError` says how to install one; when TeX fails, `TexError` carries the part
of the log that says why.  A document in a right-to-left language (``--lang fa``) needs XeLaTeX
(xepersian): ``latexmk -xelatex``, or ``xelatex`` itself; xdvipdfmx honours ``SOURCE_DATE_EPOCH``
too, so its PDFs are as reproducible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import OptionError, SymbackError, TexMissingError

DEFAULT_ENGINE = "latexmk"
ENGINES = ("latexmk", "pdflatex", "lualatex", "xelatex")
#: seconds a TeX run may take
TIMEOUT = 180
INSTALL_HINT = ("install TeX to get PDFs, e.g. `apt-get install latexmk texlive-latex-recommended "
                "texlive-pictures texlive-fonts-recommended lmodern`")
#: what a right-to-left (Persian) document needs beyond that
RTL_INSTALL_HINT = ("install XeLaTeX and Persian to get Persian PDFs, e.g. `apt-get install latexmk texlive-xetex "
                    "texlive-lang-arabic fonts-farsiweb`")


class TexError(SymbackError):
    """TeX ran and failed; the message carries the relevant lines of the log."""

    exit_code = 3

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def engine_path(engine: str = DEFAULT_ENGINE, rtl: bool = False) -> str | None:
    """The engine's executable, or None when it (or, for a right-to-left document, XeLaTeX) is not installed."""
    if rtl and shutil.which("xelatex") is None:
        return None
    return shutil.which(engine)


def check_engine(engine: str, rtl: bool = False) -> None:
    """`OptionError` for an engine that is not one of ENGINES, or that cannot set a right-to-left document."""
    if engine not in ENGINES:
        raise OptionError(f"--tex-engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if rtl and engine not in ("latexmk", "xelatex"):
        raise OptionError(f"a Persian document needs XeLaTeX: --tex-engine latexmk or xelatex, not {engine}")


def compile_pdf(tex_source: str, engine: str = DEFAULT_ENGINE, name: str = "document", rtl: bool = False) -> bytes:
    """The PDF of ``tex_source``; `TexMissingError` without the engine, `TexError` when TeX fails.
    ``rtl``: the document is right to left (xepersian), typeset with XeLaTeX."""
    check_engine(engine, rtl)
    executable = engine_path(engine, rtl)
    if executable is None:
        hint = RTL_INSTALL_HINT if rtl else INSTALL_HINT
        raise TexMissingError(f"no TeX engine found ({'xelatex' if rtl else engine} is not on PATH): {hint}")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1", "TEXINPUTS": ".:"}
    with tempfile.TemporaryDirectory(prefix="symback-tex-") as folder:
        work = Path(folder)
        (work / f"{name}.tex").write_text(tex_source, encoding="utf-8")
        if engine == "latexmk":
            runs = [[executable, "-xelatex" if rtl else "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                     "-file-line-error", f"{name}.tex"]]
        else:  # twice, for the references a single pass leaves unresolved
            run = [executable, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", f"{name}.tex"]
            runs = [run, run]
        for command in runs:
            try:
                done = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=env, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise TexError(f"{engine} did not finish within {TIMEOUT} s") from None
            if done.returncode != 0:
                log_file = work / f"{name}.log"
                log = log_file.read_text(errors="replace") if log_file.exists() else done.stdout.decode(errors="replace")
                raise TexError(f"{engine} failed: {log_excerpt(log)}", log)
        return (work / f"{name}.pdf").read_bytes()


def log_excerpt(log: str, context: int = 3) -> str:
    """The first TeX error of a log (``! …`` or ``file:line: …``) with the lines that locate it."""
    lines = log.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("!") or (":" in line and line.split(":")[1].strip().isdigit() and ".tex:" in line):
            excerpt = [line.strip()]
            for following in lines[k + 1 : k + 1 + context]:
                if not following.strip():
                    break
                excerpt.append(following.strip())
            return " | ".join(excerpt)
    tail = [s.strip() for s in lines[-context:] if s.strip()]
    return " | ".join(tail) or "no log"
