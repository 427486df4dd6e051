"""The model contract, and the built-in Flax NNX MLP and CNN that follow it.

A model is a registered factory (:func:`jaxdl.register_model`)::

    factory(input_shape, out_features, *, activation, rngs, **static) -> nnx.Module

called once per trial. ``input_shape`` is one example's shape (no batch
axis), ``out_features`` the width of the output (classes, or regression
targets), ``activation`` a function from the activation registry,
``rngs`` an ``nnx.Rngs`` whose ``params`` stream initialises the weights, and
``static`` the model's own settings (widths, depth), which a sweep may vary
as static keys. The module is called as ``model(x, train=...)`` on a batch
and returns the outputs (logits for classification).

Dropout whose rate a sweep varies is :class:`Dropout`: a layer whose rate and
key are variables that the run sets from ``HParams.dropout_rate`` and the
trial's key at every step, so the rate is an array (vmappable) and the
model's ``__call__`` needs no extra arguments. Batch norm is ``nnx.BatchNorm``
called with ``use_running_average=not train``; the run carries its
statistics. The built-in ``"mlp"`` and ``"cnn"`` are registered under exactly
this contract::

    model = mlp((64,), 10, activation=activations.elu, rngs=nnx.Rngs(0),
                hidden=(128, 64), dropout="standard")
    set_dropout(model, 0.2, key)          # outside a run, set the rate by hand
    logits = model(x, train=True)

Training works on the pure split of :func:`split` (parameters, batch
statistics and other state, dropout variables); see :mod:`jaxdl.train`.

Initializers are variance scaling with ``scale / n`` (REFERENCE.md):
Glorot (scale 1, fan_avg), He (scale 2, fan_in), LeCun (scale 1, fan_in), each
as a truncated normal or a uniform distribution. Keras' Dense defaults to
``glorot_uniform``, flax to ``lecun_normal``; jaxdl's default pairs each
activation with its matching initializer, registered with the activation
(:func:`jaxdl.activations.matching_initializer`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jaxdl import activations, registry

__all__ = [
    "INITIALIZERS",
    "Dropout",
    "DropoutRate",
    "DropoutKey",
    "mlp",
    "cnn",
    "set_dropout",
    "split",
    "MLPConfig",
    "CNNConfig",
    "MLP",
    "CNN",
    "build",
    "default_initializer",
    "get_initializer",
    "dropout",
    "alpha_dropout",
    "count_params",
    "summary",
]

_init = jax.nn.initializers
INITIALIZERS: dict[str, Callable] = {
    "glorot_normal": _init.glorot_normal(),
    "glorot_uniform": _init.glorot_uniform(),
    "he_normal": _init.he_normal(),
    "he_uniform": _init.he_uniform(),
    "lecun_normal": _init.lecun_normal(),
    "lecun_uniform": _init.lecun_uniform(),
}



def default_initializer(activation) -> str:
    """The initializer matched to ``activation`` (a name or a registered function): LeCun
    normal for SELU and SERLU, Glorot uniform for the saturating ones (tanh, sigmoid), He
    normal otherwise, or what a user activation was registered with."""
    return activations.matching_initializer(activation)


def get_initializer(name: str) -> Callable:
    """Look up a kernel initializer by name; raises ``ValueError`` listing the valid names."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name!r}; valid names: {', '.join(sorted(INITIALIZERS))}"
        ) from None


def dropout(x, rate, key):
    """Inverted dropout with a traceable ``rate``: keep with probability 1 - rate, scale by 1/(1 - rate).

    ``rate = 0`` returns ``x`` unchanged, bit for bit.
    """
    keep = 1.0 - rate
    mask = jax.random.bernoulli(key, keep, x.shape)
    return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


def alpha_dropout(x, rate, key):
    """Alpha dropout (Klambauer et al., 2017) for SELU networks, with a traceable ``rate``.

    Dropped units are set to the SELU saturation value -lambda*alpha, then an
    affine map a*x + b restores zero mean and unit variance:
    a = ((1 - q)(1 + q alpha'^2))^(-1/2), b = -a alpha' q, with q = rate and
    alpha' = -lambda*alpha. ``rate = 0`` returns ``x`` unchanged.
    """
    saturation = -1.0507009873554805 * 1.6732632423543772
    keep = 1.0 - rate
    a = (keep * (1.0 + rate * saturation**2)) ** -0.5
    b = -a * saturation * rate
    mask = jax.random.bernoulli(key, keep, x.shape)
    return (a * jnp.where(mask, x, saturation) + b).astype(x.dtype)


_DROPOUTS = {"standard": dropout, "alpha": alpha_dropout}


