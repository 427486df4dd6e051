"""Data augmentation as pure functions of a key, a batch and a strength.

Every transform is ``f(key, x, strength) -> x'`` on a batch ``x`` of images
``(N, H, W, C)`` or, where it makes sense, 1-D signals ``(N, L, C)``; each
example draws its own randomness from ``key``. ``strength`` may be a traced
scalar (a sweepable hyperparameter, vmapped over a population), and
strength 0 returns ``x`` unchanged, bit for bit. Labels never pass through
them.

In training, ``jaxdl.train.TrainConfig(augment=(...))`` chooses transforms
for every training batch and ``HParams.augment`` sets their strengths
(sweepable; :data:`DEFAULTS` where none is given, within :data:`BOUNDS`).

Example::

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import augment
    >>> x = jnp.ones((8, 28, 28, 1))
    >>> y = augment.random_shift(jax.random.key(0), x, 0.1)      # up to 10% of the size
    >>> bool(jnp.all(augment.cutout(jax.random.key(1), x, 0.0) == x))
    True
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

__all__ = [
    "BOUNDS",
    "DEFAULTS",
    "TRANSFORMS",
    "check_names",
    "compose",
    "crop_and_pad",
    "cutout",
    "gaussian_blur",
    "gaussian_noise",
    "horizontal_flip",
    "random_rotation",
    "random_scale",
    "random_shift",
    "unsupported",
]


def _spatial(x: jax.Array) -> tuple[int, ...]:
    """The spatial axes of a batch's examples, numbered within one example: (H, W) -> (0, 1), (L,) -> (0,)."""
    if x.ndim not in (3, 4):
        raise ValueError(f"expected a batch of images (N, H, W, C) or signals (N, L, C), got shape {x.shape}")
    return tuple(range(x.ndim - 2))


def _images_only(name: str, x: jax.Array) -> None:
    """A ``ValueError`` unless ``x`` is a batch of images."""
    if x.ndim != 4:
        raise ValueError(f"{name} needs images (N, H, W, C), got shape {x.shape}")


