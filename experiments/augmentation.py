r"""Question 11: does data augmentation reduce variance on small data sets?

Lecture 001 lists data augmentation among the remedies for high variance
(dev error well above training error) and says what to do: "we rotate,
scale, and move pattern and thus augment the training data space by these
variations"; lecture 003 asks of an overfitting model "Can you employ data
augmentation?" and adds that the task "should be invariant to such
transformations". This script measures the claim on the 8x8 digits with
small training sets cut from the usual 60/20/20 split (100 and 300 of the
1078 training images, and all of them), the validation (360) and test (359)
images left as they are.

The network is the textbook overfitter of :mod:`experiments.regularization`,
an MLP 64 -> 256 -> 256 -> 10 (ReLU, He init, Adam, batch 32) on the images
flattened; an MLP has no translation invariance of its own, so whatever it
knows of shifted digits it must learn from the data. (A CNN trains about
three times slower per step on this CPU and compiles twice as slowly.)
The transforms are lecture 001's "rotate, scale, move", each image drawn
afresh every step (:mod:`jaxdl.augment` through ``TrainConfig.augment``):

- none: strength 0 for every transform, bit for bit no augmentation, in the
  same compiled program as the augmented arms;
- mild: :data:`jaxdl.augment.DEFAULTS`: shift by up to 1 pixel of 8
  (``random_shift`` 0.125), rotation by up to 10 degrees, zoom by a factor
  in [0.9, 1.1];
- strong: twice the mild strengths (2 pixels, 20 degrees, [0.8, 1.2]).

No horizontal flip: a mirrored 2, 3, 4, 7 or 9 is not the same digit, so
the task is not invariant to it (lecture 003's condition). The pixels are
divided by one number, their standard deviation over the training subset,
and not centred per pixel: 0 stays the blank paper that shifted, rotated
and shrunk digits are filled with (a per-pixel standardisation would turn a
stroke moved into an almost always blank border pixel into a value in the
hundreds).

Every run trains for at least 1200 optimizer steps and at least 100
epochs: 400 epochs of 100 images, 134 of 300, 100 of 1078 (3300 steps).
A small set is fitted long before 1200 steps; an augmented full set needs
the passes (at 1200 steps, a trial run left the mild arm's training error
at 3.5%, against 0.4% after 3600). Fair tuning: at each size each arm gets
its own Adam learning rate from the same log grid with the same budget
(5 rates in [3e-4, 3e-2], a factor sqrt(10) apart), scored by the last epoch's validation error of
seed 0 (seed 0's subset and initialisation); then 5 fresh seeds (1..5)
train at that rate. A seed draws its own stratified subset,
initialisation, batch order and augmentations; at a size every arm trains
on the same subsets with the same keys, so the arms' differences are
paired by seed. Every run keeps its last
epoch (``restore_best=False``): nothing but the tuning looks at the
validation set.

Measured for every member: the training error on the clean (unaugmented)
training images, in inference mode; the validation ("dev") error; the gap
= validation error - training error, lecture 001's variance with
human-level error taken as 0 (people read these digits almost perfectly);
and the held-out test accuracy. All in one vmapped program per size:
``jax.jit(jax.vmap(train))`` over the learning rates, strengths, keys and
per-seed training subsets.

Run ``python -m experiments.augmentation`` (``--quick``: a 32-unit network,
60 steps, 100 images, 2 seeds; ``--help`` for the flags). Writes
``augmentation.png`` (training error, validation error and gap against the
training-set size, seeds as dots) and ``augmentation.{md,json}``.
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import augment, sweep, train  # noqa: E402
from jaxdl import data as data_lib  # noqa: E402

NAME = "augmentation"
#: Lecture 001's "rotate, scale, move"; no horizontal flip (a mirrored digit is another symbol or none).
TRANSFORMS = ("random_shift", "random_rotation", "random_scale")
#: Arm name -> multiple of :data:`jaxdl.augment.DEFAULTS`; 0 is the control.
ARMS = {"none": 0.0, "mild": 1.0, "strong": 2.0}
SIZES, QUICK_SIZES = (100, 300, None), (100,)  # None: the whole training split
HIDDEN, QUICK_HIDDEN = (256, 256), (32,)
#: Every run trains for at least this many optimizer steps and at least EPOCHS passes over its images.
STEPS, QUICK_STEPS = 1200, 60
EPOCHS, QUICK_EPOCHS = 100, 5
BUDGET, QUICK_BUDGET = 5, 2
LOW, HIGH = 3e-4, 3e-2
BATCH_SIZE = 32
FRACTIONS = (0.6, 0.2, 0.2)


def strengths(factor: float) -> dict[str, float]:
    """Each transform's strength: ``factor`` times its default (0 is no augmentation, bit for bit)."""
    return {name: factor * augment.DEFAULTS[name] for name in TRANSFORMS}


