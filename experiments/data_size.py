r"""Question 10: does more training data help only a high-variance model?

Lecture 001's recipe: high variance (dev error well above training error)
-> "use more training data"; high bias (training error well above the
human level) -> a bigger network, longer training, another architecture,
and more data is not on that list. Lecture 004 (practical methodology) says
it outright: "If performance on the training set is poor, the learning
algorithm is not using the training data that is already available, so
there is no reason to gather more data", and advises plotting "the
relationship between training set size and generalization error".

This script draws those learning curves on the digits (the usual 60/20/20
split: 1078 training, 360 validation images) for three models (ReLU, He
init, Adam, batch 32):

- high bias: MLP 64 -> 2 -> 10, a two-unit bottleneck that cannot fit even
  34 training examples;
- high bias, low variance: a linear softmax classifier 64 -> 10 with a
  strong L2 penalty (``HParams.l2`` = 3, i.e. ``3 / (2 B) ||W||^2`` per
  mini-batch of ``B``; the same strength at every size), the lecture's
  "model B" whose curves meet (without the penalty a linear model fits the
  digits' training split almost perfectly: low bias, high variance);
- high variance: MLP 64 -> 256 -> 256 -> 10 without regularisation, about
  85,000 weights for at most 1078 examples.

:func:`jaxdl.resample.learning_curve` trains one member per (seed, size)
on nested training subsets (1/32 of the split, doubling, up to all of it;
within a seed each subset contains the smaller ones) as one vmapped
program. Every member takes the same number of optimizer steps (``epochs``
x 33): a 34-example member makes 32 passes over its examples for each pass
a full-size member makes, so the small sizes are not short of training;
the curve varies the data at a fixed budget of steps. An extra check trains
the two largest sizes again for twice the steps, to see whether that
budget, not the data, limits a model, and whether it changes the last
doubling's gain.

Fair tuning: each model gets its own Adam learning rate from the same log
grid with the same budget (:func:`experiments.common.tune_learning_rate`,
tuning seed 0, best validation accuracy, on the whole training split), and
keeps it at every size; the curves use 5 fresh seeds (1..5), each seed its
own subsets and initialisation. "Still falling" means a mean gain from the
last doubling (half the split -> all of it, paired within a seed) above
twice its standard error over seeds.

Human-level error is taken as 0 (a stated proxy: people read these 8x8
digits almost perfectly, and the wide MLP itself reaches about 2 % on the
validation split); the diagnosis is
:func:`jaxdl.metrics.diagnose_bias_variance` with its default 2-point
thresholds, and the verdict is :func:`jaxdl.resample.verdict`, both on the
mean errors over seeds at a size. The verdict at half the split is also
held against the gain the next doubling actually brought.

Run ``python -m experiments.data_size`` (``--quick``: the bottleneck and a
32-unit network, 3 epochs, 2 seeds, learning rate 0.03 without tuning;
``--help`` for the flags). Writes ``data_size.png``
(one panel of curves per model) and ``data_size.{md,json}``.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import metrics, resample, train  # noqa: E402
from jaxdl.data import Data  # noqa: E402

NAME = "data_size"
HUMAN_ERROR = 0.0


class Model(NamedTuple):
    """A contender: what it stands for, its hidden widths (full run; quick run, ``None``: left out) and its L2."""

    kind: str
    hidden: tuple[int, ...]
    quick_hidden: tuple[int, ...] | None
    l2: float = 0.0


MODELS = (
    Model("high bias", (2,), (2,)),
    Model("high bias, low variance", (), None, l2=3.0),
    Model("high variance", (256, 256), (32,)),
)
EPOCHS, QUICK_EPOCHS = 30, 3
BUDGET = 7
LOW, HIGH = 1e-4, 1e-1
QUICK_RATE = 0.03  # --quick skips the tuning: it would triple the compilations
STEP_FACTOR = 2  # the extra check trains the two largest sizes this many times longer
STEPS_MATTER = 0.02  # a training-error drop from the longer training that counts (the diagnosis' threshold)


def model_name(hidden: Sequence[int], l2: float = 0.0, in_features: int = 64, classes: int = 10) -> str:
    """``"MLP 64-2-10"``, ``"linear 64-10, L2 3"``."""
    kind = "MLP" if len(hidden) else "linear"
    name = f"{kind} " + "-".join(str(w) for w in (in_features, *hidden, classes))
    return name + (f", L2 {l2:g}" if l2 else "")


def last_doubling_gain(sizes: Sequence[int], val_error) -> np.ndarray:
    """Per seed: validation error at half the largest size minus at the largest (positive: more data helped).

    ``val_error`` is ``(seeds, S)``; the half size is ``sizes[-2]``, which
    must be half of ``sizes[-1]`` (to rounding).
    """
    sizes = np.asarray(sizes)
    val_error = np.atleast_2d(np.asarray(val_error, float))
    if len(sizes) < 2 or abs(2 * sizes[-2] - sizes[-1]) > 1:
        raise ValueError(f"the last two sizes must be n/2 and n, got {sizes.tolist()}")
    return val_error[:, -2] - val_error[:, -1]


def still_falling(gains) -> bool:
    """Whether the mean gain is positive by more than twice its standard error over seeds."""
    mean, spread, n = common.mean_spread(gains)
    return n > 1 and mean > 2 * spread / math.sqrt(n)


def short(verdict: str) -> str:
    """A verdict's first clause: "more data will not help", "... will help", "... will help with the variance
    only" or "... will help little"."""
    return verdict.split(":")[0]


