r"""Compare optimizers as the published optimizer benchmarks do.

In the manner of DeepOBS (Schneider et al., 2019) and AlgoPerf (Dahl et al.,
2023): every optimizer gets the same tuning budget on every task, the tuned
setting is rerun over several seeds, and the measures are the steps and the
wall time to reach a fixed target, plus the best value reached. A
performance profile (Dolan and Moré, 2002) summarises all tasks in one
figure.

Tasks (:data:`TASKS`):

- ``digits_mlp``: the MLP (64 -> 64, ReLU) on the 8x8 digits (60/20/20
  stratified split, standardised), batch 32, 15 epochs; target validation
  accuracy 0.965.
- ``digits_cnn``: a small CNN (one 3x3 conv block of 8 channels with 2x2
  pooling, a dense layer of 32) on the digit images, batch 32, 8 epochs;
  target validation accuracy 0.95.

The network targets are set where every optimizer's median run gets there
within the epochs, but not all in the same epoch (at 0.95 and 0.93 nearly all
tie at epoch 2 and 3); a validation set of 360 images moves in steps of
1/360.
- ``quadratic`` and ``rosenbrock``: the two-parameter surfaces of
  :mod:`experiments.optimizer_surfaces` (an ill-conditioned bowl, condition
  number 100, and Rosenbrock's valley); targets are losses, 1e-6 and 1e-4,
  within 2000 and 20000 steps.

Optimizers (:data:`OPTIMIZERS`): every name of :func:`jaxdl.optim.names`
except aliases, each with its factory's defaults (AdamW keeps its weight
decay of 1e-4), so that an optimizer is the same object on every task.

Protocol, per task and optimizer:

1. Tuning: ``--budget`` learning rates (default 8), log-spaced over the
   optimizer's range for the task (four decades for the networks, five for
   the surfaces; AdaGrad and Adadelta, whose steps scale differently, have
   their ranges moved up). The networks train every rate with seed 0 in one
   in-memory :func:`jaxdl.sweep.run_sweep`; the surfaces run every rate from
   the unperturbed start in one compiled call
   (:func:`experiments.optimizer_surfaces.run_grid`). The chosen rate reaches
   the target in the fewest steps; ties, and rates that miss, are ordered by
   the best validation accuracy (networks) or the final loss (surfaces).
2. Seeds: the chosen rate is rerun ``--seeds`` times (default 5): seeds 1 to
   n for the networks (initialisation, shuffling; seed 0 was used to tune),
   randomly perturbed starts for the surfaces.
3. Measures, per seed:

   - steps to target: for the networks, ``epoch x steps_per_epoch`` at the
     first epoch whose validation accuracy is at or above the target
     (validation is measured once per epoch, so this resolves to an epoch);
     for the surfaces, the step after which the loss stays at or below the
     target (:func:`experiments.optimizer_surfaces.steps_to_target`);
   - time to target: steps to target x seconds per step. Seconds per step
     come from compiled runs, compilation excluded. Networks: the tuning and
     seed sweeps are cut into chunks of ``gcd(budget, seeds)`` trials, so
     both use one compiled program and only the first tuning chunk compiles;
     seconds per step = the smallest over the seed chunks of
     ``chunk wall time / (trials in the chunk x epochs x steps per epoch)``,
     which includes the validation pass after each epoch (with the default
     8 rates and 5 seeds a chunk is one run). Surfaces: one trial at the
     tuned rate, compiled on its own and timed five times (the fastest),
     divided by the step cap. The fastest of several runs is the one least
     disturbed by whatever else the machine runs; on a shared machine the
     times still vary by a factor of two or more from one optimizer to the
     next, so compare times measured on a quiet one;
   - final metric: the best validation accuracy over the epochs (networks),
     the loss at the step cap (surfaces).

4. Performance profile: per task, each optimizer's measure is the median
   over seeds of its steps to target (infinite when more than half the seeds
   miss), and its ratio is that measure over the best one on the task
   (infinite when never reached). :math:`\rho_s(\tau)` is the fraction of
   tasks on which optimizer :math:`s` is within a factor :math:`\tau` of the
   best; :math:`\rho_s(1)` is its share of wins and :math:`\rho_s` at large
   :math:`\tau` the share of tasks it solves at all. The figure shows the
   profile of steps and, beside it, that of wall time.

Adding a task is one entry in :data:`TASKS` (a :class:`TrainingTask` on
another data set or model, a :class:`SurfaceTask` on another surface, or any
object with ``name``, ``target``, ``metric``, ``for_quick()`` and
``run(optimizer, budget, seeds) -> Outcome``); adding an optimizer is
registering its factory in :mod:`jaxdl.optim`, which puts it in
:data:`OPTIMIZERS`.

Run ``python -m benchmarks.compare_optimizers`` (``--quick`` for a check,
about 10 s on a quiet 2-core CPU; ``--help`` for the flags). Writes
``compare_optimizers.md`` (table and finding), ``compare_optimizers.json``
(everything measured) and ``compare_optimizers_profile.png`` to
``runs/benchmarks/compare_optimizers/`` (``runs/benchmarks/quick/compare_optimizers/``
with ``--quick``) or to ``--out``; ``--update-results`` writes the committed
``benchmarks/results/compare_optimizers/`` instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import math
import os
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from experiments import optimizer_surfaces as surfaces
from jaxdl import data as data_lib
from jaxdl import optim, sweep, train

NAME = "compare_optimizers"
COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", NAME)

# The order of the table: historical, plain to adaptive; names registered later follow.
PREFERRED_ORDER = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "nadam", "nadamw", "amsgrad",
                   "adamax", "adagrad", "adadelta")
QUICK_OPTIMIZERS = ("sgd", "adam")
QUICK_TASKS = ("quadratic", "digits_mlp")
SURFACE_TIMING_REPEATS = 5


def default_optimizers(registry: Mapping[str, Callable] | None = None) -> list[str]:
    """Registered optimizer names without aliases, in :data:`PREFERRED_ORDER`, then the rest sorted.

    Names that share one factory are aliases; of them the one equal to the
    factory's ``__name__`` is kept (else the first in sorted order).

    Args:
      registry: ``{name: factory}``; default, :mod:`jaxdl.optim`'s.
    """
    if registry is None:
        registry = {name: optim.get(name) for name in optim.names()}
    by_factory: dict[int, list[str]] = {}
    for name in sorted(registry):
        by_factory.setdefault(id(registry[name]), []).append(name)
    kept = set()
    for names in by_factory.values():
        own = getattr(registry[names[0]], "__name__", None)
        kept.add(own if own in names else names[0])
    ranked = [name for name in PREFERRED_ORDER if name in kept]
    return ranked + sorted(kept - set(ranked))


OPTIMIZERS: list[str] = default_optimizers()


# ---------------------------------------------------------------------------
# What a task returns


class Outcome(NamedTuple):
    """One optimizer on one task.

    Attributes:
      learning_rate: the tuned rate.
      rates: the grid it was tuned on.
      tuning: per rate, ``{"learning_rate", "steps", "score"}`` (steps -1 when
        missed; score: best validation accuracy or final loss).
      steps: per seed, steps to the target (``inf`` when not reached).
      final: per seed, the final metric.
      seconds_per_step: compiled time of one training step (see the module docstring).
      seconds: wall time this task and optimizer took here, compilation included.
      details: further task-specific numbers for the JSON.
    """

    learning_rate: float
    rates: list
    tuning: list
    steps: list
    final: list
    seconds_per_step: float
    seconds: float
    details: dict


def _steps_or_inf(steps: Sequence[int]) -> list[float]:
    return [float(s) if s > 0 else math.inf for s in steps]


def epochs_to_target(accuracy: np.ndarray, target: float) -> np.ndarray:
    """First 1-based epoch (last axis) with accuracy at or above ``target``; -1 if none (NaN never counts)."""
    hit = np.asarray(accuracy, np.float64) >= target
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, -1)


# ---------------------------------------------------------------------------
# Tasks


NETWORK_RATES = (1e-4, 1.0)
NETWORK_RATE_RANGES = {"adagrad": (1e-3, 10.0), "adadelta": (1e-2, 100.0)}


@functools.lru_cache(maxsize=8)
def _load(dataset: str, image: bool, data_dir: str | None) -> train.Data:
    return train.Data.load(dataset, data_dir, image=image)


@dataclasses.dataclass(frozen=True)
class TrainingTask:
    """A network trained with :func:`jaxdl.train.train`; the target is a validation accuracy.

    Attributes:
      name: key in :data:`TASKS`.
      config: :class:`~jaxdl.train.TrainConfig` fields (model, widths, batch
        size, epochs); the optimizer is added per run.
      target: validation accuracy to reach.
      image: NHWC images (for a CNN) instead of flat vectors.
      dataset: a :meth:`jaxdl.train.Data.load` name.
      rates: default ``(low, high)`` of the learning-rate grid.
      rate_ranges: per optimizer ``(low, high)``, where its good rates lie elsewhere.
      quick: fields replaced by :meth:`for_quick` (``config`` entries merge).
      data_dir: folder with the data set's files (every data set but the digits).
    """

    name: str
    config: Mapping[str, Any]
    target: float
    image: bool = False
    dataset: str = "digits"
    rates: tuple[float, float] = NETWORK_RATES
    rate_ranges: Mapping[str, tuple[float, float]] = dataclasses.field(
        default_factory=lambda: dict(NETWORK_RATE_RANGES))
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_dir: str | None = None

    metric = "validation accuracy"

    def for_quick(self) -> "TrainingTask":
        changes = dict(self.quick)
        changes["config"] = {**self.config, **changes.get("config", {})}
        return dataclasses.replace(self, **changes, quick={})

    def rate_grid(self, optimizer: str, budget: int) -> np.ndarray:
        low, high = self.rate_ranges.get(optimizer, self.rates)
        return np.asarray(sweep.loggrid(low, high, budget).values(), np.float64)

    def static(self, optimizer: str) -> dict:
        return dict(sorted({**self.config, "optimizer": optimizer}.items()))

    def data(self) -> train.Data:
        return _load(self.dataset, self.image, self.data_dir)

    def run(self, optimizer: str, budget: int, seeds: int) -> Outcome:
        began = time.perf_counter()
        data = self.data()
        static = self.static(optimizer)
        config = sweep.group_config(static)
        steps_per_epoch = data_lib.steps_per_epoch(int(data.x_train.shape[0]), config.batch_size)
        fixed = _optimizer_defaults(optimizer)
        # One chunk size for both sweeps: one shape, one compiled program, so the
        # seed chunks are timed without compilation.
        chunk = math.gcd(budget, seeds)
        rates = self.rate_grid(optimizer, budget)

        def sweep_records(values: Sequence[tuple[float, int]], strategy: str) -> list[dict]:
            trials = [sweep.Trial(i, static, dict(sorted({"learning_rate": float(rate), **fixed}.items())), seed)
                      for i, (rate, seed) in enumerate(values)]
            plan = sweep.Plan(tuple(trials), {"strategy": strategy, "task": self.name, "optimizer": optimizer})
            return sweep.run_sweep(plan, data, None, chunk_size=chunk, progress=False).records

        tuned = sweep_records([(rate, 0) for rate in rates], "compare_optimizers_tuning")
        accuracy = np.array([r["history"]["val_accuracy"] for r in tuned], np.float64)
        rate_epochs = epochs_to_target(accuracy, self.target)
        best_accuracy = np.array([_best_accuracy(r) for r in tuned])
        best = surfaces.best_rate_index(rate_epochs, -best_accuracy)
        rate = float(rates[best])

        runs = sweep_records([(rate, seed) for seed in range(1, seeds + 1)], "compare_optimizers_seeds")
        seed_epochs = epochs_to_target(np.array([r["history"]["val_accuracy"] for r in runs]), self.target)
        total_steps = config.epochs * steps_per_epoch
        per_step = float(min(r["wall_time"] / (chunk * total_steps) for r in runs))
        first_chunk = tuned[0]["wall_time"]
        return Outcome(
            learning_rate=rate,
            rates=rates.tolist(),
            tuning=[{"learning_rate": float(r), "steps": int(e) * steps_per_epoch if e > 0 else -1,
                     "score": float(a)} for r, e, a in zip(rates, rate_epochs, best_accuracy)],
            steps=_steps_or_inf([int(e) * steps_per_epoch if e > 0 else -1 for e in seed_epochs]),
            final=[_best_accuracy(r) for r in runs],
            seconds_per_step=per_step,
            seconds=time.perf_counter() - began,
            details={
                "steps_per_epoch": steps_per_epoch,
                "epochs": config.epochs,
                "chunk_size": chunk,
                "fixed_hyperparameters": fixed,
                "compile_seconds": max(first_chunk - per_step * chunk * total_steps, 0.0),
                "seed_val_accuracy": [r["history"]["val_accuracy"] for r in runs],
                "diverged_seeds": sum(r["status"] == "diverged" for r in runs),
            },
        )


def _best_accuracy(record: Mapping[str, Any]) -> float:
    value = record["best"].get("val_accuracy")
    return float(value) if value is not None and math.isfinite(value) else -math.inf


def _optimizer_defaults(optimizer: str) -> dict[str, float]:
    """The optimizer's own default weight decay, which HParams would otherwise set to 0."""
    parameter = inspect.signature(optim.get(optimizer)).parameters.get("weight_decay")
    if parameter is None or not isinstance(parameter.default, (int, float)) or parameter.default == 0:
        return {}
    return {"weight_decay": float(parameter.default)}


