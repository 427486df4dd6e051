r"""Question 4: what does each learning-rate schedule look like, and does it train the digits MLP better?

Every schedule in :mod:`jaxdl.schedules` is drawn over one training run (20
epochs of the digits training split, 33 mini-batches of 32 per epoch) with
parameters that suit that length, and then trains the digits MLP (64-64, ReLU)
with plain mini-batch SGD.

Why SGD: with plain SGD the schedule is the only thing that changes the step
size, so the comparison isolates the schedule. Adam rescales every coordinate
by its own running gradient size, which partly does a schedule's job and
would blur the differences.

Why a learning rate per schedule: a schedule changes the average step size
over the run (cosine averages half its peak, a step decay less), so one
shared rate would favour whichever schedule it happens to suit. Every
schedule gets its own initial (peak) rate from the same grid, seeds and rule
(:func:`experiments.common.tune_learning_rate`: 8 rates half a decade apart
from 1e-3 to 3.16, best mean validation accuracy over the seeds; a schedule
that decays early can take a higher peak than a constant rate can). The table's test
accuracy is that of the last epoch (``restore_best=False``) of the same
seeds at the chosen rate; the test split never takes part in the choice.

``join_schedules``, ``piecewise_constant_schedule`` and
``piecewise_constant_decay`` need structure a sweep plan cannot carry (a list
of schedules, boundary-to-scale maps: plans hold JSON settings and float
hyperparameters only). ``inverse_sqrt_schedule`` is given its one-epoch warmup
by a factory too, as in the published table (from when ``jaxdl.train`` could not
train it by name). These four train through ``TrainConfig(schedule=<factory>)``
with the same grid, seeds and selection rule, in one ``jax.jit(jax.vmap(...))``
each; the table's ``path`` column says which way each schedule went.

Run ``python -m experiments.schedules`` (``--quick``: two schedules, two
epochs; ``--help`` for the flags). Writes ``schedules.png`` (the learning rate
of every schedule against the step), ``schedules_loss.png`` (loss curves side
by side) and ``schedules.{md,json}``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402
from jaxdl import schedules, sweep, train  # noqa: E402
from jaxdl.sweep.store import make_record  # noqa: E402

NAME = "schedules"
LOW, HIGH = 1e-3, 10**0.5
QUICK_SCHEDULES = ("constant_schedule", "piecewise_constant_decay")


@dataclasses.dataclass(frozen=True)
class Setting:
    """How one schedule is set up for a run of ``epochs`` epochs of ``steps`` steps.

    Attributes:
      formula: the schedule as used here, for the table.
      arguments: ``(steps_per_epoch, epochs) -> {argument: float}`` for a named
        schedule (passed as sweep hyperparameters), or ``None``.
      factory: ``(steps_per_epoch, epochs) -> factory(init_value, steps_per_epoch)``
        for a schedule that needs structure, or ``None``.
    """

    formula: str
    arguments: Callable[[int, int], dict] | None = None
    factory: Callable[[int, int], Callable] | None = None


def _epochs(epochs: int, fraction: float) -> int:
    """``fraction`` of the run in whole epochs, at least one."""
    return max(1, int(round(fraction * epochs)))


def _piecewise_optax(steps: int, epochs: int) -> Callable:
    boundaries = {_epochs(epochs, 0.5) * steps: 0.1, _epochs(epochs, 0.75) * steps: 0.1}

    def piecewise_constant_schedule(init_value, steps_per_epoch):
        return schedules.piecewise_constant_schedule(init_value, boundaries)

    return piecewise_constant_schedule


def _piecewise_keras(steps: int, epochs: int) -> Callable:
    boundaries = [_epochs(epochs, 0.4) * steps, _epochs(epochs, 0.7) * steps]

    def piecewise_constant_decay(init_value, steps_per_epoch):
        return schedules.piecewise_constant_decay(boundaries, init_value * jnp.array([1.0, 0.2, 0.04]))

    return piecewise_constant_decay


def _inverse_sqrt(steps: int, epochs: int) -> Callable:
    def inverse_sqrt_schedule(init_value, steps_per_epoch):
        return schedules.inverse_sqrt_schedule(init_value, float(steps))

    return inverse_sqrt_schedule


def _warmup_then_linear(steps: int, epochs: int) -> Callable:
    warmup = _epochs(epochs, 0.1) * steps
    total = steps * epochs

    def join_schedules(init_value, steps_per_epoch):
        return schedules.join_schedules(
            [schedules.linear_schedule(0.0, init_value, warmup),
             schedules.linear_schedule(init_value, 0.0, total - warmup)],
            [warmup],
        )

    return join_schedules


SETTINGS: dict[str, Setting] = {
    "constant_schedule": Setting("a0"),
    "cosine_decay_schedule": Setting("a0 (1 + cos(pi t/T)) / 2"),
    "epoch_exponential_decay": Setting("a0 exp(-0.15 epoch)", lambda s, e: {"decay_rate": 0.15}),
    "epoch_inverse_sqrt_decay": Setting("a0 / sqrt(epoch + 1)", lambda s, e: {"scale": 1.0}),
    "epoch_inverse_time_decay": Setting("a0 / (1 + 0.5 epoch)", lambda s, e: {"decay_rate": 0.5}),
    "exponential_decay": Setting("a0 0.01^(t/T)", lambda s, e: {"decay_rate": 0.01}),
    "inverse_sqrt_schedule": Setting("linear warmup from 0 over 1 epoch (W steps), then a0 sqrt(W/t)",
                                     factory=_inverse_sqrt),
    "inverse_time_decay": Setting("a0 / (1 + 9 t/T)", lambda s, e: {"decay_rate": 9.0}),
    "join_schedules": Setting("linear warmup over 10% of the run, then linear to 0", factory=_warmup_then_linear),
    "linear_schedule": Setting("a0 (1 - t/T)", lambda s, e: {"end_value": 0.0}),
    "piecewise_constant_decay": Setting("a0, a0/5, a0/25 after 40% and 70% of the run (Keras)",
                                        factory=_piecewise_keras),
    "piecewise_constant_schedule": Setting("x0.1 at 50% and at 75% of the run (optax)", factory=_piecewise_optax),
    "polynomial_schedule": Setting("a0 (1 - t/T)^2", lambda s, e: {"end_value": 0.0, "power": 2.0}),
    "power_schedule": Setting("a0 / (1 + t/(T/4))^2",
                              lambda s, e: {"decay_steps": float(_epochs(e, 0.25) * s), "power": 2.0}),
    "step_decay": Setting("a0 0.5^floor(epoch/5)",
                          lambda s, e: {"epochs_per_drop": float(_epochs(e, 0.25)), "factor": 0.5}),
    "warmup_cosine_decay_schedule": Setting("1-epoch linear warmup from 0, cosine to 0 at T",
                                            lambda s, e: {"warmup_steps": float(s)}),
}
"""Every schedule's setting; one not listed here is run with its defaults (``a0`` and the run's length)."""


def setting(name: str) -> Setting:
    return SETTINGS.get(name, Setting("defaults"))


def build(name: str, learning_rate: float, steps_per_epoch: int, epochs: int) -> Callable:
    """The schedule ``name`` exactly as :func:`jaxdl.train.train` builds it for this setting.

    The learning rate is the value of ``peak_value`` (warmup forms start at 0)
    or of the first argument; a decay length the schedule requires defaults to
    the whole run; ``steps_per_epoch`` goes to the epoch-based forms.
    """
    chosen = setting(name)
    if chosen.factory is not None:
        factory = chosen.factory(steps_per_epoch, epochs)
        return factory(learning_rate, steps_per_epoch)
    factory = schedules.get(name)
    parameters = inspect.signature(factory).parameters
    args = dict(chosen.arguments(steps_per_epoch, epochs)) if chosen.arguments else {}
    if "peak_value" in parameters:
        args["peak_value"] = learning_rate
        if "init_value" in parameters:
            args.setdefault("init_value", 0.0)
    else:
        args[next(iter(parameters))] = learning_rate
    for length in ("decay_steps", "transition_steps", "first_decay_steps"):  # a decay length: the whole run
        if length in parameters and parameters[length].default is inspect.Parameter.empty:
            args.setdefault(length, steps_per_epoch * epochs)
    if "steps_per_epoch" in parameters:
        args["steps_per_epoch"] = steps_per_epoch
    return factory(**args)


def _static(epochs: int, batch_size: int) -> dict:
    return {"optimizer": "sgd", "epochs": epochs, "batch_size": batch_size, "restore_best": False}


def _tune_structured(name: str, data: train.Data, static: Mapping[str, Any], steps: int, budget: int,
                     num_seeds: int) -> tuple[float, list[dict]]:
    """The same grid, seeds and rule as ``tune_learning_rate``, for a schedule given as a factory."""
    config = train.TrainConfig(schedule=setting(name).factory(steps, static["epochs"]), **static)
    rates = [float(r) for r in sweep.loggrid(LOW, HIGH, budget).values()]
    trials = [sweep.Trial(i * num_seeds + s, {"schedule": name, **static}, {"learning_rate": r}, s)
              for i, r in enumerate(rates) for s in range(num_seeds)]
    n = len(trials)
    zeros = jnp.zeros((n,), jnp.float32)
    hparams = train.HParams(learning_rate=jnp.asarray([t.dynamic["learning_rate"] for t in trials], jnp.float32),
                            weight_decay=zeros, l2=zeros, dropout_rate=zeros)
    keys = jax.vmap(jax.random.key)(jnp.asarray([t.seed for t in trials]))
    run = jax.jit(jax.vmap(lambda h, k, d: train.train(config, h, k, d), in_axes=(0, 0, None)))
    tic = time.perf_counter()
    result = jax.block_until_ready(run(hparams, keys, data))
    seconds = time.perf_counter() - tic
    history, metrics, diverged_epoch = jax.device_get((result.history, result.metrics, result.diverged_epoch))
    records = []
    for row, trial in enumerate(trials):
        final = {k: float(v[row]) for k, v in metrics.items() if not k.startswith("best")}
        records.append(make_record(trial, {k: v[row] for k, v in history.items()}, seconds,
                                   diverged_epoch=int(diverged_epoch[row]), final=final))
    scores: dict[float, list] = {}
    for record in records:
        value = record["best"].get("val_accuracy") if record["status"] == "ok" else None
        scores.setdefault(record["dynamic"]["learning_rate"], []).append(value)
    ranked = {rate: common.mean_spread(values)[0] for rate, values in scores.items()}
    ranked = {rate: score for rate, score in ranked.items() if math.isfinite(score)}
    if not ranked:
        raise ValueError(f"every learning rate diverged for schedule {name!r}")
    return max(ranked, key=ranked.get), records


def _tune_named(name: str, data: train.Data, static: Mapping[str, Any], steps: int, budget: int,
                num_seeds: int, progress: bool) -> tuple[float, list[dict]]:
    chosen = setting(name)
    dynamic = chosen.arguments(steps, static["epochs"]) if chosen.arguments else {}
    rates, records = common.tune_learning_rate({name: {"schedule": name, **static}}, data, low=LOW, high=HIGH,
                                               budget=budget, seeds=num_seeds, dynamic=dynamic, progress=progress)
    return rates[name], records


def _mean_curve(records: Sequence[dict], metric: str) -> list[float]:
    rows = np.array([[np.nan if v is None else v for v in r["history"][metric]] for r in records], np.float64)
    with np.errstate(all="ignore"):
        return [float(v) for v in np.nanmean(rows, axis=0)] if np.isfinite(rows).any() else [math.nan] * rows.shape[1]


def _final(records: Sequence[dict], metric: str) -> list[float]:
    return [r["final"].get(metric) if r["status"] == "ok" else None for r in records]


def run_schedule(name: str, data: train.Data, static: Mapping[str, Any], steps: int, budget: int, num_seeds: int,
                 progress: bool) -> dict:
    """Tune one schedule's rate and summarise its runs at that rate."""
    tic = time.perf_counter()
    structured = setting(name).factory is not None
    if structured:
        rate, records = _tune_structured(name, data, static, steps, budget, num_seeds)
    else:
        rate, records = _tune_named(name, data, static, steps, budget, num_seeds, progress)
    chosen = [r for r in records if r["dynamic"]["learning_rate"] == rate]
    test, val = _final(chosen, "test_accuracy"), _final(chosen, "val_accuracy")
    grid = [float(r) for r in sweep.loggrid(LOW, HIGH, budget).values()]
    return {
        "schedule": name,
        "formula": setting(name).formula,
        "path": "TrainConfig(schedule=factory)" if structured else "tune_learning_rate",
        "learning_rate": rate,
        "rate_at_grid_edge": rate in (grid[0], grid[-1]),
        "test_accuracy": common.format_mean(test),
        "test_accuracy_mean": common.mean_spread(test)[0],
        "test_accuracy_sd": common.mean_spread(test)[1],
        "val_accuracy": common.format_mean(val),
        "final_train_loss": _mean_curve(chosen, "train_loss")[-1],
        "diverged": sum(r["status"] == "diverged" for r in chosen),
        "curves": {m: _mean_curve(chosen, m) for m in ("train_loss", "val_loss", "val_accuracy", "learning_rate")},
        "test_accuracies": test,
        "seconds": time.perf_counter() - tic,
    }


