r"""Activation functions, their analytic derivatives, and lookup by name.

Every function here is pure and works under ``jax.jit``, ``jax.vmap`` and
``jax.grad``. Numeric parameters (``negative_slope``, ``alpha``, ...) may be
Python floats, arrays or tracers, so a sweep can vmap over them. Results keep
the input's floating dtype (float32 in, float32 out; bfloat16 works); integer
input is promoted to the default float dtype. Function values and gradients
stay finite for every finite float32 input, including ``|x| = 1e4``.

Elementwise activations (each has ``<name>_derivative``), with
s(x) = 1 / (1 + exp(-x)) the sigmoid and Phi, phi the standard normal CDF
and density:

================  ======================================  ====================================
name              f(x)                                    f'(x)
================  ======================================  ====================================
linear            x                                       1
sigmoid           s(x)                                    s(x) (1 - s(x))
tanh              tanh(x)                                 1 - tanh(x)^2
relu              max(0, x)                               1 if x > 0 else 0
leaky_relu        x if x >= 0 else slope x (0.01)         1 if x >= 0 else slope
softplus          log(1 + exp(x))                         s(x)
elu               x if x > 0 else alpha (exp(x) - 1)      1 if x > 0 else alpha exp(x)
selu              lambda elu_alpha(x)                     lambda elu_alpha'(x)
serlu             lambda x if x >= 0                      lambda if x >= 0
                  else lambda alpha x exp(x)              else lambda alpha exp(x) (1 + x)
celu              x if x > 0                              1 if x > 0 else exp(x / alpha)
                  else alpha (exp(x / alpha) - 1)
gelu              x Phi(x), or its tanh approximation     Phi(x) + x phi(x) (exact form)
silu (swish)      x s(x)                                  s(x) (1 + x (1 - s(x)))
mish              x tanh(softplus(x))                     tanh(sp) + x (1 - tanh(sp)^2) s(x)
hard_sigmoid      min(max((x + 3) / 6, 0), 1)             1/6 if -3 < x < 3 else 0
================  ======================================  ====================================

Activations over an axis (no elementwise derivative):

==================  ======================================================
name                output
==================  ======================================================
maxout              max over groups of ``num_pieces`` consecutive features
softmax             exp(z_i) / sum_j exp(z_j)
log_softmax         z_i - log sum_j exp(z_j)
normalized_sigmoid  s(z_i) / sum_j s(z_j)
==================  ======================================================

:func:`normalize` divides given positive outputs by their sum; it is the
second step of ``normalized_sigmoid`` and is not an activation of logits.

Values at kinks. Where the derivative is undefined, ``<name>_derivative``
returns what ``jax.grad`` gives for jax.nn's counterpart, and jaxdl's own
functions differentiate to the same value: ``relu'(0) = 0``,
``leaky_relu'(0) = 1`` (PyTorch gives ``negative_slope``: pass
``convention="pytorch"``),
``elu'(0) = alpha``, ``selu'(0) = lambda * alpha``,
``hard_sigmoid'(+-3) = 0``. SERLU has no jax.nn counterpart; its ``x >= 0``
branch is linear, so ``serlu'(0) = lambda``.

Lookup: :func:`get` turns a name (or a callable, passed through) into a
function, binding parameters if given; :func:`derivative` does the same for
derivatives; :data:`ACTIVATIONS` and :data:`DERIVATIVES` are read-only
mappings from name to function, and :func:`names` lists the names.

References: Klambauer et al. 2017 (SELU); Zhang and Li 2018 (SERLU);
Barron 2017 (CELU); Hendrycks and Gimpel 2016 (GELU); Ramachandran et al.
2017 (swish); Misra 2019 (mish); Goodfellow et al. 2013 (maxout).
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl import registry

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "LEAKY_RELU_CONVENTIONS",
    "SELU_ALPHA",
    "SELU_SCALE",
    "SERLU_ALPHA",
    "SERLU_SCALE",
    "celu",
    "celu_derivative",
    "derivative",
    "elu",
    "elu_derivative",
    "gelu",
    "gelu_derivative",
    "get",
    "hard_sigmoid",
    "hard_sigmoid_derivative",
    "leaky_relu",
    "leaky_relu_derivative",
    "linear",
    "linear_derivative",
    "log_softmax",
    "maxout",
    "mish",
    "mish_derivative",
    "names",
    "normalize",
    "normalized_sigmoid",
    "relu",
    "relu_derivative",
    "selu",
    "selu_derivative",
    "serlu",
    "serlu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "silu",
    "silu_derivative",
    "softmax",
    "softplus",
    "softplus_derivative",
    "swish",
    "swish_derivative",
    "tanh",
    "tanh_derivative",
]

Array = jax.Array

#: SELU scale lambda (Klambauer et al. 2017), as in jax.nn.selu.
SELU_SCALE = 1.0507009873554805
#: SELU alpha (Klambauer et al. 2017), as in jax.nn.selu.
SELU_ALPHA = 1.6732632423543772
#: SERLU scale lambda (Zhang and Li 2018).
SERLU_SCALE = 1.07862
#: SERLU alpha (Zhang and Li 2018).
SERLU_ALPHA = 2.90427

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


def _as_float(x: ArrayLike) -> Array:
    """``x`` as an array; integer and boolean input become the default float dtype."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


