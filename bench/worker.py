"""One measurement in a fresh process (cold SymPy caches), printed as JSON lines.

    python -m bench.worker symback chain 8     # derive, verify, gradient and loss call of symback
    python -m bench.worker sympy chain 8       # plain SymPy: diff of every entry, then lambdify
    python -m bench.worker calls seed          # gradient and loss call: symback, PyTorch, SymPy
    python -m bench.worker train 10000         # training epochs: symback and a PyTorch loop
    python -m bench.worker conv symback net 28 # convolution: derive, matrix form, grad call vs PyTorch
    python -m bench.worker conv sympy tanh 8   # convolution, plain SymPy: diff of every entry, lambdify
    python -m bench.worker conv profile net 28 # convolution: the program's costly lines, its helpers alone

Kinds: ``chain DEPTH`` (3×3 tanh layers), ``loop DEPTH`` (the same chain written as a loop) and
``mlp WIDTH`` (one hidden sigmoid layer); the convolution's ``tanh SIZE`` and ``net SIZE`` (a 3×3
kernel over a SIZE×SIZE image, `models.conv_source`).  The
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


def _line_costs(model, least: float = 20e-6) -> dict:
    """The model's generated program line by line: time of the program cut after each line, so the
    difference is what that line costs in place (with the lines before it); lines costing more
    than ``least`` seconds."""
    from symback.numeric.program import FLOAT64

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
        if now - previous > least:
            out[line.strip()] = {"in place": now - previous}
        previous = now
    return out


def _mnist_profile() -> dict:
    """The MLP's generated program line by line (`_line_costs`), and each product alone."""
    import numpy as np

    import symback

    from .models import mnist_source

    with tempfile.TemporaryDirectory() as folder:
        model = symback.load(write(folder, "mnist", mnist_source()))
        out = _line_costs(model)
    args = model.compile().leaf_values()
    X, W1 = args[0], args[1]
    delta = np.random.default_rng(0).random((64, 128))
    out["alone: X.dot(W1)"] = {"alone": per_call(lambda: X.dot(W1), repeats=5)}
    out["alone: X.T.dot(delta)"] = {"alone": per_call(lambda: X.T.dot(delta), repeats=5)}
    return out


# -- convolution ---------------------------------------------------------------------------


def _conv_model(kind: str, size: int):
    import symback

    from .models import conv_source

    with tempfile.TemporaryDirectory() as folder:
        return symback.load(write(folder, f"conv_{kind}{size}", conv_source(kind, size)))


def _matrix_form(model) -> dict:
    """What the derivation holds: ∂L/∂K as derived (in the δ of the nearest named quantity) and
    closed, the largest expression among every forward definition, δ and gradient (nodes of its
    tree), how many single matrix entries (``MatrixElement``) appear in them, and the program's lines.
    A per-pixel expansion would show as entries, and as expressions of thousands of nodes (one entry
    of ∂L/∂K written out sums a product for every pixel of the feature map)."""
    import sympy as sp
    from sympy.matrices.expressions.matexpr import MatrixElement

    from symback.engine.explicit import tree_size

    d = model._derivation
    exprs = [*d.forward_defs.values(), *d.delta_defs.values()]
    for g in d.gradients.values():
        exprs += [g.formula, g.raw_closed]
    exprs = [sp.sympify(e) for e in exprs]
    k = d.gradients["K"]
    return {"formula": str(k.formula), "closed": str(k.closed), "largest": max(tree_size(e) for e in exprs),
            "entries": sum(len(e.atoms(MatrixElement)) for e in exprs),
            "lines": len(model.program.full_source.splitlines()) - 2}


