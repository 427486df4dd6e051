"""The strategies benchmark: equal budgets, its curves and targets, and one small run of every strategy."""

import json

import numpy as np
import pytest

from benchmarks import strategies as bench
from jaxdl.sweep import strategies


@pytest.mark.parametrize("trials,epochs", [(32, 18), (4, 6), (8, 9), (5, 2)])
def test_every_strategy_plans_the_same_budget_of_trial_epochs(trials, epochs):
    budget = trials * epochs
    for name in bench.STRATEGIES:
        plan = bench.make_plan("sgd_constant", name, trials, epochs, seed=0)
        info = plan.info
        if name == "halving":
            rungs, eta = info["rungs"], info["eta"]
            assert rungs[-1] == epochs
            # As many configurations as the budget holds, and not one more.
            assert bench.halving_budget(len(plan), rungs, eta) <= budget < bench.halving_budget(len(plan) + 1, rungs, eta)
        elif name == "pbt":
            assert len(plan) * info["max_epochs"] == budget and epochs % info["interval"] == 0
        elif name == "coarse_to_fine":
            assert len(plan) * info["stages"] * plan.trials[0].static["epochs"] == budget
        elif name == "optuna":  # asked as it goes: the plan holds the count and the space its epochs
            assert info["num_samples"] == trials and info["space"]["params"]["epochs"] == epochs
        else:
            assert len(plan) == trials and all(t.static["epochs"] == epochs for t in plan)


def test_halving_budget_counts_each_rung_survivors_epochs():
    # 9 trials 1 epoch, 3 survivors 2 more, 1 survivor 6 more.
    assert bench.halving_budget(9, strategies.halving_rungs(1, 9, 3), 3) == 9 * 1 + 3 * 2 + 1 * 6


def test_the_anytime_curve_is_a_step_function_of_the_budget():
    curve = [(4, None), (8, 0.5), (12, 0.25)]  # a diverged first record: nothing yet
    np.testing.assert_array_equal(bench.curve_at(curve, np.array([2, 4, 10, 12, 20])),
                                  [np.nan, np.nan, 0.5, 0.25, 0.25])
    assert bench.to_target(curve, 0.25, "val_loss") == 12 and bench.to_target(curve, 0.5, "val_loss") == 8
    assert bench.to_target(curve, 0.1, "val_loss") is None
    assert bench.to_target([(4, 0.5), (8, 0.75)], 0.6, "val_accuracy") == 8


# Every strategy compiles programs of its own (15 s); the default tier runs random search and PBT.
@pytest.mark.parametrize("names", [("random", "pbt"), pytest.param(bench.STRATEGIES, marks=pytest.mark.slow)],
                         ids=["random_pbt", "every"])
def test_a_small_run_writes_its_table_and_figure(names, tmp_path, capsys):
    out = tmp_path / "strategies.json"
    payload = bench.main(["--quick", "--tasks", "sgd_constant", "--trials", "4", "--epochs", "3", "--repeats", "1",
                          "--strategies", *names, "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(payload))
    assert (tmp_path / "strategies.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    rows = {row["strategy"]: row for row in payload["rows"]}
    assert set(rows) == set(names) and all(f"| sgd_constant | {name} |" in printed for name in rows)
    for run in payload["runs"]:
        spent = [point[0] for point in run["curve"]]
        assert spent == sorted(spent) and run["budget"] == spent[-1]
        # Equal budgets (halving's up to what its rungs hold), every record counted once.
        assert run["budget"] == 12 or (run["strategy"] == "halving" and run["budget"] <= 12)
        best = [point[1] for point in run["curve"] if point[1] is not None]
        assert best == sorted(best, reverse=True) and best[-1] == run["best_val"] > 0  # a loss: it only falls
        assert 0 < run["selected_test"] <= 1
    # The target is random search's own final best, which it reaches at the end of its budget at the latest.
    assert rows["random"]["target"] == rows["random"]["best_val_median"] and rows["random"]["reached"] == 1
    pbt = next(run for run in payload["runs"] if run["strategy"] == "pbt")
    # Three intervals of one epoch: the gather before the third is timed (the one before the second compiles it).
    assert len(pbt["exploit_fractions"]) == 1 and pbt["exploit_fractions"][0] > 0
