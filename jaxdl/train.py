"""The pure training run: ``run(hparams, key) -> Result``.

Everything that changes code or shapes is in a frozen :class:`TrainConfig`
(model and its settings, activation, optimizer family, schedule family,
task, loss, metrics, batch size, epochs, early stopping). Everything a sweep
varies is an array in :class:`HParams` (learning rate, optimizer betas,
weight decay, penalties, dropout rate, schedule and loss parameters).
Because :func:`train` is pure,

    jax.jit(jax.vmap(run))(hparams_batch, keys)

trains a whole population in one compiled program. :func:`jit` is
``jax.jit`` with the compiler options jaxdl uses for its own programs (on
XLA:CPU, half the compile time for the same run time; see
:mod:`jaxdl._xla`).

Every piece is named in a registry (:mod:`jaxdl.registry`), so a user's
model, activation, optimizer, schedule, loss or metric is used exactly like
a built-in. This module owns the list of sweepable keys: :func:`static_keys`
(``TrainConfig``'s fields and the model factory's settings) and
:func:`dynamic_keys` (``HParams``' fields and what the optimizer, schedule
and loss factories take, read from their signatures, with the bounds of
:data:`BOUNDS`).

One training loop. :func:`train_step`, :func:`train_epoch` and
:func:`evaluate` are module-level functions over a named :class:`TrainState`
and a :class:`Learner` (the static half: the model's graph, optimizer, loss
and metrics); :func:`train` scans them, and :mod:`jaxdl.transfer` and
:mod:`jaxdl.diagnostics` reuse them.

Inside the run, epochs are a ``lax.scan``; each epoch is a ``lax.scan`` over
mini-batches drawn in-jit from a key. With ``TrainConfig(augment=...)`` each
training batch's inputs pass through those transforms of
:mod:`jaxdl.augment` (strengths in ``HParams.augment``) before the step;
validation and test data never do, and labels never change. Early stopping,
reduce-on-plateau and divergence are masks in the scan carry, never Python
branches on traced values:

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
import functools
import inspect
import math
import numbers
import os
import time
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdl import augment as augment_lib
from jaxdl import data as data_lib
from jaxdl import losses, metrics as metrics_lib, models, optim, registry, schedules
from jaxdl._xla import jit
from jaxdl.data import Data

__all__ = [
    "TASKS",
    "BOUNDS",
    "TrainConfig",
    "HParams",
    "Data",
    "Result",
    "Carry",
    "TrainState",
    "Learner",
    "make_learner",
    "build_model",
    "make_model",
    "check",
    "initial_carry",
    "make_run",
    "jit",
    "train",
    "train_step",
    "train_epoch",
    "AUGMENT_STREAM",
    "SAMPLERS",
    "evaluate",
    "static_keys",
    "dynamic_keys",
    "check_values",
    "trial_bytes",
    "inference_cost",
    "LATENCY_BATCH_SIZES",
    "data_bytes",
    "free_memory_bytes",
    "check_memory",
]

TASKS = ("classification", "regression")
SAMPLERS = ("shuffle", "balanced")  # TrainConfig.sampler
MAX_EPOCHS = 1_000_000
"""The most epochs a run may ask for: one scan step each, and a history entry per epoch and metric."""
_DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}
_DEFAULT_METRICS = {"classification": ("accuracy",), "regression": ("rmse", "r2")}
_REGULARIZERS = ("l1", "max_norm", "clip_norm", "clip_value")

BOUNDS: Mapping[str, tuple[float | None, float | None]] = {
    "learning_rate": (0.0, None),
    "weight_decay": (0.0, None),
    "l2": (0.0, None),
    "l1": (0.0, None),
    "dropout_rate": (0.0, 1.0),
    "max_norm": (0.0, None),
    "clip_norm": (0.0, None),
    "clip_value": (0.0, None),
    "b1": (0.0, 1.0),
    "b2": (0.0, 1.0),
    "eps": (0.0, None),
    "eps_root": (0.0, None),
    "momentum": (0.0, 1.0),
    "decay": (0.0, 1.0),
    "rho": (0.0, 1.0),
    "initial_accumulator_value": (0.0, None),
    "initial_scale": (0.0, None),
    "decay_rate": (0.0, None),
    "decay_steps": (0.0, None),
    "warmup_steps": (0.0, None),
    "transition_steps": (0.0, None),
    "delta": (0.0, None),
    "alpha": (0.0, None),
    "momentum_decay": (0.0, None),
}
"""Allowed range ``[low, high)`` of a dynamic key, by name, where a signature cannot say.

A dropout rate of 1 drops everything and ``b1 = 1`` never forgets, so both
upper ends are excluded; ``None`` is unbounded. A factory registered with
``bounds={name: (low, high)}`` overrides these for its own arguments; names
in neither are not range-checked.
"""


# ---------------------------------------------------------------------------
# Static choices


def _freeze(value: Any) -> Any:
    """Turn lists into tuples and numpy scalars into Python ones, recursively (hashable static values)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _lookup(table: registry.Registry, value: Any) -> Callable:
    """A registered object by name, or a callable given directly."""
    return value if callable(value) and not isinstance(value, str) else table.get(value)


def _name(table: registry.Registry, value: Any) -> Any:
    """What a record stores for ``value``: its registered name (objects must be registered)."""
    return table.resolve(value) if value is not None else None


def _parameters(factory: Callable) -> Mapping[str, inspect.Parameter]:
    """A factory's parameters; a class's are those of its ``__init__`` (without ``self``)."""
    try:
        if isinstance(factory, type):
            return dict(list(inspect.signature(factory.__init__).parameters.items())[1:])
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}


def _takes_any_setting(factory: Callable) -> bool:
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in _parameters(factory).values())


_MODEL_CONTRACT = ("input_shape", "out_features", "activation", "rngs")


