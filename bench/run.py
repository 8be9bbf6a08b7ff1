"""Every benchmark in one run, side by side with PyTorch and plain SymPy: prints the tables and
writes ``reports/bench.md`` with its plots in ``reports/bench/``.

    make bench                    # or: python -m bench.run [--quick]
    python -m bench.run --only conv [--quick]   # one section, rewritten in place in bench.md

Each measurement runs in a fresh process (cold SymPy caches) and is the median of repeats; a
peer run is stopped at the time limit and marked.  ``--quick`` uses fewer sizes and repeats
(for trying the harness, not for the report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import grading
from .models import CONV_KINDS, ROOT
from .plot import line_chart

LIMIT = 120.0  # seconds: a peer run longer than this is stopped and marked
DEPTHS = [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32]
WIDTHS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
LOOP_DEPTHS = [4, 8, 16, 32]
CONV_SIZE = 28  # the convolution's image: CONV_SIZE × CONV_SIZE, one channel, a 3×3 kernel
CONV_PEER_SIZES = {"tanh": [4, 8, 12, 16, 28], "net": [4, 6, 28]}  # plain SymPy's series
CONV_QUICK_SIZES = {"tanh": [4, 8], "net": [4]}
OUT = ROOT / "reports"


def _env(threads: int | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads:
        env.update(BENCH_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
    return env


def worker(*args, timeout: float = 600, threads: int | None = None) -> tuple[list[dict], bool]:
    """JSON lines of ``python -m bench.worker ARGS``; True when stopped at ``timeout``."""
    command = [sys.executable, "-m", "bench.worker", *map(str, args)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(threads), cwd=ROOT)
    except subprocess.TimeoutExpired as stopped:
        out = stopped.stdout.decode() if isinstance(stopped.stdout, bytes) else (stopped.stdout or "")
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")], True
    if done.returncode != 0:
        sys.exit(f"bench worker {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")], False


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the measurements ---------------------------------------------------------------------


def derivation(kind: str, sizes: list[int], repeats: int, peer: bool = True) -> list[dict]:
    """symback (derive; derive + verify; gradient and loss call) and plain SymPy at each size."""
    rows, peer_stopped = [], None if peer else "not asked"
    for size in sizes:
        runs = [worker("symback", kind, size)[0] for _ in range(repeats)]
        first = [r[0] for r in runs]
        calls = [r[1] for r in runs]
        row = {"size": size, "derive": _median(first, "derive"),
               "verified": _median([{"t": r["derive"] + r["verify"]} for r in first], "t"),
               "ok": all(r["ok"] for r in first), "methods": first[0]["methods"],
               "grad": _median(calls, "grad"), "loss": _median(calls, "loss"), "ratio": _median(calls, "ratio")}
        if peer_stopped is not None:
            row["sympy"] = None
            row["sympy_note"] = "not run" if not peer else f"not run (stopped at {peer_stopped})"
        else:
            peer_runs = []
            for _ in range(repeats):
                lines, stopped = worker("sympy", kind, size, timeout=LIMIT)
                if stopped and not lines:
                    peer_stopped = f"{kind} {size}"
                    row["sympy"], row["sympy_note"] = None, f"> {LIMIT:.0f} s (stopped)"
                    break
                peer_runs.append(lines)
                if lines[0]["derive"] > 10:  # long runs: one repeat is enough
                    break
            if peer_runs:
                row["sympy"] = statistics.median(r[0]["derive"] for r in peer_runs)
                for lines in peer_runs[:1]:
                    for line in lines[1:]:
                        row["sympy_cse" if line["cse"] else "sympy_plain"] = (line["grad"], line["loss"],
                                                                              line["ratio"])
        rows.append(row)
        log(f"  {kind} {size}: symback {row['derive']:.3f} s (+verify {row['verified']:.3f} s), "
            f"sympy {row['sympy'] if row.get('sympy') is not None else row.get('sympy_note')}")
    return rows


def calls(repeats: int) -> dict:
    out = {}
    for name in ("seed", "chain8", "mnist"):
        for threads in (None, 1):
            runs = [worker("calls", name, threads=threads)[0] for _ in range(repeats)]
            by_who = {}
            for who in [r["who"] for r in runs[0]]:
                rows = [next(x for x in r if x["who"] == who) for r in runs]
                by_who[who] = (_median(rows, "grad"), _median(rows, "loss"))
            out[(name, threads)] = by_who
            log(f"  {name} threads={threads or 'default'}: "
                + ", ".join(f"{w} {g * 1e6:.1f} µs" for w, (g, _) in by_who.items()))
    return out


def end_to_end(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        def timed(command: list[str], count: int) -> float:
            times = []
            for _ in range(count):
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, cwd=folder, env=_env())
                times.append(time.perf_counter() - started)
                if done.returncode not in (0,):
                    sys.exit(f"{' '.join(command)} failed:\n{done.stderr.decode()[-2000:]}")
            return statistics.median(times)

        seed = str(ROOT / "examples" / "seed.py")
        derive = [sys.executable, "-m", "symback", "derive", seed, "--out", str(Path(folder) / "r")]
        script = Path(folder) / "gradcheck_seed.py"
        script.write_text(GRADCHECK)
        return {"derive": timed([*derive, "--no-pdf"], repeats),
                "derive_pdf": timed([*derive, "--pdf"], max(1, repeats // 2)) if _has_tex() else None,
                "gradcheck": timed([sys.executable, str(script)], repeats)}


def loop_end_to_end(repeats: int, depth: int = 12, width: int = 4) -> dict:
    """``symback derive`` (every report, the PDF included) of a ``depth``-layer network of ``width`` units
    written as a loop and written out with names, and PyTorch's import + gradcheck of the same network."""
    from .models import layers_gradcheck, layers_source

    with tempfile.TemporaryDirectory() as folder:
        def timed(command: list[str]) -> float:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, cwd=folder, env=_env())
                times.append(time.perf_counter() - started)
                if done.returncode != 0:
                    sys.exit(f"{' '.join(command)} failed:\n{done.stderr.decode()[-2000:]}")
            return statistics.median(times)

        out = {"depth": depth, "width": width, "pdf": _has_tex()}
        for how in ("loop", "named"):
            path = Path(folder) / f"{how}.py"
            path.write_text(layers_source(depth, width, loop=how == "loop"))
            derive = [sys.executable, "-m", "symback", "derive", str(path), "--out", str(Path(folder) / how)]
            out[how] = timed([*derive, "--pdf" if out["pdf"] else "--no-pdf"])
            out[f"{how}_no_pdf"] = timed([*derive, "--no-pdf"])
        script = Path(folder) / "gradcheck.py"
        script.write_text(layers_gradcheck(depth, width))
        out["gradcheck"] = timed([sys.executable, str(script)])
    return out


