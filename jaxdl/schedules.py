r"""Learning-rate schedules as pure functions of the step count.

Every factory here returns a *schedule*: a callable ``step -> value`` that
follows optax's ``Schedule`` protocol, so it can be passed as the learning
rate of an optax or jaxdl optimizer. ``step`` may be a Python int, an integer
or float array (the result broadcasts over it) or a tracer.

Every numeric argument may be a tracer too. Nothing here branches in Python
on an argument's value (``jnp.where`` and ``jnp.clip`` select instead), so a
sweep can build a schedule inside ``jax.vmap`` over its hyperparameters and
compile one program for the whole population. optax's ``exponential_decay``
(traced ``decay_rate``), ``linear_schedule`` (traced ``transition_steps``)
and ``warmup_cosine_decay_schedule`` (traced ``peak_value``) cannot do this;
the functions here with the same names take the same arguments and give the
same numbers, and also trace. Concrete values are checked when the schedule
is built and a bad one raises ``ValueError`` naming the argument; traced
values cannot be inspected, and each docstring says what an out-of-range
traced value does.

Step-based schedules (names and defaults as in optax, or Keras where optax
has no such schedule):

* :func:`constant_schedule`
* :func:`exponential_decay`, :func:`inverse_time_decay`, :func:`power_schedule`
* :func:`polynomial_schedule` (with Keras' ``cycle``), :func:`linear_schedule`
* :func:`cosine_decay_schedule` (with PyTorch's periodic continuation),
  :func:`warmup_cosine_decay_schedule`
* :func:`cosine_decay_restarts` (Keras ``CosineDecayRestarts``, PyTorch
  ``CosineAnnealingWarmRestarts``) and :func:`cosine_onecycle_schedule`
  (optax's, or PyTorch ``OneCycleLR`` with cosine annealing)
* :func:`inverse_sqrt_schedule` (Transformers' warmup then ``1/sqrt(step)``)
* :func:`piecewise_constant_schedule` (optax) and
  :func:`piecewise_constant_decay` (Keras)
* :func:`join_schedules`

Epoch-based schedules, the forms written in the lecture notes, which count
epochs rather than steps:

* :func:`epoch_inverse_time_decay`, :math:`\alpha_0 / (1 + k\,e)`
* :func:`epoch_exponential_decay`, :math:`\alpha_0 e^{-k e}`
* :func:`epoch_inverse_sqrt_decay`, :math:`k \alpha_0 / \sqrt{e + 1}` (the lecture's
  :math:`k \alpha_0 / \sqrt{\text{epoch}}` with epochs counted from 1)
* :func:`step_decay`, multiply by ``factor`` every ``epochs_per_drop`` epochs

They take ``steps_per_epoch`` (default 1, so that ``step`` *is* the epoch)
and turn the step into an epoch count :math:`e`. With ``staircase=True``
(their default) :math:`e = \lfloor \text{step} / \text{steps\_per\_epoch}
\rfloor`, the number of completed epochs, so the rate is constant within an
epoch as in a per-epoch Keras callback; with ``staircase=False``
:math:`e = \text{step} / \text{steps\_per\_epoch}` counts fractions of an
epoch and the rate changes every step.

Reduce-on-plateau is pure state rather than a schedule, because it depends
on a monitored metric: :func:`plateau_init` makes a :class:`PlateauState`,
:func:`plateau_update` advances it by one epoch's metric. Both run inside
``jax.jit``, ``jax.lax.scan`` and ``jax.vmap``, and every numeric argument
may be traced. An argument selects Keras' or PyTorch's rules.

:func:`get` looks a schedule factory up by name and :func:`names` lists the
names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl import registry

__all__ = [
    "PlateauState",
    "Schedule",
    "constant_schedule",
    "cosine_decay_restarts",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "epoch_exponential_decay",
    "epoch_inverse_sqrt_decay",
    "epoch_inverse_time_decay",
    "exponential_decay",
    "get",
    "inverse_sqrt_schedule",
    "inverse_time_decay",
    "join_schedules",
    "linear_schedule",
    "names",
    "piecewise_constant_decay",
    "piecewise_constant_schedule",
    "plateau_init",
    "plateau_update",
    "polynomial_schedule",
    "power_schedule",
    "step_decay",
    "warmup_cosine_decay_schedule",
]

Schedule = Callable[[ArrayLike], jax.Array]
"""A function from the step count to a value (optax's ``Schedule``)."""


# --------------------------------------------------------------------------
# Helpers


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array, or ``None`` if any part of it is traced."""
    if value is None:
        return None
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value)):
        return None
    return np.asarray(value)


def _require(name: str, value: Any, ok: Callable[[np.ndarray], Any], requirement: str) -> None:
    """Raise ``ValueError`` if ``value`` is concrete and fails ``ok``."""
    array = _concrete(value)
    if array is not None and not np.all(ok(array)):
        raise ValueError(f"{name} must be {requirement}, got {value!r}")


def _non_negative(name: str, value: Any) -> None:
    _require(name, value, lambda v: v >= 0, "non-negative")


def _positive(name: str, value: Any) -> None:
    _require(name, value, lambda v: v > 0, "positive")


def _as_float(x: ArrayLike) -> jax.Array:
    """``x`` as an array of floating dtype (integers go to the default float)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    return x.astype(jnp.result_type(float))


def _safe_divisor(divisor: jax.Array) -> jax.Array:
    """``divisor`` where it is positive, 1 elsewhere (the caller masks that case)."""
    return jnp.where(divisor > 0, divisor, 1)


def _epochs(step: ArrayLike, steps_per_epoch: ArrayLike, staircase: bool) -> jax.Array:
    epochs = _as_float(step) / steps_per_epoch
    return jnp.floor(epochs) if staircase else epochs


# --------------------------------------------------------------------------
# Step-based schedules


def constant_schedule(value: ArrayLike) -> Schedule:
    r"""The same value at every step: :math:`\alpha_t = \alpha`.

    Args:
      value: the value returned, non-negative.

    Matches ``optax.constant_schedule``; the result is a float array
    broadcast to the shape of ``step``.
    """
    _non_negative("value", value)

    def schedule(step: ArrayLike) -> jax.Array:
        constant = _as_float(value)
        shape = jnp.broadcast_shapes(jnp.shape(constant), jnp.shape(step))
        return jnp.broadcast_to(constant, shape)

    return schedule


def exponential_decay(
    init_value: ArrayLike,
    transition_steps: ArrayLike,
    decay_rate: ArrayLike,
    transition_begin: ArrayLike = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> Schedule:
    r"""Exponential decay, with an optional delay, staircase and floor.

    .. math::
      p = \frac{t - B}{T} \quad (\lfloor p \rfloor \text{ with staircase}),
      \qquad
      \alpha_t = \begin{cases}
        \alpha_0, & t \le B \\
        \alpha_0 \, r^{p}, & t > B
      \end{cases}

    then clipped from below by ``end_value`` when :math:`r < 1` (from above
    when :math:`r \ge 1`). Keras' ``ExponentialDecay`` is the case
    :math:`B = 0` with no ``end_value``; the lecture's
    :math:`\alpha_0 e^{-k\,\text{epoch}}` is :func:`epoch_exponential_decay`.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      transition_steps: :math:`T > 0`, the steps over which the value is
        multiplied by ``decay_rate`` once.
      decay_rate: :math:`r > 0`.
      transition_begin: :math:`B \ge 0`, steps held at ``init_value`` before
        the decay starts. Default 0.
      staircase: floor :math:`p`, so the value drops every ``transition_steps``
        steps. Default ``False``. Static.
      end_value: optional bound, non-negative. Default ``None`` (no bound).

    Same signature, defaults and values as ``optax.exponential_decay``. optax
    logs and returns a constant ``init_value`` for a non-positive
    ``transition_steps`` or a zero ``decay_rate`` and falls back to 0 for a
    negative ``transition_begin``; here concrete values of that kind raise
    ``ValueError``, and traced ones get optax's fallbacks.
    """
    _non_negative("init_value", init_value)
    _positive("transition_steps", transition_steps)
    _positive("decay_rate", decay_rate)
    _non_negative("transition_begin", transition_begin)
    _non_negative("end_value", end_value)

    def schedule(step: ArrayLike) -> jax.Array:
        init = _as_float(init_value)
        rate = _as_float(decay_rate)
        steps = jnp.asarray(transition_steps)
        elapsed = _as_float(step) - jnp.maximum(transition_begin, 0)
        progress = elapsed / _safe_divisor(steps)
        if staircase:
            progress = jnp.floor(progress)
        value = jnp.where(elapsed <= 0, init, init * rate**progress)
        if end_value is not None:
            value = jnp.where(rate < 1, jnp.maximum(value, end_value), jnp.minimum(value, end_value))
        return jnp.where((steps <= 0) | (rate == 0), init, value)

    return schedule


def inverse_time_decay(
    init_value: ArrayLike,
    decay_steps: ArrayLike,
    decay_rate: ArrayLike,
    staircase: bool = False,
) -> Schedule:
    r"""Inverse time decay (Keras ``InverseTimeDecay``).

    .. math::
      \alpha_t = \frac{\alpha_0}{1 + r \, p}, \qquad
      p = \frac{t}{T} \quad (\lfloor t / T \rfloor \text{ with staircase})

    The lecture's per-epoch form :math:`\alpha_0 / (1 + k\,\text{epoch})` is
    ``decay_steps = steps_per_epoch, staircase=True``, also available as
    :func:`epoch_inverse_time_decay`; :func:`power_schedule` generalises the
    exponent.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      decay_steps: :math:`T > 0`.
      decay_rate: :math:`r \ge 0`.
      staircase: floor :math:`t / T`. Default ``False``, as in Keras. Static.

    Argument order and defaults follow Keras (``initial_learning_rate,
    decay_steps, decay_rate, staircase=False``). A traced non-positive
    ``decay_steps`` gives ``init_value`` at every step.
    """
    _non_negative("init_value", init_value)
    _positive("decay_steps", decay_steps)
    _non_negative("decay_rate", decay_rate)

    def schedule(step: ArrayLike) -> jax.Array:
        init = _as_float(init_value)
        steps = jnp.asarray(decay_steps)
        progress = _as_float(step) / _safe_divisor(steps)
        if staircase:
            progress = jnp.floor(progress)
        return jnp.where(steps > 0, init / (1 + decay_rate * progress), init)

    return schedule


def power_schedule(
    init_value: ArrayLike,
    decay_steps: ArrayLike,
    power: ArrayLike = 1.0,
) -> Schedule:
    r"""Power scheduling (Geron): :math:`\alpha_t = \alpha_0 / (1 + t/s)^c`.

    The rate halves after :math:`s` steps when :math:`c = 1`, which is
    inverse time decay with ``decay_rate=1, decay_steps=s``; the old Keras
    optimizer argument ``decay`` is :math:`1/s` with :math:`c = 1`.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      decay_steps: :math:`s > 0`.
      power: :math:`c`, non-negative. Default 1.

    A traced non-positive ``decay_steps`` gives ``init_value`` at every step.
    """
    _non_negative("init_value", init_value)
    _positive("decay_steps", decay_steps)
    _non_negative("power", power)

    def schedule(step: ArrayLike) -> jax.Array:
        init = _as_float(init_value)
        steps = jnp.asarray(decay_steps)
        base = 1 + _as_float(step) / _safe_divisor(steps)
        return jnp.where(steps > 0, init / base**power, init)

    return schedule


def polynomial_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
    transition_steps: ArrayLike,
    transition_begin: ArrayLike = 0,
    *,
    cycle: bool = False,
) -> Schedule:
    r"""Polynomial transition from ``init_value`` to ``end_value``.

    .. math::
      \alpha_t = (\alpha_0 - \alpha_E)
        \left(1 - \frac{\min(\max(t - B, 0), T)}{T}\right)^{c} + \alpha_E

    held at :math:`\alpha_0` before :math:`B` and at :math:`\alpha_E` after
    :math:`B + T`. With ``cycle=True`` the horizon instead grows to the first
    multiple of :math:`T` that the elapsed steps :math:`e = \max(t - B, 0)`
    have not passed, :math:`\alpha_t = (\alpha_0 - \alpha_E) (1 - e / (T
    \max(\lceil e / T \rceil, 1)))^c + \alpha_E`: the value reaches
    :math:`\alpha_E` at every multiple of :math:`T` and jumps back up after it,
    each time to a lower value. That is Keras' ``PolynomialDecay(
    initial_learning_rate, decay_steps, end_learning_rate, power, cycle=True)``
    with ``transition_steps = decay_steps`` (Keras' default ``end_value`` is
    1e-4 and ``power`` 1).

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      end_value: :math:`\alpha_E`, non-negative.
      power: :math:`c`.
      transition_steps: :math:`T \ge 0`. Zero means no transition: the value
        stays at ``init_value`` (as in optax).
      transition_begin: :math:`B \ge 0`. Default 0.
      cycle: Keras' ``cycle``, see above. Default ``False``. Static.

    Same signature and values as ``optax.polynomial_schedule``; a concrete
    negative ``transition_steps`` or ``transition_begin`` raises instead of
    falling back, and traced ones fall back as optax does.

    >>> keras_cycle = polynomial_schedule(1.0, 0.0, 1.0, 10, cycle=True)
    >>> [round(float(keras_cycle(t)), 3) for t in (0, 5, 10, 11, 20, 21)]
    [1.0, 0.5, 0.0, 0.45, 0.0, 0.3]
    """
    _non_negative("init_value", init_value)
    _non_negative("end_value", end_value)
    _non_negative("transition_steps", transition_steps)
    _non_negative("transition_begin", transition_begin)

    def schedule(step: ArrayLike) -> jax.Array:
        init = _as_float(init_value)
        steps = jnp.asarray(transition_steps)
        divisor = _safe_divisor(steps)
        elapsed = jnp.maximum(_as_float(step) - jnp.maximum(transition_begin, 0), 0)
        if cycle:
            divisor = divisor * _cycles(elapsed, divisor)
        else:
            elapsed = jnp.minimum(elapsed, divisor)
        fraction = 1 - elapsed / divisor
        value = (init - end_value) * fraction**power + end_value
        return jnp.where(steps > 0, value, init)

    return schedule


def linear_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    transition_steps: ArrayLike,
    transition_begin: ArrayLike = 0,
) -> Schedule:
    r"""Linear transition from ``init_value`` to ``end_value``.

    .. math::
      \alpha_t = \alpha_0 + \frac{\min(\max(t - B, 0), T)}{T}
        (\alpha_E - \alpha_0)

    With :math:`\alpha_E = 0` and :math:`B = 0` this is the lecture's linear
    decay :math:`\alpha_0 (1 - t/T)` for :math:`t \le T`; to count :math:`t`
    in epochs, pass ``transition_steps = T * steps_per_epoch``. With
    :math:`\alpha_E > \alpha_0` it is a linear warmup.

    Same signature and values as ``optax.linear_schedule``
    (:func:`polynomial_schedule` with ``power=1``); see there for the
    arguments.
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def _cycles(elapsed: jax.Array, length: jax.Array) -> jax.Array:
    """The smallest whole number k >= 1 with ``k * length >= elapsed`` (Keras' ``cycle`` multiplier).

    Division on XLA:CPU is not correctly rounded (90 / 30 > 3 there), so the
    quotient's ceiling is checked with products, which are exact for whole numbers.
    """
    k = jnp.ceil(elapsed / length)
    k = jnp.where((k - 1) * length >= elapsed, k - 1, k)
    k = jnp.where(k * length < elapsed, k + 1, k)
    return jnp.maximum(k, 1)


def _cosine(
    init_value: ArrayLike,
    end_value: ArrayLike,
    decay_steps: ArrayLike,
    exponent: ArrayLike,
    periodic: bool = False,
) -> Schedule:
    """Cosine from ``init_value`` at step 0 to ``end_value`` at ``decay_steps``, then held or on."""

    def schedule(step: ArrayLike) -> jax.Array:
        steps = jnp.asarray(decay_steps)
        progress = jnp.maximum(_as_float(step) / _safe_divisor(steps), 0)
        progress = jnp.where(steps > 0, progress if periodic else jnp.minimum(progress, 1), 1)
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * progress))
        return (_as_float(init_value) - end_value) * cosine**exponent + end_value

    return schedule


def cosine_decay_schedule(
    init_value: ArrayLike,
    decay_steps: ArrayLike,
    alpha: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
    *,
    periodic: bool = False,
) -> Schedule:
    r"""Cosine decay (Loshchilov and Hutter, 2017, SGDR).

    .. math::
      \alpha_t = \alpha_0 \left[(1 - a)
        \left(\tfrac12 \left(1 + \cos\frac{\pi \min(t, T)}{T}\right)\right)^{p}
        + a\right]

    By default the value holds at :math:`a \alpha_0` after :math:`T` steps
    (optax, Keras). ``periodic=True`` drops the :math:`\min`: the cosine goes
    on with period :math:`2T`, back up to :math:`\alpha_0` at :math:`2T`,
    which is the closed form of PyTorch's ``CosineAnnealingLR(T_max=T,
    eta_min=a * base_lr)``, :math:`\eta_t = \eta_{min} + (\eta_{max} -
    \eta_{min}) (1 + \cos(\pi t / T_{max})) / 2` for every :math:`t`.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      decay_steps: :math:`T > 0`.
      alpha: :math:`a`, the final value as a fraction of ``init_value``,
        non-negative. Default 0.
      exponent: :math:`p`. Default 1.
      periodic: continue past :math:`T` as PyTorch does. Default ``False``.
        Static.

    Same signature and values as ``optax.cosine_decay_schedule`` and Keras'
    ``CosineDecay`` without warmup. A traced non-positive ``decay_steps``
    gives the final value :math:`a \alpha_0` at every step.

    >>> held = cosine_decay_schedule(1.0, 10)
    >>> periodic = cosine_decay_schedule(1.0, 10, periodic=True)
    >>> [round(float(held(t)), 3) for t in (0, 5, 10, 15, 20)]
    [1.0, 0.5, 0.0, 0.0, 0.0]
    >>> [round(float(periodic(t)), 3) for t in (0, 5, 10, 15, 20)]
    [1.0, 0.5, 0.0, 0.5, 1.0]
    """
    _non_negative("init_value", init_value)
    _positive("decay_steps", decay_steps)
    _non_negative("alpha", alpha)
    return _cosine(init_value, _as_float(init_value) * alpha, decay_steps, exponent, periodic)


def warmup_cosine_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: ArrayLike,
    decay_steps: ArrayLike,
    end_value: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
    *,
    decay_steps_include_warmup: bool = True,
) -> Schedule:
    r"""Linear warmup from ``init_value`` to ``peak_value``, then cosine decay.

    With :math:`W` warmup steps and :math:`C` cosine steps,

    .. math::
      \alpha_t = \begin{cases}
        \alpha_0 + \frac{t}{W} (\alpha_P - \alpha_0), & t < W \\
        \alpha_E + (\alpha_P - \alpha_E)
          \left(\tfrac12 \left(1 + \cos\frac{\pi \min(t - W, C)}{C}\right)\right)^{p},
          & t \ge W
      \end{cases}

    Frameworks count the warmup differently. optax counts it *inside*
    ``decay_steps`` (:math:`C = T - W`; the schedule ends at step :math:`T`),
    which is the default here. Keras' ``CosineDecay(warmup_steps=...)`` counts
    it *outside* (:math:`C = T`; the schedule ends at :math:`W + T`): pass
    ``decay_steps_include_warmup=False`` and ``end_value = alpha *
    peak_value`` for Keras' ``alpha``.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      peak_value: :math:`\alpha_P`, non-negative.
      warmup_steps: :math:`W \ge 0`.
      decay_steps: :math:`T`; must exceed ``warmup_steps`` when it includes
        them, else be positive.
      end_value: :math:`\alpha_E`, non-negative. Default 0.
      exponent: :math:`p`. Default 1.
      decay_steps_include_warmup: ``True`` for optax's convention (default),
        ``False`` for Keras'. Static.

    With the default it gives optax's numbers. (optax returns 0 after the
    warmup when ``peak_value`` is 0; this schedule still ends at
    ``end_value``.) A traced cosine length :math:`C \le 0` drops to
    ``end_value`` right after the warmup.
    """
    _non_negative("init_value", init_value)
    _non_negative("peak_value", peak_value)
    _non_negative("warmup_steps", warmup_steps)
    _non_negative("end_value", end_value)
    if decay_steps_include_warmup:
        warmup = _concrete(warmup_steps)
        _require(
            "decay_steps",
            decay_steps,
            lambda v: v > (0 if warmup is None else warmup),
            "greater than warmup_steps (optax counts the warmup inside decay_steps)",
        )
        cosine_steps = jnp.asarray(decay_steps) - jnp.asarray(warmup_steps)
    else:
        _positive("decay_steps", decay_steps)
        cosine_steps = decay_steps
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            _cosine(peak_value, end_value, cosine_steps, exponent),
        ],
        [warmup_steps],
    )


def cosine_decay_restarts(
    init_value: ArrayLike,
    first_decay_steps: ArrayLike,
    t_mul: ArrayLike = 2.0,
    m_mul: ArrayLike = 1.0,
    alpha: ArrayLike = 0.0,
) -> Schedule:
    r"""Cosine decay with warm restarts (SGDR; Keras ``CosineDecayRestarts``).

    Cycle :math:`i = 0, 1, \dots` lasts :math:`T_i = T_0 m^i` steps
    (:math:`m` = ``t_mul``) and starts at :math:`S_i = T_0 (m^i - 1) / (m -
    1)` (:math:`T_0 i` when :math:`m = 1`); within it

    .. math::
      \alpha_t = \alpha_0 \left[(1 - a)\, \tfrac12\, k^i
        \left(1 + \cos\frac{\pi (t - S_i)}{T_i}\right) + a\right],
      \qquad S_i \le t < S_{i+1},

    with :math:`k` = ``m_mul``: each cycle decays from :math:`\alpha_0 (a +
    (1 - a) k^i)` to :math:`a \alpha_0` and restarts at :math:`S_{i+1}`.

    Names and defaults are Keras' (``initial_learning_rate,
    first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0``), and so are the
    values. PyTorch's ``CosineAnnealingWarmRestarts(T_0, T_mult=1,
    eta_min=0)`` stepped every step is ``first_decay_steps=T_0,
    t_mul=T_mult, m_mul=1, alpha=eta_min / base_lr`` (note PyTorch's default
    ``T_mult`` is 1, Keras' 2); stepped once per epoch, or with fractional
    epochs, pass ``first_decay_steps = T_0 * steps_per_epoch``.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      first_decay_steps: :math:`T_0 > 0`, the first cycle's length.
      t_mul: :math:`m \ge 1`, each cycle's length over the previous one's.
        Default 2.
      m_mul: :math:`k \ge 0`, each restart's height over the previous one's.
        Default 1.
      alpha: :math:`a`, the minimum as a fraction of ``init_value``,
        non-negative. Default 0.

    The cycle is found from a logarithm, then checked against :math:`S_i` with
    products (exact for whole numbers), so a restart falls on :math:`S_i` even
    where the logarithm or a division rounds the wrong way. A traced
    non-positive ``first_decay_steps`` gives the
    minimum :math:`a \alpha_0` at every step; a traced ``t_mul < 1`` is not
    meaningful.

    >>> schedule = cosine_decay_restarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    >>> [round(float(schedule(t)), 3) for t in (0, 5, 9, 10, 20, 29, 30)]
    [1.0, 0.5, 0.024, 0.5, 0.25, 0.003, 0.25]
    """
    _non_negative("init_value", init_value)
    _positive("first_decay_steps", first_decay_steps)
    _require("t_mul", t_mul, lambda v: v >= 1, "at least 1")
    _non_negative("m_mul", m_mul)
    _non_negative("alpha", alpha)

    def schedule(step: ArrayLike) -> jax.Array:
        init = _as_float(init_value)
        t = jnp.maximum(_as_float(step), 0)
        first = _safe_divisor(jnp.asarray(first_decay_steps)).astype(t.dtype)
        growth = jnp.asarray(t_mul, t.dtype)
        geometric = growth != 1
        base = jnp.where(geometric, growth, 2)  # any base > 1 where the cycles do not grow

        def started(cycle):  # S_i <= t, times (m - 1) > 0 so that no division rounds
            return jnp.where(geometric, first * (base**cycle - 1) <= t * (base - 1), first * cycle <= t)

        periods = t / first
        logarithm = jnp.log1p(periods * (base - 1)) / jnp.log(base)
        cycle = jnp.floor(jnp.where(geometric, logarithm, periods))
        cycle = jnp.where(started(cycle + 1), cycle + 1, cycle)
        cycle = jnp.where(started(cycle), cycle, cycle - 1)
        start = jnp.where(geometric, first * (base**cycle - 1) / (base - 1), first * cycle)
        progress = (t - start) / (first * jnp.where(geometric, base**cycle, 1))
        cosine = 0.5 * m_mul**cycle * (1 + jnp.cos(jnp.pi * progress))
        value = init * ((1 - alpha) * cosine + alpha)
        return jnp.where(jnp.asarray(first_decay_steps) > 0, value, init * alpha)

    return schedule


ONECYCLE_CONVENTIONS = ("optax", "pytorch")


def cosine_onecycle_schedule(
    transition_steps: ArrayLike,
    peak_value: ArrayLike,
    pct_start: ArrayLike = 0.3,
    div_factor: ArrayLike = 25.0,
    final_div_factor: ArrayLike = 1e4,
    *,
    three_phase: bool = False,
    convention: str = "optax",
) -> Schedule:
    r"""One-cycle: cosine up from ``peak / div_factor`` to ``peak_value``, then down.

    With :math:`\alpha_P` = ``peak_value``, :math:`\alpha_I = \alpha_P / d`
    and :math:`\alpha_F = \alpha_I / f` (:math:`d, f` = ``div_factor``,
    ``final_div_factor``), the schedule runs through the values
    :math:`\alpha_I, \alpha_P, \alpha_F` (``three_phase=True``:
    :math:`\alpha_I, \alpha_P, \alpha_I, \alpha_F`, the first two phases
    symmetric), reaching them at the phase ends :math:`e_0 = 0, e_1, \dots`;
    between two ends it anneals by a half cosine,

    .. math::
      \alpha_t = v_{j+1} + (v_j - v_{j+1})\, \tfrac12
        \left(1 + \cos\frac{\pi (t - e_j)}{e_{j+1} - e_j}\right),
      \qquad e_j \le t \le e_{j+1},

    and holds at :math:`\alpha_F` after the last end. ``convention`` says
    where the ends are, for :math:`T` = ``transition_steps`` and :math:`p` =
    ``pct_start``:

    - ``"optax"`` (default): :math:`\lfloor pT \rfloor` (and
      :math:`\lfloor 2pT \rfloor`), then :math:`T`; the values of
      ``optax.cosine_onecycle_schedule``, whose names and defaults these are.
      (optax rounds :math:`pT` in float64, here in float32: where :math:`pT`
      is an integer up to rounding the peak can move by one step.)
    - ``"pytorch"``: :math:`pT - 1` (and :math:`2pT - 2`), then :math:`T - 1`;
      PyTorch's ``OneCycleLR(max_lr=peak_value, total_steps=T,
      anneal_strategy='cos')``, which reaches :math:`\alpha_F` on the last
      step. PyTorch refuses steps past ``total_steps`` and cycles the momentum
      too; this schedule holds :math:`\alpha_F` and leaves momentum alone.

    Args:
      transition_steps: :math:`T > 0`, the length of the cycle.
      peak_value: :math:`\alpha_P`, non-negative.
      pct_start: :math:`p` in [0, 1] (at most 1/2 with ``three_phase``), the
        fraction of the cycle spent rising. Default 0.3.
      div_factor: :math:`d > 0`. Default 25.
      final_div_factor: :math:`f > 0`. Default 1e4.
      three_phase: rise, fall back to :math:`\alpha_I`, then anneal to
        :math:`\alpha_F` (Smith's original; PyTorch's ``three_phase``).
        Default ``False``. Static.
      convention: ``"optax"`` or ``"pytorch"``, see above. Static.

    Traced values are not checked; a phase of non-positive length is skipped.

    >>> schedule = cosine_onecycle_schedule(100, 1.0, pct_start=0.25, div_factor=10)
    >>> [round(float(schedule(t)), 6) for t in (0, 25, 100, 150)]
    [0.1, 1.0, 1e-05, 1e-05]
    """
    if convention not in ONECYCLE_CONVENTIONS:
        raise ValueError(
            f"convention must be one of {list(ONECYCLE_CONVENTIONS)}, got {convention!r}"
        )
    _positive("transition_steps", transition_steps)
    _non_negative("peak_value", peak_value)
    if three_phase:
        _require("pct_start", pct_start, lambda v: (v >= 0) & (v <= 0.5),
                 "in [0, 0.5] with three_phase (two rising and falling phases of pct_start each)")
    else:
        _require("pct_start", pct_start, lambda v: (v >= 0) & (v <= 1), "in [0, 1]")
    _positive("div_factor", div_factor)
    _positive("final_div_factor", final_div_factor)

    def schedule(step: ArrayLike) -> jax.Array:
        total = _as_float(transition_steps)
        rising = total * pct_start
        peak = _as_float(peak_value)
        initial = peak / div_factor
        if convention == "optax":
            ends = [jnp.floor(rising), jnp.floor(2 * rising), total]
        else:
            ends = [rising - 1, 2 * rising - 2, total - 1]
        values = [initial, peak, initial, initial / final_div_factor]
        if not three_phase:
            ends, values = [ends[0], ends[2]], [initial, peak, values[3]]
        return _cosine_phases(_as_float(step), ends, values)

    return schedule


def _cosine_phases(t: jax.Array, ends, values) -> jax.Array:
    """Half cosines from ``values[j]`` to ``values[j + 1]``, ending at ``ends[j]`` (starting at 0)."""
    start, value = 0, None
    for j, end in enumerate(ends):
        length = end - start
        progress = jnp.where(length > 0, jnp.clip((t - start) / _safe_divisor(length), 0, 1), 1)
        phase = values[j + 1] + (values[j] - values[j + 1]) * 0.5 * (1 + jnp.cos(jnp.pi * progress))
        value = phase if value is None else jnp.where(t >= start, phase, value)
        start = end
    return value


def inverse_sqrt_schedule(
    peak_value: ArrayLike,
    warmup_steps: ArrayLike,
    timescale: ArrayLike | None = None,
) -> Schedule:
    r"""Linear warmup from 0, then inverse square-root decay (Transformers).

    .. math::
      \alpha_t = \begin{cases}
        \alpha_P \, t / \max(W, 1), & t < W \\
        \alpha_P \sqrt{\dfrac{\tau}{t - W + \tau}}, & t \ge W
      \end{cases}

    With the default :math:`\tau = W` the decay is
    :math:`\alpha_P \sqrt{W / t}`, the shape of Vaswani et al. (2017).

    Args:
      peak_value: :math:`\alpha_P`, the value at the end of the warmup,
        non-negative.
      warmup_steps: :math:`W \ge 0`.
      timescale: :math:`\tau > 0`. Default ``None``: ``warmup_steps``, or
        10 000 when there is no warmup.

    Matches Hugging Face Transformers' ``get_inverse_sqrt_schedule``
    multiplied by the optimizer's learning rate ``peak_value``.
    """
    _non_negative("peak_value", peak_value)
    _non_negative("warmup_steps", warmup_steps)
    _positive("timescale", timescale)

    def schedule(step: ArrayLike) -> jax.Array:
        peak = _as_float(peak_value)
        t = _as_float(step)
        warmup = jnp.asarray(warmup_steps)
        if timescale is None:
            tau = jnp.where(warmup > 0, warmup, 10_000)
        else:
            tau = jnp.asarray(timescale)
        warming = peak * t / jnp.maximum(warmup, 1)
        decaying = peak * jnp.sqrt(tau / jnp.maximum(t - warmup + tau, 1e-12))
        return jnp.where(t < warmup, warming, decaying)

    return schedule


def _boundaries_and_scales(
    boundaries_and_scales: Mapping[int, ArrayLike] | tuple[ArrayLike, ArrayLike],
) -> tuple[jax.Array, jax.Array]:
    if isinstance(boundaries_and_scales, Mapping):
        items = sorted(boundaries_and_scales.items())
        boundaries = [boundary for boundary, _ in items]
        scales = [scale for _, scale in items]
    else:
        boundaries, scales = boundaries_and_scales
    _non_negative("boundaries_and_scales (scales)", scales)
    boundaries = jnp.asarray(boundaries)
    scales = _as_float(jnp.asarray(scales))
    if boundaries.ndim != 1 or boundaries.shape != scales.shape:
        raise ValueError(
            "boundaries_and_scales must map each boundary to one scale, got "
            f"{boundaries.shape[0] if boundaries.ndim else 0} boundaries and "
            f"{scales.shape[0] if scales.ndim else 0} scales"
        )
    return boundaries, scales


def piecewise_constant_schedule(
    init_value: ArrayLike,
    boundaries_and_scales: Mapping[int, ArrayLike] | tuple[ArrayLike, ArrayLike] | None = None,
) -> Schedule:
    r"""Piecewise constant: multiply by each scale once its boundary is reached.

    .. math::
      \alpha_t = \alpha_0 \prod_{i \,:\, t \ge b_i} s_i

    The switch happens *at* the boundary (:math:`t \ge b_i`) and the scales
    accumulate, as in optax's ``piecewise_constant_schedule``. Keras'
    ``PiecewiseConstantDecay`` lists the values themselves and switches
    *after* the boundary (:math:`t > b_i`): that is
    :func:`piecewise_constant_decay`.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      boundaries_and_scales: ``{b_i: s_i}`` as in optax (the boundaries are
        dictionary keys, so they must be concrete; the scales may be traced),
        or a pair ``(boundaries, scales)`` of equal-length sequences or 1-D
        arrays, all of which may be traced. Scales are non-negative. Default
        ``None``: a constant ``init_value``.
    """
    _non_negative("init_value", init_value)
    if boundaries_and_scales is None:
        return constant_schedule(init_value)
    boundaries, scales = _boundaries_and_scales(boundaries_and_scales)

    def schedule(step: ArrayLike) -> jax.Array:
        reached = jnp.asarray(step)[..., None] >= boundaries
        return _as_float(init_value) * jnp.prod(jnp.where(reached, scales, 1), axis=-1)

    return schedule


def piecewise_constant_decay(boundaries: ArrayLike, values: ArrayLike) -> Schedule:
    r"""Piecewise constant values, switching after each boundary (Keras).

    .. math::
      \alpha_t = v_i \quad \text{where } i = \#\{j : t > b_j\}

    i.e. ``values[0]`` up to and including step ``boundaries[0]``,
    ``values[1]`` up to and including ``boundaries[1]``, ..., and
    ``values[-1]`` after the last boundary. This is Keras'
    ``PiecewiseConstantDecay``; optax's convention (switch at the boundary,
    scales instead of values) is :func:`piecewise_constant_schedule`.

    Args:
      boundaries: increasing step counts, a sequence or 1-D array (traceable).
      values: one more value than boundaries, non-negative (traceable).
    """
    boundaries = jnp.asarray(boundaries)
    values = _as_float(jnp.asarray(values))
    if boundaries.ndim != 1 or values.ndim != 1 or values.shape[0] != boundaries.shape[0] + 1:
        raise ValueError(
            "values must hold one more entry than boundaries, got "
            f"{values.shape} values for {boundaries.shape} boundaries"
        )
    _require("boundaries", boundaries, lambda b: np.diff(b) >= 0, "non-decreasing")
    _non_negative("values", values)

    def schedule(step: ArrayLike) -> jax.Array:
        index = jnp.sum(jnp.asarray(step)[..., None] > boundaries, axis=-1)
        return values[index]

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: ArrayLike) -> Schedule:
    r"""Run ``schedules`` one after another, switching at ``boundaries``.

    .. math::
      \alpha_t = S_i(t - b_{i-1}) \quad \text{for } b_{i-1} \le t < b_i

    with :math:`b_0 = 0` for the first schedule, which sees the step
    unchanged. Each later schedule sees the steps since its boundary, as in
    ``optax.join_schedules``, whose values this reproduces.

    Args:
      schedules: ``n`` schedules (any callables ``step -> value``).
      boundaries: ``n - 1`` step counts, a sequence or 1-D array; may be
        traced.
    """
    schedules = tuple(schedules)
    boundaries = jnp.asarray(boundaries)
    if not schedules or boundaries.ndim != 1 or boundaries.shape[0] != len(schedules) - 1:
        raise ValueError(
            "boundaries must hold one entry fewer than schedules, got "
            f"{len(schedules)} schedules and boundaries of shape {boundaries.shape}"
        )

    def schedule(step: ArrayLike) -> jax.Array:
        step = jnp.asarray(step)
        value = schedules[0](step)
        for index, later in enumerate(schedules[1:]):
            boundary = boundaries[index]
            value = jnp.where(step < boundary, value, later(step - boundary))
        return value

    return schedule


# --------------------------------------------------------------------------
# Epoch-based schedules (the lecture's forms)


def epoch_inverse_time_decay(
    init_value: ArrayLike,
    decay_rate: ArrayLike,
    steps_per_epoch: ArrayLike = 1,
    staircase: bool = True,
) -> Schedule:
    r"""The lecture's inverse time decay per epoch.

    .. math::
      \alpha = \frac{\alpha_0}{1 + k \cdot e}

    where :math:`e` counts epochs from 0 (see the module docstring).

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      decay_rate: :math:`k \ge 0`.
      steps_per_epoch: positive. Default 1 (``step`` is the epoch).
      staircase: whole epochs (default) or fractional ones. Static.

    Equals :func:`inverse_time_decay` (Keras ``InverseTimeDecay``) with
    ``decay_steps=steps_per_epoch``.
    """
    _positive("steps_per_epoch", steps_per_epoch)
    return inverse_time_decay(init_value, steps_per_epoch, decay_rate, staircase)


def epoch_exponential_decay(
    init_value: ArrayLike,
    decay_rate: ArrayLike,
    steps_per_epoch: ArrayLike = 1,
    staircase: bool = True,
) -> Schedule:
    r"""The lecture's exponential decay per epoch.

    .. math::
      \alpha = \alpha_0 \, e^{-k \cdot e}

    where :math:`e` counts epochs from 0 (see the module docstring). This is
    :func:`exponential_decay` with ``decay_rate = exp(-k)`` and
    ``transition_steps = steps_per_epoch``.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      decay_rate: :math:`k \ge 0`.
      steps_per_epoch: positive. Default 1 (``step`` is the epoch).
      staircase: whole epochs (default) or fractional ones. Static.
    """
    _non_negative("init_value", init_value)
    _non_negative("decay_rate", decay_rate)
    _positive("steps_per_epoch", steps_per_epoch)

    def schedule(step: ArrayLike) -> jax.Array:
        epochs = _epochs(step, steps_per_epoch, staircase)
        return _as_float(init_value) * jnp.exp(-decay_rate * epochs)

    return schedule


def epoch_inverse_sqrt_decay(
    init_value: ArrayLike,
    scale: ArrayLike = 1.0,
    steps_per_epoch: ArrayLike = 1,
    staircase: bool = True,
) -> Schedule:
    r"""The lecture's :math:`k \alpha_0 / \sqrt{\text{epoch}}`, epochs counted from 1.

    .. math::
      \alpha = \frac{k \, \alpha_0}{\sqrt{e + 1}}

    The lecture's formula is infinite at epoch 0, so the first epoch is
    epoch 1 here: :math:`e` counts completed epochs from 0 (see the module
    docstring) and the first epoch trains at :math:`k \alpha_0`.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      scale: :math:`k`, non-negative. Default 1.
      steps_per_epoch: positive. Default 1 (``step`` is the epoch).
      staircase: whole epochs (default) or fractional ones. Static.
    """
    _non_negative("init_value", init_value)
    _non_negative("scale", scale)
    _positive("steps_per_epoch", steps_per_epoch)

    def schedule(step: ArrayLike) -> jax.Array:
        epochs = _epochs(step, steps_per_epoch, staircase)
        return scale * _as_float(init_value) / jnp.sqrt(epochs + 1)

    return schedule


def step_decay(
    init_value: ArrayLike,
    epochs_per_drop: ArrayLike,
    factor: ArrayLike = 0.5,
    steps_per_epoch: ArrayLike = 1,
) -> Schedule:
    r"""Step (staircase) decay: multiply by ``factor`` every few epochs.

    .. math::
      \alpha = \alpha_0 \, f^{\lfloor e / n \rfloor},
      \qquad e = \lfloor \text{step} / \text{steps\_per\_epoch} \rfloor

    The lecture's "decrease the learning rate after a given number of epochs
    by half"; PyTorch's ``StepLR(step_size=n, gamma=f)`` stepped once per
    epoch.

    Args:
      init_value: :math:`\alpha_0`, non-negative.
      epochs_per_drop: :math:`n > 0`.
      factor: :math:`f \ge 0`. Default 0.5.
      steps_per_epoch: positive. Default 1 (``step`` is the epoch).
    """
    _non_negative("init_value", init_value)
    _positive("epochs_per_drop", epochs_per_drop)
    _non_negative("factor", factor)
    _positive("steps_per_epoch", steps_per_epoch)

    def schedule(step: ArrayLike) -> jax.Array:
        drops = jnp.floor(_epochs(step, steps_per_epoch, True) / epochs_per_drop)
        return _as_float(init_value) * factor**drops

    return schedule


# --------------------------------------------------------------------------
# Reduce on plateau


class PlateauState(NamedTuple):
    """State of reduce-on-plateau, a pytree of arrays.

    Attributes:
      learning_rate: the current learning rate. Start it at 1.0 to use it as
        a multiplier on another schedule.
      best: the best metric so far; NaN until a metric has improved on the
        starting point (infinitely bad).
      wait: epochs without improvement since the last improvement, reduction
        or cooldown (Keras' ``wait``, PyTorch's ``num_bad_epochs``), int32.
      cooldown_counter: epochs of cooldown left, int32.
    """

    learning_rate: jax.Array
    best: jax.Array
    wait: jax.Array
    cooldown_counter: jax.Array


def plateau_init(learning_rate: ArrayLike) -> PlateauState:
    """Start reduce-on-plateau at ``learning_rate`` (may be traced).

    The state does not depend on ``mode``: ``best`` starts as NaN, which
    :func:`plateau_update` reads as the worst possible value.
    """
    _non_negative("learning_rate", learning_rate)
    rate = _as_float(learning_rate)
    return PlateauState(
        learning_rate=rate,
        best=jnp.full((), jnp.nan, rate.dtype),
        wait=jnp.zeros((), jnp.int32),
        cooldown_counter=jnp.zeros((), jnp.int32),
    )


_PYTORCH_EPS = 1e-8  # PyTorch skips reductions smaller than this


def plateau_update(
    state: PlateauState,
    metric: ArrayLike,
    *,
    factor: ArrayLike = 0.1,
    patience: ArrayLike = 10,
    min_delta: ArrayLike = 1e-4,
    cooldown: ArrayLike = 0,
    min_lr: ArrayLike = 0.0,
    mode: str = "min",
    threshold_mode: str | None = None,
    convention: str = "keras",
) -> PlateauState:
    r"""Advance reduce-on-plateau by one epoch's ``metric``.

    A metric *improves* on the best so far :math:`m^*` when

    ============  ===============================  ===============================
    mode          ``threshold_mode='abs'``         ``threshold_mode='rel'``
    ============  ===============================  ===============================
    ``'min'``     :math:`m < m^* - \delta`         :math:`m < m^* (1 - \delta)`
    ``'max'``     :math:`m > m^* + \delta`         :math:`m > m^* (1 + \delta)`
    ============  ===============================  ===============================

    with :math:`\delta` = ``min_delta``. On a reduction the rate becomes
    :math:`\max(f \alpha, \alpha_{\min})`, the wait resets and the cooldown
    starts. The two frameworks count differently, and ``convention`` picks:

    ``'keras'`` (Keras ``ReduceLROnPlateau``; default): a cooldown epoch
    resets the wait and is never counted as bad; otherwise a non-improving
    epoch increments the wait, and the rate is reduced when
    :math:`\text{wait} \ge \text{patience}` and :math:`\alpha > \alpha_{\min}`.
    The threshold defaults to ``'abs'``.

    ``'pytorch'`` (``torch.optim.lr_scheduler.ReduceLROnPlateau``): every
    non-improving epoch increments the count, epochs in cooldown are then
    forgotten, and the rate is reduced when
    :math:`\text{bad epochs} > \text{patience}` (one epoch later than Keras
    for the same ``patience``); reductions under 1e-8 are skipped. The
    threshold defaults to ``'rel'``.

    Args:
      state: from :func:`plateau_init` or a previous update.
      metric: the monitored value for this epoch (NaN never improves).
      factor: :math:`f`, in [0, 1). Default 0.1 (both frameworks).
      patience: non-negative. Default 10 (both frameworks).
      min_delta: :math:`\delta \ge 0` (PyTorch's ``threshold``). Default 1e-4
        (both frameworks).
      cooldown: epochs after a reduction during which no reduction happens,
        non-negative. Default 0.
      min_lr: :math:`\alpha_{\min} \ge 0`. Default 0.
      mode: ``'min'`` (default) or ``'max'``. Static.
      threshold_mode: ``'abs'``, ``'rel'`` or ``None`` for the convention's
        default. Static.
      convention: ``'keras'`` (default) or ``'pytorch'``. Static.

    All numeric arguments may be traced, so ``jax.vmap`` can run a
    population with different factors and patiences. Returns the new state;
    its ``learning_rate`` is the rate for the next epoch.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if convention not in ("keras", "pytorch"):
        raise ValueError(f"convention must be 'keras' or 'pytorch', got {convention!r}")
    if threshold_mode is None:
        threshold_mode = "abs" if convention == "keras" else "rel"
    if threshold_mode not in ("abs", "rel"):
        raise ValueError(f"threshold_mode must be 'abs', 'rel' or None, got {threshold_mode!r}")
    _require("factor", factor, lambda v: (v >= 0) & (v < 1), "in [0, 1)")
    _non_negative("patience", patience)
    _non_negative("min_delta", min_delta)
    _non_negative("cooldown", cooldown)
    _non_negative("min_lr", min_lr)

    rate = state.learning_rate
    metric = jnp.asarray(metric, state.best.dtype)
    worst = jnp.inf if mode == "min" else -jnp.inf
    best = jnp.where(jnp.isnan(state.best), worst, state.best)
    sign = -1 if mode == "min" else 1
    if threshold_mode == "abs":
        target = best + sign * min_delta
    else:
        target = best * (1 + sign * min_delta)
    improved = metric < target if mode == "min" else metric > target
    new_best = jnp.where(improved, metric, state.best)
    reduced_rate = jnp.maximum(rate * factor, min_lr).astype(rate.dtype)
    counter = state.cooldown_counter
    in_cooldown = counter > 0
    counter = jnp.where(in_cooldown, counter - 1, counter)

    if convention == "keras":
        wait = jnp.where(in_cooldown, 0, state.wait)
        still_cooling = counter > 0
        wait = jnp.where(improved, 0, jnp.where(still_cooling, wait, wait + 1))
        reduce = ~improved & ~still_cooling & (wait >= patience) & (rate > min_lr)
        new_rate = jnp.where(reduce, reduced_rate, rate)
    else:
        wait = jnp.where(improved, 0, state.wait + 1)
        wait = jnp.where(in_cooldown, 0, wait)
        reduce = wait > patience
        new_rate = jnp.where(reduce & (rate - reduced_rate > _PYTORCH_EPS), reduced_rate, rate)

    counter = jnp.where(reduce, jnp.asarray(cooldown).astype(counter.dtype), counter)
    wait = jnp.where(reduce, 0, wait).astype(state.wait.dtype)
    return PlateauState(learning_rate=new_rate, best=new_best, wait=wait, cooldown_counter=counter)


# --------------------------------------------------------------------------
# Lookup by name

# Bounds ``[low, high)`` a sweep checks for arguments that only these schedules take.
_BOUNDS = {
    "cosine_decay_restarts": {"first_decay_steps": (0.0, None), "t_mul": (1.0, None),
                              "m_mul": (0.0, None)},
    "cosine_onecycle_schedule": {"pct_start": (0.0, 1.0), "div_factor": (0.0, None),
                                 "final_div_factor": (0.0, None)},
}
for _factory in (
    constant_schedule,
    cosine_decay_restarts,
    cosine_decay_schedule,
    cosine_onecycle_schedule,
    epoch_exponential_decay,
    epoch_inverse_sqrt_decay,
    epoch_inverse_time_decay,
    exponential_decay,
    inverse_sqrt_schedule,
    inverse_time_decay,
    join_schedules,
    linear_schedule,
    piecewise_constant_decay,
    piecewise_constant_schedule,
    polynomial_schedule,
    power_schedule,
    step_decay,
    warmup_cosine_decay_schedule,
):
    # ``arrays``: arguments that hold a list of values, which no sweep can set from numbers.
    _arrays = ("boundaries", "values") if _factory in (piecewise_constant_decay, join_schedules) else ()
    _bounds = {"bounds": _BOUNDS[_factory.__name__]} if _factory.__name__ in _BOUNDS else {}
    registry.register_schedule(_factory.__name__, _factory, arrays=_arrays, **_bounds)


def names() -> tuple[str, ...]:
    """The names :func:`get` knows, sorted (registered schedules included)."""
    return registry.SCHEDULES.names()


def get(identifier: str | Callable[..., Schedule]) -> Callable[..., Schedule]:
    """Look up a schedule factory by name; a callable is returned unchanged.

    ``get("cosine_decay_schedule")(init_value=0.1, decay_steps=1000)`` builds
    a schedule.

    Raises:
      ValueError: for an unknown name (the message lists the valid names).
      TypeError: if ``identifier`` is neither a string nor callable.
    """
    if callable(identifier):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(f"schedule must be a name or a callable, got {type(identifier).__name__}")
    return registry.SCHEDULES.get(identifier)
