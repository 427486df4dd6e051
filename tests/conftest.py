"""Shared test setup.

The suite compiles hundreds of tiny programs, so compilation, not running,
dominates its time. LLVM's optimisation of XLA:CPU code costs three to four
times more than it saves on programs this small; the tests compile with it
off, and with XLA:CPU's MLIR fusion emitters off, which halves the compile
time of a training run again (1.29 s -> 0.62 s for a three-epoch MLP
population). Every comparison in the suite is between programs compiled alike.
Subprocesses that tests start inherit these settings, and the persistent
compilation cache of the jaxdl command is off.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
for _flag in ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"):
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
# The jaxdl command keeps a persistent compilation cache; tests that call it must compile afresh (and not
# fill the user's cache), so it is off unless a test turns it on for itself.
os.environ["JAXDL_COMPILATION_CACHE"] = "0"
