"""Reports of a finished (or partly finished) sweep: a ranked table and figures.

Trials that differ only by seed form one configuration; the table ranks
configurations by the mean over seeds of ``final.<metric>``, the validation
metric of the state each trial returned, and shows its spread (sample
standard deviation), the held-out test metrics of that same state (never
used to rank), and how many seeds diverged. Only the settings that vary across the sweep
become columns.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

from jaxdl import plots
from jaxdl.sweep import store

__all__ = ["compare_runs", "configurations", "format_comparison", "format_table", "lineages", "test_columns",
           "write_report"]


def _varying(records: Sequence[Mapping[str, Any]], part: str) -> list[str]:
    names = sorted({name for r in records for name in r[part]})
    return [n for n in names if len({json.dumps(r[part].get(n)) for r in records}) > 1]


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def configurations(records: Sequence[Mapping[str, Any]], metric: str = "val_accuracy",
                   constraints: Sequence[Any] = ()) -> list[dict]:
    """Group trials by configuration (everything but the seed), ranked best first.

    The ranking is :func:`jaxdl.sweep.store.rank_configurations` (by the
    returned state's ``final.<metric>``, mean over seeds), with each row's
    ``settings`` (the varying static and dynamic values) and the mean over
    seeds of every held-out test metric but the loss (``test_accuracy``, or
    ``test_rmse`` and ``test_r2``) added. Diverged seeds count as NaN; a
    configuration with no finite score ranks last. With satisficing
    ``constraints`` those that meet them rank first (see
    :func:`~jaxdl.sweep.store.rank_configurations`).
    """
    records = store.candidates(records)
    test_names = test_columns(records)
    columns = [("static", n) for n in _varying(records, "static")] + [("dynamic", n) for n in _varying(records, "dynamic")]
    by_id = {r["id"]: r for r in records}
    rows = []
    for row in store.rank_configurations(records, metric, constraints=constraints):
        members = [by_id[i] for i in row["trial_ids"]]
        row["settings"] = {name: members[0][part].get(name) for part, name in columns}
        for name in test_names:
            tests = np.array([_number(m["final"].get(name)) if m["status"] == "ok" else np.nan for m in members])
            row[name] = float(np.nanmean(tests)) if np.any(np.isfinite(tests)) else float("nan")
        rows.append(row)
    return rows


def test_columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The test metrics the records hold, but the loss: ``["test_accuracy"]``, ``["test_r2", "test_rmse"]``."""
    names = sorted({name for r in records for name in r["final"] if name.startswith("test_")} - {"test_loss"})
    return names or ["test_loss"]


def _format(value) -> str:
    if isinstance(value, float):
        # Counts (parameters, epochs) are whole numbers: 85000, not 8.5e+04.
        return str(int(value)) if value.is_integer() and abs(value) < 1e12 else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]], metric: str = "val_accuracy", top: int | None = 10,
                 markdown: bool = False) -> str:
    """The ranked configurations as a text (or Markdown) table."""
    shown = list(rows[:top] if top else rows)
    names = list(shown[0]["settings"]) if shown else []
    tests = _row_tests(shown)
    constrained = list(shown[0].get("values", ())) if shown else []
    header = ["rank", *names, f"{metric} (mean ± sd)", *constrained, *(["meets constraints"] if constrained else []),
              *(f"{t} (held out)" for t in tests), "seeds", "diverged"]
    body = []
    for rank, row in enumerate(shown, 1):
        score = "diverged" if not np.isfinite(row["mean"]) else f"{row['mean']:.4f} ± {row['std']:.4f}"
        limits = [_format(row["values"][c]) for c in constrained]
        if constrained:
            limits.append("yes" if row["feasible"] else "no")
        cells = ["-" if not np.isfinite(row[t]) else f"{row[t]:.4f}" for t in tests]
        body.append([str(rank) if row.get("feasible", True) else "-", *(_format(row["settings"][n]) for n in names),
                     score, *limits, *cells, str(row["n"]), str(row["diverged"])])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(cells, widths)) for cells in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row_tests(rows) -> list[str]:
    return sorted(k for k in (rows[0] if rows else {}) if k.startswith("test_"))


