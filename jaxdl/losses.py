"""Losses: softmax and binary cross-entropy, squared, absolute and Huber errors, weights, L2.

Every loss returns the scalar cost ``J`` over a batch of ``m`` examples,
optionally with per-example "strengthening factors" ``s^(i) >= 0``
(lecture 001)::

    J = sum_i s^(i) L^(i) / sum_i s^(i)

which is the plain mean ``(1/m) sum_i L^(i)`` when no weights are given.
The per-example losses come from optax, so the numerics (log-softmax,
log-sigmoid) are optax's.

All functions are pure ``jax.numpy``: they work under ``jax.jit``,
``jax.vmap`` and ``jax.grad``, and every numeric argument (weights, the L2
strength, the number of examples) may be a tracer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import registry

__all__ = [
    "absolute_error",
    "binary_cross_entropy",
    "cross_entropy",
    "huber",
    "squared_error",
    "l2_penalty",
    "mean_squared_error",
    "softmax_cross_entropy",
    "weighted_mean",
    "weights_only",
]


def weighted_mean(losses, weights=None) -> jax.Array:
    """Mean of per-example losses with optional strengthening factors.

    .. math:: J = \\frac{\\sum_{i=1}^m s^{(i)} L^{(i)}}{\\sum_{i=1}^m s^{(i)}}

    Args:
      losses: per-example losses, shape ``(m, ...)``. Trailing axes (several
        outputs per example) are averaged first, so ``L^(i)`` is the mean over
        example ``i``'s entries.
      weights: ``None`` (all ``s^(i) = 1``, the plain mean) or non-negative
        factors of shape ``(m,)``. Scaling all weights by a constant leaves
        ``J`` unchanged. If they sum to zero (say, a fully masked batch) the
        result is 0 and its gradient is finite.

    Returns:
      A scalar.
    """
    losses = jnp.asarray(losses)
    if losses.ndim > 1:
        losses = jnp.mean(losses.reshape(losses.shape[0], -1), axis=1)
    if weights is None:
        return jnp.mean(losses)
    weights = jnp.asarray(weights, dtype=losses.dtype)
    if weights.shape != losses.shape:
        raise ValueError(
            f"weights must have one entry per example, shape {losses.shape}, got {weights.shape}"
        )
    total = jnp.sum(weights)
    safe_total = jnp.where(total == 0, jnp.ones_like(total), total)
    return jnp.where(total == 0, jnp.zeros_like(total), jnp.sum(weights * losses) / safe_total)


def softmax_cross_entropy(logits, labels, weights=None) -> jax.Array:
    """Softmax cross-entropy, mean over the batch.

    For logits ``z`` and a target distribution ``y`` over ``K`` classes::

        L = -sum_k y_k log softmax(z)_k = logsumexp(z) - sum_k y_k z_k

    and for an integer label ``c`` (``y`` one-hot at ``c``)
    ``L = logsumexp(z) - z_c``. A ``K``-class model at initialisation, with
    uniform outputs, gives ``L = log K`` (2.303 for ten classes).

    Args:
      logits: ``(m, K)`` unnormalised scores.
      labels: either integer class indices of shape ``(m,)`` (optax's
        ``softmax_cross_entropy_with_integer_labels``) or one-hot / soft
        targets of shape ``(m, K)`` that sum to 1 per row
        (``optax.softmax_cross_entropy``). The form is chosen by shape.
      weights: optional per-example factors, see :func:`weighted_mean`.
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if labels.ndim == logits.ndim - 1:
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(
                f"labels of shape {labels.shape} are read as class indices and must be "
                f"integers, got {labels.dtype}"
            )
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    elif labels.shape == logits.shape:
        losses = optax.softmax_cross_entropy(logits, labels)
    else:
        raise ValueError(
            f"labels must be class indices of shape {logits.shape[:-1]} or one-hot of shape "
            f"{logits.shape}, got {labels.shape}"
        )
    return weighted_mean(losses, weights)