# ---------------------------------------------------------------- elementwise


def linear(x: ArrayLike) -> Array:
    r"""Identity, :math:`\phi(x) = x` (Keras' ``"linear"``)."""
    return _as_float(x)


def linear_derivative(x: ArrayLike) -> Array:
    r""":math:`\phi'(x) = 1`."""
    return jnp.ones_like(_as_float(x))


def sigmoid(x: ArrayLike) -> Array:
    r"""Logistic sigmoid, :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Saturates to exactly 0 and 1 without overflow (``sigmoid(-1000) = 0``).
    """
    return jax.lax.logistic(_as_float(x))


def sigmoid_derivative(x: ArrayLike) -> Array:
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: ArrayLike) -> Array:
    r"""Hyperbolic tangent, :math:`\tanh x = (e^x - e^{-x}) / (e^x + e^{-x})`."""
    return jnp.tanh(_as_float(x))


def tanh_derivative(x: ArrayLike) -> Array:
    r""":math:`\tanh'(x) = 1 - \tanh^2 x`."""
    t = tanh(x)
    return 1.0 - t * t


def relu(x: ArrayLike) -> Array:
    r"""Rectified linear unit, :math:`\max(0, x)`.

    Differentiates to 0 at ``x = 0``, as ``jax.nn.relu`` does.
    """
    x = _as_float(x)
    return jnp.where(x > 0, x, 0.0)


def relu_derivative(x: ArrayLike) -> Array:
    r""":math:`1` for :math:`x > 0`, else :math:`0` (so ``relu'(0) = 0``)."""
    x = _as_float(x)
    return jnp.where(x > 0, 1.0, 0.0).astype(x.dtype)


LEAKY_RELU_CONVENTIONS = ("jax", "pytorch")


def _leaky_relu_positive(x: Array, convention: str) -> Array:
    """Where the unit slope applies: ``x >= 0`` (jax.nn) or ``x > 0`` (PyTorch)."""
    if convention not in LEAKY_RELU_CONVENTIONS:
        raise ValueError(
            f"convention must be one of {list(LEAKY_RELU_CONVENTIONS)}, got {convention!r}"
        )
    return x >= 0 if convention == "jax" else x > 0


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01, convention: str = "jax") -> Array:
    r"""Leaky ReLU, :math:`x` for :math:`x \ge 0`, :math:`s x` otherwise.

    The value is the same in both conventions; they differ in the slope at
    :math:`x = 0` that ``jax.grad`` gives: 1 with ``convention="jax"`` (the
    default, as ``jax.grad(jax.nn.leaky_relu)``), :math:`s` with
    ``convention="pytorch"`` (PyTorch's ``leaky_relu`` backward,
    :math:`1` only for :math:`x > 0`).

    Args:
      x: input.
      negative_slope: :math:`s`, the slope for negative input. Default 0.01,
        as in jax.nn and PyTorch; Keras' ``LeakyReLU`` layer defaults to 0.3
        (the lectures use 0.01, 0.1 and 0.2). Typical range 0.01 to 0.3.
      convention: ``"jax"`` (default) or ``"pytorch"``: the derivative at 0.

    >>> pytorch_style = functools.partial(leaky_relu, negative_slope=0.25, convention="pytorch")
    >>> float(jax.grad(leaky_relu)(0.0)), float(jax.grad(pytorch_style)(0.0))
    (1.0, 0.25)
    """
    x = _as_float(x)
    return jnp.where(_leaky_relu_positive(x, convention), x, negative_slope * x)


