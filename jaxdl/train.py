"""The pure training run: ``run(hparams, key) -> Result``.

Everything that changes code or shapes is in a frozen :class:`TrainConfig`
(model, activation, optimizer family, schedule family, loss, batch size,
epochs, early stopping). Everything a sweep varies is an array in
:class:`HParams` (learning rate, optimizer betas, weight decay, L2 strength,
dropout rate, schedule parameters). Because :func:`train` is pure,

    jax.jit(jax.vmap(run))(hparams_batch, keys)

trains a whole population in one compiled program. :func:`jit` is
``jax.jit`` with the compiler options jaxdl uses for its own programs (on
XLA:CPU, half the compile time for the same run time; see
:mod:`jaxdl._xla`).

Inside the run, epochs are a ``lax.scan``; each epoch is a ``lax.scan`` over
mini-batches drawn in-jit from a key. Early stopping, reduce-on-plateau and
divergence are masks in the scan carry, never Python branches on traced
values:

- a trial whose training or validation loss becomes NaN or inf is marked
  diverged, its parameters are frozen at the last finite epoch, and it never
  raises inside ``jit``;
- early stopping (Keras semantics: stop once ``wait >= patience`` epochs
  passed without an improvement larger than ``min_delta``) freezes the
  parameters and, with ``restore_best``, returns those of the best epoch.

History rows after a trial stops (early stopping or divergence) are NaN;
``Result.epochs_run`` says how many epochs were trained.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from jaxdl import data as data_lib
from jaxdl import losses, models, optim, schedules
from jaxdl._xla import jit

__all__ = [
    "TrainConfig",
    "HParams",
    "Data",
    "Result",
    "Carry",
    "make_run",
    "jit",
    "train",
    "evaluate",
    "model_config",
]

_MONITORS = ("val_loss", "val_accuracy")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static choices of a run: each distinct value compiles its own program.

    Attributes:
      model: ``"mlp"`` or ``"cnn"``.
      hidden: MLP hidden widths.
      channels, dense: CNN conv channels and dense widths.
      activation: a :mod:`jaxdl.activations` name.
      init: initializer name, ``None`` for the one matched to the activation.
      dropout: ``None`` (default: no dropout, no masks in the program), ``"standard"``
        or ``"alpha"`` dropout, whose rate is ``HParams.dropout_rate``.
      batch_norm: ``None``, ``"before"`` or ``"after"`` the activation.
      optimizer: a :mod:`jaxdl.optim` name.
      schedule: a :mod:`jaxdl.schedules` name; the learning rate is its initial
        (or peak) value, and a decay length it needs defaults to the whole run.
      loss: ``"cross_entropy"`` or ``"mse"`` (on one-hot targets).
      batch_size: mini-batch size; the remainder of each epoch is dropped.
      epochs: number of epochs.
      early_stopping: stop when ``monitor`` has not improved by ``min_delta``
        for ``patience`` epochs.
      monitor: ``"val_loss"`` or ``"val_accuracy"`` (early stopping, plateau and best epoch).
      patience, min_delta, restore_best: early stopping settings (Keras semantics).
      reduce_on_plateau: multiply the learning rate by ``plateau_factor`` after
        ``plateau_patience`` epochs without improvement.
      plateau_factor, plateau_patience: reduce-on-plateau settings.
    """

    model: str = "mlp"
    hidden: tuple[int, ...] = (64, 64)
    channels: tuple[int, ...] = (16, 32)
    dense: tuple[int, ...] = (64,)
    activation: str = "relu"
    init: str | None = None
    dropout: str | None = None
    batch_norm: str | None = None
    optimizer: str = "adam"
    schedule: str = "constant_schedule"
    loss: str = "cross_entropy"
    batch_size: int = 32
    epochs: int = 20
    early_stopping: bool = False
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    reduce_on_plateau: bool = False
    plateau_factor: float = 0.1
    plateau_patience: int = 3

    def __post_init__(self):
        for name in ("hidden", "channels", "dense"):
            object.__setattr__(self, name, tuple(int(w) for w in getattr(self, name)))
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"model must be 'mlp' or 'cnn', got {self.model!r}")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {self.loss!r}")
        if self.monitor not in _MONITORS:
            raise ValueError(f"monitor must be one of {_MONITORS}, got {self.monitor!r}")
        for name in ("batch_size", "epochs", "patience", "plateau_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        optim.get(self.optimizer)
        schedules.get(self.schedule)
        # Model settings are checked by the model configuration itself.
        models.MLPConfig(in_features=1, hidden=self.hidden, activation=self.activation, init=self.init,
                         dropout=self.dropout, batch_norm=self.batch_norm)


class HParams(NamedTuple):
    """Dynamic hyperparameters: every leaf may be an array with a population axis.

    Attributes:
      learning_rate: peak learning rate, the schedule's initial value.
      weight_decay: decoupled weight decay ``p <- p - lr * weight_decay * p``
        (passed to the optimizer when it takes ``weight_decay``, as AdamW does).
      l2: L2 penalty ``l2 / (2 m) * ||W||^2`` on kernels, added to the loss.
      dropout_rate: dropout probability in the hidden layers; needs
        ``TrainConfig.dropout`` set (a non-zero rate without it is an error).
      optimizer: further optimizer arguments by name (``b1``, ``b2``, ``momentum``, ``decay`` ...).
      schedule: schedule arguments by name (``decay_rate``, ``warmup_steps`` ...).
    """

    learning_rate: Any = 1e-3
    weight_decay: Any = 0.0
    l2: Any = 0.0
    dropout_rate: Any = 0.0
    optimizer: Mapping[str, Any] = {}
    schedule: Mapping[str, Any] = {}

    def batched(self, size: int) -> "HParams":
        """Every leaf as a float32 array of shape ``(size,)``: scalars are repeated.

        ``HParams(learning_rate=jnp.logspace(-4, -1, 16)).batched(16)`` is ready
        for ``jax.vmap``.
        """
        return jax.tree.map(lambda v: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (size,)), self)

    @classmethod
    def from_flat(cls, values: Mapping[str, Any], config: TrainConfig) -> "HParams":
        """Route flat names (as a sweep plans them) to their fields.

        Names of HParams fields go there; names the optimizer factory takes go
        to ``optimizer``; names the schedule takes go to ``schedule``. Anything
        else is a ``ValueError``.
        """
        own = {k: v for k, v in values.items() if k in cls._fields}
        if "dropout_rate" in own and config.dropout is None:
            raise ValueError("dropout_rate needs dropout='standard' or 'alpha' in the configuration")
        optimizer_args = _accepted(optim.get(config.optimizer))
        schedule_args = _accepted(schedules.get(config.schedule))
        opt, sched = {}, {}
        for name, value in values.items():
            if name in own:
                continue
            if name in optimizer_args:
                opt[name] = value
            elif name in schedule_args:
                sched[name] = value
            else:
                raise ValueError(
                    f"hyperparameter {name!r} is not used by optimizer {config.optimizer!r} "
                    f"or schedule {config.schedule!r}"
                )
        return cls(**own, optimizer=opt, schedule=sched)