class DropoutRate(nnx.Variable):
    """The rate of a :class:`Dropout` layer; a run sets it to ``HParams.dropout_rate``."""


class DropoutKey(nnx.Variable):
    """The key a :class:`Dropout` layer draws its mask from; a run sets a fresh one every step."""


class Dropout(nnx.Module):
    """Dropout whose rate and key are variables: a sweepable rate inside any model.

    In training mode (``train=True``) it applies :func:`dropout` (``kind =
    "standard"``) or :func:`alpha_dropout` (``"alpha"``, for SELU) with the
    current rate; in inference mode, and at rate 0, it is the identity. A run
    sets every layer's rate to ``HParams.dropout_rate`` and gives each its
    own key per step; outside a run, :func:`set_dropout` does.
    """

    def __init__(self, kind: str = "standard", *, rngs: nnx.Rngs | None = None):
        if kind not in _DROPOUTS:
            raise ValueError(f"dropout must be one of {sorted(_DROPOUTS)}, got {kind!r}")
        self.kind = kind
        self.rate = DropoutRate(jnp.zeros((), jnp.float32))
        self.key = DropoutKey(jax.random.key(0))

    def __call__(self, x, *, train: bool = False):
        if not train:
            return x
        return _DROPOUTS[self.kind](x, self.rate[...], self.key[...])


_OTHER_STATE = nnx.Not(nnx.Any(nnx.Param, DropoutRate, DropoutKey))


def split(model: nnx.Module):
    """``graphdef, params, state, rates, keys``: the pure pieces of a model.

    ``params`` are the ``nnx.Param`` variables (what the optimizer updates),
    ``rates`` and ``keys`` those of the :class:`Dropout` layers, ``state``
    everything else (batch-norm statistics). ``nnx.merge(graphdef, params,
    state, rates, keys)`` rebuilds the model.
    """
    return nnx.split(model, nnx.Param, _OTHER_STATE, DropoutRate, DropoutKey)


def dropout_leaves(keys_state) -> int:
    """Number of :class:`Dropout` layers in a ``keys`` state of :func:`split`."""
    return len(jax.tree.leaves(keys_state))


def with_dropout(rates, keys, rate, key):
    """``rates, keys`` of :func:`split` with every rate set to ``rate`` and fresh keys split from ``key``.

    Layers get ``jax.random.split(key, n)`` in graph order. Pure: usable on tracers.
    """
    rates = jax.tree.map(lambda _: jnp.asarray(rate, jnp.float32), rates)
    leaves, treedef = jax.tree.flatten(keys)
    if leaves:
        keys = jax.tree.unflatten(treedef, list(jax.random.split(key, len(leaves))))
    return rates, keys


def set_dropout(model: nnx.Module, rate, key) -> None:
    """Set every :class:`Dropout` layer of ``model`` to ``rate``, with keys split from ``key`` (in place)."""
    graphdef, params, state, rates, keys = split(model)
    rates, keys = with_dropout(rates, keys, rate, key)
    nnx.update(model, rates, keys)


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """A multilayer perceptron: ``in_features -> hidden... -> out_features``.

    Attributes:
      in_features: input width.
      hidden: widths of the hidden layers.
      out_features: width of the output layer (logits, no activation).
      activation: a registered activation name or function. ``"maxout"`` makes
        each hidden layer compute ``maxout_pieces`` linear pieces per unit.
      init: kernel initializer name; ``None`` picks :func:`default_initializer`.
      dropout: ``None`` (no dropout layers: no masks are drawn), ``"standard"``
        or ``"alpha"`` (for SELU); the rate is given at call time.
      batch_norm: ``None``, ``"before"`` or ``"after"`` the activation.
      maxout_pieces: pieces per unit for maxout.
    """

    in_features: int
    hidden: tuple[int, ...] = (64, 64)
    out_features: int = 10
    activation: str | Callable = "relu"
    init: str | None = None
    dropout: str | None = None
    batch_norm: str | None = None
    maxout_pieces: int = 2

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        _check_common(self)
        if self.in_features <= 0 or self.out_features <= 0 or any(w <= 0 for w in self.hidden):
            raise ValueError(f"layer widths must be positive, got {self}")


