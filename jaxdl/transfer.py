"""Transfer learning: freezing parameter groups, replacing the head, staged fine-tuning.

Lecture 004 ("Transfer learning") recommends reusing the lower layers of a
network trained on a similar task: replace the output layer, freeze every
reused layer and train the new head, then unfreeze one or two of the top
hidden layers and train them with a *smaller* learning rate so that the
reused weights are adjusted rather than wrecked.

Freezing is optimizer plumbing, so it is optax's partitioning: every
parameter gets the label ``"trainable"`` or ``"frozen"`` and
:func:`optax.partition` routes the first group through the wrapped optimizer
and the second through :func:`optax.set_to_zero`. A frozen parameter gets an
update of exactly zero, so it stays the same bit for bit, and the wrapped
optimizer keeps no state (moments) for it::

    optimizer = freeze(jaxdl.optim.adam(1e-3), params, frozen="blocks", unfrozen=-1)

Parameters are named by their path in the model, components joined by
``/``: ``blocks/0/layer/kernel``, ``blocks/1/norm/scale``, ``head/bias``.
A *selector* picks parameters by name:

- a string is a regular expression that must match whole path components
  somewhere in the name: ``"head"`` selects ``head/kernel`` and
  ``head/bias``; ``"blocks/1"`` selects hidden block 1 but not block 10;
  ``"kernel"`` every kernel; ``"blocks/\\d+/norm"`` every batch-norm layer;
- an integer selects one hidden block by index, negative from the top:
  ``-1`` is the block just below the head;
- a list or tuple selects the union of its members.

Every function here works on the pure split ``graphdef, params, batch_stats,
rates, keys = jaxdl.models.split(model)`` and trains with jaxdl's one
training loop: :func:`fit` is one jitted ``lax.scan`` over
:func:`jaxdl.train.train_epoch` (or, full-batch, :func:`jaxdl.train.train_step`)
with a :class:`jaxdl.train.Learner` whose optimizer is wrapped by :func:`freeze`,
and :func:`accuracy` is :func:`jaxdl.train.evaluate`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl import data as data_lib
from jaxdl import losses, metrics as metrics_lib, models, optim, schedules, train

__all__ = [
    "FROZEN",
    "TRAINABLE",
    "FitResult",
    "StagedResult",
    "accuracy",
    "fit",
    "freeze",
    "parameter_names",
    "replace_head",
    "select",
    "staged_fine_tune",
    "trainable_labels",
]

#: Label of parameters that the wrapped optimizer updates.
TRAINABLE = "trainable"
#: Label of parameters whose updates are set to zero.
FROZEN = "frozen"

Selector = Union[str, int, Sequence[Union[str, int]]]


# ---------------------------------------------------------------------------
# Names and selectors


def _key_name(key) -> str | None:
    if isinstance(key, jax.tree_util.DictKey):
        return str(key.key)
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    if isinstance(key, jax.tree_util.GetAttrKey):
        # nnx.Variable flattens to its ``value``; the variable's own name is enough.
        return None if key.name == "value" else key.name
    if isinstance(key, jax.tree_util.FlattenedIndexKey):
        return str(key.key)
    return str(key)


def _path_name(path) -> str:
    return "/".join(name for name in map(_key_name, path) if name is not None)


def parameter_names(tree) -> list[str]:
    """Names of the leaves of a parameter tree, in flattening order (``blocks/0/layer/kernel``, ...)."""
    return [_path_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _as_tuple(selector: Selector | None) -> tuple:
    if selector is None:
        return ()
    if isinstance(selector, (str, int, np.integer)):
        return (selector,)
    return tuple(selector)


def _num_blocks(names: Sequence[str]) -> int:
    indices = [int(m.group(1)) for m in map(re.compile(r"^blocks/(\d+)(?:/|$)").match, names) if m]
    return max(indices) + 1 if indices else 0


def _matcher(item, num_blocks: int) -> Callable[[str], bool]:
    if isinstance(item, (bool, np.bool_)):
        raise TypeError(f"a selector is a string, an int or a sequence of them, got {item!r}")
    if isinstance(item, (int, np.integer)):
        index = int(item)
        if not -num_blocks <= index < num_blocks:
            raise ValueError(
                f"block index {index} is out of range for a model with {num_blocks} hidden blocks"
            )
        item = f"blocks/{index % num_blocks}"
    if not isinstance(item, str):
        raise TypeError(f"a selector is a string, an int or a sequence of them, got {item!r}")
    pattern = re.compile(rf"(?:^|/)(?:{item})(?:/|$)")
    return lambda name: pattern.search(name) is not None


def select(tree, selector: Selector | None, *, strict: bool = True, num_blocks: int | None = None) -> list[bool]:
    """Which leaves of ``tree`` (in flattening order) the selector picks.

    Args:
      tree: a parameter tree (an ``nnx.State`` or any pytree).
      selector: a string pattern, a block index or a sequence of them (see
        the module docstring); ``None`` or ``()`` selects nothing.
      strict: raise ``ValueError`` if a member selects no leaf (a typo guard).
      num_blocks: number of hidden blocks that integer selectors index;
        ``None`` counts the ``blocks/<i>`` names in ``tree``.
    """
    names = parameter_names(tree)
    if num_blocks is None:
        num_blocks = _num_blocks(names)
    chosen = [False] * len(names)
    for item in _as_tuple(selector):
        matches = _matcher(item, num_blocks)
        hits = [matches(name) for name in names]
        if strict and not any(hits):
            raise ValueError(
                f"selector {item!r} matches no parameter; names are: {', '.join(names)}"
            )
        chosen = [c or h for c, h in zip(chosen, hits)]
    return chosen


def trainable_labels(
    params,
    frozen: Selector | None = (),
    unfrozen: Selector | None = (),
    *,
    strict: bool = True,
    num_blocks: int | None = None,
):
    """A tree like ``params`` whose leaves are :data:`TRAINABLE` or :data:`FROZEN`.

    A parameter is frozen if ``frozen`` selects it and ``unfrozen`` does not:
    ``unfrozen`` carves exceptions out of ``frozen``. So
    ``frozen=".*", unfrozen="head"`` trains only the head, and
    ``frozen="blocks", unfrozen=-1`` trains the head and the top block.
    This tree is what :func:`optax.partition` takes as ``param_labels``.
    ``strict`` and ``num_blocks`` are passed on to :func:`select`.
    """
    frozen_flags = select(params, frozen, strict=strict, num_blocks=num_blocks)
    unfrozen_flags = select(params, unfrozen, strict=strict, num_blocks=num_blocks)
    treedef = jax.tree.structure(params)
    labels = [FROZEN if f and not u else TRAINABLE for f, u in zip(frozen_flags, unfrozen_flags)]
    return jax.tree.unflatten(treedef, labels)


def freeze(
    optimizer: optax.GradientTransformation,
    params,
    frozen: Selector | None = (),
    *,
    unfrozen: Selector | None = (),
) -> optax.GradientTransformation:
    """Wrap ``optimizer`` so that the selected parameters never change.

    .. math::

        u_i = \\begin{cases} 0 & \\text{parameter } i \\text{ frozen} \\\\
              \\text{optimizer}(g)_i & \\text{otherwise} \\end{cases}

    Built with ``optax.partition({"trainable": optimizer, "frozen":
    optax.set_to_zero()}, trainable_labels(params, frozen, unfrozen))``; the
    optimizer's state covers only the trainable parameters. Like Keras'
    ``layer.trainable = False`` or PyTorch's ``requires_grad_(False)``, except
    that gradients are still computed and then dropped.

    Args:
      optimizer: any optax ``GradientTransformation`` (e.g. ``jaxdl.optim.adam(1e-3)``).
      params: the parameter tree the optimizer will see (only its structure is used).
      frozen: selector of the parameters to freeze (module docstring).
      unfrozen: selector of exceptions: parameters that stay trainable even if
        ``frozen`` selects them.
    """
    labels = trainable_labels(params, frozen, unfrozen)
    return optax.partition({TRAINABLE: optimizer, FROZEN: optax.set_to_zero()}, labels)


# ---------------------------------------------------------------------------
# A new head


def replace_head(model: models.MLP | models.CNN, num_classes: int, key) -> models.MLP | models.CNN:
    """A copy of ``model`` whose output layer is a fresh ``nnx.Linear`` with ``num_classes`` outputs.

    The new head is initialised from ``key`` with the configuration's
    initializer; every hidden block (parameters and batch-norm statistics)
    is copied from ``model``, which is left untouched.
    """
    if int(num_classes) <= 0:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    config = dataclasses.replace(model.config, out_features=int(num_classes))
    new_model = models.build(config, key)
    nnx.update(new_model.blocks, nnx.state(model.blocks))
    return new_model


# ---------------------------------------------------------------------------
# A small training loop with frozen groups


class FitResult(NamedTuple):
    """Output of :func:`fit`.

    Attributes:
      model: the trained model (a new object; the input model is unchanged).
      losses: mean training loss of each epoch, shape ``(epochs,)``.
    """

    model: Any
    losses: jax.Array


def _keep_frozen(labels, new, old):
    return jax.tree.map(lambda label, n, o: o if label == FROZEN else n, labels, new, old)


def _holding_frozen_statistics(stat_labels) -> Callable:
    """A :attr:`jaxdl.train.Learner.postprocess` that restores the frozen layers' batch statistics."""

    def postprocess(new: train.TrainState, old: train.TrainState) -> train.TrainState:
        return new._replace(batch_stats=_keep_frozen(stat_labels, new.batch_stats, old.batch_stats))

    return postprocess