def write_report(records: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike, *,
                 metric: str = "val_accuracy", top: int = 10, constraints: Sequence[Any] = ()) -> dict:
    """Write ``results.csv``, ``results.md`` and the figures into ``out_dir``; return their paths and the table.

    Figures: ``<metric>_vs_learning_rate.png`` (every trial, and the mean over
    seeds, one line per value of the first varying static setting) when the
    learning rate varies, and ``best_learning_curves.png`` (the best trial of
    each of the top configurations of that setting). With satisficing
    ``constraints``, the table ranks the configurations that meet them and
    lists the others after them, unranked ("-").
    """
    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    every, records = records, store.candidates(records)
    rows = configurations(records, metric, constraints)
    table = format_table(rows, metric, top)
    paths = {"table": os.path.join(out_dir, "results.md"), "csv": os.path.join(out_dir, "results.csv")}
    with open(paths["table"], "w") as f:
        f.write(format_table(rows, metric, None, markdown=True) + "\n")
    with open(paths["csv"], "w", newline="") as f:
        names = list(rows[0]["settings"]) if rows else []
        tests = _row_tests(rows)
        writer = csv.writer(f)
        constrained = list(rows[0].get("values", ())) if rows else []
        writer.writerow([*names, f"mean_{metric}", f"std_{metric}", *(f"mean_{c}" for c in constrained),
                         *(["meets_constraints"] if constrained else []), *tests, "seeds", "diverged"])
        for row in rows:
            limits = [row["values"][c] for c in constrained] + ([row["feasible"]] if constrained else [])
            writer.writerow([*(_format(row["settings"][n]) for n in names), row["mean"], row["std"], *limits,
                             *(row[t] for t in tests), row["n"], row["diverged"]])

    static_names = _varying(records, "static")
    group_name = static_names[0] if static_names else None
    label = (lambda r: _format(r["static"][group_name])) if group_name else (lambda r: "all")
    if "learning_rate" in _varying(records, "dynamic"):
        scores = [store.trial_score(r, metric, store.SELECTION) for r in records]
        paths["metric_figure"] = plots.plot_metric_against(
            [r["dynamic"]["learning_rate"] for r in records], scores, [label(r) for r in records],
            os.path.join(out_dir, f"{metric}_vs_learning_rate.png"),
            xlabel="learning rate", ylabel=metric, title=f"{metric} against learning rate",
        )
    by_id = {r["id"]: r for r in records}
    best_of_group: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row["best_trial"] is None or len(best_of_group) == 6:
            continue
        trial = by_id[row["best_trial"]]
        best_of_group.setdefault(label(trial), trial)
    if best_of_group:
        # Same colour for a group in both figures: first-appearance order, as the scatter uses.
        order = [name for name in dict.fromkeys(label(r) for r in records) if name in best_of_group]
        curves = {}
        for name in order:
            trial = best_of_group[name]
            lr = trial["dynamic"].get("learning_rate")
            title = name if lr is None else f"{name} (lr {lr:.2g})"
            curves[title] = {k: np.array([_number(v) for v in values]) for k, values in trial["history"].items()}
        paths["curves_figure"] = plots.plot_history(curves, os.path.join(out_dir, "best_learning_curves.png"),
                                                    title="learning curves of the best trials")
    found = lineages(every, metric)
    if found is not None:
        paths["lineage_figure"] = plots.plot_lineages(found, os.path.join(out_dir, "lineages.png"), metric=metric,
                                                      title="population-based training: hyperparameter schedules")
    return {"paths": paths, "table": table, "rows": rows}


