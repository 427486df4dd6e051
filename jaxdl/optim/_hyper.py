"""Hyperparameters: values, arrays, tracers or schedules; checked only when concrete."""

from __future__ import annotations

import math
from typing import Any, Callable, Union

import jax
import numpy as np

# A hyperparameter: a Python number, an array (possibly a tracer) or a
# schedule mapping the step count to a value.
Hyperparameter = Union[float, jax.Array, Callable[[jax.Array], Any]]


def value_at(hyperparameter, count):
    """The value of ``hyperparameter`` at step ``count`` (calls a schedule)."""
    return hyperparameter(count) if callable(hyperparameter) else hyperparameter


def _concrete(value) -> np.ndarray | None:
    """The value as a NumPy array, or None when it is a schedule or a tracer."""
    if value is None or callable(value) or isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value, dtype=np.float64)


def is_zero(value) -> bool:
    """Whether ``value`` is a concrete 0 (never true of a tracer or a schedule)."""
    array = _concrete(value)
    return array is not None and not np.any(array)


def check_range(
    name: str,
    value,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Raise ``ValueError`` naming ``name`` if a concrete ``value`` is out of range.

    Schedules and tracers pass unchecked: checking them would need a Python
    branch on a traced value.
    """
    array = _concrete(value)
    if array is None:
        return
    above = array >= low if low_inclusive else array > low
    below = array <= high if high_inclusive else array < high
    if not np.all(above & below):  # NaN fails both comparisons
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")


def check_learning_rate(value, name: str = "learning_rate") -> None:
    check_range(name, value, low=0.0)


def check_decay(name: str, value) -> None:
    """Decay rates (betas, momentum, rho) lie in [0, 1)."""
    check_range(name, value, low=0.0, high=1.0, high_inclusive=False)


def check_positive(name: str, value) -> None:
    check_range(name, value, low=0.0, low_inclusive=False)


def check_non_negative(name: str, value) -> None:
    check_range(name, value, low=0.0)


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
