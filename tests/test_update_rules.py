"""Every optimizer in float32 against a float64 NumPy transcription of its rule.

Each row of ``RULES`` runs a jaxdl optimizer for 200 float32 steps and the
same update rule in float64 on the same gradient sequence, and demands the
parameters agree within 2e-6 (parameters of order 1, decays up to 0.9999).
The gradients are a fixed sequence with a consistent sign per parameter, so
a relative error in the step accumulates instead of averaging out: optax's
float32 bias correction ``1 - beta**t`` (``debias_formula="power"``, the
formula before jaxdl's was made exact) drifts by 6.5e-6 (b2 = 0.999) and
7.9e-5 (b2 = 0.9999) here, and :func:`test_the_power_formula_fails_these_tests`
checks that it does on every corrected row. The tolerance has room for the
float32 rounding of the parameters themselves (about 1e-6 over 200 steps).

``python tests/test_update_rules.py`` prints each row's drift for both
formulas.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdl.optim as jo
from jaxdl import registry

STEPS = 200
SIZE = 16
TOLERANCE = 2e-6

_RNG = np.random.default_rng(0)
SIGN = _RNG.choice([-1.0, 1.0], SIZE)
P0 = (-SIGN * _RNG.uniform(0.4, 0.6, SIZE)).astype(np.float32)
GRADS = (SIGN * (1 + 0.5 * _RNG.normal(size=(STEPS, SIZE)))).astype(np.float32)


def run_float32(opt) -> np.ndarray:
    """The parameters after ``STEPS`` float32 updates on ``GRADS``."""

    def step(carry, grads):
        params, state = carry
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    @jax.jit
    def run(p0, grads):
        return jax.lax.scan(step, (p0, opt.init(p0)), grads)[0][0]

    params = run(jnp.asarray(P0), jnp.asarray(GRADS))
    assert params.dtype == jnp.float32
    return np.asarray(params, np.float64)


def run_float64(rule, **hyper) -> np.ndarray:
    """The parameters after ``STEPS`` steps of the NumPy ``rule`` in float64."""
    p, state = P0.astype(np.float64), {}
    for t, g in enumerate(GRADS.astype(np.float64), start=1):
        p = rule(p, g, state, t, **hyper)
    return p


# ---------------------------------------------------------------------------
# The rules, in float64. ``s`` holds the state; ``t`` counts from 1.


def ewa(s, key, decay, value, start=0.0):
    s[key] = decay * s.get(key, start) + (1 - decay) * value
    return s[key]


def sgd(p, g, s, t, lr, momentum=0.0, nesterov=False, dampening=0.0):
    if momentum:  # PyTorch's SGD: the first buffer is g itself
        s["buf"] = g if t == 1 else momentum * s["buf"] + (1 - dampening) * g
        g = g + momentum * s["buf"] if nesterov else s["buf"]
    return p - lr * g


def lecture_momentum(p, g, s, t, lr, beta, bias_correction=False, nesterov=False):
    v = ewa(s, "v", beta, g)
    if bias_correction:
        v = v / (1 - beta**t)
    return p - lr * (beta * v + (1 - beta) * g if nesterov else v)


def classic_momentum_debiased(p, g, s, t, lr, beta):
    s["v"] = beta * s.get("v", 0.0) + g
    return p - lr * s["v"] / (1 - beta**t)


def rmsprop(p, g, s, t, lr, rho, eps, centered=False, bias_correction=False, eps_in_sqrt=True,
            momentum=0.0):
    square = ewa(s, "square", rho, g * g)
    mean = ewa(s, "mean", rho, g) if centered else 0.0
    if bias_correction:
        square, mean = square / (1 - rho**t), mean / (1 - rho**t)
    variance = square - mean**2
    step = lr * g / (np.sqrt(variance + eps) if eps_in_sqrt else np.sqrt(variance) + eps)
    if momentum:
        s["b"] = momentum * s.get("b", 0.0) + step
        step = s["b"]
    return p - step


def adam(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, weight_decay=0.0,
         eps_hat=False):
    m, v = ewa(s, "m", b1, g), ewa(s, "v", b2, g * g)
    if eps_hat:  # Keras: the corrections folded into the step size
        step = np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v + eps_root) + eps)
    else:
        step = m / (1 - b1**t) / (np.sqrt(v / (1 - b2**t) + eps_root) + eps)
    return p - lr * (step + weight_decay * p)


def optax_nadam(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    m, v = ewa(s, "m", b1, g), ewa(s, "v", b2, g * g)
    m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
    step = m_hat / (np.sqrt(v / (1 - b2**t)) + eps)
    return p - lr * (step + weight_decay * p)


def pytorch_nadam(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8, momentum_decay=0.004,
                  weight_decay=0.0):
    """torch.optim.NAdam, with ``decoupled_weight_decay=True`` when ``weight_decay`` is set."""
    p = p * (1 - lr * weight_decay)
    mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    m, v = ewa(s, "m", b1, g), ewa(s, "v", b2, g * g)
    denom = np.sqrt(v / (1 - b2**t)) + eps
    p = p - lr * (1 - mu) / (1 - s["mu_product"]) * g / denom
    return p - lr * mu_next / (1 - s["mu_product"] * mu_next) * m / denom


def amsgrad(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8, debias_before_max=True):
    m, v = ewa(s, "m", b1, g), ewa(s, "v", b2, g * g)
    if debias_before_max:  # optax
        s["v_max"] = np.maximum(s.get("v_max", 0.0), v / (1 - b2**t))
        v_hat = s["v_max"]
    else:  # PyTorch
        s["v_max"] = np.maximum(s.get("v_max", 0.0), v)
        v_hat = s["v_max"] / (1 - b2**t)
    return p - lr * m / (1 - b1**t) / (np.sqrt(v_hat) + eps)


def adamax(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = ewa(s, "m", b1, g)
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + eps)
    return p - lr * m / (1 - b1**t) / s["u"]


def adagrad(p, g, s, t, lr, initial=0.1, eps=1e-7):
    s["sum"] = s.get("sum", initial) + g * g
    return p - lr * g / np.sqrt(s["sum"] + eps)


def adadelta(p, g, s, t, lr, rho=0.9, eps=1e-6):
    square = ewa(s, "square", rho, g * g)
    delta = np.sqrt(s.get("delta", 0.0) + eps) / np.sqrt(square + eps) * g
    ewa(s, "delta", rho, delta * delta)
    return p - lr * delta


class Row(NamedTuple):
    optimizer: str  # a jaxdl.optim factory
    args: dict  # its arguments
    rule: Callable  # the float64 rule
    hyper: dict  # the rule's arguments
    corrected: bool = False  # whether a bias correction is involved


RULES = {
    "sgd": Row("sgd", dict(learning_rate=5e-3), sgd, dict(lr=5e-3)),
    "sgd-momentum": Row("sgd", dict(learning_rate=5e-4, momentum=0.9),
                        sgd, dict(lr=5e-4, momentum=0.9)),
    "sgd-nesterov": Row("sgd", dict(learning_rate=5e-4, momentum=0.9, nesterov=True),
                        sgd, dict(lr=5e-4, momentum=0.9, nesterov=True)),
    "sgd-dampening": Row("sgd", dict(learning_rate=1e-3, momentum=0.9, dampening=0.5),
                         sgd, dict(lr=1e-3, momentum=0.9, dampening=0.5)),
    "nesterov": Row("nesterov", dict(learning_rate=5e-4, momentum=0.9),
                    sgd, dict(lr=5e-4, momentum=0.9, nesterov=True)),
    "momentum": Row("momentum", dict(learning_rate=5e-3, decay=0.9),
                    lecture_momentum, dict(lr=5e-3, beta=0.9)),
    "momentum-nesterov": Row("momentum", dict(learning_rate=5e-3, decay=0.9, nesterov=True),
                             lecture_momentum, dict(lr=5e-3, beta=0.9, nesterov=True)),
    "momentum-debiased-0.999": Row(
        "momentum", dict(learning_rate=5e-3, decay=0.999, bias_correction=True),
        lecture_momentum, dict(lr=5e-3, beta=0.999, bias_correction=True), corrected=True),
    "momentum-classic-debiased-0.999": Row(
        "momentum", dict(learning_rate=5e-6, decay=0.999, form="classic", bias_correction=True),
        classic_momentum_debiased, dict(lr=5e-6, beta=0.999), corrected=True),
    "rmsprop": Row("rmsprop", dict(learning_rate=5e-3), rmsprop, dict(lr=5e-3, rho=0.9, eps=1e-8)),
    "rmsprop-pytorch-momentum": Row(
        "rmsprop", dict(learning_rate=5e-4, decay=0.99, eps_in_sqrt=False, momentum=0.9),
        rmsprop, dict(lr=5e-4, rho=0.99, eps=1e-8, eps_in_sqrt=False, momentum=0.9)),
    "rmsprop-debiased-0.9999": Row(
        "rmsprop", dict(learning_rate=5e-3, decay=0.9999, bias_correction=True),
        rmsprop, dict(lr=5e-3, rho=0.9999, eps=1e-8, bias_correction=True), corrected=True),
    "rmsprop-centered": Row("rmsprop", dict(learning_rate=2e-3, centered=True),
                            rmsprop, dict(lr=2e-3, rho=0.9, eps=1e-8, centered=True)),
    "adam-0.999": Row("adam", dict(learning_rate=5e-3), adam, dict(lr=5e-3), corrected=True),
    "adam-0.9999": Row("adam", dict(learning_rate=5e-3, b2=0.9999),
                       adam, dict(lr=5e-3, b2=0.9999), corrected=True),
    "adam-keras-0.9999": Row("adam", dict(learning_rate=5e-3, b2=0.9999, eps=1e-7, eps_hat=True),
                             adam, dict(lr=5e-3, b2=0.9999, eps=1e-7, eps_hat=True), corrected=True),
    "adam-lecture-eps-in-root": Row(
        "adam", dict(learning_rate=5e-3, b2=0.9999, eps=0.0, eps_root=1e-8),
        adam, dict(lr=5e-3, b2=0.9999, eps=0.0, eps_root=1e-8), corrected=True),
    "adamw-0.9999": Row("adamw", dict(learning_rate=5e-3, b2=0.9999, weight_decay=0.1),
                        adam, dict(lr=5e-3, b2=0.9999, weight_decay=0.1), corrected=True),
    "nadam-0.9999": Row("nadam", dict(learning_rate=5e-3, b2=0.9999),
                        optax_nadam, dict(lr=5e-3, b2=0.9999), corrected=True),
    "nadam-pytorch-0.9999": Row("nadam", dict(learning_rate=5e-3, b2=0.9999, momentum_decay=0.004),
                                pytorch_nadam, dict(lr=5e-3, b2=0.9999), corrected=True),
    "nadamw-0.9999": Row("nadamw", dict(learning_rate=5e-3, b2=0.9999, weight_decay=0.1),
                         optax_nadam, dict(lr=5e-3, b2=0.9999, weight_decay=0.1), corrected=True),
    "nadamw-pytorch-0.9999": Row(
        "nadamw", dict(learning_rate=5e-3, b2=0.9999, weight_decay=0.1, momentum_decay=0.004),
        pytorch_nadam, dict(lr=5e-3, b2=0.9999, weight_decay=0.1), corrected=True),
    "amsgrad-0.9999": Row("amsgrad", dict(learning_rate=5e-3, b2=0.9999),
                          amsgrad, dict(lr=5e-3, b2=0.9999), corrected=True),
    "amsgrad-pytorch-0.9999": Row(
        "amsgrad", dict(learning_rate=5e-3, b2=0.9999, debias_before_max=False),
        amsgrad, dict(lr=5e-3, b2=0.9999, debias_before_max=False), corrected=True),
    "adamax-0.999": Row("adamax", dict(learning_rate=5e-3, b1=0.999),
                        adamax, dict(lr=5e-3, b1=0.999), corrected=True),
    "adagrad": Row("adagrad", dict(learning_rate=2.5e-2), adagrad, dict(lr=2.5e-2)),
    "adadelta": Row("adadelta", dict(learning_rate=1.0), adadelta, dict(lr=1.0)),
}


def drift(case: str, **options) -> float:
    """max |float32 - float64| of a row; ``options`` go to the jaxdl factory."""
    row = RULES[case]
    ours = run_float32(jo.get(row.optimizer)(**row.args, **options))
    return float(np.max(np.abs(ours - run_float64(row.rule, **row.hyper))))


@pytest.mark.parametrize("case", sorted(RULES))
def test_float32_stays_within_2e_6_of_float64(case):
    row = RULES[case]
    expected = run_float64(row.rule, **row.hyper)
    assert np.max(np.abs(expected - P0)) > 0.3  # the parameters really move
    ours = run_float32(jo.get(row.optimizer)(**row.args))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("case", sorted(case for case, row in RULES.items() if row.corrected))
def test_the_power_formula_fails_these_tests(case):
    """optax's float32 1 - beta**t is over twice the tolerance on every corrected row."""
    assert drift(case, debias_formula="power") > 2 * TOLERANCE


