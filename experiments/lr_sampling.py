r"""Question 5: sample the learning rate on a log scale, and train a population rather than babysit one model.

(a) Linear against logarithmic sampling of :math:`[10^{-4}, 1]`. Drawn
uniformly, a rate lands in the decade :math:`[10^{-k}, 10^{-k+1})` with
probability :math:`(10^{-k+1} - 10^{-k}) / (1 - 10^{-4})`: 90.01% in the top
decade, 0.09% in the bottom one. Drawn as the lecture's
:math:`\alpha = 10^r,\ r = -4 U(0, 1)` (``sweep.loguniform(1e-4, 1)``), every
decade gets exactly 25%. The table gives these expectations, the counts of a
fixed-seed draw of the search's ``N`` rates, and the shares of 100,000 draws.

Then a real random search on the digits MLP (64-64, ReLU, Adam, batch 32):
``N`` rates from each scheme, one sweep of ``2 N`` trials, one compilation.
Both schemes use the same uniform numbers (``random_plan`` with one seed; only
the map to a rate differs) and trial ``i`` of either scheme starts from the
same initial weights, so the schemes differ by where they put the rates and
nothing else. Best-so-far validation accuracy after ``k`` trials is averaged
over 5 random orders of the ``N`` trials (at ``k = N`` every order has seen
every trial, so the spread there is 0). Adam is the optimizer because its good
rates (about 1e-3 to 1e-2) are where linear sampling almost never looks; plain
SGD on standardised digits also trains well at 0.1 to 1, where linear sampling
does look.

(b) "Panda" against "caviar": wall time to reach a validation accuracy
target. The panda babysits one model: it trains one rate, looks at the
result, picks the next by a rule, and compiles every trial (a new
``jax.jit(make_run(config, data))`` per trial, as a person rerunning a script
does). The rule: start at a given rate and double it; after a trial that
beats the best so far keep going the same way from the best rate, otherwise
turn round (halve from the best rate); a rate already tried means the step
shrinks to its square root. The caviar strategy trains a population of
log-uniform rates in one vmapped sweep (one compilation). Both are timed in
the same process, compilation included, after ``jax.clear_caches()``. The
panda starts from 1e-3 (Adam's default: an informed first guess) and from
0.1 (a common SGD default, too high for Adam); the population knows nothing
but the range.

Run ``python -m experiments.lr_sampling`` (``--quick`` for a check of
about 15 s, ``--help`` for the flags). Writes ``lr_sampling.png`` and three
tables: ``lr_sampling.{md,json}`` (samples per decade),
``lr_sampling_search.{md,json}`` (best so far against trials) and
``lr_sampling_strategies.{md,json}`` (panda against caviar).
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import sweep, train  # noqa: E402

NAME = "lr_sampling"
LOW, HIGH = 1e-4, 1.0
TARGET = 0.97
ORDERS = 5


# ---------------------------------------------------------------------------
# Samples per decade


def decades(low: float = LOW, high: float = HIGH) -> list[tuple[float, float]]:
    """The decades ``[10^k, 10^(k+1))`` between ``low`` and ``high`` (powers of ten), lowest first."""
    first, last = round(math.log10(low)), round(math.log10(high))
    return [(10.0**k, 10.0 ** (k + 1)) for k in range(first, last)]


def decade_probabilities(scheme: str, low: float = LOW, high: float = HIGH) -> list[float]:
    """Exact probability that one draw lands in each decade of :func:`decades`.

    ``"linear"``: ``U(low, high)``, so a decade gets its length over the range's.
    ``"log"``: ``10^U(log10 low, log10 high)``, so every decade gets the same share.
    """
    spans = decades(low, high)
    if scheme == "linear":
        return [(b - a) / (high - low) for a, b in spans]
    if scheme == "log":
        return [(math.log10(b) - math.log10(a)) / (math.log10(high) - math.log10(low)) for a, b in spans]
    raise ValueError(f"scheme must be 'linear' or 'log', got {scheme!r}")


def decade_counts(rates: Sequence[float], low: float = LOW, high: float = HIGH) -> list[int]:
    edges = [a for a, _ in decades(low, high)] + [high]
    counts, _ = np.histogram(np.asarray(rates, np.float64), bins=edges)
    return [int(c) for c in counts]


DISTRIBUTIONS = {"linear": sweep.uniform(LOW, HIGH), "log": sweep.loguniform(LOW, HIGH)}


def sample_rates(scheme: str, n: int, seed: int = 0) -> list[float]:
    """``n`` rates of a scheme as ``sweep.random_plan`` draws them (same seed: same uniform numbers for both)."""
    plan = sweep.random_plan(sweep.Space({"learning_rate": DISTRIBUTIONS[scheme]}), n, seed=seed)
    return [t.dynamic["learning_rate"] for t in plan]


# ---------------------------------------------------------------------------
# (a) The search


def search_plan(rates: dict[str, list[float]], static: dict) -> sweep.Plan:
    """One plan with both schemes' trials; trial ``i`` of each scheme uses seed ``i``."""
    trials, number = [], 0
    for scheme, values in rates.items():
        for i, rate in enumerate(values):
            trials.append(sweep.Trial(number, dict(sorted(static.items())), {"learning_rate": float(rate)}, i))
            number += 1
    return sweep.Plan(tuple(trials), {"strategy": "random", "schemes": list(rates), "low": LOW, "high": HIGH})


