r"""Question 6: stochastic, mini-batch or full-batch gradient descent on the digits MLP?

The lecture contrasts on-line training (batch size 1: an update per example,
noisy), batch gradient descent (the whole training set: one smooth update per
epoch) and mini-batches between them. Here the digits MLP (64-64, ReLU) trains
with plain SGD for the same number of epochs at batch sizes 1, 32, 128 and
the full training split (1078 examples), so the runs see the same data but
make 1078, 33, 8 and 1 updates per epoch.

Every batch size gets its own learning rate from the same budget
(:func:`experiments.common.tune_learning_rate`: 11 rates half a decade apart
from 1e-4 to 10, best mean validation accuracy over the seeds; full-batch
gradient descent takes rates a mini-batch cannot); the curves and the table
are those seeds at the chosen rate (last epoch, ``restore_best=False``).

The training loss of an epoch is the mean of the mini-batch losses seen
during it, each taken before its update, as the history records it; so the
full batch's first point is the loss at initialisation, while batch size 1
has already made 1078 updates by the end of its first epoch. The validation
loss, taken on the whole validation split at the end of each epoch, compares
the batch sizes after equal passes over the data.

Wall time per epoch is measured on one model per batch size (not a
population): its run is compiled once with ``jax.jit(make_run(...)).lower(...)
.compile()`` (the compile time is reported but excluded), executed once
untimed, then timed over seven executions (cycling over the seeds); the
median time of a whole run divided by its epochs is the time per epoch (it
includes the end-of-epoch validation pass, the same for every batch size).
The curves' time axis places epoch ``e`` at ``e`` times that.

On these 1078 examples a batch-size-1 epoch is 1078 small steps of a compiled
``lax.scan``, so batch size 1 runs the full number of epochs here; on a larger
data set it would need a subset or fewer epochs.

Run ``python -m experiments.batch_size`` (``--quick``: batch sizes 1 and full,
two epochs; ``--help`` for the flags). Writes ``batch_size.png`` (loss
against steps and against wall time) and ``batch_size.{md,json}``.
"""

from __future__ import annotations

import statistics
import time
from typing import Sequence

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402
from jaxdl import sweep, train  # noqa: E402

NAME = "batch_size"
LOW, HIGH = 1e-4, 10.0
FULL = "full"


def _label(batch_size: int, num_train: int) -> str:
    return f"full ({num_train})" if batch_size == num_train else str(batch_size)


def _mean_curve(records: Sequence[dict], metric: str) -> np.ndarray:
    rows = np.array([[np.nan if v is None else v for v in r["history"][metric]] for r in records], np.float64)
    with np.errstate(all="ignore"):
        return np.nanmean(rows, axis=0)


def time_one_model(config: train.TrainConfig, data: train.Data, learning_rate: float, num_seeds: int,
                   repeats: int = 7) -> dict:
    """Compile one model's run once, then time at least ``repeats`` executions over the seeds.

    Neither the compilation nor a first, untimed execution is counted.
    """
    hparams = train.HParams(learning_rate=learning_rate)
    run = jax.jit(train.make_run(config, data))
    tic = time.perf_counter()
    compiled = run.lower(hparams, jax.random.key(0)).compile()
    compile_seconds = time.perf_counter() - tic
    jax.block_until_ready(compiled(hparams, jax.random.key(0)))  # the first execution also allocates: not timed
    seconds, val_losses = [], []
    for repeat in range(max(num_seeds, repeats)):
        seed = repeat % num_seeds
        tic = time.perf_counter()
        result = jax.block_until_ready(compiled(hparams, jax.random.key(seed)))
        seconds.append(time.perf_counter() - tic)
        if repeat < num_seeds:
            val_losses.append(np.asarray(result.history["val_loss"], np.float64))
    run_seconds = statistics.median(seconds)
    return {"compile_seconds": compile_seconds, "run_seconds": seconds,
            "seconds_per_epoch": run_seconds / config.epochs, "val_loss": val_losses}


