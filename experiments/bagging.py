r"""Question 13: does bagging reduce variance, and at what cost?

Bagging (bootstrap aggregating) trains ``k`` copies of a model, each on
``m`` examples drawn with replacement from the ``m`` training examples, and
averages their predicted probabilities. The lecture material offers it as a
way to reduce variance at the price of ``k`` times the training and
inference. This script measures both sides on the digits, with
:func:`jaxdl.resample.bagging` (the ``K`` bootstrap members are one vmapped
program) and, for comparison, one model of the same kind trained on the
whole training split (no bootstrap):

- accuracy: the ensemble of the first ``k`` members (``k = 1..K``) on the
  held-out test split, beside the mean single member and the full-split
  model;
- variance, two ways: the lecture's train/dev gap (dev error - training
  error, the training error on the whole training split) and the
  disagreement between seeds, the share of test images on which two
  ensembles of the same size trained from different seeds (other bootstrap
  draws and initial weights) predict different classes: how much the
  prediction depends on the luck of training;
- cost: the wall time of the ``K``-member program against one model (both
  after compilation, on this machine's CPU cores), ``k`` times the
  parameters and ``k`` times the multiply-adds per prediction.

Model: a high-variance MLP 64 -> 256 -> 256 -> 10, ReLU, Adam at 1e-3 (its
default, not tuned), mini-batches of 32, no regularisation, trained for a
fixed budget of about 1200 optimizer steps whatever the training size (200
epochs on 200 examples, 37 on 1078), last epoch kept. Two training sizes: a
stratified subset of 200 digits (where variance is large) and the whole
training split of 1078; validation (dev) and test splits are the same 360
and 359 images for both. Nothing is tuned or selected on either.

Run ``python -m experiments.bagging`` (``--quick``: 200 examples, 2 members,
a small network; ``--help`` for the flags). Writes ``bagging.png`` (test
accuracy, errors and disagreement against k) and ``bagging.{md,json}``.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Sequence

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402
from jaxdl import resample, train  # noqa: E402
from jaxdl.data import Data  # noqa: E402
from jaxdl.sweep import engine  # noqa: E402

NAME = "bagging"
SIZES = (200, 1078)
MEMBERS = 16
STEPS = 1200
LEARNING_RATE = 1e-3
BATCH_SIZE = 32
TABLE_K = (2, 4, 8)


def subset(data: Data, size: int, seed: int = 0) -> Data:
    """``data`` with its training split cut to ``size`` stratified examples (validation and test unchanged)."""
    m = int(data.x_train.shape[0])
    if size >= m:
        return data
    share = size / m
    rows = np.sort(data_lib.split_indices(np.asarray(data.y_train), (share, 1.0 - share), key=seed,
                                          stratify=True)[0])
    return data.replace(x_train=data.x_train[rows], y_train=data.y_train[rows])


def epochs_for(size: int, steps: int = STEPS, batch_size: int = BATCH_SIZE) -> int:
    """Epochs that give about ``steps`` optimizer steps on ``size`` examples (the remainder batch is dropped)."""
    return max(1, math.ceil(steps / max(1, size // batch_size)))


def ensemble_predictions(outputs: np.ndarray) -> np.ndarray:
    r"""``(k, N)``: the class predicted by the ensemble of the first ``j + 1`` members, from ``(k, N, C)`` logits.

    Averages probabilities, :math:`\hat y^{(j)} = \arg\max_c \frac1j \sum_{p \le j} \mathrm{softmax}(f_p)_c`,
    as :func:`jaxdl.resample.bagging` does.

    >>> logits = np.log(np.array([[[0.6, 0.4]], [[0.1, 0.9]], [[0.7, 0.3]]]))
    >>> ensemble_predictions(logits)[:, 0].tolist()
    [0, 1, 1]
    """
    outputs = np.asarray(outputs, np.float64)
    shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    return np.cumsum(probabilities, axis=0).argmax(axis=-1)


def disagreement(predictions: np.ndarray) -> float:
    """Mean share of examples on which two of the ``(S, N)`` predictions differ, over all pairs of seeds.

    >>> disagreement(np.array([[0, 1, 2, 3], [0, 1, 2, 0], [0, 1, 1, 0]]))
    0.3333333333333333
    """
    predictions = np.asarray(predictions)
    pairs = list(itertools.combinations(range(predictions.shape[0]), 2))
    if not pairs:
        return float("nan")
    return float(np.mean([np.mean(predictions[a] != predictions[b]) for a, b in pairs]))


def model_size(params) -> tuple[int, int]:
    """Parameters and multiply-adds per example of one member, from a member-stacked parameter tree."""
    leaves = jax.tree.leaves(params)
    count = sum(int(np.prod(leaf.shape[1:])) for leaf in leaves)
    macs = sum(int(np.prod(leaf.shape[1:])) for leaf in leaves if leaf.ndim == 3)  # kernels (P, in, out)
    return count, macs


def _whole(num_examples: int) -> resample.Members:
    return resample.Members(np.arange(num_examples, dtype=np.int32)[None], np.ones((1, num_examples), np.float32),
                            np.asarray([num_examples]))


def run_size(config: train.TrainConfig, data: Data, hparams: train.HParams, members: int, num_seeds: int) -> dict:
    """Bagging with ``members`` bootstrap members and one full-split model, for each seed, on one training size."""
    y_train, y_val, y_test = (np.asarray(y) for y in (data.y_train, data.y_val, data.y_test))
    m = int(y_train.size)
    out = {"train_size": m, "epochs": config.epochs, "members": members, "seeds": []}
    bag_seconds, single_seconds = [], []
    for seed in range(num_seeds):
        began = time.perf_counter()
        bag = resample.bagging(config, data, k=members, hparams=hparams, seed=seed)
        bag_seconds.append(time.perf_counter() - began)
        began = time.perf_counter()
        single = resample.train_members(config, data, _whole(m), hparams, seed=seed)
        single_seconds.append(time.perf_counter() - began)
        outputs = bag.population.outputs
        ensemble = {split: ensemble_predictions(outputs[split]) for split in ("train", "val", "test")}
        alone = {split: single.outputs[split][0].argmax(axis=-1) for split in ("train", "val", "test")}
        out["seeds"].append({
            "seed": seed,
            "ensemble_train_error": (ensemble["train"] != y_train).mean(axis=1).tolist(),
            "ensemble_dev_error": (1.0 - np.asarray(bag.ensemble_accuracy["val"])).tolist(),
            "ensemble_test_accuracy": np.asarray(bag.ensemble_accuracy["test"]).tolist(),
            "member_train_error": (outputs["train"].argmax(axis=-1) != y_train).mean(axis=1).tolist(),
            "member_dev_error": (1.0 - np.asarray(bag.member_accuracy["val"])).tolist(),
            "member_test_accuracy": np.asarray(bag.member_accuracy["test"]).tolist(),
            "distinct_examples": np.asarray(bag.population.members.sizes).tolist(),
            "ensemble_test_predictions": ensemble["test"].tolist(),
            "single_train_error": float(np.mean(alone["train"] != y_train)),
            "single_dev_error": float(np.mean(alone["val"] != y_val)),
            "single_test_accuracy": float(np.mean(alone["test"] == y_test)),
            "single_test_predictions": alone["test"].tolist(),
        })
        print(f"{m} examples, seed {seed}: test single {out['seeds'][-1]['single_test_accuracy']:.3f}, "
              f"bagged k={members} {out['seeds'][-1]['ensemble_test_accuracy'][-1]:.3f}  "
              f"[{bag_seconds[-1]:.1f} s, {single_seconds[-1]:.1f} s]", flush=True)
    out["parameters"], out["macs"] = model_size(bag.population.result.params)
    # The first seed's calls compile; later ones reuse the programs (one per configuration and shape). The
    # fastest of those is the least disturbed by other work on a shared machine.
    timed = slice(1, None) if num_seeds > 1 else slice(None)
    out["seconds"] = {"ensemble": float(np.min(bag_seconds[timed])), "single": float(np.min(single_seconds[timed])),
                      "ensemble_first": bag_seconds[0], "single_first": single_seconds[0]}
    return out


def curves(run: dict) -> dict:
    """Per-k arrays over seeds, ``(S, K)``: ensemble errors and accuracy, members', and the disagreement ``(K,)``."""
    seeds = run["seeds"]
    stack = lambda key: np.asarray([s[key] for s in seeds], float)
    predictions = np.asarray([s["ensemble_test_predictions"] for s in seeds])  # (S, K, N)
    return {
        "k": np.arange(1, run["members"] + 1),
        "train_error": stack("ensemble_train_error"), "dev_error": stack("ensemble_dev_error"),
        "test_accuracy": stack("ensemble_test_accuracy"), "member_test_accuracy": stack("member_test_accuracy"),
        "member_train_error": stack("member_train_error"), "member_dev_error": stack("member_dev_error"),
        "disagreement": np.asarray([disagreement(predictions[:, j]) for j in range(predictions.shape[1])]),
        "single_train_error": stack("single_train_error"), "single_dev_error": stack("single_dev_error"),
        "single_test_accuracy": stack("single_test_accuracy"),
        "single_disagreement": disagreement(np.asarray([s["single_test_predictions"] for s in seeds])),
    }


