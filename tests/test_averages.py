"""Exponentially weighted averages: the lecture's numbers, windows, pytrees, jit and vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.averages import (
    DEBIAS_FORMULAS,
    EWAState,
    debias,
    debias_factor,
    effective_window,
    ewa_init,
    ewa_step,
    ewa_update,
    ewa_value,
    smooth,
)

THETA_1, THETA_2 = 7.0, 11.0


def test_lecture_first_two_steps_beta_098():
    """Ng's worked example with beta = 0.98 and v_0 = 0 (float64, so the decimals are exact)."""
    with jax.enable_x64(True):
        state = ewa_init(jnp.zeros((), jnp.float64))
        state = ewa_update(jnp.float64(THETA_1), state, 0.98)
        np.testing.assert_allclose(state.average, 0.02 * THETA_1, rtol=1e-12)
        np.testing.assert_allclose(ewa_value(state, 0.98), THETA_1, rtol=1e-12)
        state = ewa_update(jnp.float64(THETA_2), state, 0.98)
        uncorrected = 0.0196 * THETA_1 + 0.02 * THETA_2
        np.testing.assert_allclose(state.average, uncorrected, rtol=1e-12)
        np.testing.assert_allclose(ewa_value(state, 0.98), uncorrected / 0.0396, rtol=1e-12)
        np.testing.assert_allclose(
            ewa_value(state, 0.98, bias_correction=False), uncorrected, rtol=1e-12
        )
        assert int(state.count) == 2


def test_smooth_matches_lecture_numbers():
    with jax.enable_x64(True):
        series = jnp.array([THETA_1, THETA_2], jnp.float64)
        np.testing.assert_allclose(
            smooth(series, 0.98),
            [THETA_1, (0.0196 * THETA_1 + 0.02 * THETA_2) / 0.0396],
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            smooth(series, 0.98, bias_correction=False),
            [0.02 * THETA_1, 0.0196 * THETA_1 + 0.02 * THETA_2],
            rtol=1e-12,
        )
    # In float32 the same numbers hold to float32 precision.
    np.testing.assert_allclose(
        smooth(jnp.array([THETA_1, THETA_2]), 0.98),
        [THETA_1, (0.0196 * THETA_1 + 0.02 * THETA_2) / 0.0396],
        rtol=2e-6,
    )


@pytest.mark.parametrize("decay, window", [(0.5, 2), (0.9, 10), (0.98, 50)])
def test_effective_window(decay, window):
    """The newest N = 1/(1 - beta) inputs carry weight 1 - beta^N of the average.

    The weights are read off the implementation itself: the last output of
    ``smooth`` is linear in the series, so its Jacobian is the weight vector.
    beta^N -> 1/e as beta -> 1, with error about (1 - beta) / (2e); we demand
    it within (1 - beta) / 4 for 0.9 and 0.98 (for 0.5, beta^2 = 0.25).
    """
    assert effective_window(decay) == pytest.approx(window)
    length = 4 * window
    with jax.enable_x64(True):
        series = jnp.zeros(length, jnp.float64)
        weights = jax.jacobian(lambda s: smooth(s, decay, bias_correction=False)[-1])(series)
        weights = np.asarray(weights)[::-1]  # weights[k] belongs to the input k steps back
    np.testing.assert_allclose(weights, (1 - decay) * decay ** np.arange(length), rtol=1e-12)
    np.testing.assert_allclose(weights[:window].sum(), 1 - decay**window, rtol=1e-12)
    np.testing.assert_allclose(weights.sum(), 1 - decay**length, rtol=1e-12)
    if decay >= 0.9:
        assert abs(decay**window - math.exp(-1)) <= (1 - decay) / 4
    else:
        assert weights[:window].sum() == pytest.approx(0.75)


@pytest.mark.parametrize("decay", [0.5, 0.9, 0.98, 0.999, 0.9999])
def test_constant_series_is_recovered_from_the_first_step(decay):
    """Bias correction returns a constant input unchanged from step 1.

    In float64 this holds to rounding. In float32 the weights use 1 - decay
    formed in float64 and the float32-rounded decay (as optax does), and the
    correction divides by the sum of exactly those weights: step t is off by
    the recurrence's own rounding only, which grows by at most about an ulp
    a step. optax's float32 1 - decay**t ("power") is off by up to one ulp
    of decay over 1 - decay from the first step (1.7e-4 for 0.9999).
    """
    with jax.enable_x64(True):
        series = jnp.full((300,), 3.25, jnp.float64)
        np.testing.assert_allclose(smooth(series, decay), series, rtol=1e-12)
    series = jnp.full((300,), 3.25, jnp.float32)
    ulp = float(np.finfo(np.float32).eps)
    bound = (4 + np.arange(1, 301)) * ulp
    assert np.all(np.abs(np.asarray(smooth(series, decay)) / 3.25 - 1) <= bound)
    power = np.asarray(smooth(series, decay, debias_formula="power"))
    assert np.all(np.abs(power / 3.25 - 1)[:10] > bound[:10]) == (decay >= 0.999)
    raw = smooth(series, decay, bias_correction=False)
    np.testing.assert_allclose(raw[0], (1 - decay) * 3.25, rtol=1e-6)
    assert float(raw[0]) < 3.25  # the bias the correction removes


