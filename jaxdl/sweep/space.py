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

from jaxdl.train import _freeze  # lists to tuples, numpy scalars to Python ones: one rule for static values

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

def static_keys() -> frozenset[str]:
    """Keys that change code or shapes: ``TrainConfig``'s fields, every registered model's settings, and ``dataset``.

    Derived from :func:`jaxdl.train.static_keys` each time, so a model
    registered after import is covered.
    """
    from jaxdl import registry, train

    keys = set(train.static_keys())
    for name in registry.MODELS.names():
        try:
            keys |= train.static_keys(name)
        except ValueError:  # a factory off the contract; choosing it says so
            continue
    return frozenset(keys | {"dataset"})


def dynamic_bounds() -> dict[str, tuple[float | None, float | None]]:
    """Every dynamic key some registered optimizer, schedule or loss takes, with its ``[low, high)`` bounds.

    Derived from :func:`jaxdl.train.dynamic_keys` over the registries, so a
    registered optimizer's hyperparameters can be swept like Adam's. Whether
    a key applies to a trial's own optimizer is checked per static group.
    """
    from jaxdl import registry, train

    keys: dict[str, tuple] = {}
    for optimizer in registry.OPTIMIZERS.names():
        keys.update({k: v for k, v in train.dynamic_keys(train.TrainConfig(optimizer=optimizer)).items()
                     if k not in keys})
    for schedule in registry.SCHEDULES.names():
        try:
            config = train.TrainConfig(schedule=schedule)
        except ValueError:  # needs arrays a sweep cannot set; TrainConfig says so when it is chosen
            continue
        keys.update({k: v for k, v in train.dynamic_keys(config).items() if k not in keys})
    for loss in registry.LOSSES.names():
        keys.update({k: v for k, v in train.dynamic_keys(train.TrainConfig(loss=loss)).items() if k not in keys})
    return keys


def dynamic_keys() -> frozenset[str]:
    """The names of :func:`dynamic_bounds`."""
    return frozenset(dynamic_bounds())


def __getattr__(name: str):
    # Derived on access, never copied: these follow the registries.
    if name == "STATIC_KEYS":
        return static_keys()
    if name == "DYNAMIC_KEYS":
        return dynamic_keys()
    if name == "DYNAMIC_BOUNDS":
        return dynamic_bounds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        "keep",
    }
)
"""Keys a ``[sweep]`` table of a TOML config may hold."""

DATA_KEYS: tuple[str, ...] = ("file", "target", "task")
"""Keys a ``[data]`` table may hold: a ``.npz`` or ``.csv`` file (relative to the TOML file), its target column, the task."""

_TOP_LEVEL = ("import", "space", "sweep", "data")

STRATEGIES: tuple[str, ...] = ("grid", "random", "halving")

MAX_TRIALS = 100_000
"""The most trials one plan may hold. A larger plan is refused before it is built, with its size:
its trial list alone would take gigabytes of host memory, and one compiled group would run for days."""


def _check_count(count: int, what: str) -> None:
    if count > MAX_TRIALS:
        raise ValueError(f"{what} would make {count:,} trials, more than the {MAX_TRIALS:,} a plan may hold "
                         f"(jaxdl.sweep.space.MAX_TRIALS): use fewer values, samples or seeds")

def _positive_int_keys() -> frozenset[str]:
    """TrainConfig fields that are counts (batch size, epochs, patience)."""
    from jaxdl import train

    return frozenset(f.name for f in dataclasses.fields(train.TrainConfig) if type(f.default) is int)


def _model_defaults() -> dict[str, Any]:
    """Every registered model's settings and their defaults (first model wins on a shared name)."""
    import inspect

    from jaxdl import registry, train

    defaults: dict[str, Any] = {}
    for name in registry.MODELS.names():
        try:
            settings = train._model_settings(registry.MODELS.get(name))
        except ValueError:  # a factory off the contract; choosing it says so
            continue
        for key, parameter in settings.items():
            defaults.setdefault(key, parameter.default)
    return {k: (None if v is inspect.Parameter.empty else v) for k, v in defaults.items()}


def _width_keys() -> frozenset[str]:
    """Model settings whose default is a tuple of integers (layer widths)."""
    return frozenset(k for k, v in _model_defaults().items()
                     if isinstance(v, tuple) and v and all(_is_int(w) for w in v))


