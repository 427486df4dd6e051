"""Practical checks before and during training (lecture 003, "practical tips").

Each check returns its numbers, a boolean ``ok`` and a plain-language
``verdict``; :func:`report` runs them all and prints a table.

- :func:`initial_loss`: at initialisation a ``C``-class softmax classifier
  should be near chance, ``-log(1/C) = log C`` (2.303 for ten classes).
- :func:`overfit_batch`: a network must be able to fit 32 examples to 100%
  accuracy; if it cannot, the bug is in the model, loss or data plumbing,
  not in the amount of data.
- :func:`dead_units`: ReLU units that output zero for every example get no
  gradient and never recover.
- :func:`update_ratios`: one optimizer step should move each weight matrix
  by about ``1e-3`` of its norm (lecture: "0.001 - 0.01 of weights").
- :func:`activation_statistics`: mean, spread, saturation and zeros of each
  hidden layer's activations, to spot bad initialisation.

The checks see a model's hidden layers through :func:`layer_outputs`, a
forward pass that walks ``model.blocks`` as :class:`jaxdl.models.MLP` and
:class:`jaxdl.models.CNN` do and records each block's pre-activation,
activation and output. Every computation is jitted on the pure split
``graphdef, params, batch_stats, rates, keys = jaxdl.models.split(model)``;
the model passed in is never modified. Losses, accuracies and optimizer
steps are those of jaxdl's one training loop (:func:`jaxdl.train.train_step`
and :func:`jaxdl.train.evaluate`, with softmax cross-entropy and accuracy).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl import losses, metrics as metrics_lib, models, optim, schedules, train

__all__ = [
    "ActivationCheck",
    "DeadUnitsCheck",
    "InitialLossCheck",
    "LayerOutputs",
    "LayerStatistics",
    "OverfitCheck",
    "Report",
    "UpdateRatioCheck",
    "activation_statistics",
    "dead_units",
    "initial_loss",
    "layer_outputs",
    "overfit_batch",
    "report",
    "update_ratios",
]

Optimizer = Union[str, Callable[..., optax.GradientTransformation], optax.GradientTransformation]

# Output ranges of the saturating activations; a unit is saturated within
# (1 - saturation) of either end, scaled to the range (|tanh| > 0.99,
# sigmoid < 0.01 or > 0.99 for the default 0.99).
_SATURATING = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0)}


def _split(model):
    """``graphdef, params, batch_stats, rates, keys`` (:func:`jaxdl.models.split`)."""
    return models.split(model)


def _learner(graphdef, rates, keys, optimizer: optax.GradientTransformation) -> train.Learner:
    """A :class:`jaxdl.train.Learner` for softmax cross-entropy and accuracy, without regularisation or dropout."""
    return train.Learner(graphdef, rates, keys, optimizer, losses.cross_entropy,
                         metrics={"accuracy": metrics_lib.classification_accuracy})


def _initial_state(learner: train.Learner, params, batch_stats, opt_state=None) -> train.TrainState:
    # The key only feeds dropout masks, drawn at rate 0.
    if opt_state is None:
        opt_state = learner.optimizer.init(params)
    return train.TrainState(params, batch_stats, opt_state, schedules.plateau_init(1.0), jax.random.key(0))


def _resolve_optimizer(optimizer: Optimizer, learning_rate):
    """``(static optimizer or factory, dynamic learning rate or None)``."""
    if isinstance(optimizer, str):
        optimizer = optim.get(optimizer)
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None:
            raise ValueError("learning_rate is given by the built optimizer; pass a name or factory to set it")
        return optimizer, None
    if learning_rate is None:
        raise ValueError("an optimizer name or factory needs a learning_rate")
    return optimizer, jnp.asarray(learning_rate, jnp.float32)


def _build_optimizer(optimizer, learning_rate):
    return optimizer if learning_rate is None else optimizer(learning_rate=learning_rate)


# ---------------------------------------------------------------------------
# Looking inside: per-block outputs


class LayerOutputs(NamedTuple):
    """What each hidden block computes on one batch (inference mode, no dropout).

    Attributes:
      names: ``"blocks/0"``, ``"blocks/1"``, ... (the parameter paths).
      pre_activations: input of each block's activation: the layer's output,
        after batch norm when it is placed ``"before"``.
      activations: output of each block's activation function, before a
        batch norm placed ``"after"``, pooling and dropout. For maxout it is
        the maximum over the pieces.
      outputs: what each block passes on to the next.
      logits: the head's output; equal to ``model(x)``.
    """

    names: tuple[str, ...]
    pre_activations: tuple[jax.Array, ...]
    activations: tuple[jax.Array, ...]
    outputs: tuple[jax.Array, ...]
    logits: jax.Array


def _walk(model, x, use_running_average: bool):
    # Mirrors models._forward and models._Block.__call__ with train=False,
    # keeping the intermediate values that those do not return.
    if isinstance(model, models.MLP):
        x = x.reshape(x.shape[0], -1)
    elif isinstance(model, models.CNN) and x.ndim == 2:
        x = x.reshape(x.shape[0], *model.config.input_shape)
    pre_activations, activations, outputs = [], [], []
    for block in model.blocks:
        if isinstance(block.layer, nnx.Linear) and x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        z = block.layer(x)
        if block.norm_position == "before":
            z = block.norm(z, use_running_average=use_running_average)
        a = block.activation(z, block.pieces) if block.pieces > 1 else block.activation(z)
        x = a
        if block.norm_position == "after":
            x = block.norm(x, use_running_average=use_running_average)
        if block.pool:
            x = nnx.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
        pre_activations.append(z)
        activations.append(a)
        outputs.append(x)
    logits = model.head(x.reshape(x.shape[0], -1))
    return tuple(pre_activations), tuple(activations), tuple(outputs), logits


@functools.partial(jax.jit, static_argnames=("graphdef", "use_running_average"))
def _layer_outputs(graphdef, params, batch_stats, rates, keys, x, use_running_average):
    return _walk(nnx.merge(graphdef, params, batch_stats, rates, keys), x, use_running_average)


def layer_outputs(model, x, *, use_running_average: bool = True) -> LayerOutputs:
    """Run ``model`` on ``x`` and record every hidden block's pre-activation, activation and output.

    Args:
      model: a :class:`jaxdl.models.MLP` or :class:`jaxdl.models.CNN` (not modified).
      x: a batch of inputs.
      use_running_average: batch norm uses its running statistics (inference,
        the default) or, with ``False``, the statistics of this batch, as in
        training; the running statistics are not updated either way.
    """
    graphdef, params, batch_stats, rates, keys = _split(model)
    pre, act, out, logits = _layer_outputs(graphdef, params, batch_stats, rates, keys, jnp.asarray(x),
                                           use_running_average)
    names = tuple(f"blocks/{i}" for i in range(len(model.blocks)))
    return LayerOutputs(names, pre, act, out, logits)


# ---------------------------------------------------------------------------
# Initial loss


class InitialLossCheck(NamedTuple):
    """Result of :func:`initial_loss`: ``loss`` against ``expected = log(num_classes)``."""

    loss: float
    expected: float
    num_classes: int
    tolerance: float
    ok: bool
    verdict: str


@functools.partial(jax.jit, static_argnames="graphdef")
def _evaluate(graphdef, params, batch_stats, rates, keys, x, y):
    # Evaluation takes no optimizer step: the identity stands in for one.
    learner = _learner(graphdef, rates, keys, optax.identity())
    return train.evaluate(learner, params, batch_stats, x, y)


def initial_loss(model, x, y, *, num_classes: int | None = None, tolerance: float = 0.5) -> InitialLossCheck:
    """Check that an untrained classifier's loss is near chance, ``-log(1/C) = log C``.

    With small random weights the logits are close to each other, softmax is
    nearly uniform and the cross-entropy of every example is about
    ``log C``: 2.303 for ten classes (lecture 003, where a Keras model starts
    at 2.39). Much higher means the initial outputs are confidently wrong
    (weights of the last layers too large, inputs not normalised); much
    lower means the model already knows the answer, which points to a bug.
    The loss is the plain cross-entropy, without regularisation or dropout.

    Args:
      model: the freshly initialised model.
      x, y: a batch and its integer labels.
      num_classes: ``C``; defaults to the model's ``config.out_features``.
      tolerance: ``ok`` when ``|loss - log C| <= tolerance`` (nats; default 0.5).
    """
    num_classes = int(num_classes if num_classes is not None else model.config.out_features)
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    graphdef, params, batch_stats, rates, keys = _split(model)
    measured = _evaluate(graphdef, params, batch_stats, rates, keys, jnp.asarray(x), jnp.asarray(y, jnp.int32))
    loss, expected = float(measured["loss"]), math.log(num_classes)
    gap = loss - expected
    where = f"initial loss {loss:.3f}, chance -log(1/{num_classes}) = {expected:.3f}"
    if not math.isfinite(loss):
        ok, verdict = False, f"{where}: not finite; check the inputs and the initialisation"
    elif abs(gap) <= tolerance:
        ok, verdict = True, f"{where}: the outputs start near uniform, as they should"
    elif gap > 0:
        ok, verdict = False, (
            f"{where}: too high by {gap:.2f}; the initial outputs are confidently wrong: "
            "shrink the last layer's initial weights, normalise the inputs, turn off regularisation"
        )
    else:
        ok, verdict = False, (
            f"{where}: better than chance by {-gap:.2f} before training; suspicious: "
            "check num_classes, the labels and the loss"
        )
    return InitialLossCheck(loss, expected, num_classes, float(tolerance), ok, verdict)


# ---------------------------------------------------------------------------
# Overfitting one small batch


class OverfitCheck(NamedTuple):
    """Result of :func:`overfit_batch`.

    Attributes:
      steps_to_fit: optimizer steps after which the batch was first classified
        100% correctly (0: already at initialisation); ``None`` if never.
      loss, accuracy: on the batch after the last step.
      losses, accuracies: before each step, then after the last one
        (``max_steps + 1`` values each, NumPy arrays).
      ok: the batch reached 100% accuracy.
      verdict: a sentence.
    """

    steps_to_fit: int | None
    loss: float
    accuracy: float
    losses: np.ndarray
    accuracies: np.ndarray
    ok: bool
    verdict: str


@functools.partial(jax.jit, static_argnames=("graphdef", "optimizer", "max_steps"))
def _overfit(graphdef, params, batch_stats, rates, keys, x, y, learning_rate, *, optimizer, max_steps):
    learner = _learner(graphdef, rates, keys, _build_optimizer(optimizer, learning_rate))

    def step(state, count):
        return train.train_step(learner, state, x, y, count=count)

    # A step measures the batch before its update, so one step more than
    # max_steps also measures the model after the last one (its update is dropped).
    _, measured = jax.lax.scan(step, _initial_state(learner, params, batch_stats), jnp.arange(max_steps + 1))
    return measured["loss"], measured["accuracy"]


def overfit_batch(
    model,
    x,
    y,
    *,
    optimizer: Optimizer = "adam",
    learning_rate=1e-2,
    batch_size: int = 32,
    max_steps: int = 200,
) -> OverfitCheck:
    """Train a copy of ``model`` on its first ``batch_size`` examples until it fits them.

    Lecture 003: "Make sure your network can overfit a tiny dataset first ...
    If your model can't achieve a ~100% accuracy on a small dataset there is
    no point of trying to learn on the full dataset." The model trains
    full-batch on ``x[:batch_size]`` for ``max_steps`` steps of the given
    optimizer (default Adam, learning rate 1e-2), without dropout or other
    regularisation; batch norm uses batch statistics, as in training. The
    steps run as one ``lax.scan``, so all ``max_steps`` are run and the step
    at which the batch is first fitted is read from the record.

    Args:
      model: a freshly initialised model; it is copied, not modified.
      x, y: at least ``batch_size`` examples and their integer labels.
      optimizer: a :mod:`jaxdl.optim` name or factory (used with
        ``learning_rate``), or a built ``GradientTransformation`` (then
        ``learning_rate=None``).
      learning_rate: learning rate for a name or factory (default 1e-2).
      batch_size: examples to fit (default 32, as in the lecture).
      max_steps: optimizer steps (static).
    """
    if len(x) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} examples, got {len(x)}")
    if int(max_steps) <= 0:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    optimizer, learning_rate = _resolve_optimizer(optimizer, learning_rate)
    graphdef, params, batch_stats, rates, keys = _split(model)
    step_losses, step_accuracies = _overfit(
        graphdef, params, batch_stats, rates, keys,
        jnp.asarray(x[:batch_size]), jnp.asarray(y[:batch_size], jnp.int32), learning_rate,
        optimizer=optimizer, max_steps=int(max_steps),
    )
    step_losses, step_accuracies = np.asarray(step_losses), np.asarray(step_accuracies)
    fitted = np.flatnonzero(step_accuracies == 1.0)
    steps = int(fitted[0]) if fitted.size else None
    loss, accuracy = float(step_losses[-1]), float(step_accuracies[-1])
    ok = steps is not None
    if ok:
        verdict = (
            f"fitted {batch_size} examples to 100% accuracy in {steps} steps "
            f"(final loss {loss:.3g}): the model can learn"
        )
    else:
        verdict = (
            f"could not fit {batch_size} examples: accuracy {accuracy:.0%}, loss {loss:.3g} "
            f"after {max_steps} steps; stop and debug the model, loss, labels or learning rate "
            "before training on the full data"
        )
    return OverfitCheck(steps, loss, accuracy, step_losses, step_accuracies, ok, verdict)


# ---------------------------------------------------------------------------
# Dead units


class DeadUnitsCheck(NamedTuple):
    """Result of :func:`dead_units`, one entry per hidden block.

    Attributes:
      layers: block names.
      dead: number of dead units in each block.
      units: number of units (features or channels) in each block.
      fractions: ``dead / units``.
      ok: every fraction is at most ``max_fraction``.
      verdict: a sentence naming the worst blocks.
    """

    layers: tuple[str, ...]
    dead: tuple[int, ...]
    units: tuple[int, ...]
    fractions: tuple[float, ...]
    ok: bool
    verdict: str


def _dead_mask(activation, atol):
    """Units whose activation is within ``atol`` of zero for every example (and position)."""
    return jnp.all(jnp.abs(activation) <= atol, axis=tuple(range(activation.ndim - 1)))


def dead_units(model, x, *, atol: float = 0.0, max_fraction: float = 0.1) -> DeadUnitsCheck:
    """Fraction of units in each hidden block that are dead on the batch ``x``.

    A unit (one feature of a dense layer, one channel of a convolution) is
    *dead on a batch* when its activation output is zero -- ``|a| <= atol`` --
    for every example in the batch and, for convolutions, at every spatial
    position. For ReLU this is a pre-activation ``<= 0`` everywhere: the
    unit's gradient is zero for the whole batch, so its incoming weights stop
    learning ("dying ReLU"; lecture 003). The activation is read before any
    batch norm placed after it, pooling and dropout (see :func:`layer_outputs`).
    Activations that are never exactly zero (leaky ReLU, ELU, tanh, ...)
    have no dead units under this definition; use
    :func:`activation_statistics` for their saturation. The larger the
    batch, the stronger the evidence that a unit is dead.

    Args:
      model: the model (not modified).
      x: a batch of inputs.
      atol: tolerance for "zero" (default exactly zero).
      max_fraction: ``ok`` when no block has more dead units than this (default 0.1).
    """
    outputs = layer_outputs(model, x)
    dead, units = [], []
    for activation in outputs.activations:
        mask = np.asarray(_dead_mask(activation, atol))
        dead.append(int(mask.sum()))
        units.append(int(mask.size))
    fractions = tuple(d / u for d, u in zip(dead, units))
    bad = [f"{n} ({f:.0%} of {u})" for n, f, u in zip(outputs.names, fractions, units) if f > max_fraction]
    ok = not bad
    if ok:
        worst = max(fractions, default=0.0)
        verdict = f"no block has more than {max_fraction:.0%} dead units (worst {worst:.0%})"
    else:
        verdict = (
            f"dead units in {', '.join(bad)}: they output zero for all {len(x)} examples and get no "
            "gradient; lower the learning rate, use He initialisation, or try leaky ReLU / ELU"
        )
    return DeadUnitsCheck(outputs.names, tuple(dead), tuple(units), fractions, ok, verdict)


# ---------------------------------------------------------------------------
# Update-to-weight ratio


class UpdateRatioCheck(NamedTuple):
    """Result of :func:`update_ratios`: one ratio per weight matrix (hidden blocks, then the head).

    Attributes:
      layers: ``"blocks/0"``, ..., ``"head"``.
      ratios: ``||update||_F / ||W||_F`` of each kernel for one optimizer step.
      verdicts: ``"healthy"``, ``"too high"`` or ``"too low"`` per layer.
      ok: every ratio lies in ``[low, high]``.
      verdict: a sentence.
    """

    layers: tuple[str, ...]
    ratios: tuple[float, ...]
    verdicts: tuple[str, ...]
    ok: bool
    verdict: str


def _kernels(tree, num_blocks):
    kernels = [tree["blocks"][i]["layer"]["kernel"][...] for i in range(num_blocks)]
    return kernels + [tree["head"]["kernel"][...]]


def _record_updates() -> optax.GradientTransformation:
    """Pass updates through unchanged and keep them as the state: the step a chain ends with."""
    return optax.GradientTransformation(
        lambda params: jax.tree.map(jnp.zeros_like, params),
        lambda updates, state, params=None: (updates, updates),
    )


@functools.partial(jax.jit, static_argnames=("graphdef", "optimizer", "num_blocks"))
def _update_ratios(graphdef, params, batch_stats, rates, keys, opt_state, x, y, learning_rate,
                   *, optimizer, num_blocks):
    transform = _build_optimizer(optimizer, learning_rate)
    # The optimizer's update, read from a recorder chained after it: exact,
    # where new minus old parameters would lose the update's low digits.
    learner = _learner(graphdef, rates, keys, optax.chain(transform, _record_updates()))
    if opt_state is None:
        opt_state = transform.init(params)
    recorder_state = jax.tree.map(jnp.zeros_like, params)
    state = _initial_state(learner, params, batch_stats, (opt_state, recorder_state))
    stepped, _ = train.train_step(learner, state, x, y)
    updates = stepped.opt_state[1]
    return jnp.stack([
        jnp.linalg.norm(u.ravel()) / jnp.linalg.norm(w.ravel())
        for u, w in zip(_kernels(updates, num_blocks), _kernels(params, num_blocks))
    ])


def update_ratios(
    model,
    x,
    y,
    *,
    optimizer: Optimizer = "adam",
    learning_rate=1e-3,
    opt_state=None,
    low: float = 1e-4,
    high: float = 1e-2,
) -> UpdateRatioCheck:
    """Size of one optimizer step relative to the weights, per layer.

    .. math:: r_l = \\frac{\\lVert \\Delta W^{[l]} \\rVert_F}{\\lVert W^{[l]} \\rVert_F},
              \\qquad \\Delta W = \\text{the optimizer's update}
              \\ (= -\\alpha\\, g \\text{ for SGD})

    A healthy ratio is about ``1e-3`` (lecture 003: updates should be
    "~0.001 - 0.01 of weights"; Karpathy's CS231n notes give 1e-3). Much
    larger and the learning rate is too high (training is unstable, ReLUs
    die); much smaller and it is too low (training crawls). Only kernels
    are measured: biases start at zero, so their ratio is meaningless at
    initialisation. Note that Adam's first step from a fresh state is about
    ``learning_rate * sign(g)``, so its ratio is about
    ``learning_rate * sqrt(fan_in / 2)`` for He-initialised weights; pass the
    ``opt_state`` of a running optimizer to measure a later step.

    Args:
      model: the model (not modified).
      x, y: a batch and its integer labels.
      optimizer: a :mod:`jaxdl.optim` name or factory (with ``learning_rate``),
        or a built ``GradientTransformation`` (then ``learning_rate=None``).
      learning_rate: the learning rate to assess (default 1e-3).
      opt_state: the optimizer's state for the step; ``None`` starts fresh.
      low, high: the healthy band (default ``[1e-4, 1e-2]``, a decade either
        side of 1e-3).
    """
    optimizer, learning_rate = _resolve_optimizer(optimizer, learning_rate)
    graphdef, params, batch_stats, rates, keys = _split(model)
    num_blocks = len(model.blocks)
    ratios = _update_ratios(
        graphdef, params, batch_stats, rates, keys, opt_state, jnp.asarray(x), jnp.asarray(y, jnp.int32),
        learning_rate, optimizer=optimizer, num_blocks=num_blocks,
    )
    ratios = tuple(float(r) for r in np.asarray(ratios))
    layers = tuple(f"blocks/{i}" for i in range(num_blocks)) + ("head",)
    verdicts = tuple(
        "too high" if r > high else "too low" if r < low else "healthy" if math.isfinite(r) else "not finite"
        for r in ratios
    )
    high_layers = [n for n, v in zip(layers, verdicts) if v in ("too high", "not finite")]
    low_layers = [n for n, v in zip(layers, verdicts) if v == "too low"]
    ok = not high_layers and not low_layers
    parts = []
    if high_layers:
        parts.append(f"too high in {', '.join(high_layers)}: lower the learning rate")
    if low_layers:
        parts.append(f"too low in {', '.join(low_layers)}: raise the learning rate")
    spread = f"update/weight ratios {min(ratios):.1e} to {max(ratios):.1e}"
    verdict = f"{spread}, within [{low:g}, {high:g}]: healthy" if ok else f"{spread}; " + "; ".join(parts)
    return UpdateRatioCheck(layers, ratios, verdicts, ok, verdict)


# ---------------------------------------------------------------------------
# Activation statistics


class LayerStatistics(NamedTuple):
    """Statistics of one hidden block's activations over a batch.

    Attributes:
      layer: block name.
      mean, std: over every example and unit.
      saturated: fraction of values within ``1 - saturation`` of the ends of a
        tanh (|a| > 0.99 by default) or sigmoid (a < 0.01 or a > 0.99)
        range; ``nan`` for activations that do not saturate.
      zero: fraction of values exactly zero.
    """

    layer: str
    mean: float
    std: float
    saturated: float
    zero: float


class ActivationCheck(NamedTuple):
    """Result of :func:`activation_statistics`: per-layer statistics, ``ok`` and a verdict."""

    layers: tuple[LayerStatistics, ...]
    ok: bool
    verdict: str


def activation_statistics(
    model,
    x,
    *,
    saturation: float = 0.99,
    max_saturated: float = 0.1,
    max_zero: float = 0.9,
    min_std: float = 1e-2,
) -> ActivationCheck:
    """Mean, standard deviation, saturated and zero fractions of each hidden block's activations.

    Lecture 003: "Monitor activations distributions: useful to spot problems
    with initializations, too many dead activations". With a good
    initialisation the activations of every layer have a similar, moderate
    spread. Warning signs, each a threshold argument:

    - saturated tanh/sigmoid units (``saturated > max_saturated``): their
      derivative is nearly zero, so gradients vanish; the weights are too
      large for the activation (use Glorot initialisation);
    - mostly zeros (``zero > max_zero``): most ReLUs are off; half zeros is
      normal for ReLU at initialisation;
    - collapsed activations (``std < min_std``): the signal shrinks towards a
      constant through the layers; the weights are too small.

    The values are the activation outputs of :func:`layer_outputs`
    (inference mode).

    Args:
      model: the model (not modified).
      x: a batch of inputs.
      saturation: threshold for saturation, as a fraction of the output range (default 0.99).
      max_saturated, max_zero, min_std: limits for ``ok`` (defaults 0.1, 0.9, 1e-2).
    """
    outputs = layer_outputs(model, x)
    output_range = _SATURATING.get(model.config.activation)
    rows, problems = [], []
    for name, activation in zip(outputs.names, outputs.activations):
        a = np.asarray(activation, dtype=np.float64)
        if output_range is None:
            saturated = float("nan")
        else:
            lower, upper = output_range
            margin = (1.0 - saturation) * (upper - lower) / 2.0
            saturated = float(np.mean((a > upper - margin) | (a < lower + margin)))
        row = LayerStatistics(name, float(a.mean()), float(a.std()), saturated, float(np.mean(a == 0.0)))
        rows.append(row)
        if row.saturated > max_saturated:
            problems.append(f"{name} is {row.saturated:.0%} saturated (weights too large for {model.config.activation})")
        if row.zero > max_zero:
            problems.append(f"{name} outputs {row.zero:.0%} zeros (most units off)")
        if not row.std >= min_std:
            problems.append(f"{name} has std {row.std:.2g} (activations collapsed; weights too small)")
    ok = not problems
    if ok:
        verdict = "activations have a healthy spread in every layer: no saturation, collapse or mostly-zero layer"
    else:
        verdict = "; ".join(problems)
    return ActivationCheck(tuple(rows), ok, verdict)


# ---------------------------------------------------------------------------
# Everything at once


class Report(NamedTuple):
    """Result of :func:`report`: every check, overall ``ok`` and the printed ``table``."""

    initial_loss: InitialLossCheck
    overfit: OverfitCheck
    dead_units: DeadUnitsCheck
    update_ratios: UpdateRatioCheck
    activations: ActivationCheck
    ok: bool
    table: str


def _format_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(f"{str(cell):<{w}}" for cell, w in zip(row, widths)).rstrip()
    return [line(header), "-" * len(line(header))] + [line(row) for row in rows]


def report(
    model,
    x,
    y,
    *,
    optimizer: Optimizer = "adam",
    learning_rate=1e-3,
    overfit_learning_rate=1e-2,
    overfit_steps: int = 200,
    num_classes: int | None = None,
    print_fn: Callable[[str], Any] | None = print,
) -> Report:
    """Run every check on ``model`` and a batch ``(x, y)`` and print a table.

    Args:
      model: a freshly initialised model (not modified).
      x, y: a batch (at least 32 examples) and its integer labels.
      optimizer: a :mod:`jaxdl.optim` name or factory, used for the overfitting
        check (at ``overfit_learning_rate``) and the update ratio (at
        ``learning_rate``).
      learning_rate: the learning rate planned for training (default 1e-3).
      overfit_learning_rate, overfit_steps: for :func:`overfit_batch`.
      num_classes: for :func:`initial_loss`; defaults to the model's outputs.
      print_fn: called with the table; ``None`` prints nothing.
    """
    if isinstance(optimizer, optax.GradientTransformation):
        raise ValueError("report needs an optimizer name or factory: it runs two learning rates")
    loss_check = initial_loss(model, x, y, num_classes=num_classes)
    overfit = overfit_batch(
        model, x, y, optimizer=optimizer, learning_rate=overfit_learning_rate, max_steps=overfit_steps
    )
    dead = dead_units(model, x)
    ratios = update_ratios(model, x, y, optimizer=optimizer, learning_rate=learning_rate)
    stats = activation_statistics(model, x)
    yes = lambda flag: "ok" if flag else "CHECK"
    summary = _format_table(
        ("check", "result", "verdict"),
        [
            ("initial loss", yes(loss_check.ok), loss_check.verdict),
            ("overfit 32 examples", yes(overfit.ok), overfit.verdict),
            ("dead units", yes(dead.ok), dead.verdict),
            ("update/weight ratio", yes(ratios.ok), ratios.verdict),
            ("activations", yes(stats.ok), stats.verdict),
        ],
    )
    percent = lambda v: "-" if math.isnan(v) else f"{v:.1%}"
    layer_rows = [
        (row.layer, units, percent(fraction), f"{row.mean:.3f}", f"{row.std:.3f}",
         percent(row.saturated), percent(row.zero), f"{ratio:.1e}", verdict)
        for row, units, fraction, ratio, verdict in zip(
            stats.layers, dead.units, dead.fractions, ratios.ratios, ratios.verdicts
        )
    ]
    layer_rows.append(("head", "-", "-", "-", "-", "-", "-", f"{ratios.ratios[-1]:.1e}", ratios.verdicts[-1]))
    per_layer = _format_table(
        ("layer", "units", "dead", "mean", "std", "saturated", "zero", "update/weight", ""), layer_rows
    )
    table = "\n".join(summary + [""] + per_layer)
    if print_fn is not None:
        print_fn(table)
    ok = loss_check.ok and overfit.ok and dead.ok and ratios.ok and stats.ok
    return Report(loss_check, overfit, dead, ratios, stats, ok, table)