def describe(arm: str) -> str:
    """``"mild (shift ±1 px, rotation ±10°, scale ×[0.9, 1.1])"`` for 8-pixel digits."""
    if ARMS[arm] == 0:
        return arm
    s = strengths(ARMS[arm])
    return (f"{arm} (shift ±{math.floor(s['random_shift'] * 8)} px, rotation ±{s['random_rotation']:g}°, "
            f"scale ×[{1 - s['random_scale']:g}, {1 + s['random_scale']:g}])")


def splits() -> tuple[data_lib.Dataset, data_lib.Dataset, data_lib.Dataset]:
    """The digits as 8x8x1 images in [0, 1], split 60/20/20 (stratified, seed 0): train, validation, test."""
    return data_lib.split_dataset(data_lib.load_digits(flat=False), FRACTIONS, key=0, stratify=True)


def digits_subset(size: int | None, seed: int, parts=None) -> train.Data:
    """``size`` stratified training images drawn with ``seed`` (``None``: all of them), validation and test whole.

    Every split is divided by the pixel standard deviation of the training
    subset; nothing is centred, so 0 stays the blank background.
    """
    train_part, val_part, test_part = parts or splits()
    total = len(train_part.y)
    if size is not None and not 0 < size <= total:
        raise ValueError(f"size must be between 1 and the {total} training images, got {size}")
    if size is not None and size < total:
        train_part = data_lib.split_dataset(train_part, (size / total, 1 - size / total), key=seed,
                                            stratify=True)[0]
    scale = np.float32(np.std(train_part.x))
    scaled = [p._replace(x=np.asarray(p.x / scale, np.float32)) for p in (train_part, val_part, test_part)]
    return train.Data.from_splits(*scaled)


def stack(datas: Sequence[train.Data]) -> train.Data:
    """One :class:`~jaxdl.data.Data` with a leading member axis on every array (same shapes required)."""
    return jax.tree.map(lambda *arrays: jnp.stack(arrays), *datas)


def epochs_for(size: int, steps: int, epochs: int = 1, batch_size: int = BATCH_SIZE) -> int:
    """The fewest epochs on ``size`` examples that make at least ``steps`` optimizer steps, and at least ``epochs``."""
    return max(epochs, math.ceil(steps / data_lib.steps_per_epoch(size, batch_size)))


def config_for(size: int, hidden: Sequence[int], steps: int, epochs: int = 1) -> train.TrainConfig:
    """The MLP on images with every transform chosen (their strengths are per member)."""
    return train.TrainConfig(model="mlp", model_args={"hidden": tuple(hidden)}, activation="relu", optimizer="adam",
                             batch_size=BATCH_SIZE, epochs=epochs_for(size, steps, epochs), restore_best=False,
                             augment=TRANSFORMS)


