r"""Question 9: when does reusing a network trained on another task beat training from scratch?

Lecture 003/004's recipe: train on a task with plenty of data, replace the
output layer, freeze the reused layers and train the new head; then unfreeze
the top layers and fine-tune them with a smaller learning rate. Here the
source task is digits 0-4 and the target task is digits 5-9, with only ``n``
labelled examples per class (5 to 100). Three ways to learn the target:

- frozen features: the pretrained hidden layers stay fixed, a fresh 5-way
  head is trained on top (stage 1 of :func:`jaxdl.transfer.staged_fine_tune`);
- fine-tuned: that model, then every hidden layer unfrozen and trained with
  the head at a 10x smaller learning rate (stage 2; the frozen-features model
  of the same seed is its starting point);
- from scratch: the same architecture, freshly initialised, all of it trained.

Network: MLP 64 -> 128 -> 128 -> classes, ReLU, He init, Adam. Pretraining:
all digits 0-4 of the training split (about 540 images), 30 epochs of
mini-batches of 32 (:func:`jaxdl.transfer.fit`). Target training is
full-batch: ``steps`` Adam steps for the head, ``steps`` more for
fine-tuning, and ``2 * steps`` for the model from scratch, so fine-tuning and
scratch spend the same number of steps. Inputs are standardised with the
source training statistics for every method.

Learning rates: each method's rate (the head rate, the fine-tuning rate, the
scratch rate) is the best mean validation accuracy on the target's
validation split over the same 5-value log grid at 20 examples per class, on
a tuning seed not used afterwards; the same rate then serves every size. Each
reported seed draws its own pretraining, its own ``n`` examples per class
from the target training split and its own heads; accuracy is on the target's
test split (digits 5-9 of the 20% test split, about 180 images).

Run ``python -m experiments.transfer_learning`` (``--quick``: two sizes, a
few steps; ``--help`` for the flags). Writes ``transfer_learning.png`` (test
accuracy against examples per class) and ``transfer_learning.{md,json}``.
"""

from __future__ import annotations

import time
from typing import Sequence

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402
from jaxdl import models, transfer  # noqa: E402

NAME = "transfer_learning"
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
METHODS = ("frozen features", "fine-tuned", "from scratch")
SIZES = (5, 10, 20, 50, 100)
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
TUNING_SEED = 1000
TUNING_SIZE = 20
HIDDEN = (128, 128)


def tasks(seed: int = 0) -> dict:
    """Source (digits 0-4) and target (digits 5-9, relabelled 0-4) splits, standardised on the source training set.

    Returns ``{"source": {"train", "test"}, "target": {"train", "val", "test"}}``
    of :class:`jaxdl.data.Dataset` with 5 classes each.
    """
    full = data_lib.load_digits()
    parts = dict(zip(("train", "val", "test"),
                     data_lib.split_dataset(full, (0.6, 0.2, 0.2), key=seed, stratify=True)))

    def task(part, classes):
        keep = np.isin(part.y, classes)
        labels = np.searchsorted(np.asarray(classes), part.y[keep]).astype(np.int32)
        return data_lib.Dataset(part.x[keep], labels, len(classes))

    source = {name: task(parts[name], SOURCE_CLASSES) for name in ("train", "test")}
    target = {name: task(parts[name], TARGET_CLASSES) for name in ("train", "val", "test")}
    standardizer = data_lib.Standardizer.fit(source["train"].x)
    scale = lambda d: d._replace(x=np.asarray(standardizer.apply(d.x)))
    return {"source": {k: scale(v) for k, v in source.items()},
            "target": {k: scale(v) for k, v in target.items()}}


