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

Compiled programs can also outlive the process: :func:`enable_compilation_cache`
turns on JAX's persistent compilation cache, which the ``jaxdl`` command does
by default, so that rerunning an unchanged static group loads its program
from disk instead of compiling it. XLA:CPU serves these hits too (jax
0.10.2), with the options above in the cache key: a second process running
the benchmark's 64-trial sweep spends 0.16 s in XLA against the first one's
2.1 s (8%) on a 2-core CPU (``python -m benchmarks.sweep``). Tracing and
lowering, 0.6 s, happen in every process: the cache key is a hash of the
lowered program.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, Callable

import jax

__all__ = ["compiler_options", "enable_compilation_cache", "jit"]

CPU_OPTIONS = {"xla_backend_optimization_level": 1}
CACHE_VARIABLE = "JAXDL_COMPILATION_CACHE"
CACHE_OFF = ("0", "false", "no", "off")
CACHE_DEFAULT = ("", "1", "true", "yes", "on")
# JAX stores only programs that took a second or more to compile; on a fast
# machine that misses a sweep's programs. Storing every program also spares
# the small ones around them: on 2 cores, a rerun of the default `jaxdl sweep`
# spends 0.8 s compiling (from 11.4 s; 1.4 s when only programs over 0.1 s
# are stored), and its 41 entries take 1 MB.
CACHE_MIN_COMPILE_SECONDS = 0.0


def compiler_options(backend: str | None = None) -> dict[str, Any] | None:
    """The options jaxdl compiles its own programs with on ``backend`` (default: JAX's)."""
    backend = backend or jax.default_backend()
    if backend != "cpu" or "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", ""):
        return None
    return dict(CPU_OPTIONS)


def jit(fn: Callable, **kwargs) -> Callable:
    """``jax.jit(fn, **kwargs)`` with :func:`compiler_options` for the default backend."""
    return jax.jit(fn, compiler_options=compiler_options(), **kwargs)


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/jaxdl/xla``, or ``~/.cache/jaxdl/xla``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxdl", "xla")


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache in ``path``; return the folder in use, or ``None``.

    Without ``path`` the environment decides: ``JAXDL_COMPILATION_CACHE=0``
    (or ``false``, ``no``, ``off``) leaves the cache off,
    ``JAXDL_COMPILATION_CACHE=/some/dir`` puts it there, and otherwise it
    goes to :func:`default_cache_dir`. A cache the user configured for JAX
    (``JAX_COMPILATION_CACHE_DIR``, ``jax.config``) is kept as it is, and so
    is one they turned off (``JAX_ENABLE_COMPILATION_CACHE=false``). Every
    program is stored, however fast it compiled, unless
    ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise.
    If the folder cannot be created or written, the cache stays off and one
    warning line goes to standard error.

    The cache is trusted code: whoever can write to its folder can run code
    in the processes that read it, so the folder is created private (0700).
    Nothing evicts old entries; delete the folder to reclaim its space.
    """
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    if not jax.config.jax_enable_compilation_cache:
        return None
    if path is None:
        setting = os.environ.get(CACHE_VARIABLE, "").strip()
        if setting.lower() in CACHE_OFF:
            return None
        path = default_cache_dir() if setting.lower() in CACHE_DEFAULT else setting
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as error:
        print(f"jaxdl: warning: compilation cache off ({path}: {error.strerror or error})", file=sys.stderr)
        return None
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_dir", path)
    return path
