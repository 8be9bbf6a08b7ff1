"""Every sentence a rule says is set by pdflatex as written: no character shown as its code point."""

import pytest

from symback.engine.rules import RULES
from symback.report.render import tex


def _sentences():
    for rule in RULES.values():
        for says in rule.says:
            if isinstance(says, str):
                yield rule.name, says


@pytest.mark.parametrize(("rule", "sentence"), sorted(set(_sentences())))
def test_a_rules_sentence_is_typeset_without_code_points(rule, sentence):
    assert "[U+" not in tex(sentence), (rule, tex(sentence))


def test_the_new_symbols_are_math():
    assert tex("X ⋆ δ") == r"X $\star$ $\delta$"
    assert tex("x̂ ⊙ mean(δ ⊙ x̂)") == r"$\hat{x}$ $\odot$ mean($\delta$ $\odot$ $\hat{x}$)"


def test_a_sentence_opening_with_a_symbol_keeps_it():
    from symback.report.render import sentence

    assert sentence("δ went to the whole window") == "δ went to the whole window"
    assert sentence("the update went uphill") == "The update went uphill"