def gaussian_noise(key: jax.Array, x: jax.Array, std: Any) -> jax.Array:
    r"""``x + std * z``, :math:`z \sim \mathcal N(0, 1)` elementwise; images and signals."""
    return x + jnp.asarray(std, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def horizontal_flip(key: jax.Array, x: jax.Array, probability: Any) -> jax.Array:
    """Each image mirrored left to right with ``probability`` (images only: a signal has no left and right)."""
    _images_only("horizontal_flip", x)
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
    \cdot S \rfloor`; images and signals. The strength acts in steps of
    :math:`1/S`: on 8 x 8 digits every fraction below 0.125 is the identity
    and every one in :math:`[0.125, 0.25)` shifts by up to one pixel, so a
    sweep over it is a sweep over :math:`m` (as with :func:`cutout` and
    :func:`crop_and_pad`).
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


# The per-example helpers below are compiled: called outside jit, their dozens of small operations would
# otherwise each be compiled on their own, seconds for a first batch of a new shape.


def _resample_one(x: jax.Array, source: Sequence[jax.Array]) -> jax.Array:
    """One example read at fractional ``source`` positions (one array per spatial axis), linearly, 0 outside.

    Outside means JAX's ``mode="constant"`` (SciPy's ``"grid-constant"``): a
    position within one step of the border still takes its share of the edge
    value, so content fades to 0 over one position rather than being cut.
    Integer inputs come back rounded, in their own dtype.
    """
    read = lambda plane: jax.scipy.ndimage.map_coordinates(plane, source, order=1, mode="constant", cval=0)
    return jax.vmap(read, in_axes=-1, out_axes=-1)(x)


def _grid(shape: Sequence[int]) -> list[jax.Array]:
    """Each spatial position's offset from the example's centre, one float32 array per axis."""
    axes = [jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2 for size in shape]
    return jnp.meshgrid(*axes, indexing="ij")


@jax.jit
def _rotate_one(image: jax.Array, degrees: jax.Array) -> jax.Array:
    """One image ``(H, W, C)`` rotated counterclockwise by ``degrees`` about its centre (bilinear, 0 outside)."""
    angle = jnp.deg2rad(jnp.asarray(degrees, jnp.float32))
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    row, col = _grid(image.shape[:2])
    # The output at an offset (row, col) from the centre reads the input at the inverse rotation of it;
    # rows point down, so counterclockwise on screen has +sin in the row.
    source = [cos * row + sin * col + (image.shape[0] - 1) / 2, -sin * row + cos * col + (image.shape[1] - 1) / 2]
    return _resample_one(image, source)


def random_rotation(key: jax.Array, x: jax.Array, degrees: Any) -> jax.Array:
    r"""Each image rotated about its centre by :math:`\theta \sim U[-\text{degrees}, \text{degrees}]`.

    Counterclockwise as displayed (row 0 at the top) is positive, as in
    ``jnp.rot90``, ``scipy.ndimage.rotate`` and torchvision's ``rotate``. With
    :math:`(u, v)` a position's offset from the centre
    :math:`((H - 1)/2, (W - 1)/2)` in rows and columns, the output there is
    the input bilinearly interpolated at

    .. math:: (u \cos\theta + v \sin\theta,\; -u \sin\theta + v \cos\theta),

    and 0 where that falls outside the image. The angle is in pixel units
    (a non-square image is not stretched) and the canvas keeps its size, so
    the corners are cut off. ``degrees`` 0 to 30 is typical for digits;
    images only.
    """
    _images_only("random_rotation", x)
    angles = jnp.asarray(degrees, jnp.float32) * jax.random.uniform(key, (x.shape[0],), minval=-1.0, maxval=1.0)
    rotated = jax.vmap(_rotate_one)(x, angles)
    # At angle 0 the interpolation is exact except for -0.0 and a NaN's neighbours; keep x itself.
    return jnp.where((angles == 0)[:, None, None, None], x, rotated)


@jax.jit
def _zoom_one(x: jax.Array, factor: jax.Array) -> jax.Array:
    """One example magnified by ``factor`` about its centre along every spatial axis (linear, 0 outside)."""
    shape = x.shape[:-1]
    # A factor <= 0 (a fraction of 1 or more) would divide by zero or mirror; read it as the tiniest zoom-out.
    factor = jnp.maximum(jnp.asarray(factor, jnp.float32), 1e-3)
    source = [offset / factor + (size - 1) / 2 for offset, size in zip(_grid(shape), shape)]
    return _resample_one(x, source)


def random_scale(key: jax.Array, x: jax.Array, fraction: Any) -> jax.Array:
    r"""Each example zoomed about its centre by :math:`s \sim U[1 - \text{fraction}, 1 + \text{fraction}]`.

    The output at offset :math:`d` from the centre :math:`(S - 1)/2` along
    each spatial axis reads the input at :math:`d / s` (linear
    interpolation, 0 outside): :math:`s > 1` magnifies and crops, :math:`s < 1`
    shrinks and zero-fills the border. The same :math:`s` on every axis, so
    the aspect ratio is kept. ``fraction`` in :math:`[0, 1)`, typically 0.1
    to 0.2; images and signals.
    """
    _spatial(x)
    factors = 1 + jnp.asarray(fraction, jnp.float32) * jax.random.uniform(key, (x.shape[0],), minval=-1.0, maxval=1.0)
    zoomed = jax.vmap(_zoom_one)(x, factors)
    return jnp.where((factors == 1).reshape((-1,) + (1,) * (x.ndim - 1)), x, zoomed)


def crop_and_pad(key: jax.Array, x: jax.Array, pad: Any) -> jax.Array:
    r"""Each example zero-padded by :math:`p = \lfloor \text{pad} \cdot S \rfloor` per side, then cropped back to :math:`S`.

    The CIFAR augmentation (Lee et al., 2015; He et al., 2016: pad 4, crop
    32, i.e. ``pad=0.125``; torchvision's ``RandomCrop(32, padding=4)``).
    The crop starts at a uniform one of the :math:`2p + 1` positions along
    each axis, independently, which moves the content by an offset uniform on
    :math:`\{-p, \dots, p\}` per axis and zero-fills what it vacates: the
    same distribution as :func:`random_shift` with ``fraction=pad``, and in
    fact the same function: both draw the offset from ``key`` alike, so with
    the same key they return the same batch. It is here under the name the
    literature uses, computed the way that name says (``jnp.pad`` then
    ``jax.lax.dynamic_slice``); use one or the other, not both. Images and
    signals.

    ``pad`` may be traced, so the padding is the static most, :math:`S` per
    side (an offset of :math:`S` already leaves only zeros), and :math:`p`
    picks where the slice starts; the padded copy is 9 times the image.
    """
    axes = _spatial(x)
    sizes = [x.shape[1 + a] for a in axes]
    most = jnp.floor(jnp.asarray(pad, jnp.float32) * jnp.asarray(sizes, jnp.float32))
    u = jax.random.uniform(key, (x.shape[0], len(axes)))
    # The same draw as random_shift's, clipped to what the padding holds.
    offsets = jnp.floor(u * (2 * most + 1)).astype(jnp.int32) - most.astype(jnp.int32)
    offsets = jnp.clip(offsets, -jnp.asarray(sizes), jnp.asarray(sizes))

    def crop_one(example: jax.Array, offset: jax.Array) -> jax.Array:
        padded = jnp.pad(example, [(size, size) for size in sizes] + [(0, 0)])
        start = list(jnp.asarray(sizes) - offset) + [0]
        return jax.lax.dynamic_slice(padded, start, example.shape)

    return jax.vmap(crop_one)(x, offsets)


def _blur_matrix(size: int, sigma: jax.Array) -> jax.Array:
    r"""The ``(size, size)`` matrix of a Gaussian blur along one axis, the symmetric reflection folded in.

    Output :math:`i` is :math:`\sum_k g_k \tilde x_{i + k} / \sum_k g_k`,
    :math:`g_k = e^{-k^2 / 2\sigma^2}`, :math:`|k| \le S - 1`, with
    :math:`\tilde x` the input reflected about its edges
    (:math:`\tilde x_{-1} = x_0`, :math:`\tilde x_S = x_{S - 1}`); input
    :math:`j` is reached from :math:`i` by the offsets :math:`j - i`,
    :math:`-1 - j - i` and :math:`2S - 1 - j - i`.
    """
    # sigma 0 is handled by the caller; a positive stand-in keeps the weights finite (and gradients of where clean).
    sigma = jnp.where(sigma > 0, sigma, 1.0)

    def weight(offset: jax.Array) -> jax.Array:
        inside = jnp.abs(offset) <= size - 1
        return jnp.where(inside, jnp.exp(-0.5 * (offset / sigma) ** 2), 0.0)

    total = jnp.sum(weight(jnp.arange(-(size - 1), size, dtype=jnp.float32)))
    i = jnp.arange(size, dtype=jnp.float32)[:, None]
    j = jnp.arange(size, dtype=jnp.float32)[None, :]
    return (weight(j - i) + weight(-1 - j - i) + weight(2 * size - 1 - j - i)) / total


@jax.jit
def _blur_one(x: jax.Array, sigma: jax.Array) -> jax.Array:
    """One example blurred along each spatial axis in turn by a Gaussian of standard deviation ``sigma``."""
    sigma = jnp.asarray(sigma, jnp.float32)
    blurred = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    for axis in range(x.ndim - 1):
        matrix = _blur_matrix(x.shape[axis], sigma).astype(blurred.dtype)
        # HIGHEST: a GPU would otherwise multiply float32 in TF32 and lose three digits.
        blurred = jnp.tensordot(matrix, blurred, axes=(1, axis), precision=jax.lax.Precision.HIGHEST)
        blurred = jnp.moveaxis(blurred, 0, axis)
    if jnp.issubdtype(x.dtype, jnp.integer):
        blurred = jnp.round(blurred)
    blurred = blurred.astype(x.dtype)
    return jnp.where(sigma == 0, x, blurred)


def gaussian_blur(key: jax.Array, x: jax.Array, sigma: Any) -> jax.Array:
    r"""Each example blurred by a Gaussian of standard deviation :math:`\sigma_n \sim U[0, \text{sigma}]` positions.

    The blur is separable, one 1-D convolution per spatial axis with weights
    :math:`\propto e^{-k^2 / 2\sigma_n^2}` normalised to sum to 1, and the
    example reflected about its edges (SciPy's ``mode="reflect"``), so a
    constant example stays constant and the border does not darken, a cue
    no test image has. The kernel spans the whole axis (offsets up to
    :math:`S - 1`, nothing truncated that the reflected example could
    reach); it is SciPy's ``gaussian_filter1d(..., mode="reflect",
    truncate=(S - 1) / sigma)`` on each axis. Each axis's convolution is one
    :math:`S \times S` matrix per example, so a per-example :math:`\sigma_n`
    is a batched matrix product, :math:`O(S)` work per value: fine for
    images and short signals, slow for signals of many thousand positions.

    :math:`\sigma_n` is drawn per example, as torchvision's ``GaussianBlur``
    and SimCLR draw it, so that the network sees every degree of blur up to
    ``sigma`` rather than one fixed filter; an example whose :math:`\sigma_n`
    is 0 (every example, at strength 0) comes back as it was, bit for bit.
    ``sigma`` of 1 to 2 is typical for 32 x 32 images; images and signals.
    """
    _spatial(x)
    sigmas = jnp.asarray(sigma, jnp.float32) * jax.random.uniform(key, (x.shape[0],))
    return jax.vmap(_blur_one)(x, sigmas)


# Every transform by name, in the order :func:`compose` applies them: geometry first, then occlusion, then blur
# (which softens the cutout's edges as a camera would), then noise (which a blur would otherwise smooth away).
TRANSFORMS: dict[str, Callable[[jax.Array, jax.Array, Any], jax.Array]] = {
    "random_shift": random_shift,
    "random_scale": random_scale,
    "random_rotation": random_rotation,
    "crop_and_pad": crop_and_pad,
    "horizontal_flip": horizontal_flip,
    "cutout": cutout,
    "gaussian_blur": gaussian_blur,
    "gaussian_noise": gaussian_noise,
}


# The strength a transform chosen without one trains with (jaxdl.train.TrainConfig(augment=...)): the
# literature's usual setting, in the transform's own units.
DEFAULTS: dict[str, float] = {
    "random_shift": 0.125,  # an eighth of the size: 1 pixel of 8, 4 of 32 (the CIFAR 4-pixel shift)
    "random_scale": 0.1,  # zoom by a factor in [0.9, 1.1]
    "random_rotation": 10.0,  # degrees either way, as for digits
    "crop_and_pad": 0.125,  # pad 4, crop 32 (He et al., 2016)
    "horizontal_flip": 0.5,  # half the images mirrored, as torchvision's RandomHorizontalFlip
    "cutout": 0.25,  # a square of a quarter of the side (DeVries and Taylor's 8 x 8 of 32 for CIFAR-100)
    "gaussian_blur": 1.0,  # sigma up to one position
    "gaussian_noise": 0.1,  # a tenth of a standardised feature's spread
}

# The range ``[low, high)`` of each strength (a sweep's bounds; None is unbounded). Fractions of the size and
# the flip's probability stay below 1: a shift or a pad of the whole size can leave nothing, a scale fraction of
# 1 can zoom to nothing, and a flip with probability 1 mirrors every image, which augments nothing.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "random_shift": (0.0, 1.0),
    "random_scale": (0.0, 1.0),
    "random_rotation": (0.0, None),
    "crop_and_pad": (0.0, 1.0),
    "horizontal_flip": (0.0, 1.0),
    "cutout": (0.0, 1.0),
    "gaussian_blur": (0.0, None),
    "gaussian_noise": (0.0, None),
}


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple, or a ``ValueError`` naming the unknown or repeated one and the known names."""
    names = tuple(names)
    for name in names:
        if name not in TRANSFORMS:
            raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(TRANSFORMS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"augmentations repeat a name: {list(names)}")
    return names


def compose(key: jax.Array, x: jax.Array, names: Sequence[str], strengths: Mapping[str, Any]) -> jax.Array:
    """Apply the transforms ``names`` in :data:`TRANSFORMS`' order, each with ``strengths[name]``.

    Each transform draws from ``jax.random.fold_in(key, i)``, ``i`` its index
    in :data:`TRANSFORMS`, so adding or removing one transform leaves the
    others' randomness alone. All strengths 0 return ``x`` bit for bit.

    >>> x = jnp.ones((4, 8, 8, 1))
    >>> out = compose(jax.random.key(0), x, ("random_shift", "cutout"), {"random_shift": 0.25, "cutout": 0.5})
    >>> out.shape
    (4, 8, 8, 1)
    """
    names = check_names(names)
    for index, (name, transform) in enumerate(TRANSFORMS.items()):
        if name in names:
            x = transform(jax.random.fold_in(key, index), x, strengths[name])
    return x


def unsupported(names: Sequence[str], example_shape: Sequence[int]) -> tuple[str, ...]:
    """The transforms of ``names`` that refuse examples of ``example_shape`` (one example's shape, no batch axis).

    Asked of the transforms themselves, abstractly (``jax.eval_shape``: nothing
    is computed): flat vectors ``(D,)`` take only ``gaussian_noise``, signals
    ``(L, C)`` all but ``horizontal_flip`` and ``random_rotation``, images
    ``(H, W, C)`` every transform.

    >>> unsupported(("random_shift", "gaussian_noise"), (64,))
    ('random_shift',)
    """
    return _unsupported(check_names(names), tuple(int(size) for size in example_shape))


@functools.lru_cache(maxsize=256)
def _unsupported(names: tuple[str, ...], example_shape: tuple[int, ...]) -> tuple[str, ...]:
    batch = jax.ShapeDtypeStruct((1, *example_shape), jnp.float32)
    refused = []
    for name in names:
        try:
            jax.eval_shape(lambda x: TRANSFORMS[name](jax.random.key(0), x, 0.0), batch)
        except ValueError:
            refused.append(name)
    return tuple(refused)