def loops_section(loops: list[dict], named: list[dict], e2e: dict) -> tuple[list[str], list[tuple]]:
    """Section 7: the depth series written as loops beside the named chains, and the end-to-end loop."""
    by_size = {r["size"]: r for r in named}
    lines = [LOOPS_BEGIN, "## 7. Networks written as loops", "",
             f"Measured {time.strftime('%Y-%m-%d', time.gmtime())}. The chains of section 1 (the same values) written as people write a deep network: one variable "
             "reassigned in a loop, `h = tanh(W @ h)`, the layers unnamed (symback numbers them h1, h2, …, "
             "W1, W2, …), beside the same chains written out with a name per layer, in the same run.", "",
             "| depth | loop: derive | loop: derive + verify | named: derive + verify | loop / named |",
             "|---:|---:|---:|---:|---:|"]
    for r in loops:
        n = by_size.get(r["size"])
        lines.append(f"| {r['size']} | {_s(r['derive'])} | {_s(r['verified'])} | "
                     f"{_s(n['verified']) if n else '—'} | {_x(r['verified'], n['verified']) if n else '—'} |")
    pdf = "every report and the PDF" if e2e["pdf"] else "every report (no TeX engine: no PDF)"
    lines += ["", f"End to end, whole processes: `symback derive` of {e2e['depth']} tanh layers of {e2e['width']} "
              f"units with biases, 2 epochs — derive, verify three ways, train, write {pdf} — written as a loop and "
              "written out with names, against a script that imports PyTorch and runs one `gradcheck` of the "
              "same network:", "",
              "| command | time | / named | / PyTorch |", "|---|---:|---:|---:|",
              f"| `symback derive` loop ({'PDF' if e2e['pdf'] else 'no PDF'}) | {_s(e2e['loop'])} | "
              f"{_x(e2e['loop'], e2e['named'])} | {_x(e2e['loop'], e2e['gradcheck'])} |",
              f"| `symback derive` named ({'PDF' if e2e['pdf'] else 'no PDF'}) | {_s(e2e['named'])} | 1.0× | "
              f"{_x(e2e['named'], e2e['gradcheck'])} |",
              f"| `symback derive --no-pdf` loop | {_s(e2e['loop_no_pdf'])} | "
              f"{_x(e2e['loop_no_pdf'], e2e['named_no_pdf'])} | {_x(e2e['loop_no_pdf'], e2e['gradcheck'])} |",
              f"| `python gradcheck.py` (PyTorch import + gradcheck) | {_s(e2e['gradcheck'])} | | 1.0× |", ""]
    deepest = loops[-1]
    targets = [(f"A depth-{deepest['size']} 3×3 chain written as a loop derives in under 5 s",
                f"{_s(deepest['derive'])} (+ verify {_s(deepest['verified'])})",
                deepest["size"] >= 32 and deepest["derive"] < 5),
               (f"A {e2e['depth']}-layer {e2e['width']}×{e2e['width']} loop: {pdf} in under 30 s",
                _s(e2e["loop"]), e2e["loop"] < 30)]
    lines += ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets]
    lines += ["", LOOPS_END]
    return lines, targets


LOOPS_BEGIN, LOOPS_END = "<!-- loops: python -m bench.run --only loops rewrites this section -->", "<!-- /loops -->"


def splice(text: str, section: list[str], markers: tuple[str, str] = (LOOPS_BEGIN, LOOPS_END)) -> str:
    """``text`` (a bench.md) with the section between ``markers`` (the loops section's by default)
    replaced by ``section``, which starts and ends with them (added before the last part if it has none)."""
    block = "\n".join(section)
    begin, end = markers
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        return before + block + rest.split(end, 1)[1]
    head, marker, tail = text.partition("## Where targets are missed")
    return head + block + "\n\n" + marker + tail if marker else text + "\n" + block + "\n"