def best_so_far(scores: Sequence[float], orders: int = ORDERS) -> np.ndarray:
    """``(orders, N)``: the running maximum of ``scores`` in ``orders`` random orders (``numpy`` seeds 0, 1, ...)."""
    scores = np.asarray(scores, np.float64)
    return np.stack([np.maximum.accumulate(scores[np.random.default_rng(r).permutation(scores.size)])
                     for r in range(orders)])


def expected_trials_to_hit(hits: int, n: int) -> float:
    """Expected position of the first of ``hits`` successes among ``n`` trials in random order.

    It is ``(n + 1) / (hits + 1)``: the ``hits`` successes cut the ``n - hits``
    failures into ``hits + 1`` runs of equal expected length.
    """
    return (n + 1) / (hits + 1) if hits else math.inf


def _score(record: dict) -> float:
    """Best-epoch validation accuracy; a diverged trial without a finite epoch scores 0."""
    value = record["best"].get("val_accuracy")
    return 0.0 if value is None else float(value)


# ---------------------------------------------------------------------------
# (b) Panda and caviar


def babysit(config: train.TrainConfig, data: train.Data, start: float, target: float, max_trials: int,
            factor: float = 2.0) -> list[dict]:
    """Sequential trials of one model, each compiled afresh; stops at ``target`` or after ``max_trials``."""
    trials, tried = [], set()
    best_rate, best_score, direction, rate = None, -math.inf, 1, start
    began = time.perf_counter()
    for _ in range(max_trials):
        tic = time.perf_counter()
        run = jax.jit(train.make_run(config, data))
        hparams, key = train.HParams(learning_rate=rate), jax.random.key(0)
        compiled = run.lower(hparams, key).compile()
        compile_seconds = time.perf_counter() - tic
        result = jax.block_until_ready(compiled(hparams, key))
        score = float(result.metrics["best_val_accuracy"])
        score = 0.0 if not math.isfinite(score) else score
        trials.append({"learning_rate": rate, "val_accuracy": score, "compile_seconds": compile_seconds,
                       "seconds": time.perf_counter() - tic, "elapsed": time.perf_counter() - began})
        tried.add(round(math.log(rate), 9))
        if score >= target:
            break
        if score > best_score:
            best_rate, best_score = rate, score
        else:
            direction = -direction
        rate = best_rate * factor**direction
        while round(math.log(rate), 9) in tried and factor > 1.01:
            factor = math.sqrt(factor)
            rate = best_rate * factor**direction
    return trials


def population(static: dict, data: train.Data, size: int, seed: int) -> tuple[list[dict], float]:
    """A log-uniform random population in one sweep; returns its records and the wall time, compilation included."""
    plan = sweep.random_plan(sweep.Space({"learning_rate": sweep.loguniform(LOW, HIGH), **static}), size, seed=seed)
    tic = time.perf_counter()
    result = sweep.run_sweep(plan, data, None, progress=False)
    return result.records, time.perf_counter() - tic


