"""Progress for work that may take more than a second (issue 11): the counts reported by
verification and training (a hand count of the seed's parameters and update steps), shown on a
terminal and never elsewhere."""

from __future__ import annotations

import io

from conftest import ROOT
from rich.console import Console

import symback
from symback.cli.progress import Stages


def test_verification_and_training_report_their_counts():
    model = symback.load(ROOT / "examples" / "seed.py")
    calls = []
    model.verify(progress=lambda done, total: calls.append((done, total)))
    # the seed has six trainable parameters: the elementwise check, then one finite-difference pass each
    assert calls == [(k, 7) for k in range(1, 8)]
    calls.clear()
    model.train(progress=lambda done, total: calls.append((done, total)))
    # three epochs of one sample, run at 50 digits and in float64: six steps of work
    assert calls == [(k, 6) for k in range(1, 7)]


def test_stages_show_on_a_terminal_and_nowhere_else():
    for terminal in (True, False):
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=100)
        with Stages(console, enabled=terminal) as stages, stages.stage("verifying", total=3) as tick:
            tick(2, 3)
            stages._progress.refresh()
        assert ("verifying" in out.getvalue()) == terminal
        if terminal:
            assert "2/3" in out.getvalue()
