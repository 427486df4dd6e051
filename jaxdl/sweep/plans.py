"""Trials, plans, static groups and chunks: a sweep as the arrays the engine vmaps.

A :class:`Plan` is an ordered list of :class:`Trial` and ``info`` on how it
was made (the strategy and its settings, part of the plan's fingerprint).
:func:`grid_plan` and :func:`random_plan` turn a :class:`~jaxdl.sweep.space.Space`
into one:

- :func:`grid_plan`: the cartesian product of the enumerable values. Its size
  is the product of the axis lengths, and it spends most trials varying the
  hyperparameters that matter least; prefer it only for a few discrete keys.
- :func:`random_plan`: ``num_samples`` independent draws. With the same
  budget, random search tries ``num_samples`` distinct values of *every* key,
  where a grid tries only a handful of each (Bergstra and Bengio, 2012,
  "Random Search for Hyper-Parameter Optimization"). This is the "caviar"
  strategy of many models in parallel, against the "panda" strategy of
  babysitting one.

:meth:`Plan.groups` and :func:`chunk_group` cut a plan into the arrays the
engine vmaps: one group per static configuration, each cut into chunks of at
most ``chunk_size`` trials, padded to a multiple of the device count.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import zlib
from typing import Any, Iterable, Mapping

import numpy as np

from jaxdl.sweep.distributions import MAX_TRIALS, Distribution, _is_int
from jaxdl.sweep.space import Space, _canonical_json, _jsonable, _raise_problems, _when_key, validate
from jaxdl.train import _freeze

__all__ = [
    "Trial",
    "Plan",
    "Group",
    "Chunk",
    "grid_plan",
    "random_plan",
    "chunk_group",
    "plan_chunks",
]


def _check_count(count: int, what: str) -> None:
    if count > MAX_TRIALS:
        raise ValueError(f"{what} would make {count:,} trials, more than the {MAX_TRIALS:,} a plan may hold "
                         f"(jaxdl.sweep.distributions.MAX_TRIALS): use fewer values, samples or seeds")


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
        index = self.__dict__.get("_index")
        if index is None:  # built once: a chunk's records look up every trial
            index = {trial.id: trial for trial in self.trials}
            object.__setattr__(self, "_index", index)
        if trial_id not in index:
            raise KeyError(f"no trial with id {trial_id}")
        return index[trial_id]

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
