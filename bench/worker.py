"""One measurement in a fresh process (cold SymPy caches), printed as JSON lines.

    python -m bench.worker symback chain 8     # derive, verify, gradient and loss call of symback
    python -m bench.worker sympy chain 8       # plain SymPy: diff of every entry, then lambdify
    python -m bench.worker calls seed          # gradient and loss call: symback, PyTorch, SymPy
    python -m bench.worker train 10000         # training epochs: symback and a PyTorch loop

Kinds: ``chain DEPTH`` (3×3 tanh layers), ``loop DEPTH`` (the same chain written as a loop) and
``mlp WIDTH`` (one hidden sigmoid layer).  The
SymPy worker prints its derivation time as soon as it has it, so a run stopped at the time
limit still reports how far it got.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time

from .models import chain_source, loop_source, mlp_source, write
from .timing import paired, per_call


def _print(**fields) -> None:
    print(json.dumps(fields), flush=True)


def symback_run(kind: str, size: int) -> None:
    import symback

    source = {"chain": chain_source, "loop": loop_source, "mlp": mlp_source}[kind](size)
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, f"{kind}{size}", source)
        started = time.perf_counter()
        model = symback.load(path)
        model.derive()
        compiled = model.compile()
        derived = time.perf_counter()
        calls = _calls(compiled.grad, compiled.loss)
        started_verify = time.perf_counter()
        verification = model.verify()
        verified = time.perf_counter()
    _print(derive=derived - started, verify=verified - started_verify, ok=verification.ok,
           methods=sorted({c.elementwise_method for c in verification.params.values()}))
    _print(**calls)


def _calls(grad, loss) -> dict:
    """Call times with the derivation's objects out of the garbage collector's way (as in a fresh
    process that only loads the compiled function): the same treatment for every peer."""
    gc.collect()
    gc.freeze()
    try:
        g, f, ratio = paired(grad, loss)
        return {"grad": g, "loss": f, "ratio": ratio}
    finally:
        gc.unfreeze()


def sympy_run(kind: str, size: int) -> None:
    from . import peers

    started = time.perf_counter()
    if kind == "chain":
        loss, symbols, point = peers.sympy_chain(size)
    else:
        loss, symbols = peers.sympy_mlp(size)
        point = None
    grads = peers.sympy_derive(loss, symbols)
    _print(derive=time.perf_counter() - started)
    if point is None:
        return
    for cse in (False, True):
        grad, loss_call = peers.sympy_pair(loss, symbols, point, grads, cse=cse)
        _print(cse=cse, **_calls(grad, loss_call))


def calls_run(name: str) -> None:
    """Gradient and loss call of one model: symback, PyTorch, and plain SymPy where it can."""
    import os

    import symback

    from . import peers
    from .models import ROOT, mnist_source

    threads = os.environ.get("BENCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    with tempfile.TemporaryDirectory() as folder:
        source = {"seed": None, "chain8": chain_source(8), "mnist": mnist_source()}[name]
        path = ROOT / "examples" / "seed.py" if source is None else write(folder, name, source)
        compiled = symback.load(path).compile()
    _print(who="symback", **_calls(compiled.grad, compiled.loss))
    grad, loss = {"seed": peers.torch_seed, "chain8": lambda: peers.torch_chain(8), "mnist": peers.torch_mnist}[name]()
    _print(who="pytorch", **_calls(grad, loss))
    if name == "seed":
        loss_expr, symbols, point = peers.sympy_seed()
        grads = peers.sympy_derive(loss_expr, symbols)
        for cse in (False, True):
            grad, loss = peers.sympy_pair(loss_expr, symbols, point, grads, cse=cse)
            _print(who=f"sympy{' cse' if cse else ''}", **_calls(grad, loss))


def train_run(epochs: int) -> None:
    """``epochs`` epochs of the 2-2-2 sigmoid example: symback's training and a PyTorch loop."""
    import symback

    from . import peers
    from .models import ROOT

    model = symback.load(ROOT / "examples" / "sigmoid_222.py")
    model.compile()  # derived and compiled before the clock starts, as for PyTorch's model code
    started = time.perf_counter()
    history = model.train(epochs=epochs)
    ours = time.perf_counter() - started
    peers.torch_train_222(10)  # import and warm up outside the clock
    started = time.perf_counter()
    final = peers.torch_train_222(epochs)
    theirs = time.perf_counter() - started
    _print(symback=ours, pytorch=theirs, symback_loss=history.losses[-1], pytorch_loss=final)


def ops_run() -> None:
    """Why targets are missed: the cost of each NumPy call of a tanh layer on its 3×3 operands,
    and the MLP program's costly lines, in place and alone."""
    import numpy as np

    rng = np.random.default_rng(0)
    W, h, g, ones = rng.random((3, 3)), rng.random((3, 1)), rng.random((3, 1)), np.ones((3, 1))
    layer = {"forward: W.dot(h)": lambda: W.dot(h), "forward: tanh(u)": lambda: np.tanh(h),
             "backward: h * h": lambda: h * h, "backward: 1 - h²": lambda: ones - h,
             "backward: g * (1 - h²)": lambda: g * h, "backward: W.T.dot(g)": lambda: W.T.dot(g),
             "backward: g.dot(h.T)": lambda: g.dot(h.T)}
    _print(layer={k: per_call(f) for k, f in layer.items()})
    _print(mnist=_mnist_profile())


def _mnist_profile() -> dict:
    """The MLP's generated program line by line: time of the program cut after each line, so the
    difference is what that line costs in place (with the lines before it), and each product alone."""
    import numpy as np

    import symback
    from symback.numeric.program import FLOAT64

    from .models import mnist_source

    with tempfile.TemporaryDirectory() as folder:
        model = symback.load(write(folder, "mnist", mnist_source()))
        program = model.program
    function = program._full[FLOAT64]
    args = model.compile().leaf_values()
    head, *lines = program.full_source.splitlines()[:-1]
    out, previous = {}, 0.0
    for k, line in enumerate(lines, start=1):
        target = line.split("=")[0].strip()
        namespace = dict(function.__globals__)
        exec("\n".join([head, *lines[:k], f"    return {target}"]), namespace)  # the bench's own generated code
        cut = namespace["_lambdifygenerated"]
        now = per_call(lambda cut=cut: cut(*args), repeats=5)
        if now - previous > 20e-6:
            out[line.strip()] = {"in place": now - previous}
        previous = now
    X, W1 = args[0], args[1]
    delta = np.random.default_rng(0).random((64, 128))
    out["alone: X.dot(W1)"] = {"alone": per_call(lambda: X.dot(W1), repeats=5)}
    out["alone: X.T.dot(delta)"] = {"alone": per_call(lambda: X.T.dot(delta), repeats=5)}
    return out


if __name__ == "__main__":
    command = sys.argv[1]
    if command in ("symback", "sympy"):
        {"symback": symback_run, "sympy": sympy_run}[command](sys.argv[2], int(sys.argv[3]))
    elif command == "calls":
        calls_run(sys.argv[2])
    elif command == "ops":
        ops_run()
    elif command == "train":
        train_run(int(sys.argv[2]))
    else:
        sys.exit(f"unknown command {command!r}")
