"""Metrics of a run (the metric table), classification metrics from a confusion matrix,
and bias/variance diagnosis.

The metric table. A run evaluates metrics ``metric(outputs, targets) ->
scalar`` registered in :data:`jaxdl.registry.METRICS`, each with its
direction: ``accuracy`` and ``f1`` (classification), ``rmse``, ``mae`` and
``r2`` (regression). :func:`maximize` reads the direction of any name a run
or a record uses (``val_accuracy``, ``best.val_loss``, ``test_rmse``): train,
the sweep engine, the store and the reports all ask it, so the direction of
a metric is written once, where the metric is registered.

Every metric here is computed from one ``K x K`` confusion matrix ``C`` with
rows for the true class and columns for the predicted class (scikit-learn's
layout): ``C[i, j]`` counts examples of class ``i`` predicted as ``j``.
Class ``k`` against the rest gives the four counts of lecture 001's table::

    TP_k = C[k, k]                 FP_k = sum_i C[i, k] - TP_k   (column k)
    FN_k = sum_j C[k, j] - TP_k    TN_k = sum C - TP_k - FP_k - FN_k
    P_k  = TP_k + FN_k  (actual)   PP_k = TP_k + FP_k  (predicted)
    N_k  = FP_k + TN_k             PN_k = FN_k + TN_k

For a binary problem, class 1 is the positive class: read index ``[1]``.

Averages (``average=``):

* ``None``: one value per class, shape ``(K,)``.
* ``"macro"``: the unweighted mean of the per-class values.
* ``"weighted"``: the mean weighted by support ``P_k``.
* ``"micro"``: pool the counts of all classes first, then compute once
  (micro precision = micro recall = micro F = accuracy for single-label data).
* ``"harmonic"``: the harmonic mean of the per-class values,
  ``K / sum_k 1/v_k`` (0 if any ``v_k`` is 0). It punishes one weak class
  harder than the arithmetic mean, as lecture 001 uses it to rank classifiers.

Zero divisions: a ratio whose denominator is 0 (say precision of a class that
is never predicted) returns ``zero_division``, 0 by default for the rates,
which matches scikit-learn's ``zero_division=0``; an F-score whose
precision and recall are both 0 is 0. The likelihood ratios and the
diagnostic odds ratio are unbounded and return ``nan`` by default where
their denominator is 0.

All metric functions are pure ``jax.numpy`` and work under ``jax.jit`` and
``jax.vmap``; ``num_classes`` and ``average`` are static.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import registry

__all__ = [
    "AVERAGES",
    "PREFIXES",
    "classification_accuracy",
    "macro_f1",
    "maximize",
    "mean_absolute_error",
    "r2_score",
    "root_mean_squared_error",
    "BIAS_KNOBS",
    "BiasVarianceDiagnosis",
    "Counts",
    "DATA_MISMATCH_KNOBS",
    "VARIANCE_KNOBS",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "counts",
    "diagnose_bias_variance",
    "diagnostic_odds_ratio",
    "f1",
    "f_beta",
    "f_beta_from_precision_recall",
    "false_discovery_rate",
    "false_negative_rate",
    "false_omission_rate",
    "false_positive_rate",
    "format_classification_report",
    "harmonic_mean",
    "negative_likelihood_ratio",
    "negative_predictive_value",
    "one_vs_rest_metrics",
    "per_class_accuracy",
    "positive_likelihood_ratio",
    "precision",
    "prevalence",
    "recall",
    "specificity",
]

AVERAGES = (None, "macro", "weighted", "micro", "harmonic")


# ---------------------------------------------------------------------------
# Confusion matrix and counts


def confusion_matrix(labels, predictions, num_classes: int, weights=None) -> jax.Array:
    """Confusion matrix ``C[true, predicted]``, as ``sklearn.metrics.confusion_matrix``.

    Args:
      labels: true class indices, shape ``(m,)``.
      predictions: predicted class indices, shape ``(m,)`` (e.g. ``argmax``
        of the logits).
      num_classes: ``K``, a static Python int.
      weights: optional per-example weights; the matrix then holds their sums.

    Returns:
      ``(K, K)`` int32 counts, or float sums when ``weights`` are given.
      Pairs with a label or prediction outside ``[0, K)`` are ignored.
    """
    labels = jnp.asarray(labels).astype(jnp.int32)
    predictions = jnp.asarray(predictions).astype(jnp.int32)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    valid = (labels >= 0) & (labels < num_classes) & (predictions >= 0) & (predictions < num_classes)
    cells = num_classes * num_classes
    flat = jnp.where(valid, labels * num_classes + predictions, cells)
    if weights is None:
        counts_ = jnp.bincount(flat.ravel(), length=cells + 1).astype(jnp.int32)
    else:
        weights = jnp.broadcast_to(jnp.asarray(weights), flat.shape)
        counts_ = jnp.bincount(flat.ravel(), weights=weights.ravel(), length=cells + 1)
    return counts_[:cells].reshape(num_classes, num_classes)


class Counts(NamedTuple):
    """One-vs-rest counts per class, each of shape ``(K,)``."""

    tp: jax.Array
    fp: jax.Array
    fn: jax.Array
    tn: jax.Array


def counts(cm) -> Counts:
    """True/false positives/negatives of each class against the rest."""
    cm = jnp.asarray(cm)
    tp = jnp.diagonal(cm)
    fp = jnp.sum(cm, axis=0) - tp
    fn = jnp.sum(cm, axis=1) - tp
    tn = jnp.sum(cm) - tp - fp - fn
    return Counts(tp=tp, fp=fp, fn=fn, tn=tn)


# ---------------------------------------------------------------------------
# Helpers


def _divide(numerator, denominator, zero_division) -> jax.Array:
    """``numerator / denominator`` with ``zero_division`` where the denominator is 0."""
    numerator = jnp.asarray(numerator, dtype=jnp.result_type(float))
    denominator = jnp.asarray(denominator, dtype=numerator.dtype)
    zero = denominator == 0
    safe = jnp.where(zero, jnp.ones_like(denominator), denominator)
    return jnp.where(zero, jnp.asarray(zero_division, numerator.dtype), numerator / safe)


def harmonic_mean(values, axis: int = -1) -> jax.Array:
    """Harmonic mean ``n / sum_k 1/v_k`` of non-negative values; 0 if any value is 0.

    Lecture 001's example: per-class accuracies 95, 90, 94, 99 % have the
    arithmetic mean 94.5 % and the harmonic mean 94.39 %.
    """
    values = jnp.asarray(values, dtype=jnp.result_type(float))
    has_zero = jnp.any(values == 0, axis=axis)
    safe = jnp.where(values == 0, jnp.ones_like(values), values)
    mean = values.shape[axis] / jnp.sum(1.0 / safe, axis=axis)
    return jnp.where(has_zero, jnp.zeros_like(mean), mean)


def _reduce(numerator, denominator, average, support, zero_division) -> jax.Array:
    """Per-class ratio ``numerator / denominator`` reduced by ``average``."""
    if average == "micro":
        return _divide(jnp.sum(numerator), jnp.sum(denominator), zero_division)
    return _average(_divide(numerator, denominator, zero_division), average, support)


def _average(per_class, average, support) -> jax.Array:
    if average is None:
        return per_class
    if average == "macro":
        return jnp.mean(per_class)
    if average == "weighted":
        return _divide(jnp.sum(per_class * support), jnp.sum(support), 0.0)
    if average == "harmonic":
        return harmonic_mean(per_class)
    raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")


def _check_average(average) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")


def _ratio(cm, numerator_of, denominator_of, average, zero_division) -> jax.Array:
    _check_average(average)
    c = counts(cm)
    return _reduce(numerator_of(c), denominator_of(c), average, c.tp + c.fn, zero_division)


# ---------------------------------------------------------------------------
# The table


def accuracy(cm) -> jax.Array:
    """Overall accuracy ``trace(C) / sum(C)`` (0 for an empty matrix).

    For two classes this is lecture 001's ``(TP + TN) / ALL``.
    """
    cm = jnp.asarray(cm)
    return _divide(jnp.trace(cm), jnp.sum(cm), 0.0)


def per_class_accuracy(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Fraction of each class's examples classified correctly, ``TP_k / P_k``.

    This equals the per-class recall; its macro average is scikit-learn's
    ``balanced_accuracy_score`` and its ``"harmonic"`` average is the
    harmonic mean lecture 001 ranks classifiers by.
    """
    return recall(cm, average=average, zero_division=zero_division)


