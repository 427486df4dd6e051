r"""Update rules as small optax ``GradientTransformation``\ s.

Each ``scale_by_*`` factory turns raw gradients into a direction, without the
learning rate; :mod:`jaxdl.optim.optimizers` chains them with
:func:`optax.scale_by_learning_rate`. Every running moment is an exponentially
weighted average from :mod:`jaxdl.averages`: momentum averages gradients,
RMSprop averages squared gradients, Adam does both.

Numeric hyperparameters may be Python numbers, arrays, tracers (so
``jax.vmap`` over them compiles once) or schedules ``count -> value``. A
schedule is evaluated at the number of updates already made (0 on the first
update), as optax does for learning rates. When a bias-corrected decay is a
schedule, the correction uses its current value, :math:`1 - \beta_t^t`, as
``tf.keras`` did for callable betas; for a constant decay it is exact.

Bias corrections divide by the sum of the weights each average really
applied (:func:`jaxdl.averages.debias_factor`), so that in float32 an
optimizer stays within 2e-6 of the same rule run in float64 (200 steps,
:math:`\beta_2` up to 0.9999). ``debias_formula="power"`` selects optax's
float32 :math:`1 - \beta^t` instead, which reproduces optax bit for bit.

Concrete values are checked when the factory is called; out-of-range values
raise ``ValueError`` naming the argument.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from jaxdl.averages import DEBIAS_FORMULAS, debias, debias_factor, ewa_step
from jaxdl.optim._hyper import (
    _concrete,
    check_choice,
    check_decay,
    check_non_negative,
    check_positive,
    is_zero,
    value_at,
)

__all__ = [
    "AdadeltaState",
    "AdagradState",
    "AdamState",
    "AdamaxState",
    "AmsgradState",
    "CenteredRmsState",
    "MomentumState",
    "NadamState",
    "RmsState",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_rms",
]

Updates = Any
MOMENTUM_FORMS = ("ewa", "classic")


def _zeros(params, dtype=None):
    return optax.tree.zeros_like(params, dtype=dtype)


def _full(params, value):
    return optax.tree.full_like(params, value)


def _square(tree):
    return jax.tree.map(jnp.square, tree)


def _cast(tree, dtype):
    return tree if dtype is None else optax.tree.cast(tree, dtype)


# ---------------------------------------------------------------------------
# Momentum


class MomentumState(NamedTuple):
    """State of :func:`scale_by_momentum`.

    Attributes:
      count: number of updates made (int32 scalar).
      velocity: the running average (or sum) of gradients, :math:`v_t`.
    """

    count: jax.Array
    velocity: Updates


def _nesterov_look_ahead(average, updates, decay, count, *, accumulate, bias_correction,
                         debias_formula):
    r"""One more EWA step of ``average`` with the current gradient.

    Without bias correction it is :math:`\beta v_t + c\, g_t` (``c = 1`` for
    the accumulating form, ``1 - \beta`` otherwise); with it each term is
    corrected for its own horizon, :math:`\beta \hat v_{t+1} + c\, g_t / (1 -
    \beta^t)`, as in Dozat (2016).
    """
    if not bias_correction:
        return ewa_step(average, updates, decay, accumulate=accumulate)
    return ewa_step(
        debias(average, decay, optax.safe_increment(count), formula=debias_formula),
        debias(updates, decay, count, formula=debias_formula),
        decay,
        accumulate=accumulate,
    )


def scale_by_momentum(
    decay=0.9,
    form: str = "ewa",
    nesterov: bool = False,
    bias_correction: bool = False,
    accumulator_dtype: Optional[Any] = None,
    *,
    dampening=0.0,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""Replace gradients by their momentum (velocity).

    .. math::

        v_t = \beta v_{t-1} + (1 - \beta)\, g_t \quad(\text{form} = \text{"ewa"}),
        \qquad
        v_t = \beta v_{t-1} + g_t \quad(\text{form} = \text{"classic"}),

    and the update direction is :math:`v_t`; with ``nesterov=True`` it is the
    look-ahead :math:`\beta v_t + (1 - \beta) g_t` (EWA) or :math:`\beta v_t +
    g_t` (classic); with ``bias_correction=True`` :math:`v_t` is divided by
    :math:`1 - \beta^t` (see :func:`jaxdl.averages.debias`).

    The ``"ewa"`` form is the lecture's (Ng): the velocity is an average of
    gradients, so the step size does not grow with :math:`\beta`. The
    ``"classic"`` form is the heavy-ball rule of PyTorch's ``SGD`` (with
    ``dampening=0``), Keras' ``SGD(momentum=...)`` and :func:`optax.trace`;
    its steady-state step is :math:`1 / (1 - \beta)` times larger. The EWA
    form without correction matches ``optax.ema(decay, debias=False)``.

    ``dampening`` :math:`d` is PyTorch's ``SGD(dampening=...)`` for the
    classic form: :math:`v_1 = g_1`, then :math:`v_t = \beta v_{t-1} + (1 -
    d)\, g_t` (the look-ahead is still :math:`\beta v_t + g_t`).

    Args:
      decay: :math:`\beta`, default 0.9, typically 0.8 to 0.99, in [0, 1).
      form: ``"ewa"`` or ``"classic"``.
      nesterov: use Nesterov's look-ahead (Sutskever et al., 2013).
      bias_correction: divide by :math:`1 - \beta^t`; rarely used with
        momentum.
      accumulator_dtype: optional dtype of the velocity.
      dampening: :math:`d` in [0, 1), default 0; ``form="classic"`` only
        (the EWA form refuses a concrete non-zero value and ignores a traced
        one).
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    >>> opt = scale_by_momentum(0.9, form="classic", dampening=0.5)
    >>> state = opt.init(jnp.zeros(1))
    >>> first, state = opt.update(jnp.ones(1), state)
    >>> second, state = opt.update(jnp.ones(1), state)
    >>> round(float(first[0]), 6), round(float(second[0]), 6)  # g, then 0.9 g + 0.5 g
    (1.0, 1.4)

    References:
      Polyak, Some methods of speeding up the convergence of iteration methods,
      1964. Sutskever et al., `On the importance of initialization and momentum
      in deep learning <https://proceedings.mlr.press/v28/sutskever13.html>`_,
      2013.
    """
    check_decay("decay", decay)
    check_choice("form", form, MOMENTUM_FORMS)
    check_decay("dampening", dampening)
    check_choice("debias_formula", debias_formula, DEBIAS_FORMULAS)
    accumulate = form == "classic"
    damped = accumulate and not is_zero(dampening)
    if not accumulate and _concrete(dampening) is not None and not is_zero(dampening):
        raise ValueError("dampening is PyTorch's, for form='classic' only")

    def init_fn(params):
        return MomentumState(
            count=jnp.zeros([], jnp.int32), velocity=_zeros(params, accumulator_dtype)
        )

    def update_fn(updates, state, params=None):
        del params
        beta = value_at(decay, state.count)
        count = optax.safe_increment(state.count)
        new = updates
        if damped:  # the first step keeps the whole gradient
            keep = jnp.where(state.count == 0, 1, 1 - value_at(dampening, state.count))
            new = jax.tree.map(lambda g: keep.astype(g.dtype) * g, updates)
        velocity = ewa_step(state.velocity, new, beta, accumulate=accumulate)
        if nesterov:
            direction = _nesterov_look_ahead(
                velocity, updates, beta, count, accumulate=accumulate,
                bias_correction=bias_correction, debias_formula=debias_formula,
            )
        elif bias_correction:
            direction = debias(velocity, beta, count, formula=debias_formula)
        else:
            direction = velocity
        return direction, MomentumState(count=count, velocity=_cast(velocity, accumulator_dtype))

    return optax.GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# RMSprop