@struct.dataclass
class Data:
    """Train, validation and test arrays; the number of classes is static."""

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    num_classes: int = struct.field(pytree_node=False)

    @classmethod
    def from_splits(cls, train: data_lib.Dataset, val: data_lib.Dataset, test: data_lib.Dataset) -> "Data":
        """From three :class:`jaxdl.data.Dataset` splits (as :func:`jaxdl.data.split_dataset` returns)."""
        arrays = [jnp.asarray(a) for part in (train, val, test) for a in (part.x, part.y)]
        return cls(*arrays, num_classes=int(train.num_classes))

    @classmethod
    def load(
        cls,
        dataset: str = "digits",
        data_dir: str | None = None,
        *,
        image: bool = False,
        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        seed: int = 0,
        standardize: bool = True,
    ) -> "Data":
        """Load, split and standardise a data set (statistics from the training split only).

        The digits are split by ``fractions`` (stratified). Data sets with an
        official test split (MNIST, Fashion-MNIST, CIFAR-10) keep it as the
        test set and split their training files into train and validation in
        the ratio ``fractions[0] : fractions[1]``.

        Args:
          dataset: ``"digits"``, ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
          data_dir: folder with the files (all but the digits).
          image: NHWC images (for the CNN) instead of flat vectors.
          fractions: train, validation, test fractions.
          seed: seeds the shuffle of the split.
          standardize: per-feature zero mean and unit variance, fitted on training data.
        """
        flat = not image
        if dataset.lower() == "digits":
            full = data_lib.load_digits(flat=flat)
            parts = data_lib.split_dataset(full, fractions, key=seed, stratify=True)
        else:
            full = data_lib.load(dataset, data_dir, split="train", flat=flat)
            share = fractions[1] / (fractions[0] + fractions[1])
            train_part, val_part = data_lib.split_dataset(full, (1 - share, share), key=seed, stratify=True)
            parts = (train_part, val_part, data_lib.load(dataset, data_dir, split="test", flat=flat))
        if standardize:
            standardizer = data_lib.Standardizer.fit(parts[0].x)
            parts = [p._replace(x=standardizer.apply(p.x)) for p in parts]
        return cls.from_splits(*parts)