def digit_geometry(images) -> dict:
    """How centred and how tall the digits already are: what a shift or a zoom has to work with.

    ``images`` ``(N, H, W, 1)`` with 0 as background. Returns the spread (sd,
    pixels) of the ink's centre of mass down and across, the mean number of
    rows and columns holding any ink, the share of images with ink in both the
    top and the bottom row (a one-pixel shift up or down, or any zoom in,
    pushes ink off the canvas) and the share with ink in the left or right
    column.
    """
    x = np.asarray(images, np.float64)[..., 0]
    mass = x.sum(axis=(1, 2))
    rows = (x.sum(axis=2) * np.arange(x.shape[1])).sum(axis=1) / mass
    cols = (x.sum(axis=1) * np.arange(x.shape[2])).sum(axis=1) / mass
    ink = x > 0
    return {
        "images": int(x.shape[0]),
        "centroid_sd_down": float(rows.std()), "centroid_sd_across": float(cols.std()),
        "rows_with_ink": float(ink.any(axis=2).sum(axis=1).mean()),
        "columns_with_ink": float(ink.any(axis=1).sum(axis=1).mean()),
        "full_height": float((ink[:, 0, :].any(axis=1) & ink[:, -1, :].any(axis=1)).mean()),
        "touch_left_or_right": float((ink[:, :, 0].any(axis=1) | ink[:, :, -1].any(axis=1)).mean()),
    }


def member_hparams(rates: Sequence[float], factors: Sequence[float]) -> train.HParams:
    """One member per (learning rate, strength factor) pair."""
    factors = np.asarray(factors, np.float32)
    return train.HParams(
        learning_rate=jnp.asarray(rates, jnp.float32),
        augment={name: jnp.asarray(factors * augment.DEFAULTS[name], jnp.float32) for name in TRANSFORMS},
    ).batched(len(rates))


def make_population(config: train.TrainConfig, data: train.Data):
    """A compiled ``(hparams, keys, data) -> measurements`` that trains each member on its own data.

    ``data`` (one member's) fixes the shapes; the returned function takes a
    leading member axis on the hyperparameters, keys and data
    (:func:`stack`) and returns NumPy arrays: ``train_error`` (the clean
    training images, inference mode), ``val_error``, ``test_error``,
    ``final_train_loss`` (on the last epoch's augmented batches) and
    ``diverged``. Calls with as many members reuse one compilation.
    """
    measured = common.run_with_train_error(config, data)

    def run(hp, key, data):
        result, train_error = measured(hp, key, data)
        return {
            "train_error": train_error,
            "val_error": common.error(result.metrics["val_accuracy"]),
            "test_error": common.error(result.metrics["test_accuracy"]),
            "final_train_loss": result.history["train_loss"][-1],
            "diverged": result.diverged,
        }

    program = jax.jit(jax.vmap(run))
    return lambda hparams, keys, data: jax.tree.map(np.asarray, program(hparams, keys, data))


def pick_rates(rates: Sequence[float], arms: Sequence[str], val_error, diverged) -> dict[str, float]:
    """Each arm's rate with the lowest validation error among those that did not diverge (first of ties).

    ``val_error`` and ``diverged`` are laid out arm-major: member ``a * len(rates) + r``.
    """
    val_error = np.asarray(val_error, np.float64).reshape(len(arms), len(rates))
    bad = np.asarray(diverged, bool).reshape(len(arms), len(rates)) | ~np.isfinite(val_error)
    chosen = {}
    for a, arm in enumerate(arms):
        if bad[a].all():
            raise ValueError(f"every learning rate diverged for arm {arm!r}")
        chosen[arm] = float(rates[int(np.argmin(np.where(bad[a], np.inf, val_error[a])))])
    return chosen


def paired(reference, other) -> dict:
    """``reference - other`` seed by seed: mean, sd, count, and how many seeds it is positive."""
    difference = np.asarray(reference, np.float64) - np.asarray(other, np.float64)
    mean, spread, count = common.mean_spread(difference)
    return {"mean": mean, "sd": spread, "n": count, "positive": int(np.sum(difference > 0))}


def clear(stats: Mapping) -> bool:
    """A paired mean more than twice its standard error away from 0 (and at least 2 seeds)."""
    return stats["n"] > 1 and abs(stats["mean"]) > 2 * stats["sd"] / math.sqrt(stats["n"])


