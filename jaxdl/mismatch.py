"""Data mismatch: train, train-dev, dev and test splits that remember each example's source.

When the training data come from another distribution than the data the
model will serve (a large set of web images against a small set of images
from the users' app), the dev error mixes two gaps: the model overfitting
its training data (variance) and the training data differing from the dev
data (data mismatch). Holding out a *train-dev* set, data from the training
distribution that the model never trains on, separates them (lecture 001,
"data mismatch problem"; the name and the recipe are Andrew Ng's,
"Structuring Machine Learning Projects")::

    avoidable bias = training error  - human-level error
    variance       = train-dev error - training error
    data mismatch  = dev error       - train-dev error

and the problem to fix first is bias, then variance, then data mismatch
(:func:`jaxdl.metrics.diagnose_bias_variance`).

The four splits:

========== =============================================== =============
split      holds                                           trained on
========== =============================================== =============
train      training-distribution examples                  yes
train-dev  training-distribution examples, held out        no
dev        target-distribution examples (model selection)  no
test       target-distribution examples (held out)         no
========== =============================================== =============

:func:`mismatch_splits` cuts a source (training) distribution into train
and train-dev and a target distribution into dev and test;
:func:`from_sources` takes an explicit split name for every example, for any
other arrangement (Ng's variant that also trains on half of the target
data labels those examples ``"train"``). Either returns
:class:`MismatchSplits`: a :class:`jaxdl.data.Data` (train, dev as its
validation split, test) that :func:`jaxdl.train.train` reads unchanged, the
train-dev arrays beside it, and the per-example ``source`` codes.
:func:`diagnose` measures a trained model's errors on the splits and names
its problem; :func:`train_and_diagnose` trains and diagnoses in one call.

Lecture 001 also gives the other remedy for data from several
distributions: shuffle them together before splitting, so that train, dev
and test all mix every distribution (:meth:`jaxdl.data.Data.from_arrays` on
the concatenated arrays). That hides the mismatch rather than measuring it,
and tunes the model for a mixture instead of the data it will serve; keeping
dev and test from the target distribution only aims it at the target.

>>> import numpy as np
>>> from jaxdl import mismatch
>>> rng = np.random.default_rng(0)
>>> x_web, y_web = rng.normal(size=(1000, 4)), rng.integers(0, 2, 1000)
>>> x_app, y_app = rng.normal(1.0, 1.0, size=(200, 4)), rng.integers(0, 2, 200)
>>> splits = mismatch.mismatch_splits(x_web, y_web, x_app, y_app)
>>> splits.sizes
{'train': 900, 'train-dev': 100, 'dev': 100, 'test': 100}
>>> splits.data.x_val.shape, splits.x_train_dev.shape
((100, 4), (100, 4))
>>> mismatch.SOURCES[splits.source[0]], mismatch.SOURCES[splits.source[-1]] in ("dev", "test")
('train', True)
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxdl import metrics as metrics_lib, models, registry, train as train_lib
from jaxdl._xla import jit
from jaxdl.data import Data, DataError, Standardizer, _numeric, _to_float32, check_labels, split_indices

__all__ = [
    "SOURCES",
    "MismatchRun",
    "MismatchSplits",
    "SplitErrors",
    "diagnose",
    "from_sources",
    "mismatch_splits",
    "source_codes",
    "split_errors",
    "train_and_diagnose",
]

SOURCES = ("train", "train-dev", "dev", "test")
"""The split names; an example's code in :attr:`MismatchSplits.source` is its name's index here."""

_TRAIN, _TRAIN_DEV, _DEV, _TEST = range(len(SOURCES))

_EVAL_BATCH = 4096
"""Examples per forward pass when measuring errors (padded, so one compilation serves every split)."""


class MismatchSplits(NamedTuple):
    """Train, train-dev, dev and test splits, with the split every input example went to.

    Attributes:
      data: a :class:`jaxdl.data.Data` whose training split is ``train``,
        validation split is ``dev`` and test split is ``test``: what
        :func:`jaxdl.train.train` reads (it selects on dev, holds test out).
      x_train_dev, y_train_dev: the train-dev split, cast and standardised
        like the others (float32 inputs; int32 labels or float32 targets).
      source: int8 codes ``(N,)``, one per input example, indexing
        :data:`SOURCES`. For :func:`mismatch_splits` the inputs are the
        source examples followed by the target examples; for
        :func:`from_sources` they are its ``x``. Within each split the rows
        keep the inputs' order, so ``np.flatnonzero(source == code)`` (see
        :meth:`indices`) gives the input example behind every row.
      standardizer: the training split's statistics applied to all four
        splits, or ``None`` when built with ``standardize=False``; apply it
        to new target data before predicting on it.

    A ``NamedTuple`` and so a pytree; the ``Data`` inside is unchanged.
    """

    data: Data
    x_train_dev: jax.Array
    y_train_dev: jax.Array
    source: np.ndarray
    standardizer: Standardizer | None = None

    @property
    def sizes(self) -> dict[str, int]:
        """Examples per split, ``{"train": n, "train-dev": n, "dev": n, "test": n}``."""
        counts = np.bincount(np.asarray(self.source), minlength=len(SOURCES))
        return {name: int(count) for name, count in zip(SOURCES, counts)}

    def indices(self, name: str) -> np.ndarray:
        """Positions among the input examples of split ``name``'s rows, in row order."""
        return np.flatnonzero(np.asarray(self.source) == _code(name))

    def split(self, name: str) -> tuple[jax.Array, jax.Array]:
        """``(x, y)`` of split ``name`` (one of :data:`SOURCES`)."""
        code = _code(name)
        if code == _TRAIN_DEV:
            return self.x_train_dev, self.y_train_dev
        field = {_TRAIN: "train", _DEV: "val", _TEST: "test"}[code]
        return getattr(self.data, f"x_{field}"), getattr(self.data, f"y_{field}")


