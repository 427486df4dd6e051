"""Shared test setup.

The suite compiles hundreds of tiny programs, so compilation, not running,
dominates its time. LLVM's optimisation of XLA:CPU code costs three to four
times more than it saves on programs this small; the tests compile with it
off. Every comparison in the suite is between programs compiled alike.
Subprocesses that tests start inherit these settings.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
