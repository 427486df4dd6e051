"""Distributions a search space draws hyperparameters from.

=======================  ========================================================
``choice(*values)``      one of the values, uniformly (static or numeric dynamic)
``grid(*values)``        numeric values a grid enumerates (random picks uniformly)
``uniform(lo, hi)``      ``lo + (hi - lo) U``, ``U ~ U[0, 1)``
``loguniform(lo, hi)``   ``10^r``, ``r ~ U[log10 lo, log10 hi)``
``loggrid(lo, hi, n)``   ``n`` geometrically spaced values from ``lo`` to ``hi``
``int_uniform(lo, hi)``  an integer in ``lo..hi``, both ends included
=======================  ========================================================

Why ``loguniform`` matters: a learning rate between 1e-4 and 1 sampled on a
linear scale puts 90% of the trials between 0.1 and 1, and almost none where
good rates usually live. Sampling the exponent instead, ``alpha = 10^r`` with
``r = -4 U(0, 1)``, spends the same number of trials on every decade.

Each distribution also says how it is written in TOML (``to_spec``, read
back by :func:`distribution_from_spec`), what its support is, and what is
wrong with its arguments; :mod:`jaxdl.sweep.space` validates a space with it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Mapping

import numpy as np

from jaxdl.train import _freeze  # lists to tuples, numpy scalars to Python ones: one rule for static values

__all__ = [
    "MAX_TRIALS",
    "Distribution",
    "Choice",
    "Grid",
    "Uniform",
    "LogUniform",
    "LogGrid",
    "IntUniform",
    "choice",
    "grid",
    "uniform",
    "loguniform",
    "loggrid",
    "int_uniform",
    "distribution_from_spec",
]

MAX_TRIALS = 100_000
"""The most trials one plan may hold (and values one ``loggrid`` may enumerate). A larger plan is refused
before it is built, with its size: its trial list alone would take gigabytes of host memory, and one
compiled group would run for days."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _clean(value: float) -> float:
    """Round to 12 significant digits: 10**-3 prints as 0.001, not 0.0009999999999999998."""
    return float(f"{value:.12g}")


class Distribution:
    """Base of the distributions a :class:`Space` may hold.

    Subclasses say whether a grid can enumerate them (``values()``), how to
    draw ``n`` values from a ``numpy.random.Generator`` (``sample``), what is
    wrong with their own arguments (``problems``), and how they are written
    in TOML (``to_spec``).
    """

    kind: str = ""
    enumerable: bool = False

    def values(self) -> tuple:
        """The values a grid enumerates."""
        raise TypeError(f"{self.kind} is continuous and cannot be enumerated")

    def sample(self, rng: np.random.Generator, n: int) -> list:
        """Draw ``n`` values; one draw per value, so a longer draw extends a shorter one."""
        raise TypeError(f"{type(self).__name__} does not define sample")

    def problems(self) -> list[str]:
        """What is wrong with the arguments, as sentences; empty when valid."""
        return []

    def support(self) -> tuple[float, float, bool]:
        """``(smallest, largest, largest_is_attained)`` of a numeric distribution."""
        raise TypeError(f"{type(self).__name__} does not define support")

    def to_spec(self) -> dict:
        """The TOML/JSON form, ``{kind: arguments}``, that :func:`distribution_from_spec` reads."""
        raise TypeError(f"{type(self).__name__} does not define to_spec")


@dataclasses.dataclass(frozen=True)
class Choice(Distribution):
    """Uniform choice among ``values``; the only distribution a static key may use."""

    options: tuple
    kind = "choice"
    enumerable = True

    def values(self) -> tuple:
        return self.options

    def sample(self, rng: np.random.Generator, n: int) -> list:
        indices = rng.integers(0, len(self.options), size=n)
        return [self.options[i] for i in indices]

    def problems(self) -> list[str]:
        return [] if self.options else ["choice() needs at least one value"]

    def support(self) -> tuple[float, float, bool]:
        return min(self.options), max(self.options), True

    def to_spec(self) -> dict:
        return {"choice": [list(v) if isinstance(v, tuple) else v for v in self.options]}