def table_rows(runs: list[dict], table_k: Sequence[int] = TABLE_K) -> list[dict]:
    """Per training size: the full-split model, one bootstrap member, and ensembles of ``table_k`` and ``K`` members."""
    pct = lambda values: common.format_mean(100 * np.asarray(values, float), 1)
    rows = []
    for run in runs:
        c = curves(run)
        members = run["members"]
        base = {"training examples": run["train_size"], "epochs": run["epochs"]}

        def row(label, k, train_error, dev_error, test_accuracy, disagree, seconds=""):
            return {**base, "model": label, "members": k, "parameters": k * run["parameters"],
                    "multiply-adds per image": k * run["macs"], "train error %": pct(train_error),
                    "dev error %": pct(dev_error), "train/dev gap %": pct(np.subtract(dev_error, train_error)),
                    "test accuracy": common.format_mean(test_accuracy),
                    "seed disagreement % (test)": f"{100 * disagree:.1f}", "train wall time s": seconds}

        rows.append(row("one model, full split", 1, c["single_train_error"], c["single_dev_error"],
                        c["single_test_accuracy"], c["single_disagreement"], f"{run['seconds']['single']:.2f}"))
        rows.append(row("one bootstrap member", 1, c["train_error"][:, 0], c["dev_error"][:, 0],
                        c["test_accuracy"][:, 0], c["disagreement"][0]))
        for k in sorted({*(k for k in table_k if 1 < k < members), members} - {1}):
            rows.append(row(f"bagged, k={k}", k, c["train_error"][:, k - 1], c["dev_error"][:, k - 1],
                            c["test_accuracy"][:, k - 1], c["disagreement"][k - 1],
                            f"{run['seconds']['ensemble']:.2f}" if k == members else ""))
    return rows