def _model_settings(factory: Callable) -> dict[str, inspect.Parameter]:
    """The static settings a model factory takes beyond the contract's arguments."""
    parameters = _parameters(factory)
    missing = [name for name in _MODEL_CONTRACT if name not in parameters]
    if missing and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        what = getattr(factory, "__name__", repr(factory))
        raise ValueError(
            f"model factory {what} must take (input_shape, out_features, *, activation, rngs, **settings); "
            f"it lacks {', '.join(missing)}"
        )
    return {name: p for name, p in parameters.items()
            if name not in _MODEL_CONTRACT and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static choices of a run: each distinct value compiles its own program.

    Attributes:
      model: a registered model name (``"mlp"``, ``"cnn"``, or one of yours) or
        a factory ``factory(input_shape, out_features, *, activation, rngs,
        **settings)`` (:mod:`jaxdl.models`).
      model_args: the model's own settings, ``{"hidden": (128, 64)}`` for the
        MLP; stored as sorted ``(name, value)`` pairs, read back with
        :attr:`model_kwargs`.
      activation: a registered activation name or function.
      optimizer: a registered optimizer name or factory
        ``factory(learning_rate, **hyperparameters) -> GradientTransformation``.
      schedule: a registered schedule name or factory; the learning rate is its
        initial (or peak) value, and a decay length it needs defaults to the
        whole run.
      task: ``"classification"``, ``"regression"`` or ``None`` (the data's task,
        read from its label dtype).
      loss: a registered per-example loss; ``None`` is the task's default
        (cross-entropy for classification, MSE for regression).
      metrics: registered metric names evaluated every epoch; ``None`` is the
        task's default (``accuracy``; ``rmse`` and ``r2``).
      class_weight: ``None``, ``"balanced"`` (``w_c = m / (K m_c)`` from the
        training labels) or one weight per class; multiplies any per-example
        weights of the data (``Data.w_train``).
      batch_size: mini-batch size; the remainder of each epoch is dropped.
      epochs: number of epochs.
      early_stopping: stop when ``monitor`` has not improved by ``min_delta``
        for ``patience`` epochs.
      monitor: the selection metric, ``"val_loss"`` or ``"val_<metric>"``
        (early stopping, plateau and best epoch); ``None`` is the task's
        first metric (``val_accuracy``; ``val_rmse``), the one a sweep ranks
        by. Its direction comes from the metric table.
      patience, min_delta: early stopping settings (Keras semantics).
      restore_best: return the best epoch's weights instead of the last
        epoch's. ``None`` (the default) restores exactly when early stopping
        is on, as Keras' ``EarlyStopping(restore_best_weights=True)`` does;
        ``True`` restores without early stopping too (selection by the
        validation metric over every epoch), ``False`` never.

    The returned state is the selected one: its validation metrics are what a
    sweep ranks by, and its test metrics are held out (reported, never used
    to select).
      reduce_on_plateau: multiply the learning rate by ``plateau_factor`` after
        ``plateau_patience`` epochs without improvement.
      plateau_factor, plateau_patience: reduce-on-plateau settings.
      augment: names of :data:`jaxdl.augment.TRANSFORMS` applied to every
        training batch's inputs (a single name is a 1-tuple); ``()`` (the
        default) trains on the data as they are. Stored in that table's
        order, the order :func:`jaxdl.augment.compose` applies them in, so a
        set of names is one configuration. Each one's strength is
        ``HParams.augment[name]``, else :data:`jaxdl.augment.DEFAULTS`.
      sampler: how an epoch's mini-batches are drawn: ``"shuffle"`` (each
        example once, in a new order every epoch) or ``"balanced"`` (with
        replacement, every class equally likely: minority examples repeat;
        :func:`jaxdl.data.sampled_batches`). Both take ``floor(m / B)``
        steps an epoch. ``"balanced"`` and ``class_weight="balanced"``
        correct the same imbalance; together they correct it twice.

    Regularisers whose strength is an ``HParams`` field are switched on by
    giving that field (``l1``, ``max_norm``, ``clip_norm``, ``clip_value``);
    ``l2``, ``weight_decay`` and ``dropout_rate`` are always there, 0 by default.
    """

    model: str | Callable = "mlp"
    model_args: Any = ()
    activation: str | Callable = "relu"
    optimizer: str | Callable = "adam"
    schedule: str | Callable = "constant_schedule"
    task: str | None = None
    loss: str | Callable | None = None
    metrics: tuple[str, ...] | None = None
    class_weight: Any = None
    batch_size: int = 32
    epochs: int = 20
    early_stopping: bool = False
    monitor: str | None = None
    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool | None = None
    reduce_on_plateau: bool = False
    plateau_factor: float = 0.1
    plateau_patience: int = 3
    augment: tuple[str, ...] = ()
    sampler: str = "shuffle"

    def __post_init__(self):
        names = (self.augment,) if isinstance(self.augment, str) else self.augment
        if not (isinstance(names, (tuple, list)) and all(isinstance(name, str) for name in names)):
            raise ValueError(f"augment must be a transform name or a list of them, got {self.augment!r}")
        names = augment_lib.check_names(names)
        # One order (compose's), so that the same set is the same configuration and compiles once.
        object.__setattr__(self, "augment", tuple(name for name in augment_lib.TRANSFORMS if name in names))
        args = self.model_args.items() if isinstance(self.model_args, Mapping) else self.model_args
        object.__setattr__(self, "model_args", tuple(sorted((str(k), _freeze(v)) for k, v in args)))
        if self.metrics is not None:
            names = (self.metrics,) if isinstance(self.metrics, str) else self.metrics
            object.__setattr__(self, "metrics", tuple(names))
        if isinstance(self.class_weight, (list, tuple)):
            object.__setattr__(self, "class_weight", tuple(float(w) for w in self.class_weight))
        factory = _lookup(registry.MODELS, self.model)
        settings = _model_settings(factory)
        for name, _ in self.model_args:
            if name not in settings and not _takes_any_setting(factory):
                raise ValueError(f"model {self.model_name!r} has no setting {name!r}"
                                 f"{registry.did_you_mean(name, settings)}")
        _lookup(registry.ACTIVATIONS, self.activation)
        _lookup(registry.OPTIMIZERS, self.optimizer)
        _check_schedule(self.schedule)
        if self.loss is not None:
            _lookup(registry.LOSSES, self.loss)
        for name in self.metrics or ():
            registry.METRICS.get(name)
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None, got {self.task!r}")
        if self.class_weight is not None and not isinstance(self.class_weight, tuple) \
                and self.class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or one weight per class, got {self.class_weight!r}")
        if isinstance(self.class_weight, tuple) and any(not (w >= 0 and math.isfinite(w)) for w in self.class_weight):
            raise ValueError(f"class weights must be finite and non-negative, got {list(self.class_weight)}")
        if self.monitor is not None:
            if not (isinstance(self.monitor, str) and self.monitor.startswith("val_")):
                raise ValueError(f"monitor must be None, 'val_loss' or 'val_<metric>', got {self.monitor!r}")
            metrics_lib.maximize(self.monitor)
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(map(repr, SAMPLERS))}, got {self.sampler!r}")
        if self.restore_best not in (None, True, False):
            raise ValueError(f"restore_best must be None, true or false, got {self.restore_best!r}")
        for name in ("batch_size", "epochs", "patience", "plateau_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.epochs > MAX_EPOCHS:
            raise ValueError(f"epochs must be at most {MAX_EPOCHS:,} (jaxdl.train.MAX_EPOCHS), got {self.epochs:,}")
        if not (isinstance(self.min_delta, numbers.Real) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a non-negative number, got {self.min_delta!r}")
        if not (isinstance(self.plateau_factor, numbers.Real) and 0 < self.plateau_factor < 1):
            raise ValueError(f"plateau_factor must be in (0, 1), got {self.plateau_factor!r}")

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """The model's settings as a dict."""
        return dict(self.model_args)

    @property
    def model_name(self) -> str:
        """The model's registered name, or the factory's own name when it is not registered."""
        if isinstance(self.model, str):
            return self.model
        return registry.MODELS.name_of(self.model) or getattr(self.model, "__name__", repr(self.model))

    @classmethod
    def from_static(cls, static: Mapping[str, Any]) -> "TrainConfig":
        """Route flat static names (as a sweep plans them) to fields and model settings.

        ``{"model": "mlp", "hidden": (64, 64), "activation": "elu"}`` gives
        ``TrainConfig(model="mlp", model_args={"hidden": (64, 64)}, activation="elu")``.
        ``dataset`` (a sweep's data-set choice) is not part of a configuration.

        Raises:
          ValueError: a name that is neither a field nor a setting of the model.
        """
        fields = {f.name for f in dataclasses.fields(cls)} - {"model_args"}
        own = {k: v for k, v in static.items() if k in fields}
        factory = _lookup(registry.MODELS, own.get("model", cls.model))
        settings = _model_settings(factory)
        args = {}
        for name, value in static.items():
            if name in fields or name == "dataset":
                continue
            if name not in settings and not _takes_any_setting(factory):
                raise ValueError(f"{name!r} is neither a TrainConfig field nor a setting of model "
                                 f"{own.get('model', cls.model)!r}{registry.did_you_mean(name, fields | set(settings))}")
            args[name] = value
        return cls(**own, model_args=args)

    def flat(self) -> dict[str, Any]:
        """Every static choice by flat name, pieces by their registered names: what a record stores.

        The inverse of :meth:`from_static` (model settings at their defaults included).

        Raises:
          ValueError: a piece given as an object that was never registered.
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model_args"}
        for field, table in (("model", registry.MODELS), ("activation", registry.ACTIVATIONS),
                             ("optimizer", registry.OPTIMIZERS), ("schedule", registry.SCHEDULES),
                             ("loss", registry.LOSSES)):
            out[field] = _name(table, out[field])
        defaults = {name: p.default for name, p in _model_settings(_lookup(registry.MODELS, self.model)).items()
                    if p.default is not inspect.Parameter.empty}
        out.update({name: _freeze(value) for name, value in {**defaults, **self.model_kwargs}.items()})
        return out

    def resolve(self, data: Data) -> "TrainConfig":
        """The configuration with ``task``, ``loss`` and ``metrics`` filled in for ``data``.

        Raises:
          ValueError: the task disagrees with the data's, a loss or metric is
            for the other task, or ``monitor`` is not measured.
        """
        _check_augment_shape(self.augment, tuple(data.x_train.shape[1:]))
        task = self.task or data.task
        if task != data.task:
            raise ValueError(f"task {task!r} does not match the data, whose targets make it {data.task!r} "
                             f"(build the data with task={task!r})")
        loss = self.loss if self.loss is not None else _DEFAULT_LOSS[task]
        loss_task = registry.LOSSES.info(loss).get("task") if isinstance(loss, str) else None
        if loss_task not in (None, task):
            raise ValueError(f"loss {loss!r} is for {loss_task}, but the task is {task}")
        names = self.metrics if self.metrics is not None else _DEFAULT_METRICS[task]
        for name in names:
            metric_task = registry.METRICS.info(name).get("task")
            if metric_task not in (None, task):
                raise ValueError(f"metric {name!r} is for {metric_task}, but the task is {task}")
        monitor = self.monitor or f"val_{names[0]}"
        if monitor != "val_loss" and monitor[len("val_"):] not in names:
            raise ValueError(f"monitor {monitor!r} is not measured; metrics are {list(names)}")
        if isinstance(self.class_weight, tuple) and task == "classification" and len(self.class_weight) != data.num_classes:
            raise ValueError(f"class_weight has {len(self.class_weight)} weights for {data.num_classes} classes")
        if self.class_weight is not None and task != "classification":
            raise ValueError("class_weight needs a classification task")
        if self.sampler == "balanced" and task != "classification":
            raise ValueError("sampler 'balanced' needs a classification task")
        if self.task == task and self.loss == loss and self.metrics == tuple(names) and self.monitor == monitor:
            return self
        return dataclasses.replace(self, task=task, loss=loss, metrics=tuple(names), monitor=monitor)

    @property
    def restores(self) -> bool:
        """Whether the run returns the best epoch's weights (:attr:`restore_best`, resolved)."""
        return self.early_stopping if self.restore_best is None else self.restore_best


