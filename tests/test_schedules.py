"""Tests for jaxdl.schedules.

References: optax where it has the schedule, closed forms (Keras,
Transformers, the lecture formulas) elsewhere, and small Python
re-implementations of Keras' and PyTorch's ReduceLROnPlateau rules.
"""

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import schedules

STEPS = np.arange(0, 200)
TOL = dict(rtol=1e-5, atol=1e-6)


def _close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected, dtype=np.float64), **TOL)


# --------------------------------------------------------------------------
# Same numbers as optax

OPTAX_CASES = [
    ("constant_schedule", dict(value=0.3)),
    ("exponential_decay", dict(init_value=0.5, transition_steps=10, decay_rate=0.8)),
    ("exponential_decay", dict(init_value=0.5, transition_steps=10, decay_rate=0.8, staircase=True)),
    (
        "exponential_decay",
        dict(
            init_value=0.5,
            transition_steps=7,
            decay_rate=0.8,
            transition_begin=25,
            staircase=True,
            end_value=0.05,
        ),
    ),
    ("exponential_decay", dict(init_value=0.01, transition_steps=20, decay_rate=1.5, end_value=0.1)),
    (
        "polynomial_schedule",
        dict(init_value=1.0, end_value=0.01, power=2, transition_steps=100, transition_begin=5),
    ),
    ("linear_schedule", dict(init_value=1.0, end_value=0.0, transition_steps=150)),
    ("linear_schedule", dict(init_value=0.1, end_value=0.5, transition_steps=40, transition_begin=30)),
    ("linear_schedule", dict(init_value=0.3, end_value=0.1, transition_steps=0)),
    ("cosine_decay_schedule", dict(init_value=0.3, decay_steps=150)),
    ("cosine_decay_schedule", dict(init_value=0.3, decay_steps=120, alpha=0.1, exponent=2.0)),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.0, peak_value=1.0, warmup_steps=20, decay_steps=150, end_value=0.05),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.1, peak_value=0.5, warmup_steps=1, decay_steps=100, exponent=0.5),
    ),
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={50: 0.1, 120: 0.5, 30: 2.0})),
    ("piecewise_constant_schedule", dict(init_value=0.3, boundaries_and_scales={})),
    ("piecewise_constant_schedule", dict(init_value=0.3)),
    ("cosine_onecycle_schedule", dict(transition_steps=150, peak_value=0.5)),
    (
        "cosine_onecycle_schedule",
        dict(transition_steps=100, peak_value=1.0, pct_start=0.25, div_factor=10.0,
             final_div_factor=100.0),
    ),
]


@pytest.mark.parametrize(
    "name, kwargs", OPTAX_CASES, ids=[f"{name}-{i}" for i, (name, _) in enumerate(OPTAX_CASES)]
)
def test_matches_optax(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    reference = jax.vmap(getattr(optax, name)(**kwargs))(jnp.asarray(STEPS))  # some take scalars only
    _close(jax.jit(ours)(STEPS), reference)
    for step in (0, 1, 30, 199):
        _close(ours(step), reference[step])


def test_join_schedules_matches_optax():
    ours = schedules.join_schedules(
        [
            schedules.constant_schedule(0.1),
            schedules.linear_schedule(0.1, 1.0, 20),
            schedules.cosine_decay_schedule(1.0, 100, alpha=0.05),
        ],
        [10, 30],
    )
    reference = optax.join_schedules(
        [
            optax.constant_schedule(0.1),
            optax.linear_schedule(0.1, 1.0, 20),
            optax.cosine_decay_schedule(1.0, 100, alpha=0.05),
        ],
        [10, 30],
    )
    _close(jax.jit(ours)(STEPS), reference(jnp.asarray(STEPS)))
    # The later schedule sees the steps since its boundary.
    _close(ours(10), 0.1)
    _close(ours(30), 1.0)


@pytest.mark.parametrize(
    "name, kwargs, argument, values",
    [
        (
            "exponential_decay",
            dict(init_value=0.5, transition_steps=10, decay_rate=0.8),
            "decay_rate",
            (0.5, 0.8, 0.95),
        ),
        (
            "linear_schedule",
            dict(init_value=1.0, end_value=0.0, transition_steps=100),
            "transition_steps",
            (50, 100, 150),
        ),
        (
            "warmup_cosine_decay_schedule",
            dict(init_value=0.0, peak_value=1.0, warmup_steps=20, decay_steps=150),
            "peak_value",
            (0.1, 1.0, 3.0),
        ),
    ],
)
def test_vmap_where_optax_cannot(name, kwargs, argument, values):
    """The issue's three cases: vmapped over the argument, equal to optax per value."""

    def values_for(value):
        return getattr(schedules, name)(**{**kwargs, argument: value})(STEPS)

    batched = jax.jit(jax.vmap(values_for))(jnp.asarray(values))
    for row, value in zip(batched, values):
        _close(row, getattr(optax, name)(**{**kwargs, argument: value})(jnp.asarray(STEPS)))


# --------------------------------------------------------------------------
# Closed forms where optax has no such schedule


def _transformers_inverse_sqrt(step, peak, warmup, timescale=None):
    if timescale is None:
        timescale = warmup or 10_000
    if step < warmup:
        return peak * step / max(1, warmup)
    return peak / math.sqrt((step + timescale - warmup) / timescale)


def _keras_warmup_cosine(step, initial, target, warmup, decay_steps, alpha):
    if step < warmup:
        return initial + (target - initial) * step / warmup
    done = min(step - warmup, decay_steps) / decay_steps
    return target * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * done)) + alpha)