@dataclasses.dataclass(frozen=True)
class SurfaceTask:
    """A two-parameter surface of :mod:`experiments.optimizer_surfaces`; the target is a loss.

    Attributes:
      surface: the :class:`~experiments.optimizer_surfaces.Surface`
        (its ``target_loss``, ``max_steps`` and ``start_jitter`` apply).
      rates: ``(low, high)`` for every optimizer, overriding the ranges of
        :data:`experiments.optimizer_surfaces.CONTENDERS`; ``None`` keeps them.
      quick: fields replaced by :meth:`for_quick`.
    """

    surface: surfaces.Surface
    rates: tuple[float, float] | None = None
    quick: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    metric = "loss"

    @property
    def name(self) -> str:
        return self.surface.name

    @property
    def target(self) -> float:
        return self.surface.target_loss

    def for_quick(self) -> "SurfaceTask":
        return dataclasses.replace(self, **self.quick, quick={})

    def contender(self, optimizer: str) -> surfaces.Contender:
        # The surfaces experiment calls plain gradient descent "gd".
        known = surfaces.CONTENDERS.get("gd" if optimizer == "sgd" else optimizer)
        rates = self.rates or (known.rates if known else surfaces.RATES)
        factory = optim.get(optimizer)
        return surfaces.Contender(optimizer, lambda learning_rate: factory(learning_rate), rates)

    def rate_grid(self, optimizer: str, budget: int) -> np.ndarray:
        return np.asarray(sweep.loggrid(*self.contender(optimizer).rates, budget).values(), np.float64)

    def run(self, optimizer: str, budget: int, seeds: int) -> Outcome:
        began = time.perf_counter()
        surface = self.surface
        contender = self.contender(optimizer)
        rates = self.rate_grid(optimizer, budget)
        starts = surfaces.perturbed_starts(surface, seeds)
        _, losses = surfaces.run_grid(contender, [surface], rates, [starts])
        losses = losses[0, :, :, : surface.max_steps]
        steps = surfaces.steps_to_target(losses, surface.target_loss)  # (rates, starts)
        final = surfaces.final_loss(losses)
        best = surfaces.best_rate_index(steps[:, 0], final[:, 0])
        return Outcome(
            learning_rate=float(rates[best]),
            rates=rates.tolist(),
            tuning=[{"learning_rate": float(r), "steps": int(s), "score": float(f)}
                    for r, s, f in zip(rates, steps[:, 0], final[:, 0])],
            steps=_steps_or_inf(steps[best, 1:]),
            final=[float(v) for v in final[best, 1:]],
            seconds_per_step=self.seconds_per_step(contender, float(rates[best]), starts[0]),
            seconds=time.perf_counter() - began,
            details={"max_steps": surface.max_steps, "start_jitter": surface.start_jitter},
        )

    def seconds_per_step(self, contender: surfaces.Contender, rate: float, start: np.ndarray) -> float:
        """Fastest of :data:`SURFACE_TIMING_REPEATS` calls of one compiled trial, per step."""
        runner = surfaces.trial_runner(contender.build, [self.surface], self.surface.max_steps)
        args = (jnp.full((1,), rate, jnp.float32), jnp.asarray(start[None], jnp.float32), jnp.zeros((1,), jnp.int32))
        compiled = runner.lower(*args).compile()
        times = []
        for _ in range(SURFACE_TIMING_REPEATS):
            tic = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - tic)
        return float(min(times)) / self.surface.max_steps


