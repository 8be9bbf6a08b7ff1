"""Expanding matrix expressions to explicit SymPy matrices of scalars.

Used only by the elementwise oracle (``verify.py``) and for showing ∂L/∂w_ij of small
tensors.  Evaluation is one assignment at a time over explicit operand matrices, so no
entry is ever recomputed through a chain of nested products.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import MatrixExpr


def explicit(e, env: dict) -> sp.ImmutableMatrix:
    """``e`` with every matrix symbol replaced from ``env``, as an explicit matrix."""
    if isinstance(e, sp.MatrixBase):
        return sp.ImmutableMatrix(e)
    if e in env:
        return env[e]
    if isinstance(e, sp.MatrixSymbol):
        raise KeyError(f"no value for {e.name}")
    if isinstance(e, sp.MatMul):
        coeff, matrices = e.as_coeff_matrices()
        result = explicit(matrices[0], env)
        for m in matrices[1:]:
            result = result * explicit(m, env)
        return sp.ImmutableMatrix(result * coeff) if coeff != 1 else sp.ImmutableMatrix(result)
    if isinstance(e, sp.MatAdd):
        terms = [explicit(a, env) for a in e.args]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return sp.ImmutableMatrix(total)
    if isinstance(e, sp.HadamardProduct):
        factors = [explicit(a, env) for a in e.args]
        product = factors[0]
        for f in factors[1:]:
            product = product.multiply_elementwise(f)
        return sp.ImmutableMatrix(product)
    if isinstance(e, sp.HadamardPower):
        return sp.ImmutableMatrix(explicit(e.base, env).applyfunc(lambda v: v**e.exp))
    if isinstance(e, sp.Transpose):
        return sp.ImmutableMatrix(explicit(e.arg, env).T)
    if isinstance(e, (sp.Identity, sp.OneMatrix, sp.ZeroMatrix)):
        return sp.ImmutableMatrix(e.as_explicit())
    # symback's own classes: rebuild over explicit operands, then read off the entries
    rebuilt = e.func(*[explicit(a, env) if isinstance(a, MatrixExpr) else a for a in e.args])
    rows, cols = (int(n) for n in e.shape)
    return sp.ImmutableMatrix(rows, cols, lambda i, j: rebuilt._entry(i, j))


def tree_size(e, _memo=None) -> int:
    """Number of nodes of ``e`` as a tree (what ``diff`` walks), counted over the shared DAG."""
    memo = {} if _memo is None else _memo
    stack = [(e, False)]
    while stack:
        node, done = stack.pop()
        if node in memo:
            continue
        if done or not node.args:
            memo[node] = 1 + sum(memo[a] for a in node.args)
            continue
        stack.append((node, True))
        stack.extend((a, False) for a in node.args if a not in memo)
    return memo[e]


def entry_size(e, env: dict, _memo=None) -> int:
    """An upper bound on the tree size of one entry of ``explicit(e, env)``, without expanding it.

    A matrix product sums its inner dimension's products, so the entries of a chain of products
    grow geometrically with its length; this measures that before any entry is built (the
    reports' entry-by-entry forms of a deep chain took minutes to expand and were never shown).
    ``env`` maps a symbol to the size of its entries (any other value: 1).
    """
    from .expr import ALL, Reduce

    memo = {} if _memo is None else _memo
    if e in memo:
        return memo[e]
    if e in env:
        size = env[e] if isinstance(env[e], int) else 1
    elif isinstance(e, (sp.MatrixSymbol, sp.Identity, sp.OneMatrix, sp.ZeroMatrix)) or not e.args:
        size = 1
    elif isinstance(e, Reduce):
        rows, cols = (int(n) for n in e.arg.shape)
        count = {0: rows, 1: cols, ALL: rows * cols}[e.axis]
        size = count * (entry_size(e.arg, env, memo) + 1)
    elif isinstance(e, sp.MatrixBase):
        size = max((tree_size(v) for v in e), default=1)
    elif hasattr(e, "entry_terms"):  # windows.py, normalisation: each entry reads many operand entries
        size = e.entry_terms() * (1 + sum(entry_size(a, env, memo) for a in e.args if isinstance(a, sp.MatrixExpr)))
    elif isinstance(e, sp.MatMul):
        _, matrices = e.as_coeff_matrices()
        size = entry_size(matrices[0], env, memo)
        for m in matrices[1:]:
            inner = int(m.shape[0])
            size = inner * (size + entry_size(m, env, memo) + 1)
        size += 1
    else:
        size = 1 + sum(entry_size(a, env, memo) for a in e.args if isinstance(a, sp.Basic))
    memo[e] = size
    return size
