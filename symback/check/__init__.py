"""Hand solutions: reading them, parsing values and formulas, replaying training in the author's
world, diagnosing mistakes, grading.

``symback.check`` is both this package and the function of SPEC §6 —
``symback.check(model, "solution.yaml")`` — so the package is made callable (a module's
``__class__`` may be a `types.ModuleType` subclass); calling it calls `grade.check`.
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, model, *paths):
        """Grade hand solutions: ``symback.check(m, "solution.yaml")`` → a `FileResult`."""
        from .grade import check

        return check(model, *paths)


sys.modules[__name__].__class__ = _CallablePackage
