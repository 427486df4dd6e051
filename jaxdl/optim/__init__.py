"""Optimizers as optax GradientTransformations, built on jaxdl.averages.

Factories (:mod:`jaxdl.optim.optimizers`) chain update rules
(:mod:`jaxdl.optim.transforms`) with optax's learning-rate scaling;
:mod:`jaxdl.optim.regularization` holds clipping, penalties and constraints.
"""

from jaxdl.optim.optimizers import (
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    amsgrad,
    momentum,
    nadam,
    nadamw,
    nesterov,
    rmsprop,
    sgd,
)
from jaxdl.optim.regularization import (
    PenaltyState,
    add_decayed_weights,
    add_elastic_net_penalty,
    add_l1_penalty,
    clip,
    clip_by_global_norm,
    constrain_max_norm,
    project_max_norm,
)
from jaxdl.optim.transforms import (
    AdadeltaState,
    AdagradState,
    AdamaxState,
    AdamState,
    AmsgradState,
    CenteredRmsState,
    MomentumState,
    NadamState,
    RmsState,
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_momentum,
    scale_by_nadam,
    scale_by_rms,
)

from jaxdl import registry

# adamw and nadamw apply their own (decoupled) weight decay; for every other
# optimizer a run applies HParams.weight_decay decoupled itself (see jaxdl.train).
_BOUNDS = {sgd: {"dampening": (0.0, 1.0)}}
for _factory in (adadelta, adagrad, adam, adamax, adamw, amsgrad, momentum, nadam, nadamw, nesterov,
                 rmsprop, sgd):
    registry.register_optimizer(_factory.__name__, _factory,
                                decoupled_weight_decay=_factory in (adamw, nadamw),
                                **({"bounds": _BOUNDS[_factory]} if _factory in _BOUNDS else {}))


def names() -> list[str]:
    """The names :func:`get` accepts, sorted (registered optimizers included)."""
    return list(registry.OPTIMIZERS.names())


def get(name: str):
    """The optimizer factory called ``name`` (case-insensitive), e.g. ``get("adam")``.

    Raises:
      ValueError: for an unknown name; the message lists the valid ones.
    """
    return registry.OPTIMIZERS.get(name)


__all__ = [
    "AdadeltaState",
    "AdagradState",
    "AdamState",
    "AdamaxState",
    "AmsgradState",
    "CenteredRmsState",
    "MomentumState",
    "NadamState",
    "PenaltyState",
    "RmsState",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "add_decayed_weights",
    "add_elastic_net_penalty",
    "add_l1_penalty",
    "amsgrad",
    "clip",
    "clip_by_global_norm",
    "constrain_max_norm",
    "get",
    "momentum",
    "nadam",
    "nadamw",
    "names",
    "nesterov",
    "project_max_norm",
    "rmsprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_rms",
    "sgd",
]