def _check_augment_shape(names: tuple[str, ...], example_shape: tuple[int, ...]) -> None:
    """A ``ValueError`` naming the chosen augmentations that cannot take the data's examples."""
    refused = augment_lib.unsupported(names, example_shape)
    if not refused:
        return
    if len(example_shape) == 1:
        hint = "the data are flat vectors: load images with flat=False and train model='cnn' (or the MLP on them)"
    else:
        hint = "these transforms need images (H, W, C)"
    raise ValueError(f"augment {', '.join(refused)} cannot take examples of shape {example_shape}; {hint}")


def _check_schedule(schedule) -> None:
    """A schedule a run can build: every argument it requires is a number a run can set."""
    factory = _lookup(registry.SCHEDULES, schedule)
    learning_rate = _schedule_rate_argument(factory)
    arrays = _info(registry.SCHEDULES, schedule).get("arrays", ())
    unusable = [name for name, p in _parameters(factory).items()
                if p.default is inspect.Parameter.empty and name != learning_rate
                and (name in arrays or not _is_scalar_parameter(p))]
    if unusable:
        what = schedule if isinstance(schedule, str) else getattr(schedule, "__name__", repr(schedule))
        raise ValueError(
            f"schedule {what!r} needs {', '.join(unusable)}, which a run cannot set from numbers; "
            f"build it in Python and register a factory of numbers (jaxdl.register_schedule)"
        )


def _is_scalar_parameter(parameter: inspect.Parameter) -> bool:
    """Whether a factory argument takes a number (so a sweep may set it).

    A default that is a number (not a bool) says so; without a usable
    default, the annotation must name a number or an array-like, or be absent.
    """
    default = parameter.default
    if isinstance(default, bool) or isinstance(default, str):
        return False
    if isinstance(default, numbers.Real):
        return True
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return default is None or default is inspect.Parameter.empty
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if any(word in text for word in ("Mapping", "Sequence", "tuple", "list", "Callable", "dict")):
        return False
    return any(word in text for word in ("ArrayLike", "float", "Array", "ScalarOrSchedule", "Numeric"))


def _schedule_rate_argument(factory: Callable) -> str | None:
    """The argument of a schedule factory that the learning rate fills: ``peak_value`` if any, else the first."""
    parameters = _parameters(factory)
    if "peak_value" in parameters:
        return "peak_value"
    return next(iter(parameters), None)


def static_keys(model: str | Callable = "mlp") -> frozenset[str]:
    """Every static key a sweep may set for ``model``: ``TrainConfig``'s fields and the model's settings."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"model_args"}
    return frozenset(fields | set(_model_settings(_lookup(registry.MODELS, model))))


_HPARAM_SCALARS = ("learning_rate", "weight_decay", "l2", "dropout_rate", *_REGULARIZERS)


def _factory_keys(factory: Callable, skip: set[str], arrays=()) -> dict[str, inspect.Parameter]:
    """A factory's arguments a sweep may set: numbers, not the ``arrays`` it was registered with."""
    return {name: p for name, p in _parameters(factory).items()
            if name not in skip and name not in arrays and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            and _is_scalar_parameter(p)}


def _routes(config: TrainConfig) -> dict[str, dict[str, inspect.Parameter]]:
    """The dynamic names of the optimizer, schedule and loss of ``config``, by part."""
    optimizer = _lookup(registry.OPTIMIZERS, config.optimizer)
    optimizer_skip = {"learning_rate"}
    if not _decouples_itself(config.optimizer):
        optimizer_skip.add("weight_decay")  # HParams.weight_decay, applied decoupled by the run
    schedule = _lookup(registry.SCHEDULES, config.schedule)
    schedule_skip = {_schedule_rate_argument(schedule), "steps_per_epoch"}
    loss = _lookup(registry.LOSSES, config.loss) if config.loss is not None else None
    routes = {"optimizer": _factory_keys(optimizer, optimizer_skip),
              "schedule": _factory_keys(schedule, schedule_skip,
                                        _info(registry.SCHEDULES, config.schedule).get("arrays", ())),
              "loss": {} if loss is None else _factory_keys(loss, set(list(_parameters(loss))[:2]))}
    return routes


def _info(table: registry.Registry, value) -> Mapping[str, Any]:
    name = value if isinstance(value, str) else table.name_of(value)
    return table.info(name) if name is not None else {}