def leaky_relu_derivative(
    x: ArrayLike, negative_slope: ArrayLike = 0.01, convention: str = "jax"
) -> Array:
    r""":math:`1` for :math:`x > 0`, :math:`s` for :math:`x < 0`; at 0 per ``convention``.

    ``leaky_relu'(0) = 1`` with ``convention="jax"`` (default), as
    ``jax.grad(jax.nn.leaky_relu)`` gives; :math:`s` with
    ``convention="pytorch"``, as PyTorch's autograd gives.

    >>> float(leaky_relu_derivative(0.0)), float(leaky_relu_derivative(0.0, 0.25, "pytorch"))
    (1.0, 0.25)
    """
    x = _as_float(x)
    one = jnp.ones_like(x)
    return jnp.where(_leaky_relu_positive(x, convention), one, negative_slope * one)


def softplus(x: ArrayLike) -> Array:
    r"""Softplus, :math:`\log(1 + e^x)`, computed as ``logaddexp(x, 0)``.

    Stable at both ends: ``softplus(1000) = 1000``, ``softplus(-1000) = 0``.
    (The lecture's table prints :math:`(1 + e^x)`; the log is meant.)
    """
    return jnp.logaddexp(_as_float(x), 0.0)


def softplus_derivative(x: ArrayLike) -> Array:
    r""":math:`\mathrm{softplus}'(x) = \sigma(x)`."""
    return sigmoid(x)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r"""Exponential linear unit, :math:`x` for :math:`x > 0`, :math:`\alpha(e^x - 1)` otherwise.

    Args:
      x: input.
      alpha: :math:`\alpha`, the magnitude of the negative saturation. Default
        1.0 (jax.nn, PyTorch and Keras agree).
    """
    x = _as_float(x)
    positive = x > 0
    # Feed exp only non-positive values, so the unused branch can't overflow
    # and turn the gradient into inf * 0 = NaN.
    safe = jnp.where(positive, 0.0, x)
    return jnp.where(positive, x, alpha * jnp.expm1(safe))