@functools.partial(
    jax.jit, static_argnames=("graphdef", "optimizer", "frozen", "unfrozen", "epochs", "batch_size")
)
def _fit(
    graphdef, params, batch_stats, rates, keys, x, y, key, dropout_rate, learning_rate,
    *, optimizer, frozen, unfrozen, epochs, batch_size,
):
    if learning_rate is not None:
        optimizer = optimizer(learning_rate=learning_rate)
    transform = freeze(optimizer, params, frozen, unfrozen=unfrozen)
    # Batch-norm running statistics are not parameters, so the optimizer cannot
    # hold them still; those of frozen layers are restored after every step.
    num_blocks = _num_blocks(parameter_names(params))
    stat_labels = trainable_labels(batch_stats, frozen, unfrozen, strict=False, num_blocks=num_blocks)
    learner = train.Learner(
        graphdef, rates, keys, transform, losses.cross_entropy,
        dropout_rate=dropout_rate, postprocess=_holding_frozen_statistics(stat_labels),
    )
    state = train.TrainState(params, batch_stats, transform.init(params), schedules.plateau_init(1.0), key)

    if batch_size is None:
        # Full batch: one step per epoch on every example, in order; nothing to shuffle.
        def epoch(state, count):
            return train.train_step(learner, state, x, y, count=count)
    else:
        steps_per_epoch = data_lib.steps_per_epoch(x.shape[0], batch_size)

        def epoch(state, index):
            return train.train_epoch(learner, state, x, y, batch_size=batch_size,
                                     first_step=index * steps_per_epoch)

    state, stats = jax.lax.scan(epoch, state, jnp.arange(epochs))
    return state.params, state.batch_stats, stats["loss"]