@dataclasses.dataclass(frozen=True)
class CNNConfig:
    """A small CNN: conv blocks (3x3 conv, activation, 2x2 pooling or a stride-2 conv), then dense layers.

    Attributes:
      input_shape: ``(height, width, channels)`` of one image.
      channels: output channels of each conv block.
      kernel_size: side of the square kernels.
      downsample: ``"pool"`` (2x2 max pooling after each block) or ``"stride"``
        (each block's convolution has stride 2).
      dense: widths of the dense layers after flattening.
      out_features, activation, init, dropout, batch_norm, maxout_pieces: as in :class:`MLPConfig`.
    """

    input_shape: tuple[int, int, int] = (8, 8, 1)
    channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 3
    downsample: str = "pool"
    dense: tuple[int, ...] = (64,)
    out_features: int = 10
    activation: str | Callable = "relu"
    init: str | None = None
    dropout: str | None = None
    batch_norm: str | None = None
    maxout_pieces: int = 2

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "dense", tuple(int(w) for w in self.dense))
        _check_common(self)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {self.input_shape}")
        if self.downsample not in ("pool", "stride"):
            raise ValueError(f"downsample must be 'pool' or 'stride', got {self.downsample!r}")


def _check_common(config):
    activations.get(config.activation)
    get_initializer(config.init or default_initializer(config.activation))
    if config.dropout is not None and config.dropout not in _DROPOUTS:
        raise ValueError(f"dropout must be None or one of {sorted(_DROPOUTS)}, got {config.dropout!r}")
    if config.batch_norm not in (None, "before", "after"):
        raise ValueError(f"batch_norm must be None, 'before' or 'after', got {config.batch_norm!r}")
    if config.maxout_pieces < 1:
        raise ValueError(f"maxout_pieces must be >= 1, got {config.maxout_pieces}")


def _is_maxout(activation) -> bool:
    return activations.get(activation) is activations.maxout


class _Block(nnx.Module):
    """One hidden layer: transform, optional batch norm, activation, optional pooling, dropout."""

    def __init__(self, layer, width, config, pool, rngs):
        self.layer = layer
        self.norm = nnx.BatchNorm(width, rngs=rngs) if config.batch_norm else None
        self.norm_position = config.batch_norm
        self.maxout = _is_maxout(config.activation)
        self.pieces = _pieces(config)
        self.activation = activations.get(config.activation)
        self.dropout = Dropout(config.dropout) if config.dropout else None
        self.pool = pool

    def __call__(self, x, train):
        x = self.layer(x)
        if self.norm_position == "before":
            x = self.norm(x, use_running_average=not train)
        x = self.activation(x, self.pieces) if self.maxout else self.activation(x)
        if self.norm_position == "after":
            x = self.norm(x, use_running_average=not train)
        if self.pool:
            x = nnx.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
        if self.dropout is not None:
            x = self.dropout(x, train=train)
        return x


def _pieces(config):
    return config.maxout_pieces if _is_maxout(config.activation) else 1


def _make_blocks(widths, in_width, config, rngs, make_layer, pool=False):
    """Blocks of the given output widths; maxout layers compute ``pieces`` outputs per unit."""
    pieces, blocks = _pieces(config), []
    for out in widths:
        norm_width = out * pieces if config.batch_norm == "before" else out
        blocks.append(_Block(make_layer(in_width, out * pieces), norm_width, config, pool, rngs))
        in_width = out
    return blocks, in_width


def _forward(blocks, head, x, train):
    for block in blocks:
        if isinstance(block.layer, nnx.Linear) and x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        x = block(x, train)
    return head(x.reshape(x.shape[0], -1))


class MLP(nnx.Module):
    """Multilayer perceptron from an :class:`MLPConfig`; returns logits."""

    def __init__(self, config: MLPConfig, *, rngs: nnx.Rngs):
        self.config = config
        init = get_initializer(config.init or default_initializer(config.activation))
        linear = lambda n_in, n_out: nnx.Linear(n_in, n_out, kernel_init=init, rngs=rngs)
        blocks, width = _make_blocks(config.hidden, config.in_features, config, rngs, linear)
        self.blocks = nnx.List(blocks)
        self.head = linear(width, config.out_features)

    def __call__(self, x, *, train: bool = False):
        x = x.reshape(x.shape[0], -1)
        return _forward(self.blocks, self.head, x, train)