def _keras_cosine_restarts(step, initial, first_decay_steps, t_mul, m_mul, alpha):
    """Keras' CosineDecayRestarts.__call__, in float64."""
    fraction = step / first_decay_steps
    if t_mul == 1.0:
        i_restart = math.floor(fraction)
        fraction -= i_restart
    else:
        i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
        sum_r = (1.0 - t_mul**i_restart) / (1.0 - t_mul)
        fraction = (fraction - sum_r) / t_mul**i_restart
    cosine = 0.5 * m_mul**i_restart * (1.0 + math.cos(math.pi * fraction))
    return initial * ((1 - alpha) * cosine + alpha)


def _pytorch_warm_restarts(steps, base_lr, T_0, T_mult, eta_min):  # noqa: N803 (PyTorch's names)
    """CosineAnnealingWarmRestarts with scheduler.step() once per step (its own recursion)."""
    rates, T_cur, T_i = [], 0, T_0
    for _ in range(steps):
        rates.append(eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
        T_cur += 1
        if T_cur >= T_i:
            T_cur, T_i = T_cur - T_i, T_i * T_mult
    return rates


def _pytorch_onecycle(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                      final_div_factor=1e4, three_phase=False):
    """OneCycleLR(anneal_strategy='cos').get_lr() at last_epoch = step (step < total_steps)."""
    initial = max_lr / div_factor
    rates = {"initial_lr": initial, "max_lr": max_lr, "min_lr": initial / final_div_factor}
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, "initial_lr", "max_lr"),
                  (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr"),
                  (total_steps - 1, "initial_lr", "min_lr")]
    else:
        phases = [(float(pct_start * total_steps) - 1, "initial_lr", "max_lr"),
                  (total_steps - 1, "max_lr", "min_lr")]
    start_step = 0
    for i, (end_step, start, end) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            return rates[end] + (rates[start] - rates[end]) / 2.0 * (math.cos(math.pi * pct) + 1)
        start_step = end_step


def _keras_polynomial(step, initial, decay_steps, end, power, cycle):
    """Keras' PolynomialDecay.__call__, in float64."""
    if cycle:
        decay_steps = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (initial - end) * (1 - step / decay_steps) ** power + end


