r"""Outlier cleaning fitted on the training split only.

Lecture 000/001 ("Problems with many outliers"): outliers fall outside the
range of variation of the other data for one or more attributes, they raise
bias and variance when there are many of them, and they are usually removed
or replaced, by the mean or, more robustly, by the median, or clipped as in
Winsor's average. This module flags them per feature and treats them, with
every statistic estimated on the *training* inputs alone, exactly as
:class:`jaxdl.data.Standardizer` estimates ``mu`` and ``sigma``: validation
and test data are judged by the training fences and never move them.

**Detection** (per feature ``j``, over the ``m`` training examples):

- ``"iqr"`` (Tukey's fences; Tukey 1977, *Exploratory Data Analysis*)::

      IQR_j = Q3_j - Q1_j
      low_j = Q1_j - k IQR_j,     high_j = Q3_j + k IQR_j       (k = threshold, default 1.5)

  ``Q1`` and ``Q3`` are the 25th and 75th percentiles with linear
  interpolation between order statistics, NumPy's default (``method="linear"``),
  which is also pandas' default and R's type 7. ``k = 1.5`` gives Tukey's
  "outliers", ``k = 3`` his "far out" values; 1.5 to 3 is the usual range.

- ``"zscore"`` (the three-sigma rule)::

      mu_j = (1/m) sum_i x_ij,    sigma_j^2 = (1/m) sum_i (x_ij - mu_j)^2      (ddof 0, as Standardizer)
      |x - mu_j| / sigma_j > t   <=>   x < mu_j - t sigma_j  or  x > mu_j + t sigma_j   (t default 3)

  so the z-score test is the fence ``[mu - t sigma, mu + t sigma]``; 2 to 4
  is the usual range of ``t``. The mean and std are themselves pulled by
  the outliers ("masking"): with ``ddof = 0`` no value of a sample of ``m``
  can lie more than ``(m - 1) / sqrt(m)`` stds from its mean, so ``t = 3``
  flags nothing at all when ``m <= 10``. The IQR fences are robust to this.

An entry ``x`` of feature ``j`` is an outlier when it lies strictly outside
the closed fence, ``x < low_j`` or ``x > high_j``. A feature that is
constant on the training split (``IQR = 0`` or ``sigma = 0``) has
``low = high``, so every other value of it is flagged (its z-score is
infinite); with sparse features (a pixel that is 0 in more than three
quarters of the training images) the IQR is 0 too, and every non-zero value
is flagged: look at the report before trusting a treatment on such data.
NaN compares false and is never flagged; :meth:`OutlierFence.fit` refuses
non-finite training inputs, and :meth:`jaxdl.data.Data.check` refuses
non-finite inputs in any split.

Inputs may be flat ``(N, D)`` or images ``(N, H, W, C)`` (any ``(N, ...)``):
each position of an example (each pixel of each channel) is a feature,
with its own fence.

**Treatment** (``how``):

- ``"remove"``: drop every *training* example with at least one outlier
  entry, with its target and weight. Validation and test examples are
  never dropped: they stand for the data the model will meet, and a
  test set trimmed of its hard cases would report an error on a
  distribution that does not exist.
- ``"mean"`` / ``"median"``: replace each outlier entry by the training
  mean / median of its feature, in every split.
- ``"winsorize"``: clip each entry to its training fence,
  ``min(max(x, low_j), high_j)``, in every split. This clips at the
  fences; the classical Winsor's average of the lecture replaces the
  extremes by the most extreme *remaining* values, and
  ``scipy.stats.mstats.winsorize`` clips a fixed fraction of each tail.

Flagging is invariant to a per-feature positive affine map (``a x + b``,
``a > 0``), so it flags the same entries before and after standardisation
(up to float rounding). The treatments do change the statistics: a
training split standardised before cleaning is no longer exactly centred
after it. Build with ``standardize=False``, clean, then standardise with
:class:`jaxdl.data.Standardizer` to have both.

Example:

>>> import numpy as np
>>> from jaxdl.clean import OutlierFence
>>> x = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
>>> fence = OutlierFence.fit(x, "iqr")          # Q1 = 2, Q3 = 4, IQR = 2
>>> fence.low.tolist(), fence.high.tolist()
([-1.0], [7.0])
>>> fence.mask(x)[:, 0].tolist()
[False, False, False, False, True]
>>> fence.apply(x, "winsorize")[:, 0].tolist()
[1.0, 2.0, 3.0, 4.0, 7.0]
>>> fence.apply(x, "median")[:, 0].tolist()
[1.0, 2.0, 3.0, 4.0, 3.0]
>>> fence.apply(x, "remove").shape
(4, 1)
"""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data import Data, DataError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "TREATMENTS",
    "OutlierFence",
    "OutlierReport",
    "clean_outliers",
    "fit_fence",
]