# -- section 8: convolution -----------------------------------------------------------------


CONV_BEGIN, CONV_END = "<!-- conv: python -m bench.run --only conv rewrites this section -->", "<!-- /conv -->"
CONV_CALLS = ("grad", "torch_grad", "ratio", "loss", "torch_loss", "loss_ratio")


def _conv_symback(kind: str, size: int, repeats: int, threads: int | None = None) -> dict:
    """Median derivation and call times of ``repeats`` fresh processes (`worker.conv_symback_run`); what
    the derivation holds from the first; the largest difference from PyTorch over all of them."""
    runs = [worker("conv", "symback", kind, size, threads=threads)[0] for _ in range(repeats)]
    first, calls = [r[0] for r in runs], [r[1] for r in runs]
    return {**first[0], "derive": _median(first, "derive"), "compile": _median(first, "compile"),
            **{k: _median(calls, k) for k in CONV_CALLS},
            "grad_diff": max(c["grad_diff"] for c in calls), "loss_diff": max(c["loss_diff"] for c in calls)}


def _revision() -> str:
    """The symback measured: the commit, and whether symback/ has changes not committed."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"`{commit}`" + (" with uncommitted changes to `symback/`" if git("status", "--porcelain", "symback") else "")


def conv(repeats: int, quick: bool = False) -> dict:
    """The convolution models at CONV_SIZE: symback's derivation and gradient call beside PyTorch's
    (default threads and one), plain SymPy's elementwise derivation at growing sizes (stopped at the
    time limit, larger sizes then not run), and where symback's gradient call spends its time."""
    out = {"calls": {}, "series": {}, "profile": {}, "load": os.getloadavg()[0], "revision": _revision()}
    for kind in CONV_KINDS:
        for threads in (None, 1):
            row = out["calls"][(kind, threads)] = _conv_symback(kind, CONV_SIZE, repeats, threads)
            log(f"  conv {kind} {CONV_SIZE} threads={threads or 'default'}: derive {_s(row['derive'])}, "
                f"grad {_s(row['grad'])} vs PyTorch {_s(row['torch_grad'])} ({row['ratio']:.2f}×), "
                f"∂L/∂K = {row['formula']}")
        series, stopped = [], None
        for size in (CONV_QUICK_SIZES if quick else CONV_PEER_SIZES)[kind]:
            ours = out["calls"][(kind, None)] if size == CONV_SIZE else _conv_symback(kind, size, repeats)
            row = {"size": size, "derive": ours["derive"], "grad": ours["grad"], "torch_grad": ours["torch_grad"],
                   "sympy": None, "lambdify": {}}
            if stopped:
                row["sympy_note"] = f"not run (stopped at {stopped})"
            for _ in range(0 if stopped else repeats):
                lines, cut = worker("conv", "sympy", kind, size, timeout=LIMIT)
                if not lines:
                    stopped, row["sympy_note"] = f"size {size}", f"> {LIMIT:.0f} s (stopped)"
                    break
                row.setdefault("sympy_runs", []).append(lines[0]["derive"])
                for line in lines[1:]:
                    row["lambdify"].setdefault(line["cse"], line)
                if cut or lines[0]["derive"] > 10:  # long runs: one repeat is enough
                    break
            if row.get("sympy_runs"):
                row["sympy"] = statistics.median(row.pop("sympy_runs"))
            series.append(row)
            log(f"  conv {kind} {size}: symback {_s(row['derive'])}, sympy "
                f"{_s(row['sympy']) if row['sympy'] is not None else row['sympy_note']}")
        out["series"][kind] = series
        out["profile"][kind] = {k: v for line in worker("conv", "profile", kind, CONV_SIZE)[0] for k, v in line.items()}
    return out


def _lambdified(row: dict, cse: bool) -> str:
    line = row["lambdify"].get(cse)
    if line is None:
        return "—" if row["sympy"] is None else "stopped at the limit"
    if "error" in line:
        return f"fails: `{line['error'].split(':')[0]}`"
    return _s(line["grad"])


