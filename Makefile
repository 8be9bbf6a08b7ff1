# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TEX_PACKAGES := latexmk texlive-latex-recommended texlive-pictures texlive-fonts-recommended lmodern poppler-utils \
	texlive-xetex texlive-lang-arabic fonts-farsiweb

.PHONY: demo test install install-test tex lint reports bench messages clean

demo: install  ## install into .venv and derive the bundled seed exercise
	$(BIN)/symback derive

test: install-test tex  ## install everything the tests need and run them
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]' 'torch==2.13.0'
	touch $@

tex:  ## TeX Live from Debian, for PDF reports, and XeLaTeX, xepersian and a Persian font for --lang fa (skipped where apt-get is unavailable)
	@{ command -v latexmk && command -v pdftotext && command -v xelatex && kpsewhich xepersian.sty \
	   && fc-list | grep -q Nazli; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES) >/dev/null; \
	  else echo "note: TeX not installed (needs root and apt-get); PDF tests are skipped"; fi; }

reports: install  ## regenerate reports/<example>/ for every bundled example
	@for f in examples/*.py; do \
	  echo "reports/$$(basename $$f .py)"; \
	  $(BIN)/symback derive $$f --out reports/$$(basename $$f .py) >/dev/null || exit 1; \
	done

bench: install-test tex  ## every benchmark side by side with PyTorch and plain SymPy: reports/bench.md (~15 min)
	$(BIN)/python -m bench.run

messages: install  ## extract the documents' messages into symback/locale/symback.pot and merge them into each language's .po
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project symback --version 0.1.0 \
	  -o symback/locale/symback.pot .
	$(BIN)/pybabel update -i symback/locale/symback.pot -d symback/locale -D symback --no-fuzzy-matching --ignore-obsolete

lint: install-test
	$(BIN)/ruff check symback tests bench

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
