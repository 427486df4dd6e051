"""jaxdl: activations, optimizers, schedules and vmapped sweeps as pure JAX functions.

A training run is one pure function, ``run(hparams, key) -> Result``
(:mod:`jaxdl.train`), so ``jax.jit(jax.vmap(run))`` trains a population of
models in one compiled program (:mod:`jaxdl.sweep`).
"""

from jaxdl import registry
from jaxdl.registry import (
    register_activation,
    register_loss,
    register_metric,
    register_strategy,
    register_model,
    register_optimizer,
    register_schedule,
)
from jaxdl import (  # noqa: E402  (the registry comes first: every module registers into it)
    activations,
    analysis,
    augment,
    averages,
    clean,
    data,
    diagnostics,
    losses,
    metrics,
    mismatch,
    models,
    optim,
    resample,
    schedules,
    sweep,
    train,
    transfer,
)

__version__ = "0.1.0"

__all__ = [
    "activations",
    "analysis",
    "augment",
    "averages",
    "clean",
    "data",
    "diagnostics",
    "losses",
    "metrics",
    "mismatch",
    "models",
    "optim",
    "resample",
    "register_activation",
    "register_loss",
    "register_metric",
    "register_strategy",
    "register_model",
    "register_optimizer",
    "register_schedule",
    "registry",
    "schedules",
    "sweep",
    "train",
    "transfer",
]