def agreement(verdict: str, gains, little: float = 0.02) -> str:
    """Whether a verdict matches a measured gain: "will help" (with the variance only, too) needs
    :func:`still_falling`, "will not help" its absence, "will help little" a mean gain under ``little`` (the
    diagnosis' 2-point threshold)."""
    said = short(verdict)
    if said.endswith("will help little"):
        right = common.mean_spread(gains)[0] < little
    elif said.endswith("will not help"):
        right = not still_falling(gains)
    else:
        right = still_falling(gains)
    return "agrees" if right else "disagrees"


def summarise(model: Model, hidden: Sequence[int], learning_rate: float, curve) -> dict:
    """One model's learning curve as plain lists, with its gain, gap and per-size diagnosis and verdict."""
    train_error, val_error = np.asarray(curve.train_error, float), np.asarray(curve.val_error, float)
    diagnoses = [metrics.diagnose_bias_variance(float(t), float(v), human_error=HUMAN_ERROR)
                 for t, v in zip(train_error.mean(axis=0), val_error.mean(axis=0))]
    gains = last_doubling_gain(curve.sizes, val_error)
    half_verdict = resample.verdict(diagnoses[-2])
    return {
        "kind": model.kind,
        "model": model_name(hidden, model.l2),
        "hidden": list(hidden),
        "l2": model.l2,
        "learning_rate": float(learning_rate),
        "sizes": [int(n) for n in curve.sizes],
        "train_error": train_error.tolist(),
        "val_error": val_error.tolist(),
        "gain": gains.tolist(),
        "gap": (val_error[:, -1] - train_error[:, -1]).tolist(),
        "diagnosis_by_size": [d.verdict for d in diagnoses],
        "verdict_by_size": [resample.verdict(d) for d in diagnoses],
        "diagnosis": curve.diagnosis.verdict,
        "avoidable_bias": float(curve.diagnosis.avoidable_bias),
        "variance": float(curve.diagnosis.variance),
        "verdict": curve.verdict,
        "half_verdict": half_verdict,
        "half_verdict_vs_gain": agreement(half_verdict, gains),
    }


def _pct(values, digits: int = 1) -> str:
    return common.format_mean([100 * v for v in values], digits)


def _mean(values) -> float:
    return 100 * float(np.mean(values))


def table_rows(summaries: Sequence[dict], checks: Sequence[dict] = ()) -> list[dict]:
    """Two rows per model (training and validation error % at each size), then the longer-training check.

    The validation row carries the last doubling's gain, the train/val gap at
    the largest size, the diagnosis and verdict there, and whether the
    verdict at half the size foretold the last doubling's gain.
    """
    rows = []

    def pair(name, sizes, train_error, val_error, summary):
        columns = [f"n={n}" for n in sizes]
        train_error, val_error = np.atleast_2d(train_error), np.atleast_2d(val_error)
        for split, errors in (("training", train_error), ("validation", val_error)):
            row = {"model": name, "error %": split, **{c: _pct(errors[:, k]) for k, c in enumerate(columns)}}
            if split == "validation":
                row.update({"gain of last doubling (points)": _pct(last_doubling_gain(sizes, val_error)),
                            "val - train at full size (points)": _pct(val_error[:, -1] - train_error[:, -1]),
                            "diagnosis at full size": summary["diagnosis"],
                            "verdict at full size": short(summary["verdict"])})
                if "half_verdict" in summary:
                    row.update({"verdict at half size": short(summary["half_verdict"]),
                                "half-size verdict vs gain": summary["half_verdict_vs_gain"]})
            rows.append(row)

    for s in summaries:
        pair(f"{s['model']} ({s['kind']})", s["sizes"], s["train_error"], s["val_error"], s)
    for c in checks:
        base = next(s for s in summaries if s["kind"] == c["kind"])
        pair(f"{base['model']} ({c['kind']}), {c['factor']}x steps", c["sizes"], c["train_error"], c["val_error"], c)
    return rows