def plot(results: Sequence[dict], path: str) -> None:
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, r in enumerate(results):
        colour = f"C{i}"
        epochs = np.arange(1, len(r["train_loss_curve"]) + 1)
        steps = epochs * r["steps_per_epoch"]
        seconds = epochs * r["seconds_per_epoch"]
        label = f"batch {r['batch_size']} (lr {r['learning_rate']:.3g})"
        for ax, x in ((by_step, steps), (by_time, seconds)):
            ax.plot(x, r["train_loss_curve"], color=colour, marker="o", markersize=2.5, label=f"{label} train")
            ax.plot(x, r["val_loss_curve"], color=colour, ls="--", lw=1, label=f"{label} validation")
    by_step.set(xlabel="optimizer steps", ylabel="loss (mean over seeds)", xscale="log", yscale="log",
                title="Loss against steps (one point per epoch; training: mean over the epoch)")
    by_time.set(xlabel="wall time of one model (s, compilation excluded)", ylabel="loss (mean over seeds)",
                xscale="log", yscale="log", title="Loss against wall time")
    by_step.legend(fontsize="x-small", ncol=2)
    for ax in (by_step, by_time):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def finding(results: Sequence[dict], epochs: int, num_seeds: int) -> str:
    ranked = sorted(results, key=lambda r: r["final_val_loss"])
    fastest = min(results, key=lambda r: r["seconds_per_epoch"])
    slowest = max(results, key=lambda r: r["seconds_per_epoch"])
    parts = [
        f"After {epochs} epochs of SGD at its own tuned rate, the validation loss ranks "
        + ", ".join(f"batch {r['batch_size']} {r['final_val_loss']:.3g}" for r in ranked)
        + " (training loss " + ", ".join(f"{r['final_train_loss']:.2g}" for r in ranked)
        + "; test accuracy " + ", ".join(f"{r['test_accuracy']}" for r in ranked)
        + f"; {num_seeds} seeds)",
        f"an epoch takes {slowest['seconds_per_epoch'] * 1e3:.3g} ms at batch {slowest['batch_size']} "
        f"({slowest['steps_per_epoch']} steps) and {fastest['seconds_per_epoch'] * 1e3:.3g} ms at batch "
        f"{fastest['batch_size']} ({fastest['steps_per_epoch']} step{'s' if fastest['steps_per_epoch'] > 1 else ''}) "
        f"for one model on {jax.devices()[0].platform.upper()} (median of 7 runs, compilation excluded; the range "
        f"column shows how much runs vary on a shared machine)",
    ]
    edges = [str(r["batch_size"]) for r in results if r["rate_at_grid_edge"]]
    if edges:
        parts.append(f"tuned rate at the edge of the grid for batch {', '.join(edges)}")
    return "; ".join(parts) + "."


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 10 s")
    p.add_argument("--batch-sizes", nargs="+", metavar="B",
                   help=f"batch sizes, '{FULL}' for the whole training split (default 1 32 128 {FULL}, "
                        f"or 1 {FULL} with --quick)")
    p.add_argument("--epochs", type=int, help="epochs for every batch size (default 20, or 2 with --quick)")
    p.add_argument("--budget", type=int, help="learning rates tried per batch size (default 11, or 3 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    epochs = args.epochs or (2 if args.quick else 20)
    budget = args.budget or (3 if args.quick else 11)
    began = time.perf_counter()
    data = train.Data.load("digits", args.data_dir)
    num_train = int(data.x_train.shape[0])
    raw = args.batch_sizes or (["1", FULL] if args.quick else ["1", "32", "128", FULL])
    try:
        batch_sizes = [num_train if b == FULL else int(b) for b in raw]
    except ValueError:
        p.error(f"batch sizes must be integers or '{FULL}', got {raw}")
    if any(not 1 <= b <= num_train for b in batch_sizes):
        p.error(f"batch sizes must lie in 1..{num_train} (the training split), got {batch_sizes}")

    statics = {_label(b, num_train): {"optimizer": "sgd", "batch_size": b, "epochs": epochs, "restore_best": False}
               for b in batch_sizes}
    tic = time.perf_counter()
    rates, records = common.tune_learning_rate(statics, data, low=LOW, high=HIGH, budget=budget, seeds=num_seeds,
                                               progress=not args.quick)
    tune_seconds = time.perf_counter() - tic
    grid = [float(r) for r in sweep.loggrid(LOW, HIGH, budget).values()]

    results = []
    for label, static in statics.items():
        rate = rates[label]
        chosen = [r for r in records if r["static"]["batch_size"] == static["batch_size"]
                  and r["dynamic"]["learning_rate"] == rate]
        timing = time_one_model(train.TrainConfig.from_static(static), data, rate, num_seeds)
        by_seed = {r["seed"]: r for r in chosen}
        # The timed single-model runs repeat the sweep's runs at this rate: the same seeds, the same numbers.
        # Relative to the loss (at least 1): early spikes reach losses near 1e3, where one float32 ulp is 1e-4.
        agreement = max(float(np.nanmax(np.abs(np.asarray(by_seed[s]["history"]["val_loss"], np.float64) - v)
                                        / np.maximum(np.abs(v), 1.0)))
                        for s, v in enumerate(timing["val_loss"]))
        final = lambda metric: [r["final"].get(metric) if r["status"] == "ok" else None for r in chosen]
        train_curve, val_curve = _mean_curve(chosen, "train_loss"), _mean_curve(chosen, "val_loss")
        steps = data_lib.steps_per_epoch(num_train, static["batch_size"])
        results.append({
            "batch_size": label,
            "steps_per_epoch": steps,
            "learning_rate": rate,
            "rate_at_grid_edge": rate in (grid[0], grid[-1]),
            "ms_per_epoch": timing["seconds_per_epoch"] * 1e3,
            "ms_per_epoch_range": "{:.3g} to {:.3g}".format(*(1e3 * t / epochs for t in (min(timing["run_seconds"]),
                                                                                     max(timing["run_seconds"])))),
            "us_per_step": timing["seconds_per_epoch"] / steps * 1e6,
            "compile_s": timing["compile_seconds"],
            "final_train_loss": float(train_curve[-1]),
            "final_val_loss": float(val_curve[-1]),
            "test_accuracy": common.format_mean(final("test_accuracy")),
            "test_accuracy_mean": common.mean_spread(final("test_accuracy"))[0],
            "diverged": sum(r["status"] == "diverged" for r in chosen),
            "seconds_per_epoch": timing["seconds_per_epoch"],
            "run_seconds": timing["run_seconds"],
            "train_loss_curve": train_curve.tolist(),
            "val_loss_curve": val_curve.tolist(),
            "single_run_max_val_loss_difference": agreement,
        })
        print(f"batch {label}: lr {rate:.3g}, {results[-1]['ms_per_epoch']:.3g} ms/epoch, "
              f"test {results[-1]['test_accuracy']}", flush=True)

    plot(results, f"{out}/{NAME}.png")
    columns = ["batch_size", "steps_per_epoch", "learning_rate", "ms_per_epoch", "ms_per_epoch_range", "us_per_step",
               "compile_s", "final_train_loss", "final_val_loss", "test_accuracy", "diverged"]
    settings = {"data": "digits (1078 train / 360 validation / 359 test)", "model": "MLP 64-64 ReLU",
                "optimizer": "sgd", "epochs": epochs, "learning_rate_grid": grid, "seeds": num_seeds,
                "selection": "best mean (over seeds) of best-epoch validation accuracy",
                "timing": "one model, compiled once (compile_s, excluded), one untimed execution, then the median "
                          "of 7 timed whole runs / epochs",
                "tune_seconds": tune_seconds, "quick": bool(args.quick), "devices": str(jax.devices()),
                "seconds": time.perf_counter() - began}
    paths = common.write_results(out, NAME, title="Batch size on the digits MLP (SGD, own tuned rate each)",
                                 finding=finding(results, epochs, num_seeds), rows=results, columns=columns,
                                 extra={}, settings=settings)
    print(f"total {time.perf_counter() - began:.1f} s")
    return {"out": out, "paths": paths, "results": results, "epochs": epochs, "num_train": num_train,
            "seconds": time.perf_counter() - began}


if __name__ == "__main__":
    main()