def conv_symback_run(kind: str, size: int) -> None:
    """Derivation (load + derive in matrix form, then compile) of the convolution model, what it holds,
    and its gradient call against PyTorch's forward + backward of the same function at the same
    values (timed alternately), with the largest difference of their gradients and losses."""
    import os

    import numpy as np

    import symback
    from symback.numeric.program import FLOAT64  # noqa: F401  (import the numeric side before the clock)

    from . import peers
    from .models import conv_source

    threads = os.environ.get("BENCH_THREADS")
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, f"conv_{kind}{size}", conv_source(kind, size))
        started = time.perf_counter()
        model = symback.load(path)
        model._derivation  # noqa: B018  (the derivation, in matrix form)
        derived = time.perf_counter()
        compiled = model.compile()
        model.program  # noqa: B018
        done = time.perf_counter()
    _print(derive=derived - started, compile=done - derived, **_matrix_form(model))
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    grad, loss = peers.torch_conv(kind, size)
    theirs = {name: g.detach().numpy() for name, g in zip(peers.conv_params(kind), grad())}
    ours = compiled.grad()
    diff = max(float(np.max(np.abs(ours[n] - theirs[n]))) / max(float(np.max(np.abs(theirs[n]))), 1e-300)
               for n in theirs)
    loss_diff = abs(compiled.loss() - float(loss())) / abs(float(loss()))
    gc.collect()
    gc.freeze()
    try:
        ours_t, theirs_t, ratio = paired(compiled.grad, grad)
        ours_loss, theirs_loss, loss_ratio = paired(compiled.loss, loss)
    finally:
        gc.unfreeze()
    _print(grad=ours_t, torch_grad=theirs_t, ratio=ratio, loss=ours_loss, torch_loss=theirs_loss,
           loss_ratio=loss_ratio, grad_diff=diff, loss_diff=loss_diff)


def conv_sympy_run(kind: str, size: int) -> None:
    """Plain SymPy: the model built from scalars, ``diff`` by every entry (its time printed at once),
    then ``lambdify`` with and without ``cse`` and the gradient call of each (``cse`` first: without it,
    the net's gradient takes minutes to print even at 4×4)."""
    from . import peers

    started = time.perf_counter()
    loss, symbols, point = peers.sympy_conv(kind, size)
    built = time.perf_counter()
    grads = peers.sympy_derive(loss, symbols)
    _print(derive=time.perf_counter() - started, build=built - started)
    for cse in (True, False):
        started = time.perf_counter()
        grad, loss_call = peers.sympy_pair(loss, symbols, point, grads, cse=cse)
        lambdified = time.perf_counter() - started
        try:
            grad()
        except Exception as failed:  # reported: the generated NumPy code does not run
            _print(cse=cse, lambdify=lambdified, error=f"{type(failed).__name__}: {str(failed)[:100]}")
            continue
        _print(cse=cse, lambdify=lambdified, **_calls(grad, loss_call))


def conv_profile_run(kind: str, size: int) -> None:
    """Where the gradient call's time goes: the program's lines in place, and its window helpers
    alone at operands of the program's shapes."""
    import numpy as np

    from symback.numeric import program as numeric

    model = _conv_model(kind, size)
    _print(lines=_line_costs(model, least=0.0), source=model.program.full_source)
    values = dict(zip([leaf.name for leaf in model.program.leaves], model.compile().leaf_values()))
    X, K = values["X"], values["K"]
    n = size - 2
    delta = np.random.default_rng(0).normal(size=(n, n))
    A = np.maximum(np.random.default_rng(1).normal(size=(n, n)), 0.0)
    g = np.random.default_rng(2).normal(size=(n // 2, n // 2))
    alone = {f"_correlate(X, K): {size}×{size} ⋆ 3×3 (forward)": lambda: numeric._correlate(X, K, 1, 1),
             f"_correlate(X, δ): {size}×{size} ⋆ {n}×{n} (∂L/∂K)": lambda: numeric._correlate(X, delta, 1, 1)}
    if kind == "net":
        alone.update({f"_max_pool(A, 2, 2, 2, 2): {n}×{n}": lambda: numeric._max_pool(A, 2, 2, 2, 2),
                      f"_pool_route(A, δ, 2, 2, 2, 2): {n}×{n}, {(n // 2) ** 2} windows": lambda: numeric._pool_route(
                          A, g, 2, 2, 2, 2, 0.0, 0.0)})
    _print(alone={k: per_call(f, repeats=7) for k, f in alone.items()})


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
    elif command == "conv":
        {"symback": conv_symback_run, "sympy": conv_sympy_run, "profile": conv_profile_run}[sys.argv[2]](
            sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {command!r}")