def _pytorch_cosine_annealing(step, base_lr, T_max, eta_min):  # noqa: N803
    """CosineAnnealingLR's closed form, for every step (past T_max too)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


def _keras_piecewise(step, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if step <= boundary:
            return value
    return values[-1]


CLOSED_FORMS = [
    (
        schedules.inverse_time_decay,
        dict(init_value=0.5, decay_steps=20, decay_rate=0.5),
        lambda t: 0.5 / (1 + 0.5 * t / 20),
    ),
    (
        schedules.inverse_time_decay,
        dict(init_value=0.5, decay_steps=20, decay_rate=0.5, staircase=True),
        lambda t: 0.5 / (1 + 0.5 * (t // 20)),
    ),
    (
        schedules.epoch_inverse_time_decay,
        dict(init_value=0.2, decay_rate=1.0, steps_per_epoch=10),
        lambda t: 0.2 / (1 + 1.0 * (t // 10)),
    ),
    (
        schedules.epoch_inverse_time_decay,
        dict(init_value=0.2, decay_rate=1.0, steps_per_epoch=10, staircase=False),
        lambda t: 0.2 / (1 + 1.0 * t / 10),
    ),
    (
        schedules.epoch_exponential_decay,
        dict(init_value=0.2, decay_rate=0.3, steps_per_epoch=10),
        lambda t: 0.2 * math.exp(-0.3 * (t // 10)),
    ),
    (
        schedules.epoch_exponential_decay,
        dict(init_value=0.2, decay_rate=0.3, steps_per_epoch=10, staircase=False),
        lambda t: 0.2 * math.exp(-0.3 * t / 10),
    ),
    (
        schedules.epoch_inverse_sqrt_decay,
        dict(init_value=0.2, scale=0.5, steps_per_epoch=10),
        lambda t: 0.5 * 0.2 / math.sqrt(t // 10 + 1),
    ),
    (schedules.epoch_inverse_sqrt_decay, dict(init_value=0.2), lambda t: 0.2 / math.sqrt(t + 1)),
    (
        schedules.step_decay,
        dict(init_value=0.4, epochs_per_drop=3, steps_per_epoch=10),
        lambda t: 0.4 * 0.5 ** ((t // 10) // 3),
    ),
    (
        schedules.step_decay,
        dict(init_value=0.4, epochs_per_drop=25, factor=0.1),
        lambda t: 0.4 * 0.1 ** (t // 25),
    ),
    (
        schedules.power_schedule,
        dict(init_value=0.1, decay_steps=50, power=2.0),
        lambda t: 0.1 / (1 + t / 50) ** 2,
    ),
    (schedules.power_schedule, dict(init_value=0.1, decay_steps=50), lambda t: 0.1 / (1 + t / 50)),
    (
        schedules.linear_schedule,
        dict(init_value=0.5, end_value=0.0, transition_steps=150),
        lambda t: 0.5 * (1 - min(t, 150) / 150),
    ),
    (
        schedules.inverse_sqrt_schedule,
        dict(peak_value=1e-3, warmup_steps=40),
        lambda t: _transformers_inverse_sqrt(t, 1e-3, 40),
    ),
    (
        schedules.inverse_sqrt_schedule,
        dict(peak_value=1e-3, warmup_steps=40, timescale=100),
        lambda t: _transformers_inverse_sqrt(t, 1e-3, 40, 100),
    ),
    (
        schedules.inverse_sqrt_schedule,
        dict(peak_value=1e-3, warmup_steps=0),
        lambda t: _transformers_inverse_sqrt(t, 1e-3, 0),
    ),
    (
        schedules.piecewise_constant_decay,
        dict(boundaries=[30, 80], values=[1.0, 0.5, 0.1]),
        lambda t: _keras_piecewise(t, [30, 80], [1.0, 0.5, 0.1]),
    ),
    (
        schedules.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales=((120, 30, 50), (0.5, 2.0, 0.1))),
        lambda t: 1.0 * (2.0 if t >= 30 else 1) * (0.1 if t >= 50 else 1) * (0.5 if t >= 120 else 1),
    ),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(
            init_value=0.0,
            peak_value=1.0,
            warmup_steps=20,
            decay_steps=100,
            end_value=0.1,
            decay_steps_include_warmup=False,
        ),
        lambda t: _keras_warmup_cosine(t, 0.0, 1.0, 20, 100, alpha=0.1),
    ),
    (
        schedules.cosine_decay_restarts,
        dict(init_value=0.5, first_decay_steps=10),
        lambda t: _keras_cosine_restarts(t, 0.5, 10, 2.0, 1.0, 0.0),
    ),
    (
        schedules.cosine_decay_restarts,
        dict(init_value=0.5, first_decay_steps=12, t_mul=1.5, m_mul=0.7, alpha=0.1),
        lambda t: _keras_cosine_restarts(t, 0.5, 12, 1.5, 0.7, 0.1),
    ),
    (
        schedules.cosine_decay_restarts,
        dict(init_value=0.5, first_decay_steps=25, t_mul=1.0, m_mul=0.9, alpha=0.2),
        lambda t: _keras_cosine_restarts(t, 0.5, 25, 1.0, 0.9, 0.2),
    ),
    (
        schedules.polynomial_schedule,
        dict(init_value=0.5, end_value=0.01, power=2.0, transition_steps=30, cycle=True),
        lambda t: _keras_polynomial(t, 0.5, 30, 0.01, 2.0, cycle=True),
    ),
    (
        schedules.polynomial_schedule,
        dict(init_value=0.5, end_value=1e-4, power=1.0, transition_steps=45, cycle=False),
        lambda t: _keras_polynomial(t, 0.5, 45, 1e-4, 1.0, cycle=False),
    ),
    (
        schedules.cosine_decay_schedule,
        dict(init_value=0.4, decay_steps=40, alpha=0.25, periodic=True),
        lambda t: _pytorch_cosine_annealing(t, 0.4, 40, eta_min=0.1),
    ),
]


@pytest.mark.parametrize(
    "factory, kwargs, formula",
    CLOSED_FORMS,
    ids=[f"{factory.__name__}-{i}" for i, (factory, _, _) in enumerate(CLOSED_FORMS)],
)
def test_closed_form(factory, kwargs, formula):
    _close(jax.jit(factory(**kwargs))(STEPS), [formula(int(t)) for t in STEPS])


@pytest.mark.parametrize(
    "T_0, T_mult, eta_min", [(10, 1, 0.0), (10, 2, 0.05), (7, 3, 0.0), (16, 2, 0.1)]
)
def test_cosine_decay_restarts_is_pytorch_warm_restarts(T_0, T_mult, eta_min):  # noqa: N803
    """PyTorch's CosineAnnealingWarmRestarts stepped every step, restarts included."""
    steps = np.arange(600)
    ours = schedules.cosine_decay_restarts(0.5, T_0, t_mul=T_mult, m_mul=1.0, alpha=eta_min / 0.5)
    _close(jax.jit(ours)(steps), _pytorch_warm_restarts(600, 0.5, T_0, T_mult, eta_min))


def test_cosine_restarts_land_on_their_boundaries():
    """Each cycle starts at its peak and ends just above the minimum, where the log rounds either way."""
    for first, t_mul in [(10, 2.0), (3, 2.0), (10, 3.0), (5, 10.0), (8, 1.5)]:
        schedule = jax.jit(schedules.cosine_decay_restarts(1.0, first, t_mul=t_mul, m_mul=0.5, alpha=0.1))
        start, length = 0.0, float(first)
        for cycle in range(6):
            peak = 0.1 + 0.9 * 0.5**cycle
            if float(start).is_integer():
                _close(schedule(int(start)), peak)
            _close(schedule(start + length / 2), 0.1 + 0.9 * 0.5**cycle / 2)
            assert float(schedule(start + length * 0.999)) < 0.1 + 1e-4
            start, length = start + length, length * t_mul


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize(
    "total_steps, kwargs",
    [
        (100, dict()),
        (150, dict(pct_start=0.25, div_factor=10.0, final_div_factor=100.0)),
        (37, dict(pct_start=0.4)),
    ],
)
def test_onecycle_pytorch_convention(total_steps, kwargs, three_phase):
    """OneCycleLR(anneal_strategy='cos') at every step of the cycle; held at the minimum after it."""
    ours = schedules.cosine_onecycle_schedule(
        total_steps, 0.5, **kwargs, three_phase=three_phase, convention="pytorch"
    )
    steps = np.arange(total_steps + 50)
    values = jax.jit(ours)(steps)
    expected = [_pytorch_onecycle(t, 0.5, total_steps, three_phase=three_phase, **kwargs)
                for t in range(total_steps)]
    _close(values[:total_steps], expected)
    _close(values[total_steps:], np.full(50, expected[-1]))  # PyTorch refuses these steps