QUICK_RATES = (1e-2, 1e-1)

TASKS: dict[str, TrainingTask | SurfaceTask] = {
    "digits_mlp": TrainingTask(
        name="digits_mlp",
        config={"model": "mlp", "hidden": (64, 64), "batch_size": 32, "epochs": 15},
        target=0.965,
        quick={"config": {"hidden": (32,), "epochs": 2}, "target": 0.9, "rates": QUICK_RATES,
               "rate_ranges": {}},
    ),
    "digits_cnn": TrainingTask(
        name="digits_cnn",
        config={"model": "cnn", "channels": (8,), "dense": (32,), "batch_size": 32, "epochs": 8},
        target=0.95,
        image=True,
        quick={"config": {"epochs": 2}, "target": 0.85, "rates": QUICK_RATES, "rate_ranges": {}},
    ),
    "quadratic": SurfaceTask(surfaces.SURFACES["quadratic"], quick={"rates": QUICK_RATES}),
    "rosenbrock": SurfaceTask(surfaces.SURFACES["rosenbrock"],
                              quick={"rates": (1e-3, 1e-1),
                                     "surface": surfaces.SURFACES["rosenbrock"]._replace(max_steps=3000)}),
}


# ---------------------------------------------------------------------------
# Performance profiles


def median_measure(values: Sequence[float]) -> float:
    """Median over seeds, ``inf`` where more than half of them never reached the target."""
    values = np.asarray(values, np.float64)
    return float(np.median(values)) if values.size else math.inf