class RmsState(NamedTuple):
    """State of :func:`scale_by_rms` (uncentered).

    Attributes:
      count: number of updates made (int32 scalar).
      nu: running average of squared gradients, :math:`s_t`.
    """

    count: jax.Array
    nu: Updates


class CenteredRmsState(NamedTuple):
    """State of :func:`scale_by_rms` with ``centered=True``.

    Attributes:
      count: number of updates made (int32 scalar).
      mu: running average of gradients, :math:`m_t`.
      nu: running average of squared gradients, :math:`s_t`.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def _inverse_root(denominator_squared, eps, eps_in_sqrt):
    r""":math:`1/\sqrt{n + \epsilon}` or :math:`1/(\sqrt{n} + \epsilon)`, leaf by leaf."""
    if eps_in_sqrt:
        return jax.tree.map(lambda n: jax.lax.rsqrt(n + eps), denominator_squared)
    return jax.tree.map(lambda n: 1 / (jnp.sqrt(n) + eps), denominator_squared)


def scale_by_rms(
    decay=0.9,
    eps=1e-8,
    initial_scale=0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    bias_correction: bool = False,
    *,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""Divide gradients by the root of the running mean of their squares.

    .. math::

        s_t = \rho s_{t-1} + (1 - \rho)\, g_t^2, \qquad
        u_t = \frac{g_t}{\sqrt{s_t + \epsilon}}
        \quad\text{or}\quad \frac{g_t}{\sqrt{s_t} + \epsilon}
        \ (\text{``eps_in_sqrt=False``}).

    ``centered=True`` also keeps :math:`m_t = \rho m_{t-1} + (1 - \rho) g_t`
    and uses the variance :math:`s_t - m_t^2` in place of :math:`s_t`
    (Graves, 2013). ``bias_correction=True`` divides :math:`s_t` (and
    :math:`m_t`) by :math:`1 - \rho^t`.

    Conventions: optax and Keras put ``eps`` inside the root (optax 1e-8,
    Keras 1e-7 with ``rho=0.9``); PyTorch puts it outside (1e-8, ``alpha=0.99``),
    i.e. ``eps_in_sqrt=False, decay=0.99``. PyTorch starts :math:`s_0` at 0;
    TF1 started it at 1 (``initial_scale=1.0``).

    Args:
      decay: :math:`\rho`, default 0.9, typically 0.9 to 0.999, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-8.
      initial_scale: :math:`s_0` >= 0, default 0.
      eps_in_sqrt: add ``eps`` under the square root (optax, Keras).
      centered: divide by the running standard deviation instead.
      bias_correction: divide the running averages by :math:`1 - \rho^t`.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Hinton, `Neural Networks for Machine Learning, lecture 6e
      <https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>`_,
      2012. Graves, `Generating Sequences With Recurrent Neural Networks
      <https://arxiv.org/abs/1308.0850>`_, 2013.
    """
    check_decay("decay", decay)
    check_positive("eps", eps)
    check_non_negative("initial_scale", initial_scale)
    check_choice("debias_formula", debias_formula, DEBIAS_FORMULAS)

    def init_fn(params):
        count = jnp.zeros([], jnp.int32)
        nu = _full(params, initial_scale)
        if centered:
            return CenteredRmsState(count=count, mu=_zeros(params), nu=nu)
        return RmsState(count=count, nu=nu)

    def update_fn(updates, state, params=None):
        del params
        rho = value_at(decay, state.count)
        count = optax.safe_increment(state.count)
        nu = ewa_step(state.nu, _square(updates), rho)
        nu_hat = debias(nu, rho, count, formula=debias_formula) if bias_correction else nu
        if centered:
            mu = ewa_step(state.mu, updates, rho)
            mu_hat = debias(mu, rho, count, formula=debias_formula) if bias_correction else mu
            nu_hat = jax.tree.map(lambda n, m: n - jnp.square(m), nu_hat, mu_hat)
            new_state = CenteredRmsState(count=count, mu=mu, nu=nu)
        else:
            new_state = RmsState(count=count, nu=nu)
        scale = _inverse_root(nu_hat, eps, eps_in_sqrt)
        return jax.tree.map(lambda s, g: s * g, scale, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# Adam and relatives


class AdamState(NamedTuple):
    """State of :func:`scale_by_adam`.

    Attributes:
      count: number of updates made, :math:`t` (int32 scalar).
      mu: first moment, the running average of gradients :math:`m_t`.
      nu: second moment, the running average of squared gradients :math:`v_t`.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def _adam_direction(mu_hat, nu, b2, count, *, eps, eps_root, debias_formula, eps_hat=False,
                    debias_nu=True):
    r"""Divide the first moment by the root of the second.

    Default: :math:`\hat m / (\sqrt{\hat v + \epsilon_{root}} + \epsilon)` with
    :math:`\hat v = v / (1 - \beta_2^t)`. With ``eps_hat`` the correction of
    :math:`v` moves into the numerator, :math:`\hat m \sqrt{1 - \beta_2^t} /
    (\sqrt{v + \epsilon_{root}} + \hat\epsilon)` (Kingma and Ba, section 2).
    """
    if eps_hat:
        factor = jnp.sqrt(debias_factor(b2, count, formula=debias_formula)) if debias_nu else 1.0
        return jax.tree.map(
            lambda m, v: m * jnp.asarray(factor).astype(m.dtype) / (jnp.sqrt(v + eps_root) + eps),
            mu_hat,
            nu,
        )
    nu_hat = debias(nu, b2, count, formula=debias_formula) if debias_nu else nu
    return jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)


def _check_adam(b1, b2, eps, eps_root, debias_formula):
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_non_negative("eps", eps)
    check_non_negative("eps_root", eps_root)
    if is_zero(eps) and is_zero(eps_root):
        raise ValueError("eps and eps_root are both 0, which divides by 0 where a second moment "
                         "is 0; set eps > 0, or eps_root > 0 for eps inside the square root")
    check_choice("debias_formula", debias_formula, DEBIAS_FORMULAS)


def scale_by_adam(
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
    r"""Scale gradients by Adam's debiased first and second moments.

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        \hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad
        \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
        u_t = \frac{\hat m_t}{\sqrt{\hat v_t + \epsilon_{root}} + \epsilon}.

    :math:`m` is momentum's EWA of gradients, :math:`v` RMSprop's EWA of
    squared gradients, both bias-corrected. ``nesterov=True`` replaces
    :math:`\hat m_t` by :math:`\beta_1 m_t / (1 - \beta_1^{t+1}) + (1 -
    \beta_1) g_t / (1 - \beta_1^t)` (NAdam as optax has it).

    Conventions: the default matches optax and PyTorch (eps outside the
    root, 1e-8). ``eps_hat=True`` matches Keras/TensorFlow, which fold the
    corrections into the step, :math:`\alpha_t = \alpha \sqrt{1 -
    \beta_2^t} / (1 - \beta_1^t)` and :math:`u_t = m_t / (\sqrt{v_t} +
    \hat\epsilon)`; Keras' default ``eps`` is 1e-7. The lectures' Adam puts
    :math:`\epsilon` inside the root, :math:`u_t = \hat m_t / \sqrt{\hat v_t +
    \epsilon}`: pass ``eps=0, eps_root=1e-8``. The corrections are computed
    accurately (:func:`jaxdl.averages.debias_factor`); ``debias_formula="power"``
    gives optax's numbers bit for bit.

    Args:
      b1: :math:`\beta_1`, default 0.9, typically 0.8 to 0.95, in [0, 1).
      b2: :math:`\beta_2`, default 0.999, typically 0.95 to 0.9999, in [0, 1).
      eps: :math:`\epsilon` >= 0, default 1e-8.
      eps_root: :math:`\epsilon_{root}` >= 0 under the root, default 0 (set
        it when differentiating through the update, or with ``eps=0``); ``eps``
        and ``eps_root`` may not both be 0.
      mu_dtype: optional dtype of the first moment.
      nesterov: use Nesterov momentum (Dozat, 2016).
      eps_hat: Keras' placement of ``eps``, see above.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    >>> opt = scale_by_adam(eps=0.0, eps_root=1e-8)  # the lectures' Adam
    >>> direction, _ = opt.update(jnp.array([0.5, 0.0]), opt.init(jnp.zeros(2)))
    >>> [round(float(u), 6) for u in direction]  # g / sqrt(g^2 + eps_root)
    [1.0, 0.0]

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015.
    """
    _check_adam(b1, b2, eps, eps_root, debias_formula)

    def init_fn(params):
        return AdamState(
            count=jnp.zeros([], jnp.int32), mu=_zeros(params, mu_dtype), nu=_zeros(params)
        )

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        count = optax.safe_increment(state.count)
        mu = ewa_step(state.mu, updates, beta1)
        nu = ewa_step(state.nu, _square(updates), beta2)
        if nesterov:
            mu_hat = _nesterov_look_ahead(
                mu, updates, beta1, count, accumulate=False, bias_correction=True,
                debias_formula=debias_formula,
            )
        else:
            mu_hat = debias(mu, beta1, count, formula=debias_formula)
        direction = _adam_direction(
            mu_hat, nu, beta2, count, eps=eps, eps_root=eps_root, eps_hat=eps_hat,
            debias_formula=debias_formula,
        )
        return direction, AdamState(count=count, mu=_cast(mu, mu_dtype), nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


class AmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`.

    Attributes:
      count: number of updates made (int32 scalar).
      mu: running average of gradients.
      nu: running average of squared gradients.
      nu_max: elementwise maximum of the second moments seen so far.
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    nu_max: Updates


def scale_by_amsgrad(
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
    r"""Adam whose second moment never decreases (AMSGrad).

    .. math::

        m_t, v_t \text{ as in Adam}, \qquad
        v^{max}_t = \max(v^{max}_{t-1}, \tilde v_t), \qquad
        u_t = \frac{\hat m_t}{\sqrt{c(v^{max}_t) + \epsilon_{root}} + \epsilon}.

    Conventions (the frameworks disagree on what the max is taken over):

    - optax (default): :math:`\tilde v_t = v_t / (1 - \beta_2^t)`, :math:`c`
      the identity.
    - PyTorch (``debias_before_max=False``): :math:`\tilde v_t = v_t`, then
      :math:`c(v) = v / (1 - \beta_2^t)`.
    - Keras (``debias_before_max=False, eps_hat=True``, ``eps=1e-7``): the max
      over raw :math:`v_t`, with Adam's :math:`\hat\epsilon` step, see
      :func:`scale_by_adam`.
    - Reddi et al. (``bias_correction_mu=False, bias_correction_nu=False``):
      no correction at all.

    Args:
      b1, b2, eps, eps_root, mu_dtype, eps_hat, debias_formula: as in
        :func:`scale_by_adam`.
      bias_correction_mu: correct :math:`m_t` by :math:`1 - \beta_1^t`.
      bias_correction_nu: correct the second moment by :math:`1 - \beta_2^t`.
      debias_before_max: take the max over corrected (True) or raw (False)
        second moments; ``eps_hat=True`` needs False.

    References:
      Reddi, Kale and Kumar, `On the Convergence of Adam and Beyond
      <https://openreview.net/forum?id=ryQu7f-RZ>`_, 2018.
    """
    _check_adam(b1, b2, eps, eps_root, debias_formula)
    if eps_hat and debias_before_max and bias_correction_nu:
        raise ValueError(
            "eps_hat=True folds the second-moment correction into the step, so the "
            "max must be over raw second moments: pass debias_before_max=False"
        )

    def init_fn(params):
        return AmsgradState(
            count=jnp.zeros([], jnp.int32),
            mu=_zeros(params, mu_dtype),
            nu=_zeros(params),
            nu_max=_zeros(params),
        )

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        count = optax.safe_increment(state.count)
        mu = ewa_step(state.mu, updates, beta1)
        nu = ewa_step(state.nu, _square(updates), beta2)
        mu_hat = debias(mu, beta1, count, formula=debias_formula) if bias_correction_mu else mu
        if debias_before_max and bias_correction_nu:
            nu_hat = debias(nu, beta2, count, formula=debias_formula)
            nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu_hat)
            direction = _adam_direction(
                mu_hat, nu_max, beta2, count, eps=eps, eps_root=eps_root, debias_nu=False,
                debias_formula=debias_formula,
            )
        else:
            nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
            direction = _adam_direction(
                mu_hat,
                nu_max,
                beta2,
                count,
                eps=eps,
                eps_root=eps_root,
                eps_hat=eps_hat,
                debias_nu=bias_correction_nu,
                debias_formula=debias_formula,
            )
        return direction, AmsgradState(count=count, mu=_cast(mu, mu_dtype), nu=nu, nu_max=nu_max)

    return optax.GradientTransformation(init_fn, update_fn)


class NadamState(NamedTuple):
    """State of :func:`scale_by_nadam`.

    Attributes:
      count: number of updates made, :math:`t` (int32 scalar).
      mu: running average of gradients.
      nu: running average of squared gradients.
      mu_product: :math:`\\prod_{i \\le t} \\mu_i`, the product of the
        scheduled momentum coefficients so far (scalar of the default
        float dtype).
    """

    count: jax.Array
    mu: Updates
    nu: Updates
    mu_product: jax.Array


def scale_by_nadam(
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    mu_dtype: Optional[Any] = None,
    *,
    momentum_decay=0.004,
    debias_formula: str = "exact",
) -> optax.GradientTransformation:
    r"""NAdam with Dozat's momentum schedule (PyTorch and Keras convention).

    .. math::

        \mu_t = \beta_1 \left(1 - \tfrac12\, 0.96^{\psi t}\right), \qquad
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        \hat m_t = \frac{\mu_{t+1} m_t}{1 - \prod_{i \le t+1} \mu_i}
                 + \frac{(1 - \mu_t) g_t}{1 - \prod_{i \le t} \mu_i}, \qquad
        u_t = \frac{\hat m_t}{\sqrt{v_t / (1 - \beta_2^t) + \epsilon_{root}} + \epsilon},

    with :math:`\psi` = ``momentum_decay``: 0.004 is PyTorch's ``NAdam``
    (its default, with ``lr=2e-3``), 1.0 is Keras 3's ``Nadam`` (with
    ``eps=1e-7``). optax's :func:`optax.nadam` has no schedule
    (:math:`\mu_t = \beta_1`); use :func:`scale_by_adam` with
    ``nesterov=True`` for it.

    The products :math:`\prod \mu_i` are kept in the state as PyTorch does
    (in float32); only :math:`1 - \beta_2^t` is a bias correction
    (``debias_formula``, as in :func:`scale_by_adam`).

    Args:
      b1, b2, eps, eps_root, mu_dtype, debias_formula: as in
        :func:`scale_by_adam`.
      momentum_decay: :math:`\psi` >= 0, default 0.004.

    References:
      Dozat, `Incorporating Nesterov Momentum into Adam
      <https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ>`_, 2016.
    """
    _check_adam(b1, b2, eps, eps_root, debias_formula)
    check_non_negative("momentum_decay", momentum_decay)

    def init_fn(params):
        return NadamState(
            count=jnp.zeros([], jnp.int32),
            mu=_zeros(params, mu_dtype),
            nu=_zeros(params),
            mu_product=jnp.ones([], jnp.result_type(float)),
        )

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        psi = value_at(momentum_decay, state.count)
        count = optax.safe_increment(state.count)
        step = count.astype(state.mu_product.dtype)
        mu_now = beta1 * (1 - 0.5 * 0.96 ** (psi * step))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** (psi * (step + 1)))
        mu_product = state.mu_product * mu_now
        mu = ewa_step(state.mu, updates, beta1)
        nu = ewa_step(state.nu, _square(updates), beta2)
        weight_mu = jnp.asarray(mu_next / (1 - mu_product * mu_next))
        weight_g = jnp.asarray((1 - mu_now) / (1 - mu_product))
        mu_hat = jax.tree.map(
            lambda m, g: weight_mu.astype(m.dtype) * m + weight_g.astype(g.dtype) * g, mu, updates
        )
        direction = _adam_direction(
            mu_hat, nu, beta2, count, eps=eps, eps_root=eps_root, debias_formula=debias_formula
        )
        return direction, NadamState(
            count=count,
            mu=_cast(mu, mu_dtype),
            nu=nu,
            mu_product=jnp.asarray(mu_product).astype(state.mu_product.dtype),
        )

    return optax.GradientTransformation(init_fn, update_fn)


class AdamaxState(NamedTuple):
    """State of :func:`scale_by_adamax`.

    Attributes:
      count: number of updates made (int32 scalar).
      mu: running average of gradients.
      nu: exponentially weighted infinity norm of gradients, :math:`u_t`.
    """

    count: jax.Array
    mu: Updates
    nu: Updates


def scale_by_adamax(
    b1=0.9, b2=0.999, eps=1e-8, *, eps_in_max: bool = True, debias_formula: str = "exact"
) -> optax.GradientTransformation:
    r"""Adam with the infinity norm in place of the root mean square (AdaMax).

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        \text{update} = \frac{m_t}{(1 - \beta_1^t)\, u_t}.

    :math:`m_t` is the bias-corrected EWA of gradients; :math:`u_t` is the
    limit :math:`p \to \infty` of an EWA of :math:`|g|^p`, which needs no
    bias correction. The default (``eps`` inside the max) matches optax and
    PyTorch; ``eps_in_max=False`` matches Keras, :math:`u_t = \max(\beta_2
    u_{t-1}, |g_t|)` and :math:`m_t / ((1 - \beta_1^t)(u_t + \epsilon))`, with
    Keras' default ``eps=1e-7``.

    Args:
      b1: :math:`\beta_1`, default 0.9, in [0, 1).
      b2: :math:`\beta_2`, default 0.999, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-8.
      eps_in_max: where ``eps`` goes, see above.
      debias_formula: ``"exact"`` (default) or ``"power"`` (optax's, bit for
        bit), see :func:`jaxdl.averages.debias_factor`.

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015, section 7.1.
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_positive("eps", eps)
    check_choice("debias_formula", debias_formula, DEBIAS_FORMULAS)

    def init_fn(params):
        return AdamaxState(count=jnp.zeros([], jnp.int32), mu=_zeros(params), nu=_zeros(params))

    def update_fn(updates, state, params=None):
        del params
        beta1, beta2 = value_at(b1, state.count), value_at(b2, state.count)
        count = optax.safe_increment(state.count)
        mu = ewa_step(state.mu, updates, beta1)
        mu_hat = debias(mu, beta1, count, formula=debias_formula)
        if eps_in_max:
            nu = jax.tree.map(
                lambda g, u: jnp.maximum(jnp.abs(g) + eps, beta2 * u), updates, state.nu
            )
            direction = jax.tree.map(lambda m, u: m / u, mu_hat, nu)
        else:
            nu = jax.tree.map(lambda g, u: jnp.maximum(jnp.abs(g), beta2 * u), updates, state.nu)
            direction = jax.tree.map(lambda m, u: m / (u + eps), mu_hat, nu)
        return direction, AdamaxState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