def _band(ax, k, values, colour, label, linestyle="-", marker=None):
    mean = values.mean(axis=0)
    sd = values.std(axis=0, ddof=1) if values.shape[0] > 1 else np.zeros_like(mean)
    ax.plot(k, mean, color=colour, linestyle=linestyle, marker=marker, markersize=3, label=label)
    ax.fill_between(k, mean - sd, mean + sd, color=colour, alpha=0.15, linewidth=0)


def plot(runs: list[dict], path: str) -> str:
    """Per training size: test accuracy against k, and errors and seed disagreement against k."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(12, 3.9 * len(runs)), squeeze=False)
    for (ax_acc, ax_var), run in zip(axes, runs):
        c = curves(run)
        k = c["k"]
        for seed_curve in 100 * c["test_accuracy"]:
            ax_acc.plot(k, seed_curve, color="C0", alpha=0.25, linewidth=0.7)
        _band(ax_acc, k, 100 * c["test_accuracy"], "C0", "bagged ensemble of the first k members", marker="o")
        member_mean = 100 * c["member_test_accuracy"].mean()
        ax_acc.scatter(np.repeat(k[None], c["member_test_accuracy"].shape[0], 0).ravel(),
                       100 * c["member_test_accuracy"].ravel(), s=8, color="grey", alpha=0.5, linewidths=0,
                       label="member k alone (one dot per seed)")
        ax_acc.axhline(member_mean, color="grey", linestyle="--", linewidth=1,
                       label=f"mean single bootstrap member ({member_mean:.1f}%)")
        single = 100 * c["single_test_accuracy"]
        ax_acc.axhspan(single.mean() - single.std(ddof=1) if single.size > 1 else single.mean(),
                       single.mean() + single.std(ddof=1) if single.size > 1 else single.mean(),
                       color="C3", alpha=0.12, linewidth=0)
        ax_acc.axhline(single.mean(), color="C3", linewidth=1.2,
                       label=f"one model on the full split ({single.mean():.1f}% ± sd)")
        ax_acc.set(xlabel="ensemble size k (bootstrap members)", ylabel="test accuracy (%)",
                   title=f"{run['train_size']} training examples: test accuracy (mean ± sd over "
                         f"{len(run['seeds'])} seeds)")
        ax_acc.legend(fontsize=7, loc="lower right")

        _band(ax_var, k, 100 * c["dev_error"], "C0", "dev error", marker="o")
        _band(ax_var, k, 100 * c["train_error"], "C1", "train error (whole training split)", marker="o")
        ax_var.plot(k, 100 * c["disagreement"], color="C2", marker="s", markersize=3,
                    label="test images two seeds disagree on")
        for value, colour, name in ((c["single_dev_error"].mean(), "C0", "dev error"),
                                    (c["single_train_error"].mean(), "C1", "train error"),
                                    (c["single_disagreement"], "C2", "seed disagreement")):
            ax_var.axhline(100 * value, color=colour, linestyle=":", linewidth=1.6,
                           label=f"{name}, full-split model ({100 * value:.1f}%)")
        ax_var.set(xlabel="ensemble size k (bootstrap members)", ylabel="% of images",
                   title=f"{run['train_size']} examples: variance (dev - train gap; seed disagreement)")
        top = max(100 * c["dev_error"].mean(axis=0).max(), 100 * c["disagreement"].max())
        ax_var.set_ylim(0, 1.6 * top)
        ax_var.legend(fontsize=7, loc="upper right", ncol=2,
                      title="solid: ensemble of k (band: ± sd over seeds); dotted: one model, full split",
                      title_fontsize=7)
        for ax in (ax_acc, ax_var):
            ax.set_xticks(k)
            ax.grid(alpha=0.3)
    first = runs[0]
    ratio = first["seconds"]["ensemble"] / first["seconds"]["single"]
    fig.suptitle(f"Bagging an MLP on the digits. Cost of {first['members']} members: {first['members']}x the "
                 f"parameters and multiply-adds per image;\ntraining them as one vmapped program took "
                 f"{ratio:.1f}x one model's wall time ({first['train_size']} examples, "
                 f"{engine.usable_cores()} CPU cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _difference(a, b) -> tuple[float, float]:
    """Mean of ``b - a`` and its standard error, for two independent samples over seeds."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    spread = lambda v: v.std(ddof=1) ** 2 / v.size if v.size > 1 else 0.0
    return float(b.mean() - a.mean()), float(np.sqrt(spread(a) + spread(b)))


