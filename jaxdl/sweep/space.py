"""Search spaces: which settings a sweep varies, from which distributions, checked before anything is traced.

A sweep varies two kinds of setting, and the difference decides how it runs.

- **Static** keys are fields of :class:`jaxdl.train.TrainConfig` (model,
  hidden widths, activation, optimizer family, batch size, epochs, ...).
  Changing one changes the program, so every distinct static configuration
  is compiled once and forms a *group*.
- **Dynamic** keys are floats of :class:`jaxdl.train.HParams` (learning rate,
  betas, weight decay, dropout rate, schedule parameters, ...). They are
  stacked into arrays with a population axis, so a whole group trains in one
  ``jax.jit(jax.vmap(run))`` call.

A :class:`Space` maps each key to a fixed value or a distribution of
:mod:`jaxdl.sweep.distributions`; :func:`validate` names every bad key at
once. Both classifications are derived from :mod:`jaxdl.train` and the
registries on access, so a registered optimizer's hyperparameters can be
swept like Adam's.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from jaxdl.sweep.distributions import (MAX_TRIALS, Choice, Distribution, _is_int, _is_number,
                                       distribution_from_spec)
from jaxdl.train import _freeze

__all__ = [
    "STATIC_KEYS",
    "DYNAMIC_KEYS",
    "DYNAMIC_BOUNDS",
    "static_keys",
    "dynamic_keys",
    "dynamic_bounds",
    "Space",
    "validate",
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

    And every augmentation's strength (:data:`jaxdl.augment.TRANSFORMS`);
    it applies to the trials whose ``augment`` chooses that transform.

    Derived from :func:`jaxdl.train.dynamic_keys` over the registries, so a
    registered optimizer's hyperparameters can be swept like Adam's. Whether
    a key applies to a trial's own optimizer is checked per static group.
    """
    from jaxdl import augment, registry, train

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
    every_transform = train.TrainConfig(augment=tuple(augment.TRANSFORMS))
    keys.update({k: v for k, v in train.dynamic_keys(every_transform).items() if k not in keys})
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


def _toml_key(text: str) -> str:
    """``text`` as a TOML table-name part: bare when it can be, else in single quotes (``'["random_shift"]'``)."""
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else f"'{text}'"


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

    def to_spec(self) -> dict:
        """The JSON form: ``{"params", "seeds", "when"}`` with distributions as :meth:`Distribution.to_spec`.

        Stored in a plan's ``info`` by the strategies that sample again
        later, so that the plan's fingerprint covers the space.
        ``static_keys``, ``dynamic_keys`` and ``bounds`` are not stored;
        :meth:`from_spec` derives them again.
        """
        def entry(value):
            return value.to_spec() if isinstance(value, Distribution) else _jsonable(value)

        return {"params": {k: entry(v) for k, v in self.params.items()}, "seeds": self.seeds,
                "when": {key: {value: {k: entry(v) for k, v in table.items()} for value, table in tables.items()}
                         for key, tables in self.when.items()}}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "Space":
        """The space :meth:`to_spec` wrote (a table is a distribution, anything else a fixed value)."""
        def entry(value):
            return distribution_from_spec(value) if isinstance(value, Mapping) else _freeze(value)

        when = {key: {value: {k: entry(v) for k, v in table.items()} for value, table in tables.items()}
                for key, tables in spec.get("when", {}).items()}
        return cls({k: entry(v) for k, v in spec["params"].items()}, seeds=spec.get("seeds", 1), when=when)


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
    if key == "monitor" or key in ("task", "metrics", "class_weight", "augment"):
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
    """Dynamic keys that the optimizer, schedule, loss or augmentation of some trial would not take."""
    from jaxdl import augment, train

    problems = []
    routing = ("optimizer", "schedule", "loss", "augment")
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
            users = [f"[space.when.{k}.{_toml_key(_when_key(v))}]" for c in _combinations(space, routing)
                     for k, v in c.items() if k in routing and name in train.dynamic_keys(
                         train.TrainConfig.from_static({k: v}))]
            hint = f"; set it under {' or '.join(sorted(set(users)))}" if users else ""
            what = ", ".join(f"{k} {_when_key(v)!r}" for k, v in combo.items()) or "the default optimizer"
            if name in augment.TRANSFORMS:
                problems.append((name, f"the strength of augmentation {name!r}, which augment does not choose "
                                       f"({what}); add it to augment{hint}"))
                continue
            problems.append((name, f"not used by {what}{hint}"))
    return problems


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
