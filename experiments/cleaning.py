r"""Question 12: does cleaning mislabelled training examples help at 10-20% label noise?

The lecture material says that mislabelled examples hurt a network, and
that they should be found and fixed or removed. This script plants the
errors itself, so that it knows which ones are wrong: on the digits (60/20/20
split of :meth:`jaxdl.data.Data.load`), a seeded :func:`flip_labels` moves
exactly 0%, 10% or 20% of the *training* labels, each to one of the other
nine classes drawn uniformly. The validation and test labels are never
touched: the validation split stays clean, and nothing is selected on it or
on the test split (every run keeps its last epoch, ``restore_best=False``,
so no clean-label early stopping quietly repairs the noisy model).

For each noise level and seed the same network is trained three ways:

- noisy: on every training example with its given (possibly flipped) label;
- cleaned: :func:`jaxdl.resample.clean_and_retrain`, i.e. 5-fold
  out-of-fold probabilities, confident-learning flags
  (:func:`jaxdl.resample.find_label_issues`: an example is flagged when some
  other class reaches its per-class threshold, the mean self-confidence of
  that class), the flagged examples left out (weight 0) and the network
  retrained; a second round repeats it on the examples still kept;
- oracle: exactly the flipped examples left out, the upper bound that a
  perfect detector would reach.

The three share the seed (the same initial weights and mini-batch order), so
their differences are paired. The flags are scored against the truly flipped
rows: precision = flagged and flipped / flagged, recall = flagged and flipped
/ flipped.

Network: MLP 64 -> 128 -> 128 -> 10, ReLU, Adam at 1e-3 (its default, not
tuned), mini-batches of 32, 60 epochs: enough to fit the flipped labels
(the table's "noisy labels fitted" column says how many it memorises).

Run ``python -m experiments.cleaning`` (``--quick``: a small network, a few
epochs, two noise levels, one round; ``--help`` for the flags). Writes
``cleaning.png`` (test accuracy against noise, and the flags' precision and
recall) and ``cleaning.{md,json}``.
"""

from __future__ import annotations

import time
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import resample, train  # noqa: E402
from jaxdl.data import Data  # noqa: E402

NAME = "cleaning"
NOISE_LEVELS = (0.0, 0.1, 0.2)
METHODS = ("noisy", "cleaned", "oracle")
LEARNING_RATE = 1e-3
FOLDS = 5