def columns_of(rows: Sequence[dict]) -> list[str]:
    """Every key of the rows in first-seen order, the per-size columns before the summary ones."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    sizes = sorted((c for c in seen if c.startswith("n=")), key=lambda c: int(c[2:]))
    rest = [c for c in seen if not c.startswith("n=")]
    return rest[:2] + sizes + rest[2:]


def plot(summaries: Sequence[dict], checks: Sequence[dict], path: str) -> str:
    """One panel per model: training and validation error against examples; dots single seeds, lines means."""
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.2 * len(summaries), 5.0), squeeze=False)
    for ax, s in zip(axes[0], summaries):
        sizes = np.asarray(s["sizes"], float)
        for split, colour, label in (("train", "C0", "training error (own examples)"),
                                     ("val", "C1", "validation error")):
            errors = 100 * np.asarray(s[f"{split}_error"])
            for row in errors:
                ax.scatter(sizes, row, s=12, color=colour, alpha=0.4, linewidths=0)
            mean = errors.mean(axis=0)
            spread = errors.std(axis=0, ddof=1) if errors.shape[0] > 1 else np.zeros_like(mean)
            ax.plot(sizes, mean, color=colour, marker="o", label=f"{label}, mean")
            ax.fill_between(sizes, mean - spread, mean + spread, color=colour, alpha=0.15, linewidth=0)
        check = next((c for c in checks if c["kind"] == s["kind"]), None)
        if check is not None:
            for split, colour, label in (("train", "C0", "training"), ("val", "C1", "validation")):
                ax.plot(check["sizes"], 100 * np.mean(check[f"{split}_error"], axis=0), color=colour,
                        linestyle="--", marker="*", markersize=9, markeredgecolor="k", markeredgewidth=0.5,
                        label=f"{label}, {check['factor']}x steps, mean")
        ax.axhline(100 * HUMAN_ERROR, color="k", linestyle=":", label=f"human-level proxy ({100 * HUMAN_ERROR:g} %)")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(int(n)) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training examples (log scale)")
        ax.set_title(f"{s['model']} ({s['kind']}), Adam lr {s['learning_rate']:.2g}\n"
                     f"at {s['sizes'][-1]}: {s['diagnosis']}\nverdict: {short(s['verdict'])}", fontsize=9)
        ax.grid(alpha=0.3)
    seeds = len(summaries[0]["val_error"])
    axes[0][0].set_ylabel(f"error % (dots: single seeds; band: mean ± sd over {seeds} seeds)", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Learning curves on the digits: every size trained for the same number of optimizer steps "
                 "(own y-scale per panel)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _model_sentence(s: dict) -> str:
    val = np.asarray(s["val_error"])
    gain, spread, n = common.mean_spread(100 * np.asarray(s["gain"]))
    half = _mean(val[:, -2])
    positive = int(np.sum(np.asarray(s["gain"]) > 0))
    return (f"{s['model']} ({s['kind']}): validation error {_mean(val[:, 0]):.1f}% at {s['sizes'][0]} examples, "
            f"{half:.1f}% at {s['sizes'][-2]}, {_mean(val[:, -1]):.1f}% at {s['sizes'][-1]}; the last doubling "
            f"gains {gain:.1f} ± {spread:.1f} points ({100 * gain / half:.0f}% of its error; {positive} of {n} seeds "
            f"gain; {'still falling' if still_falling(s['gain']) else 'not distinguishable from a plateau'}); "
            f"training error at full size {_mean(np.asarray(s['train_error'])[:, -1]):.1f}%, gap "
            f"{_mean(s['gap']):.1f} points; {s['diagnosis']}, verdict \"{short(s['verdict'])}\"")


def _finding(summaries: Sequence[dict], checks: Sequence[dict], epochs: int, steps: int, batch_size: int) -> str:
    text = "; ".join(_model_sentence(s) for s in summaries) + "."
    variance = next((s for s in summaries if s["kind"] == "high variance"), None)
    for b in (s for s in summaries if s["kind"].startswith("high bias")):
        gain = _mean(b["gain"])
        train_full = _mean(np.asarray(b["train_error"])[:, -1])
        if still_falling(b["gain"]):
            text += f" Against the claim, {b['model']}'s validation error has not plateaued: the last doubling gains "
            text += f"{gain:.1f} points"
            if variance:
                text += (f" ({100 * gain / _mean(np.asarray(b['val_error'])[:, -2]):.0f}% of its error) against "
                         f"the high-variance model's {_mean(variance['gain']):.1f} "
                         f"({100 * _mean(variance['gain']) / _mean(np.asarray(variance['val_error'])[:, -2]):.0f}%)")
            text += (f"; what more data cannot do is take it below its training error, {train_full:.1f}% at full "
                     f"size (from {_mean(np.asarray(b['train_error'])[:, 0]):.1f}% at {b['sizes'][0]}), far above "
                     f"the human-level {100 * HUMAN_ERROR:g}.")
        else:
            text += (f" As claimed, {b['model']}'s validation error has plateaued ({gain:.1f} points from the last "
                     f"doubling) at {_mean(np.asarray(b['val_error'])[:, -1]):.1f}%, next to its training error "
                     f"{train_full:.1f}%.")
    if variance:
        text += (f" The high-variance model's training error stays at "
                 f"{_mean(np.asarray(variance['train_error'])[:, -1]):.1f}% and its validation error "
                 f"{'keeps falling' if still_falling(variance['gain']) else 'has flattened'}")
        first_low = next((n for n, d in zip(variance["sizes"], variance["diagnosis_by_size"])
                          if not d.endswith("high variance")), None)
        if first_low is None:
            text += f"; it is diagnosed high variance at every size, {_mean(variance['gap']):.1f} points at full size."
        else:
            text += f"; its variance falls under the 2-point threshold at {first_low} examples."
    disagree = [s for s in summaries if s["half_verdict_vs_gain"] == "disagrees"]
    if not disagree:
        text += " The verdict at half the size foretells the last doubling's gain for every model."
    for s in disagree:
        half = s["diagnosis_by_size"][-2]
        text += (f" At {s['sizes'][-2]} examples {s['model']} is {half} and the verdict says "
                 f"\"{short(s['half_verdict'])}\", yet the next doubling gains {_mean(s['gain']):.1f} points")
        if short(s["half_verdict"]).endswith("will not help"):
            text += ": the verdict ignores the variance, which more data still removes."
        elif half.endswith("high variance"):
            train, val = np.asarray(s["train_error"]), np.asarray(s["val_error"])
            gaps = [_mean(val[:, i] - train[:, i]) for i in (-2, -1)]
            text += (f": the variance did shrink (gap {gaps[0]:.1f} -> {gaps[1]:.1f} points) but the training error "
                     f"rose {_mean(train[:, -1] - train[:, -2]):.1f} points, the bias the verdict says data will "
                     f"not remove.")
        else:
            text += "."
    for c in checks:
        s = next(s for s in summaries if s["kind"] == c["kind"])
        before, after = _mean(np.asarray(s["train_error"])[:, -1]), _mean(np.asarray(c["train_error"])[:, -1])
        text += (f" With {c['factor']}x the steps, {s['model']} at {c['sizes'][-1]} goes from training "
                 f"{before:.1f}% / validation {_mean(np.asarray(s['val_error'])[:, -1]):.1f}% to {after:.1f}% / "
                 f"{_mean(np.asarray(c['val_error'])[:, -1]):.1f}% and its last doubling gains "
                 f"{_mean(c['gain']):.1f} points (was {_mean(s['gain']):.1f})")
        text += (": part of its bias is the step budget, as the verdict's \"train longer\" suggests."
                 if before - after > 100 * STEPS_MATTER else ": the step budget does not limit its training error.")
    smallest = summaries[0]["sizes"][0]
    text += (f" Every size trains for the same {steps} optimizer steps ({epochs} epochs of the full split), so a "
             f"{smallest}-example member makes about {steps * batch_size // smallest} passes over its examples and "
             f"a full-size one {epochs}: a shortage of steps, where there is one, weighs on the largest sizes.")
    return text


def make_parser():
    """The script's flags: the shared ones (:func:`experiments.common.parser`), ``--epochs`` and ``--budget``."""
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 30 s")
    p.add_argument("--epochs", type=int, help=f"epochs of the full training split per member, the same steps at "
                                              f"every size (default {EPOCHS}, or {QUICK_EPOCHS} with --quick)")
    p.add_argument("--budget", type=int, help=f"learning rates tried per model (default {BUDGET}; --quick does "
                                              f"not tune, it trains every model at {QUICK_RATE:g})")
    return p


