r"""Question 8: which regulariser closes the train/dev gap of a network that overfits a small training set?

Lecture 001 diagnoses a model from two numbers: avoidable bias = training
error - human-level error, variance = dev error - training error, and
prescribes regularisation (L2, dropout, early stopping) for high variance.
This script builds the textbook case, a wide MLP (64 -> 256 -> 256 -> 10,
ReLU, He init, Adam) trained for 100 epochs on only 200 digits (20 per
class), and reads every regulariser through
:func:`jaxdl.metrics.diagnose_bias_variance`:

- none: the unregularised baseline;
- L2: the penalty ``lambda / (2 m) * sum ||W||^2`` on the kernels
  (``HParams.l2``; ``m`` is the mini-batch size), several ``lambda``;
- dropout: inverted dropout after every hidden layer (``HParams.dropout_rate``), several rates;
- early stopping: stop when the monitored validation loss (or accuracy) has
  not improved for ``patience`` epochs and restore the best epoch's weights
  (Keras semantics); both monitors, two patiences.

Fair tuning: every L2 strength, dropout rate and the baseline gets its own
Adam learning rate from the same log grid with the same budget
(:func:`experiments.common.tune_learning_rate`, tuning seed 0, best
validation accuracy over the epochs), then trains 5 fresh seeds at that
rate. Early stopping uses the baseline's rate: it follows the baseline's
trajectory until it stops, and the tuning already scored each rate by its
best epoch, which is what early stopping with restored weights keeps; its own
knob, the patience, is the setting varied. Runs without early stopping keep
their *last* epoch (``restore_best=False``), so the only method that looks
back at the validation curve is early stopping itself.

Human-level error on these 8x8 digits is taken as 0 (a stated proxy: people
read them almost perfectly); the diagnosis thresholds are the library's
defaults, 2 percentage points for each of avoidable bias and variance. The
"dev" set is the validation split (359 images); the method's best setting
is picked on it, so the table also gives the error on the untouched test
split (360 images) for those picks.

Run ``python -m experiments.regularization`` (``--quick``: a narrow
network, 5 epochs, one setting per method; ``--help`` for the flags). Writes
``regularization.png`` (train and dev error of every setting) and
``regularization.{md,json}``.
"""

from __future__ import annotations

import time
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402
from jaxdl import metrics, train  # noqa: E402

NAME = "regularization"
HUMAN_ERROR = 0.0
TRAIN_SIZE = 200
METHODS = ("none", "L2", "dropout", "early stopping")
L2_VALUES = (0.01, 0.1, 1.0, 10.0)
DROPOUT_RATES = (0.2, 0.4, 0.6, 0.8)
PATIENCES = (10, 30)
MONITORS = ("val_loss", "val_accuracy")
LOW, HIGH = 1e-4, 1e-2


def small_digits(train_size: int = TRAIN_SIZE, seed: int = 0) -> train.Data:
    """The digits' usual 60/20/20 split, with the training part cut to ``train_size`` stratified examples.

    Standardised with statistics of the small training set only.
    """
    full = data_lib.load_digits()
    train_part, val_part, test_part = data_lib.split_dataset(full, (0.6, 0.2, 0.2), key=seed, stratify=True)
    share = train_size / len(train_part.y)
    small = data_lib.split_dataset(train_part, (share, 1.0 - share), key=seed, stratify=True)[0]
    standardizer = data_lib.Standardizer.fit(small.x)
    parts = [p._replace(x=np.asarray(standardizer.apply(p.x))) for p in (small, val_part, test_part)]
    return train.Data.from_splits(*parts)


def settings_of(quick: bool) -> list[dict]:
    """Every (method, setting) to run: its label, static config fields and dynamic values."""
    l2_values, rates, patiences, monitors = (((1.0,), (0.5,), (5,), ("val_loss",)) if quick
                                             else (L2_VALUES, DROPOUT_RATES, PATIENCES, MONITORS))
    out = [{"method": "none", "setting": "-", "static": {}, "dynamic": {}}]
    out += [{"method": "L2", "setting": f"λ={v:g}", "static": {}, "dynamic": {"l2": v}} for v in l2_values]
    out += [{"method": "dropout", "setting": f"rate={r:g}", "static": {"dropout": "standard"},
             "dynamic": {"dropout_rate": r}} for r in rates]
    out += [{"method": "early stopping", "setting": f"{m}, patience={p}",
             "static": {"early_stopping": True, "monitor": m, "patience": p, "restore_best": True}, "dynamic": {}}
            for m in monitors for p in patiences]
    return out