def test_onecycle_conventions_and_phases():
    optax_style = schedules.cosine_onecycle_schedule(100, 1.0, pct_start=0.3)
    pytorch_style = schedules.cosine_onecycle_schedule(100, 1.0, pct_start=0.3, convention="pytorch")
    three = schedules.cosine_onecycle_schedule(100, 1.0, pct_start=0.3, three_phase=True)
    _close(optax_style(30), 1.0)
    _close(pytorch_style(29), 1.0)
    _close(optax_style(100), 4e-6)
    _close(pytorch_style(99), 4e-6)
    _close(three(30), 1.0)
    _close(three(60), 0.04)
    _close(three(100), 4e-6)
    assert float(pytorch_style(99)) < float(optax_style(99))


def test_cosine_periodic_differs_from_held_only_past_the_end():
    held = schedules.cosine_decay_schedule(1.0, 50, alpha=0.1)
    periodic = schedules.cosine_decay_schedule(1.0, 50, alpha=0.1, periodic=True)
    _close(periodic(np.arange(51)), held(np.arange(51)))
    _close(periodic(100), 1.0)
    _close(periodic(150), 0.1)
    _close(held(100), 0.1)


def test_polynomial_cycle_restarts_lower_each_time():
    schedule = schedules.polynomial_schedule(1.0, 0.0, 1.0, 10, cycle=True)
    _close(schedule(np.array([0, 10, 11, 20, 21, 30])), [1.0, 0.0, 0.45, 0.0, 0.3, 0.0])
    # Without cycle it is optax's polynomial_schedule (held at the end).
    _close(schedules.polynomial_schedule(1.0, 0.0, 1.0, 10)(np.array([10, 11, 20])), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("cosine_decay_restarts", {"first_decay_steps", "t_mul", "m_mul", "alpha"}),
        ("cosine_onecycle_schedule", {"transition_steps", "pct_start", "div_factor", "final_div_factor"}),
    ],
)
def test_new_schedules_can_be_named_and_swept(name, arguments):
    from jaxdl import train

    config = train.TrainConfig(schedule=name)
    keys = train.dynamic_keys(config)
    assert arguments <= set(keys)
    assert keys.get("t_mul", (1.0, None)) == (1.0, None)
    hparams = train.HParams.from_flat({"learning_rate": 0.1, **{a: 1.0 for a in arguments}}, config)
    assert set(hparams.schedule) == arguments


def test_piecewise_boundary_conventions():
    optax_style = schedules.piecewise_constant_schedule(1.0, {10: 0.5})
    keras_style = schedules.piecewise_constant_decay([10], [1.0, 0.5])
    np.testing.assert_allclose([optax_style(t) for t in (9, 10, 11)], [1.0, 0.5, 0.5])
    np.testing.assert_allclose([keras_style(t) for t in (9, 10, 11)], [1.0, 1.0, 0.5])


def test_power_with_unit_exponent_is_inverse_time_decay():
    power = schedules.power_schedule(0.3, decay_steps=40, power=1.0)
    inverse_time = schedules.inverse_time_decay(0.3, decay_steps=40, decay_rate=1.0)
    _close(power(STEPS), inverse_time(STEPS))


def test_warmup_conventions_differ_by_where_the_cosine_ends():
    inside = schedules.warmup_cosine_decay_schedule(0.0, 1.0, 20, 100, end_value=0.1)
    outside = schedules.warmup_cosine_decay_schedule(
        0.0, 1.0, 20, 100, end_value=0.1, decay_steps_include_warmup=False
    )
    _close(inside(100), 0.1)
    assert float(outside(100)) > 0.15
    _close(outside(120), 0.1)


# --------------------------------------------------------------------------
# Every numeric argument may be traced: one vmapped jit equals separate calls