def lineages(records: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> dict | None:
    """Each final member's hyperparameters stage by stage along its lineage, and the population's metric per stage.

    For runs whose later stages continue trials with changed hyperparameters
    (population-based training): member ``m`` of the last stage ``S``
    trained stage ``S`` with its record's values, stage ``S - 1`` with its
    parent's record's, and so on back to the first stage. ``None`` for runs
    in which no continued trial changed its hyperparameters.

    Returns:
      ``{"epochs": [epochs at the end of each stage], "names": [changed
      hyperparameters], "members": {id: {name: [value per stage]}}, "best",
      "median": [the population's final.<metric> after each stage]}``.
    """
    by_key = {(r["id"], r.get("stage", 0)): r for r in records}
    changed = sorted({name for r in records if r.get("parent") is not None
                      for name, value in r["dynamic"].items()
                      if by_key.get((r["parent"], r["stage"] - 1), {"dynamic": {}})["dynamic"].get(name) != value})
    if not changed:
        return None
    last = max(r.get("stage", 0) for r in records)
    stages = range(last + 1)
    members = {}
    for record in sorted((r for r in records if r.get("stage", 0) == last), key=lambda r: r["id"]):
        chain = [record]
        while chain[-1].get("parent") is not None and (chain[-1]["parent"], chain[-1]["stage"] - 1) in by_key:
            chain.append(by_key[(chain[-1]["parent"], chain[-1]["stage"] - 1)])
        if len(chain) != last + 1:
            continue  # a trial that did not reach the last stage through every stage
        chain.reverse()
        members[record["id"]] = {name: [float(r["dynamic"][name]) for r in chain] for name in changed}
    epochs, best, median = [], [], []
    from jaxdl import metrics

    maximize = metrics.maximize(metric)
    for stage in stages:
        mine = [r for r in records if r.get("stage", 0) == stage]
        epochs.append(max(len(next(iter(r["history"].values()), [])) for r in mine))
        scores = np.array([store.trial_score(r, metric, store.SELECTION) for r in mine])
        finite = scores[np.isfinite(scores)]
        best.append(float((finite.max() if maximize else finite.min()) if finite.size else np.nan))
        median.append(float(np.median(finite)) if finite.size else float("nan"))
    return {"epochs": epochs, "names": changed, "members": members, "best": best, "median": median}


def _seed_scores(records: Sequence[Mapping[str, Any]], trial_ids: Sequence[int], metric: str) -> dict[int, float]:
    """``{seed: final.<metric>}`` of a configuration's trials; diverged seeds are NaN."""
    chosen = [r for r in records if r["id"] in set(trial_ids)]
    return {r["seed"]: store.trial_score(r, metric, store.SELECTION) for r in chosen}


def compare_runs(runs: Mapping[str, Sequence[Mapping[str, Any]]], metric: str = "val_accuracy") -> list[dict]:
    """Each run's best configuration, and its difference from the first run's, paired by seed.

    For runs A (the first) and B, with best configurations scoring ``a_s`` and
    ``b_s`` on seed ``s`` (the seeds both ran, common random numbers), the
    difference is ``d_s = b_s - a_s``; the row gives ``mean(d)`` and the 95%
    interval ``mean(d) ± t_{0.975, n-1} sd(d) / sqrt(n)`` (Student's t), which
    is narrower than comparing two unpaired means whenever the seeds'
    luck is shared. Seeds where either diverged are left out.

    Returns:
      One row per run: ``name``, ``settings`` of its best configuration,
      ``mean``, ``std``, ``n``, and for every run after the first
      ``difference``, ``interval`` (low, high) and ``pairs``.
    """
    from scipy import stats

    from jaxdl import metrics

    rows, reference = [], None
    for name, records in runs.items():
        ranked = configurations(records, metric)
        if not ranked:
            raise ValueError(f"{name} holds no finished trials")
        best = ranked[0]
        scores = _seed_scores(records, best["trial_ids"], metric)
        row = {"name": name, "settings": best["settings"], "mean": best["mean"], "std": best["std"],
               "n": best["n"], "scores": scores}
        if reference is None:
            reference = scores
        else:
            seeds = sorted(s for s in set(scores) & set(reference)
                           if np.isfinite(scores[s]) and np.isfinite(reference[s]))
            differences = np.array([scores[s] - reference[s] for s in seeds])
            row["pairs"] = len(seeds)
            row["difference"] = float(differences.mean()) if seeds else float("nan")
            if len(seeds) > 1:
                half = stats.t.ppf(0.975, len(seeds) - 1) * differences.std(ddof=1) / np.sqrt(len(seeds))
                row["interval"] = (row["difference"] - half, row["difference"] + half)
            else:
                row["interval"] = (float("nan"), float("nan"))
        rows.append(row)
    rows[0]["maximize"] = metrics.maximize(metric)
    return rows


def format_comparison(rows: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> str:
    """The rows of :func:`compare_runs` as a text table."""
    header = ["run", "best configuration", f"{metric} (mean ± sd)", "seeds",
              f"difference from {rows[0]['name']} (95% interval)", "paired seeds"]
    body = []
    for row in rows:
        settings = ", ".join(f"{k}={_format(v)}" for k, v in row["settings"].items()) or "-"
        if "difference" in row:
            low, high = row["interval"]
            difference = f"{row['difference']:+.4f} [{low:+.4f}, {high:+.4f}]" if np.isfinite(low) else \
                f"{row['difference']:+.4f}"
            pairs = str(row["pairs"])
        else:
            difference, pairs = "-", "-"
        body.append([row["name"], settings, f"{row['mean']:.4f} ± {row['std']:.4f}", str(row["n"]), difference, pairs])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
             for cells in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