def _decouples_itself(optimizer) -> bool:
    return bool(_info(registry.OPTIMIZERS, optimizer).get("decoupled_weight_decay", False))


def dynamic_keys(config: TrainConfig, task: str | None = None) -> dict[str, tuple[float | None, float | None]]:
    """Every dynamic key a run of ``config`` takes, with its allowed ``[low, high)`` range.

    ``HParams``' own fields, then the numeric arguments of the optimizer
    factory (but its learning rate, and its own ``weight_decay`` unless it is
    registered with ``decoupled_weight_decay=True``), of the schedule factory
    (but the argument the learning rate fills, and ``steps_per_epoch``) and of
    the loss (beyond outputs and targets). Bounds come from a factory's
    registered ``bounds``, else :data:`BOUNDS`; ``(None, None)`` is unchecked.
    ``task`` picks the default loss when ``config.loss`` is ``None``. Last,
    the strength of each transform in ``config.augment``, named as the
    transform, with :data:`jaxdl.augment.BOUNDS`.
    """
    if config.loss is None and task is not None:
        config = dataclasses.replace(config, loss=_DEFAULT_LOSS[task])
    keys = {name: BOUNDS.get(name, (None, None)) for name in _HPARAM_SCALARS}
    for part, names in _routes(config).items():
        declared = _info({"optimizer": registry.OPTIMIZERS, "schedule": registry.SCHEDULES,
                          "loss": registry.LOSSES}[part], getattr(config, part)).get("bounds", {})
        for name in names:
            keys.setdefault(name, declared.get(name, BOUNDS.get(name, (None, None))))
    for name in config.augment:
        keys.setdefault(name, augment_lib.BOUNDS[name])
    return keys


def bound_problem(value: Any, bounds: tuple[float | None, float | None]) -> str | None:
    """What keeps ``value`` out of ``bounds = (low, high)`` (the range ``[low, high)``), or ``None``.

    The range test of concrete dynamic values (``jaxdl train``'s flags and
    ``--set`` values, :func:`check_values`); a TOML search space checks the
    same ranges over each distribution's support.
    """
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"must be a number, got {value!r}"
    value = float(value)
    limits = " and ".join(part for part in (f">= {low:g}" if low is not None else "",
                                            f"< {high:g}" if high is not None else "") if part)
    if not (math.isfinite(value) and (low is None or value >= low) and (high is None or value < high)):
        return f"must be finite{' and ' + limits if limits else ''}, got {value:g}"
    return None


def check_values(config: TrainConfig, flat: Mapping[str, Any], label: Callable[[str], str] = str) -> None:
    """Check concrete dynamic values against their ranges (:func:`dynamic_keys`).

    Raises:
      ValueError: the first value out of range, named by ``label(name)``.
    """
    for name, bounds in dynamic_keys(config, config.task).items():
        if flat.get(name) is not None:
            problem = bound_problem(flat[name], bounds)
            if problem:
                raise ValueError(f"{label(name)} {problem}")


def data_bytes(data: Data) -> int:
    """Bytes of every array of ``data``."""
    return sum(int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(data))


def trial_bytes(config: TrainConfig, data: Data) -> int:
    """A generous estimate of one trial's device memory in a vmapped population, from shapes alone.

    Parameters are held about eight times over (parameters, gradients, updates,
    two optimizer moments, the best epoch's copy, the carry of the scans, one
    spare); the forward pass's intermediate values, read off its traced
    program for one example, for as many rows as the widest evaluation
    (validation or test set) or batch; and the per-epoch history; all in
    float32. The data set, shared by the trials, is not counted
    (:func:`data_bytes`). Nothing is allocated or compiled.
    """
    config = config.resolve(data)
    model = jax.eval_shape(lambda key: build_model(config, data, key), jax.random.key(0))
    graphdef, params, state, rates, keys = models.split(model)
    num_params = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))
    example = jax.ShapeDtypeStruct((1, *data.x_train.shape[1:]), jnp.float32)
    forward = jax.make_jaxpr(lambda p, x: nnx.merge(graphdef, p, state, rates, keys)(x, train=False))(params, example)
    per_example = sum(math.prod(v.aval.shape) for eqn in forward.eqns for v in eqn.outvars
                      if hasattr(v.aval, "shape") and v.aval.shape[:1] == (1,)) or 1
    rows = max(data.x_val.shape[0], data.x_test.shape[0], config.batch_size)
    history = config.epochs * (3 + 2 * len(config.metrics))
    return 4 * (8 * num_params + rows * per_example + history)


LATENCY_BATCH_SIZES = (1, 256)
"""The batch sizes :func:`inference_cost` times a forward pass at: one example, and a serving batch."""


def _median_milliseconds(forward: Callable, *args, repeats: int) -> float:
    jax.block_until_ready(forward(*args))  # compiled and warm
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(forward(*args))
        times.append(time.perf_counter() - tic)
    return 1e3 * float(np.median(times))


def inference_cost(config: TrainConfig, data: Data, *, repeats: int = 7) -> dict[str, float]:
    """What a trained model of ``config`` costs at inference, measured on the default device.

    Returns ``{"params": P, "latency_ms": t1, "latency_ms_256": t256}``: the
    number of trainable parameters, and the median wall time in milliseconds
    of ``repeats`` compiled forward passes (inference mode) at each of
    :data:`LATENCY_BATCH_SIZES`, after a warm-up call. Both depend only on the
    architecture, not on trained values, so a process measures each
    architecture once; the latencies are measurements (they vary from run to
    run and machine to machine), the parameter count is exact.

    >>> data = Data.from_arrays(np.zeros((40, 4), np.float32), np.arange(40) % 2)
    >>> cost = inference_cost(TrainConfig(model_args={"hidden": (8,)}), data)
    >>> cost["params"]  # 4*8 + 8 + 8*2 + 2
    58
    """
    return dict(_inference_cost(config.model, config.model_args, config.activation,
                                tuple(data.x_train.shape[1:]), data.out_features, repeats))


@functools.lru_cache(maxsize=256)
def _inference_cost(model, model_args, activation, input_shape, out_features, repeats) -> dict[str, float]:
    # Once per architecture and process: the forward pass is all a measurement depends on.
    config = TrainConfig(model=model, model_args=model_args, activation=activation)
    built = make_model(config, input_shape, out_features, jax.random.key(0))
    graphdef, params, batch_stats, rates, keys = models.split(built)
    forward = jax.jit(lambda p, x: nnx.merge(graphdef, p, batch_stats, rates, keys)(x, train=False))
    cost: dict[str, float] = {"params": sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))}
    for size in LATENCY_BATCH_SIZES:
        x = jnp.zeros((size, *input_shape), jnp.float32)
        name = "latency_ms" if size == 1 else f"latency_ms_{size}"
        cost[name] = _median_milliseconds(forward, params, x, repeats=repeats)
    return cost


def free_memory_bytes(device=None) -> int:
    """Free memory of ``device`` (default: the first local one).

    Its allocator's limit less what is in use, or, for CPU devices, the
    host's available RAM split among the local CPU devices, which share it.
    """
    device = device or jax.local_devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:  # some backends do not implement it
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf names (macOS, Windows): assume 4 GiB
        free = 4 << 30
    sharing = len(jax.local_devices()) if device.platform == "cpu" else 1
    return free // max(1, sharing)


