"""LaTeX to PDF through a real TeX engine.

The engine (``latexmk`` by default, or ``pdflatex``/``lualatex``/``xelatex``) runs in a
temporary folder with stdin closed, non-interactively, with a time limit and
``SOURCE_DATE_EPOCH`` fixed so the same ``.tex`` gives the same PDF.  Without an engine,
`TexMissingError` says how to install one; when TeX fails, `TexError` carries the part
of the log that says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import SymbackError, TexMissingError

DEFAULT_ENGINE = "latexmk"
ENGINES = ("latexmk", "pdflatex", "lualatex", "xelatex")
#: seconds a TeX run may take
TIMEOUT = 180
INSTALL_HINT = ("install TeX to get PDFs, e.g. `apt-get install latexmk texlive-latex-recommended "
                "texlive-pictures texlive-fonts-recommended lmodern`")


class TexError(SymbackError):
    """TeX ran and failed; the message carries the relevant lines of the log."""

    exit_code = 3

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def engine_path(engine: str = DEFAULT_ENGINE) -> str | None:
    """The engine's executable, or None when it is not installed."""
    return shutil.which(engine)


def compile_pdf(tex_source: str, engine: str = DEFAULT_ENGINE, name: str = "document") -> bytes:
    """The PDF of ``tex_source``; `TexMissingError` without the engine, `TexError` when TeX fails."""
    if engine not in ENGINES:
        raise SymbackError(f"--tex-engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    executable = engine_path(engine)
    if executable is None:
        raise TexMissingError(f"no TeX engine found ({engine} is not on PATH): {INSTALL_HINT}")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1", "TEXINPUTS": ".:"}
    with tempfile.TemporaryDirectory(prefix="symback-tex-") as folder:
        work = Path(folder)
        (work / f"{name}.tex").write_text(tex_source, encoding="utf-8")
        if engine == "latexmk":
            runs = [[executable, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                     f"{name}.tex"]]
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