def elu_derivative(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r""":math:`1` for :math:`x > 0`, :math:`\alpha e^x` otherwise.

    ``elu'(0) = alpha``, as ``jax.grad(jax.nn.elu)`` and PyTorch give.
    """
    x = _as_float(x)
    positive = x > 0
    safe = jnp.where(positive, 0.0, x)
    return jnp.where(positive, jnp.ones_like(x), alpha * jnp.exp(safe))


def selu(x: ArrayLike) -> Array:
    r"""Scaled ELU, :math:`\lambda\,\mathrm{elu}_\alpha(x)`.

    Uses :data:`SELU_SCALE` :math:`\lambda = 1.0507009873554805` and
    :data:`SELU_ALPHA` :math:`\alpha = 1.6732632423543772`, the constants of
    jax.nn, PyTorch and Keras (Klambauer et al. 2017).
    """
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_derivative(x: ArrayLike) -> Array:
    r""":math:`\lambda` for :math:`x > 0`, :math:`\lambda\alpha e^x` otherwise."""
    return SELU_SCALE * elu_derivative(x, SELU_ALPHA)


def serlu(x: ArrayLike, scale: ArrayLike = SERLU_SCALE, alpha: ArrayLike = SERLU_ALPHA) -> Array:
    r"""Scaled exponentially regularised linear unit (Zhang and Li 2018).

    .. math::
      \mathrm{serlu}(x) = \begin{cases} \lambda x, & x \ge 0 \\
                                        \lambda \alpha x e^x, & x < 0 \end{cases}

    The negative branch dips to its minimum :math:`-\lambda\alpha/e` at
    :math:`x = -1` and returns to 0 as :math:`x \to -\infty`.

    Args:
      x: input.
      scale: :math:`\lambda`, default :data:`SERLU_SCALE` = 1.07862.
      alpha: :math:`\alpha`, default :data:`SERLU_ALPHA` = 2.90427. With both
        defaults a standard normal input keeps mean 0 and variance 1.
    """
    x = _as_float(x)
    negative = x < 0
    safe = jnp.where(negative, x, 0.0)
    return jnp.where(negative, scale * alpha * safe * jnp.exp(safe), scale * x)


def serlu_derivative(
    x: ArrayLike, scale: ArrayLike = SERLU_SCALE, alpha: ArrayLike = SERLU_ALPHA
) -> Array:
    r""":math:`\lambda` for :math:`x \ge 0`, :math:`\lambda\alpha e^x (1 + x)` for :math:`x < 0`.

    The slope jumps from :math:`\lambda\alpha` just left of 0 to
    :math:`\lambda` at and right of 0.
    """
    x = _as_float(x)
    negative = x < 0
    safe = jnp.where(negative, x, 0.0)
    return jnp.where(
        negative, scale * alpha * jnp.exp(safe) * (1.0 + safe), scale * jnp.ones_like(x)
    )


def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r"""Continuously differentiable ELU (Barron 2017).

    :math:`x` for :math:`x > 0`, :math:`\alpha(e^{x/\alpha} - 1)` otherwise.
    Its derivative is continuous at 0 for every :math:`\alpha \ne 0`.
    Default :math:`\alpha = 1` (jax.nn and PyTorch), where it equals ELU.
    """
    x = _as_float(x)
    positive = x > 0
    safe = jnp.where(positive, 0.0, x)
    return jnp.where(positive, x, alpha * jnp.expm1(safe / alpha))


def celu_derivative(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r""":math:`1` for :math:`x > 0`, :math:`e^{x/\alpha}` otherwise."""
    x = _as_float(x)
    positive = x > 0
    safe = jnp.where(positive, 0.0, x)
    return jnp.where(positive, jnp.ones_like(x), jnp.exp(safe / alpha))


def _gelu_tanh_argument(x: Array) -> Array:
    return _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)


def gelu(x: ArrayLike, approximate: bool = True) -> Array:
    r"""Gaussian error linear unit (Hendrycks and Gimpel 2016).

    Exact form (``approximate=False``), with :math:`\Phi` the standard normal
    CDF:

    .. math:: \mathrm{gelu}(x) = x\,\Phi(x) = \tfrac{x}{2}\left(1 + \mathrm{erf}(x/\sqrt{2})\right)

    Tanh form (``approximate=True``, the default):

    .. math:: \tfrac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)

    The default matches ``jax.nn.gelu`` (tanh form). PyTorch's ``GELU`` and
    Keras' ``gelu`` default to the exact erf form; pass
    ``approximate=False`` to match them. The two differ by less than 5e-4.

    Args:
      x: input.
      approximate: static bool, choose the tanh form. Default True.
    """
    x = _as_float(x)
    if approximate:
        # (1 + tanh(u)) / 2 = sigmoid(2u), without the cancellation for u << 0.
        return x * sigmoid(2.0 * _gelu_tanh_argument(x))
    # 1 + erf(x / sqrt 2) = erfc(-x / sqrt 2), which keeps its precision for x << 0.
    return 0.5 * x * jax.lax.erfc(-x / _SQRT_2)


def gelu_derivative(x: ArrayLike, approximate: bool = True) -> Array:
    r"""Derivative of :func:`gelu`.

    Exact: :math:`\Phi(x) + x\,\varphi(x)` with :math:`\varphi` the standard
    normal density. Tanh form, with :math:`t = \tanh(u)` and
    :math:`u = \sqrt{2/\pi}(x + 0.044715 x^3)`:
    :math:`\tfrac12(1 + t) + \tfrac12 x (1 - t^2)\sqrt{2/\pi}(1 + 3 \cdot 0.044715 x^2)`.
    """
    x = _as_float(x)
    if approximate:
        # With s = sigmoid(2u): (1 + t) / 2 = s and (1 - t^2) / 2 = 2 s (1 - s).
        s = sigmoid(2.0 * _gelu_tanh_argument(x))
        du_dx = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
        return s + 2.0 * x * s * (1.0 - s) * du_dx
    cdf = 0.5 * jax.lax.erfc(-x / _SQRT_2)
    density = _INV_SQRT_2PI * jnp.exp(-0.5 * x * x)
    return cdf + x * density


def silu(x: ArrayLike) -> Array:
    r"""Sigmoid linear unit, also called swish: :math:`x\,\sigma(x)`.

    Matches ``jax.nn.silu``, PyTorch's ``SiLU`` and Keras' ``silu`` (swish
    with :math:`\beta = 1`).
    """
    x = _as_float(x)
    return x * sigmoid(x)


def silu_derivative(x: ArrayLike) -> Array:
    r""":math:`\sigma(x)\,(1 + x(1 - \sigma(x)))`."""
    x = _as_float(x)
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


swish = silu
swish_derivative = silu_derivative


def mish(x: ArrayLike) -> Array:
    r"""Mish (Misra 2019), :math:`x \tanh(\mathrm{softplus}(x))`, as jax.nn and PyTorch."""
    x = _as_float(x)
    return x * jnp.tanh(softplus(x))


def mish_derivative(x: ArrayLike) -> Array:
    r"""Derivative of :func:`mish`, with :math:`\mathrm{sp}` = softplus.

    .. math:: \tanh(\mathrm{sp}(x)) + x\,(1 - \tanh^2(\mathrm{sp}(x)))\,\sigma(x)
    """
    x = _as_float(x)
    t = jnp.tanh(softplus(x))
    return t + x * (1.0 - t * t) * sigmoid(x)


def hard_sigmoid(x: ArrayLike) -> Array:
    r"""Piecewise-linear sigmoid, :math:`\min(\max((x + 3)/6, 0), 1) = \mathrm{relu6}(x + 3)/6`.

    Matches jax.nn, PyTorch and Keras 3. Keras 2 used the steeper
    :math:`\mathrm{clip}(0.2x + 0.5, 0, 1)`. Differentiates to 0 at
    :math:`x = \pm 3`, as ``jax.nn.hard_sigmoid`` does.
    """
    x = _as_float(x)
    inside = (x > -3.0) & (x < 3.0)
    return jnp.where(inside, (x + 3.0) / 6.0, jnp.where(x >= 3.0, 1.0, 0.0).astype(x.dtype))


def hard_sigmoid_derivative(x: ArrayLike) -> Array:
    r""":math:`1/6` for :math:`-3 < x < 3`, else 0."""
    x = _as_float(x)
    return jnp.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0).astype(x.dtype)