def _code(name: str) -> int:
    if name not in SOURCES:
        raise ValueError(f"unknown split {name!r}{registry.did_you_mean(name, SOURCES)}")
    return SOURCES.index(name)


# ---------------------------------------------------------------------------
# Building the splits


def source_codes(source) -> np.ndarray:
    """Split names (``"train"``, ``"train-dev"``, ``"dev"``, ``"test"``) or codes 0..3 as int8 codes.

    Raises:
      DataError: one line: not one-dimensional, an unknown name (with the
        closest known one), a code outside 0..3, or values that are neither
        names nor integer codes.
    """
    source = np.asarray(source)
    if source.ndim != 1:
        raise DataError(f"source must hold one split name or code per example, shape (N,), got {source.shape}")
    if source.dtype.kind == "S":
        source = source.astype(str)
    if source.dtype.kind in "UO":
        names = source.tolist()
        unknown = sorted({name for name in names if not isinstance(name, str) or name not in SOURCES}, key=repr)
        if unknown:
            first = unknown[0]
            raise DataError(f"source: {len(unknown)} unknown split name(s), e.g. {first!r}"
                            f"{registry.did_you_mean(first, SOURCES)}")
        lookup = {name: code for code, name in enumerate(SOURCES)}
        return np.fromiter((lookup[name] for name in names), dtype=np.int8, count=len(names))
    if source.dtype.kind in "iu":
        outside = (source < 0) | (source >= len(SOURCES))
        if np.any(outside):
            raise DataError(f"source: {int(np.count_nonzero(outside))} codes outside 0..{len(SOURCES) - 1} "
                            f"(e.g. {int(source[outside][0])}); codes index {SOURCES}")
        return source.astype(np.int8)
    raise DataError(f"source must hold split names {SOURCES} or their codes 0..{len(SOURCES) - 1}, "
                    f"got dtype {source.dtype}")