def final_runs(config: train.TrainConfig, data: train.Data, hparams: train.HParams, keys) -> dict:
    """Train a population (leading axis of ``hparams`` and ``keys``) and measure the returned weights.

    Returns NumPy arrays: ``train_error`` (inference mode, no dropout),
    ``dev_error``, ``test_error``, ``epochs_run``, ``best_epoch``, ``diverged``.
    """
    measured = common.run_with_train_error(config, data)

    def run(hp, key, data):
        result, train_error = measured(hp, key, data)
        return {
            "train_error": train_error,
            "dev_error": common.error(result.metrics["val_accuracy"]),
            "test_error": common.error(result.metrics["test_accuracy"]),
            "epochs_run": result.epochs_run,
            "best_epoch": result.metrics["best_epoch"],
            "diverged": result.diverged,
        }

    population = jax.jit(jax.vmap(run, in_axes=(0, 0, None)))
    return jax.tree.map(np.asarray, population(hparams, keys, data))


def _hparams(entries: list[dict], rates: dict[str, float], num_seeds: int) -> train.HParams:
    column = lambda f: jnp.asarray([f(e) for e in entries for _ in range(num_seeds)], jnp.float32)
    return train.HParams(
        learning_rate=column(lambda e: rates[label(e)]),
        weight_decay=column(lambda e: 0.0),
        l2=column(lambda e: e["dynamic"].get("l2", 0.0)),
        dropout_rate=column(lambda e: e["dynamic"].get("dropout_rate", 0.0)),
    )


def label(entry: dict) -> str:
    return f"{entry['method']} {entry['setting']}"


def diagnose(train_errors, dev_errors) -> dict:
    """Per-seed diagnoses, their means and spreads, and the verdict of the mean errors."""
    per_seed = [metrics.diagnose_bias_variance(t, d, human_error=HUMAN_ERROR)
                for t, d in zip(train_errors, dev_errors) if np.isfinite(t) and np.isfinite(d)]
    mean = metrics.diagnose_bias_variance(float(np.mean(train_errors)), float(np.mean(dev_errors)),
                                          human_error=HUMAN_ERROR)
    agree = sum(d.verdict == mean.verdict for d in per_seed)
    return {
        "avoidable_bias": [d.avoidable_bias for d in per_seed],
        "variance": [d.variance for d in per_seed],
        "verdict": mean.verdict,
        "agreeing_seeds": agree,
        "focus": mean.focus,
        "knobs": list(mean.knobs),
    }