def _gib(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size / 4:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def check_memory(config: TrainConfig, data: Data, trials: int = 1, memory_bytes: int | None = None, *,
                 per_trial: int | None = None) -> int:
    """Refuse, before anything is allocated, ``trials`` trials (on one device) that cannot fit its memory.

    Returns the estimated bytes (:func:`data_bytes` + ``trials`` x
    ``per_trial``, by default :func:`trial_bytes`).

    Raises:
      ValueError: the estimate exceeds ``memory_bytes`` (default
        :func:`free_memory_bytes`); the message says how big it would be.
    """
    memory = free_memory_bytes() if memory_bytes is None else memory_bytes
    per_trial = trial_bytes(config, data) if per_trial is None else per_trial
    need = data_bytes(data) + trials * per_trial
    if need > memory:
        count = "one trial" if trials == 1 else f"{trials} trials per device"
        raise ValueError(f"{count} of {config.model_name} would need about {_gib(need)} of memory "
                         f"({_gib(per_trial)} a trial for {config.epochs} epochs, with the data), more than the "
                         f"{_gib(memory)} free on {jax.local_devices()[0].platform}: make the model or epochs smaller")
    return need


def required_keys(config: TrainConfig) -> set[str]:
    """Schedule arguments a trial must set: required, and not filled by the run itself."""
    schedule = _lookup(registry.SCHEDULES, config.schedule)
    filled = {"decay_steps", "transition_steps"}
    if _schedule_rate_argument(schedule) == "peak_value":
        filled.add("init_value")  # warm-up starts from 0 unless the trial sets it
    return {name for name, p in _routes(config)["schedule"].items()
            if p.default is inspect.Parameter.empty and name not in filled}


# ---------------------------------------------------------------------------
# Dynamic hyperparameters


class HParams(NamedTuple):
    """Dynamic hyperparameters: every leaf may be an array with a population axis.

    Attributes:
      learning_rate: peak learning rate, the schedule's initial value.
      weight_decay: decoupled weight decay ``p <- p - lr * weight_decay * p``
        for every optimizer (an optimizer registered with
        ``decoupled_weight_decay=True``, such as AdamW, applies it itself).
      l2: L2 penalty ``l2 / (2 m) * ||W||^2`` on kernels, added to the loss.
      dropout_rate: rate of the model's :class:`~jaxdl.models.Dropout` layers
        (a non-zero rate in a model without any is an error).
      l1: ``None`` (off) or the L1 penalty's strength on kernels, ``g <- g +
        l1 sign(W)`` before the optimizer; with ``l2`` it is the elastic net.
      max_norm: ``None`` (off) or the max-norm constraint ``c``: every unit's
        incoming weights are projected to norm at most ``c`` after each step.
      clip_norm: ``None`` (off) or the largest global gradient norm.
      clip_value: ``None`` (off) or the largest absolute gradient entry.
      optimizer: further optimizer arguments by name (``b1``, ``b2``, ``momentum``, ``decay`` ...).
      schedule: schedule arguments by name (``decay_rate``, ``warmup_steps`` ...).
      loss: loss arguments by name (``delta`` of the Huber loss).
      augment: strengths of the transforms that ``TrainConfig.augment``
        chooses, by transform name (``random_shift`` 0.1 moves by up to 10%
        of the size); a chosen transform left out trains with
        :data:`jaxdl.augment.DEFAULTS`, and strength 0 trains exactly as
        without it.
    """

    learning_rate: Any = 1e-3
    weight_decay: Any = 0.0
    l2: Any = 0.0
    dropout_rate: Any = 0.0
    l1: Any = None
    max_norm: Any = None
    clip_norm: Any = None
    clip_value: Any = None
    optimizer: Mapping[str, Any] = {}
    schedule: Mapping[str, Any] = {}
    loss: Mapping[str, Any] = {}
    augment: Mapping[str, Any] = {}

    def batched(self, size: int) -> "HParams":
        """Every leaf as a float32 array of shape ``(size,)``: scalars are repeated.

        ``HParams(learning_rate=jnp.logspace(-4, -1, 16)).batched(16)`` is ready
        for ``jax.vmap``. Fields left ``None`` stay ``None`` (off).
        """
        return jax.tree.map(lambda v: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (size,)), self)

    @classmethod
    def from_flat(cls, values: Mapping[str, Any], config: TrainConfig, task: str | None = None) -> "HParams":
        """Route flat names (as a sweep plans them) to their fields.

        Names of HParams fields go there; names the optimizer factory takes go
        to ``optimizer``, then the schedule's to ``schedule``, the loss's to
        ``loss`` and the names of the transforms in ``config.augment`` to
        ``augment`` (see :func:`dynamic_keys`). Anything else is a
        ``ValueError`` (a transform's strength whose transform is not chosen
        among them), and so is a required schedule argument left out.
        """
        if config.loss is None and task is not None:
            config = dataclasses.replace(config, loss=_DEFAULT_LOSS[task])
        routes = _routes(config)
        own, parts = {}, {part: {} for part in routes}
        strengths = {}
        for name, value in values.items():
            if name in _HPARAM_SCALARS:
                own[name] = value
                continue
            part = next((part for part, names in routes.items() if name in names), None)
            if part is None and name in config.augment:
                strengths[name] = value
                continue
            if part is None and name in augment_lib.TRANSFORMS:
                raise ValueError(f"{name!r} is the strength of an augmentation that TrainConfig.augment "
                                 f"{list(config.augment)} does not choose; add it there")
            if part is None:
                raise ValueError(
                    f"hyperparameter {name!r} is not used by optimizer {_label(config.optimizer)!r}, "
                    f"schedule {_label(config.schedule)!r} or loss {_label(config.loss)!r}"
                    f"{registry.did_you_mean(name, dynamic_keys(config))}"
                )
            parts[part][name] = value
        missing = sorted(required_keys(config) - set(parts["schedule"]))
        if missing:
            raise ValueError(f"schedule {_label(config.schedule)!r} needs {', '.join(missing)}; set it")
        return cls(**own, **parts, augment=strengths)


def _label(value) -> str:
    if value is None or isinstance(value, str):
        return str(value)
    return getattr(value, "__name__", repr(value))