def conv_section(c: dict) -> tuple[list[str], list[tuple]]:
    """Section 8 of bench.md and its targets, from `conv`'s measurements."""
    n, size = CONV_SIZE - 2, CONV_SIZE
    tanh, net = c["calls"][("tanh", None)], c["calls"][("net", None)]
    lines = [CONV_BEGIN, "## 8. Convolution", "",
             f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {machine()}; symback at revision "
             f"{c['revision']}. One {size}×{size} single-channel "
             f"image and a 3×3 kernel (stride 1, no padding), written as model files (`bench/models.py`, "
             "`conv_source`):", "",
             f"* **tanh**: `Z = conv2d(X, K)`, `loss = mse(tanh(Z), Y)` against a {n}×{n} target;",
             f"* **net** (MNIST-like): `Z = conv2d(X, K) + c`, relu, `max_pool2d(·, 2)` to {n // 2}×{n // 2}, "
             f"`flatten`, a dense layer {(n // 2) ** 2}×10 with bias, `cross_entropy` against a one-hot row.", "",
             "PyTorch runs the same function with `torch.nn.functional` (`conv2d` of a 1×1×H×W batch, "
             "`max_pool2d`, `mse_loss`, `cross_entropy`) at float64, from the same numbers. Every figure is the "
             "median of fresh processes; symback's and PyTorch's calls are timed alternately in one process. "
             f"The machine's load average when the section started: {c['load']:.1f} (other work on it slows "
             "PyTorch's default threads most: its OpenMP pool waits for a busy core).", "",
             "**Derivation.** *derive*: load the model file and derive every gradient in matrix form "
             "(`model._derivation`); *compile*: generate and compile its NumPy program. *largest expression*: "
             "the most nodes in any forward definition, δ or gradient of the derivation; *entries*: single "
             "matrix entries (`MatrixElement`) in them — a per-pixel expansion would show as entries and as "
             f"expressions of thousands of nodes (one entry of ∂L/∂K written out sums {n * n} products).", "",
             "| model | derive | compile | ∂L/∂K as derived | closed form | largest expression | entries | "
             "program lines |", "|---|---:|---:|---|---|---:|---:|---:|"]
    for kind in CONV_KINDS:
        r = c["calls"][(kind, None)]
        lines.append(f"| {kind} | {_s(r['derive'])} | {_s(r['compile'])} | `{r['formula']}` | `{r['closed']}` | "
                     f"{r['largest']} nodes | {r['entries']} | {r['lines']} |")
    lines += ["", "**Gradient call.** One call computing every parameter's gradient (forward and backward) at the "
              "model's values: symback's `model.compile().grad()` against PyTorch's forward + `backward()`; "
              "the loss call (forward only; PyTorch under `no_grad`) beside it. *agree*: the largest difference "
              "of the two gradients relative to the largest PyTorch entry of each parameter, and of the losses. "
              "*1 thread*: OpenBLAS, OpenMP and PyTorch limited to one thread.", "",
              "| model | threads | symback grad | PyTorch grad | symback / PyTorch | symback loss | PyTorch loss | "
              "symback / PyTorch | agree (gradients, loss) |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (kind, threads), r in c["calls"].items():
        lines.append(f"| {kind} | {threads or 'default'} | {_s(r['grad'])} | {_s(r['torch_grad'])} | "
                     f"**{r['ratio']:.2f}×** | {_s(r['loss'])} | {_s(r['torch_loss'])} | {r['loss_ratio']:.2f}× | "
                     f"{r['grad_diff']:.1e}, {r['loss_diff']:.1e} |")
    lines += ["", "**Plain SymPy.** The same models built from SymPy scalars (each feature-map entry the sum of "
              "nine products, the pool a `Max`, relu `Max(0, ·)`, cross-entropy as log-sum-exp minus the target's "
              "logit; image and targets numbers), then `diff` by every parameter entry (the time includes "
              "building the expression) and `lambdify` of the gradient (NumPy), with and without `cse=True`; "
              f"at growing image sizes, stopped at {LIMIT:.0f} s, a larger size then not run. symback at the "
              "same sizes beside it (default threads).", "",
              "| model | image | symback derive | plain SymPy `diff` | SymPy / symback | symback grad | "
              "SymPy lambdify grad | SymPy lambdify, cse | PyTorch grad |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, series in c["series"].items():
        for r in series:
            peer = _s(r["sympy"]) if r["sympy"] is not None else r["sympy_note"]
            ratio = _x(r["sympy"], r["derive"]) if r["sympy"] is not None else "—"
            lines.append(f"| {kind} | {r['size']}×{r['size']} | {_s(r['derive'])} | {peer} | {ratio} | "
                         f"{_s(r['grad'])} | {_lambdified(r, False)} | {_lambdified(r, True)} | "
                         f"{_s(r['torch_grad'])} |")
    errors = {line["error"] for series in c["series"].values() for r in series for line in r["lambdify"].values()
              if "error" in line}
    if errors:
        lines += ["", "*fails*: the lambdified gradient raises when called — " + "; ".join(
            f"`{e}`" for e in sorted(errors)) + " (the derivative of `Max` is a `Heaviside` of `Max`, which "
            "`lambdify` prints as `select` calls nested in `select`'s conditions)."]
    lines += ["", f"**Where the gradient call's time goes** ({size}×{size}, default threads). Each line of the "
              "generated program (`model.program.full_source`), timed in place (the program cut after each "
              "line: what the line adds), and the window helpers of `symback/numeric/program.py` alone at "
              "operands of the program's shapes:", ""]
    for kind in CONV_KINDS:
        prof = c["profile"][kind]
        total = sum(t["in place"] for t in prof["lines"].values())
        costly = [(line, t["in place"]) for line, t in prof["lines"].items() if t["in place"] >= 0.05 * total]
        lines += [f"| {kind}: line | in place | share |", "|---|---:|---:|"]
        lines += [f"| `{line}` | {_s(t)} | {t / total:.0%} |" for line, t in costly]
        lines += [f"| the whole program | {_s(total)} | |", ""]
    lines += ["| helper alone | time |", "|---|---:|"]
    helpers = {**c["profile"]["tanh"]["alone"], **c["profile"].get("net", {}).get("alone", {})}
    lines += [f"| `{k.split(': ', 1)[0]}`: {k.split(': ', 1)[1]} | {_s(t)} |" for k, t in helpers.items()]
    lines += [""]
    matrix = all(r["formula"] == "Correlate(X, delta_Z, 1, 1)" and r["entries"] == 0 and r["largest"] < 100
                 for r in (tanh, net))
    agree = all(r["grad_diff"] <= 1e-12 and r["loss_diff"] <= 1e-12 for r in c["calls"].values())
    targets = [(f"A {size}×{size} ⋆ 3×3 conv derives in matrix form (no per-pixel expansion)",
                f"∂L/∂K = `{tanh['formula']}`; largest expression {max(tanh['largest'], net['largest'])} nodes, "
                f"{tanh['entries'] + net['entries']} single entries", matrix),
               (f"… and well under a second (≤ 0.5 s, {size}×{size} tanh and net)",
                f"{_s(tanh['derive'])} (tanh), {_s(net['derive'])} (net); + compile {_s(tanh['compile'])}, "
                f"{_s(net['compile'])}", max(tanh["derive"], net["derive"]) <= 0.5)]
    for (kind, threads), r in c["calls"].items():
        how = "1 thread" if threads == 1 else "default threads"
        targets.append((f"{size}×{size} conv {kind}: gradient call within 2× of PyTorch's ({how})",
                        f"symback {_s(r['grad'])}, PyTorch {_s(r['torch_grad'])}: {r['ratio']:.2f}× PyTorch's time",
                        r["ratio"] <= 2))
    worst = max(max(r["grad_diff"], r["loss_diff"]) for r in c["calls"].values())
    targets.append(("Same gradients and loss as PyTorch to 1e-12", f"largest relative difference {worst:.1e}", agree))
    lines += ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets]
    lines += ["", CONV_END]
    return lines, targets


GRADCHECK = '''\
import torch

def loss(w1, b1, w2, b2, w3, b3):
    x = torch.tensor([[2.0], [3.0]], dtype=torch.float64)
    h = torch.tanh(b1 + x.T @ w1)
    out = b3 + w3.T @ x + torch.relu(h @ w2.T + b2)
    return ((out - 6) ** 2 / 2).sum()

values = [[[1.3, -0.13, 0.0], [0.2, -1.3, 0.03]], [[0.0, 0.01, 1.3]], [[1.35, -0.5, 0.03]], [[0.1]], [[-0.3], [1.0]],
          [[0.1]]]
params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
assert torch.autograd.gradcheck(loss, params)
'''


def _has_tex() -> bool:
    import shutil

    return shutil.which("latexmk") is not None


def training(epochs: int, repeats: int) -> dict:
    runs = [worker("train", epochs)[0][0] for _ in range(repeats)]
    return {"symback": _median(runs, "symback"), "pytorch": _median(runs, "pytorch"),
            "same_loss": abs(runs[0]["symback_loss"] - runs[0]["pytorch_loss"]) <= 1e-12 * abs(runs[0]["pytorch_loss"]),
            "loss": runs[0]["symback_loss"]}


# -- the report ---------------------------------------------------------------------------


def machine() -> str:
    import numpy
    import sympy

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}, NumPy {numpy.__version__}, SymPy {sympy.__version__}, "
            f"PyTorch {torch_version}")