def _hashable(selector: Selector | None) -> tuple:
    return tuple(int(s) if isinstance(s, (int, np.integer)) else s for s in _as_tuple(selector))


def fit(
    model,
    x,
    y,
    optimizer: str | Callable[..., optax.GradientTransformation] | optax.GradientTransformation,
    *,
    epochs: int,
    key,
    learning_rate=None,
    batch_size: int | None = None,
    frozen: Selector | None = (),
    unfrozen: Selector | None = (),
    dropout_rate=0.0,
) -> FitResult:
    """Train ``model`` on ``(x, y)`` with softmax cross-entropy, keeping ``frozen`` groups fixed.

    One jitted program: ``lax.scan`` over epochs, each one
    :func:`jaxdl.train.train_epoch`, a ``lax.scan`` over shuffled mini-batches
    (:func:`jaxdl.data.epoch_batches`; the last partial batch is dropped), or
    with ``batch_size=None`` one :func:`jaxdl.train.train_step` on the whole
    set. Frozen parameters and the batch-norm statistics of frozen layers
    come back bit for bit as they went in.

    The optimizer is either built (an optax ``GradientTransformation``, whose
    hyperparameters are then compiled in) or a :mod:`jaxdl.optim` name or
    factory plus ``learning_rate``, which stays an array argument: calls
    that differ only in learning rate, data values, key or weights reuse one
    compiled program.

    Args:
      model: an ``MLP`` or ``CNN``; it is not modified.
      x, y: inputs and integer labels.
      optimizer: a ``GradientTransformation``, or a name (``"adam"``) or
        factory called as ``factory(learning_rate=learning_rate)``.
      epochs: number of passes over the data (static).
      key: PRNG key for shuffling and dropout.
      learning_rate: required with a name or factory, not allowed with a
        built ``GradientTransformation``.
      batch_size: mini-batch size (static); ``None`` trains on the whole set each step.
      frozen, unfrozen: selectors, as in :func:`freeze`.
      dropout_rate: rate of the model's :class:`jaxdl.models.Dropout` layers during
        training (may be an array); a model without them ignores it. The
        returned model keeps the input's own dropout variables.
    """
    if int(epochs) <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if isinstance(optimizer, str):
        optimizer = optim.get(optimizer)
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None:
            raise ValueError("learning_rate is given by the built optimizer; pass a name or factory to set it")
    elif learning_rate is None:
        raise ValueError("an optimizer name or factory needs a learning_rate")
    else:
        learning_rate = jnp.asarray(learning_rate, jnp.float32)
    graphdef, params, batch_stats, rates, keys = models.split(model)
    # Validate selectors eagerly, outside jit, so a typo fails with a clean error.
    trainable_labels(params, frozen, unfrozen)
    params, batch_stats, epoch_losses = _fit(
        graphdef,
        params,
        batch_stats,
        rates,
        keys,
        jnp.asarray(x),
        jnp.asarray(y, jnp.int32),
        key,
        jnp.asarray(dropout_rate, jnp.float32),
        learning_rate,
        optimizer=optimizer,
        frozen=_hashable(frozen),
        unfrozen=_hashable(unfrozen),
        epochs=int(epochs),
        batch_size=None if batch_size is None else int(batch_size),
    )
    return FitResult(nnx.merge(graphdef, params, batch_stats, rates, keys), epoch_losses)