# ---------------------------------------------------------------------------
# Figures


def _grid_shape(n: int) -> tuple[int, int]:
    cols = min(4, n)
    return math.ceil(n / cols), cols


def relative_rates(names: Sequence[str], steps: int, epochs: int) -> dict[str, np.ndarray]:
    """Each schedule's learning rate divided by its initial (peak) rate at every step of the run.

    All schedules are evaluated in one compiled program: eager evaluation
    would dispatch (and compile) every primitive of every schedule one by one.
    """
    evaluate = jax.jit(lambda t: [build(name, 1.0, steps, epochs)(t).astype(jnp.float32) for name in names])
    values = evaluate(jnp.arange(steps * epochs))
    return {name: np.asarray(v, np.float64) for name, v in zip(names, values)}


def plot_schedules(curves: Mapping[str, np.ndarray], rates: Mapping[str, float], steps: int, epochs: int,
                   path: str) -> None:
    """Small multiples: each schedule's learning rate divided by its initial (peak) rate, against the step."""
    names = list(curves)
    rows, cols = _grid_shape(len(names))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), sharex=True, sharey=True, squeeze=False)
    t = np.arange(steps * epochs)
    for ax, name in zip(axes.flat, names):
        ax.plot(t / steps, curves[name], color="C0", lw=1.5)
        title = name
        if name in rates:
            title += f"\npeak {rates[name]:.3g}"
        ax.set_title(title, fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_ylim(-0.03, 1.08)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch (step / steps per epoch)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("lr / peak lr", fontsize=8)
    fig.suptitle(f"Learning rate over a run of {epochs} epochs x {steps} steps (SGD, batch 32, digits)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_losses(results: Sequence[dict], path: str) -> None:
    """Small multiples: mean training (solid) and validation (dashed) loss, constant schedule in grey."""
    rows, cols = _grid_shape(len(results))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), sharex=True, sharey=True, squeeze=False)
    reference = next((r for r in results if r["schedule"] == "constant_schedule"), None)
    for ax, result in zip(axes.flat, results):
        epochs = np.arange(1, len(result["curves"]["train_loss"]) + 1)
        if reference is not None and result is not reference:
            ax.plot(epochs, reference["curves"]["train_loss"], color="0.65", lw=1)
            ax.plot(epochs, reference["curves"]["val_loss"], color="0.65", lw=1, ls="--")
        ax.plot(epochs, result["curves"]["train_loss"], color="C0", lw=1.5)
        ax.plot(epochs, result["curves"]["val_loss"], color="C3", lw=1.5, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"{result['schedule']}\n"
                     f"lr {result['learning_rate']:.3g}, test {result['test_accuracy_mean']:.3f}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("loss", fontsize=8)
    fig.suptitle("Training loss (blue) and validation loss (red, dashed), mean over seeds; grey: constant schedule",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Finding


def finding(results: Sequence[dict], num_seeds: int, num_test: int) -> str:
    ranked = sorted(results, key=lambda r: -r["test_accuracy_mean"])
    best, worst = ranked[0], ranked[-1]
    constant = next((r for r in results if r["schedule"] == "constant_schedule"), None)
    spread = float(np.nanmedian([r["test_accuracy_sd"] for r in results]))
    text = (f"With its own tuned rate, every schedule trains the digits MLP with SGD to a last-epoch test accuracy "
            f"between {worst['test_accuracy_mean']:.4f} ({worst['schedule']}) and {best['test_accuracy_mean']:.4f} "
            f"({best['schedule']}) (mean over {num_seeds} seeds; median sd {spread:.4f}; one of the {num_test} "
            f"test images is {1 / num_test:.4f})")
    if constant is not None:
        better = [r["schedule"] for r in results
                  if r["test_accuracy_mean"] - constant["test_accuracy_mean"] > 2 * max(spread, 1e-9)]
        text += (f"; the constant rate gets {constant['test_accuracy_mean']:.4f}, and "
                 + (f"{len(better)} schedule(s) beat it by more than twice the median sd ({', '.join(better)})"
                    if better else "no schedule beats it by more than twice the median sd"))
    edges = [r["schedule"] for r in results if r["rate_at_grid_edge"]]
    if edges:
        text += f"; tuned rate at the edge of the grid for {', '.join(edges)}"
    diverged = [f"{r['schedule']} ({r['diverged']})" for r in results if r["diverged"]]
    if diverged:
        text += f"; diverged seeds at the chosen rate: {', '.join(diverged)}"
    return text + "."


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 20 s")
    p.add_argument("--epochs", type=int, help="epochs per run (default 20, or 2 with --quick)")
    p.add_argument("--budget", type=int, help="learning rates tried per schedule (default 8, or 3 with --quick)")
    p.add_argument("--schedules", nargs="+", metavar="NAME",
                   help=f"schedules to train (default all; with --quick {' '.join(QUICK_SCHEDULES)})")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    epochs = args.epochs or (2 if args.quick else 20)
    budget = args.budget or (3 if args.quick else 8)
    batch_size = 32
    names = list(args.schedules or (QUICK_SCHEDULES if args.quick else schedules.names()))
    unknown = [n for n in names if n not in schedules.names()]
    if unknown:
        p.error(f"unknown schedule(s) {unknown}; known: {', '.join(schedules.names())}")

    began = time.perf_counter()
    data = train.Data.load("digits", args.data_dir)
    steps = data_lib.steps_per_epoch(int(data.x_train.shape[0]), batch_size)
    static = _static(epochs, batch_size)
    results, skipped = [], {}
    for name in names:
        try:
            result = run_schedule(name, data, static, steps, budget, num_seeds, progress=not args.quick)
        except (TypeError, ValueError) as error:
            skipped[name] = str(error)
            print(f"{name}: skipped ({error})")
            continue
        results.append(result)
        print(f"{name}: lr {result['learning_rate']:.3g}, test {result['test_accuracy']} "
              f"({result['seconds']:.1f} s)", flush=True)

    curves = relative_rates(schedules.names(), steps, epochs)
    for result in results:
        # The schedule as drawn, at the last step of each epoch: what the history's learning_rate records.
        result["relative_rate_at_epoch_end"] = [float(v) for v in curves[result["schedule"]][steps - 1::steps]]
    plot_schedules(curves, {r["schedule"]: r["learning_rate"] for r in results}, steps, epochs, f"{out}/{NAME}.png")
    plot_losses(results, f"{out}/{NAME}_loss.png")
    columns = ["schedule", "formula", "learning_rate", "test_accuracy", "val_accuracy", "final_train_loss",
               "diverged"]
    rows = [{c: r[c] for c in columns} for r in results]
    settings = {"data": "digits (1078 train / 360 validation / 359 test)", "model": "MLP 64-64 ReLU",
                "optimizer": "sgd", "batch_size": batch_size, "epochs": epochs, "steps_per_epoch": steps,
                "learning_rate_grid": [float(r) for r in sweep.loggrid(LOW, HIGH, budget).values()],
                "seeds": num_seeds, "selection": "best mean (over seeds) of best-epoch validation accuracy",
                "reported": "last-epoch test and validation accuracy at the chosen rate",
                "quick": bool(args.quick), "seconds": time.perf_counter() - began}
    extra = {"results": results, "skipped": skipped}
    paths = common.write_results(out, NAME, title="Learning-rate schedules on the digits MLP (SGD)",
                                 finding=finding(results, num_seeds, int(data.x_test.shape[0])), rows=rows, columns=columns, extra=extra,
                                 settings=settings)
    print(f"total {time.perf_counter() - began:.1f} s")
    return {"results": results, "skipped": skipped, "paths": paths, "out": out, "steps_per_epoch": steps,
            "epochs": epochs, "seconds": time.perf_counter() - began}


if __name__ == "__main__":
    main()