def _s(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t * 1e6:.1f} µs" if t < 1e-3 else (f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s")


def _x(a: float, b: float) -> str:
    return f"{a / b:.1f}×"


def report(depth, width, call_times, e2e, train, grading_times, long, files, ops, started,
           loops=None, convolution=None) -> tuple[str, list[tuple]]:
    lines = ["# Benchmarks", "",
             f"Generated by `make bench` on {time.strftime('%Y-%m-%d', time.gmtime())}; "
             f"the whole run took {(time.time() - started) / 60:.0f} minutes.", "",
             f"**Machine**: {machine()}.", "",
             "Every figure is the median of repeats, each in a fresh process; PyTorch runs in float64, its loss "
             "calls under `torch.no_grad()`; plain SymPy is `diff` of the elementwise scalar loss by every entry, "
             f"then `lambdify` (with and without `cse=True`). A peer run is stopped at {LIMIT:.0f} s.", ""]
    targets = []

    # 1. derivation vs depth and width
    lines += ["## 1. Derivation time", "",
              "Tanh chains of 3×3 layers, mean squared error. *derive*: load the model file, derive every gradient "
              "in matrix form, compile it; *+ verify*: also the three checks (SymPy elementwise, finite "
              "differences). Plain SymPy: the elementwise gradient, nothing checked.", "",
              "| depth | symback derive | symback derive + verify | elementwise check | plain SymPy `diff` | SymPy / symback |",
              "|---:|---:|---:|---|---:|---:|"]
    for r in depth:
        peer = _s(r["sympy"]) if r.get("sympy") is not None else r["sympy_note"]
        ratio = _x(r["sympy"], r["derive"]) if r.get("sympy") is not None else "—"
        lines.append(f"| {r['size']} | {_s(r['derive'])} | {_s(r['verified'])} | {', '.join(r['methods'])} | "
                     f"{peer} | {ratio} |")
    lines += ["", "![derivation time against depth](bench/depth.svg)", ""]
    last = depth[-1]
    targets.append(("Depth 32 derives and verifies in under 5 s", f"{_s(last['verified'])} (depth {last['size']})",
                    last["size"] == 32 and last["verified"] < 5))
    per_layer = [r["derive"] / r["size"] for r in depth if r["size"] >= 4]
    linear = max(per_layer) / min(per_layer)
    targets.append(("Derivation time grows linearly with depth",
                    f"time per layer from depth 4 to 32 varies by {linear:.1f}×", linear < 3))

    lines += ["One hidden layer of sigmoid units (float64 values), 2 inputs, 2 outputs.", "",
              "| width | symback derive | symback derive + verify | elementwise check | plain SymPy `diff` |",
              "|---:|---:|---:|---|---:|"]
    for r in width:
        peer = _s(r["sympy"]) if r.get("sympy") is not None else r["sympy_note"]
        lines.append(f"| {r['size']} | {_s(r['derive'])} | {_s(r['verified'])} | {', '.join(r['methods'])} | {peer} |")
    lines += ["", "![derivation time against width](bench/width.svg)", ""]
    spread = max(r["derive"] for r in width) / min(r["derive"] for r in width)
    targets.append(("MLP derivation time does not depend on the width",
                    f"{_s(min(r['derive'] for r in width))} to {_s(max(r['derive'] for r in width))} "
                    f"from width {width[0]['size']} to {width[-1]['size']}", spread < 2))

    # 2. gradient calls
    lines += ["## 2. Gradient call", "",
              "One call computing every parameter's gradient (forward and backward) at the model's values: "
              "symback's `model.compile().grad()`, PyTorch autograd (`backward()`), SymPy's lambdified "
              "elementwise gradient. *1 thread*: OpenBLAS, OpenMP and PyTorch limited to one thread.", "",
              "| model | threads | symback | PyTorch | SymPy lambdify | SymPy lambdify, cse | PyTorch / symback |",
              "|---|---|---:|---:|---:|---:|---:|"]
    names = {"seed": "seed exercise", "chain8": "depth-8 tanh chain", "mnist": "MLP 784-128-10, batch 64"}
    for (name, threads), by in call_times.items():
        ours, torch_ = by["symback"][0], by["pytorch"][0]
        plain = _s(by["sympy"][0]) if "sympy" in by else "derivation infeasible"
        cse = _s(by["sympy cse"][0]) if "sympy cse" in by else "—"
        lines.append(f"| {names[name]} | {threads or 'default'} | {_s(ours)} | {_s(torch_)} | {plain} | {cse} | "
                     f"{_x(torch_, ours)} |")
    seed = call_times[("seed", None)]
    targets.append(("Seed gradient call at least 5× faster than PyTorch",
                    f"{_x(seed['pytorch'][0], seed['symback'][0])} faster ({_s(seed['symback'][0])} vs "
                    f"{_s(seed['pytorch'][0])})", seed["pytorch"][0] / seed["symback"][0] >= 5))
    for threads in (None, 1):
        m = call_times[("mnist", threads)]
        targets.append((f"MLP 784-128-10 within 1.2× of PyTorch ({threads or 'default'} threads)",
                        f"symback {_s(m['symback'][0])}, PyTorch {_s(m['pytorch'][0])}: "
                        f"{m['symback'][0] / m['pytorch'][0]:.2f}× PyTorch's time",
                        m["symback"][0] <= 1.2 * m["pytorch"][0]))

    # 3. cheap-gradient ratio
    lines += ["", "## 3. Cheap-gradient ratio", "",
              "Gradient call time / loss call time, per depth (symback's loss call is its forward program); "
              "the ratio is the median of gradient and loss batches timed alternately.", "",
              "| depth | symback grad | symback loss | symback ratio | SymPy ratio | SymPy ratio, cse |",
              "|---:|---:|---:|---:|---:|---:|"]
    for r in depth:
        plain = f"{r['sympy_plain'][2]:.1f}" if "sympy_plain" in r else "—"
        cse = f"{r['sympy_cse'][2]:.1f}" if "sympy_cse" in r else "—"
        lines.append(f"| {r['size']} | {_s(r['grad'])} | {_s(r['loss'])} | {r['ratio']:.2f} | "
                     f"{plain} | {cse} |")
    lines += ["", "![gradient/loss ratio against depth](bench/ratio.svg)", ""]
    worst = max(depth, key=lambda r: r["ratio"])
    targets.append(("Gradient / loss cost at most 3 at every depth",
                    f"worst {worst['ratio']:.2f} (depth {worst['size']})", all(r["ratio"] <= 3 for r in depth)))

    # 4. end to end, 5. training, 6. grading
    lines += ["## 4. End to end", "",
              "Whole processes, cold (a fresh interpreter each time): `symback derive` of the seed exercise "
              "(derive, verify three ways, train 3 epochs, write Markdown, LaTeX and JSON; with `--pdf` also "
              "typeset the PDF) against a script that imports PyTorch and runs one `gradcheck` on the same model.",
              "", "| command | time |", "|---|---:|",
              f"| `symback derive` (no PDF) | {_s(e2e['derive'])} |",
              f"| `symback derive --pdf` | {_s(e2e['derive_pdf']) if e2e['derive_pdf'] else 'no TeX engine'} |",
              f"| `python gradcheck_seed.py` (PyTorch) | {_s(e2e['gradcheck'])} |", ""]
    targets.append(("`symback derive` of the seed (no PDF) under 1.5 s", _s(e2e["derive"]), e2e["derive"] < 1.5))

    lines += ["## 5. Training", "",
              "10,000 epochs of plain gradient descent on the 2-2-2 sigmoid example (lr 0.5): symback's "
              "`model.train()` (the first steps also at 50 digits, for the report) against a PyTorch loop "
              "(`backward()`, in-place update under `no_grad`).", "",
              "| | time | final loss |", "|---|---:|---:|",
              f"| symback | {_s(train['symback'])} | {train['loss']:.10g} |",
              f"| PyTorch | {_s(train['pytorch'])} | {'same' if train['same_loss'] else 'DIFFERENT'} |", ""]
    targets.append(("10,000 epochs of the 2-2-2 example faster than PyTorch",
                    f"{_s(train['symback'])} vs {_s(train['pytorch'])} ({_x(train['pytorch'], train['symback'])} "
                    "faster)" if train["symback"] < train["pytorch"] else
                    f"{_s(train['symback'])} vs {_s(train['pytorch'])}", train["symback"] < train["pytorch"]))

    varied, halves, hostile = (statistics.median(grading_times[c]["now"]) for c in ("varied", "halves", "hostile"))
    before = statistics.median(grading_times["halves"]["before"])
    lines += ["## 6. Grading", "",
              f"Classes of {files:,} hand solutions of the seed exercise through one `symback check` process on all "
              f"{os.cpu_count()} cores, every value judged and every wrong one diagnosed, beside the checker before "
              f"the redesign of issue 10 (revision `{grading.BASELINE}`, which judged only the first steps of a "
              "run) on the same files in the same run:", "",
              "| class | symback check | before | |", "|---|---:|---:|---:|",
              f"| varied: every value of three epochs, right to 3–5 digits, truncated, with a slip, or the classic "
              f"mistakes carried through | **{varied:.1f} s** | cannot read δ | |",
              f"| half the bundled correct solution, half the one with mistakes (the earlier benchmark) | "
              f"**{halves:.1f} s** | {before:.1f} s | {before / halves:.1f}× faster |",
              f"| the varied class with {grading.HANGING} files whose formula would hang the grader (each stopped "
              f"at its budget, 'could not decide') | **{hostile:.1f} s** | hung | {hostile / varied:.2f}× the "
              "varied class |", "",
              f"A {grading.LONG_EPOCHS}-epoch solution file of the seed, every value written ({long['values']:,} "
              f"values): **{long['alone']:.2f} s** to grade (the true training replayed at 50 digits included), "
              f"{long['process']:.2f} s as a whole `symback check` process.", ""]
    targets.append((f"{files:,} solution files graded in ≤ 10 s on 2 cores", f"{varied:.1f} s (varied), "
                    f"{halves:.1f} s (halves); the previous checker: {before:.1f} s", max(varied, halves) <= 10))
    targets.append((f"a {grading.LONG_EPOCHS}-epoch solution file graded in ≤ 1 s", f"{long['alone']:.2f} s "
                    f"({long['process']:.2f} s with the process start)", long["alone"] <= 1))

    if loops is not None:
        section, loop_targets = loops_section(loops["rows"], depth, loops["e2e"])
        lines += section + [""]
        targets += loop_targets

    if convolution is not None:
        section, conv_targets = conv_section(convolution)
        lines += section + [""]
        targets += conv_targets

    layer = ops["layer"]
    forward = sum(t for k, t in layer.items() if k.startswith("forward"))
    backward = sum(t for k, t in layer.items() if k.startswith("backward"))
    lines += ["## Where targets are missed, and why", "",
              "**Gradient / loss ratio.** On a 3×3 tanh layer every NumPy call costs about the same, a few "
              "hundred nanoseconds of dispatch, whatever it computes. The loss needs two calls per layer, the "
              "gradient those two and five more (tanh′ = 1 − h⊙h and its product with δ, δ's product with Wᵀ, "
              "and the weight gradient δ hᵀ), so the ratio tends to 7/2 with depth whatever the code generator "
              "does; symback already emits exactly these calls (no helper calls, constants computed once, "
              "`ndarray.dot`, a third of `@`'s overhead). Measured per call:", "",
              "| call | time |", "|---|---:|"]
    lines += [f"| {k} | {_s(t)} |" for k, t in layer.items()]
    lines += ["", f"Per layer: forward {_s(forward)}, gradient {_s(forward + backward)}: a ratio of "
              f"{(forward + backward) / forward:.2f} per layer. Going under 3 needs fused calls (a compiled "
              "kernel per layer), which NumPy alone does not give.", "",
              "**MLP with default threads.** NumPy's OpenBLAS uses both cores; the program's costly lines, "
              "timed in place (the program cut after each line) and alone:", "",
              "| line | in place | alone |", "|---|---:|---:|"]
    for line, t in ops["mnist"].items():
        lines.append(f"| `{line}` | {_s(t.get('in place'))} | {_s(t.get('alone'))} |")
    lines += ["", "The weight gradient Xᵀ δ costs several times more inside the program than alone, which "
              "PyTorch's OpenMP pool does not suffer; with one thread for both libraries there is no such "
              "loss and symback is faster than PyTorch (section 2). The work is the same BLAS work.", ""]

    head = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    head += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets]
    head.append("")
    body = lines[:8] + head + lines[8:]
    return "\n".join(body) + "\n", targets