@functools.partial(jax.jit, static_argnames="graphdef")
def _accuracy(graphdef, params, batch_stats, rates, keys, x, y):
    # Evaluation takes no optimizer step: the identity stands in for one.
    learner = train.Learner(graphdef, rates, keys, optax.identity(), losses.cross_entropy,
                            metrics={"accuracy": metrics_lib.classification_accuracy})
    return train.evaluate(learner, params, batch_stats, x, y)["accuracy"]


def accuracy(model, x, y) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (inference mode)."""
    graphdef, params, batch_stats, rates, keys = models.split(model)
    return float(_accuracy(graphdef, params, batch_stats, rates, keys, jnp.asarray(x), jnp.asarray(y, jnp.int32)))


# ---------------------------------------------------------------------------
# Staged fine-tuning


class StagedResult(NamedTuple):
    """Output of :func:`staged_fine_tune`.

    Attributes:
      model: the model after both stages.
      head_model: the model after stage 1 (new head trained, base frozen).
      head_losses: epoch losses of stage 1.
      fine_tune_losses: epoch losses of stage 2.
    """

    model: Any
    head_model: Any
    head_losses: jax.Array
    fine_tune_losses: jax.Array


def staged_fine_tune(
    pretrained,
    x,
    y,
    *,
    num_classes: int,
    key,
    optimizer: str | Callable[..., optax.GradientTransformation] = "adam",
    head_learning_rate=1e-2,
    head_epochs: int = 100,
    fine_tune_learning_rate=1e-3,
    fine_tune_epochs: int = 100,
    unfreeze_top: int = 1,
    batch_size: int | None = None,
) -> StagedResult:
    """Reuse a pretrained model for a new task in the two stages of lecture 004.

    1. Replace the head with a fresh one of ``num_classes`` outputs
       (:func:`replace_head`), freeze every hidden block and train only the
       head at ``head_learning_rate``.
    2. Unfreeze the top ``unfreeze_top`` hidden blocks and train them with the
       head at the smaller ``fine_tune_learning_rate`` (typically 10x lower),
       so that the reused features are adjusted, not wrecked. The blocks
       below stay frozen bit for bit. ``fine_tune_epochs=0`` or ``unfreeze_top=0`` skips the stage.

    Args:
      pretrained: an ``MLP`` or ``CNN`` trained on the source task (unchanged).
      x, y: the (small) training set of the target task.
      num_classes: classes of the target task.
      key: PRNG key for the new head and the shuffling.
      optimizer: a :mod:`jaxdl.optim` name or a factory taking ``learning_rate``.
      head_learning_rate, head_epochs: stage 1.
      fine_tune_learning_rate, fine_tune_epochs: stage 2.
      unfreeze_top: how many of the top hidden blocks stage 2 trains.
      batch_size: mini-batch size; ``None`` for full-batch steps.
    """
    num_blocks = len(pretrained.blocks)
    if not 0 <= unfreeze_top <= num_blocks:
        raise ValueError(f"unfreeze_top must be in [0, {num_blocks}], got {unfreeze_top}")
    head_key, stage1_key, stage2_key = jax.random.split(key, 3)
    model = replace_head(pretrained, num_classes, head_key)
    base = "blocks" if num_blocks else ()
    stage1 = fit(
        model, x, y, optimizer, learning_rate=head_learning_rate, epochs=head_epochs,
        batch_size=batch_size, frozen=base, key=stage1_key,
    )
    if fine_tune_epochs == 0 or unfreeze_top == 0:
        return StagedResult(stage1.model, stage1.model, stage1.losses, jnp.zeros((0,)))
    top = tuple(range(-unfreeze_top, 0))
    stage2 = fit(
        stage1.model, x, y, optimizer, learning_rate=fine_tune_learning_rate, epochs=fine_tune_epochs,
        batch_size=batch_size, frozen=base, unfrozen=top, key=stage2_key,
    )
    return StagedResult(stage2.model, stage1.model, stage1.losses, stage2.losses)