VMAP_TABLE = [
    (schedules.constant_schedule, dict(value=0.3)),
    (
        schedules.exponential_decay,
        dict(init_value=0.5, transition_steps=10, decay_rate=0.8, transition_begin=6, end_value=0.05),
    ),
    (
        schedules.exponential_decay,
        dict(init_value=0.5, transition_steps=10, decay_rate=0.8, transition_begin=6, staircase=True),
    ),
    (schedules.inverse_time_decay, dict(init_value=0.5, decay_steps=20, decay_rate=0.5, staircase=True)),
    (schedules.power_schedule, dict(init_value=0.1, decay_steps=50, power=2.0)),
    (
        schedules.polynomial_schedule,
        dict(init_value=1.0, end_value=0.01, power=2.0, transition_steps=100, transition_begin=10),
    ),
    (
        schedules.linear_schedule,
        dict(init_value=1.0, end_value=0.01, transition_steps=100, transition_begin=10),
    ),
    (schedules.cosine_decay_schedule, dict(init_value=0.3, decay_steps=150, alpha=0.1, exponent=2.0)),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(init_value=0.01, peak_value=1.0, warmup_steps=20, decay_steps=150, end_value=0.05, exponent=1.5),
    ),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(
            init_value=0.01,
            peak_value=1.0,
            warmup_steps=20,
            decay_steps=100,
            decay_steps_include_warmup=False,
        ),
    ),
    (schedules.inverse_sqrt_schedule, dict(peak_value=1e-3, warmup_steps=40, timescale=60)),
    (
        schedules.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales=((30, 80), (0.5, 0.2))),
    ),
    (schedules.piecewise_constant_decay, dict(boundaries=(30, 80), values=(1.0, 0.5, 0.1))),
    (
        schedules.join_schedules,
        dict(
            schedules=(schedules.constant_schedule(0.1), schedules.linear_schedule(0.1, 1.0, 50)),
            boundaries=(40,),
        ),
    ),
    (schedules.epoch_inverse_time_decay, dict(init_value=0.2, decay_rate=0.5, steps_per_epoch=10)),
    (
        schedules.epoch_exponential_decay,
        dict(init_value=0.2, decay_rate=0.3, steps_per_epoch=10, staircase=False),
    ),
    (schedules.epoch_inverse_sqrt_decay, dict(init_value=0.2, scale=0.5, steps_per_epoch=10)),
    (schedules.step_decay, dict(init_value=0.4, epochs_per_drop=3, factor=0.5, steps_per_epoch=10)),
    (
        schedules.cosine_decay_restarts,
        dict(init_value=0.5, first_decay_steps=20, t_mul=2.0, m_mul=0.8, alpha=0.1),
    ),
    (
        schedules.cosine_onecycle_schedule,
        dict(transition_steps=150, peak_value=0.5, pct_start=0.3, div_factor=25.0, final_div_factor=1e4),
    ),
    (
        schedules.cosine_onecycle_schedule,
        dict(transition_steps=120, peak_value=0.5, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
             three_phase=True, convention="pytorch"),
    ),
    (
        schedules.polynomial_schedule,
        dict(init_value=1.0, end_value=0.01, power=2.0, transition_steps=30, transition_begin=10,
             cycle=True),
    ),
    (schedules.cosine_decay_schedule, dict(init_value=0.3, decay_steps=50, alpha=0.1, periodic=True)),
]


def _is_numeric(value):
    leaves = jax.tree.leaves(value)
    return bool(leaves) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in leaves)


def _scaled(value, multiplier):
    return jax.tree.map(lambda x: round(x * multiplier) if isinstance(x, int) else x * multiplier, value)


def _stack(*variants):
    return jnp.asarray(variants, dtype=jnp.int32 if isinstance(variants[0], int) else jnp.float32)


VMAP_CASES = [
    pytest.param(factory, kwargs, argument, id=f"{factory.__name__}-{i}-{argument}")
    for i, (factory, kwargs) in enumerate(VMAP_TABLE)
    for argument, value in kwargs.items()
    if _is_numeric(value)
]


@pytest.mark.parametrize("factory, kwargs, argument", VMAP_CASES)
def test_vmap_over_argument_matches_separate_calls(factory, kwargs, argument):
    variants = [_scaled(kwargs[argument], m) for m in (0.5, 1.0, 1.5)]
    batch = jax.tree.map(_stack, *variants)

    def values_for(value):
        return factory(**{**kwargs, argument: value})(STEPS)

    batched = jax.jit(jax.vmap(values_for))(batch)
    assert batched.shape == (3, STEPS.size)
    for row, variant in zip(batched, variants):
        _close(row, factory(**{**kwargs, argument: variant})(STEPS))
    # The variants must matter, or the comparison above proves little.
    assert not np.allclose(batched[0], batched[2])


def test_vmap_table_covers_every_schedule():
    assert {factory.__name__ for factory, _ in VMAP_TABLE} == set(schedules.names())


@pytest.mark.parametrize("factory, kwargs", VMAP_TABLE, ids=[f.__name__ for f, _ in VMAP_TABLE])
def test_scalar_and_array_steps_agree(factory, kwargs):
    schedule = factory(**kwargs)
    values = schedule(STEPS)
    assert values.shape == STEPS.shape
    assert jnp.issubdtype(values.dtype, jnp.floating)
    for step in (0, 37, 150):
        assert schedule(step).shape == ()
        _close(schedule(step), values[step])
        _close(schedule(jnp.int32(step)), values[step])


def test_one_compilation_for_many_hyperparameter_values():
    traces = []

    @jax.jit
    def rates(init_value, decay_rate, warmup_steps):
        traces.append(None)
        decay = schedules.exponential_decay(init_value, 10, decay_rate)
        warmup = schedules.warmup_cosine_decay_schedule(0.0, init_value, warmup_steps, 150)
        return decay(STEPS), warmup(STEPS)

    for init_value, decay_rate, warmup_steps in [(0.1, 0.5, 10), (0.2, 0.9, 20), (1.0, 0.99, 5)]:
        decay, warmup = rates(init_value, decay_rate, warmup_steps)
        _close(decay, optax.exponential_decay(init_value, 10, decay_rate)(jnp.asarray(STEPS)))
        reference = optax.warmup_cosine_decay_schedule(0.0, init_value, warmup_steps, 150)
        _close(warmup, reference(jnp.asarray(STEPS)))
    assert len(traces) == 1