class Result(NamedTuple):
    """What a run returns; every leaf gains a population axis under vmap.

    Attributes:
      params, batch_stats: the final model state (the best epoch's with ``restore_best``).
      history: per-epoch ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy``, ``learning_rate`` (NaN after the run stopped).
      metrics: ``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` of
        the returned state, and ``best_val_loss``, ``best_val_accuracy``, ``best_epoch``.
      diverged: whether a NaN or inf loss stopped the run.
      diverged_epoch: the 1-based epoch it diverged at, or -1.
      epochs_run: epochs trained before early stopping or divergence.
      carry: the scan carry to resume from (with ``keep_carry=True``), else ``None``.
    """

    params: Any
    batch_stats: Any
    history: dict
    metrics: dict
    diverged: jax.Array
    diverged_epoch: jax.Array
    epochs_run: jax.Array
    carry: Any = None


class Carry(NamedTuple):
    """The epoch scan's carry: everything a run needs to go on training.

    Attributes:
      state: ``(params, batch_stats, opt_state, plateau_state, key)``.
      best: the best epoch so far (monitored value, epoch, metrics, weights).
      flags: epoch counter, stopped, diverged, diverged_epoch, epochs_run, wait.
    """

    state: tuple
    best: dict
    flags: dict


def _accepted(factory: Callable) -> set[str]:
    return set(inspect.signature(factory).parameters)


def _cross_entropy(logits, labels):
    return losses.softmax_cross_entropy(logits, labels)


def _mse(logits, labels):
    return losses.mean_squared_error(logits, jax.nn.one_hot(labels, logits.shape[-1]))


_LOSSES = {"cross_entropy": _cross_entropy, "mse": _mse}


def model_config(config: TrainConfig, data: Data) -> models.MLPConfig | models.CNNConfig:
    """The model configuration for ``config`` on ``data``'s input shape and classes."""
    common = dict(
        out_features=data.num_classes,
        activation=config.activation,
        init=config.init,
        dropout=config.dropout,
        batch_norm=config.batch_norm,
    )
    if config.model == "mlp":
        in_features = int(jnp.size(data.x_train[0]))
        return models.MLPConfig(in_features=in_features, hidden=config.hidden, **common)
    shape = data.x_train.shape[1:]
    if len(shape) != 3:
        raise ValueError(f"the CNN needs images (N, H, W, C), got data of shape {data.x_train.shape}")
    return models.CNNConfig(input_shape=shape, channels=config.channels, dense=config.dense, **common)


def _make_schedule(config: TrainConfig, hparams: HParams, steps_per_epoch: int):
    """The schedule of ``config``: ``hparams.learning_rate`` is its initial or peak value."""
    factory = schedules.get(config.schedule)
    parameters = inspect.signature(factory).parameters
    args = dict(hparams.schedule)
    if "peak_value" in parameters:
        args["peak_value"] = hparams.learning_rate
        if "init_value" in parameters:
            args.setdefault("init_value", 0.0)
    else:
        args[next(iter(parameters))] = hparams.learning_rate
    for name in ("decay_steps", "transition_steps"):
        if name in parameters and parameters[name].default is inspect.Parameter.empty:
            args.setdefault(name, steps_per_epoch * config.epochs)
    if "steps_per_epoch" in parameters:
        args["steps_per_epoch"] = steps_per_epoch
    try:
        return factory(**args)
    except TypeError as error:
        raise ValueError(f"schedule {config.schedule!r}: {error}") from None


def _make_optimizer(config: TrainConfig, hparams: HParams, schedule) -> tuple[optax.GradientTransformation, bool]:
    """The optimizer, and whether it applies ``weight_decay`` itself."""
    factory = optim.get(config.optimizer)
    args = dict(hparams.optimizer)
    takes_decay = "weight_decay" in _accepted(factory)
    if takes_decay:
        args["weight_decay"] = hparams.weight_decay
    return factory(learning_rate=schedule, **args), takes_decay


def evaluate(graphdef, params, batch_stats, x, y, loss_name: str = "cross_entropy"):
    """Mean loss and accuracy of a model state on ``(x, y)`` in inference mode."""
    model = nnx.merge(graphdef, params, batch_stats)
    logits = model(x, train=False)
    loss = _LOSSES[loss_name](logits, y)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
    return loss, accuracy


def _nonzero(value) -> bool:
    """Whether a concrete value is non-zero; traced values are not checked."""
    if isinstance(value, jax.core.Tracer):
        return False
    return bool(np.any(np.asarray(value) != 0))