def flip_labels(labels, fraction: float, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Move exactly ``round(fraction * m)`` labels, chosen uniformly, each to a different class drawn uniformly.

    A flipped label becomes :math:`(y + u) \bmod K` with :math:`u` uniform on
    :math:`\{1, \dots, K - 1\}`: never its own class, every other class
    equally likely. The same seed gives the same flips.

    Returns:
      ``(noisy labels, flipped rows)``: int32 labels and the sorted rows that changed.

    >>> noisy, rows = flip_labels(np.zeros(10, np.int32), 0.3, 10, seed=0)
    >>> rows.size, bool(np.all(noisy[rows] != 0)), int(np.count_nonzero(noisy))
    (3, True, 3)
    """
    labels = np.asarray(labels)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    if num_classes < 2:
        raise ValueError(f"flipping a label needs at least 2 classes, got num_classes={num_classes}")
    rng = np.random.default_rng(seed)
    count = int(round(fraction * labels.size))
    rows = np.sort(rng.choice(labels.size, size=count, replace=False))
    noisy = labels.astype(np.int32).copy()
    noisy[rows] = (noisy[rows] + rng.integers(1, num_classes, size=count)) % num_classes
    return noisy, rows


def flag_quality(removed, flipped) -> dict:
    """Precision and recall of the removed rows against the truly flipped ones.

    ``precision`` is ``None`` when nothing was removed, ``recall`` is ``None``
    when nothing was flipped (0% noise).

    >>> flag_quality([1, 2, 3, 4], [3, 4, 5])
    {'removed': 4, 'flipped': 3, 'true_positives': 2, 'precision': 0.5, 'recall': 0.6666666666666666}
    """
    removed, flipped = np.unique(np.asarray(removed, np.int64)), np.unique(np.asarray(flipped, np.int64))
    hits = int(np.isin(removed, flipped).sum())
    return {"removed": int(removed.size), "flipped": int(flipped.size), "true_positives": hits,
            "precision": hits / removed.size if removed.size else None,
            "recall": hits / flipped.size if flipped.size else None}


def _whole(num_examples: int, weights: np.ndarray) -> resample.Members:
    """One member that trains on the whole training split with per-example ``weights`` (0 leaves a row out)."""
    return resample.Members(np.arange(num_examples, dtype=np.int32)[None], np.asarray(weights, np.float32)[None],
                            np.asarray([int(np.count_nonzero(weights))]))


def run_one(config: train.TrainConfig, data: Data, hparams: train.HParams, fraction: float, seed: int,
            rounds: int, folds: int = FOLDS) -> dict:
    """Noisy, cleaned (each round) and oracle runs for one noise level and one seed."""
    noisy_labels, flipped = flip_labels(np.asarray(data.y_train), fraction, data.num_classes, seed)
    noisy = data.replace(y_train=noisy_labels)
    m = noisy_labels.size
    history = resample.clean_and_retrain(config, noisy, hparams, k=folds, rounds=rounds, seed=seed)
    # The noisy model once more, for its outputs on the training split: how many flipped labels it memorised.
    baseline = resample.train_members(config, noisy, _whole(m, np.ones(m)), hparams, seed=seed)
    fitted = baseline.outputs["train"][0].argmax(axis=-1)
    oracle_weights = np.ones(m)
    oracle_weights[flipped] = 0.0
    oracle = resample.train_members(config, noisy, _whole(m, oracle_weights), hparams, seed=seed).result
    metric = lambda metrics: {"val_accuracy": float(metrics["val_accuracy"]),
                              "test_accuracy": float(metrics["test_accuracy"])}
    out = {"noise": fraction, "seed": seed, "flipped": flipped.tolist(),
           "noisy_fitted": float(np.mean(fitted[flipped] == noisy_labels[flipped])) if flipped.size else None,
           "noisy": {**metric(history[0]["metrics"]), **flag_quality([], flipped)},
           "oracle": {**metric({k: v[0] for k, v in oracle.metrics.items()}),
                      **flag_quality(flipped, flipped)},
           "rounds": []}
    for entry in history[1:]:
        out["rounds"].append({**metric(entry["metrics"]), **flag_quality(entry["removed"], flipped),
                              "removed_rows": np.asarray(entry["removed"]).tolist()})
    return out


def _values(runs: list[dict], method: str, key: str) -> list:
    """One value per seed of ``key`` for ``method`` ("noisy", "oracle" or "round <r>")."""
    if method.startswith("round"):
        r = int(method.split()[1]) - 1
        return [run["rounds"][r][key] for run in runs]
    return [run[method][key] for run in runs]


def _mean_or_na(values: list, digits: int = 4) -> str:
    return "n/a" if all(v is None for v in values) else common.format_mean(values, digits)


def table_rows(results: dict[float, list[dict]], rounds: int) -> list[dict]:
    """One table row per noise level and method (noisy, each cleaning round, oracle), mean ± sd over seeds."""
    rows = []
    for fraction, runs in results.items():
        methods = ["noisy", *(f"round {r}" for r in range(1, rounds + 1)), "oracle"]
        for method in methods:
            label = method if not method.startswith("round") else f"cleaned, {method.split()[1]} round" + (
                "s" if method != "round 1" else "")
            rows.append({
                "label noise": f"{100 * fraction:g}%",
                "method": label,
                "flipped": runs[0]["noisy"]["flipped"],
                "removed": common.format_mean(_values(runs, method, "removed"), 1),
                "precision": _mean_or_na(_values(runs, method, "precision"), 3),
                "recall": _mean_or_na(_values(runs, method, "recall"), 3),
                "val accuracy (clean labels)": common.format_mean(_values(runs, method, "val_accuracy")),
                "test accuracy": common.format_mean(_values(runs, method, "test_accuracy")),
                "noisy labels fitted": (_mean_or_na([r["noisy_fitted"] for r in runs], 3)
                                        if method == "noisy" else ""),
            })
    return rows


def paired(runs: list[dict], method: str, against: str = "noisy", key: str = "test_accuracy") -> tuple:
    """Mean and standard error of the per-seed difference ``method - against``."""
    diff = np.subtract(_values(runs, method, key), _values(runs, against, key))
    sem = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
    return float(diff.mean()), sem


def plot(results: dict[float, list[dict]], rounds: int, path: str) -> str:
    """Test accuracy against label noise (noisy / cleaned / oracle, seeds as dots); the flags' precision and recall."""
    fig, (ax, ax_flags) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.25, 1]})
    noise = np.array([100 * f for f in results])
    final = f"round {rounds}"
    series = (("noisy", "trained on the noisy labels", "C3", "o"),
              (final, f"cleaned ({rounds} round{'s' if rounds > 1 else ''} of confident learning)", "C0", "s"),
              ("oracle", "oracle: exactly the flipped rows removed", "C2", "^"))
    width = 0.5 * (noise[1] - noise[0]) if noise.size > 1 else 1.0
    for index, (method, name, colour, marker) in enumerate(series):
        offset = (index - 1) * 0.15 * width
        per_seed = [100 * np.asarray(_values(runs, method, "test_accuracy")) for runs in results.values()]
        means = [v.mean() for v in per_seed]
        sds = [v.std(ddof=1) if v.size > 1 else 0.0 for v in per_seed]
        ax.errorbar(noise + offset, means, yerr=sds, color=colour, marker=marker, capsize=3, label=name)
        for x, values in zip(noise + offset, per_seed):
            ax.scatter(np.full(values.size, x), values, s=12, color=colour, alpha=0.35, linewidths=0)
    ax.set(xlabel="training labels flipped (%)", ylabel="test accuracy (%)",
           title="Held-out test accuracy (line: mean ± sd; dots: seeds)")
    ax.set_xticks(noise)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")

    noisy_levels = [(f, runs) for f, runs in results.items() if f > 0]
    if noisy_levels:
        x = np.arange(len(noisy_levels))
        bar = 0.8 / (2 * rounds)
        for r in range(1, rounds + 1):
            for j, (key, colour) in enumerate((("precision", "C1"), ("recall", "C4"))):
                position = x + (2 * (r - 1) + j - rounds + 0.5) * bar
                per_seed = [np.asarray(_values(runs, f"round {r}", key), float) for _, runs in noisy_levels]
                ax_flags.bar(position, [v.mean() for v in per_seed], width=bar * 0.9, color=colour,
                             alpha=1.0 if r == rounds else 0.45, label=f"{key}, after round {r}")
                for p, values in zip(position, per_seed):
                    ax_flags.scatter(np.full(values.size, p), values, s=10, color="k", alpha=0.5, linewidths=0,
                                     zorder=3)
        labels = []
        for f, runs in noisy_levels:
            removed = np.mean(_values(runs, final, "removed"))
            labels.append(f"{100 * f:g}% flipped\n({runs[0]['noisy']['flipped']} rows; "
                          f"{removed:.0f} removed)")
        ax_flags.set_xticks(x, labels, fontsize=8)
    ax_flags.set(ylim=(0, 1.25), ylabel="fraction of rows", yticks=np.linspace(0, 1, 6),
                 title="Flags vs the truly flipped rows (bars: mean, dots: seeds)")
    ax_flags.grid(alpha=0.3, axis="y")
    ax_flags.legend(fontsize=7, loc="upper center", ncol=2)
    fig.suptitle("Label noise on the digits: cleaning with out-of-fold confident learning "
                 "(validation and test labels clean)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _finding(results: dict[float, list[dict]], rounds: int, num_val: int, num_test: int) -> str:
    final = f"round {rounds}"
    mean = lambda runs, method, key: common.mean_spread(_values(runs, method, key))[0]
    parts = []
    for fraction, runs in results.items():
        if fraction == 0:
            continue
        noisy, cleaned, oracle = (mean(runs, m, "test_accuracy") for m in ("noisy", final, "oracle"))
        gain, gain_sem = paired(runs, final)
        share = (cleaned - noisy) / (oracle - noisy) if oracle - noisy > 1e-9 else float("nan")
        fitted = 100 * np.mean([run["noisy_fitted"] for run in runs])
        text = (f"{'At' if not parts else 'at'} {100 * fraction:g}% flipped the noisy model fits {fitted:.0f}% of the flipped labels "
                f"and reaches test {noisy:.3f}; {rounds} round{'s' if rounds > 1 else ''} "
                f"of cleaning remove {mean(runs, final, 'removed'):.0f} rows "
                f"(precision {mean(runs, final, 'precision'):.2f}, recall {mean(runs, final, 'recall'):.2f}) "
                f"and give {cleaned:.3f} ({100 * gain:+.1f} ± {100 * gain_sem:.1f} points, paired, "
                f"± standard error), "
                f"against the oracle's {oracle:.3f}")
        if np.isfinite(share):
            text += f": {100 * share:.0f}% of the oracle's gain"
        if rounds > 1:
            first = mean(runs, "round 1", "test_accuracy")
            text += (f" (round 1 alone: {first:.3f}, precision {mean(runs, 'round 1', 'precision'):.2f}, "
                     f"recall {mean(runs, 'round 1', 'recall'):.2f})")
        parts.append(text)
    finding = "; ".join(parts)
    if 0.0 in results:
        runs = results[0.0]
        delta, sem = paired(runs, final)
        # Beyond noise: the paired mean difference more than two standard errors from 0.
        verdict = ("hurts" if delta < -2 * sem and delta < 0 else "helps" if delta > 2 * sem and delta > 0
                   else "changes nothing beyond noise")
        finding += (f". On clean labels (0% flipped) cleaning still removes {mean(runs, final, 'removed'):.0f} "
                    f"rows (every one a false alarm against the planted noise; some may be genuinely ambiguous "
                    f"digits) and {verdict}: test {mean(runs, 'noisy', 'test_accuracy'):.3f} -> "
                    f"{mean(runs, final, 'test_accuracy'):.3f} ({100 * delta:+.1f} ± {100 * sem:.1f} points, "
                    f"{delta * num_test:+.1f} of {num_test} test images)")
    finding += (f". Only training labels were flipped: the {num_val} validation labels are clean and no run "
                f"selects anything on them (last epoch kept), so the validation accuracy is an honest second "
                f"held-out number.")
    return finding


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 25 s")
    p.add_argument("--noise", type=float, nargs="+", help="fractions of training labels to flip "
                                                          "(default 0 0.1 0.2, or 0 0.2 with --quick)")
    p.add_argument("--epochs", type=int, help="epochs per training (default 60, or 5 with --quick)")
    p.add_argument("--rounds", type=int, help="cleaning rounds (default 2, or 1 with --quick)")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden widths (default 128 128, or 32 with --quick)")
    p.add_argument("--folds", type=int, help=f"out-of-fold members (default {FOLDS}, or 2 with --quick: on two "
                                             "cores their slices then reuse the retraining's compiled program)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    noise_levels = tuple(args.noise if args.noise is not None else ((0.0, 0.2) if args.quick else NOISE_LEVELS))
    epochs = args.epochs or (5 if args.quick else 60)
    rounds = args.rounds or (1 if args.quick else 2)
    hidden = tuple(args.hidden or ((32,) if args.quick else (128, 128)))
    folds = args.folds or (2 if args.quick else FOLDS)
    began = time.perf_counter()

    data = Data.load("digits")
    config = train.TrainConfig(model_args={"hidden": hidden}, activation="relu", optimizer="adam", batch_size=32,
                               epochs=epochs, restore_best=False)
    hparams = train.HParams(learning_rate=LEARNING_RATE)
    results: dict[float, list[dict]] = {}
    for fraction in noise_levels:
        for seed in range(num_seeds):
            run = run_one(config, data, hparams, fraction, seed, rounds, folds)
            results.setdefault(fraction, []).append(run)
            last = run["rounds"][-1]
            print(f"noise {100 * fraction:g}% seed {seed}: test noisy {run['noisy']['test_accuracy']:.3f}, "
                  f"cleaned {last['test_accuracy']:.3f} ({last['removed']} removed), "
                  f"oracle {run['oracle']['test_accuracy']:.3f}  [{time.perf_counter() - began:.0f} s]", flush=True)

    figure = plot(results, rounds, f"{out}/{NAME}.png")
    rows = table_rows(results, rounds)
    finding = _finding(results, rounds, int(data.x_val.shape[0]), int(data.x_test.shape[0]))
    settings = {
        "data": f"digits (Data.load): {int(data.x_train.shape[0])} training examples, "
                f"{int(data.x_val.shape[0])} validation, {int(data.x_test.shape[0])} test; "
                "only training labels flipped",
        "noise": "exactly round(f m) training labels, each moved to one of the other classes uniformly (flip_labels)",
        "model": f"MLP 64-{'-'.join(map(str, hidden))}-10 ReLU", "optimizer": f"adam, learning rate {LEARNING_RATE:g} "
                 "(default, not tuned)", "batch_size": 32, "epochs": epochs, "kept": "last epoch (restore_best=False)",
        "cleaning": f"resample.clean_and_retrain: {folds}-fold out-of-fold confident learning, {rounds} round(s), "
                    "flagged rows at weight 0",
        "oracle": "the flipped rows at weight 0", "seeds": num_seeds,
        "seeds_mean": "the seed draws the flips, the folds and the training key; noisy, cleaned and oracle share it",
        "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(out, NAME, title="Question 12: cleaning mislabelled training examples",
                                 finding=finding, rows=rows, settings=settings,
                                 extra={"results": {f"{f:g}": runs for f, runs in results.items()}})
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": figure, "rows": rows, "results": results}


if __name__ == "__main__":
    main()