def test_schedule_drives_an_optax_optimizer():
    schedule = schedules.warmup_cosine_decay_schedule(0.0, 0.5, 5, 30)
    optimizer = optax.sgd(schedule)
    params = jnp.zeros(3)
    state = optimizer.init(params)
    gradient = jnp.array([1.0, -2.0, 0.5])
    update = jax.jit(optimizer.update)
    for step in range(12):
        updates, state = update(gradient, state, params)
        _close(updates, -schedule(step) * gradient)


def test_traced_invalid_values_follow_the_documented_fallback():
    # Concrete zeros raise; traced ones cannot, and give the documented value.
    cosine = jax.jit(lambda steps: schedules.cosine_decay_schedule(1.0, steps, alpha=0.2)(5))
    _close(cosine(0), 0.2)
    decay = jax.jit(lambda steps: schedules.exponential_decay(1.0, steps, 0.5)(5))
    _close(decay(0), 1.0)
    linear = jax.jit(lambda steps: schedules.linear_schedule(1.0, 0.0, steps)(5))
    _close(linear(0), 1.0)


# --------------------------------------------------------------------------
# Validation of concrete values

BAD_VALUES = [
    (schedules.constant_schedule, dict(value=-1.0), "value"),
    (schedules.exponential_decay, dict(init_value=-0.1, transition_steps=10, decay_rate=0.5), "init_value"),
    (
        schedules.exponential_decay,
        dict(init_value=0.1, transition_steps=0, decay_rate=0.5),
        "transition_steps",
    ),
    (schedules.exponential_decay, dict(init_value=0.1, transition_steps=10, decay_rate=0.0), "decay_rate"),
    (
        schedules.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.5, transition_begin=-1),
        "transition_begin",
    ),
    (
        schedules.exponential_decay,
        dict(init_value=0.1, transition_steps=10, decay_rate=0.5, end_value=-1.0),
        "end_value",
    ),
    (schedules.inverse_time_decay, dict(init_value=0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
    (schedules.inverse_time_decay, dict(init_value=0.1, decay_steps=10, decay_rate=-0.5), "decay_rate"),
    (schedules.power_schedule, dict(init_value=0.1, decay_steps=-5), "decay_steps"),
    (
        schedules.polynomial_schedule,
        dict(init_value=1.0, end_value=0.0, power=2, transition_steps=-1),
        "transition_steps",
    ),
    (schedules.linear_schedule, dict(init_value=1.0, end_value=-0.5, transition_steps=10), "end_value"),
    (
        schedules.linear_schedule,
        dict(init_value=1.0, end_value=0.0, transition_steps=10, transition_begin=-3),
        "transition_begin",
    ),
    (schedules.cosine_decay_schedule, dict(init_value=1.0, decay_steps=0), "decay_steps"),
    (schedules.cosine_decay_schedule, dict(init_value=1.0, decay_steps=10, alpha=-0.1), "alpha"),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=20, decay_steps=20),
        "decay_steps",
    ),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(
            init_value=0.0,
            peak_value=1.0,
            warmup_steps=20,
            decay_steps=0,
            decay_steps_include_warmup=False,
        ),
        "decay_steps",
    ),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=-1.0, warmup_steps=2, decay_steps=20),
        "peak_value",
    ),
    (
        schedules.warmup_cosine_decay_schedule,
        dict(init_value=0.0, peak_value=1.0, warmup_steps=-2, decay_steps=20),
        "warmup_steps",
    ),
    (schedules.inverse_sqrt_schedule, dict(peak_value=1e-3, warmup_steps=10, timescale=0), "timescale"),
    (schedules.inverse_sqrt_schedule, dict(peak_value=1e-3, warmup_steps=-1), "warmup_steps"),
    (
        schedules.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales={10: -0.5}),
        "boundaries_and_scales",
    ),
    (
        schedules.piecewise_constant_schedule,
        dict(init_value=1.0, boundaries_and_scales=((10, 20), (0.5,))),
        "boundaries_and_scales",
    ),
    (schedules.piecewise_constant_decay, dict(boundaries=[50, 20], values=[1.0, 0.5, 0.1]), "boundaries"),
    (schedules.piecewise_constant_decay, dict(boundaries=[20, 50], values=[1.0, 0.5]), "values"),
    (schedules.piecewise_constant_decay, dict(boundaries=[20], values=[1.0, -0.5]), "values"),
    (
        schedules.join_schedules,
        dict(schedules=[schedules.constant_schedule(1.0)], boundaries=[10]),
        "boundaries",
    ),
    (
        schedules.epoch_inverse_time_decay,
        dict(init_value=0.1, decay_rate=1.0, steps_per_epoch=0),
        "steps_per_epoch",
    ),
    (schedules.epoch_exponential_decay, dict(init_value=0.1, decay_rate=-0.1), "decay_rate"),
    (schedules.epoch_inverse_sqrt_decay, dict(init_value=0.1, scale=-1.0), "scale"),
    (schedules.step_decay, dict(init_value=0.1, epochs_per_drop=0), "epochs_per_drop"),
    (schedules.step_decay, dict(init_value=0.1, epochs_per_drop=3, factor=-0.5), "factor"),
    (schedules.step_decay, dict(init_value=0.1, epochs_per_drop=3, steps_per_epoch=-1), "steps_per_epoch"),
    (schedules.plateau_init, dict(learning_rate=-0.1), "learning_rate"),
    (schedules.cosine_decay_restarts, dict(init_value=1.0, first_decay_steps=0), "first_decay_steps"),
    (schedules.cosine_decay_restarts, dict(init_value=1.0, first_decay_steps=10, t_mul=0.5), "t_mul"),
    (schedules.cosine_decay_restarts, dict(init_value=1.0, first_decay_steps=10, m_mul=-1.0), "m_mul"),
    (schedules.cosine_decay_restarts, dict(init_value=1.0, first_decay_steps=10, alpha=-0.1), "alpha"),
    (schedules.cosine_onecycle_schedule, dict(transition_steps=0, peak_value=1.0), "transition_steps"),
    (schedules.cosine_onecycle_schedule, dict(transition_steps=10, peak_value=-1.0), "peak_value"),
    (schedules.cosine_onecycle_schedule, dict(transition_steps=10, peak_value=1, pct_start=1.5), "pct_start"),
    (
        schedules.cosine_onecycle_schedule,
        dict(transition_steps=10, peak_value=1.0, pct_start=0.6, three_phase=True),
        "pct_start",
    ),
    (schedules.cosine_onecycle_schedule, dict(transition_steps=10, peak_value=1, div_factor=0), "div_factor"),
    (
        schedules.cosine_onecycle_schedule,
        dict(transition_steps=10, peak_value=1.0, final_div_factor=-1.0),
        "final_div_factor",
    ),
    (
        schedules.cosine_onecycle_schedule,
        dict(transition_steps=10, peak_value=1.0, convention="keras"),
        "convention",
    ),
]