def binary_cross_entropy(logits, labels, weights=None) -> jax.Array:
    """Binary cross-entropy from logits (sigmoid output), mean over the batch.

    With ``p = sigmoid(z)`` and a target ``y`` in ``[0, 1]``::

        L = -[y log p + (1 - y) log(1 - p)]
          = max(z, 0) - z y + log(1 + exp(-|z|))      (the stable form)

    computed by ``optax.sigmoid_binary_cross_entropy``. Pass logits, not
    probabilities: taking the log of a saturated sigmoid loses precision.

    Args:
      logits: ``(m,)`` or ``(m, k)`` for ``k`` independent binary outputs
        (multi-label); the ``k`` losses of one example are averaged.
      labels: targets of the same shape, 0/1 or probabilities.
      weights: optional per-example factors, see :func:`weighted_mean`.
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels, dtype=logits.dtype)
    if labels.shape != logits.shape:
        raise ValueError(f"labels shape {labels.shape} must equal logits shape {logits.shape}")
    return weighted_mean(optax.sigmoid_binary_cross_entropy(logits, labels), weights)


def mean_squared_error(predictions, targets, weights=None) -> jax.Array:
    """Mean squared error, mean over the batch.

    ``L^(i) = (1/k) sum_j (yhat^(i)_j - y^(i)_j)^2`` for ``k`` outputs per
    example (Keras' ``mean_squared_error`` convention; no factor 1/2).

    Args:
      predictions: ``(m,)`` or ``(m, k)``.
      targets: the same shape.
      weights: optional per-example factors, see :func:`weighted_mean`.
    """
    predictions = jnp.asarray(predictions)
    targets = jnp.asarray(targets, dtype=predictions.dtype)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"targets shape {targets.shape} must equal predictions shape {predictions.shape}"
        )
    return weighted_mean(jnp.square(predictions - targets), weights)


# ---------------------------------------------------------------------------
# Per-example losses: ``loss(outputs, targets) -> (m,)``, the form a run uses


def _per_example(values) -> jax.Array:
    """Mean over every axis but the first: one loss per example."""
    return jnp.mean(values.reshape(values.shape[0], -1), axis=1) if values.ndim > 1 else values


def _dense_targets(outputs, targets) -> jax.Array:
    """Targets in the outputs' shape: integer class labels become one-hot rows."""
    targets = jnp.asarray(targets)
    if targets.ndim == outputs.ndim - 1 and jnp.issubdtype(targets.dtype, jnp.integer):
        return jax.nn.one_hot(targets, outputs.shape[-1], dtype=outputs.dtype)
    return targets.astype(outputs.dtype).reshape(outputs.shape)


def cross_entropy(outputs, targets) -> jax.Array:
    """Per-example softmax cross-entropy ``L^(i) = logsumexp(z^(i)) - z^(i)_c``.

    ``targets`` are integer labels ``(m,)`` or soft targets ``(m, K)``
    (see :func:`softmax_cross_entropy`, whose mean this is). Registered as
    ``"cross_entropy"``, the default loss of classification.

    >>> float(cross_entropy(jnp.zeros((1, 10)), jnp.array([3]))[0])  # log 10
    2.30258...
    """
    outputs = jnp.asarray(outputs)
    targets = jnp.asarray(targets)
    if targets.ndim == outputs.ndim - 1:
        return optax.softmax_cross_entropy_with_integer_labels(outputs, targets)
    return optax.softmax_cross_entropy(outputs, targets)


def squared_error(outputs, targets) -> jax.Array:
    """Per-example squared error ``L^(i) = (1/k) sum_j (yhat_j - y_j)^2`` (no factor 1/2, as Keras).

    Integer class labels are compared with one-hot rows, so the same loss
    serves classification (MSE on one-hot targets) and regression. Registered
    as ``"mse"``, the default loss of regression.

    >>> squared_error(jnp.array([[1.0], [3.0]]), jnp.array([0.0, 1.0])).tolist()
    [1.0, 4.0]
    """
    outputs = jnp.asarray(outputs)
    return _per_example(jnp.square(outputs - _dense_targets(outputs, targets)))


def absolute_error(outputs, targets) -> jax.Array:
    """Per-example absolute error ``L^(i) = (1/k) sum_j |yhat_j - y_j|``; registered as ``"mae"``."""
    outputs = jnp.asarray(outputs)
    return _per_example(jnp.abs(outputs - _dense_targets(outputs, targets)))


def huber(outputs, targets, delta=1.0) -> jax.Array:
    r"""Per-example Huber loss (``optax.huber_loss``), mean over outputs; registered as ``"huber"``.

    .. math:: L_\delta(r) = r^2 / 2 \text{ if } |r| \le \delta, \text{ else } \delta (|r| - \delta / 2)

    quadratic near zero and linear beyond ``delta`` (default 1.0, Keras' and
    optax's), so outliers pull less than under the squared error. ``delta``
    may be traced: a sweep can vary it.
    """
    outputs = jnp.asarray(outputs)
    return _per_example(optax.huber_loss(outputs, _dense_targets(outputs, targets), delta=delta))


registry.register_loss("cross_entropy", cross_entropy, task="classification")
registry.register_loss("mse", squared_error, task=None)
registry.register_loss("mae", absolute_error, task=None)
registry.register_loss("huber", huber, task=None)


def weights_only(path, leaf) -> bool:
    """Predicate for :func:`l2_penalty`: keep arrays with two or more axes.

    Dense kernels ``(n_in, n_out)`` and convolution kernels ``(h, w, c_in,
    c_out)`` pass; biases and batch-norm scales and offsets (one axis) do not.
    """
    del path
    return jnp.ndim(leaf) >= 2


def l2_penalty(
    params: Any,
    l2,
    num_examples,
    *,
    mask: Callable[[Any, Any], bool] | Any | None = None,
) -> jax.Array:
    """L2 (weight-decay) penalty added to the cost: ``(lambda / 2m) sum_l ||W^[l]||_F^2``.

    The full cost is then ``J = (1/m) sum_i L^(i) + (lambda / 2m) sum_l ||W^[l]||^2``;
    its gradient adds ``(lambda / m) W`` to each penalised weight.

    Biases are usually left out: they are few, do not multiply inputs, and
    penalising them does little but bias the fit. Pass ``mask=weights_only``
    to keep only arrays with at least two axes, or your own predicate.

    Args:
      params: a pytree of parameter arrays.
      l2: ``lambda >= 0``; a float or a traced scalar (sweepable).
      num_examples: ``m``, the number of training examples (or the batch size,
        if that is the normalisation wanted); may be traced.
      mask: ``None`` penalises every leaf; a callable ``(path, leaf) -> bool``
        (``path`` as given by ``jax.tree_util.tree_flatten_with_path``) selects
        leaves; or a pytree of bools with the structure of ``params``.

    Returns:
      A scalar.
    """
    if mask is None:
        selected = jax.tree.leaves(params)
    elif callable(mask):
        flat, _ = jax.tree_util.tree_flatten_with_path(params)
        selected = [leaf for path, leaf in flat if mask(path, leaf)]
    else:
        flags = jax.tree.leaves(mask)
        leaves = jax.tree.leaves(params)
        if len(flags) != len(leaves):
            raise ValueError(
                f"mask has {len(flags)} leaves but params have {len(leaves)}; give one bool per leaf"
            )
        selected = [leaf for flag, leaf in zip(flags, leaves) if flag]
    squared_norm = sum((jnp.sum(jnp.square(leaf)) for leaf in selected), jnp.zeros(()))
    return jnp.asarray(l2) / (2.0 * jnp.asarray(num_examples)) * squared_norm
