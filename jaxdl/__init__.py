"""jaxdl: activations, optimizers, schedules and vmapped sweeps as pure JAX functions.

A training run is one pure function, ``run(hparams, key) -> Result``
(:mod:`jaxdl.train`), so ``jax.jit(jax.vmap(run))`` trains a population of
models in one compiled program (:mod:`jaxdl.sweep`).
"""

from jaxdl import (
    activations,
    averages,
    data,
    diagnostics,
    losses,
    metrics,
    models,
    optim,
    schedules,
    sweep,
    train,
    transfer,
)

__version__ = "0.1.0"

__all__ = [
    "activations",
    "averages",
    "data",
    "diagnostics",
    "losses",
    "metrics",
    "models",
    "optim",
    "schedules",
    "sweep",
    "train",
    "transfer",
]