@pytest.mark.parametrize(
    "factory, kwargs, argument",
    BAD_VALUES,
    ids=[f"{factory.__name__}-{argument}-{i}" for i, (factory, _, argument) in enumerate(BAD_VALUES)],
)
def test_bad_concrete_value_raises_naming_the_argument(factory, kwargs, argument):
    with pytest.raises(ValueError, match=rf"\b{re.escape(argument)}\b"):
        factory(**kwargs)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(factor=1.0), "factor"),
        (dict(factor=-0.1), "factor"),
        (dict(patience=-1), "patience"),
        (dict(min_delta=-1e-3), "min_delta"),
        (dict(cooldown=-2), "cooldown"),
        (dict(min_lr=-1e-3), "min_lr"),
        (dict(mode="sideways"), "mode"),
        (dict(threshold_mode="percent"), "threshold_mode"),
        (dict(convention="tensorflow"), "convention"),
    ],
)
def test_bad_plateau_argument_raises(kwargs, argument):
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        schedules.plateau_update(schedules.plateau_init(0.1), 1.0, **kwargs)


# --------------------------------------------------------------------------
# Lookup by name


def test_get_returns_each_factory_by_name():
    assert len(schedules.names()) >= 16
    for name in schedules.names():
        assert schedules.get(name) is getattr(schedules, name)
        assert name in schedules.__all__
    assert schedules.get("cosine_decay_schedule")(init_value=1.0, decay_steps=10)(10) == 0.0


def test_get_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown schedule 'cosine'") as error:
        schedules.get("cosine")
    for name in schedules.names():
        assert name in str(error.value)


def test_get_passes_callables_through_and_rejects_other_types():
    assert schedules.get(schedules.step_decay) is schedules.step_decay
    with pytest.raises(TypeError):
        schedules.get(3)


def test_all_names_exist():
    for name in schedules.__all__:
        assert hasattr(schedules, name), name


def test_docstring_examples_run():
    import doctest

    assert doctest.testmod(schedules).failed == 0


# --------------------------------------------------------------------------
# Reduce on plateau against hand simulations of Keras and PyTorch


def _improves(metric, best, min_delta, mode, threshold_mode):
    if mode == "min":
        return metric < (best - min_delta if threshold_mode == "abs" else best * (1 - min_delta))
    return metric > (best + min_delta if threshold_mode == "abs" else best * (1 + min_delta))


def _keras_reference(
    metrics, learning_rate, factor, patience, min_delta, cooldown, min_lr, mode, threshold_mode
):
    best = math.inf if mode == "min" else -math.inf
    wait = cooldown_counter = 0
    rates = []
    for metric in metrics:
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if _improves(metric, best, min_delta, mode, threshold_mode):
            best, wait = metric, 0
        elif cooldown_counter == 0:
            wait += 1
            if wait >= patience and learning_rate > min_lr:
                learning_rate = max(learning_rate * factor, min_lr)
                cooldown_counter, wait = cooldown, 0
        rates.append(learning_rate)
    return rates


def _pytorch_reference(
    metrics, learning_rate, factor, patience, min_delta, cooldown, min_lr, mode, threshold_mode
):
    best = math.inf if mode == "min" else -math.inf
    bad_epochs = cooldown_counter = 0
    rates = []
    for metric in metrics:
        if _improves(metric, best, min_delta, mode, threshold_mode):
            best, bad_epochs = metric, 0
        else:
            bad_epochs += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad_epochs = 0
        if bad_epochs > patience:
            reduced = max(learning_rate * factor, min_lr)
            if learning_rate - reduced > 1e-8:
                learning_rate = reduced
            cooldown_counter, bad_epochs = cooldown, 0
        rates.append(learning_rate)
    return rates


