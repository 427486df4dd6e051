r"""Question 5: is SELU > ELU > leaky ReLU > ReLU > tanh > sigmoid, and are ELU and SERLU the best?

Lecture 004 ranks the activation functions as "SELU > ELU > leaky ReLU (and
its variants) > ReLU > tanh > sigmoid"; lecture 000 names ELU and SERLU the
two most efficient activations on CIFAR-10. This script puts both claims to
a test on the digits (1078 training / 359 validation / 360 test images,
8x8 pixels), with two networks:

- a deep MLP, 8 hidden layers of 64 units, where vanishing gradients bite;
- the CNN of :class:`jaxdl.train.TrainConfig` (``model="cnn"``) at half its
  default width to fit the time budget: two 3x3 conv blocks of 8 and 16
  channels with 2x2 max pooling, a dense layer of 64, on the images as
  ``8x8x1`` arrays (``Data.load(image=True)``).

Every activation gets its matched initializer, as ``TrainConfig(init=None)``
chooses through :func:`jaxdl.models.default_initializer`: LeCun normal for
SELU and SERLU, He normal for the ReLU family (ReLU, leaky ReLU with slope
0.01, ELU, and GELU and SiLU when asked for), Glorot uniform for tanh and
sigmoid.

Protocol. Adam, mini-batches of 64, cross-entropy, no regularisation.
Each (network, activation) gets its own learning rate, the best mean
best-validation-accuracy over the same budget of log-spaced rates in
``[1e-4, 1e-1]`` (:func:`experiments.common.tune_learning_rate`, tuning seed
0), then trains with fresh seeds (1, 2, ...) at that rate. The run keeps
the weights of its best validation-accuracy epoch, so "test accuracy" is
measured there. Reported per activation: mean ± sample sd over seeds of the
best validation accuracy, of the test accuracy and of the final training
loss (mean loss of the last epoch: a deep sigmoid network that stays near
:math:`\ln 10 = 2.30` has not learnt). Every activation is one static group:
one compiled ``jax.jit(jax.vmap(train))`` per network and activation, which
the final seeds reuse when their number equals the tuning budget.

Agreement with the claimed order is Spearman's rank correlation between
the claimed ranks and the observed ranks (by mean best validation accuracy)
of the six activations the claim names, with a one-sided exact permutation
p-value (the share of the 6! orderings that agree at least as well).

CIFAR-10 runs too when ``--data-dir`` holds ``cifar-10-batches-py`` (the
python batches), on a random subset of ``--cifar-train`` training images
(validation a quarter of that, test 2000), with the same networks on
``32x32x3`` inputs; otherwise the table says it was not run.

Run ``python -m experiments.activations`` (about 5 minutes of CPU time,
half of it compiling one program per network and activation), ``--quick``
for a smoke run (8 x 16 units, 2 epochs, 2 rates, 2 seeds, 3 activations, a
subset of the digits; about 90 s of CPU time, nearly all of it compiling
six programs), ``--help`` for the flags. Writes ``activations.png`` (bars of best validation accuracy
per network and the deep MLP's learning curves) and ``activations.{md,json}``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import models, sweep, train  # noqa: E402

NAME = "activations"

#: Lecture 004's ranking, best first.
CLAIMED_ORDER = ("selu", "elu", "leaky_relu", "relu", "tanh", "sigmoid")
#: Lecture 000's two best activations on CIFAR-10.
CIFAR_BEST = ("elu", "serlu")
#: Contenders of the full run.
ACTIVATIONS = ("selu", "serlu", "elu", "leaky_relu", "relu", "tanh", "sigmoid")
#: Contenders of ``--quick``.
QUICK_ACTIVATIONS = ("selu", "relu", "sigmoid")

FULL = {
    "depth": 8, "width": 64, "channels": (8, 16), "dense": (64,), "epochs": 25, "cnn_epochs": 10,
    "batch_size": 64, "budget": 8, "low": 1e-4, "high": 1e-1, "train_subset": None, "eval_subset": None,
    "cifar_train": 5000, "cifar_test": 2000,
}
QUICK = {
    "depth": 8, "width": 16, "channels": (4, 8), "dense": (16,), "epochs": 2, "cnn_epochs": 2,
    "batch_size": 64, "budget": 2, "low": 1e-3, "high": 1e-2, "train_subset": 256, "eval_subset": 128,
    "cifar_train": 512, "cifar_test": 128,
}
CHANCE_LOSS = math.log(10)


# ---------------------------------------------------------------------------
# Data


def subset(data: train.Data, num_train: int | None, num_eval: int | None) -> train.Data:
    """The first ``num_train`` training and ``num_eval`` validation and test examples (splits are shuffled)."""
    return train.Data(data.x_train[:num_train], data.y_train[:num_train], data.x_val[:num_eval],
                      data.y_val[:num_eval], data.x_test[:num_eval], data.y_test[:num_eval], data.num_classes)


def cifar_dir(data_dir: str | None) -> tuple[str | None, str]:
    """The folder to load CIFAR-10 from, or ``None`` and why it is not run."""
    if not data_dir:
        return None, "no --data-dir given"
    for folder in (os.path.join(data_dir, "cifar-10-batches-py"), data_dir):
        if os.path.isfile(os.path.join(folder, "data_batch_1")) and os.path.isfile(os.path.join(folder, "test_batch")):
            return folder, ""
    return None, f"no cifar-10-batches-py under {data_dir}"


def load_data(scale: Mapping[str, Any], data_dir: str | None) -> tuple[dict[str, train.Data], list[str], str]:
    """``{"<dataset>/<flat|image>": Data}``, the data sets used, and why CIFAR-10 was not run ('' if it was)."""
    data = {}
    for layout, image in (("flat", False), ("image", True)):
        data[f"digits/{layout}"] = subset(train.Data.load("digits", image=image), scale["train_subset"],
                                          scale["eval_subset"])
    datasets = ["digits"]
    folder, reason = cifar_dir(data_dir)
    if folder is not None:
        num_train = scale["cifar_train"]
        # The default fractions hold out a quarter of the training files for validation.
        for layout, image in (("flat", False), ("image", True)):
            full = train.Data.load("cifar10", folder, image=image)
            data[f"cifar10/{layout}"] = train.Data(
                full.x_train[:num_train], full.y_train[:num_train], full.x_val[: num_train // 4],
                full.y_val[: num_train // 4], full.x_test[: scale["cifar_test"]], full.y_test[: scale["cifar_test"]],
                full.num_classes)
        datasets.append("cifar10")
    return data, datasets, reason


# ---------------------------------------------------------------------------
# Contenders


def network_label(model: str, scale: Mapping[str, Any]) -> str:
    if model == "mlp":
        return f"MLP {scale['depth']}x{scale['width']}"
    return f"CNN {'-'.join(str(c) for c in scale['channels'])}"


def static_settings(dataset: str, model: str, activation: str, scale: Mapping[str, Any]) -> dict:
    """The static choices of one contender; ``init`` is left ``None``: the matched initializer."""
    common_settings = {
        "dataset": f"{dataset}/{'flat' if model == 'mlp' else 'image'}",
        "model": model,
        "activation": activation,
        "batch_size": scale["batch_size"],
        "monitor": "val_accuracy",
        "restore_best": True,  # test accuracy at the best validation epoch, without early stopping
        "optimizer": "adam",
    }
    if model == "mlp":
        return {**common_settings, "hidden": (scale["width"],) * scale["depth"], "epochs": scale["epochs"]}
    return {**common_settings, "channels": tuple(scale["channels"]), "dense": tuple(scale["dense"]),
            "epochs": scale["cnn_epochs"]}


def contender_name(dataset: str, model: str, activation: str) -> str:
    return f"{dataset}/{model}/{activation}"


# ---------------------------------------------------------------------------
# Ranks


def descending_ranks(values: Sequence[float]) -> np.ndarray:
    """Rank 1 for the largest value; ties share their average rank; NaN ranks last."""
    values = np.asarray(values, dtype=np.float64)
    values = np.where(np.isfinite(values), values, -np.inf)
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.arange(1, values.size + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the (tie-averaged) ranks."""
    rx, ry = descending_ranks(x), descending_ranks(y)
    if rx.size < 2 or np.all(rx == rx[0]) or np.all(ry == ry[0]):
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def agreement_with_claim(scores: Mapping[str, float], claimed: Sequence[str] = CLAIMED_ORDER) -> dict:
    """Spearman's rho between the claimed order and ``scores`` (higher is better) over the claimed names present.

    The p-value is one-sided and exact: the share of all orderings of the
    observed scores whose rho is at least the observed one.
    """
    names = [name for name in claimed if name in scores]
    claimed_scores = -np.arange(len(names), dtype=np.float64)  # claimed best gets the highest score
    observed = np.array([scores[name] for name in names], dtype=np.float64)
    rho = spearman(claimed_scores, observed)
    if not math.isfinite(rho):
        return {"activations": names, "rho": rho, "p_value": float("nan")}
    rhos = [spearman(claimed_scores, observed[list(order)]) for order in itertools.permutations(range(len(names)))]
    p_value = float(np.mean(np.asarray(rhos) >= rho - 1e-12))
    return {"activations": names, "rho": rho, "p_value": p_value}