def precision(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Precision, positive predictive value: ``TP / PP = TP / (TP + FP)``."""
    return _ratio(cm, lambda c: c.tp, lambda c: c.tp + c.fp, average, zero_division)


def recall(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Recall, sensitivity, true positive rate: ``TP / P = TP / (TP + FN)``."""
    return _ratio(cm, lambda c: c.tp, lambda c: c.tp + c.fn, average, zero_division)


def specificity(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Specificity, selectivity, true negative rate: ``TN / N = TN / (TN + FP)``."""
    return _ratio(cm, lambda c: c.tn, lambda c: c.tn + c.fp, average, zero_division)


def false_positive_rate(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """False positive rate, fall-out: ``FP / N = FP / (FP + TN) = 1 - specificity``."""
    return _ratio(cm, lambda c: c.fp, lambda c: c.fp + c.tn, average, zero_division)


def false_negative_rate(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """False negative rate, miss rate: ``FN / P = FN / (FN + TP) = 1 - recall``."""
    return _ratio(cm, lambda c: c.fn, lambda c: c.fn + c.tp, average, zero_division)


def negative_predictive_value(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Negative predictive value: ``TN / PN = TN / (TN + FN)``."""
    return _ratio(cm, lambda c: c.tn, lambda c: c.tn + c.fn, average, zero_division)


def false_discovery_rate(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """False discovery rate: ``FP / PP = FP / (TP + FP) = 1 - precision``."""
    return _ratio(cm, lambda c: c.fp, lambda c: c.tp + c.fp, average, zero_division)


def false_omission_rate(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """False omission rate: ``FN / PN = FN / (FN + TN) = 1 - NPV``."""
    return _ratio(cm, lambda c: c.fn, lambda c: c.fn + c.tn, average, zero_division)


def prevalence(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """Prevalence, the share of actual positives: ``P / ALL = (TP + FN) / ALL``.

    (Lecture 001's table prints ``PP / ALL``; the usual definition, used here,
    counts actual positives. ``PP / ALL`` is the predicted-positive rate.)
    """
    return _ratio(
        cm, lambda c: c.tp + c.fn, lambda c: c.tp + c.fp + c.fn + c.tn, average, zero_division
    )


def f_beta_from_precision_recall(precision_value, recall_value, beta=1.0) -> jax.Array:
    """``F_beta = (1 + b^2) P R / (b^2 P + R)``; 0 when ``P = R = 0``.

    ``beta`` says how many times recall matters more than precision; ``F_1``
    is the harmonic mean ``2 / (1/P + 1/R)``. Lecture 001's table:
    P 96 %, R 90 % gives F1 92.90 %; 98 %, 88 % gives 92.73 %; 94 %, 93 %
    gives 93.50 %.
    """
    p = jnp.asarray(precision_value, dtype=jnp.result_type(float))
    r = jnp.asarray(recall_value, dtype=p.dtype)
    b2 = jnp.square(jnp.asarray(beta, dtype=p.dtype))
    return _divide((1.0 + b2) * p * r, b2 * p + r, 0.0)


def f_beta(cm, beta=1.0, average=None, zero_division: float = 0.0) -> jax.Array:
    """F-beta score per class or averaged.

    In counts (lecture 001)::

        F_beta = (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)

    which equals ``(1 + b^2) P R / (b^2 P + R)``. ``"macro"``, ``"weighted"``
    and ``"harmonic"`` average the per-class scores (as scikit-learn does for
    macro and weighted); ``"micro"`` pools the counts first. A class with no
    true, false-positive or false-negative examples gets ``zero_division``.
    ``beta`` may be a traced scalar.
    """
    _check_average(average)
    c = counts(cm)
    b2 = jnp.square(jnp.asarray(beta, dtype=jnp.result_type(float)))
    numerator = (1.0 + b2) * c.tp
    denominator = (1.0 + b2) * c.tp + b2 * c.fn + c.fp
    return _reduce(numerator, denominator, average, c.tp + c.fn, zero_division)


def f1(cm, average=None, zero_division: float = 0.0) -> jax.Array:
    """F1 score, the harmonic mean of precision and recall: ``2 TP / (2 TP + FN + FP)``."""
    return f_beta(cm, 1.0, average=average, zero_division=zero_division)


def positive_likelihood_ratio(cm, average=None, zero_division: float = float("nan")) -> jax.Array:
    """Positive likelihood ratio ``LR+ = TPR / FPR``; ``zero_division`` (nan) where FPR = 0.

    ``"micro"`` pools the counts; other averages apply to the per-class ratios.
    """
    return _likelihood_ratio(cm, average, zero_division, positive=True)


def negative_likelihood_ratio(cm, average=None, zero_division: float = float("nan")) -> jax.Array:
    """Negative likelihood ratio ``LR- = FNR / TNR``; ``zero_division`` (nan) where TNR = 0."""
    return _likelihood_ratio(cm, average, zero_division, positive=False)


def _likelihood_ratio(cm, average, zero_division, positive: bool) -> jax.Array:
    _check_average(average)
    c = counts(cm)
    if average == "micro":
        c = Counts(*(jnp.sum(x) for x in c))
    rate_nan = float("nan")
    tpr = _divide(c.tp, c.tp + c.fn, rate_nan)
    fpr = _divide(c.fp, c.fp + c.tn, rate_nan)
    if positive:
        ratio = _divide(tpr, fpr, zero_division)
    else:
        ratio = _divide(1.0 - tpr, 1.0 - fpr, zero_division)
    return ratio if average == "micro" else _average(ratio, average, c.tp + c.fn)


def diagnostic_odds_ratio(cm, average=None, zero_division: float = float("nan")) -> jax.Array:
    """Diagnostic odds ratio ``DOR = LR+ / LR- = (TP TN) / (FP FN)``.

    Returns ``zero_division`` (nan) where ``FP FN = 0``.
    """
    _check_average(average)
    c = counts(cm)
    if average == "micro":
        c = Counts(*(jnp.sum(x) for x in c))
    tp, fp, fn, tn = (jnp.asarray(x, dtype=jnp.result_type(float)) for x in c)
    ratio = _divide(tp * tn, fp * fn, zero_division)  # in floats: int32 products overflow
    return ratio if average == "micro" else _average(ratio, average, c.tp + c.fn)


_METRICS = {
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "specificity": specificity,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "negative_predictive_value": negative_predictive_value,
    "false_discovery_rate": false_discovery_rate,
    "false_omission_rate": false_omission_rate,
    "prevalence": prevalence,
    "positive_likelihood_ratio": positive_likelihood_ratio,
    "negative_likelihood_ratio": negative_likelihood_ratio,
    "diagnostic_odds_ratio": diagnostic_odds_ratio,
}


def one_vs_rest_metrics(cm, average=None) -> dict[str, jax.Array]:
    """Every metric of the table at once, per class (``average=None``) or averaged.

    Keys: ``precision, recall, f1, specificity, false_positive_rate,
    false_negative_rate, negative_predictive_value, false_discovery_rate,
    false_omission_rate, prevalence, positive_likelihood_ratio,
    negative_likelihood_ratio, diagnostic_odds_ratio`` and ``support``
    (``P_k``; summed for averages). Jit-compatible; returns arrays.
    """
    _check_average(average)
    result = {name: metric(cm, average=average) for name, metric in _METRICS.items()}
    support = jnp.sum(jnp.asarray(cm), axis=1)
    result["support"] = support if average is None else jnp.sum(support)
    return result


# ---------------------------------------------------------------------------
# Report


def classification_report(
    labels,
    predictions,
    num_classes: int | None = None,
    *,
    class_names: Sequence[str] | None = None,
    cm=None,
) -> dict:
    """Per-class and averaged metrics, like scikit-learn's ``classification_report``.

    The layout follows scikit-learn's ``output_dict=True`` form.

    Args:
      labels, predictions: integer class indices (ignored when ``cm`` is given).
      num_classes: ``K``; inferred as ``max + 1`` of the data when ``None``.
      class_names: row names; defaults to ``"0" .. "K-1"``.
      cm: a confusion matrix to report on instead of ``labels``/``predictions``.

    Returns:
      ``{name: {metric: float, ...} for each class, "accuracy": float,
      "macro avg": {...}, "weighted avg": {...}, "micro avg": {...},
      "harmonic mean": {...}, "confusion_matrix": list of lists}``. Per-class
      and averaged entries hold every key of :func:`one_vs_rest_metrics`.
      Format it with :func:`format_classification_report`. Runs on the host
      (returns Python floats), so call it outside ``jax.jit``.
    """
    if cm is None:
        labels = np.asarray(labels)
        predictions = np.asarray(predictions)
        if num_classes is None:
            num_classes = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
        cm = confusion_matrix(labels, predictions, num_classes)
    cm = jnp.asarray(cm)
    num_classes = cm.shape[0]
    if class_names is None:
        class_names = [str(k) for k in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for {num_classes} classes")

    per_class = {k: np.asarray(v) for k, v in one_vs_rest_metrics(cm).items()}
    report: dict = {}
    for index, name in enumerate(class_names):
        row = {metric: float(values[index]) for metric, values in per_class.items()}
        row["support"] = int(row["support"])
        report[str(name)] = row
    report["accuracy"] = float(accuracy(cm))
    for title, average in (
        ("macro avg", "macro"),
        ("weighted avg", "weighted"),
        ("micro avg", "micro"),
        ("harmonic mean", "harmonic"),
    ):
        row = {metric: float(value) for metric, value in one_vs_rest_metrics(cm, average).items()}
        row["support"] = int(row["support"])
        report[title] = row
    report["confusion_matrix"] = np.asarray(cm).tolist()
    return report


def format_classification_report(
    report: dict,
    metrics: Sequence[str] = ("precision", "recall", "f1", "specificity", "support"),
    digits: int = 4,
) -> str:
    """A text table of :func:`classification_report`'s dict, one row per class and average."""
    rows = [name for name, value in report.items() if isinstance(value, dict)]
    name_width = max([len(name) for name in rows] + [len("accuracy")])
    column_width = max(digits + 3, *(len(metric) for metric in metrics))
    header = " " * name_width + "".join(f"  {metric:>{column_width}}" for metric in metrics)
    lines = [header, ""]

    def cell(value) -> str:
        if isinstance(value, int):
            return f"{value:>{column_width}d}"
        return f"{value:>{column_width}.{digits}f}"

    averages = ("macro avg", "weighted avg", "micro avg", "harmonic mean")
    class_rows = [name for name in rows if name not in averages]

    def row(name: str) -> str:
        return f"{name:>{name_width}}" + "".join(f"  {cell(report[name][m])}" for m in metrics)

    for name in class_rows:
        lines.append(row(name))
    lines.append("")
    # Accuracy goes under the F1 column (or the first one), with the total support.
    accuracy_column = "f1" if "f1" in metrics else metrics[0]
    accuracy_cells = []
    for metric in metrics:
        if metric == "support":
            accuracy_cells.append(cell(sum(report[name]["support"] for name in class_rows)))
        elif metric == accuracy_column:
            accuracy_cells.append(cell(report["accuracy"]))
        else:
            accuracy_cells.append(" " * column_width)
    lines.append(f"{'accuracy':>{name_width}}" + "".join(f"  {c}" for c in accuracy_cells))
    for name in averages:
        if name in report:
            lines.append(row(name))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Bias and variance

BIAS_KNOBS = (
    "bigger network (more layers or units)",
    "train longer (more epochs)",
    "better optimizer (momentum, RMSprop, Adam) and learning-rate tuning",
    "architecture and hyperparameter search (CNN, RNN, other layers and activations)",
    "better initialization (Xavier, He)",
    "transfer learning",
)

VARIANCE_KNOBS = (
    "more training data from the dev-set distribution (or data augmentation)",
    "regularization (L2, dropout)",
    "architecture and hyperparameter search (a smaller or better network)",
    "early stopping",
    "check that training and dev data come from the same distribution",
    "transfer learning",
)

# Lecture 001 gives error analysis (its error-category table has a "Data
# Distribution" column) and "artificially synthesize new training data"; the
# middle knob and the caveat on synthesis follow Ng's "Addressing data mismatch".
DATA_MISMATCH_KNOBS = (
    "manual error analysis of dev errors to understand how the dev/test data differ from training",
    "make the training data more like the dev/test data, or collect more data like the dev set",
    "artificial data synthesis (add typical noise, blur, distortions), with care: synthesized "
    "from a small slice of all possible data, the network may overfit to that slice",
)


@dataclasses.dataclass(frozen=True)
class BiasVarianceDiagnosis:
    """The result of :func:`diagnose_bias_variance`; errors are fractions (0.035 = 3.5 %).

    Attributes:
      training_error, dev_error: the measured errors.
      reference_error: the error taken as reachable (human-level, else Bayes, else 0).
      bayes_error: the Bayes error if given, else ``None``.
      avoidable_bias: ``training_error - reference_error`` (negative once the
        model beats human level).
      bias: ``training_error - bayes_error`` if the Bayes error is known, else ``None``.
      variance: ``train_dev_error - training_error`` with a train-dev set,
        else ``dev_error - training_error``.
      high_bias, high_variance: the two tests against the thresholds.
      verdict: ``"high bias, high variance"``, ``"high bias, low variance"``,
        ``"low bias, high variance"`` or ``"low bias, low variance"``; with a
        train-dev set it ends in ``", high data mismatch"`` or
        ``", low data mismatch"``.
      focus: ``"bias"`` (fix it first, even when the others are high too),
        ``"variance"`` (fixed before data mismatch), ``"data mismatch"`` or
        ``None`` (well trained).
      knobs: what to try first for the focus, most promising first.
      train_dev_error: the error on held-out data from the training
        distribution, or ``None``.
      data_mismatch: ``dev_error - train_dev_error``, or ``None`` without a
        train-dev set (negative when the dev data are easier).
      high_mismatch: the data-mismatch test; ``False`` without a train-dev set.
    """

    training_error: float
    dev_error: float
    reference_error: float
    bayes_error: float | None
    avoidable_bias: float
    bias: float | None
    variance: float
    high_bias: bool
    high_variance: bool
    verdict: str
    focus: str | None
    knobs: tuple[str, ...]
    # Last and defaulted, so that code building the old fields by position still works.
    train_dev_error: float | None = None
    data_mismatch: float | None = None
    high_mismatch: bool = False

    def __str__(self) -> str:
        if self.train_dev_error is None:
            lines = [
                f"training error {self.training_error:.2%}, dev error {self.dev_error:.2%}, "
                f"reference {self.reference_error:.2%}",
                f"avoidable bias {self.avoidable_bias:.2%}, variance {self.variance:.2%}: "
                f"{self.verdict}",
            ]
        else:
            lines = [
                f"training error {self.training_error:.2%}, "
                f"train-dev error {self.train_dev_error:.2%}, dev error {self.dev_error:.2%}, "
                f"reference {self.reference_error:.2%}",
                f"avoidable bias {self.avoidable_bias:.2%}, variance {self.variance:.2%}, "
                f"data mismatch {self.data_mismatch:.2%}: {self.verdict}",
            ]
        if self.focus is None:
            lines.append("well trained; nothing to fix first")
        else:
            lines.append(f"focus on {self.focus} first; try: " + "; ".join(self.knobs))
        return "\n".join(lines)


def diagnose_bias_variance(
    training_error: float,
    dev_error: float,
    human_error: float | None = None,
    bayes_error: float | None = None,
    *,
    train_dev_error: float | None = None,
    bias_threshold: float = 0.02,
    variance_threshold: float = 0.02,
    mismatch_threshold: float = 0.02,
) -> BiasVarianceDiagnosis:
    """Name a model's problem from its errors and say which knobs to turn first (lecture 001).

    ::

        avoidable bias = training error - human-level error
        bias           = training error - Bayes error
        variance       = dev error - training error

    Bias is high when the avoidable bias exceeds ``bias_threshold``; variance
    is high when the variance exceeds ``variance_threshold``. While bias is
    high it is fixed first, whatever the variance ("we should not try to
    decrease variance if the avoidable bias is still high").

    The default thresholds, two percentage points each, reproduce lecture
    001's tables (Bayes 0.5 %, human 0.7 %):

    ====  =====  =====  ==============  ========  ==========================
    model train  dev    avoidable bias  variance  verdict
    ====  =====  =====  ==============  ========  ==========================
    A     3.5 %  7.8 %  2.8             4.3       high bias, high variance
    B     3.5 %  4.0 %  2.8             0.5       high bias, low variance
    C     1.0 %  5.0 %  0.3             4.0       low bias, high variance
    D     0.8 %  1.0 %  0.1             0.2       low bias, low variance
    ====  =====  =====  ==============  ========  ==========================

    and its train/dev examples 1/12, 12/13, 12/20, 1/2 % (human error 0):
    the low values there reach 1 point and the high ones start at 8.

    Data mismatch. When the training data come from another distribution
    than the dev/test data, ``dev - training`` mixes two gaps. Hold out a
    *train-dev* set (data from the training distribution, not trained on)
    and split it::

        variance       = train-dev error - training error
        data mismatch  = dev error - train-dev error

    so that ``dev - reference = avoidable bias + variance + data mismatch``.
    Data mismatch is high when it exceeds ``mismatch_threshold``; it is
    fixed after bias and variance. Lecture 001 states the ordering without
    numbers ("human-level error < training error < dev1 error < dev error <
    dev2 error < testing error ... indicates the data mismatch problem"),
    where its dev1 error, on the dev data from the training distribution,
    plays the train-dev error's part. The name "train-dev set" and these
    worked examples (human error 0) are Andrew Ng's (deeplearning.ai,
    "Structuring Machine Learning Projects": "Bias and variance with
    mismatched data distributions"), and this function follows his
    convention:

    =====  =========  =====  ==============  ========  ========  ========================
    train  train-dev  dev    avoidable bias  variance  mismatch  focus
    =====  =========  =====  ==============  ========  ========  ========================
    1 %    9 %        10 %   1               8         1         variance
    1 %    1.5 %      10 %   1               0.5       8.5       data mismatch
    10 %   11 %       12 %   10              1         1         bias
    10 %   11 %       20 %   10              1         9         bias, then data mismatch
    =====  =========  =====  ==============  ========  ========  ========================

    A negative mismatch (dev error below train-dev error) says the dev data
    are easier than the training data; it is never high.

    >>> result = diagnose_bias_variance(0.01, 0.10, human_error=0.0, train_dev_error=0.015)
    >>> result.focus, round(result.variance, 3), round(result.data_mismatch, 3)
    ('data mismatch', 0.005, 0.085)

    Args:
      training_error, dev_error: error rates as fractions in ``[0, 1]``.
      human_error: human-level error, the reference for avoidable bias.
      bayes_error: Bayes (optimal) error; used as the reference when
        ``human_error`` is ``None``, and must not exceed ``human_error``.
        With neither, the reference is 0.
      train_dev_error: error on held-out data from the training
        distribution, a fraction in ``[0, 1]``. ``None`` (the default) keeps
        the two-gap diagnosis, and ``data_mismatch`` is ``None``.
      bias_threshold, variance_threshold, mismatch_threshold: fractions
        (default 0.02).

    Returns:
      A :class:`BiasVarianceDiagnosis`; ``str()`` gives a short summary.
    """
    named = {
        "training_error": training_error,
        "dev_error": dev_error,
        "human_error": human_error,
        "bayes_error": bayes_error,
        "train_dev_error": train_dev_error,
    }
    for name, value in named.items():
        if value is None:
            continue
        value = float(value)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(
                f"{name} must be a fraction in [0, 1] (3.5 % is 0.035), got {value}"
            )
    thresholds = {
        "bias_threshold": bias_threshold,
        "variance_threshold": variance_threshold,
        "mismatch_threshold": mismatch_threshold,
    }
    for name, value in thresholds.items():
        if not float(value) >= 0.0:
            raise ValueError(f"{name} must be non-negative, got {value}")
    if human_error is not None and bayes_error is not None and bayes_error > human_error:
        raise ValueError(
            f"bayes_error {bayes_error} exceeds human_error {human_error}; "
            "the Bayes error is the lowest error any classifier can reach"
        )

    training_error, dev_error = float(training_error), float(dev_error)
    if human_error is not None:
        reference = float(human_error)
    elif bayes_error is not None:
        reference = float(bayes_error)
    else:
        reference = 0.0
    avoidable_bias = training_error - reference
    bias = None if bayes_error is None else training_error - float(bayes_error)
    if train_dev_error is None:
        variance = dev_error - training_error
        data_mismatch = None
    else:
        train_dev_error = float(train_dev_error)
        variance = train_dev_error - training_error
        data_mismatch = dev_error - train_dev_error
    high_bias = avoidable_bias > bias_threshold
    high_variance = variance > variance_threshold
    high_mismatch = data_mismatch is not None and data_mismatch > mismatch_threshold
    verdict = (
        f"{'high' if high_bias else 'low'} bias, {'high' if high_variance else 'low'} variance"
    )
    if data_mismatch is not None:
        verdict += f", {'high' if high_mismatch else 'low'} data mismatch"
    if high_bias:
        focus, knobs = "bias", BIAS_KNOBS
    elif high_variance:
        focus, knobs = "variance", VARIANCE_KNOBS
    elif high_mismatch:
        focus, knobs = "data mismatch", DATA_MISMATCH_KNOBS
    else:
        focus, knobs = None, ()
    return BiasVarianceDiagnosis(
        training_error=training_error,
        dev_error=dev_error,
        reference_error=reference,
        bayes_error=None if bayes_error is None else float(bayes_error),
        avoidable_bias=avoidable_bias,
        bias=bias,
        variance=variance,
        high_bias=high_bias,
        high_variance=high_variance,
        verdict=verdict,
        focus=focus,
        knobs=knobs,
        train_dev_error=train_dev_error,
        data_mismatch=data_mismatch,
        high_mismatch=high_mismatch,
    )


# ---------------------------------------------------------------------------
# The metric table: metric(outputs, targets) -> scalar, with a direction


def classification_accuracy(outputs, targets) -> jax.Array:
    """Share of examples whose largest output is the label: ``mean(argmax(z) == y)``."""
    return jnp.mean(jnp.argmax(outputs, -1) == targets)


def macro_f1(outputs, targets) -> jax.Array:
    """Macro-averaged F1 of the arg-max predictions (scikit-learn's ``f1_score(average="macro")``)."""
    cm = confusion_matrix(targets, jnp.argmax(outputs, -1), outputs.shape[-1])
    return f1(cm, average="macro")


def _regression_pair(outputs, targets):
    outputs = jnp.asarray(outputs)
    return outputs.reshape(outputs.shape[0], -1), jnp.asarray(targets, outputs.dtype).reshape(outputs.shape[0], -1)


def root_mean_squared_error(outputs, targets) -> jax.Array:
    """``sqrt(mean over examples and outputs of (yhat - y)^2)``."""
    yhat, y = _regression_pair(outputs, targets)
    return jnp.sqrt(jnp.mean(jnp.square(yhat - y)))


def mean_absolute_error(outputs, targets) -> jax.Array:
    """``mean over examples and outputs of |yhat - y|``."""
    yhat, y = _regression_pair(outputs, targets)
    return jnp.mean(jnp.abs(yhat - y))


def r2_score(outputs, targets) -> jax.Array:
    r"""Coefficient of determination, averaged over outputs as scikit-learn's ``r2_score``.

    .. math:: R^2_j = 1 - \frac{\sum_i (y_{ij} - \hat y_{ij})^2}{\sum_i (y_{ij} - \bar y_j)^2}

    1 is a perfect fit, 0 predicting the mean. An output whose targets are
    constant scores 1 when predicted exactly and 0 otherwise (scikit-learn's
    ``force_finite``).

    >>> float(r2_score(jnp.array([2.5, 0.0, 2.0, 8.0]), jnp.array([3.0, -0.5, 2.0, 7.0])))
    0.948...
    """
    yhat, y = _regression_pair(outputs, targets)
    residual = jnp.sum(jnp.square(y - yhat), axis=0)
    total = jnp.sum(jnp.square(y - jnp.mean(y, axis=0)), axis=0)
    safe = jnp.where(total == 0, 1.0, total)
    per_output = jnp.where(total == 0, jnp.where(residual == 0, 1.0, 0.0), 1.0 - residual / safe)
    return jnp.mean(per_output)


registry.register_metric("accuracy", classification_accuracy, maximize=True, task="classification")
registry.register_metric("f1", macro_f1, maximize=True, task="classification")
registry.register_metric("rmse", root_mean_squared_error, maximize=False, task="regression")
registry.register_metric("mae", mean_absolute_error, maximize=False, task="regression")
registry.register_metric("r2", r2_score, maximize=True, task="regression")

PREFIXES = ("train_", "val_", "test_", "best_")
"""Prefixes a run puts before a metric's name: the split it was measured on (``val_accuracy``)."""


def maximize(name: str) -> bool:
    """Whether a larger value of the metric ``name`` is better.

    ``name`` is a registered metric, ``loss``, or either with a split prefix
    (:data:`PREFIXES`) and a record prefix (``best.`` or ``final.``):
    ``maximize("best.val_accuracy")`` is ``True``, ``maximize("test_rmse")``
    and ``maximize("val_loss")`` are ``False``.

    Raises:
      ValueError: no registered metric has that name (with "did you mean").
    """
    base = name.split(".", 1)[1] if name.startswith(("best.", "final.")) else name
    candidate = base
    while True:  # best_val_r2, val_r2, r2: the longest registered name wins
        if candidate == "loss":
            return False
        if candidate in registry.METRICS:
            return bool(registry.METRICS.info(candidate)["maximize"])
        prefix = next((p for p in PREFIXES if candidate.startswith(p)), None)
        if prefix is None:
            break
        candidate = candidate[len(prefix):]
    known = ["loss", *registry.METRICS.names()]
    raise ValueError(f"unknown metric {name!r}{registry.did_you_mean(candidate, known)}")