def run_size(size: int | None, parts, *, hidden, steps, epochs, rates, num_seeds, log=print) -> dict:
    """Tune every arm's rate at one training-set size, then train the seeds; one compiled program."""
    arms = list(ARMS)
    tuning_data = digits_subset(size, 0, parts)
    examples = int(tuning_data.x_train.shape[0])
    config = config_for(examples, hidden, steps, epochs)
    members = len(arms) * len(rates)
    population = make_population(config, tuning_data)
    tuned = population(member_hparams([r for _ in arms for r in rates],
                                              [ARMS[a] for a in arms for _ in rates]),
                       jnp.stack([jax.random.key(0)] * members), stack([tuning_data] * members))
    chosen = pick_rates(rates, arms, tuned["val_error"], tuned["diverged"])
    log(f"{examples} examples ({config.epochs} epochs): learning rates "
        + ", ".join(f"{a} {chosen[a]:.3g}" for a in arms))
    seeds = list(range(1, num_seeds + 1))  # seed 0 tuned the rates
    seed_data = [digits_subset(size, seed, parts) for seed in seeds]
    final = population(member_hparams([chosen[a] for a in arms for _ in seeds],
                                              [ARMS[a] for a in arms for _ in seeds]),
                       jnp.stack([jax.random.key(seed) for _ in arms for seed in seeds]),
                       stack([d for _ in arms for d in seed_data]))
    out = {"size": examples, "epochs": config.epochs, "steps": config.epochs * data_lib.steps_per_epoch(
        examples, BATCH_SIZE), "learning_rates": chosen, "arms": {},
        "tuning": {a: {"learning_rate": list(map(float, rates)),
                       "val_error": tuned["val_error"][k * len(rates):(k + 1) * len(rates)].astype(float).tolist()}
                   for k, a in enumerate(arms)}}
    for k, arm in enumerate(arms):
        rows = slice(k * num_seeds, (k + 1) * num_seeds)
        result = {name: values[rows].astype(float if values.dtype != bool else bool).tolist()
                  for name, values in final.items()}
        result["gap"] = (final["val_error"][rows] - final["train_error"][rows]).astype(float).tolist()
        result["test_accuracy"] = (1.0 - final["test_error"][rows]).astype(float).tolist()
        out["arms"][arm] = result
    for arm in arms[1:]:
        out["arms"][arm]["versus_none"] = {
            key: paired(out["arms"]["none"][key], out["arms"][arm][key])
            for key in ("gap", "val_error", "train_error", "test_error")
        }
    return out