class Result(NamedTuple):
    """What a run returns; every leaf gains a population axis under vmap.

    Attributes:
      params, batch_stats: the final model state (the best epoch's with
        ``restore_best``); ``batch_stats`` is every non-parameter variable of
        the model but the dropout settings (batch-norm statistics).
      history: per-epoch ``train_loss``, ``train_<metric>``, ``val_loss``,
        ``val_<metric>`` and ``learning_rate`` (NaN after the run stopped).
      metrics: ``val_loss``, ``val_<metric>``, ``test_loss``, ``test_<metric>`` of
        the returned state, ``best_val_loss`` and ``best_val_<metric>`` of the
        best epoch, and ``best_epoch``.
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


class TrainState(NamedTuple):
    """Everything that changes from one step to the next.

    Attributes:
      params: the model's ``nnx.Param`` state.
      batch_stats: its other variables (batch-norm statistics).
      opt_state: the optimizer's state.
      plateau: reduce-on-plateau state (its learning-rate factor multiplies every update).
      key: draws the next epoch's batches and dropout masks.
    """

    params: Any
    batch_stats: Any
    opt_state: Any
    plateau: schedules.PlateauState
    key: jax.Array


class Carry(NamedTuple):
    """The epoch scan's carry: everything a run needs to go on training.

    Attributes:
      state: the :class:`TrainState`.
      best: the best epoch so far (monitored value, epoch, metrics, weights).
      flags: epoch counter, stopped, diverged, diverged_epoch, epochs_run, wait.
    """

    state: TrainState
    best: dict
    flags: dict


# ---------------------------------------------------------------------------
# Models, optimizers, schedules


def build_model(config: TrainConfig, data: Data, key) -> nnx.Module:
    """The model of ``config`` for ``data``'s example shape and outputs, initialised from ``key``.

    Raises:
      ValueError: the factory raised (the message names the model and its
        settings) or returned something that is not an ``nnx.Module``.
    """
    return make_model(config, tuple(data.x_train.shape[1:]), data.out_features, key)


def make_model(config: TrainConfig, input_shape: tuple[int, ...], out_features: int, key) -> nnx.Module:
    """The model of ``config`` for examples of ``input_shape`` and ``out_features`` outputs (see :func:`build_model`)."""
    factory = _lookup(registry.MODELS, config.model)
    try:
        model = factory(tuple(input_shape), int(out_features),
                        activation=_lookup(registry.ACTIVATIONS, config.activation),
                        rngs=nnx.Rngs(params=key), **config.model_kwargs)
    except Exception as error:
        if isinstance(error, jax.errors.JAXTypeError):
            raise
        settings = ", ".join(f"{k}={v!r}" for k, v in config.model_args) or "no settings"
        raise ValueError(f"model {config.model_name!r} ({settings}) could not be built for examples of shape "
                         f"{tuple(input_shape)}: {type(error).__name__}: {error}") from error
    if not isinstance(model, nnx.Module):
        raise ValueError(f"model factory {config.model_name!r} returned {type(model).__name__}, not an nnx.Module")
    return model


def check(config: TrainConfig, data: Data, names=()) -> TrainConfig:
    """Everything about a run that can fail before training, checked now: returns the resolved config.

    Resolves the task, loss and metrics for ``data``, checks the batch size
    against the training split, builds the model abstractly
    (``jax.eval_shape``: no memory, no compilation) and routes the dynamic
    ``names`` a trial will set (:meth:`HParams.from_flat`).

    Raises:
      ValueError: the first problem, in one line.
    """
    config = config.resolve(data)
    data.check_batch_size(config.batch_size)
    model = jax.eval_shape(lambda key: build_model(config, data, key), jax.random.key(0))
    if "dropout_rate" in names and not models.dropout_leaves(models.split(model)[4]):
        raise ValueError(f"dropout_rate is set but model {config.model_name!r} has no Dropout layer; for the "
                         f"built-in models set dropout = 'standard' (or 'alpha')")
    HParams.from_flat({name: 0.0 for name in names}, config)
    return config


def _make_schedule(config: TrainConfig, hparams: HParams, steps_per_epoch: int):
    """The schedule of ``config``: ``hparams.learning_rate`` is its initial or peak value."""
    factory = _lookup(registry.SCHEDULES, config.schedule)
    parameters = _parameters(factory)
    args = dict(hparams.schedule)
    rate = _schedule_rate_argument(factory)
    args[rate] = hparams.learning_rate
    if rate == "peak_value" and "init_value" in parameters:
        args.setdefault("init_value", 0.0)
    for name in ("decay_steps", "transition_steps"):
        if name in parameters and parameters[name].default is inspect.Parameter.empty:
            args.setdefault(name, steps_per_epoch * config.epochs)
    if "steps_per_epoch" in parameters:
        args["steps_per_epoch"] = steps_per_epoch
    try:
        return factory(**args)
    except TypeError as error:
        raise ValueError(f"schedule {_label(config.schedule)!r}: {error}") from None


def _make_optimizer(config: TrainConfig, hparams: HParams, schedule) -> optax.GradientTransformation:
    """The optimizer chain: clipping, the L1 penalty, then the update rule."""
    factory = _lookup(registry.OPTIMIZERS, config.optimizer)
    args = dict(hparams.optimizer)
    if _decouples_itself(config.optimizer):
        args["weight_decay"] = hparams.weight_decay
    rule = factory(learning_rate=schedule, **args)
    if not isinstance(rule, optax.GradientTransformation):
        raise ValueError(f"optimizer {_label(config.optimizer)!r} returned {type(rule).__name__}, "
                         f"not an optax.GradientTransformation")
    chain = []
    if hparams.clip_value is not None:
        chain.append(optax.clip(hparams.clip_value))
    if hparams.clip_norm is not None:
        chain.append(optax.clip_by_global_norm(hparams.clip_norm))
    if hparams.l1 is not None:
        chain.append(optim.add_l1_penalty(hparams.l1, mask=_kernel_mask))
    return optax.chain(*chain, rule) if chain else rule


def _kernel_mask(params):
    return jax.tree.map(lambda leaf: jnp.ndim(leaf) >= 2, params)


# ---------------------------------------------------------------------------
# One training loop: step, epoch, evaluation


@dataclasses.dataclass(frozen=True)
class Learner:
    """The static half of training: how a :class:`TrainState` becomes the next one.

    Built once per run (:func:`make_learner`) or by hand (``transfer``,
    ``diagnostics``); the arrays it holds (hyperparameters inside the
    optimizer) may be tracers of the run.

    Attributes:
      graphdef: the model's graph (``nnx.split``).
      rates, keys: templates of the model's dropout variables (empty without dropout).
      optimizer: the ``GradientTransformation``.
      loss: per-example loss ``loss(outputs, targets) -> (m,)``.
      metrics: ``{name: metric(outputs, targets) -> scalar}``.
      dropout_rate: the rate every dropout layer trains with.
      l2: the L2 penalty's strength (on kernels), or 0.
      decay: ``count -> decoupled weight decay factor`` applied as ``u - decay * p``, or ``None``.
      max_norm: the max-norm constraint, or ``None``.
      class_weights: a weight per class, or ``None``.
      postprocess: ``(new_state, old_state) -> state`` after every step (e.g.
        to hold frozen batch statistics), or ``None``.
      augment: ``(key, x) -> x'``, applied by :func:`train_epoch` to each
        mini-batch's inputs before its step, or ``None`` (train on the batch as
        it is).
      sampling: ``(m,)`` probabilities :func:`train_epoch` draws batches with
        (with replacement), or ``None`` (a shuffled pass).
    """

    graphdef: Any
    rates: Any
    keys: Any
    optimizer: optax.GradientTransformation
    loss: Callable
    metrics: Mapping[str, Callable] = dataclasses.field(default_factory=dict)
    dropout_rate: Any = 0.0
    l2: Any = 0.0
    decay: Callable | None = None
    max_norm: Any = None
    class_weights: Any = None
    postprocess: Callable | None = None
    augment: Callable | None = None
    sampling: Any = None

    @property
    def has_dropout(self) -> bool:
        return models.dropout_leaves(self.keys) > 0

    def model(self, params, batch_stats, dropout_key=None) -> nnx.Module:
        """The model with these parameters; in training form when ``dropout_key`` is given."""
        rates, keys = self.rates, self.keys
        if dropout_key is not None and self.has_dropout:
            rates, keys = models.with_dropout(rates, keys, self.dropout_rate, dropout_key)
        return nnx.merge(self.graphdef, params, batch_stats, rates, keys, copy=True)


def _weighted(learner: Learner, per_example, y, w):
    if learner.class_weights is not None:
        class_w = learner.class_weights[y]
        w = class_w if w is None else w * class_w
    return losses.weighted_mean(per_example, w)


def train_step(learner: Learner, state: TrainState, x, y, w=None, count=None) -> tuple[TrainState, dict]:
    """One optimizer step on the batch ``(x, y)`` (optional per-example weights ``w``).

    The objective is the weighted mean loss plus the L2 penalty on kernels;
    then the optimizer's update, the decoupled weight decay ``u - decay(count) p``,
    the reduce-on-plateau factor, and the max-norm projection. Returns the
    next state and ``{"loss": ..., metric: ...}`` on the batch (before the step).
    """
    state_key, dropout_key = jax.random.split(state.key) if learner.has_dropout else (state.key, None)

    def objective(params, batch_stats):
        # Fresh variables: batch norm updates its statistics inside this trace.
        model = learner.model(params, batch_stats, dropout_key)
        outputs = model(x, train=True)
        loss = _weighted(learner, learner.loss(outputs, y), y, w)
        penalty = losses.l2_penalty(params, learner.l2, x.shape[0], mask=losses.weights_only)
        measured = {name: metric(outputs, y) for name, metric in learner.metrics.items()}
        _, _, batch_stats, _, _ = models.split(model)
        return loss + penalty, (loss, measured, batch_stats)

    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (_, (loss, measured, batch_stats)), grads = grad_fn(state.params, state.batch_stats)
    updates, opt_state = learner.optimizer.update(grads, state.opt_state, state.params)
    if learner.decay is not None:
        decay = learner.decay(count)
        updates = jax.tree.map(lambda u, p: u - decay * p, updates, state.params)
    updates = jax.tree.map(lambda u: state.plateau.learning_rate * u, updates)
    params = optax.apply_updates(state.params, updates)
    if learner.max_norm is not None:
        params = optim.project_max_norm(params, learner.max_norm)
    new = TrainState(params, batch_stats, opt_state, state.plateau, state_key)
    if learner.postprocess is not None:
        new = learner.postprocess(new, state)
    return new, {"loss": loss, **measured}


AUGMENT_STREAM = 0x61756731
"""What :func:`train_epoch` folds into an epoch's key for its augmentation keys (``"aug1"`` in ASCII)."""


