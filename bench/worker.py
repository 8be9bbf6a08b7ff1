"""One measurement in a fresh process (cold SymPy caches), printed as JSON lines.

    python -m bench.worker symback chain 8     # derive, verify, gradient and loss call of symback
    python -m bench.worker sympy chain 8       # plain SymPy: diff of every entry, then lambdify

Kinds: ``chain DEPTH`` (3×3 tanh layers) and ``mlp WIDTH`` (one hidden sigmoid layer).  The
SymPy worker prints its derivation time as soon as it has it, so a run stopped at the time
limit still reports how far it got.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

from .models import chain_source, mlp_source, write
from .timing import per_call


def _print(**fields) -> None:
    print(json.dumps(fields), flush=True)


def symback_run(kind: str, size: int) -> None:
    import symback

    source = chain_source(size) if kind == "chain" else mlp_source(size)
    with tempfile.TemporaryDirectory() as folder:
        path = write(folder, f"{kind}{size}", source)
        started = time.perf_counter()
        model = symback.load(path)
        model.derive()
        compiled = model.compile()
        derived = time.perf_counter()
        verification = model.verify()
        verified = time.perf_counter()
    _print(derive=derived - started, verify=verified - derived, ok=verification.ok,
           methods=sorted({c.elementwise_method for c in verification.params.values()}))
    _print(grad=per_call(compiled.grad), loss=per_call(compiled.loss))


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
        _print(cse=cse, grad=per_call(grad), loss=per_call(loss_call))


if __name__ == "__main__":
    who, kind, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"symback": symback_run, "sympy": sympy_run}[who](kind, size)