METHODS = ("iqr", "zscore")

TREATMENTS = ("remove", "mean", "median", "winsorize")

# k of Tukey's fences and t of the three-sigma rule.
DEFAULT_THRESHOLDS = {"iqr": 1.5, "zscore": 3.0}

_SPLITS = (("train", "x_train"), ("val", "x_val"), ("test", "x_test"))


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}{hint}")
    return value


def _threshold(method: str, threshold) -> Any:
    """The threshold to use: the method's default for ``None``; concrete values must be finite and >= 0."""
    if threshold is None:
        return DEFAULT_THRESHOLDS[method]
    if isinstance(threshold, jax.core.Tracer):
        return threshold
    value = None
    if not isinstance(threshold, (str, bytes, bool)):
        try:
            value = np.asarray(threshold, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    if value is None or value.shape != () or not np.isfinite(value) or value < 0:
        raise ValueError(f"threshold must be a finite number >= 0 (or None for the default: "
                         f"iqr {DEFAULT_THRESHOLDS['iqr']}, zscore {DEFAULT_THRESHOLDS['zscore']}), "
                         f"got {threshold!r}")
    return threshold


class OutlierFence(NamedTuple):
    """Per-feature outlier fences and centres, estimated on the training inputs only.

    An entry is an outlier when it lies strictly outside ``[low, high]``
    (see the module docstring for the fences of ``"iqr"`` and ``"zscore"``).

    Attributes:
      low, high: the fence of each feature, shape ``x.shape[1:]`` (one per
        pixel and channel for images), so they broadcast over any batch.
      mean: the training mean of each feature (what ``"mean"`` puts in).
      median: the training median of each feature (what ``"median"`` puts in).

    Being a ``NamedTuple`` of arrays it is a pytree: it passes into
    ``jax.jit``, and :meth:`mask` and :meth:`apply` (except ``"remove"``,
    whose output shape depends on the data) run inside it.
    """

    low: jax.Array
    high: jax.Array
    mean: jax.Array
    median: jax.Array

    @classmethod
    def fit(cls, x_train, method: str = "iqr", threshold=None) -> OutlierFence:
        """Estimate the fences from training inputs; see :func:`fit_fence`."""
        return fit_fence(x_train, method, threshold)

    def mask(self, x) -> jax.Array:
        """Which entries of ``x`` are outliers: ``(x < low) | (x > high)``, a bool array of ``x``'s shape."""
        return _mask(self, jnp.asarray(x))

    def example_mask(self, x) -> jax.Array:
        """Which examples of ``x`` hold at least one outlier entry: a bool array of shape ``(N,)``."""
        flagged = self.mask(x)
        return jnp.any(flagged.reshape(flagged.shape[0], -1), axis=1)

    def apply(self, x, how: str) -> jax.Array:
        """``x`` treated with the training statistics.

        Args:
          x: inputs ``(N, ...)`` of any split, of the per-example shape fitted on.
          how: ``"mean"`` or ``"median"`` (outlier entries become the
            training mean / median of their feature), ``"winsorize"``
            (``clip(x, low, high)``) or ``"remove"`` (the examples without
            outlier entries; host-side, not under ``jit``, since the number
            of rows depends on the data).

        Raises:
          ValueError: an unknown ``how``.
        """
        _check_choice("how", how, TREATMENTS)
        x = jnp.asarray(x, dtype=jnp.result_type(jnp.asarray(x).dtype, self.low.dtype))
        if how == "remove":
            keep = ~np.asarray(self.example_mask(x))
            return jnp.asarray(np.asarray(x)[keep])  # a host gather: no program to compile per shape
        return _treat(self, x, how)


def fit_fence(x_train, method: str = "iqr", threshold=None) -> OutlierFence:
    """Per-feature fences of the training inputs as an :class:`OutlierFence` (pure; jit-compatible).

    Args:
      x_train: training inputs ``(m, ...)``, examples along axis 0, at least one example.
      method: ``"iqr"`` (Tukey's fences, default) or ``"zscore"``; a static string.
      threshold: ``k`` of the IQR fences (default 1.5) or ``t`` of the
        z-score rule (default 3); ``None`` picks the method's default. A
        number or a 0-d array, possibly a tracer (checked only when
        concrete: finite and ``>= 0``).

    Raises:
      ValueError: an unknown ``method``, a bad ``threshold``, or
        concrete ``x_train`` that is empty, has no example axis, or holds
        NaN or inf.
    """
    _check_choice("method", method, METHODS)
    threshold = _threshold(method, threshold)
    if not isinstance(x_train, jax.core.Tracer):
        host = np.asarray(x_train)
        if host.ndim < 1 or host.shape[0] == 0:
            raise ValueError(f"x_train must hold at least one example along axis 0, got shape {host.shape}")
        if host.dtype.kind not in "biuf":
            raise ValueError(f"x_train must be numeric, got dtype {host.dtype}")
        bad = int(np.count_nonzero(~np.isfinite(host))) if host.dtype.kind == "f" else 0
        if bad:
            raise ValueError(f"x_train holds {bad} non-finite values (NaN or inf); fences need finite inputs")
    x_train = jnp.asarray(x_train, dtype=jnp.result_type(float))
    return _fit(x_train, jnp.asarray(threshold, x_train.dtype), method)


# Compiled whole: eagerly, the quantiles alone dispatch (and compile, per shape) a dozen small programs.
@jax.jit(static_argnames="method")
def _fit(x_train: jax.Array, threshold: jax.Array, method: str) -> OutlierFence:
    mean = jnp.mean(x_train, axis=0)
    q1, median, q3 = jnp.quantile(x_train, jnp.asarray([0.25, 0.5, 0.75], x_train.dtype), axis=0,
                                  method="linear")
    if method == "iqr":
        spread = q3 - q1
        low, high = q1 - threshold * spread, q3 + threshold * spread
    else:
        std = jnp.sqrt(jnp.mean(jnp.square(x_train - mean), axis=0))
        low, high = mean - threshold * std, mean + threshold * std
    return OutlierFence(low=low, high=high, mean=mean, median=median)


@jax.jit
def _mask(fence: OutlierFence, x: jax.Array) -> jax.Array:
    return (x < fence.low) | (x > fence.high)


@jax.jit(static_argnames="how")
def _treat(fence: OutlierFence, x: jax.Array, how: str) -> jax.Array:
    if how == "winsorize":
        return jnp.clip(x, fence.low, fence.high)
    return jnp.where(_mask(fence, x), fence.mean if how == "mean" else fence.median, x)


class OutlierReport(NamedTuple):
    """What :func:`clean_outliers` found and did.

    Attributes:
      method, how: the detection method and the treatment.
      threshold: the threshold used (the method's default when none was given).
      fence: the :class:`OutlierFence` fitted on the training inputs.
      entries: split (``"train"``, ``"val"``, ``"test"``) -> number of
        outlier entries before treatment.
      examples: split -> number of examples with at least one outlier entry.
      removed: training examples dropped (0 unless ``how == "remove"``).
    """

    method: str
    how: str
    threshold: float
    fence: OutlierFence
    entries: dict[str, int]
    examples: dict[str, int]
    removed: int


def clean_outliers(data: Data, method: str = "iqr", how: str = "remove",
                   threshold=None) -> tuple[Data, OutlierReport]:
    """Flag outliers per feature with fences fitted on the training inputs, then treat them.

    The fences (and the mean and median that replace outliers) are
    estimated on ``data.x_train`` only; see the module docstring for the
    math of ``"iqr"`` and ``"zscore"`` and of each treatment. ``"remove"``
    drops the flagged training examples together with their targets and
    weights (``w_train`` stays aligned) and leaves validation and test as
    they are: they are never dropped, since the test distribution must stay
    what it is. ``"mean"``, ``"median"`` and ``"winsorize"`` change entries,
    never rows, and apply the *training* statistics to every split. Only
    inputs are examined; targets (regression too) pass through untouched.
    Host-side (reads the arrays back).

    Args:
      data: checked :class:`jaxdl.data.Data`, classification or regression,
        inputs ``(N, D)`` or ``(N, H, W, C)``.
      method: ``"iqr"`` (default) or ``"zscore"``.
      how: ``"remove"`` (default), ``"mean"``, ``"median"`` or ``"winsorize"``.
      threshold: ``k`` (IQR, default 1.5) or ``t`` (z-score, default 3).

    Returns:
      The cleaned, checked ``Data`` (same task, classes and split seed) and
      an :class:`OutlierReport` counting the flagged entries and examples
      per split.

    Raises:
      ValueError: one line naming a bad ``method``, ``how`` or
        ``threshold`` and the valid choices.
      DataError: ``data`` fails :meth:`~jaxdl.data.Data.check` (e.g.
        non-finite inputs), or ``"remove"`` would drop every training example.

    Example:

    >>> import numpy as np
    >>> from jaxdl.data import Data
    >>> from jaxdl.clean import clean_outliers
    >>> x = np.random.default_rng(0).uniform(size=(50, 2))
    >>> x[0, 1], x[42, 0] = 40.0, -40.0          # rows 0 and 42 land in the training and validation splits
    >>> data = Data.from_arrays(x, (x[:, 0] > 0.5).astype(np.int64), fractions=(0.6, 0.2, 0.2),
    ...                         stratify=False, standardize=False, seed=0)
    >>> cleaned, report = clean_outliers(data, "iqr", "remove")
    >>> report.entries, report.removed
    ({'train': 1, 'val': 1, 'test': 0}, 1)
    >>> cleaned.x_train.shape, cleaned.x_val.shape        # the validation outlier stays
    ((29, 2), (10, 2))
    >>> cleaned, report = clean_outliers(data, "iqr", "winsorize")
    >>> cleaned.x_train.shape, float(cleaned.x_val.min()) == float(report.fence.low[0])
    ((30, 2), True)
    """
    _check_choice("method", method, METHODS)
    _check_choice("how", how, TREATMENTS)
    threshold = _threshold(method, threshold)
    if not isinstance(data, Data):
        raise ValueError(f"data must be a jaxdl.data.Data, got {type(data).__name__}")
    data.check()
    fence = fit_fence(data.x_train, method, threshold)
    entries, examples, flagged_rows = {}, {}, {}
    for split, name in _SPLITS:
        flagged = np.asarray(fence.mask(getattr(data, name)))
        rows = flagged.reshape(flagged.shape[0], -1).any(axis=1)
        entries[split] = int(np.count_nonzero(flagged))
        examples[split] = int(np.count_nonzero(rows))
        flagged_rows[split] = rows
    removed = 0
    if how == "remove":
        keep = np.flatnonzero(~flagged_rows["train"])
        if keep.size == 0:
            raise DataError(f"how='remove' would drop all {flagged_rows['train'].size} training examples "
                            f"({method} fences, threshold {float(threshold):g}); raise the threshold")
        removed = int(flagged_rows["train"].size - keep.size)
        names = ("x_train", "y_train") + (() if data.w_train is None else ("w_train",))
        changes = {name: jnp.asarray(np.asarray(getattr(data, name))[keep]) for name in names}
    else:
        changes = {name: fence.apply(getattr(data, name), how) for _, name in _SPLITS}
    report = OutlierReport(method=method, how=how, threshold=float(threshold), fence=fence,
                           entries=entries, examples=examples, removed=removed)
    return data.replace(**changes).check(), report