def train_epoch(learner: Learner, state: TrainState, x, y, w=None, *, batch_size: int,
                first_step=0) -> tuple[TrainState, dict]:
    r"""One shuffled pass over ``(x, y)`` in mini-batches of ``batch_size`` (the remainder dropped).

    Returns the state after the epoch and the mean over its batches of each
    step's ``loss`` and metrics (on the augmented batches). ``first_step`` is
    the count of the epoch's first step (for schedules).

    With ``learner.augment``, batch :math:`t` of the epoch trains on
    ``augment(k_t, x[batch])``, :math:`(k_1, \dots, k_T)` split from
    ``fold_in(state.key, AUGMENT_STREAM)``: a stream of its own beside the
    batches' and the dropout masks', which stay as they are without
    augmentation, so that strength 0 trains bit for bit as no augmentation.
    """
    num_examples = x.shape[0]
    steps = data_lib.steps_per_epoch(num_examples, batch_size)
    augment_keys = None
    if learner.augment is not None:
        augment_keys = jax.random.split(jax.random.fold_in(state.key, AUGMENT_STREAM), steps)
    state_key, batch_key = jax.random.split(state.key)
    if learner.sampling is None:
        batches = data_lib.epoch_batches(batch_key, num_examples, batch_size)
    else:
        batches = data_lib.sampled_batches(batch_key, learner.sampling, batch_size)
    counts = first_step + jnp.arange(steps)

    def step(state, batch):
        indices, count, augment_key = batch
        inputs = x[indices] if augment_key is None else learner.augment(augment_key, x[indices])
        return train_step(learner, state, inputs, y[indices], None if w is None else w[indices], count)

    state, stats = jax.lax.scan(step, state._replace(key=state_key), (batches, counts, augment_keys))
    return state, {name: jnp.mean(values) for name, values in stats.items()}


def evaluate(learner: Learner, params, batch_stats, x, y) -> dict:
    """``{"loss": mean loss, metric: value}`` of a model state on ``(x, y)`` in inference mode.

    The loss is the plain mean (no class weights or penalties): comparable
    across runs whatever they were trained with.
    """
    outputs = learner.model(params, batch_stats)(x, train=False)
    results = {"loss": jnp.mean(learner.loss(outputs, y))}
    results.update({name: metric(outputs, y) for name, metric in learner.metrics.items()})
    return results


def _class_weights(config: TrainConfig, data: Data):
    if config.class_weight is None:
        return None
    if config.class_weight == "balanced":
        counts = jnp.bincount(jnp.asarray(data.y_train), length=data.num_classes).astype(jnp.float32)
        total = jnp.float32(data.y_train.shape[0])
        return jnp.where(counts > 0, total / (data.num_classes * jnp.maximum(counts, 1.0)), 0.0)
    return jnp.asarray(config.class_weight, jnp.float32)


def make_learner(config: TrainConfig, hparams: HParams, model: nnx.Module, data: Data,
                 steps_per_epoch: int) -> tuple[Learner, Callable, Any, Any]:
    """The :class:`Learner` of a run, its schedule, and the model's initial parameters and state.

    ``config`` must be resolved (:meth:`TrainConfig.resolve`).
    """
    graphdef, params, batch_stats, rates, keys = models.split(model)
    schedule = _make_schedule(config, hparams, steps_per_epoch)
    optimizer = _make_optimizer(config, hparams, schedule)
    decay = None
    if not _decouples_itself(config.optimizer):
        decay = lambda count: schedule(count) * hparams.weight_decay
    loss = _lookup(registry.LOSSES, config.loss)
    if hparams.loss:
        loss_args = dict(hparams.loss)
        base = loss
        loss = lambda outputs, targets: base(outputs, targets, **loss_args)
    learner = Learner(
        graphdef, rates, keys, optimizer, loss,
        metrics={name: registry.METRICS.get(name) for name in config.metrics},
        dropout_rate=hparams.dropout_rate, l2=hparams.l2, decay=decay, max_norm=hparams.max_norm,
        class_weights=_class_weights(config, data), augment=_augmenter(config, hparams),
        sampling=(data_lib.class_balanced_probabilities(data.y_train, data.num_classes)
                  if config.sampler == "balanced" else None),
    )
    return learner, schedule, params, batch_stats


def _augmenter(config: TrainConfig, hparams: HParams) -> Callable | None:
    """``(key, x) -> x'``: ``config.augment``'s transforms at ``hparams.augment``'s strengths, or ``None``.

    Raises:
      ValueError: a strength for a transform that is not chosen, or a
        concrete strength out of :data:`jaxdl.augment.BOUNDS`.
    """
    extra = [name for name in hparams.augment if name not in config.augment]
    if extra:
        raise ValueError(f"HParams.augment sets {', '.join(map(repr, extra))}, which TrainConfig.augment "
                         f"{list(config.augment)} does not choose")
    if not config.augment:
        return None
    strengths = {}
    for name in config.augment:
        value = hparams.augment.get(name, augment_lib.DEFAULTS[name])
        if not isinstance(value, jax.core.Tracer):
            for entry in np.ravel(np.asarray(value)):
                problem = bound_problem(entry.item(), augment_lib.BOUNDS[name])
                if problem:
                    raise ValueError(f"augmentation strength {name} {problem}")
        strengths[name] = jnp.asarray(value, jnp.float32)
    return lambda key, x: augment_lib.compose(key, x, config.augment, strengths)


