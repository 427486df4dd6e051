"""What every experiment script shares: flags, output files, spread over seeds, fair tuning.

Each script answers one question from the lecture material. It runs with
``python -m experiments.<name>`` and takes ``--quick`` (tiny settings, a few
seconds to half a minute on a quiet 2-core CPU, for the test suite) or runs in full
(the published figure and table). A full run writes the committed results,
``experiments/results/<name>/``; a quick run writes under ``runs/`` (ignored
by git), ``runs/experiments/quick/<name>/``, so that it never overwrites them;
``--out`` names another folder. Each writes ``<name>.png``, ``<name>.md``
(table and finding) and ``<name>.json``.

The benchmarks share the same rule (:func:`scratch_path`,
:func:`add_output_flags`, :func:`benchmark_output`), except that their
measurements belong to the machine they ran on: by default a benchmark writes
``runs/benchmarks/<name>`` (``runs/benchmarks/quick/<name>`` with ``--quick``)
and only ``--update-results`` writes the committed ``benchmarks/results/<name>``.

Fair comparisons give each contender its own learning rate, tuned by a
sweep with the same budget (:func:`tune_learning_rate`); results are means
with their spread (sample standard deviation) over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from jaxdl import metrics, sweep, train

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
#: Where scripts write what is not a committed result; relative to the working directory, ignored by git.
RUNS_DIR = "runs"

__all__ = [
    "RESULTS_DIR",
    "RUNS_DIR",
    "parser",
    "scratch_path",
    "output_path",
    "output_dir",
    "add_output_flags",
    "benchmark_output",
    "mean_spread",
    "format_mean",
    "markdown_table",
    "write_results",
    "tune_learning_rate",
]


def parser(name: str, description: str, quick: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every experiment takes: ``--quick``, ``--out``, ``--seeds``.

    ``quick`` says how long ``--quick`` takes on a quiet 2-core CPU ("about 20 s").
    """
    p = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=description)
    p.add_argument("--quick", action="store_true", help=f"a check with tiny settings, {quick} on a quiet 2-core CPU "
                                                        f"(for tests); writes under {RUNS_DIR}/")
    p.add_argument("--out", help=f"output folder (default experiments/results/{name}, the committed results; "
                                 f"{scratch_path('experiments', name, quick=True)} with --quick)")
    p.add_argument("--seeds", type=int, help="seeds per configuration (default 5, or 2 with --quick)")
    p.add_argument("--data-dir", help="folder with CIFAR-10 / MNIST files, where the script can use them")
    return p


def scratch_path(kind: str, name: str, *, quick: bool) -> str:
    """Where a script writes when it does not update committed results: under ``runs/``, ignored by git.

    ``runs/<kind>/<name>`` for a full run, ``runs/<kind>/quick/<name>`` for a
    quick one, so that a quick run never overwrites a full one.
    """
    return os.path.join(RUNS_DIR, kind, *(("quick",) if quick else ()), name)


def output_path(args, name: str) -> str:
    """An experiment's output folder: ``--out``, else the committed results (full run) or :func:`scratch_path`."""
    if args.out:
        return args.out
    return scratch_path("experiments", name, quick=True) if args.quick else os.path.join(RESULTS_DIR, name)


def output_dir(args, name: str) -> str:
    """:func:`output_path`, created."""
    path = output_path(args, name)
    os.makedirs(path, exist_ok=True)
    return path


def add_output_flags(p: argparse.ArgumentParser, committed: str) -> None:
    """A benchmark's ``--out`` and ``--update-results``; ``committed`` is its file or folder in benchmarks/results."""
    name = os.path.basename(committed)
    shown = os.path.join("benchmarks", "results", name)
    flags = p.add_mutually_exclusive_group()
    flags.add_argument("--out", help=f"results path (default {scratch_path('benchmarks', name, quick=False)}; "
                                     f"{scratch_path('benchmarks', name, quick=True)} with --quick)")
    flags.add_argument("--update-results", action="store_true",
                       help=f"write the committed {shown} instead (a full run only)")


def benchmark_output(p: argparse.ArgumentParser, args, committed: str) -> str:
    """Where a benchmark writes: ``--out``, the committed results with ``--update-results``, else under runs/."""
    quick = getattr(args, "quick", False)
    if args.update_results and quick:
        p.error("--update-results needs a full run: a quick run never overwrites the committed results")
    if args.out:
        return args.out
    return committed if args.update_results else scratch_path("benchmarks", os.path.basename(committed), quick=quick)


def seeds(args, full: int = 5, quick: int = 2) -> int:
    """Seeds to run: ``--seeds`` if given, else ``full`` (at least 5) or ``quick``."""
    return args.seeds or (quick if args.quick else full)


def mean_spread(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1) and count of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return float("nan"), float("nan"), 0
    spread = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return float(finite.mean()), spread, int(finite.size)