REFERENCES = {"keras": _keras_reference, "pytorch": _pytorch_reference}


def _losses():
    rng = np.random.default_rng(0)
    trend = np.concatenate(
        [np.linspace(1.0, 0.6, 8), np.full(12, 0.6), np.linspace(0.6, 0.5, 6), np.full(30, 0.5)]
    )
    return (trend + rng.normal(0.0, 3e-3, trend.shape)).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("mode", "threshold_mode", "convention"))
def _plateau_rates(
    metrics, learning_rate, factor, patience, min_delta, cooldown, min_lr, *, mode, threshold_mode, convention
):
    def epoch(state, metric):
        state = schedules.plateau_update(
            state,
            metric,
            factor=factor,
            patience=patience,
            min_delta=min_delta,
            cooldown=cooldown,
            min_lr=min_lr,
            mode=mode,
            threshold_mode=threshold_mode,
            convention=convention,
        )
        return state, state.learning_rate

    _, rates = jax.lax.scan(epoch, schedules.plateau_init(learning_rate), metrics)
    return rates


PLATEAU_SETTINGS = [
    dict(learning_rate=0.1, factor=0.5, patience=3, min_delta=1e-4, cooldown=0, min_lr=0.0),
    dict(learning_rate=0.1, factor=0.5, patience=2, min_delta=5e-3, cooldown=2, min_lr=0.05),
    dict(learning_rate=0.1, factor=0.1, patience=0, min_delta=0.0, cooldown=1, min_lr=0.0),
    dict(learning_rate=0.1, factor=0.3, patience=5, min_delta=1e-3, cooldown=3, min_lr=1e-3),
]


@pytest.mark.parametrize("convention", ["keras", "pytorch"])
@pytest.mark.parametrize("threshold_mode", ["abs", "rel"])
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize(
    "setting", PLATEAU_SETTINGS, ids=[f"setting{i}" for i in range(len(PLATEAU_SETTINGS))]
)
def test_plateau_matches_reference(setting, mode, threshold_mode, convention):
    metrics = _losses() if mode == "min" else 1.0 - _losses()
    rates = _plateau_rates(
        metrics, **setting, mode=mode, threshold_mode=threshold_mode, convention=convention
    )
    expected = REFERENCES[convention](
        [float(m) for m in metrics], **setting, mode=mode, threshold_mode=threshold_mode
    )
    _close(rates, expected)


def test_plateau_conventions_differ_on_the_fixed_sequence():
    metrics = _losses()
    setting = PLATEAU_SETTINGS[0]
    keras = _plateau_rates(metrics, **setting, mode="min", threshold_mode=None, convention="keras")
    pytorch = _plateau_rates(metrics, **setting, mode="min", threshold_mode=None, convention="pytorch")
    assert len(set(np.asarray(keras).tolist())) >= 3
    assert not np.allclose(keras, pytorch)


def test_plateau_hand_computed():
    """Flat loss, patience 2: Keras reduces on the 3rd epoch, PyTorch on the 4th."""
    flat = jnp.ones(6)
    common = dict(
        factor=0.1, patience=2, min_delta=1e-4, cooldown=0, min_lr=0.0, mode="min", threshold_mode=None
    )
    keras = _plateau_rates(flat, 1.0, **common, convention="keras")
    pytorch = _plateau_rates(flat, 1.0, **common, convention="pytorch")
    _close(keras, [1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    _close(pytorch, [1.0, 1.0, 1.0, 0.1, 0.1, 0.1])


def test_plateau_nan_never_improves():
    state = schedules.plateau_update(schedules.plateau_init(1.0), jnp.nan, patience=0)
    assert int(state.wait) == 0 and float(state.learning_rate) == pytest.approx(0.1)
    assert np.isnan(state.best)
    state = schedules.plateau_update(state, 0.5)
    assert float(state.best) == 0.5 and int(state.wait) == 0


@pytest.mark.parametrize("convention", ["keras", "pytorch"])
@pytest.mark.parametrize(
    "argument, values",
    [
        ("learning_rate", (0.1, 0.02, 1.0)),
        ("factor", (0.1, 0.5, 0.3)),
        ("patience", (0, 2, 5)),
        ("min_delta", (0.0, 1e-3, 5e-3)),
        ("cooldown", (0, 1, 3)),
        ("min_lr", (0.0, 0.01, 0.05)),
    ],
)
def test_plateau_vmap_over_argument(argument, values, convention):
    metrics = _losses()
    base = dict(learning_rate=0.1, factor=0.5, patience=2, min_delta=1e-3, cooldown=1, min_lr=1e-3)

    def rates_for(value):
        return _plateau_rates(
            metrics, **{**base, argument: value}, mode="min", threshold_mode=None, convention=convention
        )

    batched = jax.jit(jax.vmap(rates_for))(_stack(*values))
    threshold_mode = "abs" if convention == "keras" else "rel"
    expected = [
        REFERENCES[convention](
            [float(m) for m in metrics],
            **{**base, argument: value},
            mode="min",
            threshold_mode=threshold_mode,
        )
        for value in values
    ]
    assert len({tuple(row) for row in expected}) > 1
    for row, reference in zip(batched, expected):
        _close(row, reference)
