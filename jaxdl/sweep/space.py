"""Search spaces and sweep plans: what to try, before anything is traced.

A sweep varies two kinds of setting, and the difference decides how it runs.

- **Static** keys are fields of :class:`jaxdl.train.TrainConfig` (model,
  hidden widths, activation, optimizer family, batch size, epochs, ...).
  Changing one changes the program, so every distinct static configuration
  is compiled once and forms a *group*.
- **Dynamic** keys are floats of :class:`jaxdl.train.HParams` (learning rate,
  betas, weight decay, dropout rate, schedule parameters, ...). They are
  stacked into arrays with a population axis, so a whole group trains in one
  ``jax.jit(jax.vmap(run))`` call.

A :class:`Space` maps each key to a fixed value or a distribution:

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

Two strategies turn a space into a :class:`Plan` (a list of :class:`Trial`):

- :func:`grid_plan`: the cartesian product of the enumerable values. Its size
  is the product of the axis lengths, and it spends most trials varying the
  hyperparameters that matter least; prefer it only for a few discrete keys.
- :func:`random_plan`: ``num_samples`` independent draws. With the same
  budget, random search tries ``num_samples`` distinct values of *every* key,
  where a grid tries only a handful of each (Bergstra and Bengio, 2012,
  "Random Search for Hyper-Parameter Optimization"). This is the "caviar"
  strategy of many models in parallel, against the "panda" strategy of
  babysitting one.

:func:`successive_halving` and :func:`halving_rungs` prune a random plan: train
everyone for a few epochs, keep the best ``1/eta``, train those longer, and so
on (Jamieson and Talwalkar, 2016; Li et al., 2018, "Hyperband").

Finally :meth:`Plan.groups` and :func:`chunk_group` cut a plan into the
arrays the engine vmaps: one group per static configuration, each cut into
chunks of at most ``chunk_size`` trials, padded to a multiple of the device
count.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import numbers
import os
import tomllib
import zlib
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "STATIC_KEYS",
    "DYNAMIC_KEYS",
    "DYNAMIC_BOUNDS",
    "SWEEP_KEYS",
    "STRATEGIES",
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
    "Space",
    "validate",
    "Trial",
    "Plan",
    "Group",
    "Chunk",
    "grid_plan",
    "random_plan",
    "halving_plan",
    "build_plan",
    "halving_rungs",
    "rank_trials",
    "successive_halving",
    "chunk_group",
    "plan_chunks",
    "load_config",
]

STATIC_KEYS: frozenset[str] = frozenset(
    {
        "model",
        "hidden",
        "channels",
        "dense",
        "activation",
        "init",
        "dropout",
        "batch_norm",
        "optimizer",
        "schedule",
        "loss",
        "batch_size",
        "epochs",
        "early_stopping",
        "monitor",
        "patience",
        "min_delta",
        "restore_best",
        "reduce_on_plateau",
        "plateau_factor",
        "plateau_patience",
        "dataset",
    }
)
"""Keys that change code or shapes: the fields of ``TrainConfig``, plus ``dataset``."""

DYNAMIC_KEYS: frozenset[str] = frozenset(
    {
        # HParams' own fields.
        "learning_rate",
        "weight_decay",
        "l2",
        "dropout_rate",
        # Optimizer arguments.
        "b1",
        "b2",
        "eps",
        "eps_root",
        "momentum",
        "decay",
        "rho",
        "initial_accumulator_value",
        "initial_scale",
        "momentum_decay",
        # Schedule arguments.
        "decay_rate",
        "decay_steps",
        "warmup_steps",
        "transition_steps",
        "transition_begin",
        "epochs_per_drop",
        "peak_value",
        "end_value",
        "alpha",
        "power",
        "exponent",
        "factor",
        "timescale",
    }
)
"""Keys that are float arrays in ``HParams`` (flat names, as ``HParams.from_flat`` takes them)."""

DYNAMIC_BOUNDS: Mapping[str, tuple[float, float | None]] = {
    "learning_rate": (0.0, None),
    "weight_decay": (0.0, None),
    "l2": (0.0, None),
    "dropout_rate": (0.0, 1.0),
    "b1": (0.0, 1.0),
    "b2": (0.0, 1.0),
    "eps": (0.0, None),
    "eps_root": (0.0, None),
    "momentum": (0.0, 1.0),
    "decay": (0.0, 1.0),
    "rho": (0.0, 1.0),
    "initial_accumulator_value": (0.0, None),
    "initial_scale": (0.0, None),
    "decay_rate": (0.0, None),
    "decay_steps": (0.0, None),
    "warmup_steps": (0.0, None),
    "transition_steps": (0.0, None),
}
"""Allowed range ``[low, high)`` of a dynamic key's values; ``None`` means unbounded.

