r"""Gradient clipping, weight penalties and weight constraints.

What optax already has is re-exported here unchanged, so that it can be found
next to what it lacks:

- :func:`clip` (optax): clip every gradient entry to ``[-max_delta,
  max_delta]``; Keras' ``clipvalue``.
- :func:`clip_by_global_norm` (optax): rescale all gradients together so their
  joint L2 norm is at most ``max_norm``; Keras' ``global_clipnorm`` and
  PyTorch's ``clip_grad_norm_``. (Keras' ``clipnorm`` clips each tensor's
  norm separately.)
- :func:`add_decayed_weights` (optax): add :math:`\lambda\theta` to the
  gradient, the gradient of the L2 penalty :math:`\frac{\lambda}{2}
  \lVert\theta\rVert^2`. Before an adaptive rule (Adam) it is L2
  regularisation; after it and before the learning rate it is decoupled
  weight decay (:func:`jaxdl.optim.adamw`). Keras' ``regularizers.l2(l)``
  penalises :math:`l \lVert\theta\rVert^2`, i.e. ``add_decayed_weights(2 * l)``.

Added here:

- :func:`add_l1_penalty` and :func:`add_elastic_net_penalty`: gradients of
  the L1 and elastic-net penalties.
- :func:`project_max_norm` and :func:`constrain_max_norm`: the max-norm
  constraint of Srivastava et al. (2014), as a projection of the parameters
  and as a transformation placed last in a chain.

Order in a chain matters: clip first, then the penalty, then the update rule
and the learning rate, then any constraint::

    optax.chain(clip_by_global_norm(1.0), add_l1_penalty(1e-4),
                scale_by_adam(), optax.scale_by_learning_rate(1e-3),
                constrain_max_norm(3.0))
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import optax
from optax import add_decayed_weights, clip, clip_by_global_norm

from jaxdl.optim._hyper import check_non_negative, check_positive, check_range, value_at

__all__ = [
    "PenaltyState",
    "add_decayed_weights",
    "add_elastic_net_penalty",
    "add_l1_penalty",
    "clip",
    "clip_by_global_norm",
    "constrain_max_norm",
    "project_max_norm",
]

MaskOrFn = Optional[Union[Any, Callable[[Any], Any]]]


class PenaltyState(NamedTuple):
    """State of the penalty transformations: the step count, for schedules."""

    count: jax.Array


def add_elastic_net_penalty(
    strength, l1_ratio=0.5, mask: MaskOrFn = None
) -> optax.GradientTransformation:
    r"""Add the gradient of the elastic-net penalty to the updates.

    .. math::

        R(\theta) = \lambda \left(\rho \lVert\theta\rVert_1
                     + \frac{1 - \rho}{2} \lVert\theta\rVert_2^2\right), \qquad
        g \leftarrow g + \lambda \left(\rho\, \mathrm{sign}(\theta)
                     + (1 - \rho)\, \theta\right),

    with :math:`\mathrm{sign}(0) = 0` (the subgradient TensorFlow and PyTorch
    use). This is the lecture's elastic net with :math:`\beta = \rho` and
    scikit-learn's ``ElasticNet(alpha=strength, l1_ratio=l1_ratio)``
    penalty. Keras' ``l1_l2(l1, l2)`` is ``strength = l1 + 2 l2``,
    ``l1_ratio = l1 / (l1 + 2 l2)``. Place it before the update rule.

    Args:
      strength: :math:`\lambda` >= 0 or a schedule; typical 1e-5 to 1e-2.
      l1_ratio: :math:`\rho` in [0, 1], default 0.5; 1 is pure L1, 0 pure L2.
      mask: pytree of booleans (or a function of the params returning one)
        selecting the leaves to penalise, e.g. kernels but not biases.

    References:
      Zou and Hastie, Regularization and variable selection via the elastic
      net, 2005.
    """
    check_non_negative("strength", strength)
    check_range("l1_ratio", l1_ratio, low=0.0, high=1.0)

    def init_fn(params):
        del params
        return PenaltyState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("add_elastic_net_penalty needs params: pass them to update()")
        lam = value_at(strength, state.count)
        l1 = lam * l1_ratio
        l2 = lam * (1 - l1_ratio)
        updates = jax.tree.map(lambda g, p: g + l1 * jnp.sign(p) + l2 * p, updates, params)
        return updates, PenaltyState(count=optax.safe_increment(state.count))

    transformation = optax.GradientTransformation(init_fn, update_fn)
    return transformation if mask is None else optax.masked(transformation, mask)


def add_l1_penalty(strength, mask: MaskOrFn = None) -> optax.GradientTransformation:
    r"""Add the gradient of the L1 (lasso) penalty :math:`\lambda \lVert\theta\rVert_1`.

    .. math::

        g \leftarrow g + \lambda\, \mathrm{sign}(\theta).

    Equal to Keras' ``regularizers.l1(strength)`` and to
    :func:`add_elastic_net_penalty` with ``l1_ratio=1``. Place it before the
    update rule.

    Args:
      strength: :math:`\lambda` >= 0 or a schedule; typical 1e-5 to 1e-2.
      mask: leaves to penalise, as in :func:`add_elastic_net_penalty`.

    References:
      Tibshirani, Regression shrinkage and selection via the lasso, 1996.
    """
    return add_elastic_net_penalty(strength, l1_ratio=1.0, mask=mask)


def _incoming_axes(ndim: int, axis):
    if axis is None:
        return tuple(range(ndim - 1))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def project_max_norm(params, max_value, axis: Optional[Union[int, Sequence[int]]] = None):
    r"""Rescale each unit's incoming weight vector to norm at most ``max_value``.

    .. math::

        w_j \leftarrow w_j \min\left(1, \frac{c}{\lVert w_j\rVert_2}\right)

    for every output unit :math:`j`. By default the norm runs over all axes
    but the last, which for flax kernels (``(in, out)`` dense, ``(h, w, in,
    out)`` convolution) is the vector of weights coming into one unit; this
    is Keras' ``MaxNorm`` with ``axis=0`` (dense) or ``axis=[0, 1, 2]``
    (convolution). Vectors already inside the ball are left exactly as they
    are (Keras shrinks them by a factor :math:`1 - 10^{-7}`). Leaves with
    fewer than two dimensions (biases, scales) are not touched.

    Args:
      params: a pytree of arrays.
      max_value: :math:`c` > 0; 3 to 4 is typical with dropout.
      axis: the axes of one incoming vector; None for all but the last.

    Returns:
      The projected parameters.

    References:
      Srivastava et al., `Dropout: A Simple Way to Prevent Neural Networks from
      Overfitting <https://jmlr.org/papers/v15/srivastava14a.html>`_, 2014.
    """
    check_positive("max_value", max_value)

    def project(w):
        if jnp.ndim(w) < 2:
            return w
        axes = _incoming_axes(jnp.ndim(w), axis)
        norm = jnp.sqrt(jnp.sum(jnp.square(w), axis=axes, keepdims=True))
        tiny = jnp.finfo(jnp.result_type(w)).tiny
        scale = jnp.where(norm > max_value, max_value / jnp.maximum(norm, tiny), 1.0)
        return w * scale.astype(jnp.result_type(w))

    return jax.tree.map(project, params)


def constrain_max_norm(
    max_value, axis: Optional[Union[int, Sequence[int]]] = None
) -> optax.GradientTransformation:
    r"""Max-norm constraint as the last transformation of a chain.

    Turns the final updates :math:`u` into :math:`P(\theta + u) - \theta`,
    where :math:`P` is :func:`project_max_norm`, so that
    ``optax.apply_updates`` lands on the projected parameters (up to one
    rounding). Put it after the learning rate, since it sees the real step.

    Args:
      max_value: :math:`c` > 0.
      axis: as in :func:`project_max_norm`.
    """
    check_positive("max_value", max_value)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("constrain_max_norm needs params: pass them to update()")
        stepped = jax.tree.map(lambda p, u: p + u, params, updates)
        projected = project_max_norm(stepped, max_value, axis)
        return jax.tree.map(lambda q, p: q - p, projected, params), state

    return optax.GradientTransformation(init_fn, update_fn)