def _tree_where(condition, on_true, on_false):
    """``jnp.where(condition, a, b)`` leaf by leaf for a scalar ``condition`` and leaves of one dtype.

    ``lax.select`` binds one primitive where ``jnp.where`` traces a nested
    program per leaf: a fifth of the time to trace a vmapped run.
    """
    return jax.tree.map(lambda a, b: jax.lax.select(jax.lax.broadcast(condition, jnp.shape(a)), a, b),
                        on_true, on_false)


def train(config: TrainConfig, hparams: HParams, key, data: Data, *, resume: Carry | None = None,
          keep_carry: bool = False, on_epoch: Callable[[int, dict], None] | None = None) -> Result:
    """Train one model; pure, so it can be jitted and vmapped over ``hparams`` and ``key``.

    Args:
      config: the static choices.
      hparams: the dynamic hyperparameters (arrays or floats).
      key: initialises the model and draws mini-batches and dropout masks.
      data: train, validation and test arrays.
      resume: a previous call's ``Result.carry``: continue that run for
        ``config.epochs`` more epochs (successive halving continues survivors
        this way). The schedule's step count goes on from where it stopped.
      keep_carry: return the scan carry in ``Result.carry`` (for ``resume``).
      on_epoch: called on the host as ``on_epoch(epoch, row)`` after each epoch
        (1-based epoch, the history row as arrays), through ``jax.debug.callback``;
        for progress bars, not for results.
    """
    hparams = hparams._replace(
        **{f: jnp.asarray(getattr(hparams, f), jnp.float32) for f in ("learning_rate", "weight_decay", "l2", "dropout_rate")}
    )
    init_key, run_key = jax.random.split(key)
    model = models.build(model_config(config, data), init_key)
    graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)

    num_train = data.x_train.shape[0]
    steps_per_epoch = data_lib.steps_per_epoch(num_train, config.batch_size)
    schedule = _make_schedule(config, hparams, steps_per_epoch)
    optimizer, decays_itself = _make_optimizer(config, hparams, schedule)
    loss_fn = _LOSSES[config.loss]

    if config.dropout is None and _nonzero(hparams.dropout_rate):
        raise ValueError("dropout_rate is non-zero but the configuration has no dropout; "
                         "set TrainConfig(dropout='standard') or 'alpha'")

    def objective(params, batch_stats, x, y, dropout_key):
        # Fresh variables: batch norm updates its statistics inside this trace.
        model = nnx.merge(graphdef, params, batch_stats, copy=True)
        logits = model(x, train=True, dropout_rate=hparams.dropout_rate, key=dropout_key)
        loss = loss_fn(logits, y)
        penalty = losses.l2_penalty(params, hparams.l2, x.shape[0], mask=losses.weights_only)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
        return loss + penalty, (loss, accuracy, nnx.state(model, nnx.BatchStat))

    grad_fn = jax.value_and_grad(objective, has_aux=True)

    def step(carry, batch):
        params, batch_stats, opt_state, plateau, step_key = carry
        indices, count = batch
        # Without dropout the step draws no random numbers at all.
        step_key, dropout_key = jax.random.split(step_key) if config.dropout else (step_key, None)
        x, y = data.x_train[indices], data.y_train[indices]
        (_, (loss, accuracy, batch_stats)), grads = grad_fn(params, batch_stats, x, y, dropout_key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        if not decays_itself:
            decay = schedule(count) * hparams.weight_decay
            updates = jax.tree.map(lambda u, p: u - decay * p, updates, params)
        updates = jax.tree.map(lambda u: plateau.learning_rate * u, updates)
        params = optax.apply_updates(params, updates)
        return (params, batch_stats, opt_state, plateau, step_key), (loss, accuracy)

    better = (lambda new, best: new < best - config.min_delta) if config.monitor == "val_loss" else (
        lambda new, best: new > best + config.min_delta
    )

    def epoch(carry, _):
        state, best, flags = carry
        epoch_index = flags["epoch"]
        params, batch_stats, opt_state, plateau, epoch_key = state
        active = ~(flags["stopped"] | flags["diverged"])
        epoch_key, batch_key = jax.random.split(epoch_key)
        batches = data_lib.epoch_batches(batch_key, num_train, config.batch_size)
        counts = epoch_index * steps_per_epoch + jnp.arange(steps_per_epoch)
        new_state, (batch_losses, batch_accs) = jax.lax.scan(
            step, (params, batch_stats, opt_state, plateau, epoch_key), (batches, counts)
        )
        val_loss, val_acc = evaluate(graphdef, new_state[0], new_state[1], data.x_val, data.y_val, config.loss)
        train_loss = jnp.mean(batch_losses)
        blew_up = active & ~(jnp.isfinite(train_loss) & jnp.isfinite(val_loss))
        keep = active & ~blew_up
        state = _tree_where(keep, new_state, state)
        monitored = val_loss if config.monitor == "val_loss" else val_acc
        improved = keep & better(monitored, best["value"])
        best = {
            "value": jnp.where(improved, monitored, best["value"]),
            "epoch": jnp.where(improved, epoch_index + 1, best["epoch"]),
            "val_loss": jnp.where(improved, val_loss, best["val_loss"]),
            "val_accuracy": jnp.where(improved, val_acc, best["val_accuracy"]),
            "params": _tree_where(improved, state[0], best["params"]) if config.restore_best else None,
            "batch_stats": _tree_where(improved, state[1], best["batch_stats"]) if config.restore_best else None,
        }
        wait = jnp.where(improved, 0, flags["wait"] + keep)
        if config.reduce_on_plateau:
            reduced = schedules.plateau_update(
                state[3], monitored, factor=config.plateau_factor, patience=config.plateau_patience,
                min_delta=config.min_delta, mode="min" if config.monitor == "val_loss" else "max",
            )
            state = state[:3] + (_tree_where(keep, reduced, state[3]),) + state[4:]
        stopped = flags["stopped"] | (keep & config.early_stopping & (wait >= config.patience))
        flags = {
            "epoch": epoch_index + 1,
            "stopped": stopped,
            "diverged": flags["diverged"] | blew_up,
            "diverged_epoch": jnp.where(blew_up, epoch_index + 1, flags["diverged_epoch"]),
            "epochs_run": flags["epochs_run"] + keep,
            "wait": wait,
        }
        nan = jnp.float32(jnp.nan)
        row = {
            "train_loss": jnp.where(active, train_loss, nan),
            "train_accuracy": jnp.where(active, jnp.mean(batch_accs), nan),
            "val_loss": jnp.where(active, val_loss, nan),
            "val_accuracy": jnp.where(active, val_acc, nan),
            "learning_rate": jnp.where(active, schedule(counts[-1]) * plateau.learning_rate, nan),
        }
        if on_epoch is not None:
            jax.debug.callback(on_epoch, epoch_index + 1, row, ordered=True)
        return (state, best, flags), row

    opt_state = optimizer.init(params)
    initial_best = {
        "value": jnp.float32(jnp.inf if config.monitor == "val_loss" else -jnp.inf),
        "epoch": jnp.int32(0),
        "val_loss": jnp.float32(jnp.nan),
        "val_accuracy": jnp.float32(jnp.nan),
        "params": params if config.restore_best else None,
        "batch_stats": batch_stats if config.restore_best else None,
    }
    flags = {
        "epoch": jnp.int32(0),
        "stopped": jnp.bool_(False),
        "diverged": jnp.bool_(False),
        "diverged_epoch": jnp.int32(-1),
        "epochs_run": jnp.int32(0),
        "wait": jnp.int32(0),
    }
    carry = Carry((params, batch_stats, opt_state, schedules.plateau_init(1.0), run_key), initial_best, flags)
    if resume is not None:
        carry = Carry(*resume)
    (state, best, flags), history = jax.lax.scan(epoch, tuple(carry), None, length=config.epochs)
    final_carry = Carry(state, best, flags) if keep_carry else None
    params, batch_stats = state[0], state[1]
    if config.restore_best:
        has_best = best["epoch"] > 0
        params = _tree_where(has_best, best["params"], params)
        batch_stats = _tree_where(has_best, best["batch_stats"], batch_stats)
    val_loss, val_acc = evaluate(graphdef, params, batch_stats, data.x_val, data.y_val, config.loss)
    test_loss, test_acc = evaluate(graphdef, params, batch_stats, data.x_test, data.y_test, config.loss)
    metrics = {
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "best_val_loss": best["val_loss"],
        "best_val_accuracy": best["val_accuracy"],
        "best_epoch": best["epoch"],
    }
    return Result(params, batch_stats, history, metrics, flags["diverged"], flags["diverged_epoch"],
                  flags["epochs_run"], final_carry)


def make_run(config: TrainConfig, data: Data) -> Callable[[HParams, jax.Array], Result]:
    """``run(hparams, key) -> Result`` for a fixed configuration and data set.

    The returned function is pure; ``jax.jit(jax.vmap(make_run(config, data)))``
    trains a population. The data are closed over as constants, which suits
    small data sets; pass them as an argument to :func:`train` for large ones.
    """

    def run(hparams: HParams, key) -> Result:
        return train(config, hparams, key, data)

    return run