A dropout rate of 1 drops everything and ``b1 = 1`` never forgets, so both
upper ends are excluded. Keys missing here are not range-checked.
"""

SWEEP_KEYS: frozenset[str] = frozenset(
    {
        "strategy",
        "num_samples",
        "seeds",
        "seed",
        "eta",
        "min_epochs",
        "max_epochs",
        "metric",
        "maximize",
        "chunk_size",
    }
)
"""Keys a ``[sweep]`` table of a TOML config may hold."""

STRATEGIES: tuple[str, ...] = ("grid", "random", "halving")

# Static keys whose values are checked by type; names (activation,
# optimizer) are checked against registries in ``validate``.
_POSITIVE_INT_KEYS = frozenset({"batch_size", "epochs", "patience", "plateau_patience"})
_WIDTH_KEYS = frozenset({"hidden", "channels", "dense"})
_ALLOWED_STATIC_VALUES: Mapping[str, tuple] = {
    "model": ("mlp", "cnn"),
    "batch_norm": (None, "before", "after"),
    "monitor": ("val_loss", "val_accuracy"),
}
# TOML has no null: in these keys the string "none" stands for None.
_OPTIONAL_KEYS = frozenset({"init", "batch_norm"})
# Names people write for dynamic keys, for "did you mean" hints.
_ALIASES = {
    "lr": "learning_rate",
    "wd": "weight_decay",
    "beta1": "b1",
    "beta2": "b2",
    "beta": "momentum",
    "epsilon": "eps",
    "dropout_prob": "dropout_rate",
}
# Registries a name is checked against when ``validate`` gets no ``known``.
_REGISTRIES = {"activation": "jaxdl.activations", "optimizer": "jaxdl.optim"}


# ---------------------------------------------------------------------------
# Distributions


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _freeze(value: Any) -> Any:
    """Turn lists into tuples and numpy scalars into Python ones, recursively."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


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
        if not (_is_int(self.num) and self.num >= 2):
            found.append(f"loggrid num must be an integer >= 2, got {self.num!r}")
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


# ---------------------------------------------------------------------------
# Space and validation


@dataclasses.dataclass(frozen=True, eq=False)
class Space:
    """A search space: names mapped to fixed values or distributions.

    Attributes:
      params: ``{name: value_or_distribution}``. Static names (``static_keys``)
        take a fixed value or :func:`choice`; dynamic names (``dynamic_keys``)
        take a number or any numeric distribution. Stored sorted by name, so
        the order a user writes keys in never changes a plan.
      seeds: trials per configuration, with seeds ``0 .. seeds - 1``. Every
        configuration shares the same seeds ("common random numbers"), so two
        configurations differ by their hyperparameters, not by the luck of
        their initialisation.
      static_keys, dynamic_keys: the classification; default
        :data:`STATIC_KEYS` and :data:`DYNAMIC_KEYS`.
      bounds: allowed ``[low, high)`` range per dynamic key; default
        :data:`DYNAMIC_BOUNDS`.

    Construction checks everything that needs no registry (see
    :func:`validate`) and raises one ``ValueError`` listing each offending key.

    Example::

        Space({"activation": choice("relu", "elu"),
               "learning_rate": loguniform(1e-4, 1e-1),
               "epochs": 20}, seeds=2)
    """

    params: Mapping[str, Any]
    seeds: int = 1
    static_keys: frozenset[str] = STATIC_KEYS
    dynamic_keys: frozenset[str] = DYNAMIC_KEYS
    bounds: Mapping[str, tuple[float, float | None]] = dataclasses.field(default_factory=lambda: dict(DYNAMIC_BOUNDS))

    def __post_init__(self):
        params = {str(k): (v if isinstance(v, Distribution) else _freeze(v)) for k, v in self.params.items()}
        object.__setattr__(self, "params", dict(sorted(params.items())))
        object.__setattr__(self, "static_keys", frozenset(self.static_keys))
        object.__setattr__(self, "dynamic_keys", frozenset(self.dynamic_keys))
        object.__setattr__(self, "bounds", dict(self.bounds))
        validate(self, known={})

    def is_static(self, key: str) -> bool:
        """Whether ``key`` changes the compiled program."""
        return key in self.static_keys

    @property
    def static_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if self.is_static(k)}

    @property
    def dynamic_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if not self.is_static(k)}