def plots(depth, width) -> dict[str, str]:
    def peer(rows):
        return [(r["size"], r["sympy"]) for r in rows if r.get("sympy") is not None]

    return {
        "depth.svg": line_chart("Derivation time against depth (3×3 tanh layers)", "depth", "seconds", {
            "symback derive": [(r["size"], r["derive"]) for r in depth],
            "symback + verify": [(r["size"], r["verified"]) for r in depth],
            "plain SymPy diff": peer(depth)}, limit=LIMIT, limit_label=f"{LIMIT:.0f} s: peer stopped"),
        "width.svg": line_chart("Derivation time against width (one hidden layer)", "width", "seconds", {
            "symback derive": [(r["size"], r["derive"]) for r in width],
            "symback + verify": [(r["size"], r["verified"]) for r in width],
            "plain SymPy diff": peer(width)}, limit=LIMIT, limit_label=f"{LIMIT:.0f} s: peer stopped"),
        "ratio.svg": line_chart("Gradient call / loss call", "depth", "ratio", {
            "symback": [(r["size"], r["ratio"]) for r in depth],
            "SymPy lambdify": [(r["size"], r["sympy_plain"][2]) for r in depth if "sympy_plain" in r],
            "SymPy lambdify, cse": [(r["size"], r["sympy_cse"][2]) for r in depth if "sympy_cse" in r]}, limit=3, limit_label="target: 3"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats: try the harness")
    parser.add_argument("--out", type=Path, default=OUT, help="where bench.md and bench/ are written")
    parser.add_argument("--only", choices=["loops", "conv"],
                        help="measure one series and rewrite its section of bench.md")
    args = parser.parse_args()
    started = time.time()
    repeats = 1 if args.quick else 3
    depths = [1, 2, 4, 8, 32] if args.quick else DEPTHS
    if args.only == "conv":
        log(f"8. convolution ({CONV_SIZE}×{CONV_SIZE} ⋆ 3×3)")
        section, targets = conv_section(conv(repeats, args.quick))
        path = args.out / "bench.md"
        path.write_text(splice(path.read_text() if path.exists() else "# Benchmarks\n", section,
                               (CONV_BEGIN, CONV_END)))
        for t, m, ok in targets:
            print(f"{'yes' if ok else 'NO '}  {t}: {m}")
        print(f"wrote {path}")
        return
    if args.only == "loops":
        log("7. networks written as loops (and the named chains beside them)")
        named = derivation("chain", LOOP_DEPTHS, repeats, peer=False)
        loops = {"rows": derivation("loop", LOOP_DEPTHS, repeats, peer=False), "e2e": loop_end_to_end(repeats)}
        section, targets = loops_section(loops["rows"], named, loops["e2e"])
        path = args.out / "bench.md"
        path.write_text(splice(path.read_text() if path.exists() else "# Benchmarks\n", section))
        for t, m, ok in targets:
            print(f"{'yes' if ok else 'NO '}  {t}: {m}")
        print(f"wrote {path}")
        return
    widths = [2, 64, 1024] if args.quick else WIDTHS
    files = 100 if args.quick else 1000
    log("1. derivation time against depth")
    depth = derivation("chain", depths, repeats)
    log("   … and against width")
    width = derivation("mlp", widths, repeats)
    log("2. gradient calls")
    call_times = calls(repeats)
    log("4. end to end")
    e2e = end_to_end(5 if not args.quick else 1)
    log("   … written as loops")
    loops = {"rows": derivation("loop", LOOP_DEPTHS, repeats, peer=False), "e2e": loop_end_to_end(repeats)}
    log("5. training")
    train = training(10_000, repeats)
    log("6. grading")
    grading_times = grading.time_grading(files, repeats)
    long = grading.time_long_file(repeats)
    log("   the profiles behind the missed targets")
    ops = {k: v for line in worker("ops")[0] for k, v in line.items()}
    log("8. convolution")
    convolution = conv(repeats, args.quick)
    text, targets = report(depth, width, call_times, e2e, train, grading_times, long, files, ops, started, loops,
                           convolution)
    (args.out / "bench").mkdir(parents=True, exist_ok=True)
    for name, svg in plots(depth, width).items():
        (args.out / "bench" / name).write_text(svg)
    (args.out / "bench.md").write_text(text)
    width_t = max(len(t) for t, _, _ in targets)
    print(f"{'target':<{width_t}}  met  measured")
    for t, m, ok in targets:
        print(f"{t:<{width_t}}  {'yes' if ok else 'NO ':<3}  {m}")
    print(f"wrote {args.out / 'bench.md'}")


if __name__ == "__main__":
    main()