def test_traced_float32_hyperparameters():
    """vmapped float32 b2: within 2e-6 of float64 run with the same (float32) values."""
    b2s = np.asarray([0.999, 0.9999], np.float32)

    def final(b2):
        opt = jo.adam(5e-3, b2=b2)

        def step(carry, grads):
            params, state = carry
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        p0 = jnp.asarray(P0)
        return jax.lax.scan(step, (p0, opt.init(p0)), jnp.asarray(GRADS))[0][0]

    population = jax.jit(jax.vmap(final))(jnp.asarray(b2s))
    for params, b2 in zip(np.asarray(population, np.float64), b2s):
        expected = run_float64(adam, lr=5e-3, b2=float(b2))  # the float32 value, in float64
        np.testing.assert_allclose(params, expected, rtol=0, atol=TOLERANCE)


def test_every_built_in_optimizer_has_a_row():
    assert {row.optimizer for row in RULES.values()} >= set(jo.__all__) & set(
        registry.OPTIMIZERS.names())


if __name__ == "__main__":
    print(f"max |float32 - float64| after {STEPS} steps (tolerance {TOLERANCE:g})")
    print(f"{'rule':34s} {'exact':>9s} {'power':>9s}")
    for case, row in RULES.items():
        power = f"{drift(case, debias_formula='power'):9.2e}" if row.corrected else ""
        print(f"{case:34s} {drift(case):9.2e} {power:>9s}")
    print("Adam with learning rate 1e-2 (parameters move by 2):")
    for b2 in (0.999, 0.9999):
        expected = run_float64(adam, lr=1e-2, b2=b2)
        exact, power = (np.max(np.abs(run_float32(jo.adam(1e-2, b2=b2, debias_formula=f)) - expected))
                        for f in ("exact", "power"))
        print(f"{'adam-' + str(b2):34s} {exact:9.2e} {power:9.2e}")