def _known_names(known: Mapping[str, Iterable[str]] | None) -> dict[str, frozenset]:
    """Registries of valid names: the given ones, or those of jaxdl's modules that exist."""
    if known is not None:
        return {key: frozenset(names) for key, names in known.items()}
    import importlib

    found = {}
    for key, module_name in _REGISTRIES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        names = getattr(module, "names", None)
        if callable(names):
            found[key] = frozenset(names())
    return found


def _static_value_problems(key: str, value: Any, known: Mapping[str, frozenset]) -> list[str]:
    try:
        hash(value)
    except TypeError:
        return [f"value {value!r} is not hashable; static values must be numbers, strings, None or tuples"]
    if key in _ALLOWED_STATIC_VALUES and value not in _ALLOWED_STATIC_VALUES[key]:
        return [f"{value!r} is not one of {list(_ALLOWED_STATIC_VALUES[key])}"]
    if key in _POSITIVE_INT_KEYS and not (_is_int(value) and value >= 1):
        return [f"must be a positive integer, got {value!r}"]
    if key in _WIDTH_KEYS and not (
        isinstance(value, tuple) and all(_is_int(w) and w >= 1 for w in value)
    ):
        return [f"must be a list of positive integer widths, got {value!r}"]
    if key in known and value not in known[key]:
        close = difflib.get_close_matches(str(value), sorted(known[key]), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known[key]))}"
        return [f"unknown {key} {value!r}{hint}"]
    return []


def _bounds_problems(key: str, spec: Any, bounds: Mapping[str, tuple]) -> list[str]:
    if key not in bounds:
        return []
    lower, upper = bounds[key]
    if isinstance(spec, Distribution):
        smallest, largest, attained = spec.support()
        where = f"{spec.kind} range [{smallest!r}, {largest!r}]"
    else:
        smallest = largest = spec
        attained = True
        where = f"value {spec!r}"
    found = []
    if lower is not None and smallest < lower:
        what = "negative" if lower == 0 else f"below {lower!r}"
        found.append(f"{where} includes {what} values; {key} must be >= {lower!r}")
    if upper is not None and (largest > upper or (largest == upper and attained)):
        found.append(f"{where} reaches {largest!r}; {key} must be < {upper!r}")
    return found


