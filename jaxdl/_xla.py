"""How jaxdl compiles the programs it owns (the sweep engine's, the CLI's).

A user's own ``jax.jit`` is theirs to configure; the programs jaxdl builds
and compiles itself may carry XLA options chosen for them.

On XLA:CPU a training run spends its time in the matrix products, which
call into libraries (Eigen, YNNPACK) that LLVM's optimisation level does not
touch, while LLVM's ``-O2`` pipeline is most of the compile time. Compiling at
``xla_backend_optimization_level=1`` roughly halves the compile time of a
run (1.6 s instead of 3.1 s for the benchmark's 64-trial sweep on a 2-core
CPU) and leaves the run time as it was, or shortens it (``python -m
benchmarks.sweep``). The arithmetic is the same; only the order in which
LLVM vectorises some reductions may differ. An MLP trains bit for bit as at
the default level, and only its evaluation losses, sums over the evaluated
examples, may differ in the last bit (``tests/test_xla.py``). Batch
normalisation's statistics are such sums too, so a CNN with batch norm
starts to differ by one rounding and drifts as far as any two runs with
different rounding do.

Other backends keep XLA's defaults, and so does a user who sets the level
in ``XLA_FLAGS``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import jax

__all__ = ["compiler_options", "jit"]

CPU_OPTIONS = {"xla_backend_optimization_level": 1}


def compiler_options(backend: str | None = None) -> dict[str, Any] | None:
    """The options jaxdl compiles its own programs with on ``backend`` (default: JAX's)."""
    backend = backend or jax.default_backend()
    if backend != "cpu" or "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", ""):
        return None
    return dict(CPU_OPTIONS)


def jit(fn: Callable, **kwargs) -> Callable:
    """``jax.jit(fn, **kwargs)`` with :func:`compiler_options` for the default backend."""
    return jax.jit(fn, compiler_options=compiler_options(), **kwargs)