def _optional_keys() -> frozenset[str]:
    """Static keys whose default is ``None``: in TOML, which has no null, ``"none"`` stands for it."""
    from jaxdl import train

    fields = {f.name for f in dataclasses.fields(train.TrainConfig) if f.default is None}
    return frozenset(fields | {k for k, v in _model_defaults().items() if v is None})


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
# Static keys whose values are registered names.
_REGISTERED = ("model", "activation", "optimizer", "schedule", "loss")


# ---------------------------------------------------------------------------
# Distributions


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


# ---------------------------------------------------------------------------
# Space and validation


def _when_key(value: Any) -> str:
    """How a static value names its ``when`` table: strings as they are, others as JSON (``none`` for None)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "none"
    return json.dumps(_jsonable(value))


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
        :func:`static_keys` and :func:`dynamic_keys`, derived from
        :mod:`jaxdl.train` and the registries.
      bounds: allowed ``[low, high)`` range per dynamic key; default
        :data:`DYNAMIC_BOUNDS`.
      when: conditional entries, ``{static key: {value: {name: value or
        distribution}}}``: hyperparameters that apply only to trials whose
        static key takes that value (Adam's ``b1`` only where ``optimizer`` is
        ``"adam"``). In TOML, ``[space.when.optimizer.adam]``.

    Construction checks everything that needs no registry (see
    :func:`validate`) and raises one ``ValueError`` listing each offending key.

    Example::

        Space({"activation": choice("relu", "elu"),
               "learning_rate": loguniform(1e-4, 1e-1),
               "epochs": 20}, seeds=2)
    """

    params: Mapping[str, Any]
    seeds: int = 1
    static_keys: frozenset[str] | None = None
    dynamic_keys: frozenset[str] | None = None
    bounds: Mapping[str, tuple[float, float | None]] | None = None
    when: Mapping[str, Mapping[Any, Mapping[str, Any]]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        params = {str(k): (v if isinstance(v, Distribution) else _freeze(v)) for k, v in self.params.items()}
        object.__setattr__(self, "params", dict(sorted(params.items())))
        derived = dynamic_bounds() if self.dynamic_keys is None or self.bounds is None else None
        object.__setattr__(self, "static_keys", frozenset(static_keys() if self.static_keys is None else self.static_keys))
        object.__setattr__(self, "dynamic_keys", frozenset(derived if self.dynamic_keys is None else self.dynamic_keys))
        object.__setattr__(self, "bounds", dict(derived if self.bounds is None else self.bounds))
        when = {}
        for key, tables in dict(self.when).items():
            when[str(key)] = {_when_key(value): dict(sorted(
                (str(k), v if isinstance(v, Distribution) else _freeze(v)) for k, v in table.items()))
                for value, table in sorted(tables.items(), key=lambda item: _when_key(item[0]))}
        object.__setattr__(self, "when", dict(sorted(when.items())))
        validate(self, known={})

    def conditional(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The ``when`` entries that apply to a configuration of the static keys (sorted by name)."""
        found = {}
        for key, tables in self.when.items():
            if key in config:
                found.update(tables.get(_when_key(config[key]), {}))
        return dict(sorted(found.items()))

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
    """Valid names per static key: the given ones, or the registries'."""
    if known is not None:
        return {key: frozenset(names) for key, names in known.items()}
    from jaxdl import registry

    tables = {"model": registry.MODELS, "activation": registry.ACTIVATIONS, "optimizer": registry.OPTIMIZERS,
              "schedule": registry.SCHEDULES, "loss": registry.LOSSES}
    return {key: frozenset(tables[key].names()) for key in _REGISTERED}


def _static_value_problems(key: str, value: Any, known: Mapping[str, frozenset]) -> list[str]:
    try:
        hash(value)
    except TypeError:
        return [f"value {value!r} is not hashable; static values must be numbers, strings, None or tuples"]
    if key in _positive_int_keys() and not (_is_int(value) and value >= 1):
        return [f"must be a positive integer, got {value!r}"]
    if key in _width_keys() and not (
        isinstance(value, tuple) and all(_is_int(w) and w >= 1 for w in value)
    ):
        return [f"must be a list of positive integer widths, got {value!r}"]
    if key in known:
        if value not in known[key]:
            from jaxdl import registry

            return [f"unknown {key} {value!r}{registry.did_you_mean(value, known[key])}"]
        return []
    if key == "monitor" or key in ("task", "metrics", "class_weight"):
        from jaxdl import train

        try:
            train.TrainConfig.from_static({key: value})
        except ValueError as error:
            return [str(error)]
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
        if not found and isinstance(spec, Choice):
            bad = [v for v in spec.values() if not _is_number(v)]
            if bad:
                found = [f"dynamic key must be numeric, got choice values {bad!r}"]
            elif not all(math.isfinite(v) for v in spec.values()):
                found = [f"values must be finite, got {list(spec.values())!r}"]
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
    if not (_is_int(space.seeds) and 1 <= space.seeds <= MAX_TRIALS):
        problems.append(("seeds", f"must be an integer from 1 to {MAX_TRIALS:,}, got {space.seeds!r}"))
    names = _known_names(known)
    for key, spec in space.params.items():
        problems += [(key, message) for message in _key_problems(space, key, spec, names)]
    for key, tables in space.when.items():
        spec = space.params.get(key)
        if not space.is_static(key) or spec is None:
            problems.append((f"when.{key}", "a when table needs a static key of the space to depend on"))
            continue
        chosen = {_when_key(v) for v in (spec.values() if isinstance(spec, Choice) else (spec,))}
        for value, table in tables.items():
            where = f"when.{key}.{value}"
            if value not in chosen:
                problems.append((where, f"{key} never takes the value {value!r}; it takes "
                                        f"{', '.join(sorted(chosen))}"))
            for name, entry in table.items():
                if name in space.params:
                    problems.append((f"{where}.{name}", f"{name} is also set for every trial; set it in one place"))
                elif name == key or name in space.when:
                    problems.append((f"{where}.{name}", "a when table cannot set the key tables depend on"))
                else:
                    problems += [(f"{where}.{name}", m) for m in _key_problems(space, name, entry, names)]
    if not problems and known is None:
        problems += _group_problems(space)
    _raise_problems(problems)


def _combinations(space: Space, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every combination of the values the given static keys take in the space (with their when entries)."""
    axes = []
    for key in keys:
        spec = space.params.get(key)
        if spec is None:
            continue
        axes.append([(key, v) for v in (spec.values() if isinstance(spec, Choice) else (spec,))])
    return [dict(combo) for combo in itertools.product(*axes)]


def _group_problems(space: Space) -> list[tuple[str, str]]:
    """Dynamic keys that the optimizer, schedule or loss of some trial would not take."""
    from jaxdl import train

    problems = []
    routing = ("optimizer", "schedule", "loss")
    for combo in _combinations(space, routing):
        try:
            config = train.TrainConfig.from_static(combo)
        except ValueError as error:
            return [(", ".join(f"{k}={v!r}" for k, v in combo.items()) or "configuration", str(error))]
        accepted = train.dynamic_keys(config, task=None if config.loss is not None else "classification")
        if config.loss is None:
            accepted.update(train.dynamic_keys(config, task="regression"))
        names = {k for k, v in space.params.items() if not space.is_static(k)}
        names |= {k for k, v in space.conditional(combo).items() if not space.is_static(k)}
        for name in sorted(names - set(accepted)):
            users = [f"[space.when.{k}.{_when_key(v)}]" for c in _combinations(space, routing)
                     for k, v in c.items() if k in routing and name in train.dynamic_keys(
                         train.TrainConfig.from_static({k: v}))]
            hint = f"; set it under {' or '.join(sorted(set(users)))}" if users else ""
            what = ", ".join(f"{k} {_when_key(v)!r}" for k, v in combo.items()) or "the default optimizer"
            problems.append((name, f"not used by {what}{hint}"))
    return problems


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
    continuous = [(f"when.{key}.{value}.{name}", "a grid cannot enumerate it; use grid(...) or loggrid(...)")
                  for key, tables in space.when.items() for value, table in tables.items()
                  for name, v in table.items() if isinstance(v, Distribution) and not v.enumerable]
    _raise_problems(continuous, "grid")
    axes = [len(v.values()) if isinstance(v, Distribution) else 1 for v in space.params.values()]
    _check_count(math.prod(axes) * space.seeds, f"the grid ({' x '.join(map(str, axes))} x {space.seeds} seeds)")
    configs = []
    for config in _product(space.params):
        configs += [{**config, **extra} for extra in _product(space.conditional(config))]
        _check_count(len(configs) * space.seeds, "the grid with its conditional values")
    return _expand(space, configs, {"strategy": "grid"})


def _product(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    names = list(params)
    axes = [v.values() if isinstance(v, Distribution) else (v,) for v in params.values()]
    return [dict(zip(names, combination)) for combination in itertools.product(*axes)]


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
    _check_count(num_samples * space.seeds, f"num_samples = {num_samples:,} x {space.seeds} seeds")
    entropy = _entropy(seed)

    def column(name: str, spec: Any) -> list:
        if isinstance(spec, Distribution):
            stream = np.random.SeedSequence(entropy, spawn_key=(zlib.crc32(name.encode("utf-8")),))
            return spec.sample(np.random.default_rng(stream), num_samples)
        return [spec] * num_samples

    columns = {name: column(name, spec) for name, spec in space.params.items()}
    # A conditional entry draws from a stream of its own, for every trial; a trial uses it only when its
    # static value selects the table, so adding a table leaves every other value as it was.
    conditional = {(key, value, name): column(f"when.{key}.{value}.{name}", spec)
                   for key, tables in space.when.items() for value, table in tables.items()
                   for name, spec in table.items()}
    configs = []
    for i in range(num_samples):
        config = {name: values[i] for name, values in columns.items()}
        chosen = {(key, _when_key(config[key])) for key in space.when if key in config}
        extra = {name: values[i] for (key, value, name), values in conditional.items() if (key, value) in chosen}
        configs.append(dict(sorted({**config, **extra}.items())))
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
    optional = _optional_keys()
    if isinstance(raw, dict):
        spec = distribution_from_spec(raw)
        if key in optional and isinstance(spec, Choice):
            return choice(*(None if v == "none" else v for v in spec.values()))
        return spec
    if key in optional and raw == "none":
        return None
    return _freeze(raw)


def _check_setting(key: str, value: Any) -> str | None:
    """What is wrong with one ``[sweep]`` setting, or ``None``."""
    positive_ints = {"num_samples", "seeds", "min_epochs", "max_epochs", "chunk_size", "keep"}
    if key == "strategy" and value not in STRATEGIES:
        return f"must be one of {list(STRATEGIES)}, got {value!r}"
    if key in positive_ints and not (_is_int(value) and value >= 1):
        return f"must be a positive integer, got {value!r}"
    if key == "seed" and not (_is_int(value) and 0 <= value < 2**63):
        return f"must be an integer in [0, 2**63), got {value!r}"
    if key == "eta" and not (_is_number(value) and value > 1):
        return f"must be a number > 1, got {value!r}"
    if key == "metric" and not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if key == "maximize" and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def load_config(
    path: str | os.PathLike,
    static_keys: frozenset[str] | None = None,
    dynamic_keys: frozenset[str] | None = None,
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
    unknown_tables = sorted(set(document) - set(_TOP_LEVEL))
    if unknown_tables:
        raise ValueError(f"{path}: unknown top-level key(s) {unknown_tables}; expected {', '.join(_TOP_LEVEL)}")
    imports = document.get("import", [])
    if isinstance(imports, str):
        imports = [imports]
    if not (isinstance(imports, list) and all(isinstance(i, str) for i in imports)):
        raise ValueError(f"{path}: import must be a list of module names or .py files, got {imports!r}")
    from jaxdl import registry

    # User code registers its pieces before anything below is validated.
    registry.load_plugins(imports, base=os.path.dirname(os.path.abspath(path)))
    data = document.get("data", {})
    if not isinstance(data, dict) or set(data) - set(DATA_KEYS):
        extra = sorted(set(data) - set(DATA_KEYS)) if isinstance(data, dict) else data
        raise ValueError(f"{path}: [data] takes {', '.join(DATA_KEYS)}; got {extra!r}")
    if "file" in data:
        data = {**data, "file": os.path.join(os.path.dirname(os.path.abspath(path)), data["file"])}
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

    params, when = {}, {}
    for key, raw in document["space"].items():
        if key == "when":
            if not (isinstance(raw, dict) and all(isinstance(t, dict) and all(isinstance(v, dict) for v in t.values())
                                                  for t in raw.values())):
                problems.append(("space.when", "write conditional tables as [space.when.<static key>.<value>]"))
                continue
            for static, tables in raw.items():
                for value, table in tables.items():
                    for name, entry in table.items():
                        try:
                            when.setdefault(static, {}).setdefault(value, {})[name] = _space_value(name, entry)
                        except (ValueError, TypeError) as error:
                            problems.append((f"space.when.{static}.{value}.{name}", str(error)))
            continue
        try:
            params[key] = _space_value(key, raw)
        except (ValueError, TypeError) as error:
            problems.append((f"space.{key}", str(error)))
    if problems:
        _raise_problems(problems, f"config {path}")
    try:
        space = Space(params, seeds=sweep.get("seeds", 1), static_keys=static_keys, dynamic_keys=dynamic_keys,
                      when=when)
    except ValueError as error:
        raise ValueError(f"{path}: [space]: {error}") from None
    if data:
        settings["data"] = data
    return space, settings
