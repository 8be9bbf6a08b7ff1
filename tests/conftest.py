import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def rng():
    return random.Random(1234)


@pytest.fixture(scope="module")
def seed():
    """The bundled seed exercise, loaded once per test module."""
    import symback

    return symback.load(EXAMPLES / "seed.py")


@pytest.fixture(scope="module")
def checker(seed):
    """A grader of the seed exercise, compiled once per test module."""
    from symback.check.grade import Checker

    return Checker(seed)


#: relu(w x + b) with w x + b exactly 0 at the start (x = 2, w = 0.5, b = −1); out = 3, and by
#: hand ∂L/∂w = (out − 5)(relu′(0) x + 3x) = −2 (2 relu′(0) + 6): −12 when relu′(0) = 0, −16 when 1
RELU_AT_ITS_KINK = """\
from symback import Model, data, param, relu
x = data([[2]])
w = param([[0.5]])
b = param(-1)
out = relu(w @ x + b) + 3 * (w @ x)
loss = (out - 5) ** 2 / 2
model = Model(loss, lr=0.1, epochs=1, relu_grad_at_zero={convention})
"""


def position(text, needle, occurrence=0):
    """The 1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``, found by plain search —
    independently of any reader whose positions a test checks."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    return line, start - (text.rfind("\n", 0, start) + 1) + 1