@dataclasses.dataclass(frozen=True)
class Grid(Choice):
    """Numeric values a grid enumerates; random search picks one uniformly."""

    kind = "grid"

    def problems(self) -> list[str]:
        if not self.options:
            return ["grid() needs at least one value"]
        bad = [v for v in self.options if not _is_number(v)]
        return [f"grid() values must be numbers, got {bad!r}"] if bad else []

    def to_spec(self) -> dict:
        return {"grid": list(self.options)}


def _range_problems(kind: str, low: Any, high: Any) -> list[str]:
    if not (_is_number(low) and _is_number(high)):
        return [f"{kind} bounds must be numbers, got low={low!r}, high={high!r}"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return [f"{kind} bounds must be finite, got low={low!r}, high={high!r}"]
    if low >= high:
        return [f"{kind} range is empty: low={low!r} must be less than high={high!r}"]
    return []


@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """``low + (high - low) U`` with ``U ~ U[0, 1)``: for parameters whose scale is linear."""

    low: float
    high: float
    kind = "uniform"

    def sample(self, rng: np.random.Generator, n: int) -> list:
        return [float(v) for v in rng.uniform(self.low, self.high, size=n)]

    def problems(self) -> list[str]:
        return _range_problems(self.kind, self.low, self.high)

    def support(self) -> tuple[float, float, bool]:
        return self.low, self.high, False

    def to_spec(self) -> dict:
        return {"uniform": [self.low, self.high]}


@dataclasses.dataclass(frozen=True)
class LogUniform(Distribution):
    """``10^r`` with ``r ~ U[log10 low, log10 high)``: every decade gets the same share.

    The lecture's learning-rate rule ``alpha = 10^r, r = -4 U(0, 1)`` is
    ``loguniform(1e-4, 1.0)``. Use it for learning rates, weight decay and L2
    strengths: any parameter whose plausible values span several decades.
    """

    low: float
    high: float
    kind = "loguniform"

    def sample(self, rng: np.random.Generator, n: int) -> list:
        exponents = rng.uniform(math.log10(self.low), math.log10(self.high), size=n)
        return [float(v) for v in np.power(10.0, exponents)]

    def problems(self) -> list[str]:
        found = _range_problems(self.kind, self.low, self.high)
        if not found and self.low <= 0:
            found = [f"loguniform bounds must be positive (it samples log10 of them), got low={self.low!r}"]
        return found

    def support(self) -> tuple[float, float, bool]:
        return self.low, self.high, False

    def to_spec(self) -> dict:
        return {"loguniform": [self.low, self.high]}


@dataclasses.dataclass(frozen=True)
class LogGrid(Distribution):
    """``num`` values from ``low`` to ``high`` (both included), evenly spaced in log10.

    ``loggrid(1e-4, 1e-1, 4)`` is ``(1e-4, 1e-3, 1e-2, 1e-1)``: the grid
    counterpart of :class:`LogUniform`. Values are rounded to 12 significant
    digits so that plans read cleanly.
    """

    low: float
    high: float
    num: int
    kind = "loggrid"
    enumerable = True

    def values(self) -> tuple:
        exponents = np.linspace(math.log10(self.low), math.log10(self.high), self.num)
        return tuple(_clean(10.0**e) for e in exponents)

    def sample(self, rng: np.random.Generator, n: int) -> list:
        grid_values = self.values()
        return [grid_values[i] for i in rng.integers(0, len(grid_values), size=n)]

    def problems(self) -> list[str]:
        found = _range_problems(self.kind, self.low, self.high)
        if not found and self.low <= 0:
            found = [f"loggrid bounds must be positive, got low={self.low!r}"]
        if not (_is_int(self.num) and 2 <= self.num <= MAX_TRIALS):
            found.append(f"loggrid num must be an integer from 2 to {MAX_TRIALS:,}, got {self.num!r}")
        return found

    def support(self) -> tuple[float, float, bool]:
        return self.low, self.high, True

    def to_spec(self) -> dict:
        return {"loggrid": [self.low, self.high, self.num]}


@dataclasses.dataclass(frozen=True)
class IntUniform(Distribution):
    """An integer from ``low`` to ``high``, both included, each equally likely."""

    low: int
    high: int
    kind = "int_uniform"

    def sample(self, rng: np.random.Generator, n: int) -> list:
        return [int(v) for v in rng.integers(self.low, self.high, size=n, endpoint=True)]

    def problems(self) -> list[str]:
        if not (_is_int(self.low) and _is_int(self.high)):
            return [f"int_uniform bounds must be integers, got low={self.low!r}, high={self.high!r}"]
        return _range_problems(self.kind, self.low, self.high)

    def support(self) -> tuple[float, float, bool]:
        return self.low, self.high, True

    def to_spec(self) -> dict:
        return {"int_uniform": [self.low, self.high]}


def choice(*values: Any) -> Choice:
    """Pick one of ``values`` uniformly; lists become tuples, so ``choice([64], [128, 64])`` works for widths."""
    return Choice(tuple(_freeze(v) for v in values))


def grid(*values: float) -> Grid:
    """Numeric values for a grid to enumerate, e.g. ``grid(0.0, 0.1, 0.3)``."""
    return Grid(tuple(_freeze(v) for v in values))


def uniform(low: float, high: float) -> Uniform:
    """Uniform on ``[low, high)`` on a linear scale (dropout rate, momentum)."""
    return Uniform(_freeze(low), _freeze(high))


def loguniform(low: float, high: float) -> LogUniform:
    """Log-uniform on ``[low, high)``: ``10^r``, ``r ~ U[log10 low, log10 high)`` (learning rate)."""
    return LogUniform(_freeze(low), _freeze(high))


def loggrid(low: float, high: float, num: int) -> LogGrid:
    """``num`` geometrically spaced values from ``low`` to ``high`` inclusive."""
    return LogGrid(_freeze(low), _freeze(high), _freeze(num))


def int_uniform(low: int, high: int) -> IntUniform:
    """A uniform integer in ``low..high``, both ends included."""
    return IntUniform(_freeze(low), _freeze(high))


_FACTORIES = {
    "choice": lambda args: choice(*args),
    "grid": lambda args: grid(*args),
    "uniform": lambda args: uniform(*args),
    "loguniform": lambda args: loguniform(*args),
    "loggrid": lambda args: loggrid(*args),
    "int_uniform": lambda args: int_uniform(*args),
}
_ARITY = {"uniform": 2, "loguniform": 2, "loggrid": 3, "int_uniform": 2}


def distribution_from_spec(spec: Mapping[str, Any]) -> Distribution:
    """Build a distribution from its TOML/JSON form, e.g. ``{"loguniform": [1e-4, 1e-1]}``.

    Raises:
      ValueError: the mapping does not hold exactly one known kind with a
        list of arguments of the right length.
    """
    if len(spec) != 1:
        raise ValueError(f"a distribution is a table with exactly one of {sorted(_FACTORIES)}, got {dict(spec)!r}")
    ((kind, args),) = spec.items()
    if kind not in _FACTORIES:
        raise ValueError(f"unknown distribution {kind!r}; expected one of {sorted(_FACTORIES)}")
    if not isinstance(args, (list, tuple)):
        raise ValueError(f"{kind} takes a list of arguments, got {args!r}")
    if kind in _ARITY and len(args) != _ARITY[kind]:
        raise ValueError(f"{kind} takes {_ARITY[kind]} arguments, got {len(args)}: {list(args)!r}")
    return _FACTORIES[kind](args)