# ---------------------------------------------------------------- over an axis


def maxout(x: ArrayLike, num_pieces: int, axis: int = -1) -> Array:
    r"""Maxout (Goodfellow et al. 2013): the max over ``num_pieces`` linear pieces.

    The feature axis of size :math:`k m` (``k = num_pieces``) is read as
    :math:`m` groups of :math:`k` consecutive features, and each output is
    the max of its group: :math:`y_j = \max_{i < k} x_{jk + i}`. The
    preceding layer therefore provides :math:`k m` outputs for :math:`m`
    units, e.g. the lecture's :math:`\max(w_1^T x + b_1, w_2^T x + b_2)` is
    ``num_pieces=2``. Grouping consecutive features is the convention of
    TensorFlow Addons' ``Maxout`` layer.

    Args:
      x: input with the feature axis of size divisible by ``num_pieces``.
      num_pieces: :math:`k \ge 1`, static int.
      axis: the feature axis, default the last.

    Raises:
      ValueError: if ``num_pieces`` is not a positive int, ``axis`` is out of
        range, or the axis size is not divisible by ``num_pieces``.
    """
    x = jnp.asarray(x)
    try:
        pieces = operator.index(num_pieces)
    except TypeError:
        pieces = 0
    if isinstance(num_pieces, bool) or pieces < 1:
        raise ValueError(f"maxout: num_pieces must be a positive int, got {num_pieces!r}")
    num_pieces = pieces
    if x.ndim == 0:
        raise ValueError("maxout: input must have at least one axis, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"maxout: axis {axis} is out of range for input of shape {x.shape}")
    axis %= x.ndim
    size = x.shape[axis]
    if size % num_pieces:
        raise ValueError(
            f"maxout: axis {axis} of input shape {x.shape} has size {size}, "
            f"which is not divisible by num_pieces={num_pieces}"
        )
    grouped = x.reshape(x.shape[:axis] + (size // num_pieces, num_pieces) + x.shape[axis + 1 :])
    return jnp.max(grouped, axis=axis + 1)


def softmax(x: ArrayLike, axis: int | tuple[int, ...] = -1) -> Array:
    r"""Softmax, :math:`e^{z_i} / \sum_j e^{z_j}` along ``axis`` (default the last).

    Subtracts the max first, so large logits don't overflow:
    ``softmax([1000, 1000, 0]) = [0.5, 0.5, 0]``. The lecture's example:
    ``softmax([2, 5, -1, 3]) = [0.042, 0.842, 0.002, 0.114]``.
    """
    x = _as_float(x)
    # Softmax is shift invariant, so the shift needs no gradient.
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    exponentials = jnp.exp(shifted)
    return exponentials / jnp.sum(exponentials, axis=axis, keepdims=True)


def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] = -1) -> Array:
    r"""Log of :func:`softmax`, :math:`z_i - \log\sum_j e^{z_j}`, computed after a max shift.

    Finite where ``log(softmax(x))`` would give ``-inf``.
    """
    x = _as_float(x)
    shifted = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def normalize(probabilities: ArrayLike, axis: int | tuple[int, ...] = -1) -> Array:
    r"""Divide non-negative outputs by their sum along ``axis``: :math:`a_i / \sum_j a_j`.

    The lecture's example: ``normalize([0.06, 0.98, 0.04, 0.92])`` divides by
    2.0 and gives ``[0.03, 0.49, 0.02, 0.41]``. To normalise sigmoid outputs
    computed from logits, prefer :func:`normalized_sigmoid`, which stays
    finite when every sigmoid underflows to 0.
    """
    probabilities = _as_float(probabilities)
    return probabilities / jnp.sum(probabilities, axis=axis, keepdims=True)


def normalized_sigmoid(x: ArrayLike, axis: int | tuple[int, ...] = -1) -> Array:
    r"""Sigmoid outputs divided by their sum along ``axis``.

    .. math:: a_i = \sigma(z_i) / \sum_j \sigma(z_j)

    The lecture's "SoftMax with logistic regression" output layer. Computed
    as ``softmax(log_sigmoid(z))``, which is the same quantity, so it stays
    finite and sums to 1 even when every :math:`\sigma(z_j)` underflows.
    """
    x = _as_float(x)
    return softmax(-softplus(-x), axis=axis)


# ---------------------------------------------------------------- lookup

_ACTIVATIONS: dict[str, Callable[..., Array]] = {
    "celu": celu,
    "elu": elu,
    "gelu": gelu,
    "hard_sigmoid": hard_sigmoid,
    "leaky_relu": leaky_relu,
    "linear": linear,
    "log_softmax": log_softmax,
    "maxout": maxout,
    "mish": mish,
    "normalized_sigmoid": normalized_sigmoid,
    "relu": relu,
    "selu": selu,
    "serlu": serlu,
    "sigmoid": sigmoid,
    "silu": silu,
    "softmax": softmax,
    "softplus": softplus,
    "swish": swish,
    "tanh": tanh,
}

_DERIVATIVES: dict[str, Callable[..., Array]] = {
    "celu": celu_derivative,
    "elu": elu_derivative,
    "gelu": gelu_derivative,
    "hard_sigmoid": hard_sigmoid_derivative,
    "leaky_relu": leaky_relu_derivative,
    "linear": linear_derivative,
    "mish": mish_derivative,
    "relu": relu_derivative,
    "selu": selu_derivative,
    "serlu": serlu_derivative,
    "sigmoid": sigmoid_derivative,
    "silu": silu_derivative,
    "softplus": softplus_derivative,
    "swish": swish_derivative,
    "tanh": tanh_derivative,
}

# The kernel initializer each activation is paired with (the lecture's advice:
# LeCun for self-normalising units, Glorot for the saturating ones, He for the
# ReLU family and everything else).
_MATCHING_INIT = {
    "selu": "lecun_normal",
    "serlu": "lecun_normal",
    "sigmoid": "glorot_uniform",
    "tanh": "glorot_uniform",
    "softmax": "glorot_uniform",
    "hard_sigmoid": "glorot_uniform",
}
for _name, _function in _ACTIVATIONS.items():
    registry.register_activation(_name, _function, init=_MATCHING_INIT.get(_name, "he_normal"))

#: Read-only mapping from every built-in activation name (aliases included) to its function.
ACTIVATIONS: Mapping[str, Callable[..., Array]] = MappingProxyType(_ACTIVATIONS)
#: Read-only mapping from each elementwise activation name to its analytic derivative.
DERIVATIVES: Mapping[str, Callable[..., Array]] = MappingProxyType(_DERIVATIVES)

_DERIVATIVE_OF_FUNCTION = {
    function: _DERIVATIVES[name] for name, function in _ACTIVATIONS.items() if name in _DERIVATIVES
}


def names() -> tuple[str, ...]:
    """Every name :func:`get` accepts, sorted (``"swish"`` is an alias of ``"silu"``), registered ones included."""
    return registry.ACTIVATIONS.names()


def matching_initializer(activation: str | Callable[..., Array]) -> str:
    """The kernel initializer registered with ``activation`` (a name or a registered function).

    LeCun normal for SELU and SERLU, Glorot uniform for tanh, sigmoid, hard
    sigmoid and softmax, He normal otherwise; a user activation registered
    with ``init="..."`` gets that one, and one registered without, He normal.
    """
    if isinstance(activation, functools.partial):
        activation = activation.func
    name = activation if isinstance(activation, str) else registry.ACTIVATIONS.name_of(activation)
    if name is None or name not in registry.ACTIVATIONS:
        return "he_normal"
    return registry.ACTIVATIONS.info(name).get("init", "he_normal")


class _BoundActivation(functools.partial):
    """A ``functools.partial`` that compares equal to another binding the same values.

    Equal bindings hash alike, so two ``get("leaky_relu", negative_slope=0.2)``
    calls can serve as the same static argument of ``jax.jit`` without a
    second compilation.
    """

    def _key(self) -> tuple | None:
        key = (self.func, self.args, tuple(sorted(self.keywords.items())))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, _BoundActivation):
            return NotImplemented
        mine, theirs = self._key(), other._key()
        return mine is not None and mine == theirs

    def __hash__(self) -> int:
        key = self._key()
        return hash(key) if key is not None else id(self)