class CNN(nnx.Module):
    """Small convolutional network from a :class:`CNNConfig`; returns logits."""

    def __init__(self, config: CNNConfig, *, rngs: nnx.Rngs):
        self.config = config
        init = get_initializer(config.init or default_initializer(config.activation))
        strides = 2 if config.downsample == "stride" else 1
        size = (config.kernel_size,) * 2
        conv = lambda n_in, n_out: nnx.Conv(n_in, n_out, size, strides=strides, padding="SAME",
                                            kernel_init=init, rngs=rngs)
        linear = lambda n_in, n_out: nnx.Linear(n_in, n_out, kernel_init=init, rngs=rngs)
        height, width, channels = config.input_shape
        conv_blocks, channels = _make_blocks(config.channels, channels, config, rngs, conv,
                                             pool=config.downsample == "pool")
        for _ in config.channels:  # each block halves the image, by pooling or by stride
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        dense_blocks, features = _make_blocks(config.dense, height * width * channels, config,
                                              rngs, linear)
        self.blocks = nnx.List(conv_blocks + dense_blocks)
        self.head = linear(features, config.out_features)

    def __call__(self, x, *, train: bool = False):
        if x.ndim == 2:
            x = x.reshape(x.shape[0], *self.config.input_shape)
        return _forward(self.blocks, self.head, x, train)


@registry.register_model("mlp")
def mlp(input_shape, out_features, *, activation, rngs, hidden=(64, 64), init=None, dropout=None,
        batch_norm=None, maxout_pieces=2) -> MLP:
    """The built-in MLP under the model contract: ``input_shape`` is flattened.

    Static settings: ``hidden`` widths, ``init`` (``None``: the activation's
    matching initializer), ``dropout`` (``None``, ``"standard"`` or
    ``"alpha"``), ``batch_norm`` (``None``, ``"before"``, ``"after"``),
    ``maxout_pieces``. See :class:`MLPConfig`.
    """
    config = MLPConfig(in_features=math.prod(input_shape), hidden=hidden, out_features=out_features,
                       activation=activation, init=init, dropout=dropout, batch_norm=batch_norm,
                       maxout_pieces=maxout_pieces)
    return MLP(config, rngs=rngs)


@registry.register_model("cnn")
def cnn(input_shape, out_features, *, activation, rngs, channels=(16, 32), dense=(64,), kernel_size=3,
        downsample="pool", init=None, dropout=None, batch_norm=None, maxout_pieces=2) -> CNN:
    """The built-in CNN under the model contract: ``input_shape`` is ``(height, width, channels)``.

    Static settings: ``channels``, ``dense``, ``kernel_size``, ``downsample``
    and those of :func:`mlp`. See :class:`CNNConfig`.
    """
    if len(input_shape) != 3:
        raise ValueError(f"the CNN needs images of shape (height, width, channels), got examples of shape "
                         f"{tuple(input_shape)}")
    config = CNNConfig(input_shape=tuple(input_shape), channels=channels, dense=dense, kernel_size=kernel_size,
                       downsample=downsample, out_features=out_features, activation=activation, init=init,
                       dropout=dropout, batch_norm=batch_norm, maxout_pieces=maxout_pieces)
    return CNN(config, rngs=rngs)


def build(config: MLPConfig | CNNConfig, key) -> MLP | CNN:
    """Build the model a configuration describes, initialised from ``key``."""
    rngs = nnx.Rngs(params=key)
    if isinstance(config, MLPConfig):
        return MLP(config, rngs=rngs)
    if isinstance(config, CNNConfig):
        return CNN(config, rngs=rngs)
    raise TypeError(f"expected MLPConfig or CNNConfig, got {type(config).__name__}")


def count_params(tree) -> int:
    """Number of scalars in a pytree (an ``nnx.State`` of parameters, say)."""
    return sum(math.prod(jnp.shape(leaf)) for leaf in jax.tree.leaves(tree))


def summary(model: MLP | CNN) -> str:
    """A layer table like Keras' ``model.summary()``: layer, type, kernel shape, parameters, total.

    Counts trainable parameters (kernels, biases, batch-norm scale and bias);
    batch-norm running statistics are reported separately as non-trainable.
    """
    rows = []
    for path, node in nnx.iter_graph(model):
        if isinstance(node, (nnx.Linear, nnx.Conv, nnx.BatchNorm)):
            params = nnx.state(node, nnx.Param)
            shape = node.kernel[...].shape if hasattr(node, "kernel") else node.scale[...].shape
            rows.append(("/".join(map(str, path)), type(node).__name__, str(tuple(shape)), count_params(params)))
    header = ("layer", "type", "shape", "parameters")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(3)]
    line = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>12}"
    out = [line(header), "-" * len(line(header))]
    out += [line((name, kind, shape, f"{count:,}")) for name, kind, shape, count in rows]
    out.append("-" * len(out[0]))
    out.append(f"Trainable parameters: {count_params(nnx.state(model, nnx.Param)):,}")
    non_trainable = count_params(nnx.state(model, nnx.BatchStat))
    if non_trainable:
        out.append(f"Non-trainable parameters (batch statistics): {non_trainable:,}")
    return "\n".join(out)
