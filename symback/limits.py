"""The sizes symback works within, stated once (the CLI's --help and the README quote them).

symback derives, verifies and trains the small networks of a backpropagation exercise exactly
(50-digit training, an elementwise SymPy check).  A model file, an option or a worksheet asked
beyond these sizes is refused with one line naming the limit, before any work starts — never a
run that hangs, exhausts memory or ends in a traceback.
"""

from __future__ import annotations

#: epochs of training (``Model(epochs=…)``, ``--epochs``); 10,000 epochs of the seed take ~3 s
MAX_EPOCHS = 10_000
#: update steps in all (epochs × samples)
MAX_STEPS = 100_000
#: worksheet variants in one run (``--variants``): one per student of a large class
MAX_VARIANTS = 500
#: entries of one tensor (a 1000×1000 matrix; the MNIST-sized layer of bench/ is 784×128)
MAX_ENTRIES = 1_000_000
#: channels of a convolution's input or output, or parts joined by ``flatten([...])``
MAX_CHANNELS = 64
#: operations in a model's graph
MAX_OPERATIONS = 2_000
#: operations on the longest path from an input to the loss (a tanh layer ``tanh(W @ h + b)`` is
#: three); deeper expressions exceed what SymPy's recursive algorithms (hashing a nested
#: expression) handle within Python's recursion limit: a 300-deep scalar tanh chain derives and
#: typesets in ~20 s, a 350-deep one fails
MAX_DEPTH = 300
#: the learning rate's range (float64 holds it, and a step of it changes something)
LR_RANGE = (1e-12, 1e6)


def size_rule() -> str:
    """The limits in one sentence, for --help and error messages."""
    return (f"at most {MAX_EPOCHS:,} epochs ({MAX_STEPS:,} update steps), {MAX_ENTRIES:,} entries per tensor, "
            f"{MAX_OPERATIONS:,} operations, {MAX_DEPTH} operations deep")
