"""Data augmentation as pure functions of a key, a batch and a strength.

Every transform is ``f(key, x, strength) -> x'`` on a batch ``x`` of images
``(N, H, W, C)`` or, where it makes sense, 1-D signals ``(N, L, C)``; each
example draws its own randomness from ``key``. ``strength`` may be a traced
scalar (a sweepable hyperparameter, vmapped over a population), and
strength 0 returns ``x`` unchanged, bit for bit. Labels never pass through
them.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import augment
    >>> x = jnp.ones((8, 28, 28, 1))
    >>> y = augment.random_shift(jax.random.key(0), x, 0.1)      # up to 10% of the size
    >>> bool(jnp.all(augment.cutout(jax.random.key(1), x, 0.0) == x))
    True
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["gaussian_noise", "horizontal_flip", "random_shift", "cutout"]


def _spatial(x: jax.Array) -> tuple[int, ...]:
    """The spatial axes of a batch's examples, numbered within one example: (H, W) -> (0, 1), (L,) -> (0,)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a batch of images (N, H, W, C) or signals (N, L, C), got shape {x.shape}")
    return tuple(range(x.ndim - 2))


def gaussian_noise(key: jax.Array, x: jax.Array, std: Any) -> jax.Array:
    r"""``x + std * z``, :math:`z \sim \mathcal N(0, 1)` elementwise; images and signals."""
    return x + jnp.asarray(std, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def horizontal_flip(key: jax.Array, x: jax.Array, probability: Any) -> jax.Array:
    """Each image mirrored left to right with ``probability`` (images only: a signal has no left and right)."""
    if x.ndim != 4:
        raise ValueError(f"horizontal_flip needs images (N, H, W, C), got shape {x.shape}")
    flip = jax.random.uniform(key, (x.shape[0], 1, 1, 1)) < probability
    return jnp.where(flip, x[:, :, ::-1, :], x)


def _shift_one(x: jax.Array, offsets: jax.Array) -> jax.Array:
    """One example moved by integer ``offsets`` along its spatial axes; vacated positions are 0."""
    for axis, offset in enumerate(offsets):
        size = x.shape[axis]
        index = jnp.arange(size) - offset
        inside = (index >= 0) & (index < size)
        moved = jnp.take(x, jnp.clip(index, 0, size - 1), axis=axis)
        shape = [1] * x.ndim
        shape[axis] = size
        x = jnp.where(inside.reshape(shape), moved, jnp.zeros((), x.dtype))
    return x


def random_shift(key: jax.Array, x: jax.Array, fraction: Any) -> jax.Array:
    r"""Each example translated by a whole number of positions, zero-filled.

    Along each spatial axis of size :math:`S` the offset is uniform on the
    integers :math:`\{-m, \dots, m\}`, :math:`m = \lfloor \text{fraction}
    \cdot S \rfloor`; images and signals.
    """
    axes = _spatial(x)
    sizes = jnp.asarray([x.shape[1 + a] for a in axes], jnp.float32)
    most = jnp.floor(jnp.asarray(fraction, jnp.float32) * sizes)
    u = jax.random.uniform(key, (x.shape[0], len(axes)))
    offsets = jnp.floor(u * (2 * most + 1)).astype(jnp.int32) - most.astype(jnp.int32)
    return jax.vmap(_shift_one)(x, offsets)


def cutout(key: jax.Array, x: jax.Array, fraction: Any) -> jax.Array:
    r"""Each example with one square (a segment, for signals) set to 0 (DeVries and Taylor, 2017).

    The side is :math:`\lfloor \text{fraction} \cdot S \rfloor` along each
    spatial axis of size :math:`S`, centred at a uniform position, clipped at
    the border.
    """
    axes = _spatial(x)
    cut = jnp.ones(x.shape[:-1], bool)  # inside the square along every axis
    keys = jax.random.split(key, len(axes))
    for number, axis in enumerate(axes):
        size = x.shape[1 + axis]
        side = jnp.floor(jnp.asarray(fraction, jnp.float32) * size).astype(jnp.int32)
        centre = jax.random.randint(keys[number], (x.shape[0],), 0, size)
        start = centre - side // 2
        position = jnp.arange(size)
        inside = (position >= start[:, None]) & (position < (start + side)[:, None])  # (N, size)
        shape = [x.shape[0]] + [1] * len(axes)
        shape[1 + axis] = size
        cut = cut & inside.reshape(shape)
    return jnp.where(cut[..., None], jnp.zeros((), x.dtype), x)