def subsample(dataset: data_lib.Dataset, per_class: int, seed: int) -> data_lib.Dataset:
    """``per_class`` examples of every class, drawn without replacement with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(dataset.num_classes):
        pool = np.flatnonzero(dataset.y == label)
        if per_class > pool.size:
            raise ValueError(f"class {label} has {pool.size} training examples, fewer than {per_class}")
        chosen.append(rng.choice(pool, per_class, replace=False))
    index = np.sort(np.concatenate(chosen))
    return dataset._replace(x=dataset.x[index], y=dataset.y[index])


def pretrain(source: data_lib.Dataset, seed: int, *, epochs: int) -> models.MLP:
    """The source-task network: MLP 64-128-128-5 trained with Adam (1e-3) on digits 0-4."""
    config = models.MLPConfig(in_features=source.x.shape[1], hidden=HIDDEN, out_features=source.num_classes)
    key = jax.random.key(seed)
    model = models.build(config, jax.random.fold_in(key, 0))
    return transfer.fit(model, source.x, source.y, "adam", learning_rate=1e-3, epochs=epochs, batch_size=32,
                        key=jax.random.fold_in(key, 1)).model


def transferred(pretrained, train_set, seed: int, head_rate, fine_tune_rate, *, steps: int) -> dict:
    """Frozen-features and fine-tuned models: the two stages of :func:`jaxdl.transfer.staged_fine_tune`."""
    staged = transfer.staged_fine_tune(
        pretrained, train_set.x, train_set.y, num_classes=train_set.num_classes,
        key=jax.random.fold_in(jax.random.key(seed), 2),
        head_learning_rate=head_rate, head_epochs=steps,
        fine_tune_learning_rate=fine_tune_rate, fine_tune_epochs=steps,
        unfreeze_top=len(pretrained.blocks),
    )
    return {"frozen features": staged.head_model, "fine-tuned": staged.model}


def from_scratch(train_set, seed: int, rate, *, steps: int) -> models.MLP:
    """The same architecture, freshly initialised, trained for ``2 * steps`` full-batch steps."""
    key = jax.random.key(seed)
    config = models.MLPConfig(in_features=train_set.x.shape[1], hidden=HIDDEN, out_features=train_set.num_classes)
    fresh = models.build(config, jax.random.fold_in(key, 3))
    return transfer.fit(fresh, train_set.x, train_set.y, "adam", learning_rate=rate, epochs=2 * steps,
                        key=jax.random.fold_in(key, 4)).model


def learn_target(pretrained, train_set, seed: int, rates: dict, *, steps: int) -> dict:
    """The three target models trained on ``train_set`` with ``rates`` (``head``, ``fine_tune``, ``scratch``)."""
    models_ = transferred(pretrained, train_set, seed, rates["head"], rates["fine_tune"], steps=steps)
    models_["from scratch"] = from_scratch(train_set, seed, rates["scratch"], steps=steps)
    return models_


def tune(pretrained, target: dict, grid: Sequence[float], size: int, *, steps: int) -> tuple[dict, dict]:
    """Each method's learning rate: best validation accuracy over ``grid`` at ``size`` examples per class.

    The head rate is tuned first (frozen features), then the fine-tuning rate
    (``grid / 10``, lecture 004's smaller rate) on top of the chosen head.
    """
    train_set = subsample(target["train"], size, TUNING_SEED)
    score = lambda model: transfer.accuracy(model, target["val"].x, target["val"].y)
    scores = {"head": {}, "fine_tune": {}, "scratch": {}}
    for rate in grid:
        head = transferred(pretrained, train_set, TUNING_SEED, rate, rate / 10, steps=steps)["frozen features"]
        scores["head"][rate] = score(head)
        scores["scratch"][rate] = score(from_scratch(train_set, TUNING_SEED, rate, steps=steps))
    head_rate = max(scores["head"], key=scores["head"].get)
    for rate in grid:
        fine = transferred(pretrained, train_set, TUNING_SEED, head_rate, rate / 10, steps=steps)["fine-tuned"]
        scores["fine_tune"][rate / 10] = score(fine)
    chosen = {name: max(values, key=values.get) for name, values in scores.items()}
    return chosen, {name: {f"{k:g}": v for k, v in values.items()} for name, values in scores.items()}


def plot(sizes, accuracy: dict, source_accuracy: list[float], path: str) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for k, method in enumerate(METHODS):
        stats = [common.mean_spread(accuracy[method][n]) for n in sizes]
        ax.errorbar(sizes, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3,
                    color=f"C{k}", label=method)
    mean_source = common.mean_spread(source_accuracy)[0]
    ax.axhline(mean_source, color="grey", linestyle=":", label=f"source task (0-4) test accuracy {mean_source:.3f}")
    ax.set(xscale="log", xlabel="labelled target examples per class (digits 5-9)",
           ylabel="target test accuracy (mean ± sd over seeds)",
           title="Transfer from digits 0-4 to digits 5-9")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 10 s")
    p.add_argument("--sizes", type=int, nargs="+", help="examples per class (default 5 10 20 50 100; --quick 5 20)")
    p.add_argument("--steps", type=int, help="full-batch steps per stage (default 150, or 20 with --quick)")
    p.add_argument("--pretrain-epochs", type=int, help="source-task epochs (default 30, or 3 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    sizes = tuple(args.sizes or ((5, 20) if args.quick else SIZES))
    steps = args.steps or (20 if args.quick else 150)
    pretrain_epochs = args.pretrain_epochs or (3 if args.quick else 30)
    grid = (3e-3, 3e-2) if args.quick else LEARNING_RATES
    tuning_size = min(sizes, key=lambda n: abs(n - TUNING_SIZE))
    began = time.perf_counter()

    data = tasks()
    source, target = data["source"], data["target"]
    rates, tuning_scores = tune(pretrain(source["train"], TUNING_SEED, epochs=pretrain_epochs), target, grid,
                                tuning_size, steps=steps)
    print(f"learning rates: {rates}", flush=True)

    accuracy = {method: {n: [] for n in sizes} for method in METHODS}
    source_accuracy = []
    for seed in range(num_seeds):
        pretrained = pretrain(source["train"], seed, epochs=pretrain_epochs)
        source_accuracy.append(transfer.accuracy(pretrained, source["test"].x, source["test"].y))
        for n in sizes:
            learned = learn_target(pretrained, subsample(target["train"], n, seed), seed, rates, steps=steps)
            for method, model in learned.items():
                accuracy[method][n].append(transfer.accuracy(model, target["test"].x, target["test"].y))
        print(f"seed {seed}: source test accuracy {source_accuracy[-1]:.3f}; " + ", ".join(
            f"{m} {accuracy[m][sizes[0]][-1]:.3f}@{sizes[0]}" for m in METHODS), flush=True)

    plot(sizes, accuracy, source_accuracy, f"{out}/{NAME}.png")
    rows = [{"examples per class": n, "training examples": 5 * n,
             **{method: common.format_mean(accuracy[method][n], 3) for method in METHODS},
             "fine-tuned − scratch (paired)": common.format_mean(
                 paired_difference(accuracy, "fine-tuned", "from scratch", n), 3)} for n in sizes]
    finding = _finding(sizes, accuracy)
    settings = {
        "source": f"digits 0-4, {len(source['train'].y)} training images, {pretrain_epochs} epochs, Adam 1e-3",
        "target": f"digits 5-9: n per class from {len(target['train'].y)} training images; "
                  f"{len(target['val'].y)} validation (tuning), {len(target['test'].y)} test",
        "model": f"MLP 64-{'-'.join(map(str, HIDDEN))}-5 ReLU, He normal",
        "steps": {"head": steps, "fine_tune": steps, "scratch": 2 * steps},
        "learning_rates": rates, "learning_rate_grid": list(grid), "tuning_size": tuning_size,
        "seeds": num_seeds, "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(
        out, NAME, title="Question 9: transfer learning from digits 0-4 to digits 5-9", finding=finding,
        rows=rows, settings=settings,
        extra={"accuracy": {m: {str(n): v for n, v in accuracy[m].items()} for m in METHODS},
               "source_test_accuracy": source_accuracy, "tuning_scores": tuning_scores},
    )
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": f"{out}/{NAME}.png", "rows": rows, "accuracy": accuracy, "rates": rates}


def paired_difference(accuracy: dict, method: str, other: str, n: int) -> list[float]:
    """Per-seed ``method - other`` accuracy; both saw the same pretraining seed and the same examples."""
    return [a - b for a, b in zip(accuracy[method][n], accuracy[other][n])]


def _finding(sizes, accuracy) -> str:
    mean = {(m, n): common.mean_spread(accuracy[m][n])[0] for m in METHODS for n in sizes}
    small, large = sizes[0], sizes[-1]
    differences = {n: common.mean_spread(paired_difference(accuracy, "fine-tuned", "from scratch", n))
                   for n in sizes}
    # Within two standard errors of zero, the paired difference is not told apart from noise.
    unclear = [n for n, (m, sd, k) in differences.items() if abs(m) <= 2 * sd / max(k, 1) ** 0.5]
    frozen_gap = [mean["fine-tuned", n] - mean["frozen features", n] for n in sizes]
    text = (
        f"Test accuracy on digits 5-9 rises from {mean['fine-tuned', small]:.3f} (fine-tuned) / "
        f"{mean['from scratch', small]:.3f} (scratch) / {mean['frozen features', small]:.3f} (frozen) at {small} "
        f"examples per class to {mean['fine-tuned', large]:.3f} / {mean['from scratch', large]:.3f} / "
        f"{mean['frozen features', large]:.3f} at {large}; "
    )
    if len(unclear) == len(sizes):
        text += ("fine-tuning the 0-4 network is indistinguishable from training from scratch at every size "
                 f"(paired differences {min(d[0] for d in differences.values()):+.3f} to "
                 f"{max(d[0] for d in differences.values()):+.3f}, all within 2 standard errors)")
    else:
        clear = [f"{n}: {differences[n][0]:+.3f}" for n in sizes if n not in unclear]
        text += f"fine-tuned minus scratch is clearly nonzero only at {', '.join(clear)} examples per class"
    if min(frozen_gap) > 0:
        text += f"; frozen 0-4 features trail fine-tuning by {min(frozen_gap):.3f}-{max(frozen_gap):.3f} at every size"
    else:
        text += (f"; frozen features minus fine-tuned ranges {-max(frozen_gap):+.3f} to {-min(frozen_gap):+.3f}")
    if len(unclear) == len(sizes):
        text += (": on 8x8 digits the features learnt for 0-4 carry little that even "
                 f"{small} labelled examples per class of 5-9 cannot teach.")
    else:
        text += "."
    return text


if __name__ == "__main__":
    main()