# ---------------------------------------------------------------------------
# Adagrad and Adadelta


class AdagradState(NamedTuple):
    """State of :func:`scale_by_adagrad`.

    Attributes:
      sum_of_squares: running sum of squared gradients (plus the initial value).
    """

    sum_of_squares: Updates


def scale_by_adagrad(
    initial_accumulator_value=0.1, eps=1e-7, *, eps_in_sqrt: bool = True
) -> optax.GradientTransformation:
    r"""Divide gradients by the root of the sum of all squared gradients.

    .. math::

        G_t = G_{t-1} + g_t^2, \qquad
        u_t = \frac{g_t}{\sqrt{G_t + \epsilon}}
        \quad\text{or}\quad \frac{g_t}{\sqrt{G_t} + \epsilon}
        \ (\text{``eps_in_sqrt=False``}),

    with :math:`G_0` = ``initial_accumulator_value``; entries with
    :math:`G_t = 0` get a zero update. :math:`G_t` is the accumulating
    average of :mod:`jaxdl.averages` with :math:`\beta = 1`.

    Conventions: optax and Keras use :math:`G_0 = 0.1` and ``eps=1e-7``
    inside the root (the defaults); PyTorch uses :math:`G_0 = 0` and
    ``eps=1e-10`` outside it (``initial_accumulator_value=0.0, eps=1e-10,
    eps_in_sqrt=False``).

    Args:
      initial_accumulator_value: :math:`G_0` >= 0, default 0.1.
      eps: :math:`\epsilon` > 0, default 1e-7.
      eps_in_sqrt: add ``eps`` under the square root (optax, Keras).

    References:
      Duchi, Hazan and Singer, `Adaptive Subgradient Methods for Online Learning
      and Stochastic Optimization <https://jmlr.org/papers/v12/duchi11a.html>`_,
      2011.
    """
    check_non_negative("initial_accumulator_value", initial_accumulator_value)
    check_positive("eps", eps)

    def init_fn(params):
        return AdagradState(sum_of_squares=_full(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        sum_of_squares = ewa_step(state.sum_of_squares, _square(updates), 1.0, accumulate=True)
        scale = _inverse_root(sum_of_squares, eps, eps_in_sqrt)
        updates = jax.tree.map(
            lambda total, s, g: jnp.where(total > 0, s, 0.0) * g, sum_of_squares, scale, updates
        )
        return updates, AdagradState(sum_of_squares=sum_of_squares)

    return optax.GradientTransformation(init_fn, update_fn)


class AdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`.

    Attributes:
      count: number of updates made (int32 scalar).
      avg_sq_grad: running average of squared gradients, :math:`E[g^2]_t`.
      avg_sq_update: running average of squared updates, :math:`E[\\Delta x^2]_t`.
    """

    count: jax.Array
    avg_sq_grad: Updates
    avg_sq_update: Updates


def scale_by_adadelta(rho=0.9, eps=1e-6) -> optax.GradientTransformation:
    r"""Scale gradients by the ratio of two running root mean squares (Adadelta).

    .. math::

        E[g^2]_t = \rho E[g^2]_{t-1} + (1 - \rho) g_t^2, \qquad
        \Delta x_t = \frac{\sqrt{E[\Delta x^2]_{t-1} + \epsilon}}
                          {\sqrt{E[g^2]_t + \epsilon}}\, g_t, \\
        E[\Delta x^2]_t = \rho E[\Delta x^2]_{t-1} + (1 - \rho) \Delta x_t^2.

    Both accumulators are EWAs without bias correction. optax, PyTorch and
    Keras share this rule; they differ in defaults only: optax ``rho=0.9,
    eps=1e-6`` and no learning rate, PyTorch ``lr=1.0, rho=0.9, eps=1e-6``,
    Keras ``learning_rate=1e-3, rho=0.95, epsilon=1e-7``.

    Args:
      rho: :math:`\rho`, default 0.9, typically 0.9 to 0.95, in [0, 1).
      eps: :math:`\epsilon` > 0, default 1e-6.

    References:
      Zeiler, `ADADELTA: An Adaptive Learning Rate Method
      <https://arxiv.org/abs/1212.5701>`_, 2012.
    """
    check_decay("rho", rho)
    check_positive("eps", eps)

    def init_fn(params):
        return AdadeltaState(
            count=jnp.zeros([], jnp.int32), avg_sq_grad=_zeros(params), avg_sq_update=_zeros(params)
        )

    def update_fn(updates, state, params=None):
        del params
        decay = value_at(rho, state.count)
        avg_sq_grad = ewa_step(state.avg_sq_grad, _square(updates), decay)
        updates = jax.tree.map(
            lambda g, e_g, e_x: (jnp.sqrt(e_x + eps) / jnp.sqrt(e_g + eps)) * g,
            updates,
            avg_sq_grad,
            state.avg_sq_update,
        )
        avg_sq_update = ewa_step(state.avg_sq_update, _square(updates), decay)
        return updates, AdadeltaState(
            count=optax.safe_increment(state.count),
            avg_sq_grad=avg_sq_grad,
            avg_sq_update=avg_sq_update,
        )

    return optax.GradientTransformation(init_fn, update_fn)
