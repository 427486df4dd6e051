r"""Populations over the training split: folds, bootstrap members and nested subsets, each one compiled program.

A sweep's population runs over hyperparameters; here it runs over *which
training examples* each member sees. Member :math:`p` trains on rows
``indices[p]`` of the training split, each weighted by ``weights[p]``
(times the data's own ``w_train``), with everything else (validation and
test splits, configuration, hyperparameters) shared. Every member's table
has the same length :math:`L`, so the population is one program::

    jax.jit(jax.vmap(member, in_axes=(0, 0, 0, None)))     # hparams, keys, (indices, weights), data

compiled once per configuration and data shape, sharded over the local
devices like a sweep (on one CPU, slices run side by side from host
threads, :func:`jaxdl.sweep.engine.run_in_parts`), and returning every
member's outputs on the whole training, validation and test splits.

A member with :math:`n < L` distinct examples repeats them cyclically to
fill its table, with weights :math:`(L / n) / c_i` for an example that
appears :math:`c_i` times, so that every example of a member carries the
same total weight :math:`L / n` per epoch (the weighted mean loss,
:func:`jaxdl.losses.weighted_mean`, makes the scale immaterial). Every
member takes the same number of optimizer steps, ``epochs`` times
:math:`\lfloor L / B \rfloor`: a small member makes many passes over its
examples, as a learning curve at a fixed budget of steps should.

Tables (host NumPy arrays, :class:`Members`):

- :func:`kfold`: member :math:`f` trains on every example outside fold
  :math:`f` (stratified folds from :func:`jaxdl.data.split_indices`);
- :func:`bootstrap`: member :math:`p` trains on :math:`m` rows drawn with
  replacement from a key, i.e. example weights :math:`c_{pi} \sim
  \mathrm{Multinomial}(m, 1/m)`, :math:`\sum_i c_{pi} = m`;
- :func:`nested_subsets`: the first :math:`n` examples of one permutation per
  seed, for each size :math:`n`, so smaller subsets lie inside larger ones.

Tools built on them: :func:`out_of_fold` and :func:`find_label_issues`
(mislabelled examples), :func:`clean_and_retrain`, :func:`bagging` and
:func:`learning_curve`.

Example::

    from jaxdl.data import Data
    from jaxdl.train import TrainConfig
    from jaxdl import resample

    data = Data.load("digits")
    config = TrainConfig(model_args={"hidden": (64,)}, epochs=10)
    oof = resample.out_of_fold(config, data, k=5)
    issues = resample.find_label_issues(oof.probabilities, data.y_train)
"""

from __future__ import annotations

import functools
import threading
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from jaxdl import metrics as metrics_lib
from jaxdl import models
from jaxdl import train as train_lib
from jaxdl.data import Data, split_indices
from jaxdl.sweep import engine

__all__ = [
    "Bagging",
    "LabelIssues",
    "LearningCurve",
    "Members",
    "OutOfFold",
    "Population",
    "bagging",
    "bootstrap",
    "clean_and_retrain",
    "find_label_issues",
    "kfold",
    "learning_curve",
    "nested_subsets",
    "out_of_fold",
    "train_members",
]

MAX_MEMBERS = 4096


class Members(NamedTuple):
    """Which training rows each member trains on: a population of ``P`` members.

    Attributes:
      indices: ``(P, L)`` int32 rows of the training split.
      weights: ``(P, L)`` float32 weight of each row (0 leaves a row out).
      sizes: ``(P,)`` number of distinct examples each member trains on.
    """

    indices: np.ndarray
    weights: np.ndarray
    sizes: np.ndarray

    @property
    def count(self) -> int:
        """``P``, the number of members."""
        return int(self.indices.shape[0])

    def counts(self, num_examples: int) -> np.ndarray:
        """``(P, m)``: the total weight of each training example in each member (bootstrap: its draw count)."""
        out = np.zeros((self.count, num_examples), np.float64)
        for row, (indices, weights) in enumerate(zip(self.indices, self.weights)):
            np.add.at(out[row], indices, weights)
        return out