def _bind(
    function: Callable[..., Array], label: str, params: dict[str, Any]
) -> Callable[..., Array]:
    """``function`` with ``params`` bound by keyword, after checking it accepts them."""
    if not params:
        return function
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return _BoundActivation(function, **params)
    parameters = list(signature.parameters.values())[1:]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        accepted = [
            p.name
            for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            valid = ", ".join(accepted) if accepted else "none"
            raise ValueError(
                f"{label} got unexpected parameter(s) {', '.join(unknown)}; it accepts: {valid}"
            )
    return _BoundActivation(function, **params)


def get(identifier: str | Callable[..., Array], **params: Any) -> Callable[..., Array]:
    """Look up an activation by name, binding any parameters.

    Examples: ``get("elu")`` is :func:`elu`; ``get("leaky_relu",
    negative_slope=0.2)`` is a ``functools.partial`` of :func:`leaky_relu`
    (equal bindings compare and hash equal, so they are safe as static
    arguments of ``jax.jit``); ``get("maxout", num_pieces=2)``; a callable is
    returned unchanged, or bound to ``params`` if any are given.

    Raises:
      ValueError: for an unknown name (the message lists the valid names,
        sorted) or a parameter the function does not take.
      TypeError: if ``identifier`` is neither a string nor callable.
    """
    if callable(identifier):
        return _bind(identifier, getattr(identifier, "__name__", repr(identifier)), params)
    if not isinstance(identifier, str):
        raise TypeError(f"activation must be a name or a callable, got {type(identifier).__name__}")
    return _bind(registry.ACTIVATIONS.get(identifier), identifier, params)


def derivative(identifier: str | Callable[..., Array], **params: Any) -> Callable[..., Array]:
    r"""Look up the analytic derivative of an elementwise activation.

    ``identifier`` is a name from :data:`DERIVATIVES`, one of this module's
    activation functions, or a binding returned by :func:`get` (its
    parameters carry over). ``params`` bind as in :func:`get`; e.g.
    ``derivative("elu", alpha=2.0)(x)`` is :math:`\alpha e^x` for
    :math:`x \le 0` and 1 above.

    Raises:
      ValueError: for a name or function without an elementwise derivative
        here (the message lists the names that have one, sorted).
    """
    valid = ", ".join(sorted(_DERIVATIVES))
    if isinstance(identifier, functools.partial) and not identifier.args:
        return derivative(identifier.func, **{**identifier.keywords, **params})
    if isinstance(identifier, str):
        try:
            function = _DERIVATIVES[identifier]
        except KeyError:
            raise ValueError(
                f"no elementwise derivative for activation {identifier!r}; "
                f"names with one: {valid}"
            ) from None
        return _bind(function, f"{identifier}_derivative", params)
    if callable(identifier):
        try:
            function = _DERIVATIVE_OF_FUNCTION[identifier]
        except (KeyError, TypeError):
            raise ValueError(
                f"no analytic derivative known for {identifier!r}; names with one: {valid}"
            ) from None
        return _bind(function, function.__name__, params)
    raise TypeError(f"activation must be a name or a callable, got {type(identifier).__name__}")