def resolve(args) -> dict:
    """What the flags mean: epochs, tuning budget, seeds (1.., seed 0 tunes) and ``(model, hidden)`` to run."""
    models = [(model, model.quick_hidden if args.quick else model.hidden) for model in MODELS]
    return {
        "epochs": args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS),
        "budget": args.budget or BUDGET,
        "seeds": tuple(range(1, common.seeds(args) + 1)),
        "models": [(model, hidden) for model, hidden in models if hidden is not None],
    }


def main(argv: Sequence[str] | None = None) -> dict:
    args = make_parser().parse_args(argv)
    out = common.output_dir(args, NAME)
    plan = resolve(args)
    epochs, budget, seeds = plan["epochs"], plan["budget"], plan["seeds"]
    began = time.perf_counter()

    data = Data.load("digits")
    m = int(data.x_train.shape[0])
    base = {"activation": "relu", "optimizer": "adam", "batch_size": 32, "epochs": epochs}
    summaries, checks, seconds = [], [], {}
    for model, hidden in plan["models"]:
        static = {**base, "hidden": hidden}
        if args.quick:
            rate = QUICK_RATE
        else:
            rates, _ = common.tune_learning_rate({model.kind: static}, data, low=LOW, high=HIGH, budget=budget,
                                                 seeds=1, dynamic={"l2": model.l2}, progress=False)
            rate = rates[model.kind]
        hparams = train.HParams(learning_rate=rate, l2=model.l2)
        start = time.perf_counter()
        curve = resample.learning_curve(train.TrainConfig.from_static(static), data, seeds=seeds, hparams=hparams,
                                        human_error=HUMAN_ERROR)
        seconds[model.kind] = round(time.perf_counter() - start, 1)
        summary = summarise(model, hidden, rate, curve)
        summaries.append(summary)
        longer = train.TrainConfig.from_static({**static, "epochs": STEP_FACTOR * epochs})
        check = resample.learning_curve(longer, data, sizes=summary["sizes"][-2:], seeds=seeds, hparams=hparams,
                                        human_error=HUMAN_ERROR)
        checks.append({"kind": model.kind, "factor": STEP_FACTOR, "sizes": summary["sizes"][-2:],
                       "train_error": check.train_error.tolist(), "val_error": check.val_error.tolist(),
                       "gain": last_doubling_gain(check.sizes, check.val_error).tolist(),
                       "diagnosis": check.diagnosis.verdict, "verdict": check.verdict})
        print(f"{model.kind}: {summary['model']}, learning rate {rate:.3g}, curve in {seconds[model.kind]} s",
              flush=True)

    steps = epochs * (m // base["batch_size"])
    plot(summaries, checks, f"{out}/{NAME}.png")
    rows = table_rows(summaries, checks)
    finding = _finding(summaries, checks, epochs, steps, base["batch_size"])
    settings = {
        "data": f"digits, 60/20/20 split seed 0: {m} training, {int(data.x_val.shape[0])} validation examples",
        "models": {s["kind"]: f"{s['model']}, ReLU, He normal" for s in summaries},
        "sizes": summaries[0]["sizes"], "optimizer": "adam", "batch_size": base["batch_size"], "epochs": epochs,
        "steps_per_member": steps, "learning_rate_grid": f"{budget} log-spaced in [{LOW:g}, {HIGH:g}]",
        "tuning": (f"none: learning rate {QUICK_RATE:g} for every model (--quick)" if args.quick else
                   "seed 0, best validation accuracy, whole training split (tune_learning_rate), one rate per model"),
        "seeds": list(seeds), "human_error": HUMAN_ERROR,
        "thresholds": "2 percentage points (diagnose_bias_variance defaults)",
        "still_falling": "mean last-doubling gain > 2 standard errors over seeds",
        "longer_training": f"the two largest sizes again with {STEP_FACTOR}x the epochs",
        "curve_seconds": seconds, "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(out, NAME, title="Question 10: does more data help only a high-variance model?",
                                 finding=finding, rows=rows, columns=columns_of(rows), settings=settings,
                                 extra={"curves": summaries, "longer_training": checks})
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": f"{out}/{NAME}.png", "rows": rows, "curves": summaries, "checks": checks}


if __name__ == "__main__":
    main()
