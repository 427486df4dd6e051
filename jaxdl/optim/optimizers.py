r"""Optimizers: chains of the update rules in :mod:`jaxdl.optim.transforms`.

Each factory returns an :class:`optax.GradientTransformation`; names and
defaults follow optax where optax has the optimizer, and keyword arguments
select the PyTorch or Keras convention where those differ. All of them end
with :func:`optax.scale_by_learning_rate`, so ``learning_rate`` may be a
number, an array, a tracer or an optax-style schedule.

Bias corrections are computed accurately by default (within 2e-6 of the same
rule in float64 after 200 steps, :math:`\beta_2` up to 0.9999); every factory
that corrects takes ``debias_formula="power"`` for optax's float32
:math:`1 - \beta^t`, which gives optax's numbers bit for bit.

Usage::

    opt = jaxdl.optim.adam(1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import jax.numpy as jnp  # noqa: F401 (the examples use it)
import optax

from jaxdl.optim._hyper import check_decay, check_learning_rate, check_non_negative, is_zero
from jaxdl.optim.transforms import (
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_momentum,
    scale_by_nadam,
    scale_by_rms,
)

__all__ = [
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "amsgrad",
    "momentum",
    "nadam",
    "nadamw",
    "nesterov",
    "rmsprop",
    "sgd",
]

MaskOrFn = Optional[Union[Any, Callable[[Any], Any]]]


def _scale_by_learning_rate(learning_rate) -> optax.GradientTransformation:
    if learning_rate is not None:
        check_learning_rate(learning_rate)
    return optax.scale_by_learning_rate(learning_rate)


def _decayed_weights(weight_decay, mask) -> optax.GradientTransformation:
    check_non_negative("weight_decay", weight_decay)
    return optax.add_decayed_weights(weight_decay, mask)


def sgd(
    learning_rate,
    momentum=None,
    nesterov: bool = False,
    accumulator_dtype: Optional[Any] = None,
    *,
    dampening=0.0,
) -> optax.GradientTransformation:
    r"""Stochastic gradient descent, optionally with classic momentum.

    .. math::

        \theta_{t} = \theta_{t-1} - \alpha g_t, \quad\text{or with momentum}\quad
        v_t = \mu v_{t-1} + (1 - d) g_t,\ \theta_t = \theta_{t-1} - \alpha v_t

    with :math:`v_1 = g_1` (Nesterov: :math:`\theta_t = \theta_{t-1} - \alpha
    (\mu v_t + g_t)`). The signature and numbers are optax's ``sgd``; the
    momentum form is PyTorch's ``SGD``, whose ``dampening`` :math:`d` (default
    0) is the keyword of the same name, and, for a constant learning rate and
    no dampening, Keras'. For the lecture's averaged form use :func:`momentum`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule; typical 1e-3 to 0.1.
      momentum: :math:`\mu` in [0, 1) or None (no momentum, the default).
      nesterov: Nesterov's look-ahead; needs ``momentum``.
      accumulator_dtype: optional dtype of the velocity.
      dampening: :math:`d` in [0, 1), default 0 (PyTorch's); needs ``momentum``.

    >>> opt = sgd(0.1, momentum=0.9, dampening=0.9)
    >>> state = opt.init(jnp.zeros(1))
    >>> for _ in range(2):
    ...     step, state = opt.update(jnp.ones(1), state)
    >>> round(float(step[0]), 6)  # -0.1 (0.9 * 1 + 0.1 * 1)
    -0.1

    References:
      Robbins and Monro, A Stochastic Approximation Method, 1951.
    """
    check_decay("dampening", dampening)
    if momentum is None:
        if not is_zero(dampening):
            raise ValueError("dampening needs momentum (PyTorch's SGD dampens the momentum buffer)")
        direction = optax.identity()
    else:
        check_decay("momentum", momentum)
        direction = scale_by_momentum(
            momentum, form="classic", nesterov=nesterov, accumulator_dtype=accumulator_dtype,
            dampening=dampening,
        )
    return optax.chain(direction, _scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate,
    decay=0.9,
    form: str = "ewa",
    nesterov: bool = False,
    bias_correction: bool = False,
    accumulator_dtype: Optional[Any] = None,
    *,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""Gradient descent with momentum, in the lecture's averaged form by default.

    .. math::

        v_t = \beta v_{t-1} + (1 - \beta) g_t, \qquad \theta_t = \theta_{t-1} - \alpha v_t

    (``form="ewa"``, Ng's lecture: typical :math:`\alpha = 0.1, \beta = 0.9`),
    or :math:`v_t = \beta v_{t-1} + g_t` (``form="classic"``: PyTorch's
    ``SGD(momentum=...)``, Keras' and optax's ``sgd(momentum=...)``). Same
    learning rate, classic steps are :math:`1/(1 - \beta)` times longer. See
    :func:`jaxdl.optim.transforms.scale_by_momentum`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule.
      decay: :math:`\beta`, default 0.9, in [0, 1).
      form: ``"ewa"`` (default) or ``"classic"``.
      nesterov: Nesterov's look-ahead.
      bias_correction: divide the velocity by :math:`1 - \beta^t`.
      accumulator_dtype: optional dtype of the velocity.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Polyak, 1964; Ng, Improving Deep Neural Networks, "Gradient descent with
      momentum".
    """
    return optax.chain(
        scale_by_momentum(
            decay,
            form=form,
            nesterov=nesterov,
            bias_correction=bias_correction,
            accumulator_dtype=accumulator_dtype,
            debias_formula=debias_formula,
        ),
        _scale_by_learning_rate(learning_rate),
    )


def nesterov(
    learning_rate,
    momentum=0.9,
    form: str = "classic",
    accumulator_dtype: Optional[Any] = None,
) -> optax.GradientTransformation:
    r"""Nesterov accelerated gradient (in Sutskever's reformulation).

    .. math::

        v_t = \mu v_{t-1} + g_t, \qquad
        \theta_t = \theta_{t-1} - \alpha (\mu v_t + g_t).

    Equal to ``optax.sgd(learning_rate, momentum, nesterov=True)``, PyTorch's
    ``SGD(nesterov=True)`` and Keras' ``SGD(nesterov=True)``. ``form="ewa"``
    uses the averaged velocity of :func:`momentum` and the look-ahead
    :math:`\mu v_t + (1 - \mu) g_t`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule.
      momentum: :math:`\mu`, default 0.9, in [0, 1).
      form: ``"classic"`` (default) or ``"ewa"``.
      accumulator_dtype: optional dtype of the velocity.

    References:
      Nesterov, A method of solving a convex programming problem with
      convergence rate O(1/k^2), 1983. Sutskever et al., 2013.
    """
    check_decay("momentum", momentum)
    return optax.chain(
        scale_by_momentum(momentum, form=form, nesterov=True, accumulator_dtype=accumulator_dtype),
        _scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate,
    decay=0.9,
    eps=1e-8,
    initial_scale=0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum=None,
    nesterov: bool = False,
    bias_correction: bool = False,
    *,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""RMSprop: divide by the root of the running mean of squared gradients.

    .. math::

        s_t = \rho s_{t-1} + (1 - \rho) g_t^2, \qquad
        \theta_t = \theta_{t-1} - \alpha \frac{g_t}{\sqrt{s_t + \epsilon}},

    optionally centered (:math:`s_t - m_t^2`), with :math:`\epsilon` outside
    the root, and with momentum applied after the learning rate,
    :math:`b_t = \mu b_{t-1} + \alpha g_t / \sqrt{\cdot}` (optax and Keras;
    PyTorch's placement gives the same numbers for a constant rate). See
    :func:`jaxdl.optim.transforms.scale_by_rms`.

    Conventions: defaults are optax's. PyTorch: ``decay=0.99,
    eps_in_sqrt=False`` (its lr default is 0.01). Keras: ``eps=1e-7`` (inside
    the root, ``rho=0.9``, lr 1e-3). TF1: ``initial_scale=1.0``.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule; typical 1e-4 to 1e-2.
      decay: :math:`\rho`, default 0.9, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-8.
      initial_scale: :math:`s_0` >= 0, default 0.
      eps_in_sqrt: ``eps`` inside the root (optax, Keras) or outside (PyTorch).
      centered: divide by the running standard deviation (Graves, 2013).
      momentum: :math:`\mu` in [0, 1), or None for none (default).
      nesterov: Nesterov's look-ahead on the momentum.
      bias_correction: divide the running averages by :math:`1 - \rho^t`.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Hinton, Neural Networks for Machine Learning, lecture 6e, 2012.
    """
    if momentum is None:
        velocity = optax.identity()
    else:
        check_decay("momentum", momentum)
        velocity = scale_by_momentum(momentum, form="classic", nesterov=nesterov)
    return optax.chain(
        scale_by_rms(
            decay=decay,
            eps=eps,
            initial_scale=initial_scale,
            eps_in_sqrt=eps_in_sqrt,
            centered=centered,
            bias_correction=bias_correction,
            debias_formula=debias_formula,
        ),
        _scale_by_learning_rate(learning_rate),
        velocity,
    )


def adam(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    *,
    nesterov: bool = False,
    eps_hat: bool = False,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""Adam: momentum and RMSprop together, both bias-corrected.

    .. math::

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \quad
        \theta_t = \theta_{t-1} - \alpha
            \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t) + \epsilon_{root}} + \epsilon}.

    Defaults match optax and PyTorch (and the lecture: :math:`\beta_1 = 0.9,
    \beta_2 = 0.999, \epsilon = 10^{-8}`). Keras: ``eps_hat=True, eps=1e-7``.
    The lectures' :math:`\hat m_t / \sqrt{\hat v_t + \epsilon}`: ``eps=0,
    eps_root=1e-8``. optax bit for bit: ``debias_formula="power"``. See
    :func:`jaxdl.optim.transforms.scale_by_adam`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule; typical 1e-4 to 3e-3.
      b1: :math:`\beta_1`, default 0.9, in [0, 1).
      b2: :math:`\beta_2`, default 0.999, in [0, 1).
      eps: :math:`\epsilon` >= 0, default 1e-8.
      eps_root: :math:`\epsilon_{root}` >= 0, default 0; not both 0.
      mu_dtype: optional dtype of the first moment.
      nesterov: NAdam without momentum schedule (optax's ``nadam``).
      eps_hat: Keras' placement of ``eps``.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015.
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, eps_hat=eps_hat,
                      debias_formula=debias_formula),
        _scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    weight_decay=1e-4,
    mask: MaskOrFn = None,
    *,
    nesterov: bool = False,
    eps_hat: bool = False,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""Adam with decoupled weight decay.

    .. math::

        \theta_t = \theta_{t-1} - \alpha \left(
            \frac{\hat m_t}{\sqrt{\hat v_t + \epsilon_{root}} + \epsilon}
            + \lambda \theta_{t-1} \right).

    The decay is added after Adam's scaling (:func:`optax.add_decayed_weights`)
    and multiplied by the learning rate, as in optax, PyTorch's ``AdamW``
    (default :math:`\lambda` 0.01) and Keras' ``AdamW`` (0.004); Loshchilov and
    Hutter scale it by the schedule multiplier only.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov, eps_hat,
        debias_formula: as in :func:`adam`.
      weight_decay: :math:`\lambda` >= 0 or a schedule, default 1e-4.
      mask: pytree of booleans (or a function of the params returning one)
        selecting the leaves to decay.

    References:
      Loshchilov and Hutter, `Decoupled Weight Decay Regularization
      <https://arxiv.org/abs/1711.05101>`_, 2019.
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, eps_hat=eps_hat,
                      debias_formula=debias_formula),
        _decayed_weights(weight_decay, mask),
        _scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    *,
    momentum_decay=None,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""NAdam: Adam with Nesterov momentum.

    With ``momentum_decay=None`` (default) it is optax's ``nadam``:

    .. math::

        \hat m_t = \frac{\beta_1 m_t}{1 - \beta_1^{t+1}}
                 + \frac{(1 - \beta_1) g_t}{1 - \beta_1^t}, \qquad
        \theta_t = \theta_{t-1}
            - \alpha \frac{\hat m_t}{\sqrt{\hat v_t + \epsilon_{root}} + \epsilon}.

    A number :math:`\psi` switches on Dozat's momentum schedule
    :math:`\mu_t = \beta_1 (1 - \frac12 0.96^{\psi t})`: ``momentum_decay=0.004``
    matches PyTorch's ``NAdam`` (lr 2e-3), ``momentum_decay=1.0`` Keras'
    ``Nadam`` (eps 1e-7). See :func:`jaxdl.optim.transforms.scale_by_nadam`.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, debias_formula: as in
        :func:`adam`.
      momentum_decay: None, or :math:`\psi` >= 0.

    References:
      Dozat, `Incorporating Nesterov Momentum into Adam
      <https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ>`_, 2016.
    """
    return optax.chain(
        _nadam_direction(b1, b2, eps, eps_root, mu_dtype, momentum_decay, debias_formula),
        _scale_by_learning_rate(learning_rate),
    )


def _nadam_direction(b1, b2, eps, eps_root, mu_dtype, momentum_decay, debias_formula):
    if momentum_decay is None:
        return scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=True,
                             debias_formula=debias_formula)
    return scale_by_nadam(b1, b2, eps, eps_root, mu_dtype, momentum_decay=momentum_decay,
                          debias_formula=debias_formula)


def nadamw(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    weight_decay=1e-4,
    mask: MaskOrFn = None,
    *,
    momentum_decay=None,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""NAdam with decoupled weight decay (NAdamW).

    .. math::

        \theta_t = \theta_{t-1} - \alpha \left(
            \frac{\hat m_t}{\sqrt{\hat v_t + \epsilon_{root}} + \epsilon}
            + \lambda \theta_{t-1} \right),

    with :math:`\hat m_t` NAdam's (:func:`nadam`). With
    ``momentum_decay=None`` (default) it is optax's ``nadamw`` (optax's
    ``nadam`` plus :func:`optax.add_decayed_weights`, as :func:`adamw` is to
    :func:`adam`); ``momentum_decay=0.004`` is PyTorch's ``NAdam(...,
    decoupled_weight_decay=True)``, whose :math:`\theta \leftarrow \theta (1 -
    \alpha\lambda)` before the step is the same rule (PyTorch's default
    :math:`\lambda` is 0, its learning rate 2e-3).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, momentum_decay,
        debias_formula: as in :func:`nadam`.
      weight_decay: :math:`\lambda` >= 0 or a schedule, default 1e-4.
      mask: the leaves to decay, as in :func:`adamw`.

    >>> opt = nadamw(1e-2, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> step, _ = opt.update(jnp.zeros(1), opt.init(params), params)
    >>> round(float(step[0]), 6)  # no gradient: only the decay, -1e-2 * 0.5 * 2
    -0.01

    References:
      Dozat, 2016; Loshchilov and Hutter, `Decoupled Weight Decay Regularization
      <https://arxiv.org/abs/1711.05101>`_, 2019.
    """
    return optax.chain(
        _nadam_direction(b1, b2, eps, eps_root, mu_dtype, momentum_decay, debias_formula),
        _decayed_weights(weight_decay, mask),
        _scale_by_learning_rate(learning_rate),
    )


def amsgrad(
    learning_rate,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    debias_before_max: bool = True,
    eps_hat: bool = False,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""AMSGrad: Adam with a non-decreasing second moment.

    .. math::

        v^{max}_t = \max(v^{max}_{t-1}, \hat v_t), \qquad
        \theta_t = \theta_{t-1} - \alpha
            \frac{\hat m_t}{\sqrt{v^{max}_t + \epsilon_{root}} + \epsilon}.

    Defaults match optax (max over the corrected :math:`\hat v_t`).
    PyTorch's ``Adam(amsgrad=True)``: ``debias_before_max=False`` (max over raw
    :math:`v_t`, then corrected). Keras' ``Adam(amsgrad=True)``:
    ``debias_before_max=False, eps_hat=True, eps=1e-7``. See
    :func:`jaxdl.optim.transforms.scale_by_amsgrad`.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype: as in :func:`adam`.
      bias_correction_mu, bias_correction_nu: correct the moments (optax's
        arguments; both False is the original paper).
      debias_before_max: max over corrected (True) or raw (False) moments.
      eps_hat: Keras' placement of ``eps``.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Reddi, Kale and Kumar, `On the Convergence of Adam and Beyond
      <https://openreview.net/forum?id=ryQu7f-RZ>`_, 2018.
    """
    return optax.chain(
        scale_by_amsgrad(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            bias_correction_mu,
            bias_correction_nu,
            debias_before_max=debias_before_max,
            eps_hat=eps_hat,
            debias_formula=debias_formula,
        ),
        _scale_by_learning_rate(learning_rate),
    )


def adamax(
    learning_rate, b1=0.9, b2=0.999, eps=1e-8, *, eps_in_max: bool = True,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""AdaMax: Adam with the infinity norm.

    .. math::

        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        \theta_t = \theta_{t-1} - \frac{\alpha}{1 - \beta_1^t} \frac{m_t}{u_t}.

    Defaults match optax and PyTorch (lr 2e-3 there); Keras:
    ``eps_in_max=False, eps=1e-7``. See
    :func:`jaxdl.optim.transforms.scale_by_adamax`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule; typical 2e-3.
      b1: :math:`\beta_1`, default 0.9, in [0, 1).
      b2: :math:`\beta_2`, default 0.999, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-8.
      eps_in_max: ``eps`` inside the max (optax, PyTorch) or added after it
        (Keras).
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Kingma and Ba, 2015, section 7.1.
    """
    return optax.chain(
        scale_by_adamax(b1, b2, eps, eps_in_max=eps_in_max, debias_formula=debias_formula),
        _scale_by_learning_rate(learning_rate),
    )


def adagrad(
    learning_rate, initial_accumulator_value=0.1, eps=1e-7, *, eps_in_sqrt: bool = True
) -> optax.GradientTransformation:
    r"""Adagrad: divide by the root of the sum of all squared gradients.

    .. math::

        G_t = G_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \alpha \frac{g_t}{\sqrt{G_t + \epsilon}}.

    Defaults match optax and Keras (:math:`G_0 = 0.1`, eps 1e-7 inside the
    root; Keras' lr default 1e-3). PyTorch: ``initial_accumulator_value=0.0,
    eps=1e-10, eps_in_sqrt=False`` (lr 0.01). See
    :func:`jaxdl.optim.transforms.scale_by_adagrad`.

    Args:
      learning_rate: :math:`\alpha` >= 0 or a schedule; typical 0.01 to 0.1.
      initial_accumulator_value: :math:`G_0` >= 0, default 0.1.
      eps: :math:`\epsilon` > 0, default 1e-7.
      eps_in_sqrt: ``eps`` inside the root (optax, Keras) or outside (PyTorch).

    References:
      Duchi, Hazan and Singer, 2011.
    """
    return optax.chain(
        scale_by_adagrad(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt),
        _scale_by_learning_rate(learning_rate),
    )


def adadelta(
    learning_rate=None,
    rho=0.9,
    eps=1e-6,
    weight_decay=0.0,
    weight_decay_mask: MaskOrFn = None,
) -> optax.GradientTransformation:
    r"""Adadelta: step sizes from the ratio of two running root mean squares.

    .. math::

        \theta_t = \theta_{t-1} - \alpha
            \frac{\sqrt{E[\Delta x^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}} g_t,

    with an optional L2 term :math:`\lambda \theta` added to the gradient
    first. ``learning_rate=None`` (optax's default) means :math:`\alpha = 1`;
    PyTorch uses ``learning_rate=1.0``; Keras ``learning_rate=1e-3, rho=0.95,
    eps=1e-7``. See :func:`jaxdl.optim.transforms.scale_by_adadelta`.

    Args:
      learning_rate: :math:`\alpha` >= 0, a schedule, or None.
      rho: :math:`\rho`, default 0.9, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-6.
      weight_decay: :math:`\lambda` >= 0, default 0.
      weight_decay_mask: leaves to decay, as ``mask`` in :func:`adamw`.

    References:
      Zeiler, `ADADELTA: An Adaptive Learning Rate Method
      <https://arxiv.org/abs/1212.5701>`_, 2012.
    """
    return optax.chain(
        _decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps),
        _scale_by_learning_rate(learning_rate),
    )