def test_debias_factor_is_the_sum_of_the_weights():
    """The weights float32 gives, c b^k with c = fl(1 - beta), b = fl(beta), summed in float64.

    The power formula loses digits near beta = 1: relative 1e-5 and more.
    """
    t = np.arange(1, 2001, dtype=np.float64)
    for decay in (0.9, 0.999, 0.9999, 0.99999):
        c, b = float(np.float32(1 - decay)), float(np.float32(decay))
        weights = c * (1 - b**t) / (1 - b)
        exact = debias_factor(decay, jnp.asarray(t, jnp.int32))
        np.testing.assert_allclose(exact, weights, rtol=5e-7)
        power = np.asarray(debias_factor(decay, jnp.asarray(t, jnp.int32), formula="power"), np.float64)
        assert np.max(np.abs(power / weights - 1)) > (1e-5 if decay >= 0.999 else 0)
    with jax.enable_x64(True):
        np.testing.assert_allclose(debias_factor(0.9999, jnp.asarray(t)), 1 - 0.9999**t, rtol=1e-12)
    with pytest.raises(ValueError, match="formula"):
        debias_factor(0.9, 1, formula="optax")
    assert DEBIAS_FORMULAS == ("exact", "power")


def test_docstring_examples_run():
    import doctest

    from jaxdl import averages

    assert doctest.testmod(averages).failed == 0


def test_smooth_matches_a_numpy_loop():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(200, 3)).astype(np.float32)
    decay = 0.9
    v = np.zeros(3)
    expected, expected_raw = [], []
    for t, theta in enumerate(series.astype(np.float64), start=1):
        v = decay * v + (1 - decay) * theta
        expected_raw.append(v.copy())
        expected.append(v / (1 - decay**t))
    np.testing.assert_allclose(smooth(jnp.asarray(series), decay), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        smooth(jnp.asarray(series), decay, bias_correction=False),
        expected_raw,
        rtol=1e-5,
        atol=1e-6,
    )


def test_accumulate_form():
    """v = beta v + theta: steady state theta / (1 - beta), reached from step 1 when debiased."""
    series = jnp.ones(200, jnp.float32)
    raw = smooth(series, 0.9, bias_correction=False, accumulate=True)
    np.testing.assert_allclose(raw[:3], [1.0, 1.9, 2.71], rtol=1e-6)
    np.testing.assert_allclose(raw[-1], 10.0, rtol=1e-5)
    np.testing.assert_allclose(smooth(series, 0.9, accumulate=True), jnp.full(200, 10.0), rtol=2e-6)
    ones = smooth(jnp.ones(100, jnp.float32), 0.999, accumulate=True)  # 1 / (1 - 0.999) from step 1
    np.testing.assert_allclose(ones, jnp.full(100, 1000.0), rtol=1e-6)
    accumulated = ewa_step(jnp.array([2.0]), jnp.array([5.0]), 0.5, accumulate=True)
    np.testing.assert_allclose(accumulated, [6.0])


def test_nonzero_initial_value():
    out = smooth(jnp.array([1.0, 1.0]), 0.5, bias_correction=False, initial_value=3.0)
    np.testing.assert_allclose(out, [2.0, 1.5])


def test_pytrees():
    rng = np.random.default_rng(1)
    series = {"a": jnp.asarray(rng.normal(size=(50, 2, 3)), jnp.float32), "b": [jnp.arange(50.0)]}
    smoothed = smooth(series, 0.8)
    assert jax.tree.structure(smoothed) == jax.tree.structure(series)
    np.testing.assert_allclose(smoothed["a"], smooth(series["a"], 0.8), rtol=1e-6)
    np.testing.assert_allclose(smoothed["b"][0], smooth(series["b"][0], 0.8), rtol=1e-6)

    tree = {"w": jnp.ones((2, 2)), "b": jnp.zeros(3)}
    state = ewa_init(tree)
    assert isinstance(state, EWAState)
    assert int(state.count) == 0
    value = {"w": jnp.full((2, 2), 4.0), "b": jnp.full(3, -2.0)}
    state = ewa_update(value, state, 0.75)
    np.testing.assert_allclose(state.average["w"], jnp.full((2, 2), 1.0))
    np.testing.assert_allclose(ewa_value(state, 0.75)["b"], jnp.full(3, -2.0), rtol=1e-6)
    np.testing.assert_allclose(debias(state.average, 0.75, 1)["w"], jnp.full((2, 2), 4.0), rtol=1e-6)


def test_value_before_any_update_is_the_initial_value():
    state = ewa_init(jnp.zeros(2), initial_value=0.5)
    value = ewa_value(state, 0.9)
    assert np.all(np.isfinite(value))
    np.testing.assert_allclose(value, [0.5, 0.5])


def test_jit_and_vmap_over_decay_compile_once():
    rng = np.random.default_rng(2)
    series = jnp.asarray(rng.normal(size=100), jnp.float32)
    decays = jnp.array([0.5, 0.9, 0.98])
    batched = jax.jit(jax.vmap(smooth, in_axes=(None, 0)))
    out = batched(series, decays)
    batched(series, decays * 0.99)
    assert batched._cache_size() == 1
    single = jax.jit(smooth)
    for row, decay in zip(out, decays):
        np.testing.assert_allclose(row, single(series, decay), rtol=1e-6, atol=1e-7)
    assert single._cache_size() == 1
    update = jax.jit(ewa_update)
    state = ewa_init(series[0])
    for theta in series[:5]:
        state = update(theta, state, jnp.float32(0.9))
    assert update._cache_size() == 1
    np.testing.assert_allclose(ewa_value(state, 0.9), single(series, 0.9)[4], rtol=1e-6)
