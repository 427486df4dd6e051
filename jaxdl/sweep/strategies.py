"""Search strategies: how a sweep proposes its trials, one stage at a time.

A strategy proposes a first :class:`Stage` from its plan, then a next stage
from the records so far, or none. A stage is a set of trials, how many epochs
each trains now, and, for each trial that continues an earlier one, which
trial of the previous stage it continues from (its *parent*): the engine
hands the parent's training state (parameters, optimizer state, batch
statistics, key, epoch counter) to the child, which trains on with the
child's hyperparameters. The engine and the store know nothing else about
strategies; a new one is a subclass registered under a name
(:func:`jaxdl.registry.register_strategy`), with no change to either.

========================  ==================================================
``grid``, ``random``      one stage (:func:`~jaxdl.sweep.plans.grid_plan`,
                          :func:`~jaxdl.sweep.plans.random_plan`)
``halving``               successive halving: one stage per rung; each keeps
                          the best ``ceil(n / eta)`` and trains them longer
``pbt``                   population-based training: intervals of epochs;
                          after each, the bottom fraction copies the state of
                          the top fraction and perturbs its hyperparameters
``coarse_to_fine``        random stages, each sampled from the ranges the
                          best trials so far span
``optuna``                batches asked from an Optuna sampler, told back
                          (:mod:`jaxdl.sweep.optuna_search`)
========================  ==================================================

The plan (:func:`build_plan`) holds the first stage's trials and, in
``info``, the strategy's name and settings (and the space, for strategies
that sample again), so it fixes everything that follows and its fingerprint
guards a resumed run. Every next stage is a pure function of the plan and the
records, so a resumed sweep replays the finished stages from disk and trains
only what is missing. Records carry their ``stage``, their ``parent`` (the
trial id of the previous stage they continued, or ``None``) and whether they
are ``candidate`` for the best (a halving rung or PBT interval that later
stages continued is not).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np

from jaxdl import registry
from jaxdl.sweep.distributions import Choice, Distribution, IntUniform, LogUniform, Uniform, _is_int, _is_number
from jaxdl.sweep.plans import Plan, Trial, grid_plan, random_plan
from jaxdl.sweep.space import Space, _canonical_json

__all__ = [
    "REQUIRED",
    "Setting",
    "Stage",
    "Strategy",
    "OneStage",
    "GridSearch",
    "RandomSearch",
    "Halving",
    "PBT",
    "CoarseToFine",
    "strategy_names",
    "get",
    "from_plan",
    "build_plan",
    "halving_rungs",
    "halving_plan",
    "rank_trials",
    "successive_halving",
    "exploit_and_explore",
    "shrink_space",
]


# ---------------------------------------------------------------------------
# Settings


def _positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 1 else f"must be a positive integer, got {value!r}"


def _above_one(value: Any) -> str | None:
    return None if _is_number(value) and value > 1 else f"must be a number > 1, got {value!r}"


def _quantile(value: Any) -> str | None:
    return None if _is_number(value) and 0 < value <= 0.5 else f"must be a number in (0, 0.5], got {value!r}"


def _probability(value: Any) -> str | None:
    return None if _is_number(value) and 0 <= value <= 1 else f"must be a number in [0, 1], got {value!r}"


def _factors(value: Any) -> str | None:
    if isinstance(value, (list, tuple)) and value and all(_is_number(v) and 0 < v < math.inf for v in value):
        return None
    return f"must be a non-empty list of positive numbers, got {value!r}"


REQUIRED = object()
"""The default of a setting a strategy cannot do without."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """A ``[sweep]`` setting of a strategy: its default (or :data:`REQUIRED`), its check, what it means."""

    default: Any
    check: Callable[[Any], str | None]
    help: str

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


_NUM_SAMPLES = Setting(REQUIRED, _positive_int, "configurations to draw")
_MAX_EPOCHS = Setting(REQUIRED, _positive_int, "epochs each surviving trial trains in all")


# ---------------------------------------------------------------------------
# The protocol


@dataclasses.dataclass(frozen=True)
class Stage:
    """One round of training a strategy proposes.

    Attributes:
      index: 0 for the first stage, then 1, 2, ...
      trials: what trains now: ids, static values, this stage's dynamic
        values, seeds. A trial's id may repeat an earlier stage's (halving's
        survivors, PBT's members) or be new (coarse-to-fine, Optuna).
      epochs: epochs each trains in this stage; ``None`` keeps each trial's own.
      total_epochs: the length of the whole run, over which a schedule whose
        decay length defaults to "the whole run" decays; ``None``: the stage's.
      parents: ``{trial id: trial id of the previous stage it continues from}``;
        trials it omits start afresh.
      keep_carry: whether the next stage may continue from these trials.
      candidate: whether these records compete for the best configuration.
      grouped: whether trials that differ only by seed form one configuration
        (``False``: each trial is its own, as a PBT member, whose
        hyperparameters are a schedule along its lineage).
      prefix: prepended to chunk ids (``"r1-"``), so each stage's chunks are its own.
      info: what the stage log of the summary shows about it (JSON-ready).
    """

    index: int
    trials: Plan
    epochs: int | None = None
    total_epochs: int | None = None
    parents: Mapping[int, int] = dataclasses.field(default_factory=dict)
    keep_carry: bool = False
    candidate: bool = True
    grouped: bool = True
    prefix: str = ""
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def log(self) -> dict:
        """The stage's entry in the summary's ``stages`` list."""
        return {"stage": self.index, "epochs": self.epochs, "trials": [t.id for t in self.trials],
                "continued": len(self.parents), **self.info}


class Strategy:
    """Base of the search strategies.

    A subclass sets ``name`` and ``settings`` (its ``[sweep]`` settings
    beyond ``seeds``, ``seed``, ``metric``, ``maximize``, ``chunk_size`` and
    ``keep``), builds its plan with :meth:`make_plan`, and proposes stages
    with :meth:`first` and :meth:`next`. It is constructed from the plan
    alone (plus the selection metric and the run directory), so a resumed
    sweep rebuilds it from ``plan.json``; ``next`` must be a pure function
    of the plan and the records, so the replay of a resumed sweep proposes
    the same stages.

    Example, a strategy that trains everyone, then the best half once more::

        @jaxdl.register_strategy("twice")
        class Twice(Strategy):
            settings = {"num_samples": Setting(REQUIRED, lambda v: None, "configurations")}

            @classmethod
            def make_plan(cls, space, settings, known=None):
                plan = random_plan(space, settings["num_samples"], settings["seed"], known)
                return Plan(plan.trials, {**plan.info, "strategy": "twice"})

            def first(self):
                return Stage(0, self.plan, keep_carry=True, candidate=False, prefix="s0-")

            def next(self, stage, records):
                if stage.index == 1:
                    return None
                ranked = rank_trials([r["id"] for r in records], [r["final"][self.metric] for r in records],
                                     self.maximize)
                best = ranked[: len(ranked) // 2]
                return Stage(1, self.plan.select(best), parents={i: i for i in best}, prefix="s1-")
    """

    name: ClassVar[str] = ""
    settings: ClassVar[Mapping[str, Setting]] = {}

    def __init__(self, plan: Plan, metric: str = "val_accuracy", maximize: bool = True,
                 directory: str | None = None):
        self.plan = plan
        self.metric = metric
        self.maximize = maximize
        self.directory = directory

    @classmethod
    def make_plan(cls, space: Space, settings: Mapping[str, Any], known: Mapping[str, Iterable[str]] | None = None
                  ) -> Plan:
        """The plan of this strategy: the first stage's trials, and ``info`` naming the strategy."""
        raise NotImplementedError(f"{cls.__name__} does not define make_plan")

    def first(self) -> Stage:
        """The first stage (from the plan)."""
        raise NotImplementedError(f"{type(self).__name__} does not define first")

    def next(self, stage: Stage, records: Sequence[Mapping[str, Any]]) -> Stage | None:
        """The stage after ``stage``, given every record so far; ``None`` ends the sweep."""
        return None

    def close(self) -> None:
        """Release what the strategy holds open (a database); called once the sweep ends."""

    def score(self, record: Mapping[str, Any]) -> float:
        """``final.<metric>`` of a record; NaN when it diverged."""
        value = record["final"].get(self.metric) if record["status"] == "ok" else None
        return float("nan") if value is None else float(value)

    def rank(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Trial ids of ``records``, best first (:func:`rank_trials`)."""
        return rank_trials([r["id"] for r in records], [self.score(r) for r in records], self.maximize,
                           [r["id"] for r in records if r["status"] == "diverged"])


def _register(cls):
    registry.register_strategy(cls.name, cls, replace=True)
    return cls


def strategy_names() -> list[str]:
    """Every registered strategy."""
    return registry.STRATEGIES.names()


def get(name: str) -> type[Strategy]:
    """The strategy registered as ``name`` (one line naming the known ones otherwise)."""
    return registry.STRATEGIES.get(name)


def from_plan(plan: Plan, metric: str = "val_accuracy", maximize: bool = True,
              directory: str | None = None) -> Strategy:
    """The strategy ``plan.info["strategy"]`` names, built from the plan; one stage for a name none registered.

    A plan built by hand (``Plan(trials, {"strategy": "my_tuning"})``) is
    one stage of its trials.
    """
    name = plan.info.get("strategy")
    cls = registry.STRATEGIES.get(name) if name in registry.STRATEGIES.names() else OneStage
    return cls(plan, metric, maximize, directory)


def build_plan(space: Space, settings: Mapping[str, Any], known: Mapping[str, Iterable[str]] | None = None) -> Plan:
    """The plan of ``settings["strategy"]`` (default ``"random"``) for ``space``; settings as :func:`load_config` returns them."""
    cls = get(settings.get("strategy", "random"))
    values = {name: setting.default for name, setting in cls.settings.items() if not setting.required}
    values.update({"seed": 0, **settings})
    missing = [name for name, setting in cls.settings.items() if setting.required and name not in values]
    if missing:
        raise ValueError(f"strategy {cls.name!r} needs {', '.join(missing)}")
    return cls.make_plan(space, values, known)


# ---------------------------------------------------------------------------
# Ranking


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


def _stage_records(records: Sequence[Mapping[str, Any]], stage: int) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("stage", 0) == stage]


def _stage_seed(seed: int, stage: int, what: str) -> np.random.Generator:
    """The generator of one stage's draws: a function of the plan's seed and the stage alone."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), stage, zlib.crc32(what.encode())]))


# ---------------------------------------------------------------------------
# Grid and random: one stage


class OneStage(Strategy):
    """Every trial of the plan, once: what grid and random search are, and any plan built by hand."""

    name = ""

    def first(self) -> Stage:
        if not len(self.plan):
            raise ValueError("the plan has no trials")
        return Stage(0, self.plan)


@_register
class GridSearch(OneStage):
    """Every combination of the enumerable values (:func:`~jaxdl.sweep.plans.grid_plan`)."""

    name = "grid"

    @classmethod
    def make_plan(cls, space, settings, known=None):
        return grid_plan(space, known)


@_register
class RandomSearch(OneStage):
    """``num_samples`` independent draws (:func:`~jaxdl.sweep.plans.random_plan`)."""

    name = "random"
    settings = {"num_samples": _NUM_SAMPLES}

    @classmethod
    def make_plan(cls, space, settings, known=None):
        return random_plan(space, settings["num_samples"], settings["seed"], known)


# ---------------------------------------------------------------------------
# Successive halving


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


def _no_epochs(space: Space, strategy: str, how: str) -> None:
    if "epochs" in space.params:
        raise ValueError(f"invalid search space: 'epochs': {strategy} sets epochs {how}; remove it from the space")


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
    _no_epochs(space, "successive halving", "per rung from min_epochs and max_epochs")
    rungs = halving_rungs(min_epochs, max_epochs, eta)
    plan = random_plan(space, num_samples, seed=seed, known=known)
    return Plan(plan.trials, {**plan.info, "strategy": "halving", "eta": eta, "rungs": rungs})


@_register
class Halving(Strategy):
    """Successive halving (Jamieson and Talwalkar, 2016; Li et al., 2018, "Hyperband").

    Rung 0 trains every trial for ``rungs[0]`` epochs; the best
    ``ceil(n / eta)`` by ``final.<metric>`` (diverged trials last) continue
    from their state for ``rungs[k] - rungs[k - 1]`` more epochs, exactly as
    if they had never stopped. Only the last rung's records are candidates.
    """

    name = "halving"
    settings = {
        "num_samples": _NUM_SAMPLES,
        "min_epochs": Setting(REQUIRED, _positive_int, "epochs of the first rung"),
        "max_epochs": _MAX_EPOCHS,
        "eta": Setting(3, _above_one, "reduction factor: each rung keeps ceil(n / eta)"),
    }

    def __init__(self, plan, metric="val_accuracy", maximize=True, directory=None):
        super().__init__(plan, metric, maximize, directory)
        if "rungs" not in plan.info:
            raise ValueError("a halving plan needs info['rungs']; build it with halving_plan")
        self.rungs = [int(e) for e in plan.info["rungs"]]
        self.eta = plan.info.get("eta", 3)

    @classmethod
    def make_plan(cls, space, settings, known=None):
        return halving_plan(space, settings["num_samples"], settings["min_epochs"], settings["max_epochs"],
                            settings["eta"], settings["seed"], known)

    def _rung(self, k: int, trials: Plan, parents: Mapping[int, int]) -> Stage:
        last = k == len(self.rungs) - 1
        return Stage(k, trials, epochs=self.rungs[k] - (self.rungs[k - 1] if k else 0), total_epochs=self.rungs[-1],
                     parents=parents, keep_carry=not last, candidate=last, prefix=f"r{k}-",
                     info={"epochs_so_far": self.rungs[k]})

    def first(self) -> Stage:
        return self._rung(0, self.plan, {})

    def next(self, stage, records):
        if stage.index == len(self.rungs) - 1:
            return None
        current = _stage_records(records, stage.index)
        survivors = successive_halving([r["id"] for r in current], [self.score(r) for r in current], self.eta,
                                       self.maximize, [r["id"] for r in current if r["status"] == "diverged"])
        return self._rung(stage.index + 1, self.plan.select(survivors), {i: i for i in survivors})


# ---------------------------------------------------------------------------
# Population-based training


def _explorable(space: Space, static: Mapping[str, Any]) -> dict[str, Distribution]:
    """The dynamic keys a member's configuration draws from a distribution (its ``when`` entries included)."""
    entries = {**space.params, **space.conditional(static)}
    return {k: v for k, v in sorted(entries.items()) if isinstance(v, Distribution) and not space.is_static(k)}


def _perturb(spec: Distribution, value: float, factor: float) -> float:
    """``value * factor`` inside ``spec``'s support; for enumerable values, the neighbour in that direction."""
    if spec.enumerable:
        values = sorted(spec.values())
        index = int(np.argmin([abs(v - value) for v in values]))
        index = min(len(values) - 1, index + 1) if factor > 1 else max(0, index - 1) if factor < 1 else index
        return values[index]
    low, high, attained = spec.support()
    if not attained:
        high = float(np.nextafter(np.float32(high), np.float32(low)))  # stays inside [low, high)
    moved = min(max(value * factor, low), high)
    return int(round(moved)) if isinstance(spec, IntUniform) else float(moved)


def exploit_and_explore(
    members: Sequence[Mapping[str, Any]],
    space: Space,
    rng: np.random.Generator,
    *,
    maximize: bool,
    score: Callable[[Mapping[str, Any]], float],
    quantile: float = 0.25,
    resample_probability: float = 0.25,
    perturb: Sequence[float] = (0.8, 1.2),
) -> tuple[dict[int, int], dict[int, dict[str, float]]]:
    """One PBT step over a population's records: who continues from whom, with which hyperparameters.

    Within each static group (members that can share a program), the
    ``ceil(quantile * n)`` worst members (at most half; diverged ones rank
    last) each copy a member drawn uniformly from as many best (*exploit*),
    then change each of its hyperparameters drawn from a distribution
    (*explore*): with probability ``resample_probability`` a fresh draw from
    the space, else the value times a factor drawn from ``perturb``, kept
    inside the distribution's range (an enumerable one moves to the
    neighbouring value). Everyone else continues from itself, unchanged.
    (Jaderberg et al., 2017, "Population Based Training of Neural Networks";
    the defaults are Ray Tune's.)

    Returns:
      ``(parents, dynamic)``: ``{member id: id whose state it continues}``
      and ``{member id: its hyperparameters for the next interval}``.
    """
    groups: dict[str, list] = {}
    for member in members:
        groups.setdefault(_canonical_json(member["static"]), []).append(member)
    parents, dynamic = {}, {}
    for group in groups.values():
        by_id = {m["id"]: m for m in group}
        ranked = rank_trials(list(by_id), [score(m) for m in group], maximize,
                             [m["id"] for m in group if m["status"] == "diverged"])
        count = min(math.ceil(quantile * len(ranked)), len(ranked) // 2)
        top, bottom = ranked[:count], set(ranked[len(ranked) - count:]) if count else set()
        for member_id in sorted(by_id):
            if member_id not in bottom:
                parents[member_id], dynamic[member_id] = member_id, dict(by_id[member_id]["dynamic"])
                continue
            donor = by_id[top[int(rng.integers(len(top)))]]
            values = dict(donor["dynamic"])
            for name, spec in _explorable(space, donor["static"]).items():
                if rng.random() < resample_probability:
                    values[name] = float(spec.sample(rng, 1)[0])
                else:
                    values[name] = float(_perturb(spec, values[name], float(perturb[int(rng.integers(len(perturb)))])))
            parents[member_id], dynamic[member_id] = donor["id"], values
    return parents, dynamic


@_register
class PBT(Strategy):
    """Population-based training inside the compiled population.

    ``num_samples`` members (times ``seeds``) train in intervals of
    ``interval`` epochs up to ``max_epochs`` (a whole number of intervals,
    so that every interval is the same compiled program). After each interval,
    :func:`exploit_and_explore` decides who copies whom; the engine gathers
    the winners' training state into the losers' rows on the device (one
    gather over the population axis) and the next interval trains on with
    the changed hyperparameters. Members keep their ids; each interval is a
    stage whose records name the member they continued (``parent``) and the
    hyperparameters they trained with, so every lineage can be followed.
    Only the last interval's records are candidates.
    """

    name = "pbt"
    settings = {
        "num_samples": Setting(REQUIRED, _positive_int, "members of the population"),
        "max_epochs": _MAX_EPOCHS,
        "interval": Setting(None, _positive_int, "epochs between exploit/explore steps, a divisor of max_epochs "
                                                 "(default: the largest divisor up to max_epochs / 10)"),
        "quantile": Setting(0.25, _quantile, "fraction of members replaced (and copied from) at each step"),
        "resample_probability": Setting(0.25, _probability, "chance that an explored value is drawn afresh"),
        "perturb": Setting([0.8, 1.2], _factors, "factors an explored value is multiplied by"),
    }

    def __init__(self, plan, metric="val_accuracy", maximize=True, directory=None):
        super().__init__(plan, metric, maximize, directory)
        info = plan.info
        self.space = Space.from_spec(info["space"])
        self.bounds = [int(e) for e in info["intervals"]]

    @classmethod
    def make_plan(cls, space, settings, known=None):
        _no_epochs(space, "population-based training", "per interval from interval and max_epochs")
        total = settings["max_epochs"]
        # Equal intervals: every interval is one compiled program.
        interval = settings["interval"] or max(d for d in range(1, max(1, total // 10) + 1) if total % d == 0)
        if total % interval:
            raise ValueError(f"sweep.interval: max_epochs = {total} is not a whole number of intervals of {interval} "
                             f"epochs; every interval trains as long, so that all are one compiled program")
        plan = random_plan(space, settings["num_samples"], settings["seed"], known)
        info = {**plan.info, "strategy": cls.name, "max_epochs": total, "interval": interval,
                "intervals": list(range(interval, total, interval)) + [total],
                "quantile": settings["quantile"], "resample_probability": settings["resample_probability"],
                "perturb": [float(f) for f in settings["perturb"]], "space": space.to_spec()}
        return Plan(plan.trials, info)

    def _interval(self, k: int, trials: Plan, parents: Mapping[int, int]) -> Stage:
        last = k == len(self.bounds) - 1
        return Stage(k, trials, epochs=self.bounds[k] - (self.bounds[k - 1] if k else 0), total_epochs=self.bounds[-1],
                     parents=parents, keep_carry=not last, candidate=last, grouped=False, prefix=f"s{k}-",
                     info={"epochs_so_far": self.bounds[k],
                           "exploited": sorted(i for i, p in parents.items() if p != i)})

    def first(self) -> Stage:
        return self._interval(0, self.plan, {})

    def next(self, stage, records):
        if stage.index == len(self.bounds) - 1:
            return None
        info = self.plan.info
        members = _stage_records(records, stage.index)
        seed = info["seed"] if _is_int(info["seed"]) else zlib.crc32(str(info["seed"]).encode())
        parents, dynamic = exploit_and_explore(
            members, self.space, _stage_seed(seed, stage.index + 1, self.name), maximize=self.maximize,
            score=self.score, quantile=info["quantile"], resample_probability=info["resample_probability"],
            perturb=info["perturb"])
        trials = tuple(Trial(t.id, t.static, dict(sorted(dynamic[t.id].items())), t.seed)
                       for t in stage.trials)
        return self._interval(stage.index + 1, Plan(trials, info), parents)


# ---------------------------------------------------------------------------
# Coarse to fine


def shrink_space(space: Space, configurations: Sequence[Mapping[str, float]]) -> Space:
    """``space`` with every numeric dynamic range shrunk to the span of ``configurations``' values.

    ``uniform``, ``loguniform`` and ``int_uniform`` become the same kind over
    ``[min, max]`` of the values (so a log-scaled range stays log-scaled and
    shrinks in log space); enumerable values keep only those that occur; a
    range the values do not span (one value) becomes that value. Static
    choices and conditional entries stay as they are.
    """
    params = dict(space.params)
    for name, spec in space.params.items():
        if space.is_static(name) or not isinstance(spec, Distribution):
            continue
        values = sorted({float(c[name]) for c in configurations if name in c})
        if not values:
            continue
        low, high = values[0], values[-1]
        if spec.enumerable:
            params[name] = Choice(tuple(v for v in spec.values() if float(v) in values)) if len(values) > 1 else low
        elif low == high:
            params[name] = int(low) if isinstance(spec, IntUniform) else low
        else:
            kind = {Uniform: Uniform, LogUniform: LogUniform, IntUniform: IntUniform}[type(spec)]
            params[name] = kind(int(low), int(high)) if kind is IntUniform else kind(low, high)
    return Space(params, seeds=space.seeds, static_keys=space.static_keys, dynamic_keys=space.dynamic_keys,
                 bounds=space.bounds, when=space.when)


@_register
class CoarseToFine(Strategy):
    """Random stages, each drawn from the ranges the best configurations so far span.

    Stage 0 draws ``num_samples`` configurations from the space. After each
    stage, the ``top_k`` best configurations of every stage so far (by their
    mean ``final.<metric>`` over seeds) give the next stage's space
    (:func:`shrink_space`), from which ``num_samples`` more are drawn, for
    ``stages`` stages in all. Every stage's records are candidates.
    """

    name = "coarse_to_fine"
    settings = {
        "num_samples": Setting(REQUIRED, _positive_int, "configurations per stage"),
        "stages": Setting(3, _positive_int, "stages, the first included"),
        "top_k": Setting(None, _positive_int, "best configurations whose span the next stage samples "
                                              "(default: a quarter of a stage, at least 2)"),
    }

    def __init__(self, plan, metric="val_accuracy", maximize=True, directory=None):
        super().__init__(plan, metric, maximize, directory)
        self.space = Space.from_spec(plan.info["space"])

    @classmethod
    def make_plan(cls, space, settings, known=None):
        plan = random_plan(space, settings["num_samples"], settings["seed"], known)
        top_k = settings["top_k"] or max(2, settings["num_samples"] // 4)
        return Plan(plan.trials, {**plan.info, "strategy": cls.name, "stages": settings["stages"], "top_k": top_k,
                                  "space": space.to_spec()})

    def first(self) -> Stage:
        return Stage(0, self.plan, prefix="s0-", info={"space": self.space.to_spec()["params"]})

    def next(self, stage, records):
        info = self.plan.info
        if stage.index + 1 >= info["stages"]:
            return None
        from jaxdl.sweep.store import rank_configurations  # the store's one ranking of configurations

        by_id = {r["id"]: r for r in records}
        ranked = rank_configurations(records, self.metric, self.maximize, "final")
        top = [by_id[row["trial_ids"][0]]["dynamic"] for row in ranked[: info["top_k"]]
               if math.isfinite(row["mean"])]
        space = shrink_space(self.space, top) if top else self.space
        seed = info["seed"] if _is_int(info["seed"]) else zlib.crc32(str(info["seed"]).encode())
        stage_seed = int(_stage_seed(seed, stage.index + 1, self.name).integers(2**63))
        drawn = random_plan(space, info["num_samples"], stage_seed)
        offset = (stage.index + 1) * len(self.plan)
        trials = tuple(dataclasses.replace(t, id=t.id + offset) for t in drawn)
        return Stage(stage.index + 1, Plan(trials, info), prefix=f"s{stage.index + 1}-",
                     info={"space": space.to_spec()["params"]})


from jaxdl.sweep import optuna_search  # noqa: E402,F401  (registers "optuna"; Optuna itself is imported when used)
