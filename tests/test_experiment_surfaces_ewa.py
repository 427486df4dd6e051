"""The optimizer-surfaces and EWA experiments: quick runs, their outputs, and the numbers they rest on."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import ewa, optimizer_surfaces as surfaces_experiment
from experiments.optimizer_surfaces import CONTENDERS, SURFACES

MAX_PNG_BYTES = 300_000


@pytest.fixture(scope="module")
def surfaces_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("optimizer_surfaces"))
    return surfaces_experiment.main(["--quick", "--out", out])


@pytest.fixture(scope="module")
def ewa_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ewa"))
    return ewa.main(["--quick", "--out", out])


def _load(out, name):
    with open(os.path.join(out, f"{name}.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# Surfaces


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_minimum_is_a_stationary_zero(name):
    surface = SURFACES[name]
    minimum = jnp.asarray(surface.minimum)
    assert float(surface.loss(minimum)) == 0.0
    np.testing.assert_allclose(jax.grad(surface.loss)(minimum), 0.0, atol=1e-6)
    assert float(surface.loss(jnp.asarray(surface.start))) > 1e3 * surface.target_loss


def test_surface_values_by_hand():
    assert float(SURFACES["quadratic"].loss(jnp.array([-10.0, 1.0]))) == pytest.approx(100.0)
    # (1 + 1.2)^2 + 100 (1 - 1.44)^2 = 4.84 + 19.36
    assert float(SURFACES["rosenbrock"].loss(jnp.array([-1.2, 1.0]))) == pytest.approx(24.2, rel=1e-6)


def test_grid_matches_gradient_descent_in_closed_form():
    # On f = (x^2 + 100 y^2) / 2, GD gives x_t = x_0 (1 - lr)^t and y_t = y_0 (1 - 100 lr)^t.
    quad = SURFACES["quadratic"]._replace(max_steps=50)
    rates = np.array([0.001, 0.005, 0.015])
    start = np.asarray([quad.start], np.float32)
    path, losses = surfaces_experiment.run_grid(CONTENDERS["gd"], [quad], rates, [start])
    t = np.arange(1, 51)
    for r, rate in enumerate(rates):
        expected_x = quad.start[0] * (1 - rate) ** t
        expected_y = quad.start[1] * (1 - 100 * rate) ** t
        np.testing.assert_allclose(path[0, r, 0, :, 0], expected_x, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(path[0, r, 0, :, 1], expected_y, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(losses[0, r, 0], 0.5 * (expected_x**2 + 100 * expected_y**2), rtol=1e-4)


def test_steps_to_target_counts_from_the_last_entry():
    losses = np.array([
        [5.0, 2.0, 0.5, 0.4, 0.3],  # reaches 1.0 at step 3 and stays
        [5.0, 0.5, 3.0, 0.5, 0.4],  # dips at step 2, bounces, settles from step 4
        [5.0, 0.5, 0.5, 0.5, 3.0],  # above at the cap: not reached
        [0.5, 0.5, np.nan, 0.5, 0.5],  # a NaN counts as above
    ])
    np.testing.assert_array_equal(surfaces_experiment.steps_to_target(losses, 1.0), [3, 4, -1, 4])
    np.testing.assert_array_equal(surfaces_experiment.first_hit(losses, 1.0), [3, 2, 2, 1])


def test_best_rate_prefers_steps_then_final_loss():
    steps = np.array([-1, 40, 30, 30])
    final = np.array([1e-9, 1e-7, 1e-8, 1e-10])
    assert surfaces_experiment.best_rate_index(steps, final) == 3
    assert surfaces_experiment.best_rate_index(np.array([-1, -1]), np.array([0.3, 0.1])) == 1


def test_oscillation_measures_by_hand():
    start = np.array([0.0, 1.0])
    path = np.array([[1.0, -1.0], [2.0, 1.0], [3.0, -1.0], [4.0, -1.0]])
    deltas = surfaces_experiment.step_deltas(start, path)
    np.testing.assert_array_equal(deltas[:, 1], [-2.0, 2.0, -2.0, 0.0])
    assert surfaces_experiment.sign_changes(deltas, axis=1) == 2
    straight = np.array([[1.0, 0.0]] * 4)
    assert surfaces_experiment.path_ratio(straight) == pytest.approx(1.0)
    assert surfaces_experiment.path_ratio(deltas) == pytest.approx(
        (3 * math.sqrt(5) + 1) / math.hypot(4, 2))
    assert surfaces_experiment.steep_travel(deltas, start, (0.0, 0.0), axis=1) == pytest.approx(6.0)


def test_surfaces_quick_writes_its_outputs(surfaces_run):
    out = surfaces_run["out"]
    name = surfaces_experiment.NAME
    for suffix in ("", "_oscillation"):
        for extension in ("md", "json", "png"):
            path = os.path.join(out, f"{name}{suffix}.{extension}")
            assert os.path.getsize(path) > 0, path
        assert os.path.getsize(os.path.join(out, f"{name}{suffix}.png")) < MAX_PNG_BYTES
    table = _load(out, name)
    assert len(table["rows"]) == len(surfaces_experiment.QUICK_CONTENDERS)
    assert "deterministic" in table["finding"]
    with open(os.path.join(out, f"{name}.md")) as f:
        assert f.read().startswith("# ")


def test_surfaces_quick_numbers_are_sane(surfaces_run):
    results = surfaces_run["results"]
    quad, rosen = SURFACES["quadratic"], SURFACES["rosenbrock"]
    for name, result in results.items():
        for surface in (quad, rosen):
            entry = result["surfaces"][surface.name]
            low, high = CONTENDERS[name].rates
            assert low * (1 - 1e-6) <= entry["learning_rate"] <= high * (1 + 1e-6)
            assert math.isfinite(entry["final_loss"])
    # Momentum and Nesterov reach the quadratic's target within the quick cap.
    for name in ("momentum", "nesterov"):
        steps = results[name]["surfaces"][quad.name]["steps"]
        assert 0 < steps <= 600
        assert results[name]["surfaces"][quad.name]["final_loss"] <= quad.target_loss


def test_momentum_damps_the_zigzag_at_the_same_rate(surfaces_run):
    results, quad = surfaces_run["results"], SURFACES["quadratic"]
    gd = results["gd"]["surfaces"][quad.name]
    assert gd["learning_rate"] > 1 / surfaces_experiment.CONDITION_NUMBER  # GD's y-step overshoots
    at_gd_rate = {n: results[n]["surfaces"][quad.name]["per_rate"][gd["best_index"]]
                  for n in surfaces_experiment.SAME_RATE}
    assert at_gd_rate["gd"]["sign_changes_window"] >= surfaces_experiment.OSCILLATION_WINDOW / 2
    assert at_gd_rate["momentum"]["sign_changes_window"] < at_gd_rate["gd"]["sign_changes_window"] / 2
    # Near GD's stability limit the zig-zag lasts, and momentum also shortens the travel across the valley.
    zigzag = _load(surfaces_run["out"], f"{surfaces_experiment.NAME}_oscillation")["zigzag"]
    assert zigzag["momentum"]["sign_changes_window"] < zigzag["gd"]["sign_changes_window"]
    assert zigzag["momentum"]["steep_travel_window"] < zigzag["gd"]["steep_travel_window"]
    # A grid rate below 1 / curvature: GD's y approaches without a single reversal.
    small = [entry for entry in gd["per_rate"]
             if entry["learning_rate"] < 1 / surfaces_experiment.CONDITION_NUMBER]
    assert small and all(entry["sign_changes_window"] == 0 for entry in small)


def test_surfaces_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        surfaces_experiment.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# EWA


def test_ewa_quick_writes_its_outputs(ewa_run):
    out = ewa_run["out"]
    for extension in ("md", "json", "png"):
        assert os.path.getsize(os.path.join(out, f"{ewa.NAME}.{extension}")) > 0
    assert os.path.getsize(os.path.join(out, f"{ewa.NAME}.png")) < MAX_PNG_BYTES
    table = _load(out, ewa.NAME)
    assert [row["beta"] for row in table["rows"]] == list(ewa.BETAS)


def test_ewa_first_day(ewa_run):
    check = ewa_run["first_day"]
    theta = check["data"]
    for beta in ewa.BETAS:
        # Corrected: (1 - b) theta / (1 - b^1), the first reading up to float32 rounding.
        assert check["corrected"][str(beta)] == pytest.approx(theta, rel=2e-6)
        assert check["uncorrected"][str(beta)] == pytest.approx((1 - beta) * theta, rel=2e-6)
    assert check["uncorrected"]["0.98"] < 0.05 * theta


def test_ewa_lags_and_errors(ewa_run):
    measured = ewa_run["measured"]
    lags = [float(np.mean(measured[beta]["lags"])) for beta in ewa.BETAS]
    assert lags == sorted(lags)
    for beta, lag in zip(ewa.BETAS, lags):
        assert abs(lag - ewa.sine_delay(beta)) < 1.5, (beta, lag)
    assert ewa.theoretical_lag(0.98) == pytest.approx(49.0)
    assert ewa.sine_delay(0.98) == pytest.approx(40.5, abs=0.1)
    assert ewa.sine_delay(0.5) == pytest.approx(ewa.theoretical_lag(0.5), abs=0.01)
    for beta in (0.9, 0.98):
        uncorrected = np.mean(measured[beta]["rmse_first_uncorrected"])
        assert uncorrected > 3 * np.mean(measured[beta]["rmse_first_corrected"])


def test_peak_shift_finds_a_known_delay():
    clean = ewa.seasonal_temperature(3 * ewa.DAYS_PER_YEAR)
    delayed = np.roll(clean, 7)  # exactly 7 days late (the wrap-around lies in the skipped start)
    curve = ewa.correlation_by_shift(delayed, clean, start=60, max_shift=30)
    assert ewa.peak_shift(curve) == pytest.approx(7.0, abs=1e-3)


def test_ewa_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        ewa.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out