def format_mean(values: Iterable[float], digits: int = 4) -> str:
    """``mean ± sd`` of the finite values, with ``(n=k)`` when some were not finite."""
    values = list(values)
    mean, spread, n = mean_spread(values)
    if n == 0:
        return "diverged"
    text = f"{mean:.{digits}f} ± {spread:.{digits}f}"
    return text if n == len(values) else f"{text} (n={n})"


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of dict rows; floats shown with 4 significant digits."""
    columns = list(columns or (rows[0].keys() if rows else []))
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_results(out: str, name: str, *, title: str, finding: str, rows: Sequence[Mapping[str, Any]],
                  columns: Sequence[str] | None = None, extra: Mapping[str, Any] | None = None,
                  settings: Mapping[str, Any] | None = None) -> dict:
    """Write ``<name>.md`` (title, finding, table) and ``<name>.json``; print the table; return the paths."""
    table = markdown_table(rows, columns)
    md_path, json_path = os.path.join(out, f"{name}.md"), os.path.join(out, f"{name}.json")
    with open(md_path, "w") as f:
        f.write(f"# {title}\n\n{finding}\n\n{table}\n")
    payload = {"title": title, "finding": finding, "settings": dict(settings or {}), "rows": list(rows),
               **dict(extra or {})}
    with open(json_path, "w") as f:
        json.dump(payload, f, indent=2, default=_jsonable)
    print(table)
    print(f"\nfinding: {finding}")
    print(f"wrote {md_path}, {json_path}")
    return {"markdown": md_path, "json": json_path}


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error(accuracy):
    """``1 - accuracy``, never below 0 (a float32 mean accuracy can exceed 1 by a rounding step)."""
    import jax.numpy as jnp

    return jnp.maximum(1.0 - accuracy, 0.0)


def run_with_train_error(config: train.TrainConfig, data: train.Data):
    """``run(hparams, key, data) -> (Result, train_error)``: a run and its error on its own training split.

    The training error is measured in inference mode on the training inputs
    as they are (no dropout, no augmentation), with the model's graph, loss
    and metrics built once from ``data``'s shapes: no hyperparameter changes
    them. Pure, to be vmapped.
    """
    import jax

    from jaxdl import data as data_lib

    resolved = config.resolve(data)
    steps = data_lib.steps_per_epoch(int(data.x_train.shape[0]), resolved.batch_size)
    model = train.build_model(resolved, data, jax.random.key(0))
    learner = train.make_learner(resolved, train.HParams(), model, data, steps)[0]

    def run(hparams, key, data):
        result = train.train(config, hparams, key, data)
        accuracy = train.evaluate(learner, result.params, result.batch_stats, data.x_train, data.y_train)["accuracy"]
        return result, error(accuracy)

    return run


def tune_learning_rate(
    contenders: Mapping[str, Mapping[str, Any]],
    data: train.Data | Mapping[str, train.Data],
    *,
    low: float = 1e-4,
    high: float = 1.0,
    budget: int = 8,
    seeds: int = 1,
    metric: str = "val_accuracy",
    dynamic: Mapping[str, float] | None = None,
    progress: bool = True,
) -> tuple[dict[str, float], list[dict]]:
    """Give every contender its own learning rate, each found with the same budget.

    Runs one sweep: every contender (a dict of static settings, e.g.
    ``{"activation": "selu", "init": "lecun_normal", ...}``) x ``budget``
    log-spaced learning rates in ``[low, high]`` x ``seeds``. A contender's
    learning rate is the one with the best mean ``best.<metric>`` over seeds,
    among the rates at which no seed diverged.

    Returns:
      ``({contender: learning rate}, records)``.
    """
    names = list(contenders)
    plan_trials, trial_id = [], 0
    rates = sweep.loggrid(low, high, budget).values()
    for name in names:
        static = dict(sorted(contenders[name].items()))
        for rate in rates:
            for seed in range(seeds):
                values = {"learning_rate": float(rate), **dict(dynamic or {})}
                plan_trials.append(sweep.Trial(trial_id, static, dict(sorted(values.items())), seed))
                trial_id += 1
    plan = sweep.Plan(tuple(plan_trials), {"strategy": "tune_learning_rate", "contenders": names})
    records = sweep.run_sweep(plan, data, None, metric=metric, progress=progress).records
    maximize = metrics.maximize(metric)
    best_rates = {}
    for name in names:
        wanted = json.dumps(dict(contenders[name]), sort_keys=True)
        scores = {}
        for r in records:
            if json.dumps(r["static"], sort_keys=True) == wanted:
                value = r["best"].get(metric) if r["status"] == "ok" else None
                scores.setdefault(r["dynamic"]["learning_rate"], []).append(value)
        # A rate counts only if every seed trained: one diverged seed disqualifies it.
        stats = {rate: mean_spread(vals) for rate, vals in scores.items()}
        ranked = {rate: mean for rate, (mean, _, n) in stats.items() if n == len(scores[rate])}
        if not ranked:
            raise ValueError(f"every learning rate diverged for contender {name!r}")
        best_rates[name] = (max if maximize else min)(ranked, key=ranked.get)
    return best_rates, records