def _tile(rows: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` repeated cyclically to ``length``, weighted so that each row's total weight is ``length / n``."""
    rows = np.asarray(rows, np.int64)
    indices = np.resize(rows, length)
    counts = np.bincount(indices, minlength=int(rows.max()) + 1)[indices]
    return indices.astype(np.int32), (length / rows.size / counts).astype(np.float32)


def _stack(tables: Sequence[np.ndarray], length: int) -> Members:
    tiled = [_tile(rows, length) for rows in tables]
    return Members(np.stack([t[0] for t in tiled]), np.stack([t[1] for t in tiled]),
                   np.asarray([len(rows) for rows in tables], np.int64))


def _check_count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high:,}, got {value!r}")
    return int(value)


def kfold(labels_or_size, k: int = 5, *, seed: int = 0, stratify: bool = True) -> tuple[Members, np.ndarray]:
    """``k`` members, member ``f`` trained on every example outside fold ``f``; and each example's fold.

    Folds are the parts of :func:`jaxdl.data.split_indices` with fractions
    ``1/k``: sizes within one of :math:`m/k`, and, stratified (the default,
    needs the labels), each class spread over the folds within one example.

    >>> members, folds = kfold(np.arange(10) % 2, k=5)
    >>> members.indices.shape, np.bincount(folds).tolist()
    ((5, 8), [2, 2, 2, 2, 2])
    >>> any(np.isin(members.indices[f], np.flatnonzero(folds == f)).any() for f in range(5))
    False
    """
    labels = None if isinstance(labels_or_size, (int, np.integer)) else np.asarray(labels_or_size)
    size = int(labels_or_size) if labels is None else labels.shape[0]
    k = _check_count("k", k, 2, max(2, size))
    if stratify and labels is None:
        raise ValueError("stratified folds need the labels; pass them, or stratify=False")
    parts = split_indices(labels if stratify else size, (1.0 / k,) * k, key=seed, stratify=stratify)
    folds = np.empty(size, np.int64)
    for fold, rows in enumerate(parts):
        folds[rows] = fold
    tables = [np.flatnonzero(folds != fold) for fold in range(k)]
    return _stack(tables, max(len(rows) for rows in tables)), folds


def bootstrap(num_examples: int, members: int, key=0) -> Members:
    r"""``members`` bootstrap samples: :math:`m` rows each, drawn uniformly with replacement from ``key``.

    Example :math:`i`'s weight in member :math:`p` is its draw count
    :math:`c_{pi}`, multinomial with :math:`\sum_i c_{pi} = m`; about
    :math:`1 - 1/e \approx 63\%` of the examples appear in each member.
    ``key`` is a ``jax.random`` key or an int seed.

    >>> b = bootstrap(100, 3, key=0)
    >>> b.counts(100).sum(axis=1).tolist()
    [100.0, 100.0, 100.0]
    """
    num_examples = _check_count("num_examples", num_examples, 1, 2**31 - 1)
    members = _check_count("members", members, 1, MAX_MEMBERS)
    key = jax.random.key(key) if isinstance(key, (int, np.integer)) else key
    indices = np.asarray(jax.random.randint(key, (members, num_examples), 0, num_examples), np.int32)
    sizes = np.asarray([np.unique(row).size for row in indices], np.int64)
    return Members(indices, np.ones(indices.shape, np.float32), sizes)


def default_sizes(num_examples: int, smallest: int = 32) -> list[int]:
    """``m / smallest, 2 m / smallest, ..., m``: sizes doubling from a ``1/smallest`` share to the whole split."""
    sizes = {max(1, round(num_examples / 2**j)) for j in range(int(np.log2(smallest)) + 1)}
    return sorted(sizes)


def nested_subsets(num_examples: int, sizes: Sequence[int] | None = None, seeds: Sequence[int] = (0,)) -> Members:
    """For each seed and each size ``n``, the first ``n`` examples of the seed's permutation (seed-major).

    Within one seed the subsets are nested: every example of a smaller one
    is in each larger one, so the curve's steps differ only by the examples
    added. ``sizes`` defaults to :func:`default_sizes`.

    >>> s = nested_subsets(64, [16, 64], seeds=(0,))
    >>> s.sizes.tolist(), bool(np.isin(s.indices[0], s.indices[1]).all())
    ([16, 64], True)
    """
    num_examples = _check_count("num_examples", num_examples, 1, 2**31 - 1)
    sizes = default_sizes(num_examples) if sizes is None else [int(n) for n in sizes]
    for n in sizes:
        _check_count("a subset size", n, 1, num_examples)
    tables = []
    for seed in seeds:
        order = np.asarray(jax.random.permutation(jax.random.key(int(seed)), num_examples))
        tables.extend(order[:n] for n in sizes)
    if len(tables) > MAX_MEMBERS:
        raise ValueError(f"{len(tables):,} members (sizes x seeds) exceed jaxdl.resample.MAX_MEMBERS = {MAX_MEMBERS:,}")
    return _stack(tables, num_examples)


# ---------------------------------------------------------------------------
# The population program


def _trained(config: train_lib.TrainConfig, data: Data, result: train_lib.Result) -> nnx.Module:
    """The model holding ``result``'s weights (traced; the initial weights it is built with are unused)."""
    graphdef, _, _, rates, keys = models.split(train_lib.build_model(config, data, jax.random.key(0)))
    return nnx.merge(graphdef, result.params, result.batch_stats, rates, keys, copy=True)


class _Progress:
    """The progress bar of the :func:`train_members` call in flight, advanced from inside its program.

    Each member reports its epochs through ``jax.debug.callback``; the bar
    shows the furthest epoch reported (members train in lockstep, slices side by side).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.bar = None

    def epoch(self, epoch, row) -> None:
        with self.lock:
            if self.bar is not None and int(epoch) > self.bar.n:
                self.bar.update(int(epoch) - self.bar.n)


_PROGRESS = _Progress()


@functools.lru_cache(maxsize=16)
def _program(config: train_lib.TrainConfig, progress: bool = False):
    """The jitted, vmapped member program of a resolved configuration (one per configuration per process)."""

    def member(hparams, key, table, data):
        indices, weights = table
        w = weights if data.w_train is None else data.w_train[indices] * weights
        own = data.replace(x_train=data.x_train[indices], y_train=data.y_train[indices], w_train=w)
        result = train_lib.train(config, hparams, key, own, on_epoch=_PROGRESS.epoch if progress else None)
        model = _trained(config, own, result)
        outputs = {split: model(x, train=False)
                   for split, x in (("train", data.x_train), ("val", data.x_val), ("test", data.x_test))}
        return result, outputs

    return jax.jit(jax.vmap(member, in_axes=(0, 0, 0, None)))


class Population(NamedTuple):
    """What :func:`train_members` returns; leaves carry the member axis first.

    Attributes:
      members: the :class:`Members` trained.
      result: the members' :class:`jaxdl.train.Result` (parameters, histories, metrics).
      outputs: ``{"train", "val", "test"}`` -> ``(P, N, out)`` NumPy outputs
        (logits for classification) of every member on every example of the split.
      config: the resolved configuration.
    """

    members: Members
    result: train_lib.Result
    outputs: dict
    config: train_lib.TrainConfig


def train_members(config: train_lib.TrainConfig, data: Data, members: Members,
                  hparams: train_lib.HParams | None = None, *, seed: int = 0, progress: bool = False) -> Population:
    """Train every member of ``members`` on its rows of ``data``'s training split, as one compiled program.

    Member ``p`` starts from key ``fold_in(key(seed), p)``. The program is
    compiled once per resolved configuration and data shape (repeated calls
    reuse it); the member axis is padded to a multiple of the local device
    count and sharded over them, and on one CPU it runs in slices side by
    side (:func:`jaxdl.sweep.engine.run_in_parts`). ``progress=True`` shows
    a bar of the epochs trained (a program of its own, compiled once too).

    Raises:
      ValueError: a table pointing outside the training split, negative
        weights, or the configuration's own problems (:func:`jaxdl.train.check`).
    """
    hparams = train_lib.HParams() if hparams is None else hparams
    config = train_lib.check(config, data.check(), [*hparams.optimizer, *hparams.schedule, *hparams.loss])
    size = members.count
    m = int(data.x_train.shape[0])
    if size < 1 or members.indices.ndim != 2 or members.weights.shape != members.indices.shape:
        raise ValueError(f"members need (P, L) indices and weights of one shape, P >= 1; got "
                         f"{members.indices.shape} and {members.weights.shape}")
    if members.indices.min() < 0 or members.indices.max() >= m:
        raise ValueError(f"member tables point outside the training split of {m} examples")
    if not np.all(np.isfinite(members.weights)) or members.weights.min() < 0:
        raise ValueError("member weights must be finite and non-negative")
    train_lib.check_memory(config, data.replace(x_train=data.x_train[:members.indices.shape[1]]), size)
    devices = len(jax.local_devices())
    padded = -(-size // devices) * devices
    rows = np.minimum(np.arange(padded), size - 1)  # padding repeats the last member; its results are dropped
    population, replicated = engine.population_shardings()
    put = lambda tree: jax.device_put(tree, population)
    hparams = put(hparams.batched(padded))
    keys = put(jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(padded)))
    table = put((jnp.asarray(members.indices[rows]), jnp.asarray(members.weights[rows])))
    program = _program(config, progress)
    with _PROGRESS.lock:
        if progress:
            _PROGRESS.bar = tqdm(total=config.epochs, unit="epoch", desc=f"{size} members", dynamic_ncols=True)
    try:
        result, outputs = engine.run_in_parts(program, engine.default_parts(padded), hparams, keys, table,
                                              jax.device_put(data, replicated))
        jax.block_until_ready(result)
        if progress:
            jax.effects_barrier()
    finally:
        with _PROGRESS.lock:
            if _PROGRESS.bar is not None:
                _PROGRESS.bar.close()
            _PROGRESS.bar = None
    result, outputs = jax.tree.map(lambda leaf: leaf[:size], jax.device_get((result, outputs)))
    return Population(members, result, {split: np.asarray(v) for split, v in outputs.items()}, config)


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    return np.asarray(jax.nn.softmax(jnp.asarray(outputs, jnp.float32), axis=-1), np.float64)


def _classification(data: Data, what: str) -> None:
    if data.task != "classification":
        raise ValueError(f"{what} needs a classification task, got {data.task}")


# ---------------------------------------------------------------------------
# Mislabelled examples


class OutOfFold(NamedTuple):
    """Out-of-fold predictions of the training split.

    Attributes:
      probabilities: ``(m, K)``: example ``i``'s class probabilities from the
        member that did not train on it.
      folds: ``(m,)`` each example's fold.
      population: the :class:`Population` of the ``k`` fold members.
    """

    probabilities: np.ndarray
    folds: np.ndarray
    population: Population


def out_of_fold(config: train_lib.TrainConfig, data: Data, k: int = 5, hparams: train_lib.HParams | None = None,
                *, seed: int = 0, weights: np.ndarray | None = None) -> OutOfFold:
    """Train ``k`` fold members as one program; each training example is predicted by the member that never saw it.

    ``weights`` (``(m,)``, optional) multiplies every member's example
    weights: 0 leaves an example out of training (it is still predicted).
    """
    _classification(data, "out-of-fold label checking")
    members, folds = kfold(np.asarray(data.y_train), k, seed=seed)
    if weights is not None:
        weights = np.asarray(weights, np.float32)
        if weights.shape != (data.x_train.shape[0],):
            raise ValueError(f"weights must have one entry per training example, shape ({data.x_train.shape[0]},)")
        members = members._replace(weights=members.weights * weights[members.indices])
    population = train_members(config, data, members, hparams, seed=seed)
    probabilities = _probabilities(population.outputs["train"][folds, np.arange(folds.size)])
    return OutOfFold(probabilities, folds, population)


class LabelIssues(NamedTuple):
    """Training examples whose given label looks wrong, most suspicious first.

    Attributes:
      indices: rows of the training split.
      given: their given labels.
      suspected: the label the out-of-fold model confidently predicts instead.
      self_confidence: the out-of-fold probability of the given label (ascending).
      thresholds: ``(K,)`` the per-class confidence thresholds :math:`t_j`.
    """

    indices: np.ndarray
    given: np.ndarray
    suspected: np.ndarray
    self_confidence: np.ndarray
    thresholds: np.ndarray

    def table(self):
        """A ``pandas.DataFrame`` of the flagged examples: index, given, suspected, self_confidence."""
        import pandas as pd

        return pd.DataFrame({"index": self.indices, "given": self.given, "suspected": self.suspected,
                             "self_confidence": self.self_confidence})


def find_label_issues(probabilities, labels) -> LabelIssues:
    r"""Flag examples whose given label gets a low out-of-fold probability, confident-learning style.

    Confident learning (Northcutt, Jiang and Chuang, JAIR 2021): class
    :math:`j`'s threshold is the mean out-of-fold probability of :math:`j`
    over the examples labelled :math:`j`,

    .. math:: t_j = \frac{1}{|X_{y=j}|} \sum_{x \in X_{y=j}} \hat p_j(x),

    and example :math:`x` is confidently of class
    :math:`j^*(x) = \arg\max_{j:\ \hat p_j(x) \ge t_j} \hat p_j(x)` (none when
    no class reaches its threshold). It is flagged when :math:`j^*` exists
    and differs from its given label: the off-diagonal of the confident
    joint. Flags are ranked by :math:`\hat p_{y}(x)`, the self-confidence,
    lowest first. A class without examples gets threshold 1.

    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.9, 0.1]])
    >>> issues = find_label_issues(p, [0, 0, 1, 1, 1])
    >>> issues.indices.tolist(), issues.suspected.tolist()
    ([4], [0])
    """
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or labels.shape != probabilities.shape[:1]:
        raise ValueError(f"probabilities must be (m, K) and labels (m,), got {probabilities.shape} and {labels.shape}")
    num_classes = probabilities.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    thresholds = np.ones(num_classes)
    for j in range(num_classes):
        if np.any(labels == j):
            thresholds[j] = probabilities[labels == j, j].mean()
    confident = np.where(probabilities >= thresholds, probabilities, -np.inf)
    suspected = np.argmax(confident, axis=1)
    has = np.isfinite(confident.max(axis=1))
    self_confidence = probabilities[np.arange(labels.size), labels]
    flagged = np.flatnonzero(has & (suspected != labels))
    flagged = flagged[np.argsort(self_confidence[flagged], kind="stable")]
    return LabelIssues(flagged, labels[flagged], suspected[flagged], self_confidence[flagged], thresholds)


def clean_and_retrain(config: train_lib.TrainConfig, data: Data, hparams: train_lib.HParams | None = None, *,
                      k: int = 5, rounds: int = 1, seed: int = 0) -> list[dict]:
    """Flag label issues out of fold, leave the flagged examples out (weight 0), retrain; ``rounds`` times.

    Each round runs :func:`out_of_fold` on the examples still kept, adds its
    flags to the removed set, and retrains one member on the whole training
    split with the removed examples at weight 0 (shapes never change, so
    every round reuses the two compiled programs). Round 0 is the model
    trained on everything.

    Returns:
      One dict per round: ``removed`` (training rows left out so far),
      ``issues`` (:class:`LabelIssues` of the round, ``None`` for round 0)
      and the retrained member's ``metrics`` (``val_*`` and held-out ``test_*``).
    """
    _classification(data, "clean_and_retrain")
    rounds = _check_count("rounds", rounds, 1, 100)
    m = int(data.x_train.shape[0])
    keep = np.ones(m, np.float32)
    whole = Members(np.arange(m, dtype=np.int32)[None], np.ones((1, m), np.float32), np.asarray([m]))

    def retrain(removed, issues):
        result = train_members(config, data, whole._replace(weights=keep[None]), hparams, seed=seed).result
        return {"removed": removed, "issues": issues,
                "metrics": {name: float(value[0]) for name, value in result.metrics.items()}}

    history = [retrain(np.zeros(0, np.int64), None)]
    for _ in range(rounds):
        oof = out_of_fold(config, data, k, hparams, seed=seed, weights=keep)
        issues = find_label_issues(oof.probabilities, np.asarray(data.y_train))
        fresh = issues.indices[keep[issues.indices] > 0]
        keep[fresh] = 0.0
        history.append(retrain(np.flatnonzero(keep == 0), issues))
    return history


# ---------------------------------------------------------------------------
# Bagging and learning curves


class Bagging(NamedTuple):
    """Bootstrap members and their ensembles.

    Attributes:
      sizes: ``1..k``: ensemble sizes.
      ensemble_accuracy: ``{"val", "test"}`` -> ``(k,)`` accuracy of the first
        ``j`` members' averaged probabilities.
      member_accuracy: ``{"val", "test"}`` -> ``(k,)`` each member's own accuracy.
      population: the :class:`Population` of bootstrap members.
    """

    sizes: np.ndarray
    ensemble_accuracy: dict
    member_accuracy: dict
    population: Population


def bagging(config: train_lib.TrainConfig, data: Data, k: int = 10, hparams: train_lib.HParams | None = None,
            *, seed: int = 0) -> Bagging:
    r"""Train ``k`` bootstrap members as one program; the ensemble of the first ``j`` averages their probabilities.

    .. math:: \hat p^{(j)}(x) = \frac{1}{j} \sum_{p=1}^{j} \mathrm{softmax}(f_p(x)),
              \qquad \hat y^{(j)}(x) = \arg\max_c \hat p^{(j)}_c(x)
    """
    _classification(data, "bagging")
    members = bootstrap(int(data.x_train.shape[0]), k, key=seed)
    population = train_members(config, data, members, hparams, seed=seed)
    ensemble, single = {}, {}
    for split, labels in (("val", data.y_val), ("test", data.y_test)):
        labels = np.asarray(labels)
        probabilities = _probabilities(population.outputs[split])
        running = np.cumsum(probabilities, axis=0)
        ensemble[split] = (running.argmax(axis=-1) == labels).mean(axis=1)
        single[split] = (probabilities.argmax(axis=-1) == labels).mean(axis=1)
    return Bagging(np.arange(1, k + 1), ensemble, single, population)


class LearningCurve(NamedTuple):
    """Training and validation error against the number of training examples.

    Attributes:
      sizes: ``(S,)`` training-set sizes.
      train_error, val_error: ``(seeds, S)`` errors (classification error;
        mean squared error for regression); a member's training error is on
        its own examples.
      human_error: the human-level / Bayes reference, or ``None``.
      diagnosis: :func:`jaxdl.metrics.diagnose_bias_variance` of the largest
        size's mean errors (classification; ``None`` for regression, whose
        squared errors are not rates).
      verdict: one sentence: will more data help? (for regression, read
        from the validation curve's last step: more than a 5% drop pays off).
      population: the :class:`Population` of subset members.
    """

    sizes: np.ndarray
    train_error: np.ndarray
    val_error: np.ndarray
    human_error: float | None
    diagnosis: Any
    verdict: str
    population: Population


def _errors(outputs: np.ndarray, targets: np.ndarray, task: str) -> np.ndarray:
    """``(P, N)`` per-example errors: 0/1 misclassification, or the squared error summed over outputs."""
    if task == "classification":
        return (outputs.argmax(axis=-1) != targets).astype(np.float64)
    return np.sum((outputs - targets.reshape(targets.shape[0], -1)) ** 2, axis=-1)


def verdict(diagnosis) -> str:
    """Whether more training data will help, from a bias/variance diagnosis (lecture 001's recipe).

    High variance alone: it will. High bias alone: it will not. Both: it
    will shrink the variance but not the training error, which is fixed first.
    """
    if diagnosis.high_bias and diagnosis.high_variance:
        # experiments/data_size: a 64-2-10 MLP (train 36.5%, dev 40.4%) still gained 4 points from doubling its data.
        return ("more data will help with the variance only: the model underfits and overfits; data will not lower "
                "its training error, so fix the bias first (a bigger model, longer training)")
    if diagnosis.high_bias:
        return ("more data will not help: the model underfits (high avoidable bias); "
                "use a bigger model, train longer or change the architecture")
    if diagnosis.high_variance:
        return "more data will help: the model overfits (high variance), the curves have not met"
    return "more data will help little: training and validation errors have met near the reference"


def learning_curve(config: train_lib.TrainConfig, data: Data, sizes: Sequence[int] | None = None,
                   seeds: Sequence[int] = (0, 1, 2), hparams: train_lib.HParams | None = None, *,
                   human_error: float | None = None, progress: bool = False) -> LearningCurve:
    """Train one member per (seed, size) on nested training subsets, as one program, and diagnose the largest.

    ``sizes`` defaults to :func:`default_sizes` (from 1/32 of the training
    split to all of it). Every member takes the same number of steps (see
    the module docstring). The verdict follows the diagnosis of the mean
    errors at the largest size against ``human_error`` (0 when not given).
    """
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("learning_curve needs at least one seed")
    m = int(data.x_train.shape[0])
    members = nested_subsets(m, sizes, seeds)
    population = train_members(config, data, members, hparams, seed=seeds[0], progress=progress)
    count = members.count // len(seeds)
    task = data.task
    train_errors = _errors(population.outputs["train"], np.asarray(data.y_train), task)
    inside = members.counts(m) > 0
    own = (train_errors * inside).sum(axis=1) / inside.sum(axis=1)
    val = _errors(population.outputs["val"], np.asarray(data.y_val), task).mean(axis=1)
    train_error, val_error = own.reshape(len(seeds), count), val.reshape(len(seeds), count)
    sizes = members.sizes[:count]
    if task == "classification":
        diagnosis = metrics_lib.diagnose_bias_variance(float(train_error[:, -1].mean()),
                                                       float(val_error[:, -1].mean()), human_error)
        said = verdict(diagnosis)
    else:  # squared errors are not error rates: no diagnosis, the curve's last step speaks instead
        diagnosis, said = None, _trend(sizes, val_error.mean(axis=0))
    return LearningCurve(sizes, train_error, val_error, human_error, diagnosis, said, population)


def _trend(sizes: np.ndarray, val_error: np.ndarray) -> str:
    """What the validation curve's last step says, for errors that are not rates (regression)."""
    if len(sizes) < 2:
        return "one size only: no trend to read"
    drop = (val_error[-2] - val_error[-1]) / val_error[-2] if val_error[-2] > 0 else 0.0
    step = f"validation error {drop:+.0%} from {int(sizes[-2])} to {int(sizes[-1])} examples".replace("+", "-", 1) \
        if drop > 0 else f"validation error did not fall from {int(sizes[-2])} to {int(sizes[-1])} examples"
    if drop > 0.05:
        return f"more data is still paying off: {step}"
    return f"more data will help little: {step}; the curve has flattened"