def _finding(runs: list[dict]) -> str:
    parts, steadier, narrower = [], [], []
    for run in runs:
        c = curves(run)
        members, m = run["members"], run["train_size"]
        single_gap = np.subtract(c["single_dev_error"], c["single_train_error"])
        bagged_gap = c["dev_error"][:, -1] - c["train_error"][:, -1]
        accuracy, accuracy_se = _difference(c["single_test_accuracy"], c["test_accuracy"][:, -1])
        gap, gap_se = _difference(single_gap, bagged_gap)
        beats = np.flatnonzero(c["test_accuracy"].mean(axis=0) > c["single_test_accuracy"].mean())
        reach = f"k = {int(beats[0]) + 1} is the first ensemble whose mean beats it" if beats.size else (
            "no ensemble's mean beats it")
        seen = 100 * np.mean([np.mean(s["distinct_examples"]) for s in run["seeds"]]) / m
        seconds = run["seconds"]
        ratio = seconds["ensemble"] / seconds["single"]
        pct = lambda values: 100 * float(np.mean(values))
        parts.append(
            f"{m} examples: one bootstrap member (it sees {seen:.0f}% of the examples) scores test "
            f"{np.mean(c['member_test_accuracy']):.3f}, the model trained on the whole split "
            f"{np.mean(c['single_test_accuracy']):.3f} and the {members}-member ensemble "
            f"{np.mean(c['test_accuracy'][:, -1]):.3f} ({100 * accuracy:+.1f} ± {100 * accuracy_se:.1f} points, "
            f"± standard error; {reach}); dev error {pct(c['single_dev_error']):.1f}% (full split) vs "
            f"{pct(c['dev_error'][:, -1]):.1f}% (ensemble) and train error {pct(c['single_train_error']):.1f}% vs "
            f"{pct(c['train_error'][:, -1]):.1f}%, so the train/dev gap goes {pct(single_gap):.1f} -> "
            f"{pct(bagged_gap):.1f} points ({100 * gap:+.1f} ± {100 * gap_se:.1f}); two seeds disagree on "
            f"{100 * c['single_disagreement']:.1f}% of test images (full split), {100 * c['disagreement'][0]:.1f}% "
            f"(one member) and {100 * c['disagreement'][-1]:.1f}% (ensemble); {members} members cost {members}x the "
            f"parameters ({members * run['parameters']:,}) and multiply-adds per image and took "
            f"{seconds['ensemble']:.2f} s to train as one program against {seconds['single']:.2f} s for one model "
            f"({ratio:.1f}x" + (f", not {members}x: the members run side by side on the cores)" if ratio < members
                                 else ")"))
        steadier.append(c["disagreement"][-1] < c["single_disagreement"])
        narrower.append(gap < -2 * gap_se)
    verdict = ("Bagging reduces variance as the instability of the prediction (seeds disagree less often, "
               "at every size)" if all(steadier) else
               "Bagging does not make the prediction steadier at every size")
    verdict += (" and narrows the train/dev gap" if all(narrower) else
                ", but it does not narrow the lecture's train/dev gap beyond noise: the ensemble fits its "
                "training split as closely as one model does, and its dev error only comes down to about the "
                "full-split model's, from a single bootstrap member's higher one")
    return "; ".join(parts) + ". " + verdict + "."


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 20 s")
    p.add_argument("--sizes", type=int, nargs="+", help="training sizes (default 200 1078, or 200 with --quick)")
    p.add_argument("--members", type=int, help=f"bootstrap members K (default {MEMBERS}, or 2 with --quick)")
    p.add_argument("--steps", type=int, help=f"optimizer steps per model (default {STEPS}, or 60 with --quick)")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden widths (default 256 256, or 32 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    sizes = tuple(args.sizes or ((200,) if args.quick else SIZES))
    members = args.members or (2 if args.quick else MEMBERS)
    steps = args.steps or (60 if args.quick else STEPS)
    hidden = tuple(args.hidden or ((32,) if args.quick else (256, 256)))
    if members < 2:
        p.error("--members must be at least 2 to form an ensemble")
    began = time.perf_counter()

    full = Data.load("digits")
    hparams = train.HParams(learning_rate=LEARNING_RATE)
    runs = []
    for size in sizes:
        data = subset(full, size)
        config = train.TrainConfig(model_args={"hidden": hidden}, activation="relu", optimizer="adam",
                                   batch_size=BATCH_SIZE, epochs=epochs_for(int(data.x_train.shape[0]), steps),
                                   restore_best=False)
        runs.append(run_size(config, data, hparams, members, num_seeds))

    figure = plot(runs, f"{out}/{NAME}.png")
    rows = table_rows(runs)
    finding = _finding(runs)
    settings = {
        "data": f"digits (Data.load), training split cut to {', '.join(str(r['train_size']) for r in runs)} "
                f"stratified examples; {int(full.x_val.shape[0])} dev (validation), {int(full.x_test.shape[0])} test",
        "model": f"MLP 64-{'-'.join(map(str, hidden))}-10 ReLU, no regularisation",
        "optimizer": f"adam, learning rate {LEARNING_RATE:g} (default, not tuned)", "batch_size": BATCH_SIZE,
        "steps": f"about {steps} per model: epochs {', '.join(str(r['epochs']) for r in runs)}",
        "kept": "last epoch (restore_best=False)", "members": members, "seeds": num_seeds,
        "seed": "draws the bootstrap samples and every member's initial weights and batch order",
        "wall_time": "fastest of the seeds after the first (which compiles), on "
                     f"{jax.local_device_count()} {jax.default_backend()} device(s), {engine.usable_cores()} cores, "
                     "a machine shared with other work",
        "seconds": round(time.perf_counter() - began, 1),
    }
    summary = [{"train_size": r["train_size"], "parameters": r["parameters"], "macs": r["macs"],
                "seconds": r["seconds"], **{key: value for key, value in curves(r).items()}} for r in runs]
    paths = common.write_results(out, NAME, title="Question 13: bagging, variance and cost", finding=finding,
                                 rows=rows, settings=settings,
                                 extra={"curves": summary,
                                        "runs": [{**r, "seeds": [{k: v for k, v in s.items()
                                                                  if not k.endswith("predictions")}
                                                                 for s in r["seeds"]]} for r in runs]})
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": figure, "rows": rows, "runs": runs}


if __name__ == "__main__":
    main()