# ---------------------------------------------------------------------------
# Figure


def plot(out: str, n: int, rates: dict, counts: dict, scores: dict, curves: dict, panda: dict, caviar: dict,
         target: float) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    spans = decades()
    x = np.arange(len(spans))
    for offset, (scheme, colour) in zip((-0.2, 0.2), (("linear", "C0"), ("log", "C1"))):
        expected = [n * p for p in decade_probabilities(scheme)]
        ax.bar(x + offset, counts[scheme], width=0.4, color=colour, alpha=0.75, label=f"{scheme}: drawn (seed 0)")
        ax.scatter(x + offset, expected, color="k", marker="_", s=300, zorder=3)
    ax.scatter([], [], color="k", marker="_", s=100, label="exact expectation")
    ax.set_xticks(x, [f"[{a:g}, {b:g})" for a, b in spans])
    ax.set(xlabel="decade of the learning rate", ylabel=f"samples of {n}", title="Where the samples land")
    ax.legend(fontsize="small")

    ax = axes[0, 1]
    for scheme, colour in (("linear", "C0"), ("log", "C1")):
        ax.scatter(rates[scheme], scores[scheme], s=18, color=colour, alpha=0.8, label=scheme)
    ax.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    ax.set(xscale="log", xlabel="learning rate (Adam)", ylabel="best validation accuracy",
           title="Each trial of the search", ylim=(0, 1.02))
    ax.legend(fontsize="small")

    ax = axes[1, 0]
    k = np.arange(1, n + 1)
    for scheme, colour in (("linear", "C0"), ("log", "C1")):
        mean, sd = curves[scheme].mean(0), curves[scheme].std(0, ddof=1)
        ax.plot(k, mean, color=colour, label=f"{scheme} sampling")
        ax.fill_between(k, mean - sd, mean + sd, color=colour, alpha=0.2)
    ax.axhline(target, color="k", ls=":", lw=1)
    ax.set(xlabel="trials", ylabel="best validation accuracy so far", xscale="log",
           title=f"Best so far, mean ± sd over {curves['log'].shape[0]} orders")
    ax.legend(fontsize="small")

    ax = axes[1, 1]
    for i, (start, trials) in enumerate(panda.items()):
        elapsed = [0.0] + [t["elapsed"] for t in trials]
        best = [0.0] + list(np.maximum.accumulate([t["val_accuracy"] for t in trials]))
        ax.step(elapsed, best, where="post", color=f"C{i + 2}", marker="o", markersize=3,
                label=f"babysitting from {start:g} ({len(trials)} trial{'s' if len(trials) > 1 else ''})")
    ax.step([0.0, caviar["seconds"]], [0.0, caviar["best"]], where="post", color="C1", lw=2,
            label=f"population of {caviar['size']} (one sweep)")
    ax.axhline(target, color="k", ls=":", lw=1)
    ax.set(xlabel="wall time (s, compilation included)", ylabel="best validation accuracy so far",
           title="Panda against caviar", ylim=(0, 1.02))
    ax.legend(fontsize="small", loc="lower right")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{out}/{NAME}.png", dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 15 s")
    p.add_argument("--samples", type=int, help="rates per scheme in the search (default 40, or 4 with --quick)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 20, or 2 with --quick)")
    p.add_argument("--population", type=int, help="population size of (b) (default 16, or 3 with --quick)")
    p.add_argument("--starts", type=float, nargs="+", metavar="RATE",
                   help="babysitting start rates (default 1e-3 0.1, or 1e-2 with --quick)")
    p.add_argument("--max-trials", type=int, help="babysitting trials per start (default 8, or 2 with --quick)")
    p.add_argument("--target", type=float, default=TARGET, help=f"validation accuracy to reach (default {TARGET})")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    n = args.samples or (4 if args.quick else 40)
    epochs = args.epochs or (2 if args.quick else 20)
    size = args.population or (3 if args.quick else 16)
    starts = args.starts or ([1e-2] if args.quick else [1e-3, 1e-1])
    max_trials = args.max_trials or (2 if args.quick else 8)
    target = args.target
    orders = ORDERS
    static = {"optimizer": "adam", "epochs": epochs, "batch_size": 32}
    config = train.TrainConfig.from_static(static)
    began = time.perf_counter()
    data = train.Data.load("digits", args.data_dir)

    # (a) Samples per decade and the search.
    rates = {scheme: sample_rates(scheme, n, seed=0) for scheme in DISTRIBUTIONS}
    counts = {scheme: decade_counts(values) for scheme, values in rates.items()}
    many = {scheme: decade_counts(sample_rates(scheme, 100_000, seed=0)) for scheme in DISTRIBUTIONS}
    decade_rows = []
    for i, (a, b) in enumerate(decades()):
        row = {"decade": f"[{a:g}, {b:g})"}
        for scheme in DISTRIBUTIONS:
            probability = decade_probabilities(scheme)[i]
            row[f"{scheme} P"] = probability
            row[f"{scheme} expected of {n}"] = n * probability
            row[f"{scheme} drawn of {n}"] = counts[scheme][i]
            row[f"{scheme} share of 100,000"] = many[scheme][i] / 100_000
        decade_rows.append(row)

    tic = time.perf_counter()
    plan = search_plan(rates, static)
    result = sweep.run_sweep(plan, data, None, progress=not args.quick)
    search_seconds = time.perf_counter() - tic
    by_id = {r["id"]: r for r in result.records}
    scores = {scheme: [_score(by_id[i + offset * n]) for i in range(n)]
              for offset, scheme in enumerate(DISTRIBUTIONS)}
    curves = {scheme: best_so_far(values, orders) for scheme, values in scores.items()}
    hits = {scheme: sum(v >= target for v in values) for scheme, values in scores.items()}
    checkpoints = sorted({k for k in (1, 2, 3, 5, 10, 20, n) if k <= n})
    search_rows = [{"trials": k, **{f"{scheme} best so far": common.format_mean(curves[scheme][:, k - 1])
                                    for scheme in DISTRIBUTIONS}} for k in checkpoints]
    search_rows.append({"trials": f"trials >= {target:g} (of {n})",
                        **{f"{scheme} best so far": str(hits[scheme]) for scheme in DISTRIBUTIONS}})
    search_rows.append({"trials": f"expected trials to first >= {target:g}",
                        **{f"{scheme} best so far": f"{expected_trials_to_hit(hits[scheme], n):.3g}"
                           for scheme in DISTRIBUTIONS}})

    # (b) Panda against caviar, timed in this process after clearing the compilation caches.
    jax.clear_caches()
    records, caviar_seconds = population(static, data, size, seed=1)
    caviar_scores = [_score(r) for r in records]
    caviar = {"size": size, "seconds": caviar_seconds, "best": max(caviar_scores),
              "hits": sum(v >= target for v in caviar_scores),
              "rates": [r["dynamic"]["learning_rate"] for r in records], "scores": caviar_scores}
    panda = {}
    for start in starts:
        jax.clear_caches()
        panda[start] = babysit(config, data, start, target, max_trials)
    strategy_rows = [{
        "strategy": f"population of {size} (one vmapped sweep)",
        "trials": size,
        "reached target": caviar["hits"] > 0,
        "wall s to target (or to stop)": caviar_seconds,
        "compile s": "one compilation, inside the wall time",
        "best val accuracy": caviar["best"],
        "rates tried": f"log-uniform [{LOW:g}, {HIGH:g}), seed 1",
    }]
    for start, trials in panda.items():
        strategy_rows.append({
            "strategy": f"babysitting from {start:g}",
            "trials": len(trials),
            "reached target": trials[-1]["val_accuracy"] >= target,
            "wall s to target (or to stop)": trials[-1]["elapsed"],
            "compile s": sum(t["compile_seconds"] for t in trials),
            "best val accuracy": max(t["val_accuracy"] for t in trials),
            "rates tried": ", ".join(f"{t['learning_rate']:.3g}" for t in trials),
        })

    plot(out, n, rates, counts, scores, curves, panda, caviar, target)
    settings = {"data": "digits (1078 train / 360 validation / 359 test)", "model": "MLP 64-64 ReLU",
                "optimizer": "adam", "batch_size": 32, "epochs": epochs, "samples_per_scheme": n,
                "orders": orders, "target": target, "population": size, "starts": starts,
                "max_trials": max_trials, "quick": bool(args.quick), "search_seconds": search_seconds,
                "devices": str(jax.devices())}

    top = decade_probabilities("linear")[-1]
    decade_finding = (f"Linear sampling of [{LOW:g}, {HIGH:g}) puts {top:.2%} of the rates in the top decade "
                      f"[0.1, 1) and {decade_probabilities('linear')[0]:.2%} in the bottom one; log sampling puts "
                      f"exactly 25% in each. The fixed-seed draw of {n} gave {counts['linear']} (linear) and "
                      f"{counts['log']} (log), lowest decade first.")
    paths = [common.write_results(out, NAME, title="Learning-rate samples per decade, linear against log",
                                  finding=decade_finding, rows=decade_rows, settings=settings)]

    first = {scheme: next((k + 1 for k in range(n) if curves[scheme][:, k].mean() >= target), None)
             for scheme in DISTRIBUTIONS}
    k = min(5, n)
    search_finding = (
        f"On the digits MLP with Adam, {hits['log']} of {n} log-sampled rates reach validation accuracy "
        f">= {target:g} against {hits['linear']} of {n} linear ones; after {k} trials the best so far is "
        f"{common.format_mean(curves['log'][:, k - 1])} (log) against "
        f"{common.format_mean(curves['linear'][:, k - 1])} (linear), mean ± sd over {orders} orders. Mean best "
        f"so far at or above the target: "
        + "; ".join(f"{s} after {first[s]} trials" if first[s] else f"{s} not within {n} trials"
                    for s in ("log", "linear")) + ".")
    paths.append(common.write_results(out, f"{NAME}_search",
                                      title="Random search: best validation accuracy so far, log against linear",
                                      finding=search_finding, rows=search_rows,
                                      extra={"rates": rates, "scores": scores,
                                             "curves": {s: c.tolist() for s, c in curves.items()}},
                                      settings=settings))

    panda_runs = [(start, trials) for start, trials in panda.items()]
    per_trial = [t["seconds"] for _, trials in panda_runs for t in trials]
    per_compile = [t["compile_seconds"] for _, trials in panda_runs for t in trials]
    strategy_finding = (
        f"The population of {size} log-uniform rates took {caviar_seconds:.1f} s in one sweep (one compilation) "
        f"and {'reached' if caviar['hits'] else 'did not reach'} {target:g} ({caviar['hits']} trials did, best "
        f"{caviar['best']:.4f}); each babysitting trial took {np.mean(per_trial):.1f} s on average, "
        f"{np.mean(per_compile):.1f} s of it compiling, so "
        + "; ".join(f"from {start:g} it {'reached' if trials[-1]['val_accuracy'] >= target else 'missed'} the "
                    f"target after {len(trials)} trial{'s' if len(trials) > 1 else ''} and "
                    f"{trials[-1]['elapsed']:.1f} s" for start, trials in panda_runs)
        + f". Wall times measured in one process on {jax.devices()[0].platform.upper()} (shared machine).")
    paths.append(common.write_results(out, f"{NAME}_strategies",
                                      title="Babysitting one model against a population in parallel",
                                      finding=strategy_finding, rows=strategy_rows,
                                      extra={"babysitting": {str(k): v for k, v in panda.items()},
                                             "population": caviar},
                                      settings=settings))
    print(f"total {time.perf_counter() - began:.1f} s")
    return {"out": out, "paths": paths, "rates": rates, "counts": counts, "scores": scores, "curves": curves,
            "hits": hits, "panda": panda, "caviar": caviar, "seconds": time.perf_counter() - began}


if __name__ == "__main__":
    main()
