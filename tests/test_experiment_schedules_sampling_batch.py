"""The schedules, learning-rate sampling and batch-size experiments: quick runs, outputs and sane numbers."""

import itertools
import json
import math
import os

import numpy as np
import pytest

from experiments import batch_size, lr_sampling
from experiments import schedules as schedules_experiment
from jaxdl import schedules


MAX_PNG_BYTES = 300 * 1024


def _run(module, tmp_path_factory):
    out = str(tmp_path_factory.mktemp(module.NAME))
    return module.main(["--quick", "--out", out])


def _table(out, name):
    with open(os.path.join(out, f"{name}.json")) as f:
        payload = json.load(f)
    with open(os.path.join(out, f"{name}.md")) as f:
        markdown = f.read()
    return payload, markdown


def _check_png(path):
    assert os.path.getsize(path) < MAX_PNG_BYTES
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def schedules_run(tmp_path_factory):
    return _run(schedules_experiment, tmp_path_factory)


@pytest.fixture(scope="module")
def sampling_run(tmp_path_factory):
    return _run(lr_sampling, tmp_path_factory)


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    return _run(batch_size, tmp_path_factory)


@pytest.mark.parametrize("module", [schedules_experiment, lr_sampling, batch_size])
def test_help_exits_cleanly(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Question 4: schedules


def test_every_schedule_is_drawn_with_peak_one():
    names = schedules.names()
    curves = schedules_experiment.relative_rates(names, steps=33, epochs=20)
    assert set(curves) == set(names)
    for name, curve in curves.items():
        assert curve.shape == (660,)
        assert np.all(np.isfinite(curve)) and curve.min() >= 0.0, name
        np.testing.assert_allclose(curve.max(), 1.0, rtol=1e-6, err_msg=name)
    # Closed forms of a few settings at the last step of the run (t = 659 of T = 660).
    np.testing.assert_allclose(curves["constant_schedule"], 1.0)
    np.testing.assert_allclose(curves["linear_schedule"][-1], 1 / 660, atol=1e-6)  # float32: 1 - 659/660
    np.testing.assert_allclose(curves["step_decay"][-1], 0.5**3, rtol=1e-6)
    np.testing.assert_allclose(curves["epoch_inverse_time_decay"][-1], 1 / (1 + 0.5 * 19), rtol=1e-6)
    np.testing.assert_allclose(curves["piecewise_constant_schedule"][-1], 0.01, rtol=1e-6)
    np.testing.assert_allclose(curves["piecewise_constant_decay"][-1], 0.04, rtol=1e-6)
    assert curves["warmup_cosine_decay_schedule"][0] == 0.0 and curves["join_schedules"][0] == 0.0


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_schedules_outputs_and_numbers(schedules_run):
    out = schedules_run["out"]
    for png in ("schedules.png", "schedules_loss.png"):
        _check_png(os.path.join(out, png))
    payload, markdown = _table(out, "schedules")
    assert payload["finding"] in markdown and "| schedule |" in markdown
    results = schedules_run["results"]
    assert [r["schedule"] for r in results] == list(schedules_experiment.QUICK_SCHEDULES)
    assert not schedules_run["skipped"]
    grid = payload["settings"]["learning_rate_grid"]
    assert len(grid) == 3
    for result in results:
        assert result["learning_rate"] in grid
        assert 0.3 < result["test_accuracy_mean"] <= 1.0  # two epochs: well above chance (0.1)
        assert len(result["test_accuracies"]) == 2
        assert len(result["curves"]["train_loss"]) == schedules_run["epochs"]
        assert result["curves"]["train_loss"][-1] < math.log(10)
    # The schedule as drawn is the one that trained: the history's learning rate at each epoch's last step.
    for result in results:
        np.testing.assert_allclose(np.asarray(result["curves"]["learning_rate"]) / result["learning_rate"],
                                   result["relative_rate_at_epoch_end"], rtol=1e-5)
    paths = {r["schedule"]: r["path"] for r in results}
    assert paths == {"constant_schedule": "tune_learning_rate",
                     "piecewise_constant_decay": "TrainConfig(schedule=factory)"}


# ---------------------------------------------------------------------------
# Question 5: learning-rate sampling, panda and caviar


def test_decade_probabilities_are_exact():
    assert lr_sampling.decades() == [(1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1e-1), (1e-1, 1.0)]
    np.testing.assert_allclose(lr_sampling.decade_probabilities("log"), [0.25] * 4, rtol=1e-12)
    linear = lr_sampling.decade_probabilities("linear")
    np.testing.assert_allclose(linear, [9e-4 / 0.9999, 9e-3 / 0.9999, 9e-2 / 0.9999, 0.9 / 0.9999], rtol=1e-12)
    assert math.isclose(sum(linear), 1.0) and 0.9 < linear[-1] < 0.9001
    with pytest.raises(ValueError, match="scheme"):
        lr_sampling.decade_probabilities("cubic")


def test_expected_trials_to_first_hit_matches_enumeration():
    n, hits = 6, 2
    positions = [next(i + 1 for i, hit in enumerate(order) if hit)
                 for order in set(itertools.permutations([True] * hits + [False] * (n - hits)))]
    assert math.isclose(np.mean(positions), lr_sampling.expected_trials_to_hit(hits, n))
    assert lr_sampling.expected_trials_to_hit(0, n) == math.inf


def test_best_so_far_is_a_running_maximum_in_random_orders():
    scores = [0.1, 0.9, 0.5, 0.95, 0.2]
    curves = lr_sampling.best_so_far(scores, orders=5)
    assert curves.shape == (5, 5)
    assert np.all(np.diff(curves, axis=1) >= 0)
    np.testing.assert_array_equal(curves[:, -1], 0.95)
    assert len({tuple(row) for row in curves}) > 1


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_lr_sampling_outputs_and_numbers(sampling_run):
    out = sampling_run["out"]
    _check_png(os.path.join(out, "lr_sampling.png"))
    decades, markdown = _table(out, "lr_sampling")
    assert decades["finding"] in markdown
    n = decades["settings"]["samples_per_scheme"]
    rows = decades["rows"]
    assert len(rows) == 4
    for row in rows:
        assert math.isclose(row["log P"], 0.25)
        assert abs(row["log share of 100,000"] - 0.25) < 0.01
    assert abs(rows[-1]["linear share of 100,000"] - 0.9001) < 0.01
    assert rows[-1]["linear expected of %d" % n] == pytest.approx(0.9001 * n, rel=1e-3)
    for scheme in ("linear", "log"):
        assert sum(row[f"{scheme} drawn of {n}"] for row in rows) == n
    # Both schemes map the same uniform numbers: a linear rate is never below its log partner.
    rates = sampling_run["rates"]
    assert all(a >= b for a, b in zip(rates["linear"], rates["log"]))

    search, _ = _table(out, "lr_sampling_search")
    scores = sampling_run["scores"]
    for scheme in ("linear", "log"):
        assert len(scores[scheme]) == n and all(0.0 <= s <= 1.0 for s in scores[scheme])
        curve = np.asarray(search["curves"][scheme])
        assert curve.shape == (lr_sampling.ORDERS, n)
        np.testing.assert_allclose(curve[:, -1], max(scores[scheme]))
    # The quick draw puts all four linear rates above 0.1, too high for Adam; log sampling covers every decade.
    assert max(scores["log"]) > max(scores["linear"])

    strategies, _ = _table(out, "lr_sampling_strategies")
    rows = strategies["rows"]
    assert rows[0]["strategy"].startswith("population") and rows[0]["trials"] == strategies["settings"]["population"]
    for row in rows:
        assert row["wall s to target (or to stop)"] > 0
        assert 0.0 <= row["best val accuracy"] <= 1.0
    for row in rows[1:]:
        assert 0 < row["compile s"] <= row["wall s to target (or to stop)"]
        assert 1 <= row["trials"] <= strategies["settings"]["max_trials"]


# ---------------------------------------------------------------------------
# Question 6: batch size


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_batch_size_outputs_and_numbers(batch_run):
    out = batch_run["out"]
    _check_png(os.path.join(out, "batch_size.png"))
    payload, markdown = _table(out, "batch_size")
    assert payload["finding"] in markdown and "| batch_size |" in markdown
    results = {r["batch_size"]: r for r in batch_run["results"]}
    num_train = batch_run["num_train"]
    full = f"full ({num_train})"
    assert set(results) == {"1", full}
    assert results["1"]["steps_per_epoch"] == num_train and results[full]["steps_per_epoch"] == 1
    grid = payload["settings"]["learning_rate_grid"]
    for result in results.values():
        assert result["learning_rate"] in grid
        assert result["ms_per_epoch"] > 0 and result["compile_s"] > 0
        assert len(result["train_loss_curve"]) == batch_run["epochs"]
        assert np.all(np.isfinite(result["val_loss_curve"]))
        # The timed single-model run reproduces the sweep's run at the same rate and seed.
        assert result["single_run_max_val_loss_difference"] < 1e-5
    # A step of batch 1 is much cheaper than a full-batch step.
    assert results["1"]["us_per_step"] < results[full]["us_per_step"]