def plot(results: list[dict], path: str, hidden: Sequence[int] = HIDDEN) -> str:
    """Training error, validation error and gap (%) against training-set size; seeds as dots, lines the means."""
    panels = (("train_error", "training error (clean images)"), ("val_error", "validation error"),
              ("gap", "gap = validation - training error"))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.9), sharex=True)
    sizes = np.array([r["size"] for r in results], float)
    arms = list(ARMS)
    for ax, (key, title) in zip(axes, panels):
        for index, arm in enumerate(arms):
            colour = f"C{index}"
            shift = 1.0 + 0.05 * (index - (len(arms) - 1) / 2)  # side by side on the log axis
            values = np.array([100 * np.asarray(r["arms"][arm][key]) for r in results])
            for x, row in zip(sizes * shift, values):
                ax.scatter(np.full(row.shape, x), row, s=12, color=colour, alpha=0.45, linewidths=0)
            ax.plot(sizes * shift, values.mean(axis=1), "-o", color=colour, markersize=4,
                    label=describe(arm) if key == "gap" else arm)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(int(s)) for s in sizes])
        ax.minorticks_off()
        ax.set(title=title, xlabel="training images (log scale)", ylim=(0, None))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% (dots: seeds; line: mean)")
    axes[2].legend(fontsize=7, loc="upper right")
    network = "-".join(map(str, (64, *hidden, 10)))
    fig.suptitle(f"Augmenting an MLP {network} on few digits: does it shrink the train/validation gap?",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 10 s")
    p.add_argument("--sizes", type=int, nargs="+",
                   help="training-set sizes (default 100 300 and the whole 1078; 100 with --quick)")
    p.add_argument("--steps", type=int, help=f"least optimizer steps per run (default {STEPS}, "
                                             f"or {QUICK_STEPS} with --quick)")
    p.add_argument("--epochs", type=int, help=f"least epochs per run (default {EPOCHS}, or {QUICK_EPOCHS} with --quick)")
    p.add_argument("--budget", type=int, help=f"learning rates tried per arm and size (default {BUDGET}, "
                                              f"or {QUICK_BUDGET} with --quick)")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden widths (default 256 256, or 32 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else SIZES))
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    budget = args.budget or (QUICK_BUDGET if args.quick else BUDGET)
    hidden = tuple(args.hidden or (QUICK_HIDDEN if args.quick else HIDDEN))
    rates = [float(r) for r in sweep.loggrid(LOW, HIGH, budget).values()]
    began = time.perf_counter()

    parts = splits()
    geometry = digit_geometry(data_lib.load_digits(flat=False).x)
    results = []
    for size in sizes:
        results.append(run_size(size, parts, hidden=hidden, steps=steps, epochs=epochs, rates=rates,
                                num_seeds=num_seeds, log=lambda text: print(text, flush=True)))
    plot(results, f"{out}/{NAME}.png", hidden=hidden)

    pct = lambda values: common.format_mean([100 * v for v in values], 1)
    edge = lambda rate: " (edge)" if budget > 1 and rate in (min(rates), max(rates)) else ""
    rows = []
    for r in results:
        for arm in ARMS:
            a = r["arms"][arm]
            versus = a.get("versus_none")
            rate = r["learning_rates"][arm]
            rows.append({
                "training images": r["size"],
                "augmentation": describe(arm),
                "learning rate": f"{rate:.3g}{edge(rate)}",
                "train error %": pct(a["train_error"]),
                "val error %": pct(a["val_error"]),
                "gap %": pct(a["gap"]),
                "gap narrowed by (paired)": _points(versus["gap"]) if versus else "",
                "test accuracy %": pct(a["test_accuracy"]),
                "last-epoch loss (augmented)": common.format_mean(a["final_train_loss"], 3),
                "diverged": int(sum(a["diverged"])),
            })
    finding = _finding(results, geometry)
    val_size, test_size = len(parts[1].y), len(parts[2].y)
    settings = {
        "data": f"digits 8x8x1 images, 60/20/20 stratified split (seed 0); training subsets of "
                f"{', '.join(str(r['size']) for r in results)} images (stratified, drawn per seed); "
                f"{val_size} validation, {test_size} test; pixels divided by the training subset's std, not centred",
        "model": f"MLP 64-{'-'.join(map(str, hidden))}-10 on the flattened images, ReLU, He normal",
        "optimizer": "adam", "batch_size": BATCH_SIZE,
        "training": f"at least {steps} steps and at least {epochs} epochs: "
                    + ", ".join(f"{r['size']} images {r['epochs']} epochs = {r['steps']} steps" for r in results),
        "transforms": list(TRANSFORMS), "arms": {arm: strengths(f) for arm, f in ARMS.items()},
        "learning_rate_grid": f"{budget} log-spaced in [{LOW:g}, {HIGH:g}]",
        "tuning": "per arm and size: seed 0's subset and initialisation, last epoch's validation error",
        "selection": "last epoch (restore_best=False)", "seeds": f"{num_seeds} (1..{num_seeds}), paired across arms",
        "human_error": 0.0, "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(out, NAME, title="Question 11: data augmentation and variance on small training sets",
                                 finding=finding, rows=rows, settings=settings,
                                 extra={"geometry": geometry, "results": results})
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": f"{out}/{NAME}.png", "rows": rows, "results": results, "geometry": geometry}


def _points(stats: Mapping) -> str:
    """A paired difference of error fractions in percentage points, with how many seeds it is positive."""
    return f"{100 * stats['mean']:+.1f} ± {100 * stats['sd']:.1f} ({stats['positive']}/{stats['n']} seeds)"


def _effect(stats: Mapping, better: str, worse: str) -> str:
    """``better`` or ``worse`` when a paired difference (reference - other) is clear, else "within noise"."""
    if not clear(stats):
        return "within noise"
    return better if stats["mean"] > 0 else worse


