"""Figures: learning curves and a metric against a hyperparameter. PNG, no display needed."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_history", "plot_lineages", "plot_metric_against"]


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