# ---------------------------------------------------------------------------
# Runs


def final_plan(rates: Mapping[str, float], statics: Mapping[str, dict], num_seeds: int) -> sweep.Plan:
    """Every contender at its tuned rate with seeds ``1..num_seeds`` (seed 0 tuned the rate)."""
    trials, trial_id = [], 0
    for name, rate in rates.items():
        static = dict(sorted(statics[name].items()))
        for seed in range(1, num_seeds + 1):
            trials.append(sweep.Trial(trial_id, static, {"learning_rate": float(rate)}, seed))
            trial_id += 1
    return sweep.Plan(tuple(trials), {"strategy": "activations_final", "contenders": list(rates)})


def last_finite(values: Sequence[float | None]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return finite[-1] if finite else float("nan")


def mean_curve(histories: Sequence[Sequence[float | None]]) -> list[float]:
    """The per-epoch mean over seeds of the finite values (NaN where none is)."""
    array = np.array([[np.nan if v is None else v for v in h] for h in histories], dtype=np.float64)
    counts = np.isfinite(array).sum(axis=0)
    sums = np.where(np.isfinite(array), array, 0.0).sum(axis=0)
    return [float(s / c) if c else float("nan") for s, c in zip(sums, counts)]


def same_static(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two static configurations are equal, widths as tuples or as lists (as JSON stores them)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def tuning_table(records: Sequence[dict], statics: Mapping[str, dict]) -> dict[str, dict[str, float | None]]:
    """``{contender: {learning rate: best validation accuracy}}`` of the tuning sweep."""
    table: dict[str, dict[str, float | None]] = {}
    for name, static in statics.items():
        for record in records:
            if same_static(record["static"], static):
                value = record["best"].get("val_accuracy") if record["status"] == "ok" else None
                table.setdefault(name, {})[f"{record['dynamic']['learning_rate']:.3g}"] = value
    return table


def summarize(records: Sequence[dict], statics: Mapping[str, dict], rates: Mapping[str, float]) -> dict[str, dict]:
    """Per contender: the seeds' best validation and test accuracy, final training loss and curves."""
    out = {}
    for name, static in statics.items():
        mine = [r for r in records if same_static(r["static"], static)]
        out[name] = {
            "learning_rate": float(rates[name]),
            "val_accuracy": [r["best"].get("val_accuracy") for r in mine],
            "test_accuracy": [r["final"].get("test_accuracy") if r["status"] == "ok" else None for r in mine],
            "train_loss": [last_finite(r["history"]["train_loss"]) for r in mine],
            "diverged": sum(r["status"] == "diverged" for r in mine),
            "seeds": len(mine),
            "val_curve": mean_curve([r["history"]["val_accuracy"] for r in mine]),
            "loss_curve": mean_curve([r["history"]["train_loss"] for r in mine]),
        }
    return out


def _rounded(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def table_rows(results: Mapping[str, dict], benches: Sequence[tuple[str, str]], activations: Sequence[str],
               scale: Mapping[str, Any]) -> list[dict]:
    """One row per (data set, network, activation), ranked by mean best validation accuracy within each network."""
    rows = []
    for dataset, model in benches:
        names = [contender_name(dataset, model, act) for act in activations]
        means = [common.mean_spread(results[n]["val_accuracy"])[0] for n in names]
        ranks = descending_ranks(means)
        for rank, act, name in sorted(zip(ranks, activations, names)):
            result = results[name]
            val_mean, val_sd, _ = common.mean_spread(result["val_accuracy"])
            test_mean, test_sd, _ = common.mean_spread(result["test_accuracy"])
            loss_mean, loss_sd, _ = common.mean_spread(result["train_loss"])
            rows.append({
                "dataset": dataset,
                "model": model,
                "network": network_label(model, scale),
                "rank": float(rank),
                "activation": act,
                "init": models.default_initializer(act),
                "learning_rate": result["learning_rate"],
                "val_accuracy_mean": _rounded(val_mean),
                "val_accuracy_sd": _rounded(val_sd),
                "test_accuracy_mean": _rounded(test_mean),
                "test_accuracy_sd": _rounded(test_sd),
                "train_loss_mean": _rounded(loss_mean),
                "train_loss_sd": _rounded(loss_sd),
                "seeds": result["seeds"],
                "diverged": result["diverged"],
                "best val accuracy": common.format_mean(result["val_accuracy"]),
                "test accuracy": common.format_mean(result["test_accuracy"]),
                "final train loss": common.format_mean(result["train_loss"], 3),
                "lr": f"{result['learning_rate']:.2g}",
            })
    return rows


MARKDOWN_COLUMNS = ("dataset", "network", "rank", "activation", "init", "lr", "best val accuracy",
                    "test accuracy", "final train loss", "diverged")


# ---------------------------------------------------------------------------
# Finding


def top_tier(rows: Sequence[dict]) -> list[str]:
    """Activations whose mean best validation accuracy is within one sd of the best one's mean."""
    best = max(rows, key=lambda r: -math.inf if r["val_accuracy_mean"] is None else r["val_accuracy_mean"])
    floor = best["val_accuracy_mean"] - (best["val_accuracy_sd"] or 0.0)
    return [r["activation"] for r in rows if r["val_accuracy_mean"] is not None and r["val_accuracy_mean"] >= floor]


def claim_agreement(rows: Sequence[dict], dataset: str, model: str) -> dict[str, dict]:
    """:func:`agreement_with_claim` of one network's mean best validation and mean test accuracies."""
    mine = [r for r in rows if r["dataset"] == dataset and r["model"] == model]
    out = {}
    for metric in ("val_accuracy", "test_accuracy"):
        scores = {r["activation"]: r[f"{metric}_mean"] for r in mine}
        out[metric] = agreement_with_claim({a: (-math.inf if s is None else s) for a, s in scores.items()})
    return out


def write_finding(rows: Sequence[dict], agreement: Mapping[str, dict], benches: Sequence[tuple[str, str]],
                  cifar_reason: str) -> str:
    parts = []
    for dataset, model in benches:
        mine = [r for r in rows if r["dataset"] == dataset and r["model"] == model]
        stats = agreement[f"{dataset}/{model}"]
        by_test = sorted(mine, key=lambda r: -math.inf if r["test_accuracy_mean"] is None else -r["test_accuracy_mean"])
        text = (f"{dataset} {mine[0]['network']}: by best val accuracy "
                f"{' > '.join(r['activation'] for r in mine)} ({_rho_text(stats['val_accuracy'])}), "
                f"by test accuracy {' > '.join(r['activation'] for r in by_test)} "
                f"({_rho_text(stats['test_accuracy'])}); within 1 sd of the best val accuracy: {', '.join(top_tier(mine))}")
        positions = {r["activation"]: int(r["rank"]) for r in mine}
        cifar = ", ".join(f"{a} #{positions[a]}" for a in CIFAR_BEST if a in positions)
        if cifar:
            text += f"; lecture 000's CIFAR-10 pair ranks {cifar} of {len(mine)}"
        stalled = [f"{r['activation']} ({r['train_loss_mean']:.2f})" for r in mine
                   if r["train_loss_mean"] is not None and r["train_loss_mean"] > 0.5 * CHANCE_LOSS]
        if stalled:
            text += f"; barely trains (final train loss vs ln 10 = 2.30): {', '.join(stalled)}"
        parts.append(text)
    cifar_note = "" if not cifar_reason else f" CIFAR-10 was not run ({cifar_reason})."
    return ("Spearman rho is against the claimed order selu > elu > leaky_relu > relu > tanh > sigmoid, "
            "p one-sided by exact permutation. " + " | ".join(parts) + "." + cifar_note)


def _rho_text(stats: Mapping[str, Any]) -> str:
    return f"rho {stats['rho']:+.2f}, p = {stats['p_value']:.2f}"


# ---------------------------------------------------------------------------
# Figure


def plot(rows: Sequence[dict], results: Mapping[str, dict], benches: Sequence[tuple[str, str]],
         activations: Sequence[str], scale: Mapping[str, Any], path: str, title: str) -> str:
    """Bars of best validation accuracy per network, and the first data set's deep-MLP curves."""
    fig, ((bar_ax, zoom_ax), (curve_ax, loss_ax)) = plt.subplots(2, 2, figsize=(13, 8.5))
    positions = np.arange(len(activations))
    width = 0.8 / len(benches)
    tops = []
    for i, (dataset, model) in enumerate(benches):
        lookup = {r["activation"]: r for r in rows if r["dataset"] == dataset and r["model"] == model}
        means = np.array([np.nan if lookup[a]["val_accuracy_mean"] is None else lookup[a]["val_accuracy_mean"]
                          for a in activations])
        sds = np.array([lookup[a]["val_accuracy_sd"] or 0.0 for a in activations])
        label = f"{dataset} {lookup[activations[0]]['network']}"
        for ax in (bar_ax, zoom_ax):
            ax.bar(positions + (i - (len(benches) - 1) / 2) * width, means, width, yerr=sds, capsize=3,
                   label=label, color=f"C{i}")
        near = np.isfinite(means) & (means >= np.nanmax(means) - 0.1)
        tops.append(np.min(means[near] - sds[near]))
    labels = [f"{a}\n({models.default_initializer(a).split('_')[0]})" for a in activations]
    ylabel = "best validation accuracy (mean ± sd)"
    bar_ax.set(ylabel=ylabel, ylim=(0, 1.05), title="Each activation at its own tuned learning rate")
    bar_ax.legend(fontsize="small", loc="lower left")
    low = max(0.0, min(tops) - 0.01)
    zoom_ax.set(ylabel=ylabel, ylim=(low, 1.0), title=f"The same, zoomed to [{low:.2f}, 1]")
    for ax in (bar_ax, zoom_ax):
        ax.set_xticks(positions, labels, fontsize="small")
        ax.grid(axis="y", alpha=0.3)

    dataset, model = benches[0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, act in enumerate(activations):
        result = results[contender_name(dataset, model, act)]
        epochs = np.arange(1, len(result["val_curve"]) + 1)
        style = "-" if act in CLAIMED_ORDER else "--"
        curve_ax.plot(epochs, result["val_curve"], style, color=colours[i % len(colours)], label=act)
        loss_ax.plot(epochs, result["loss_curve"], style, color=colours[i % len(colours)], label=act)
    network = network_label(model, scale)
    curve_ax.set(xlabel="epoch", ylabel="validation accuracy (mean over seeds)",
                 title=f"{dataset}, deep {network}: validation accuracy")
    loss_ax.set(xlabel="epoch", ylabel="training loss (mean over seeds)", yscale="log",
                title=f"{dataset}, deep {network}: training loss")
    loss_ax.axhline(CHANCE_LOSS, color="grey", linewidth=0.8, linestyle=":")
    loss_ax.text(1, CHANCE_LOSS * 1.05, "ln 10 (chance)", fontsize="x-small", color="grey")
    curve_ax.legend(fontsize="small", ncol=2)
    for ax in (curve_ax, loss_ax):
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# Main


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 20 s")
    p.add_argument("--activations", help=f"comma-separated contenders (default {','.join(ACTIVATIONS)}; "
                                         f"{','.join(QUICK_ACTIVATIONS)} with --quick); gelu and silu also work")
    p.add_argument("--epochs", type=int, help="MLP epochs (default 25, or 2 with --quick)")
    p.add_argument("--cnn-epochs", type=int, help="CNN epochs (default 10, or 2 with --quick)")
    p.add_argument("--budget", type=int, help="learning rates tried per contender (default 8, or 2 with --quick); "
                                         "without --seeds, also the number of seeds, so each activation compiles once")
    p.add_argument("--cifar-train", type=int, help="CIFAR-10 training images used (default 5000)")
    args = p.parse_args(argv)
    scale = dict(QUICK if args.quick else FULL)
    for flag, key in (("epochs", "epochs"), ("cnn_epochs", "cnn_epochs"), ("budget", "budget"),
                      ("cifar_train", "cifar_train")):
        if getattr(args, flag) is not None:
            scale[key] = getattr(args, flag)
    activations = tuple(args.activations.split(",")) if args.activations else (
        QUICK_ACTIVATIONS if args.quick else ACTIVATIONS)
    # Same population as the tuning sweep by default, so each activation compiles once.
    num_seeds = common.seeds(args, full=max(5, scale["budget"]), quick=2)
    out = common.output_dir(args, NAME)
    began = time.perf_counter()

    data, datasets, cifar_reason = load_data(scale, args.data_dir)
    benches = [(dataset, model) for dataset in datasets for model in ("mlp", "cnn")]
    statics = {contender_name(d, m, a): static_settings(d, m, a, scale) for d, m in benches for a in activations}

    tic = time.perf_counter()
    rates, tune_records = common.tune_learning_rate(statics, data, low=scale["low"], high=scale["high"],
                                                    budget=scale["budget"], progress=not args.quick)
    tune_seconds = time.perf_counter() - tic
    print(f"tuned {len(statics)} contenders x {scale['budget']} rates in {tune_seconds:.1f} s", flush=True)

    tic = time.perf_counter()
    final = sweep.run_sweep(final_plan(rates, statics, num_seeds), data, None, metric="val_accuracy",
                            progress=not args.quick)
    final_seconds = time.perf_counter() - tic
    print(f"trained {len(statics)} contenders x {num_seeds} seeds in {final_seconds:.1f} s", flush=True)

    results = summarize(final.records, statics, rates)
    rows = table_rows(results, benches, activations, scale)
    agreement = {f"{dataset}/{model}": claim_agreement(rows, dataset, model) for dataset, model in benches}
    finding = write_finding(rows, agreement, benches, cifar_reason)

    title = (f"Activations with matched initializers, Adam, each at its own tuned learning rate; "
             f"mean over {num_seeds} seeds")
    png = plot(rows, results, benches, activations, scale, os.path.join(out, f"{NAME}.png"), title)
    settings = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in scale.items()},
        "quick": bool(args.quick), "seeds": num_seeds, "tuning_seed": 0, "final_seeds": list(range(1, num_seeds + 1)),
        "activations": list(activations), "datasets": datasets, "optimizer": "adam", "loss": "cross_entropy",
        "initializers": {a: models.default_initializer(a) for a in activations},
        "learning_rates": sweep.loggrid(scale["low"], scale["high"], scale["budget"]).values(),
        "monitor": "val_accuracy (restore_best: test accuracy at the best validation epoch)",
        "claimed_order": list(CLAIMED_ORDER), "cifar10": "run" if not cifar_reason else f"not run: {cifar_reason}",
        "data_shapes": {name: list(d.x_train.shape) for name, d in data.items()},
    }
    extra = {
        "spearman": agreement,
        "tuning": tuning_table(tune_records, statics),
        "curves": {name: {"val_accuracy": r["val_curve"], "train_loss": r["loss_curve"]} for name, r in results.items()},
        "per_seed": {name: {k: r[k] for k in ("val_accuracy", "test_accuracy", "train_loss")}
                     for name, r in results.items()},
        "seconds": {"tuning": round(tune_seconds, 1), "final": round(final_seconds, 1),
                    "total": round(time.perf_counter() - began, 1)},
    }
    paths = common.write_results(out, NAME, title="Activation functions: does the lecture's ranking hold?",
                                 finding=finding, rows=rows, columns=MARKDOWN_COLUMNS, extra=extra, settings=settings)
    print(f"wrote {png}; total {time.perf_counter() - began:.1f} s")
    return {**paths, "png": png, "rows": rows, "finding": finding}


if __name__ == "__main__":
    main()
