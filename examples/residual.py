"""A researcher's own pieces, registered with jaxdl and swept like built-ins.

- ``residual_mlp``: a residual network with layer norm (not an MLP), under
  jaxdl's model contract; its ``width`` and ``depth`` are static settings a
  sweep may vary, and its dropout rate is ``HParams.dropout_rate``.
- ``squareplus``: an activation, ``(x + sqrt(x^2 + b)) / 2`` (So, 2021), a
  smooth ReLU.
- ``lion``: an optimizer written as an optax ``GradientTransformation``
  (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms").

Use it with ``jaxdl sweep --import examples/residual.py --config examples/residual.toml``
(the TOML file imports it too), or import it in Python.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import jaxdl
from jaxdl import models


@jaxdl.register_activation("squareplus", init="he_normal")
def squareplus(x, b=4.0):
    """``(x + sqrt(x^2 + b)) / 2``: ReLU's shape, smooth at 0 (value sqrt(b) / 2 there)."""
    return 0.5 * (x + jnp.sqrt(jnp.square(x) + b))


class LionState(NamedTuple):
    mu: optax.Updates


def scale_by_lion(b1=0.9, b2=0.99) -> optax.GradientTransformation:
    """Lion's direction ``sign(b1 m + (1 - b1) g)``, then ``m <- b2 m + (1 - b2) g``."""

    def init(params):
        return LionState(mu=jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        direction = jax.tree.map(lambda m, g: jnp.sign(b1 * m + (1 - b1) * g), state.mu, grads)
        mu = jax.tree.map(lambda m, g: b2 * m + (1 - b2) * g, state.mu, grads)
        return direction, LionState(mu=mu)

    return optax.GradientTransformation(init, update)


@jaxdl.register_optimizer("lion", bounds={"b1": (0.0, 1.0), "b2": (0.0, 1.0)})
def lion(learning_rate, b1=0.9, b2=0.99) -> optax.GradientTransformation:
    """Lion: a sign update, so its learning rate is typically 3-10x smaller than Adam's."""
    return optax.chain(scale_by_lion(b1, b2), optax.scale_by_learning_rate(learning_rate))


class _Block(nnx.Module):
    """``x + dropout(W act(LayerNorm(x)))``."""

    def __init__(self, width, activation, rngs):
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.linear = nnx.Linear(width, width, rngs=rngs)
        self.activation = activation
        self.dropout = models.Dropout()

    def __call__(self, x, train):
        return x + self.dropout(self.linear(self.activation(self.norm(x))), train=train)


class ResidualMLP(nnx.Module):
    def __init__(self, input_shape, out_features, *, activation, rngs, width, depth):
        self.embed = nnx.Linear(math.prod(input_shape), width, rngs=rngs)
        self.blocks = nnx.List([_Block(width, activation, rngs) for _ in range(depth)])
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.head = nnx.Linear(width, out_features, rngs=rngs)

    def __call__(self, x, *, train: bool = False):
        x = self.embed(x.reshape(x.shape[0], -1))
        for block in self.blocks:
            x = block(x, train)
        return self.head(self.norm(x))


@jaxdl.register_model("residual_mlp")
def residual_mlp(input_shape, out_features, *, activation, rngs, width=64, depth=2):
    """A residual network of ``depth`` pre-norm blocks of ``width`` units."""
    return ResidualMLP(input_shape, out_features, activation=activation, rngs=rngs, width=width, depth=depth)
