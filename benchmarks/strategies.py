"""Search strategies at one budget of trial-epochs: random, halving, PBT, Optuna TPE and coarse-to-fine.

Two tasks on the digits data (60/20/20 stratified split, standardised with
the training split's statistics), an MLP 64 -> 64 -> 10 with ReLU:

``adam_cosine``
    Adam, batch 128, the learning rate decaying along a cosine over the
    whole run; searched: the peak ``learning_rate`` (log-uniform on
    [1e-4, 1e-1]) and ``dropout_rate`` (uniform on [0, 0.5]).
``sgd_constant``
    plain SGD, batch 32, at a constant learning rate (log-uniform on
    [1e-3, 1]). A fixed rate trades early speed against late noise; only
    population-based training can change it during a run (a member's rates
    along its lineage are a schedule), so this is the task PBT should win.

Every strategy spends the same budget, ``B = N * E`` trial-epochs
(``N = 32`` and ``E = 18`` by default):

==================  ===========================================================
random              N configurations, E epochs each
halving             rungs at E/9, E/3 and E epochs (eta 3), as many
                    configurations as the budget holds
pbt                 N members, E epochs in intervals of E/6, the defaults'
                    quantile 0.25, perturbation x0.8 / x1.2, resampling 0.25
optuna              Optuna's TPE sampler, N configurations asked N/4 at a time
coarse_to_fine      4 stages of N/4 configurations, each drawn from the ranges
                    the best quarter so far spans
==================  ===========================================================

Each strategy runs ``--repeats`` times (at least 5; repeat ``r`` is the
strategy's seed ``r``; the data split is the same), selecting by the
validation loss (``--metric``): the digits validation split has 360
examples, so its accuracy moves in steps of 1/360, and at this budget
every strategy's best reaches 352/360 (0.9778) in most repeats, a tie that
says nothing (``--metric val_accuracy`` shows it). Figures:

- **Best validation metric against the budget spent.** Each run's
  records are taken in the order they trained (stage, then trial id), each
  spending the epochs of its stage; the curve is the best ``final.<metric>``
  seen so far. The figure shows the median over repeats with the range
  (min to max) shaded.
- **Selected test accuracy.** The test accuracy of the configuration the
  sweep's summary ranks first (held out: never used to select).
- **Budget to target.** The target of a task is the median over repeats of
  random search's best at the full budget; the table
  gives the trial-epochs each strategy spent until it first reached it
  (median over the repeats that did, and how many did).
- **Wall time** of ``jaxdl.sweep.run_sweep`` (median over repeats; the
  first repeat of a strategy also compiles its programs).
- **PBT's exploit step**, the engine's gather of the winners' training state
  into the losers' rows (``carry_time`` of a record), as a fraction of the
  interval's training time (``wall_time``), over every interval after the
  second (the first gather also compiles it). Target: under 1%.

Run ``python -m benchmarks.strategies`` (about 3 minutes on a quiet 2-core
CPU; ``--quick`` for a check, about a minute). A Markdown table goes to
standard output, the results to ``runs/benchmarks/strategies.json`` and the
figure beside it (``runs/benchmarks/quick/`` with ``--quick``, or ``--out``);
``--update-results`` writes the committed
``benchmarks/results/strategies.json`` and ``strategies.png`` instead.
Needs Optuna (``pip install -e '.[optuna]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import tempfile
import time
import warnings

import numpy as np
from tqdm import tqdm

from benchmarks import sweep as sweep_benchmark
from experiments import common
from jaxdl import metrics, sweep
from jaxdl.sweep import engine, strategies

COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "strategies.json")
METRIC = "val_loss"  # the default of --metric; see the module docstring
MODEL = {"hidden": (64, 64), "activation": "relu"}
TASKS = {
    "adam_cosine": {
        "fixed": {**MODEL, "optimizer": "adam", "schedule": "cosine_decay_schedule", "batch_size": 128,
                  "dropout": "standard"},
        "searched": {"learning_rate": sweep.loguniform(1e-4, 1e-1), "dropout_rate": sweep.uniform(0.0, 0.5)},
    },
    "sgd_constant": {
        "fixed": {**MODEL, "optimizer": "sgd", "schedule": "constant_schedule", "batch_size": 32},
        "searched": {"learning_rate": sweep.loguniform(1e-3, 1.0)},
    },
}
STRATEGIES = ("random", "halving", "pbt", "optuna", "coarse_to_fine")


def halving_budget(num_samples: int, rungs: list[int], eta: float) -> int:
    """Trial-epochs successive halving spends: each rung's survivors train up to its epochs."""
    spent, alive, before = 0, num_samples, 0
    for epochs in rungs:
        spent += alive * (epochs - before)
        alive, before = math.ceil(alive / eta), epochs
    return spent