def performance_ratios(measures: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``r[task][optimizer] = measure / min over optimizers`` (smaller is better); ``inf`` if not reached.

    A task no optimizer solves gives every optimizer ``inf``.
    """
    ratios = {}
    for task, row in measures.items():
        finite = [v for v in row.values() if math.isfinite(v) and v > 0]
        best = min(finite) if finite else math.inf
        ratios[task] = {name: (v / best if math.isfinite(v) and math.isfinite(best) else math.inf)
                        for name, v in row.items()}
    return ratios


def profile_taus(ratios: Mapping[str, Mapping[str, float]], margin: float = 2.0) -> np.ndarray:
    """Every finite ratio (the profile's steps), 1, and ``margin`` times the largest as the right end."""
    finite = [r for row in ratios.values() for r in row.values() if math.isfinite(r)]
    largest = max(finite, default=1.0)
    return np.unique(np.array([1.0, *finite, max(margin * largest, margin)], np.float64))


def performance_profile(ratios: Mapping[str, Mapping[str, float]], taus: Sequence[float]) -> dict[str, np.ndarray]:
    r"""Dolan and Moré's :math:`\rho_s(\tau) = |\{p : r_{p,s} \le \tau\}| / n_p` at each ``tau``.

    Args:
      ratios: ``{task: {optimizer: ratio}}``; every task lists the same optimizers.
      taus: where to evaluate.

    Returns:
      ``{optimizer: rho}``, each an array like ``taus``: a non-decreasing step
      function in [0, 1] that ends, for ``tau`` past every finite ratio, at
      the share of tasks the optimizer solved.
    """
    tasks = list(ratios)
    names = list(ratios[tasks[0]]) if tasks else []
    taus = np.asarray(taus, np.float64)
    table = np.array([[ratios[t][n] for t in tasks] for n in names], np.float64).reshape(len(names), len(tasks))
    within = table[:, :, None] <= taus[None, None, :]
    return {name: within[i].mean(axis=0) if tasks else np.zeros_like(taus) for i, name in enumerate(names)}


def plot_profiles(path: str, profiles: Mapping[str, Mapping[str, Any]], num_tasks: int) -> None:
    """One panel per measure: :math:`\\rho(\\tau)` as steps, log tau, one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, axes = plt.subplots(1, len(profiles), figsize=(6.2 * len(profiles), 4.6), squeeze=False)
    styles = ("-", "--", "-.", ":")
    for ax, (measure, profile) in zip(axes[0], profiles.items()):
        taus = np.asarray(profile["taus"])
        for i, (name, rho) in enumerate(profile["rho"].items()):
            ax.step(taus, rho, where="post", color=f"C{i % 10}", linestyle=styles[i % len(styles)],
                    linewidth=1.6, label=name, alpha=0.85)
        ax.set_xscale("log")
        ax.set_xlim(1.0, taus[-1])
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(r"$\tau$ (within a factor $\tau$ of the best optimizer)")
        ax.set_ylabel(r"$\rho(\tau)$: fraction of tasks")
        ax.set_title(f"Performance profile: {measure} to target ({num_tasks} tasks)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0, -1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Tables


def _mean_text(values: Sequence[float], fmt: Callable[[float], str], unit: str = "") -> str:
    """``mean ± sd`` of the finite values (the reached seeds), with how many reached when not all."""
    mean, spread, n = common.mean_spread(values)
    if n == 0:
        return "not reached"
    spread = spread if spread > 1e-9 * abs(mean) else 0.0  # rounding, not a spread
    text = f"{fmt(mean)} ± {fmt(spread)}{unit}"
    return text if n == len(values) else f"{text} ({n}/{len(values)} reached)"


def _time_text(seconds: Sequence[float]) -> str:
    """Like :func:`_mean_text`, in the unit (s, ms or µs) that suits the mean."""
    mean = common.mean_spread(seconds)[0]
    scale, unit = next(((s, u) for s, u in ((1.0, " s"), (1e-3, " ms"), (1e-6, " µs")) if mean >= s),
                       (1e-6, " µs"))
    return _mean_text([v / scale for v in seconds], lambda v: f"{v:.3g}", unit)


def table_rows(tasks: Mapping[str, Any], outcomes: Mapping[str, Mapping[str, Outcome]],
               ratios: Mapping[str, Mapping[str, float]]) -> list[dict]:
    rows = []
    for task_name, by_optimizer in outcomes.items():
        task = tasks[task_name]
        for name, outcome in by_optimizer.items():
            edge = " (edge)" if outcome.learning_rate in (outcome.rates[0], outcome.rates[-1]) else ""
            times = [s * outcome.seconds_per_step for s in outcome.steps]
            if task.metric == "loss":
                final = f"loss {np.median(outcome.final):.2e} (median)"
            else:
                final = f"acc {_mean_text(outcome.final, lambda v: f'{v:.4f}')}"
            ratio = ratios[task_name][name]
            rows.append({
                "task": f"{task_name} ({'loss' if task.metric == 'loss' else 'val acc'} "
                        f"{'<=' if task.metric == 'loss' else '>='} {task.target:g})",
                "optimizer": name,
                "tuned lr": f"{outcome.learning_rate:.3g}{edge}",
                "steps to target": _mean_text(outcome.steps, lambda v: f"{v:.0f}"),
                "time to target": _time_text(times),
                "final": final,
                "ratio": f"{ratio:.2f}" if math.isfinite(ratio) else "inf",
            })
    return rows


def finding(outcomes: Mapping[str, Mapping[str, Outcome]], measures: Mapping[str, Mapping[str, float]],
            profile: Mapping[str, np.ndarray], taus: np.ndarray, num_seeds: int) -> str:
    parts = []
    for task, row in measures.items():
        reached = sorted((v, n) for n, v in row.items() if math.isfinite(v))
        missed = [n for n, v in row.items() if not math.isfinite(v)]
        text = f"{task}: " + (", ".join(f"{n} {v:.0f}" for v, n in reached) if reached
                              else "no optimizer reached the target")
        if missed:
            text += f"; not reached (median of {num_seeds} seeds): {', '.join(missed)}"
        parts.append(text)
    summary = "Median steps to target, fastest first. " + ". ".join(parts) + "."
    wins = {n: float(rho[0]) for n, rho in profile.items()}
    solved = {n: float(rho[-1]) for n, rho in profile.items()}
    best_wins = max(wins.values(), default=0.0)
    most = max(solved.values(), default=0.0)
    summary += (f" Profile: most wins (rho(1) = {best_wins:.2f}): "
                f"{', '.join(n for n, w in wins.items() if w == best_wins)}; "
                f"most tasks solved ({most:.2f}): {', '.join(n for n, s in solved.items() if s == most)}.")
    within2 = {n: float(rho[np.searchsorted(taus, 2.0, side='right') - 1]) for n, rho in profile.items()}
    top = max(within2.values(), default=0.0)
    summary += (f" Within a factor 2 of the best on the most tasks ({top:.2f}): "
                f"{', '.join(n for n, v in within2.items() if v == top)}.")
    return summary


# ---------------------------------------------------------------------------


def _plain(value):
    """JSON-ready: NumPy values as Python ones, non-finite floats as None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{NAME}",
        description="Compare optimizers with equal tuning budgets: steps and time to a target, "
                    "over seeds, with a performance profile across tasks.")
    p.add_argument("--quick", action="store_true",
                   help=f"a check, about 10 s on a quiet 2-core CPU: {' and '.join(QUICK_OPTIMIZERS)} on "
                        f"{' and '.join(QUICK_TASKS)}, tiny settings (for tests)")
    p.add_argument("--optimizers", nargs="+", choices=optim.names(), metavar="NAME",
                   help=f"optimizers to compare (default: {' '.join(OPTIMIZERS)})")
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), metavar="TASK",
                   help=f"tasks (default: all of {' '.join(TASKS)})")
    p.add_argument("--budget", type=int, help="learning rates tried per optimizer and task (default 8, 2 with --quick)")
    p.add_argument("--seeds", type=int, help="seeds per tuned optimizer (default 5, 2 with --quick)")
    common.add_output_flags(p, COMMITTED)
    return p