def _check_examples(where: str, x: np.ndarray, y: np.ndarray, task: str, num_classes: int | None) -> None:
    """One-line :class:`DataError` unless ``x, y`` are numeric, finite, paired examples for ``task``."""
    if x.ndim < 2:
        raise DataError(f"{where}: inputs need an example axis and a feature axis, got shape {x.shape} "
                        "(use x[:, None] for one feature)")
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"{where}: {x.shape[0]} inputs but targets of shape {y.shape}")
    inputs = _numeric(x)
    if inputs is None:
        raise DataError(f"{where}: inputs are not numeric (dtype {x.dtype})")
    if inputs.dtype.kind == "f":
        bad = ~np.isfinite(inputs.reshape(inputs.shape[0], -1)).all(axis=1)
        if np.any(bad):
            raise DataError(f"{where}: {int(np.count_nonzero(bad))} examples with non-finite inputs (NaN or inf), "
                            f"the first is example {int(np.flatnonzero(bad)[0])}")
    targets = _numeric(y)
    noun = "labels" if task == "classification" else "targets"
    if targets is None:
        raise DataError(f"{where}: {noun} are not numbers (dtype {y.dtype})")
    if task == "regression":
        if targets.dtype.kind == "f" and not np.all(np.isfinite(targets)):
            raise DataError(f"{where}: {int(np.count_nonzero(~np.isfinite(targets)))} non-finite target values")
        return
    check_labels(where, targets, num_classes)


