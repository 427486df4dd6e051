"""The optimizer comparison benchmark: a quick run's outputs, and the performance profile by hand."""

import json
import math
import os

import numpy as np
import pytest

from benchmarks import compare_optimizers as bench
from jaxdl import optim

INF = math.inf


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("compare_optimizers"))
    return bench.main(["--quick", "--out", out])


def _strict_json(path):
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    with open(path) as f:
        return json.load(f, parse_constant=refuse)


# ---------------------------------------------------------------------------
# The profile, by hand


# Steps to target: t1 both solve, b twice as slow; t2 only b; t3 a tie; t4 nobody.
STEPS = {
    "t1": {"a": 10.0, "b": 20.0},
    "t2": {"a": INF, "b": 5.0},
    "t3": {"a": 30.0, "b": 30.0},
    "t4": {"a": INF, "b": INF},
}


def test_ratios_by_hand():
    ratios = bench.performance_ratios(STEPS)
    assert ratios == {
        "t1": {"a": 1.0, "b": 2.0},
        "t2": {"a": INF, "b": 1.0},
        "t3": {"a": 1.0, "b": 1.0},
        "t4": {"a": INF, "b": INF},
    }


def test_profile_by_hand():
    ratios = bench.performance_ratios(STEPS)
    taus = np.array([1.0, 1.5, 2.0, 100.0])
    rho = bench.performance_profile(ratios, taus)
    # a: within 1 of the best on t1 and t3, never solves t2 or t4.
    np.testing.assert_array_equal(rho["a"], [0.5, 0.5, 0.5, 0.5])
    # b: best on t2 and t3, within 2 on t1 from tau = 2 on, never t4.
    np.testing.assert_array_equal(rho["b"], [0.5, 0.5, 0.75, 0.75])


def test_profile_taus_hold_every_step_and_reach_past_the_largest_ratio():
    ratios = bench.performance_ratios(STEPS)
    taus = bench.profile_taus(ratios)
    assert taus[0] == 1.0 and 2.0 in taus
    assert taus[-1] > 2.0 and np.all(np.diff(taus) > 0)


def test_profile_of_unsolved_tasks_is_zero():
    ratios = bench.performance_ratios({"t": {"a": INF, "b": INF}})
    rho = bench.performance_profile(ratios, bench.profile_taus(ratios))
    assert all(np.all(r == 0.0) for r in rho.values())


def test_median_measure_is_inf_when_most_seeds_miss():
    assert bench.median_measure([10.0, 20.0, INF]) == 20.0
    assert bench.median_measure([10.0, INF, INF]) == INF
    assert bench.median_measure([10.0, INF]) == INF


def test_epochs_to_target_is_the_first_epoch_at_or_above():
    accuracy = np.array([[0.5, 0.95, 0.90, 0.97], [0.5, np.nan, np.nan, np.nan], [0.1, 0.2, 0.3, 0.949]])
    np.testing.assert_array_equal(bench.epochs_to_target(accuracy, 0.95), [2, -1, -1])


# ---------------------------------------------------------------------------
# Registries


def test_default_optimizers_drop_aliases_and_keep_the_order():
    def sgd(learning_rate):
        return learning_rate

    def adam(learning_rate):
        return learning_rate

    registry = {"adam": adam, "gd": sgd, "sgd": sgd, "zeta": adam, "other": sgd}
    assert bench.default_optimizers(registry) == ["sgd", "adam"]


def test_every_registered_optimizer_is_compared():
    assert bench.OPTIMIZERS == list(bench.PREFERRED_ORDER)
    assert set(bench.OPTIMIZERS) <= set(optim.names())


@pytest.mark.parametrize("name", sorted(bench.TASKS))
def test_tasks_have_a_target_a_grid_and_a_quick_form(name):
    task = bench.TASKS[name]
    assert task.name == name and task.target > 0
    for optimizer in bench.OPTIMIZERS:
        rates = task.rate_grid(optimizer, 8)
        assert len(rates) == 8 and np.all(np.diff(rates) > 0) and rates[0] > 0
    quick = task.for_quick()
    assert quick.name == name and quick.for_quick() == quick


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--optimizers", "--tasks", "--budget", "--seeds", "--out"):
        assert flag in text


def test_unknown_task_is_refused():
    with pytest.raises(SystemExit):
        bench.main(["--tasks", "no_such_task"])


# ---------------------------------------------------------------------------
# A quick run


def test_quick_run_writes_the_table(quick_run):
    with open(quick_run["paths"]["markdown"]) as f:
        text = f.read()
    header = "| task | optimizer | tuned lr | steps to target | time to target | final | ratio |"
    assert header in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line != header]
    assert len(rows) == len(bench.QUICK_TASKS) * len(bench.QUICK_OPTIMIZERS)
    for task in bench.QUICK_TASKS:
        for name in bench.QUICK_OPTIMIZERS:
            assert any(row.startswith(f"| {task} ") and f"| {name} |" in row for row in rows)


def test_quick_run_writes_the_profile_png(quick_run):
    path = quick_run["paths"]["profile"]
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < os.path.getsize(path) < 500_000


def test_quick_run_json_is_complete_and_strict(quick_run):
    payload = _strict_json(quick_run["paths"]["json"])
    assert payload["settings"]["learning_rates_per_optimizer"] == 2
    assert payload["settings"]["seeds"] == 2
    assert len(payload["rows"]) == len(bench.QUICK_TASKS) * len(bench.QUICK_OPTIMIZERS)
    for task in bench.QUICK_TASKS:
        for name in bench.QUICK_OPTIMIZERS:
            run = payload["runs"][task][name]
            assert len(run["rates"]) == 2 and run["learning_rate"] in run["rates"]
            assert len(run["steps"]) == 2 and len(run["final"]) == 2
            assert run["seconds_per_step"] > 0
            for steps in run["steps"]:
                assert steps is None or steps > 0
    assert set(payload["profiles"]) == {"steps", "time"}


def test_quick_run_tunes_and_reaches_targets(quick_run):
    # Both optimizers get a rate that reaches the quadratic's target; Adam reaches the MLP's.
    outcomes = quick_run["outcomes"]
    for name in bench.QUICK_OPTIMIZERS:
        assert all(math.isfinite(s) for s in outcomes["quadratic"][name].steps)
    assert all(math.isfinite(s) for s in outcomes["digits_mlp"]["adam"].steps)
    mlp = outcomes["digits_mlp"]["adam"]
    assert all(s % 33 == 0 for s in mlp.steps)  # whole epochs of floor(1078 / 32) steps


@pytest.mark.parametrize("measure", ["steps", "time"])
def test_quick_profile_is_a_valid_step_function(quick_run, measure):
    profile = quick_run["profiles"][measure]
    taus, ratios = np.asarray(profile["taus"]), profile["ratios"]
    assert taus[0] == 1.0 and np.all(np.diff(taus) > 0)
    num_tasks = len(ratios)
    for name, rho in profile["rho"].items():
        rho = np.asarray(rho)
        assert rho.shape == taus.shape
        assert np.all((rho >= 0) & (rho <= 1))
        assert np.all(np.diff(rho) >= 0)
        # Wins at tau = 1; every solved task by the right end.
        wins = sum(ratios[t][name] == 1.0 for t in ratios)
        solved = sum(math.isfinite(ratios[t][name]) for t in ratios)
        assert rho[0] == pytest.approx(wins / num_tasks)
        assert rho[-1] == pytest.approx(solved / num_tasks)