def _key_problems(space: Space, key: str, spec: Any, known: Mapping[str, frozenset]) -> list[str]:
    if space.is_static(key):
        if isinstance(spec, Distribution) and type(spec) is not Choice:
            return [f"static key takes a fixed value or choice(...), not {spec.kind}; it changes the compiled program"]
        values = spec.values() if isinstance(spec, Choice) else (spec,)
        found = spec.problems() if isinstance(spec, Choice) else []
        for value in values:
            found += _static_value_problems(key, value, known)
        return found
    if key not in space.dynamic_keys:
        candidates = sorted(space.static_keys | space.dynamic_keys)
        close = [_ALIASES[key]] if key in _ALIASES else difflib.get_close_matches(key, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [f"unknown key: neither a static key (TrainConfig field) nor a known dynamic hyperparameter{hint}"]
    if isinstance(spec, Distribution):
        found = spec.problems()
        if not found and type(spec) is Choice:
            bad = [v for v in spec.values() if not _is_number(v)]
            if bad:
                found = [f"dynamic key must be numeric, got choice values {bad!r}"]
    elif not _is_number(spec):
        found = [f"dynamic key must be numeric, got {spec!r}"]
    elif not math.isfinite(spec):
        found = [f"value must be finite, got {spec!r}"]
    else:
        found = []
    if not found:
        found = _bounds_problems(key, spec, space.bounds)
    return found


def _raise_problems(problems: list[tuple[str, str]], what: str = "search space") -> None:
    if not problems:
        return
    if len(problems) == 1:
        ((key, message),) = problems
        raise ValueError(f"invalid {what}: {key!r}: {message}")
    lines = "\n".join(f"  {key!r}: {message}" for key, message in problems)
    raise ValueError(f"invalid {what} ({len(problems)} problems):\n{lines}")


def validate(space: Space, known: Mapping[str, Iterable[str]] | None = None) -> None:
    """Check a space before anything is traced; raise one ``ValueError`` naming every bad key.

    Checks, per key: static keys use a fixed value or ``choice``; dynamic keys
    are numeric; ranges are non-empty (``low < high``); ``loguniform`` and
    ``loggrid`` bounds are positive; every value a dynamic key can take lies
    in its :data:`DYNAMIC_BOUNDS` range (so no negative learning rate, and no
    dropout rate of 1); widths, batch size and epochs are positive integers;
    ``model`` and ``batch_norm`` take their known values; names in ``known``
    exist; and the key itself is static or a known dynamic name.

    Args:
      space: the space to check.
      known: valid names per static key, e.g. ``{"activation": ["relu",
        "elu"], "optimizer": ["sgd", "adam"]}``; keys it lacks are not
        name-checked, so ``{}`` turns name checks off. ``None`` asks
        ``jaxdl.activations.names()`` and ``jaxdl.optim.names()``, where
        those modules exist.

    Raises:
      ValueError: one error whose message lists each offending key and why.
    """
    problems: list[tuple[str, str]] = []
    overlap = space.static_keys & space.dynamic_keys
    if overlap:
        problems.append(("static_keys", f"keys cannot be both static and dynamic: {sorted(overlap)}"))
    if not (_is_int(space.seeds) and space.seeds >= 1):
        problems.append(("seeds", f"must be a positive integer, got {space.seeds!r}"))
    names = _known_names(known)
    for key, spec in space.params.items():
        problems += [(key, message) for message in _key_problems(space, key, spec, names)]
    _raise_problems(problems)


# ---------------------------------------------------------------------------
# Plans


def _jsonable(value: Any) -> Any:
    """Tuples to lists, recursively: the JSON form of a static value."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _canonical_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training run of a sweep.

    Attributes:
      id: stable integer id, unique in its plan; results are keyed by it.
      static: ``{TrainConfig field: value}``, sorted by name; fields it omits
        keep ``TrainConfig``'s defaults.
      dynamic: ``{HParams flat name: float}``, sorted by name.
      seed: the integer the engine turns into the run's key.
    """

    id: int
    static: Mapping[str, Any]
    dynamic: Mapping[str, float]
    seed: int

    def to_dict(self) -> dict:
        return {"id": self.id, "static": _jsonable(dict(self.static)), "dynamic": dict(self.dynamic), "seed": self.seed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Trial":
        return cls(
            id=int(data["id"]),
            static=dict(sorted((k, _freeze(v)) for k, v in data["static"].items())),
            dynamic=dict(sorted((k, float(v)) for k, v in data["dynamic"].items())),
            seed=int(data["seed"]),
        )


@dataclasses.dataclass(frozen=True)
class Group:
    """Trials that share one static configuration: one compilation.

    Attributes:
      index: position among the plan's groups (order of first appearance).
      static: the shared static configuration, sorted by name.
      trial_ids: ``int64[n]``.
      dynamic: ``{name: float32[n]}``, the arrays to vmap over.
      seeds: ``int32[n]``, one per trial.
    """

    index: int
    static: Mapping[str, Any]
    trial_ids: np.ndarray
    dynamic: Mapping[str, np.ndarray]
    seeds: np.ndarray

    @property
    def key(self) -> tuple:
        """The static configuration as a hashable, sorted tuple of ``(name, value)``."""
        return tuple(self.static.items())

    def __len__(self) -> int:
        return len(self.trial_ids)


@dataclasses.dataclass(frozen=True)
class Chunk:
    """At most ``chunk_size`` trials of one group, padded for the device count.

    Attributes:
      id: ``f"g{group}-c{index}"``; stable for a given plan and ``chunk_size``,
        whatever the device count, so a resumed sweep skips the same chunks.
      group, index: where it comes from.
      static: the group's static configuration.
      trial_ids, dynamic, seeds: as in :class:`Group`, padded.
      valid: ``bool[m]``; ``False`` marks padding, whose results are dropped.
    """

    id: str
    group: int
    index: int
    static: Mapping[str, Any]
    trial_ids: np.ndarray
    dynamic: Mapping[str, np.ndarray]
    seeds: np.ndarray
    valid: np.ndarray

    @property
    def num_valid(self) -> int:
        return int(self.valid.sum())

    def __len__(self) -> int:
        return len(self.trial_ids)


@dataclasses.dataclass(frozen=True)
class Plan:
    """An ordered list of :class:`Trial`, plus ``info`` on how it was made.

    ``info`` (strategy, seed, rungs, ...) must be JSON-serialisable; it is
    part of the fingerprint, so a resumed sweep with a different halving
    schedule is detected.
    """

    trials: tuple[Trial, ...]
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "trials", tuple(self.trials))
        object.__setattr__(self, "info", dict(self.info))
        ids = [t.id for t in self.trials]
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"trial ids must be unique, repeated: {duplicates}")

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self):
        return iter(self.trials)

    def __getitem__(self, index: int) -> Trial:
        return self.trials[index]

    def by_id(self, trial_id: int) -> Trial:
        for trial in self.trials:
            if trial.id == trial_id:
                return trial
        raise KeyError(f"no trial with id {trial_id}")

    def select(self, trial_ids: Iterable[int]) -> "Plan":
        """The sub-plan of these trials, ids unchanged (the survivors of a rung)."""
        wanted = set(int(i) for i in trial_ids)
        missing = wanted - {t.id for t in self.trials}
        if missing:
            raise KeyError(f"no trials with ids {sorted(missing)}")
        return Plan(tuple(t for t in self.trials if t.id in wanted), self.info)

    def to_dict(self) -> dict:
        return {"info": _jsonable(self.info), "trials": [t.to_dict() for t in self.trials]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Plan":
        return cls(tuple(Trial.from_dict(t) for t in data["trials"]), data.get("info", {}))

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, tuples as lists, no NaN."""
        return _canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        return cls.from_dict(json.loads(text))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: equal plans, equal fingerprints, on any machine."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def groups(self) -> list[Group]:
        """Split into static groups, ordered by first appearance; trials keep plan order inside.

        Raises:
          ValueError: trials of one group disagree on their dynamic names
            (they could not share one set of arrays).
        """
        members: dict[tuple, list[Trial]] = {}
        for trial in self.trials:
            members.setdefault(tuple(sorted(trial.static.items())), []).append(trial)
        groups = []
        for index, (key, trials) in enumerate(members.items()):
            names = sorted(trials[0].dynamic)
            for trial in trials:
                if sorted(trial.dynamic) != names:
                    raise ValueError(
                        f"trial {trial.id} has dynamic names {list(trial.dynamic)}, but trial "
                        f"{trials[0].id} of the same static group has {list(names)}"
                    )
            groups.append(
                Group(
                    index=index,
                    static=dict(key),
                    trial_ids=np.array([t.id for t in trials], dtype=np.int64),
                    dynamic={n: np.array([t.dynamic[n] for t in trials], dtype=np.float32) for n in names},
                    seeds=np.array([t.seed for t in trials], dtype=np.int32),
                )
            )
        return groups


def _expand(space: Space, configs: list[dict[str, Any]], info: Mapping[str, Any]) -> Plan:
    """Turn configurations into trials: ``space.seeds`` each, ids ``config * seeds + seed``."""
    trials = []
    for number, config in enumerate(configs):
        static = {k: v for k, v in config.items() if space.is_static(k)}
        dynamic = {k: float(v) for k, v in config.items() if not space.is_static(k)}
        for seed in range(space.seeds):
            trials.append(Trial(id=number * space.seeds + seed, static=static, dynamic=dynamic, seed=seed))
    return Plan(tuple(trials), info)


def grid_plan(space: Space, known: Mapping[str, Iterable[str]] | None = None) -> Plan:
    """Every combination of the enumerable values, times ``space.seeds``.

    Keys vary in sorted-name order, the last name fastest. Continuous
    distributions cannot be enumerated: give them as ``grid(...)`` or
    ``loggrid(low, high, num)``, or use :func:`random_plan`.

    Raises:
      ValueError: invalid space, or continuous distributions (all named).
    """
    validate(space, known)
    continuous = [(k, f"{v.kind} cannot be enumerated by a grid; use grid(...), loggrid(low, high, num) "
                      f"or the random strategy")
                  for k, v in space.params.items() if isinstance(v, Distribution) and not v.enumerable]
    _raise_problems(continuous, "grid")
    names = list(space.params)
    axes = [v.values() if isinstance(v, Distribution) else (v,) for v in space.params.values()]
    configs = [dict(zip(names, combination)) for combination in itertools.product(*axes)]
    return _expand(space, configs, {"strategy": "grid"})


def _entropy(seed: Any) -> list[int]:
    """Entropy words from an integer seed, a ``jax.random.key`` or a raw ``uint32`` key."""
    if _is_int(seed):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return [int(seed)]
    if type(seed).__module__.startswith("jax"):
        import jax

        if jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
            seed = jax.random.key_data(seed)
    words = np.asarray(seed)
    if words.dtype.kind not in "iu" or words.size == 0:
        raise TypeError(f"seed must be an integer or a jax.random key, got {seed!r}")
    return [int(w) for w in words.astype(np.uint32).ravel()]


def random_plan(
    space: Space,
    num_samples: int,
    seed: Any = 0,
    known: Mapping[str, Iterable[str]] | None = None,
) -> Plan:
    """``num_samples`` configurations drawn independently, times ``space.seeds``.

    Each key draws from its own stream, seeded by ``(seed, crc32(name))``, so

    - the same seed (integer or ``jax.random.key``) gives the same plan;
    - adding or removing a key leaves the other keys' values unchanged;
    - raising ``num_samples`` keeps the first configurations and adds more.

    Static choices are drawn too, so a random plan may hold many groups.

    Raises:
      ValueError: invalid space or ``num_samples < 1``.
    """
    validate(space, known)
    if not (_is_int(num_samples) and num_samples >= 1):
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    entropy = _entropy(seed)
    columns = {}
    for name, spec in space.params.items():
        if isinstance(spec, Distribution):
            stream = np.random.SeedSequence(entropy, spawn_key=(zlib.crc32(name.encode("utf-8")),))
            columns[name] = spec.sample(np.random.default_rng(stream), num_samples)
        else:
            columns[name] = [spec] * num_samples
    configs = [{name: column[i] for name, column in columns.items()} for i in range(num_samples)]
    info = {"strategy": "random", "num_samples": num_samples, "seed": entropy[0] if len(entropy) == 1 else entropy}
    return _expand(space, configs, info)


def halving_rungs(min_epochs: int, max_epochs: int, eta: float = 3) -> list[int]:
    """Cumulative epochs at the end of each rung: ``min_epochs * eta^k`` below ``max_epochs``, then ``max_epochs``.

    ``halving_rungs(1, 27, 3) == [1, 3, 9, 27]``. Rung ``k`` trains its
    survivors ``rungs[k] - rungs[k - 1]`` more epochs, continuing from their
    state, and keeps ``ceil(n / eta)`` of them for the next rung.
    """
    if not (_is_int(min_epochs) and _is_int(max_epochs) and 1 <= min_epochs <= max_epochs):
        raise ValueError(f"need integers 1 <= min_epochs <= max_epochs, got {min_epochs!r}, {max_epochs!r}")
    if not (_is_number(eta) and eta > 1):
        raise ValueError(f"eta must be a number > 1, got {eta!r}")
    rungs = []
    epochs = float(min_epochs)
    while round(epochs) < max_epochs:
        if not rungs or round(epochs) > rungs[-1]:
            rungs.append(int(round(epochs)))
        epochs *= eta
    return rungs + [max_epochs]


def halving_plan(
    space: Space,
    num_samples: int,
    min_epochs: int,
    max_epochs: int,
    eta: float = 3,
    seed: Any = 0,
    known: Mapping[str, Iterable[str]] | None = None,
) -> Plan:
    """A random plan for successive halving; ``info["rungs"]`` holds :func:`halving_rungs`.

    The space must not set ``epochs``: the rungs decide how long each
    survivor trains.
    """
    if "epochs" in space.params:
        raise ValueError(
            "invalid search space: 'epochs': successive halving sets epochs per rung from "
            "min_epochs and max_epochs; remove it from the space"
        )
    rungs = halving_rungs(min_epochs, max_epochs, eta)
    plan = random_plan(space, num_samples, seed=seed, known=known)
    return Plan(plan.trials, {**plan.info, "strategy": "halving", "eta": eta, "rungs": rungs})


def build_plan(space: Space, settings: Mapping[str, Any], known: Mapping[str, Iterable[str]] | None = None) -> Plan:
    """Dispatch on ``settings["strategy"]`` (as :func:`load_config` returns them) to a planner."""
    strategy = settings.get("strategy", "random")
    if strategy == "grid":
        return grid_plan(space, known)
    if strategy == "random":
        return random_plan(space, settings["num_samples"], settings.get("seed", 0), known)
    if strategy == "halving":
        return halving_plan(
            space,
            settings["num_samples"],
            settings["min_epochs"],
            settings["max_epochs"],
            settings.get("eta", 3),
            settings.get("seed", 0),
            known,
        )
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")


# ---------------------------------------------------------------------------
# Successive halving


def rank_trials(
    trial_ids: Sequence[int],
    scores: Sequence[float],
    maximize: bool = False,
    diverged: Iterable[int] = (),
) -> list[int]:
    """Trial ids from best to worst.

    Finite scores come first, best first; ties go to the smaller id. NaN,
    infinite scores and ids in ``diverged`` come last, by id.
    """
    if len(trial_ids) != len(scores):
        raise ValueError(f"got {len(trial_ids)} trial ids but {len(scores)} scores")
    diverged = set(int(i) for i in diverged)

    def order(pair):
        trial_id = int(pair[0])
        score = float("nan") if pair[1] is None else float(pair[1])
        if trial_id in diverged or not math.isfinite(score):
            return (1, 0.0, trial_id)
        return (0, -score if maximize else score, trial_id)

    return [int(i) for i, _ in sorted(zip(trial_ids, scores), key=order)]


def successive_halving(
    trial_ids: Sequence[int],
    scores: Sequence[float],
    eta: float = 3,
    maximize: bool = False,
    diverged: Iterable[int] = (),
) -> list[int]:
    """Keep the best ``ceil(n / eta)`` trials of a rung, best first.

    Args:
      trial_ids: the rung's trials.
      scores: their validation scores, aligned with ``trial_ids``.
      eta: the reduction factor (> 1); 3 keeps a third.
      maximize: ``True`` for accuracies, ``False`` for losses.
      diverged: ids to rank last whatever their score.

    Ranking follows :func:`rank_trials`, so diverged trials survive only when
    fewer than ``ceil(n / eta)`` trials are finite.
    """
    if not (_is_number(eta) and eta > 1):
        raise ValueError(f"eta must be a number > 1, got {eta!r}")
    ranked = rank_trials(trial_ids, scores, maximize, diverged)
    return ranked[: math.ceil(len(ranked) / eta)]


# ---------------------------------------------------------------------------
# Chunks


def chunk_group(group: Group, chunk_size: int, multiple: int = 1) -> list[Chunk]:
    """Cut a group into chunks of at most ``chunk_size`` trials, padding each to a multiple of ``multiple``.

    Chunk boundaries depend only on ``chunk_size``, so a sweep resumed on a
    different number of devices skips the same chunks. Padding repeats the
    chunk's last trial and is marked ``valid == False``. With ``chunk_size`` a
    multiple of the device count only the last chunk is ever padded.
    """
    if not (_is_int(chunk_size) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not (_is_int(multiple) and multiple >= 1):
        raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
    chunks = []
    for index, start in enumerate(range(0, len(group), chunk_size)):
        rows = np.arange(start, min(start + chunk_size, len(group)))
        padding = -len(rows) % multiple
        rows = np.concatenate([rows, np.full(padding, rows[-1])])
        valid = np.arange(len(rows)) < len(rows) - padding
        chunks.append(
            Chunk(
                id=f"g{group.index}-c{index}",
                group=group.index,
                index=index,
                static=group.static,
                trial_ids=group.trial_ids[rows],
                dynamic={name: values[rows] for name, values in group.dynamic.items()},
                seeds=group.seeds[rows],
                valid=valid,
            )
        )
    return chunks


def plan_chunks(plan: Plan, chunk_size: int, multiple: int = 1) -> list[Chunk]:
    """Every chunk of every group of ``plan``, groups in order."""
    return [chunk for group in plan.groups() for chunk in chunk_group(group, chunk_size, multiple)]


# ---------------------------------------------------------------------------
# TOML configuration


def _space_value(key: str, raw: Any) -> Any:
    """One ``[space]`` entry: a table is a distribution, anything else a fixed value."""
    if isinstance(raw, dict):
        spec = distribution_from_spec(raw)
        if key in _OPTIONAL_KEYS and isinstance(spec, Choice):
            return choice(*(None if v == "none" else v for v in spec.values()))
        return spec
    if key in _OPTIONAL_KEYS and raw == "none":
        return None
    return _freeze(raw)


def _check_setting(key: str, value: Any) -> str | None:
    """What is wrong with one ``[sweep]`` setting, or ``None``."""
    positive_ints = {"num_samples", "seeds", "min_epochs", "max_epochs", "chunk_size"}
    if key == "strategy" and value not in STRATEGIES:
        return f"must be one of {list(STRATEGIES)}, got {value!r}"
    if key in positive_ints and not (_is_int(value) and value >= 1):
        return f"must be a positive integer, got {value!r}"
    if key == "seed" and not (_is_int(value) and value >= 0):
        return f"must be a non-negative integer, got {value!r}"
    if key == "eta" and not (_is_number(value) and value > 1):
        return f"must be a number > 1, got {value!r}"
    if key == "metric" and not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if key == "maximize" and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def load_config(
    path: str | os.PathLike,
    static_keys: frozenset[str] = STATIC_KEYS,
    dynamic_keys: frozenset[str] = DYNAMIC_KEYS,
    sweep_keys: frozenset[str] = SWEEP_KEYS,
) -> tuple[Space, dict[str, Any]]:
    """Read a sweep configuration from TOML: a ``[space]`` and a ``[sweep]`` table.

    Example::

        [space]
        activation = {choice = ["relu", "elu"]}
        hidden = {choice = [[64], [128, 64]]}
        learning_rate = {loguniform = [1e-4, 1e-1]}
        dropout_rate = {uniform = [0.0, 0.5]}
        batch_norm = {choice = ["none", "before"]}   # "none" is None
        epochs = 20

        [sweep]
        strategy = "random"      # "grid", "random" or "halving"
        num_samples = 32
        seeds = 2
        seed = 0

    Returns:
      ``(space, settings)``: ``settings`` is the ``[sweep]`` table without
      ``seeds`` (which the space holds), with ``strategy`` defaulting to
      ``"random"``, ``seed`` to 0 and, for halving, ``eta`` to 3. Pass both
      to :func:`build_plan`.

    Raises:
      ValueError: malformed TOML or any bad entry; the message names the
        file and the key (all of them, at once, for the ``[space]`` checks).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    unknown_tables = sorted(set(document) - {"space", "sweep"})
    if unknown_tables:
        raise ValueError(f"{path}: unknown top-level key(s) {unknown_tables}; expected [space] and [sweep]")
    if not isinstance(document.get("space"), dict):
        raise ValueError(f"{path}: needs a [space] table mapping names to values or distributions")
    sweep = document.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ValueError(f"{path}: 'sweep' must be a table")

    problems = []
    for key in sorted(set(sweep) - set(sweep_keys)):
        close = difflib.get_close_matches(key, sorted(sweep_keys), n=1)
        problems.append((f"sweep.{key}", "unknown setting" + (f"; did you mean {close[0]!r}?" if close else "")))
    for key in sorted(set(sweep) & set(sweep_keys)):
        message = _check_setting(key, sweep[key])
        if message:
            problems.append((f"sweep.{key}", message))
    settings = {"strategy": "random", "seed": 0, **{k: v for k, v in sweep.items() if k != "seeds"}}
    if settings["strategy"] == "halving":
        settings.setdefault("eta", 3)
    required = {"random": ["num_samples"], "halving": ["num_samples", "min_epochs", "max_epochs"]}
    for key in required.get(settings["strategy"], []):
        if key not in sweep:
            problems.append((f"sweep.{key}", f"required by strategy {settings['strategy']!r}"))

    params = {}
    for key, raw in document["space"].items():
        try:
            params[key] = _space_value(key, raw)
        except (ValueError, TypeError) as error:
            problems.append((f"space.{key}", str(error)))
    if problems:
        _raise_problems(problems, f"config {path}")
    try:
        space = Space(params, seeds=sweep.get("seeds", 1), static_keys=static_keys, dynamic_keys=dynamic_keys)
    except ValueError as error:
        raise ValueError(f"{path}: [space]: {error}") from None
    return space, settings
