r"""Exponentially weighted averages with bias correction.

The exponentially weighted average (EWA) of a sequence :math:`\theta_1,
\theta_2, \dots` with decay :math:`\beta \in [0, 1)` is

.. math::

    v_0 = 0, \qquad v_t = \beta v_{t-1} + (1 - \beta)\,\theta_t
        = (1 - \beta) \sum_{k=0}^{t-1} \beta^k \theta_{t-k}.

The weights :math:`(1-\beta)\beta^k` fall by a factor :math:`e` after about
:math:`1 / (1 - \beta)` steps, the *effective window*: :math:`\beta = 0.5,
0.9, 0.98` average over about 2, 10 and 50 steps. Because the weights of a
finite history sum to :math:`1 - \beta^t` rather than 1, early values are
biased towards :math:`v_0 = 0`; dividing by that sum gives the bias-corrected
average

.. math::

    \hat v_t = \frac{v_t}{1 - \beta^t},

which is exactly a weighted mean of the inputs seen so far. In floating
point :func:`debias` divides by the sum of the weights the recurrence really
applied (:func:`debias_factor`), so the correction adds only a few ulps of
error, even for :math:`\beta` near 1. With
:math:`\beta = 0.98`: :math:`v_1 = 0.02\,\theta_1` but :math:`\hat v_1 =
\theta_1`, and :math:`\hat v_2 = (0.0196\,\theta_1 + 0.02\,\theta_2) / 0.0396`.

Classic (heavy-ball) momentum uses the *accumulating* form, without the
:math:`(1 - \beta)` factor,

.. math::

    v_t = \beta v_{t-1} + \theta_t,

whose weights sum to :math:`(1 - \beta^t) / (1 - \beta)`; it is the EWA
scaled by :math:`1 / (1 - \beta)`, and the same correction
:math:`1 / (1 - \beta^t)` removes its start-up bias. With :math:`\beta = 1` it is a running
sum (Adagrad's accumulator).

This module is the primitive that :mod:`jaxdl.optim` builds momentum, RMSprop,
Adam and their relatives from: momentum averages gradients, RMSprop averages
squared gradients (the caller squares them), Adam does both. Every function
works on arrays and on pytrees, is pure, and accepts the decay as a Python
float, an array or a tracer, so it can be jitted and vmapped over ``decay``.

Reference: Andrew Ng's deep learning course, "Exponentially weighted
averages" and "Bias correction in exponentially weighted averages";
Kingma and Ba, `Adam: A Method for Stochastic Optimization
<https://arxiv.org/abs/1412.6980>`_, 2015, section 3.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "DEBIAS_FORMULAS",
    "EWAState",
    "debias",
    "debias_factor",
    "effective_window",
    "ewa_init",
    "ewa_step",
    "ewa_update",
    "ewa_value",
    "smooth",
]

PyTree = Any


class EWAState(NamedTuple):
    """State of an exponentially weighted average.

    Attributes:
      average: the uncorrected average :math:`v_t`, a pytree shaped like the
        inputs.
      count: number of inputs averaged so far, :math:`t` (int32 scalar).
    """

    average: PyTree
    count: jax.Array


def ewa_step(average: PyTree, value: PyTree, decay, *, accumulate: bool = False) -> PyTree:
    r"""One step of the recurrence, leaf by leaf.

    .. math::

        v \leftarrow \beta v + (1 - \beta)\,\theta \quad\text{(default)}, \qquad
        v \leftarrow \beta v + \theta \quad\text{(``accumulate=True``)}.

    Args:
      average: the current average :math:`v`, a pytree.
      value: the new input :math:`\theta`, a pytree with the same structure.
      decay: :math:`\beta`, a float, array or tracer (usually in [0, 1)).
      accumulate: drop the :math:`(1 - \beta)` factor (classic momentum).

    Returns:
      The new average, with ``average``'s structure.
    """
    # Input term first: XLA may fuse a multiply-add, and this order gives the
    # same rounding as optax's moments, so results agree bit for bit.
    if accumulate:
        return jax.tree.map(lambda v, x: x + decay * v, average, value)
    return jax.tree.map(lambda v, x: (1 - decay) * x + decay * v, average, value)


DEBIAS_FORMULAS = ("exact", "power")


def debias_factor(decay, count, dtype=None, *, formula: str = "exact") -> jax.Array:
    r"""The divisor of :func:`debias`: :math:`1 - \beta^t`, computed accurately.

    ``formula="exact"`` (default) gives the sum of the weights that
    :func:`ewa_step` really applied in ``dtype``, where it rounds
    :math:`\beta` to :math:`b` and :math:`1 - \beta` to :math:`c`,

    .. math::

        c \, \frac{1 - b^t}{1 - b}, \qquad 1 - b^t = -\operatorname{expm1}(t \log1p(-(1 - b))),

    which is :math:`1 - \beta^t` in exact arithmetic. ``1 - b`` is exact in
    floating point (for :math:`b \ge 1/2`) and ``expm1``/``log1p`` keep every
    digit near :math:`\beta = 1`, so the corrected average is a weighted mean
    to a few ulps at every step: within 2e-6 of a float64 Adam after 200 steps
    with :math:`\beta_2 = 0.9999`. For the accumulating form the same divisor
    makes a constant input give :math:`\theta / c`, its exact steady state.

    ``formula="power"`` is :math:`1 - \beta^t` as optax (bit for bit), Keras
    and TensorFlow compute it, in float32: :math:`\beta` rounded to float32
    while the average's weight :math:`c` is formed from the exact value, which
    biases :math:`\hat v` by up to one ulp of :math:`\beta` over
    :math:`1 - \beta` (1.3e-5 for 0.999, 1.7e-4 for 0.9999). PyTorch computes
    :math:`1 - \beta^t` in float64, between the two.

    Args:
      decay: :math:`\beta`, a float, array or tracer.
      count: :math:`t` >= 1 (scalar).
      dtype: the dtype of the average (at least float32 is used); default,
        that of ``decay``.
      formula: ``"exact"`` or ``"power"``.

    >>> t = jnp.int32(2)  # 1 - 0.9999**2 = 1.9999e-4
    >>> float(debias_factor(0.9999, t)), float(debias_factor(0.9999, t, formula="power"))
    (0.00019998998322989792, 0.00020003318786621094)
    """
    if formula not in DEBIAS_FORMULAS:
        raise ValueError(f"formula must be one of {list(DEBIAS_FORMULAS)}, got {formula!r}")
    if formula == "power":
        return jnp.asarray(1 - decay**count)
    # At least float32: in bfloat16, 0.999 rounds to 1 and nothing would be left.
    dtype = jnp.result_type(decay, float if dtype is None else dtype)
    dtype = jnp.promote_types(dtype, jnp.float32)
    gone = 1 - jnp.asarray(decay, dtype)  # 1 - b, exact
    weight = jnp.asarray(1 - decay, dtype)  # c, as ewa_step forms it
    return weight * -jnp.expm1(count * jnp.log1p(-gone)) / jnp.where(gone > 0, gone, 1)


def debias(average: PyTree, decay, count, *, formula: str = "exact") -> PyTree:
    r"""Bias-correct an average by dividing by :math:`1 - \beta^t`.

    .. math::

        \hat v_t = \frac{v_t}{1 - \beta^t}.

    For the EWA form :math:`\hat v_t` is the weighted mean of the inputs with
    weights proportional to :math:`\beta^k`, so a constant input comes back
    unchanged from the first step. For the accumulating form a constant input
    :math:`\theta` gives its steady-state value :math:`\theta / (1 - \beta)`
    from the first step. ``count`` must be at least 1.

    The divisor is :func:`debias_factor` for each leaf's dtype (``formula``
    says how it is computed; ``"power"`` is optax's, bit for bit), and the
    division is done in each leaf's own dtype, as optax does, so that
    low-precision averages stay in their dtype.

    Args:
      average: the uncorrected average :math:`v_t`, a pytree.
      decay: :math:`\beta`, a float, array or tracer.
      count: :math:`t`, the number of inputs averaged (scalar, >= 1).
      formula: ``"exact"`` (default) or ``"power"``, see :func:`debias_factor`.

    >>> state = ewa_update(jnp.float32(3.0), ewa_init(jnp.float32(0.0)), 0.9999)
    >>> float(debias(state.average, 0.9999, state.count))
    3.0
    """
    factors = {}

    def corrected(v):
        if v.dtype not in factors:  # one divisor per dtype, shared by its leaves
            factors[v.dtype] = debias_factor(decay, count, v.dtype, formula=formula).astype(v.dtype)
        return v / factors[v.dtype]

    return jax.tree.map(corrected, average)


def ewa_init(tree: PyTree, initial_value=0.0, dtype=None) -> EWAState:
    """Start an average shaped like ``tree`` at ``initial_value`` (default 0).

    Args:
      tree: a pytree of arrays whose shapes (and dtypes, unless ``dtype`` is
        given) the average takes.
      initial_value: :math:`v_0`. Bias correction assumes 0; a non-zero start
        is used for example by RMSprop's ``initial_scale``.
      dtype: optional dtype for the average.
    """
    average = jax.tree.map(
        lambda x: jnp.full(jnp.shape(x), initial_value, dtype or jnp.result_type(x)),
        tree,
    )
    return EWAState(average=average, count=jnp.zeros([], jnp.int32))


def ewa_update(tree: PyTree, state: EWAState, decay, *, accumulate: bool = False) -> EWAState:
    """Fold the input ``tree`` into the average; see :func:`ewa_step`.

    Returns:
      The new :class:`EWAState`, with ``count`` increased by one.
    """
    return EWAState(
        average=ewa_step(state.average, tree, decay, accumulate=accumulate),
        count=state.count + 1,
    )


def ewa_value(state: EWAState, decay, *, bias_correction: bool = True,
              debias_formula: str = "exact") -> PyTree:
    """Read the average, bias-corrected (:func:`debias`) unless told otherwise.

    Before the first update (``count == 0``) it returns the initial value.
    ``debias_formula`` is :func:`debias`'s ``formula``.
    """
    if not bias_correction:
        return state.average
    # Guard count == 0, where the correction would be 0 / 0.
    safe_count = jnp.maximum(state.count, 1)
    corrected = debias(state.average, decay, safe_count, formula=debias_formula)
    return jax.tree.map(
        lambda v, c: jnp.where(state.count > 0, c, v), state.average, corrected
    )


def smooth(
    series: PyTree,
    decay,
    bias_correction: bool = True,
    *,
    accumulate: bool = False,
    initial_value=0.0,
    debias_formula: str = "exact",
) -> PyTree:
    r"""Smooth a whole series along its leading axis with one ``lax.scan``.

    Element ``t - 1`` of the output is :math:`\hat v_t` (or :math:`v_t` with
    ``bias_correction=False``) for the inputs ``series[:t]``. For example the
    daily temperatures of the lecture smoothed with ``decay=0.9`` average over
    about 10 days.

    Args:
      series: an array (or pytree of arrays) whose leading axis is time.
      decay: :math:`\beta`, a float, array or tracer; ``jax.vmap`` over it
        smooths with several decays at once.
      bias_correction: divide step ``t`` by the sum of its weights.
      accumulate: use the accumulating form :math:`v_t = \beta v_{t-1} +
        \theta_t`.
      initial_value: :math:`v_0`.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's), see
        :func:`debias_factor`.

    Returns:
      The smoothed series, shaped like ``series``.

    >>> [round(float(v), 4) for v in smooth(jnp.array([7.0, 11.0]), 0.98)]
    [7.0, 9.0202]
    """
    first = jax.tree.map(lambda x: x[0], series)
    state = ewa_init(first, initial_value)

    def step(state, value):
        state = ewa_update(value, state, decay, accumulate=accumulate)
        return state, ewa_value(
            state, decay, bias_correction=bias_correction, debias_formula=debias_formula
        )

    _, smoothed = jax.lax.scan(step, state, series)
    return smoothed


def effective_window(decay):
    r"""The effective window :math:`1 / (1 - \beta)` of an EWA, in steps.

    The weight of an input :math:`N = 1/(1-\beta)` steps back is
    :math:`\beta^N \approx 1/e` of the newest one's, and the newest :math:`N`
    inputs carry :math:`1 - \beta^N \approx 63\%` of the total weight.
    """
    return 1 / (1 - decay)