def _resolve_task(task: str | None, num_classes: int | None, *labels: np.ndarray) -> tuple[str, int]:
    task = Data._infer_task(labels[0], task)
    if task == "regression":
        if num_classes not in (None, 0):
            raise ValueError(f"num_classes is for classification; regression has 0, got {num_classes}")
        return task, 0
    if num_classes is None:
        num_classes = Data._count_classes(labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return task, int(num_classes)


def _assemble(parts, source: np.ndarray, *, task: str, num_classes: int, standardize: bool,
              seed, hint: str = "") -> MismatchSplits:
    """:class:`MismatchSplits` from host ``(x, y)`` pairs in :data:`SOURCES` order (all checked already)."""
    for name, (x, _) in zip(SOURCES, parts):
        if x.shape[0] == 0:
            raise DataError(f"{name} split: no examples (empty split){hint}")
    (x_train, y_train), (x_train_dev, y_train_dev), (x_dev, y_dev), (x_test, y_test) = parts
    data = Data._build((x_train, y_train, x_dev, y_dev, x_test, y_test), None, task=task,
                       num_classes=num_classes, standardize=False, seed=seed)
    x_train_dev = jnp.asarray(_to_float32("train-dev split", "input values", _numeric(x_train_dev)))
    targets = _numeric(y_train_dev)
    if task == "classification":
        y_train_dev = jnp.asarray(targets.astype(np.int32))
    else:
        y_train_dev = jnp.asarray(_to_float32("train-dev split", "target values", targets))
    standardizer = None
    if standardize:
        standardizer, (x_train, x_train_dev, x_dev, x_test) = _standardize(
            data.x_train, (data.x_train, x_train_dev, data.x_val, data.x_test))
        data = data.replace(x_train=x_train, x_val=x_dev, x_test=x_test)
    return MismatchSplits(data, x_train_dev, y_train_dev, source, standardizer)


@jax.jit
def _standardize(x_train, splits):
    """Every split scaled with the training split's statistics only (one program, not one per operation)."""
    standardizer = Standardizer.fit(x_train)
    return standardizer, tuple(standardizer.apply(x) for x in splits)


def from_sources(x, y, source, *, task: str | None = None, num_classes: int | None = None,
                 standardize: bool = True, seed: int | None = None) -> MismatchSplits:
    """Splits from an explicit split name (or code) for every example.

    Example ``i`` goes to split ``source[i]``; within a split the examples
    keep their order. Nothing is shuffled or cut, so this is the round trip
    of any :class:`MismatchSplits`: ``from_sources(x, y, splits.source)``
    on the same inputs rebuilds it. Use it for arrangements
    :func:`mismatch_splits` does not make, e.g. Ng's speech example that
    trains on part of the target data too (label those examples ``"train"``
    and the train-dev set is then not purely source data, as in his recipe
    it is "the same distribution as the training set").

    Args:
      x: inputs ``(N, ...)``, numeric and finite.
      y: labels ``(N,)`` (classification) or targets ``(N, ...)`` (regression).
      source: ``(N,)`` split names from :data:`SOURCES` (str or bytes) or their codes 0..3.
      task: ``"classification"``, ``"regression"`` or ``None`` (inferred from
        ``y``'s dtype, as :meth:`jaxdl.data.Data.from_arrays` does).
      num_classes: classes (classification); default ``max(y) + 1``.
      standardize: scale every split with the training split's per-feature
        mean and std (population, ``ddof=0``; :class:`jaxdl.data.Standardizer`).
      seed: recorded as the data's ``split_seed`` (nothing here is random).

    Raises:
      DataError: one line: ``x``, ``y`` and ``source`` differ in length, a
        bad source name or code, non-finite or non-numeric inputs, bad
        labels, or an empty split (named).
      ValueError: an unknown ``task`` or a bad ``num_classes``.

    >>> import numpy as np
    >>> x = np.arange(8.0)[:, None]
    >>> splits = from_sources(x, np.array([0, 1] * 4),
    ...                       ["train", "train", "train", "train-dev", "dev", "train", "test", "dev"])
    >>> splits.sizes, splits.indices("dev").tolist()
    ({'train': 4, 'train-dev': 1, 'dev': 2, 'test': 1}, [4, 7])
    >>> from_sources(x, np.zeros(8, int), ["train"] * 7 + ["tset"])
    Traceback (most recent call last):
    ...
    jaxdl.data.DataError: source: 1 unknown split name(s), e.g. 'tset'; did you mean 'test'? known: dev, test, train, train-dev
    """
    x, y = np.asarray(x), np.asarray(y)
    codes = source_codes(source)
    if not (x.shape[:1] == y.shape[:1] == codes.shape):
        raise DataError(f"x, y and source must hold as many examples, got shapes {x.shape}, {y.shape} "
                        f"and {codes.shape}")
    task, num_classes = _resolve_task(task, num_classes, y)
    _check_examples("inputs", x, y, task, num_classes)
    parts = [(x[codes == code], y[codes == code]) for code in range(len(SOURCES))]
    return _assemble(parts, codes, task=task, num_classes=num_classes, standardize=standardize, seed=seed)


def _check_share(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {value!r}")
    return float(value)


def mismatch_splits(x_source, y_source, x_target, y_target, *, train_dev_fraction: float = 0.1,
                    dev_fraction: float = 0.5, seed: int = 0, standardize: bool = True,
                    stratify: bool | None = None, task: str | None = None,
                    num_classes: int | None = None) -> MismatchSplits:
    """Train and train-dev from the source distribution, dev and test from the target distribution.

    The setup of lecture 001's data-mismatch example and of Ng's: a large
    training distribution (web images; lecture 001's "distribution 1",
    100,000 high-quality examples) and a small target distribution, the data
    the model must do well on (app images; "distribution 2", 20,000
    low-quality ones). Dev and test come from the target only, so that
    model selection aims at it::

        source (N_s) -> train     (N_s - n_td)   |  target (N_t) -> dev   (n_dev)
                     -> train-dev (n_td)         |                -> test  (N_t - n_dev)

    with ``|n_td - train_dev_fraction N_s| < 1`` and ``|n_dev - dev_fraction
    N_t| < 1`` (per class when stratified; see
    :func:`jaxdl.data.split_indices`). The defaults hold out a tenth of the
    source as train-dev and halve the target into dev and test: 100,000 +
    20,000 examples become 90,000 train, 10,000 train-dev, 10,000 dev and
    10,000 test, so the train-dev and dev errors, whose difference is the
    data mismatch, are measured on as many examples. Statistics for
    standardisation come from the train split only.

    The source and target examples are shuffled with two keys split from
    ``seed``; each split keeps the inputs' order afterwards, and
    :attr:`MismatchSplits.source` lists the source examples first, then the
    target examples.

    Args:
      x_source, y_source: the training distribution's examples.
      x_target, y_target: the target distribution's examples, same
        per-example input shape.
      train_dev_fraction: share of the source held out as train-dev, in
        (0, 1); default 0.1.
      dev_fraction: share of the target that is dev (the rest is test), in
        (0, 1); default 0.5.
      seed: seeds both shuffles; recorded as the data's ``split_seed``.
      standardize: standardise with the training split's statistics (default ``True``).
      stratify: keep class proportions across train/train-dev and
        dev/test; default ``True`` for classification, ``False`` for regression.
      task: ``"classification"``, ``"regression"`` or ``None`` (infer from ``y_source``).
      num_classes: classes (classification); default ``max(y) + 1`` over source and target.

    Raises:
      DataError: one line naming the source or target data: shapes that
        disagree, non-numeric or non-finite inputs, bad labels, or a split
        left empty (with the sizes that emptied it).
      ValueError: a fraction outside (0, 1), ``stratify=True`` for
        regression, an unknown task.
    """
    train_dev_fraction = _check_share("train_dev_fraction", train_dev_fraction)
    dev_fraction = _check_share("dev_fraction", dev_fraction)
    x_source, y_source = np.asarray(x_source), np.asarray(y_source)
    x_target, y_target = np.asarray(x_target), np.asarray(y_target)
    task, num_classes = _resolve_task(task, num_classes, y_source, y_target)
    if stratify is None:
        stratify = task == "classification"
    elif stratify and task == "regression":
        raise ValueError("stratify=True needs class labels; regression targets are not stratified")
    _check_examples("source data", x_source, y_source, task, num_classes)
    _check_examples("target data", x_target, y_target, task, num_classes)
    if x_source.shape[1:] != x_target.shape[1:]:
        raise DataError(f"target data: inputs of shape {x_target.shape[1:]} per example, "
                        f"the source data have {x_source.shape[1:]}")
    if y_source.shape[1:] != y_target.shape[1:]:
        raise DataError(f"target data: targets of shape {y_target.shape[1:]} per example, "
                        f"the source data have {y_source.shape[1:]}")
    source_key, target_key = jax.random.split(jax.random.key(seed))
    num_source = int(x_source.shape[0])
    train_idx, train_dev_idx = (np.sort(part) for part in split_indices(
        y_source if stratify else num_source, (1 - train_dev_fraction, train_dev_fraction),
        key=source_key, stratify=stratify))
    dev_idx, test_idx = (np.sort(part) for part in split_indices(
        y_target if stratify else int(x_target.shape[0]), (dev_fraction, 1 - dev_fraction),
        key=target_key, stratify=stratify))
    source = np.empty(num_source + x_target.shape[0], dtype=np.int8)
    source[train_idx], source[train_dev_idx] = _TRAIN, _TRAIN_DEV
    source[num_source + dev_idx], source[num_source + test_idx] = _DEV, _TEST
    parts = [(x_source[train_idx], y_source[train_idx]), (x_source[train_dev_idx], y_source[train_dev_idx]),
             (x_target[dev_idx], y_target[dev_idx]), (x_target[test_idx], y_target[test_idx])]
    hint = (f" ({num_source} source examples at train_dev_fraction={train_dev_fraction:g}, "
            f"{x_target.shape[0]} target examples at dev_fraction={dev_fraction:g})")
    return _assemble(parts, source, task=task, num_classes=num_classes, standardize=standardize, seed=seed,
                     hint=hint)


# ---------------------------------------------------------------------------
# Errors and the diagnosis


class SplitErrors(NamedTuple):
    """A model's error on each split.

    Attributes:
      train, train_dev, dev, test: the errors; test is held out (reported,
        never used by the diagnosis).
      metric: what the errors are: ``"error rate"`` (``1 - accuracy``, a
        fraction; classification) or ``"rmse"`` (root mean squared error
        over examples and outputs, in the targets' units; regression).
    """

    train: float
    train_dev: float
    dev: float
    test: float
    metric: str

    def __str__(self) -> str:
        form = (lambda value: f"{value:.2%}") if self.metric == "error rate" else (lambda value: f"{value:.4g}")
        return (f"{self.metric}: train {form(self.train)}, train-dev {form(self.train_dev)}, "
                f"dev {form(self.dev)}, test {form(self.test)} (held out)")


@functools.partial(jax.jit, static_argnames=("graphdef", "classification"))
def _batch_sum(graphdef, params, batch_stats, rates, keys, x, y, count, *, classification: bool):
    """Correct predictions (classification) or summed squared errors (regression) over the first ``count`` rows."""
    outputs = nnx.merge(graphdef, params, batch_stats, rates, keys, copy=True)(x, train=False)
    valid = jnp.arange(x.shape[0]) < count
    if classification:
        return jnp.sum(jnp.where(valid, jnp.argmax(outputs, -1) == y, False))
    outputs = outputs.reshape(outputs.shape[0], -1)
    squared = jnp.square(outputs - jnp.asarray(y, outputs.dtype).reshape(outputs.shape[0], -1))
    return jnp.sum(jnp.where(valid[:, None], squared, 0.0))


def _check_params(expected, given) -> None:
    """``ValueError`` unless ``given`` has the tree and leaf shapes of the model's ``expected`` parameters."""
    mismatch = "result.params do not fit the model of this config and data (another model or data set?)"
    try:
        same_tree = jax.tree.structure(expected) == jax.tree.structure(given)
    except (TypeError, ValueError):
        same_tree = False
    if not same_tree:
        raise ValueError(mismatch)
    pairs = [(np.shape(e), np.shape(g)) for e, g in zip(jax.tree.leaves(expected), jax.tree.leaves(given))]
    if pairs and all(len(g) == len(e) + 1 and g[1:] == e for e, g in pairs):
        raise ValueError(f"result holds a population of {pairs[0][1][0]} trials; diagnose one: "
                         "jax.tree.map(lambda leaf: leaf[i], result)")
    if any(e != g for e, g in pairs):
        raise ValueError(mismatch)


def split_errors(config: train_lib.TrainConfig, result, splits: MismatchSplits) -> SplitErrors:
    """The errors of a trained model (``result.params``, ``result.batch_stats``) on all four splits.

    Classification: ``1 - accuracy`` of the arg-max predictions, a fraction.
    Regression: RMSE, ``sqrt(mean over examples and outputs of (yhat - y)^2)``,
    in the targets' units (the same number as the ``rmse`` metric). The
    model runs in inference mode (no dropout, batch-norm running statistics)
    in padded batches of 4,096, one compilation for all four splits.

    Args:
      config: the static choices the model was trained with (its
        architecture; the optimizer is not used).
      result: one trained model, e.g. a :class:`jaxdl.train.Result` (index
        a population's first).
      splits: the :class:`MismatchSplits` it was trained on.

    Raises:
      ValueError: ``result`` holds a population, or parameters of another model.
    """
    data = splits.data
    resolved = config.resolve(data)
    model = train_lib.build_model(resolved, data, jax.random.key(0))
    graphdef, params, batch_stats, rates, keys = models.split(model)
    _check_params(params, result.params)
    classification = data.task == "classification"
    named = [splits.split(name) for name in SOURCES]
    batch = min(_EVAL_BATCH, max(int(x.shape[0]) for x, _ in named))
    errors = []
    for x, y in named:
        size = int(x.shape[0])
        total = 0.0
        for start in range(0, size, batch):
            x_batch, y_batch = x[start:start + batch], y[start:start + batch]
            count = int(x_batch.shape[0])
            if count < batch:
                pad = batch - count
                x_batch = jnp.concatenate([x_batch, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
                y_batch = jnp.concatenate([y_batch, jnp.zeros((pad, *y.shape[1:]), y.dtype)])
            total += float(_batch_sum(graphdef, result.params, result.batch_stats, rates, keys, x_batch,
                                      y_batch, count, classification=classification))
        if classification:
            errors.append(1.0 - total / size)
        else:
            errors.append(math.sqrt(total / (size * max(1, math.prod(y.shape[1:])))))
    return SplitErrors(*errors, metric="error rate" if classification else "rmse")


def diagnose(config: train_lib.TrainConfig, result, splits: MismatchSplits, *,
             human_error: float | None = None, bayes_error: float | None = None,
             bias_threshold: float = 0.02, variance_threshold: float = 0.02,
             mismatch_threshold: float = 0.02) -> metrics_lib.BiasVarianceDiagnosis:
    """Avoidable bias, variance and data mismatch of a trained classifier, and what to fix first.

    Measures the error rates (``1 - accuracy``) on train, train-dev and dev
    (:func:`split_errors`) and hands them to
    :func:`jaxdl.metrics.diagnose_bias_variance` with the train-dev error::

        avoidable bias = train - human-level    variance = train-dev - train
        data mismatch  = dev - train-dev        (focus: bias, then variance, then mismatch)

    The test error is held out: it takes no part (get it from
    :func:`split_errors` or :func:`train_and_diagnose`).

    Args:
      config, result, splits: as :func:`split_errors`.
      human_error, bayes_error: the reference errors, fractions (default: none, so 0).
      bias_threshold, variance_threshold, mismatch_threshold: fractions (default 0.02 each).

    Raises:
      ValueError: regression data: its error (RMSE) is in the targets'
        units, not a fraction, and the thresholds have no meaning for it;
        compare :func:`split_errors`' four RMSEs instead.
    """
    _require_classification(splits)
    return _diagnose_errors(split_errors(config, result, splits), human_error=human_error,
                            bayes_error=bayes_error, bias_threshold=bias_threshold,
                            variance_threshold=variance_threshold, mismatch_threshold=mismatch_threshold)


def _require_classification(splits: MismatchSplits) -> None:
    if splits.data.task != "classification":
        raise ValueError("diagnose needs error rates (fractions in [0, 1]); regression has none, its RMSE is in "
                         "the targets' units: compare split_errors(...) train, train-dev and dev by hand")


def _diagnose_errors(errors: SplitErrors, *, human_error=None, bayes_error=None, **thresholds):
    return metrics_lib.diagnose_bias_variance(errors.train, errors.dev, human_error, bayes_error,
                                              train_dev_error=errors.train_dev, **thresholds)


class MismatchRun(NamedTuple):
    """What :func:`train_and_diagnose` returns.

    Attributes:
      result: the :class:`jaxdl.train.Result` of the run.
      errors: :class:`SplitErrors` on all four splits (test held out).
      diagnosis: the :class:`jaxdl.metrics.BiasVarianceDiagnosis`.
    """

    result: Any
    errors: SplitErrors
    diagnosis: metrics_lib.BiasVarianceDiagnosis

    def __str__(self) -> str:
        return f"{self.errors}\n{self.diagnosis}"


@functools.cache
def _jitted_train():
    # Built on first use, not at import: jaxdl's compiler options depend on the backend.
    return jit(train_lib.train, static_argnums=0)


def train_and_diagnose(config: train_lib.TrainConfig, hparams: train_lib.HParams, key, splits: MismatchSplits,
                       human_error: float | None = None, **thresholds) -> MismatchRun:
    """Train on ``splits.data`` with :func:`jaxdl.train.train` (jitted), then :func:`diagnose`.

    The run selects on dev (the data's validation split) and never sees
    train-dev or test. ``thresholds`` go to :func:`diagnose`
    (``bayes_error``, ``bias_threshold``, ``variance_threshold``,
    ``mismatch_threshold``).

    >>> import numpy as np
    >>> from jaxdl import train
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 700)
    >>> x = rng.normal(size=(700, 2)) + 4.0 * y[:, None]                # two well separated classes
    >>> splits = mismatch_splits(x[:500], y[:500], x[500:] - 2.0, y[500:])  # the target is shifted
    >>> config = train.TrainConfig(model_args={"hidden": ()}, epochs=10)
    >>> run = train_and_diagnose(config, train.HParams(learning_rate=0.05), jax.random.key(0), splits,
    ...                          human_error=0.0)
    >>> run.diagnosis.focus, run.diagnosis.data_mismatch > 0.1
    ('data mismatch', True)
    """
    _require_classification(splits)
    unknown = sorted(set(thresholds) - {"bayes_error", "bias_threshold", "variance_threshold",
                                        "mismatch_threshold"})
    if unknown:
        raise TypeError(f"train_and_diagnose got unexpected keyword argument(s) {', '.join(unknown)}")
    result = _jitted_train()(config, hparams, key, splits.data)
    errors = split_errors(config, result, splits)
    return MismatchRun(result, errors, _diagnose_errors(errors, human_error=human_error, **thresholds))
