"""Figures: learning curves, a metric against a hyperparameter, learning curves over data size, bagging. PNG."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_bagging", "plot_data_curve", "plot_history", "plot_lineages", "plot_metric_against"]


def _save(fig, path: str | os.PathLike) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def plot_history(histories: Mapping[str, Mapping[str, Sequence[float]]], path: str | os.PathLike,
                 title: str | None = None) -> str:
    """Loss and the first metric against epoch, training solid and validation dashed, one colour per run.

    Args:
      histories: ``{label: history}`` with ``train_loss``, ``val_loss`` and
        ``train_<metric>``, ``val_<metric>`` per epoch (NaN after a run
        stopped); the second panel shows the first metric the histories share
        (accuracy for classification, RMSE for regression by default).
      path: where to write the PNG.
    """
    first = next(iter(histories.values()), {})
    measured = [name[len("val_"):] for name in first if name.startswith("val_") and name != "val_loss"
                and f"train_{name[len('val_'):]}" in first]
    metric = measured[0] if measured else None
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, history) in enumerate(histories.items()):
        colour = colours[i % len(colours)]
        epochs = np.arange(1, len(history["val_loss"]) + 1)
        loss_ax.plot(epochs, history["train_loss"], color=colour, label=f"{label} train")
        loss_ax.plot(epochs, history["val_loss"], color=colour, linestyle="--", label=f"{label} validation")
        if metric is not None and f"val_{metric}" in history:
            metric_ax.plot(epochs, history[f"train_{metric}"], color=colour)
            metric_ax.plot(epochs, history[f"val_{metric}"], color=colour, linestyle="--")
    loss_ax.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    metric_ax.set(xlabel="epoch", ylabel=metric or "", title=metric or "")
    loss_ax.legend(fontsize="small")
    for ax in (loss_ax, metric_ax):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_metric_against(x: Sequence[float], y: Sequence[float], groups: Sequence[str], path: str | os.PathLike,
                        *, xlabel: str, ylabel: str, log_x: bool = True, title: str | None = None) -> str:
    """One point per trial and the mean over trials sharing an ``x``, one colour per group."""
    x, y, groups = np.asarray(x, float), np.asarray(y, float), np.asarray(groups, object)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, group in enumerate(dict.fromkeys(groups)):
        colour = colours[i % len(colours)]
        mine = groups == group
        ax.scatter(x[mine], y[mine], s=12, alpha=0.5, color=colour)
        xs = np.unique(x[mine])
        means = [np.nanmean(y[mine & (x == value)]) if np.any(np.isfinite(y[mine & (x == value)])) else np.nan
                 for value in xs]
        ax.plot(xs, means, color=colour, label=str(group), marker="o", markersize=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale="log" if log_x else "linear")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_lineages(lineages: Mapping, path: str | os.PathLike, *, metric: str, title: str | None = None) -> str:
    """Each final member's hyperparameters along its lineage, and the population's metric per stage.

    Args:
      lineages: :func:`jaxdl.sweep.report.lineages`'s result: ``epochs`` (at
        the end of each stage), ``members`` (``{id: {name: [value per
        stage]}}``), ``names`` (the hyperparameters that change), ``best`` and
        ``median`` (the population's ``metric`` after each stage).
      path: where to write the PNG.
    """
    names = list(lineages["names"])[:3]
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(5 * (len(names) + 1), 4), squeeze=False)
    axes = axes[0]
    ends = np.asarray(lineages["epochs"], float)
    starts = np.concatenate([[0.0], ends[:-1]])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes, names):
        for i, (member, values) in enumerate(lineages["members"].items()):
            # A value holds from the start of its stage to the end: a step at each exploit/explore.
            ax.step(np.append(starts, ends[-1]), np.append(values[name], values[name][-1]), where="post",
                    color=colours[i % len(colours)], alpha=0.8, linewidth=1.2, label=f"member {member}")
        ax.set(xlabel="epoch", ylabel=name, title=f"{name} along each final member's lineage")
        if name in ("learning_rate", "weight_decay", "l2", "eps"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if len(lineages["members"]) <= 10:
        axes[0].legend(fontsize="small")
    ax = axes[-1]
    ax.plot(ends, lineages["best"], marker="o", label="best member")
    ax.plot(ends, lineages["median"], marker="o", linestyle="--", label="median member")
    ax.set(xlabel="epoch", ylabel=metric, title=f"population {metric} after each interval")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _mean_and_spread(ax, x, values, colour, label, marker="o"):
    """Each seed as a faint dot, the mean over seeds as a line, the range as a band."""
    values = np.atleast_2d(np.asarray(values, float))
    for row in values:
        ax.scatter(x, row, s=10, color=colour, alpha=0.35, linewidths=0)
    ax.plot(x, values.mean(axis=0), color=colour, marker=marker, label=label)
    if values.shape[0] > 1:
        ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.15, linewidth=0)


def plot_data_curve(curve, path: str | os.PathLike, *, title: str | None = None) -> str:
    """Training and validation error against the number of training examples (:func:`jaxdl.resample.learning_curve`).

    Dots are single seeds, lines their mean, bands their range; a dotted
    line marks the human-level / Bayes error when the curve has one, and the
    verdict is the subtitle.
    """
    sizes = np.asarray(curve.sizes, float)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    _mean_and_spread(ax, sizes, curve.train_error, colours[0], "training error (on its own examples)")
    _mean_and_spread(ax, sizes, curve.val_error, colours[1], "validation error")
    if curve.human_error is not None:
        ax.axhline(curve.human_error, color="black", linestyle=":", label=f"human-level / Bayes ({curve.human_error:g})")
    seeds = np.atleast_2d(curve.train_error).shape[0]
    ax.set(xscale="log", xlabel="training examples (log scale)", ylabel="error",
           title=title or f"learning curve over data size ({seeds} seed{'s' if seeds != 1 else ''} per size)")
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.text(0.5, 0.01, curve.verdict, ha="center", fontsize="small", wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)


def plot_bagging(bagging, path: str | os.PathLike, *, split: str = "val", title: str | None = None) -> str:
    """Ensemble accuracy against the number of bootstrap members, beside each single member (:func:`jaxdl.resample.bagging`)."""
    sizes = np.asarray(bagging.sizes)
    single = np.asarray(bagging.member_accuracy[split], float)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.plot(sizes, bagging.ensemble_accuracy[split], marker="o", label="ensemble of the first k members")
    ax.scatter(sizes, single, s=18, color="grey", alpha=0.7, label="member k alone")
    ax.axhline(single.mean(), color="grey", linestyle="--", label=f"mean single member ({single.mean():.3f})")
    name = {"val": "validation", "test": "test (held out)"}.get(split, split)
    ax.set(xlabel="bootstrap members k", ylabel=f"{name} accuracy",
           title=title or f"bagging: {name} accuracy of averaged probabilities")
    ax.set_xticks(sizes)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)