def settings(strategy: str, trials: int, epochs: int, seed: int) -> tuple[dict, bool]:
    """The ``[sweep]`` settings of ``strategy`` at the budget ``trials * epochs``, and whether ``epochs`` is in the space."""
    budget, quarter = trials * epochs, max(1, trials // 4)
    if strategy == "halving":
        rungs = strategies.halving_rungs(max(1, epochs // 9), epochs, 3)
        num_samples = max(n for n in range(1, budget + 1) if halving_budget(n, rungs, 3) <= budget)
        return {"num_samples": num_samples, "min_epochs": rungs[0], "max_epochs": epochs, "eta": 3,
                "seed": seed}, False
    if strategy == "pbt":
        return {"num_samples": trials, "max_epochs": epochs, "interval": max(1, epochs // 6), "seed": seed}, False
    if strategy == "optuna":
        return {"num_samples": trials, "batch": quarter, "sampler": "tpe", "seed": seed}, True
    if strategy == "coarse_to_fine":
        return {"num_samples": quarter, "stages": trials // quarter, "seed": seed}, True
    return {"num_samples": trials, "seed": seed}, True


def make_plan(task: str, strategy: str, trials: int, epochs: int, seed: int) -> sweep.Plan:
    values, with_epochs = settings(strategy, trials, epochs, seed)
    params = {**TASKS[task]["fixed"], **TASKS[task]["searched"], **({"epochs": epochs} if with_epochs else {})}
    return sweep.build_plan(sweep.Space(params), {"strategy": strategy, **values})


def better(value: float, than: float | None, metric: str) -> bool:
    """Whether ``value`` of ``metric`` beats ``than`` (``None``: nothing yet), in the metric's direction."""
    return than is None or (value > than if metrics.maximize(metric) else value < than)


def spent_epochs(result: sweep.SweepResult, epochs: int, metric: str) -> list[tuple[int, float | None]]:
    """``(trial-epochs spent, best validation metric so far)`` after each record, in the order they trained.

    The best is ``None`` until a record that did not diverge has been seen.
    """
    stage_epochs = {entry["stage"]: entry["epochs"] or epochs for entry in result.summary["stages"]}
    spent, best, curve = 0, None, []
    for record in sorted(result.records, key=lambda r: (r.get("stage") or 0, r["id"])):
        spent += stage_epochs[record.get("stage") or 0]
        value = record["final"].get(metric) if record["status"] == "ok" else None
        if value is not None and math.isfinite(value) and better(value, best, metric):
            best = value
        curve.append((spent, best))
    return curve


def selected_test(result: sweep.SweepResult) -> float | None:
    """Held-out test accuracy of the trial the summary names best (its candidate record); ``None`` if none."""
    best = result.summary.get("best")
    if not best:
        return None
    record = next(r for r in result.records if r["id"] == best["id"] and r.get("candidate", True))
    return record["final"].get("test_accuracy")


def exploit_fractions(result: sweep.SweepResult) -> list[float]:
    """``carry_time / wall_time`` of each PBT interval chunk after the second interval."""
    chunks = {(r.get("stage"), r["chunk"]): r for r in result.records if "carry_time" in r}
    return [r["carry_time"] / r["wall_time"] for (stage, _), r in sorted(chunks.items()) if stage >= 2]


def run_one(task: str, strategy: str, trials: int, epochs: int, seed: int, data, folder: str, metric: str) -> dict:
    plan = make_plan(task, strategy, trials, epochs, seed)
    out = tempfile.mkdtemp(prefix=f"{task}-{strategy}-{seed}-", dir=folder)
    try:
        tic = time.perf_counter()
        result = sweep.run_sweep(plan, data, out, metric=metric, progress=False, keep=0)
        seconds = time.perf_counter() - tic
    finally:
        shutil.rmtree(out, ignore_errors=True)
    curve = spent_epochs(result, epochs, metric)
    return {"task": task, "strategy": strategy, "seed": seed, "wall_s": seconds,
            "configurations": len({r["id"] for r in result.records}), "budget": curve[-1][0],
            "best_val": curve[-1][1], "selected_test": selected_test(result), "curve": curve,
            "exploit_fractions": exploit_fractions(result) if strategy == "pbt" else []}


def curve_at(curve: list, budgets: np.ndarray) -> np.ndarray:
    """Best-so-far at each budget: the last point spent at or below it (NaN before the first, or for ``None``)."""
    spent = np.array([c[0] for c in curve])
    best = np.array([np.nan if c[1] is None else c[1] for c in curve], dtype=np.float64)
    index = np.searchsorted(spent, budgets, side="right") - 1
    return np.where(index >= 0, best[np.maximum(index, 0)], np.nan)


def to_target(curve: list, target: float, metric: str) -> int | None:
    """Trial-epochs spent when the best so far first reached ``target`` (``None``: never)."""
    return next((spent for spent, best in curve if best is not None and not better(target, best, metric)), None)


def _finite(values) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def summarize(runs: list[dict], tasks: list[str], names: list[str], metric: str) -> list[dict]:
    """One row per task and strategy; the target is random search's median best (or, without it, the best)."""
    rows = []
    for task in tasks:
        mine = [r for r in runs if r["task"] == task]
        random = _finite(r["best_val"] for r in mine if r["strategy"] == "random")
        every = _finite(r["best_val"] for r in mine)
        target = statistics.median(random) if random else (
            (max if metrics.maximize(metric) else min)(every) if every else None)
        for name in names:
            these = [r for r in mine if r["strategy"] == name]
            finals = _finite(r["best_val"] for r in these) or [float("nan")]
            reached = [] if target is None else [
                s for s in (to_target(r["curve"], target, metric) for r in these) if s is not None]
            fractions = [f for r in these for f in r["exploit_fractions"]]
            test_mean, test_sd, _ = common.mean_spread(r["selected_test"] for r in these)
            rows.append({
                "task": task, "strategy": name, "repeats": len(these), "target": target,
                "budget": these[0]["budget"], "configurations": these[0]["configurations"],
                "best_val_median": statistics.median(finals), "best_val_min": min(finals),
                "best_val_max": max(finals),
                "selected_test_mean": test_mean, "selected_test_sd": test_sd,
                "to_target_median": statistics.median(reached) if reached else None, "reached": len(reached),
                "wall_s_median": statistics.median(r["wall_s"] for r in these),
                "wall_s_first": these[0]["wall_s"],
                "exploit_fraction_median": statistics.median(fractions) if fractions else None,
                "exploit_fraction_max": max(fractions) if fractions else None,
            })
    return rows


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def table(rows: list[dict], metric: str) -> str:
    """The Markdown table of :func:`summarize`'s rows."""
    best, to_target = f"best {metric}: median [min, max]", "trial-epochs to target (reached)"
    shown = []
    for row in rows:
        reached = "never" if row["to_target_median"] is None else f"{row['to_target_median']:.0f}"
        exploit = "" if row["exploit_fraction_median"] is None else (
            f"{100 * row['exploit_fraction_median']:.2f}% (max {100 * row['exploit_fraction_max']:.2f}%)")
        shown.append({
            "task": row["task"], "strategy": row["strategy"], "configurations": row["configurations"],
            best: f"{_number(row['best_val_median'])} [{_number(row['best_val_min'])}, {_number(row['best_val_max'])}]",
            "selected: test accuracy": f"{_number(row['selected_test_mean'])} ± {_number(row['selected_test_sd'])}",
            to_target: f"{reached} ({row['reached']}/{row['repeats']})",
            "wall s: median (first)": f"{row['wall_s_median']:.1f} ({row['wall_s_first']:.1f})",
            "PBT exploit / interval": exploit,
        })
    return common.markdown_table(shown)


def plot(runs: list[dict], rows: list[dict], tasks: list[str], names: list[str], budget: int, metric: str,
         path: str) -> None:
    """One panel per task: each strategy's best so far against the budget spent, median and range over repeats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = np.linspace(0, budget, 97)[1:]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.2 * len(tasks), 4.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for name in names:
            curves = np.array([curve_at(r["curve"], budgets) for r in runs if r["task"] == task and r["strategy"] == name])
            if not curves.size:
                continue
            with warnings.catch_warnings():  # budgets before a run's first record are NaN in every repeat
                warnings.simplefilter("ignore", RuntimeWarning)
                median, low, high = (f(curves, axis=0) for f in (np.nanmedian, np.nanmin, np.nanmax))
            (line,) = ax.plot(budgets, median, label=name, lw=1.8)
            ax.fill_between(budgets, low, high, color=line.get_color(), alpha=0.15, lw=0)
        target = next(row["target"] for row in rows if row["task"] == task)
        if target is not None:
            ax.axhline(target, color="0.4", ls="--", lw=1, label="target: random search's median at the full budget")
        finals = _finite(r["best_val"] for r in runs if r["task"] == task)
        if finals:  # the end of the race, where the strategies differ; the first trials' values run off the top
            low, high = min(finals), max(finals)
            span = max(high - low, 0.01 * abs(high) or 0.01)
            ax.set_ylim(*((low - 4 * span, high + span / 2) if metrics.maximize(metric) else (low - span / 2, high + 4 * span)))
        ax.set(title=task, xlabel="trial-epochs spent", ylabel=f"best {metric} so far")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if metrics.maximize(metric) else "upper right")
    repeats = max(row["repeats"] for row in rows)
    fig.suptitle(f"Best so far at a budget of {budget} trial-epochs: median of {repeats} repeats, min to max shaded")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.strategies", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS), help="tasks to run")
    p.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES), help="strategies to run")
    p.add_argument("--trials", type=int, help="N: the budget is N * E trial-epochs (default 32; 4 with --quick)")
    p.add_argument("--epochs", type=int, help="E (default 18; 6 with --quick)")
    p.add_argument("--repeats", type=int, help="runs of each strategy, seeds 0, 1, ... (default 5; 2 with --quick)")
    p.add_argument("--metric", choices=("val_loss", "val_accuracy"), default=METRIC,
                   help="what every strategy selects by and the figure shows")
    p.add_argument("--quick", action="store_true", help="a small run to check that everything works, about a minute "
                                                        "on a quiet 2-core CPU")
    common.add_output_flags(p, COMMITTED)
    args = p.parse_args(argv)
    args.out = common.benchmark_output(p, args, COMMITTED)
    args.trials = args.trials or (4 if args.quick else 32)
    args.epochs = args.epochs or (6 if args.quick else 18)
    args.repeats = args.repeats or (2 if args.quick else 5)
    if min(args.trials, args.epochs, args.repeats) < 1:
        p.error("--trials, --epochs and --repeats must be positive integers")
    if "optuna" in args.strategies:
        try:
            import optuna  # noqa: F401
        except ImportError:
            p.error("the optuna strategy needs Optuna: pip install -e '.[optuna]' (or leave it out with --strategies)")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    data = sweep_benchmark.load_data()
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".strategies-", dir=folder)
    jobs = [(task, name, seed) for task in args.tasks for name in args.strategies for seed in range(args.repeats)]
    runs = []
    try:
        for task, name, seed in tqdm(jobs, unit="sweep", desc="strategies", dynamic_ncols=True):
            runs.append(run_one(task, name, args.trials, args.epochs, seed, data, work, args.metric))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = summarize(runs, args.tasks, args.strategies, args.metric)
    budget = args.trials * args.epochs
    figure = os.path.splitext(args.out)[0] + ".png"
    plot(runs, rows, args.tasks, args.strategies, budget, args.metric, figure)
    payload = {"settings": {"trials": args.trials, "epochs": args.epochs, "budget": budget, "repeats": args.repeats,
                            "metric": args.metric,
                            "tasks": {t: {"fixed": {k: list(v) if isinstance(v, tuple) else v
                                                     for k, v in TASKS[t]["fixed"].items()},
                                          "searched": {k: v.to_spec() for k, v in TASKS[t]["searched"].items()}}
                                      for t in args.tasks},
                            "strategies": {n: settings(n, args.trials, args.epochs, 0)[0] for n in args.strategies}},
               "rows": rows, "runs": runs, "figure": os.path.basename(figure), **engine.environment()}
    with open(args.out, "w") as handle:
        json.dump(payload, handle, indent=1)
    print(table(rows, args.metric))
    print(f"\nbudget {budget} trial-epochs per run; results: {args.out}; figure: {figure}")
    return payload


if __name__ == "__main__":
    main()