def plot(results: list[dict], path: str, limit: float = 25.0) -> str:
    """Train and dev error (%) of every setting, mean +- sd over seeds; bars past ``limit`` are labelled."""
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(results) + 1.6))
    y = np.arange(len(results))[::-1]
    handles = []
    for offset, key, name, alpha in ((0.2, "train_error", "train error", 0.45), (-0.2, "dev_error", "dev error", 0.95)):
        stats = [common.mean_spread(100 * np.asarray(r[key])) for r in results]
        colours = [f"C{METHODS.index(r['method'])}" for r in results]
        ax.barh(y + offset, [min(m, limit) for m, _, _ in stats], height=0.38, xerr=[s for _, s, _ in stats],
                color=colours, alpha=alpha, error_kw={"linewidth": 0.8, "capsize": 2})
        for yi, (m, _, _) in zip(y, stats):
            if m > limit:
                ax.text(limit * 0.9, yi + offset, f"{m:.0f}% →", ha="right", va="center", fontsize=7)
        handles.append(Patch(color="grey", alpha=alpha, label=name))
    handles.append(ax.axvline(2.0, color="k", linewidth=0.7, linestyle="--", label="2 points above human ≈ 0"))
    labels = [_name(r) + ("  (picked)" if r.get("chosen") else "") for r in results]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set(xlim=(0, limit), xlabel="error % (mean ± sd over seeds); variance = dev - train",
           title=f"Regularising an MLP trained on {TRAIN_SIZE} digits")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 25 s")
    p.add_argument("--epochs", type=int, help="epochs per run (default 100, or 5 with --quick)")
    p.add_argument("--budget", type=int, help="learning rates tried per setting (default 5, or 2 with --quick)")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden widths (default 256 256, or 32 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    epochs = args.epochs or (5 if args.quick else 100)
    budget = args.budget or (2 if args.quick else 5)
    hidden = tuple(args.hidden or ((32,) if args.quick else (256, 256)))
    began = time.perf_counter()

    data = small_digits()
    base = {"hidden": hidden, "activation": "relu", "optimizer": "adam", "batch_size": 32, "epochs": epochs,
            "restore_best": False, "monitor": "val_loss"}
    entries = settings_of(args.quick)
    rates = {}
    for entry in entries:
        if entry["method"] == "early stopping":
            # Same trajectory as "none" until it stops, and tuning already scores each
            # rate by its best epoch, which is what early stopping keeps.
            rates[label(entry)] = rates[label(entries[0])]
            continue
        static = {**base, **entry["static"]}
        chosen, _ = common.tune_learning_rate({label(entry): static}, data, low=LOW, high=HIGH, budget=budget,
                                              seeds=1, dynamic=entry["dynamic"], metric=base["monitor"],
                                              progress=False)
        rates.update(chosen)
        print(f"{label(entry)}: learning rate {rates[label(entry)]:.3g}", flush=True)

    keys = [jax.random.key(seed) for seed in range(1, num_seeds + 1)]  # seed 0 tuned the rates
    groups: dict[tuple, list[dict]] = {}
    for entry in entries:
        groups.setdefault(tuple(sorted(entry["static"].items())), []).append(entry)
    results = []
    for static_items, members in groups.items():
        config = train.TrainConfig.from_static({**base, **dict(static_items)})
        population = final_runs(config, data, _hparams(members, rates, num_seeds),
                                jnp.stack(keys * len(members)))
        for k, entry in enumerate(members):
            rows = slice(k * num_seeds, (k + 1) * num_seeds)
            result = {"method": entry["method"], "setting": entry["setting"],
                      "learning_rate": rates[label(entry)],
                      **{name: values[rows].astype(float).tolist() for name, values in population.items()}}
            result.update(diagnose(result["train_error"], result["dev_error"]))
            results.append(result)
    order = {label(e): i for i, e in enumerate(entries)}
    results.sort(key=lambda r: order[f"{r['method']} {r['setting']}"])
    for method in METHODS:
        mine = [r for r in results if r["method"] == method]
        if mine:
            min(mine, key=lambda r: common.mean_spread(r["dev_error"])[0])["chosen"] = True

    plot(results, f"{out}/{NAME}.png")
    pct = lambda values: common.format_mean([100 * v for v in values], 1)
    rows = [{
        "method": r["method"],
        "setting": r["setting"] + (" (picked)" if r.get("chosen") else ""),
        "learning_rate": float(f"{r['learning_rate']:.3g}"),
        "train error %": pct(r["train_error"]),
        "dev error %": pct(r["dev_error"]),
        "avoidable bias %": pct(r["avoidable_bias"]),
        "variance %": pct(r["variance"]),
        "verdict": f"{r['verdict']} ({r['agreeing_seeds']}/{len(r['train_error'])} seeds)",
        "test error % (picked)": pct(r["test_error"]) if r.get("chosen") else "",
        "epochs run": common.format_mean(r["epochs_run"], 0),
    } for r in results]
    finding = _finding(results)
    settings = {
        "data": f"digits: {int(data.x_train.shape[0])} training examples (stratified), "
                f"{int(data.x_val.shape[0])} dev (validation), {int(data.x_test.shape[0])} test",
        "model": f"MLP 64-{'-'.join(map(str, hidden))}-10 ReLU, He normal", "optimizer": "adam",
        "batch_size": 32, "epochs": epochs, "learning_rate_grid": f"{budget} log-spaced in [{LOW:g}, {HIGH:g}]",
        "tuning": "seed 0, best validation accuracy (tune_learning_rate)", "seeds": num_seeds,
        "human_error": HUMAN_ERROR, "thresholds": "2 percentage points (diagnose_bias_variance defaults)",
        "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(out, NAME, title="Question 8: regularisation and bias/variance on 200 digits",
                                 finding=finding, rows=rows, settings=settings, extra={"results": results})
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": f"{out}/{NAME}.png", "rows": rows, "results": results}


def _name(r: dict) -> str:
    return r["method"] if r["setting"] == "-" else f"{r['method']} {r['setting']}"


def _finding(results: list[dict]) -> str:
    mean = lambda r, key: 100 * common.mean_spread(r[key])[0]
    baseline = next(r for r in results if r["method"] == "none")
    picked = [r for r in results if r.get("chosen") and r["method"] != "none"]
    best = min(picked, key=lambda r: mean(r, "dev_error")) if picked else baseline
    parts = [f"{_name(r)} {mean(r, 'dev_error'):.1f}% (variance {mean(r, 'variance'):.1f})" for r in picked]
    # Over-regularised: training error well above the unregularised network's, so bias took over.
    too_strong = [_name(r) for r in results if r["method"] != "none" and r["verdict"].startswith("high bias")
                  and mean(r, "train_error") > mean(baseline, "train_error") + 2.0]
    text = (
        f"Unregularised, the MLP fits its {TRAIN_SIZE} examples to {mean(baseline, 'train_error'):.1f}% training error "
        f"but has {mean(baseline, 'dev_error'):.1f}% dev error ({baseline['verdict']}); "
        f"the best setting of each regulariser gives dev error {'; '.join(parts)}, "
        f"best {_name(best)} with test error {mean(best, 'test_error'):.1f}% vs "
        f"{mean(baseline, 'test_error'):.1f}% unregularised"
    )
    still_high = [r for r in picked if r["verdict"].endswith("high variance")]
    if still_high and len(still_high) == len(picked):
        text += (f"; every picked setting keeps variance above the 2-point threshold "
                 f"(smallest {min(mean(r, 'variance') for r in picked):.1f} points)")
    elif picked:
        fixed = [_name(r) for r in picked if r not in still_high]
        text += f"; {', '.join(fixed)} bring the variance under the 2-point threshold"
    if too_strong:
        text += f", and {', '.join(too_strong)} over-regularise into high bias."
    else:
        text += "."
    return text


if __name__ == "__main__":
    main()