def _finding(results: list[dict], geometry: Mapping | None = None) -> str:
    """The answer, from the numbers: gap per size and arm, how augmentation moves it, its cost, what it buys."""
    mean = lambda r, arm, key: 100 * common.mean_spread(r["arms"][arm][key])[0]
    augmented = [arm for arm in ARMS if ARMS[arm] > 0]
    sizes = [r["size"] for r in results]
    names = " / ".join(ARMS)
    text = "Gap = validation - training error, points, " + names + ": " + "; ".join(
        f"{r['size']} images " + " / ".join(f"{mean(r, arm, 'gap'):.1f}" for arm in ARMS) for r in results)
    # How each arm moves the gap, size by size (paired over seeds: same subsets, same keys).
    moves, clear_ones = [], []
    for arm in augmented:
        narrowed = [r["arms"][arm]["versus_none"]["gap"] for r in results]
        moves.append(f"{arm} " + ", ".join(f"{100 * g['mean']:+.1f}" for g in narrowed))
        clear_ones += [f"{arm} at {r['size']} (training error {mean(r, arm, 'train_error') - mean(r, 'none', 'train_error'):+.1f})"
                       for r, g in zip(results, narrowed) if clear(g) and g["mean"] > 0]
    text += (". Gap narrowed by augmentation (paired, points at " + ", ".join(map(str, sizes)) + " images): "
             + "; ".join(moves) + "; beyond twice its standard error: " + (", ".join(clear_ones) or "nowhere"))
    smallest = results[0]
    shrunk = [arm for arm in augmented if clear(smallest["arms"][arm]["versus_none"]["gap"])
              and smallest["arms"][arm]["versus_none"]["gap"]["mean"] > 0]
    if not shrunk:
        text += f"; at {smallest['size']} images, where variance is highest, no arm narrows the gap beyond noise"
    elif len(results) > 1:
        arm = max(shrunk, key=lambda a: smallest["arms"][a]["versus_none"]["gap"]["mean"])
        narrowed = [r["arms"][arm]["versus_none"]["gap"]["mean"] for r in results]
        text += (f", so {arm} narrows the gap most at the smallest size" if int(np.argmax(narrowed)) == 0
                 else f", and {arm} narrows it more at {results[int(np.argmax(narrowed))]['size']} images "
                      f"than at the smallest size")
    # Bias: training error on the clean images, against none's.
    rises = {arm: [mean(r, arm, "train_error") - mean(r, "none", "train_error") for r in results] for arm in augmented}
    costly = [arm for arm in augmented if max(rises[arm]) > 1.0]
    text += (". Training error on the clean images rises by (points): "
             + "; ".join(f"{arm} " + ", ".join(f"{v:+.1f}" for v in rises[arm]) for arm in augmented)
             + (f": a bias cost for {' and '.join(costly)}" if costly else ": no bias cost to speak of"))
    # What the arms buy on held-out data: the best augmented arm by validation error, at each size.
    verdicts = []
    for r in results:
        pick = min(augmented, key=lambda arm: mean(r, arm, "val_error"))
        versus = r["arms"][pick]["versus_none"]
        verdicts.append(f"{r['size']} images {mean(r, 'none', 'val_error'):.1f}% -> {mean(r, pick, 'val_error'):.1f}% "
                        f"({pick}, {_effect(versus['val_error'], 'better', 'worse')}), test accuracy "
                        f"{mean(r, 'none', 'test_accuracy'):.1f}% -> {mean(r, pick, 'test_accuracy'):.1f}% "
                        f"({_effect(versus['test_error'], 'better', 'worse')})")
    text += ". Validation error, none -> the better augmented arm: " + "; ".join(verdicts)
    helped = any(clear(r["arms"][arm]["versus_none"]["val_error"]) and r["arms"][arm]["versus_none"]["val_error"]["mean"] > 0
                 for r in results for arm in augmented)
    if geometry and not helped:
        text += (f". Why so little: these digits come centred (the centre of ink varies by "
                 f"{geometry['centroid_sd_down']:.2f} px down and {geometry['centroid_sd_across']:.2f} px across, "
                 f"against shifts of 1 px or more) and {100 * geometry['full_height']:.0f}% of all "
                 f"{geometry['images']} images have ink in both the top and the bottom row, so every vertical shift "
                 f"and every zoom-in cuts off ink: variation the held-out digits do not have")
    return text + "."


if __name__ == "__main__":
    main()