def parse_args(argv: Sequence[str] | None = None):
    """The flags, with ``out``, ``budget`` and ``seeds`` resolved."""
    p = make_parser()
    args = p.parse_args(argv)
    args.out = common.benchmark_output(p, args, COMMITTED)
    if args.budget is None:
        args.budget = 2 if args.quick else 8
    if args.seeds is None:
        args.seeds = 2 if args.quick else 5
    if args.budget < 1 or args.seeds < 1:
        p.error("--budget and --seeds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    out, budget, num_seeds = args.out, args.budget, args.seeds
    names = list(args.optimizers or (QUICK_OPTIMIZERS if args.quick else OPTIMIZERS))
    task_names = list(args.tasks or (QUICK_TASKS if args.quick else TASKS))
    tasks = {t: TASKS[t].for_quick() if args.quick else TASKS[t] for t in task_names}
    os.makedirs(out, exist_ok=True)

    began = time.perf_counter()
    outcomes: dict[str, dict[str, Outcome]] = {}
    for task_name, task in tasks.items():
        outcomes[task_name] = {}
        for name in names:
            outcome = task.run(name, budget, num_seeds)
            outcomes[task_name][name] = outcome
            print(f"{task_name} {name}: lr {outcome.learning_rate:.3g}, median steps "
                  f"{median_measure(outcome.steps):.0f}, {outcome.seconds:.1f}s "
                  f"(total {time.perf_counter() - began:.0f}s)", flush=True)

    profiles, measures_by = {}, {}
    for measure in ("steps", "time"):
        scale = (lambda o: 1.0) if measure == "steps" else (lambda o: o.seconds_per_step)
        measures = {t: {n: median_measure(o.steps) * scale(o) for n, o in row.items()} for t, row in outcomes.items()}
        ratios = performance_ratios(measures)
        taus = profile_taus(ratios)
        profiles[measure] = {"taus": taus, "rho": performance_profile(ratios, taus), "ratios": ratios,
                             "measures": measures}
        measures_by[measure] = measures
    png = os.path.join(out, f"{NAME}_profile.png")
    plot_profiles(png, profiles, len(tasks))

    steps_profile = profiles["steps"]
    settings = {
        "quick": args.quick,
        "optimizers": names,
        "tasks": {t: _task_settings(task) for t, task in tasks.items()},
        "learning_rates_per_optimizer": budget,
        "seeds": num_seeds,
        "selection": "fewest steps to the target; ties and misses: best validation accuracy or lowest final loss",
        "profile_measure": "median steps to target over seeds (inf when more than half miss)",
        "time_per_step": ("networks: fastest seed chunk's wall time / (trials x epochs x steps per epoch), "
                          "compiled program shared with tuning, validation included; surfaces: fastest of "
                          f"{SURFACE_TIMING_REPEATS} calls of one compiled trial / step cap"),
        "devices": [str(d) for d in jax.devices()],
        "seconds": round(time.perf_counter() - began, 1),
    }
    runs = {t: {n: {**o._asdict(), "median_steps": median_measure(o.steps)} for n, o in row.items()}
            for t, row in outcomes.items()}
    paths = common.write_results(
        out, NAME,
        title="Optimizers compared with equal tuning budgets: steps and time to target",
        finding=finding(outcomes, measures_by["steps"], steps_profile["rho"], steps_profile["taus"], num_seeds),
        rows=table_rows(tasks, outcomes, steps_profile["ratios"]),
        extra=_plain({"runs": runs, "profiles": profiles}),
        settings=_plain(settings),
    )
    print(f"wrote {png}")
    return {"outcomes": outcomes, "profiles": profiles, "paths": {**paths, "profile": png}, "out": out,
            "seconds": time.perf_counter() - began}


def _task_settings(task) -> dict:
    if isinstance(task, SurfaceTask):
        s = task.surface
        return {"kind": "surface", "target_loss": s.target_loss, "max_steps": s.max_steps, "start": s.start,
                "start_jitter": s.start_jitter, "rates": task.rates or "per optimizer, as optimizer_surfaces"}
    return {"kind": "training", "dataset": task.dataset, "config": dict(task.config),
            "target_val_accuracy": task.target, "rates": task.rates, "rate_ranges": dict(task.rate_ranges)}


if __name__ == "__main__":
    main()