# ---------------------------------------------------------------------------
# The run


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


def _as_arrays(hparams: HParams) -> HParams:
    scalars = {f: jnp.asarray(getattr(hparams, f), jnp.float32) for f in _HPARAM_SCALARS
               if getattr(hparams, f) is not None}
    return hparams._replace(**scalars)


def train(config: TrainConfig, hparams: HParams, key, data: Data, *, resume: Carry | None = None,
          keep_carry: bool = False, on_epoch: Callable[[int, dict], None] | None = None,
          epochs: int | None = None) -> Result:
    """Train one model; pure, so it can be jitted and vmapped over ``hparams`` and ``key``.

    Args:
      config: the static choices (``task``, ``loss`` and ``metrics`` default from ``data``).
      hparams: the dynamic hyperparameters (arrays or floats).
      key: initialises the model and draws mini-batches, dropout masks and augmentations.
      data: train, validation and test arrays (:class:`jaxdl.data.Data`).
      resume: a previous call's ``Result.carry``: continue that run for
        ``config.epochs`` more epochs (successive halving continues survivors
        this way). The schedule's step count goes on from where it stopped.
      keep_carry: return the scan carry in ``Result.carry`` (for ``resume``).
      on_epoch: called on the host as ``on_epoch(epoch, row)`` after each epoch
        (1-based epoch, the history row as arrays), through ``jax.debug.callback``;
        for progress bars, not for results.
      epochs: epochs to train in this call instead of ``config.epochs`` (which
        still sets the length a schedule's decay defaults to); ``0`` with
        ``keep_carry=True`` returns the initial carry (:func:`initial_carry`).
    """
    config = config.resolve(data)
    hparams = _as_arrays(hparams)
    init_key, run_key = jax.random.split(key)
    model = build_model(config, data, init_key)
    data.check_batch_size(config.batch_size)
    steps_per_epoch = data_lib.steps_per_epoch(int(data.x_train.shape[0]), config.batch_size)
    learner, schedule, params, batch_stats = make_learner(config, hparams, model, data, steps_per_epoch)
    if not learner.has_dropout and _nonzero(hparams.dropout_rate):
        raise ValueError(f"dropout_rate is non-zero but model {config.model_name!r} has no Dropout layer; "
                         f"for the built-in models set dropout='standard' (or 'alpha') in model_args")
    maximize = metrics_lib.maximize(config.monitor)
    monitored_name = config.monitor[len("val_"):]
    names = ["loss", *config.metrics]

    def better(new, best):
        return new > best + config.min_delta if maximize else new < best - config.min_delta

    def epoch(carry, _):
        state, best, flags = carry
        epoch_index = flags["epoch"]
        active = ~(flags["stopped"] | flags["diverged"])
        new_state, train_stats = train_epoch(learner, state, data.x_train, data.y_train, data.w_train,
                                             batch_size=config.batch_size,
                                             first_step=epoch_index * steps_per_epoch)
        val = evaluate(learner, new_state.params, new_state.batch_stats, data.x_val, data.y_val)
        blew_up = active & ~(jnp.isfinite(train_stats["loss"]) & jnp.isfinite(val["loss"]))
        keep = active & ~blew_up
        state = _tree_where(keep, new_state, state)
        monitored = val[monitored_name]
        improved = keep & better(monitored, best["value"])
        best = {
            "value": jnp.where(improved, monitored, best["value"]),
            "epoch": jnp.where(improved, epoch_index + 1, best["epoch"]),
            **{f"val_{name}": jnp.where(improved, val[name], best[f"val_{name}"]) for name in names},
            "params": _tree_where(improved, state.params, best["params"]) if config.restores else None,
            "batch_stats": _tree_where(improved, state.batch_stats, best["batch_stats"]) if config.restores else None,
        }
        wait = jnp.where(improved, 0, flags["wait"] + keep)
        if config.reduce_on_plateau:
            reduced = schedules.plateau_update(
                state.plateau, monitored, factor=config.plateau_factor, patience=config.plateau_patience,
                min_delta=config.min_delta, mode="max" if maximize else "min",
            )
            state = state._replace(plateau=_tree_where(keep, reduced, state.plateau))
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
        last_step = (epoch_index + 1) * steps_per_epoch - 1
        row = {
            **{f"train_{name}": jnp.where(active, train_stats[name], nan) for name in names},
            **{f"val_{name}": jnp.where(active, val[name], nan) for name in names},
            "learning_rate": jnp.where(active, schedule(last_step) * carry[0].plateau.learning_rate, nan),
        }
        if on_epoch is not None:
            jax.debug.callback(on_epoch, epoch_index + 1, row, ordered=True)
        return (state, best, flags), row

    opt_state = learner.optimizer.init(params)
    initial_best = {
        "value": jnp.float32(-jnp.inf if maximize else jnp.inf),
        "epoch": jnp.int32(0),
        **{f"val_{name}": jnp.float32(jnp.nan) for name in names},
        "params": params if config.restores else None,
        "batch_stats": batch_stats if config.restores else None,
    }
    flags = {
        "epoch": jnp.int32(0),
        "stopped": jnp.bool_(False),
        "diverged": jnp.bool_(False),
        "diverged_epoch": jnp.int32(-1),
        "epochs_run": jnp.int32(0),
        "wait": jnp.int32(0),
    }
    state = TrainState(params, batch_stats, opt_state, schedules.plateau_init(1.0), run_key)
    carry = Carry(state, initial_best, flags)
    if resume is not None:
        carry = Carry(TrainState(*resume[0]), *resume[1:])
    length = config.epochs if epochs is None else epochs
    (state, best, flags), history = jax.lax.scan(epoch, tuple(carry), None, length=length)
    final_carry = Carry(state, best, flags) if keep_carry else None
    params, batch_stats = state.params, state.batch_stats
    if config.restores:
        has_best = best["epoch"] > 0
        params = _tree_where(has_best, best["params"], params)
        batch_stats = _tree_where(has_best, best["batch_stats"], batch_stats)
    val = evaluate(learner, params, batch_stats, data.x_val, data.y_val)
    test = evaluate(learner, params, batch_stats, data.x_test, data.y_test)
    results = {
        **{f"val_{name}": val[name] for name in names},
        **{f"test_{name}": test[name] for name in names},
        **{f"best_val_{name}": best[f"val_{name}"] for name in names},
        "best_epoch": best["epoch"],
    }
    return Result(params, batch_stats, history, results, flags["diverged"], flags["diverged_epoch"],
                  flags["epochs_run"], final_carry)


def initial_carry(config: TrainConfig, hparams: HParams, key, data: Data) -> Carry:
    """The carry a run starts from (initialised model, optimizer state, key, counters), before any epoch.

    ``train(config, hparams, key, data)`` and ``train(config, hparams, key,
    data, resume=initial_carry(config, hparams, key, data))`` train alike;
    a population whose runs are continued stage by stage starts this way, so
    that every stage is one program.
    """
    return train(config, hparams, key, data, keep_carry=True, epochs=0).carry


def make_run(config: TrainConfig, data: Data) -> Callable[[HParams, jax.Array], Result]:
    """``run(hparams, key) -> Result`` for a fixed configuration and data set.

    The returned function is pure; ``jax.jit(jax.vmap(make_run(config, data)))``
    trains a population. The data are closed over as constants, which suits
    small data sets; pass them as an argument to :func:`train` for large ones.
    """

    def run(hparams: HParams, key) -> Result:
        return train(config, hparams, key, data)

    return run
