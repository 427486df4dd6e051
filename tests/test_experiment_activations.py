"""The activation experiment: its rank statistics, and a quick run end to end."""

import itertools
import json
import math
import os

import numpy as np
import pytest

from experiments import activations



def test_descending_ranks_average_ties_and_put_nan_last():
    ranks = activations.descending_ranks([0.9, 0.5, 0.9, float("nan"), 0.7])
    np.testing.assert_allclose(ranks, [1.5, 4.0, 1.5, 5.0, 3.0])


@pytest.mark.parametrize("y", [
    [5.0, 4.0, 3.0, 2.0, 1.0],
    [1.0, 2.0, 3.0, 4.0, 5.0],
    [0.3, 0.9, 0.1, 0.5, 0.7],
    [0.8, 0.8, 0.1, 0.5, 0.5],
])
def test_spearman_matches_scipy(y):
    stats = pytest.importorskip("scipy.stats")
    x = [10.0, 8.0, 6.0, 4.0, 2.0]
    assert activations.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_without_ties_matches_the_rank_difference_formula():
    y = np.array([0.2, 0.9, 0.4, 0.8, 0.1, 0.6])
    x = -np.arange(6.0)
    d = activations.descending_ranks(x) - activations.descending_ranks(y)
    n = len(y)
    assert activations.spearman(x, y) == pytest.approx(1 - 6 * np.sum(d**2) / (n * (n**2 - 1)))


def test_agreement_with_claim_exact_permutation_p_value():
    claimed = activations.CLAIMED_ORDER
    perfect = {name: 1.0 - 0.1 * i for i, name in enumerate(claimed)}
    stats = activations.agreement_with_claim({**perfect, "serlu": 0.99})
    assert stats["activations"] == list(claimed)  # names outside the claim are left out
    assert stats["rho"] == pytest.approx(1.0)
    assert stats["p_value"] == pytest.approx(1 / math.factorial(len(claimed)))
    reversed_scores = {name: 0.1 * i for i, name in enumerate(claimed)}
    stats = activations.agreement_with_claim(reversed_scores)
    assert stats["rho"] == pytest.approx(-1.0)
    assert stats["p_value"] == pytest.approx(1.0)
    # The count of orderings at least as good, by brute force over the claimed ranks.
    scores = {"selu": 0.95, "elu": 0.97, "leaky_relu": 0.96, "relu": 0.94, "tanh": 0.93, "sigmoid": 0.2}
    stats = activations.agreement_with_claim(scores)
    observed = activations.descending_ranks(list(scores.values()))
    as_good = sum(
        np.corrcoef(np.arange(1, 7), np.array(order))[0, 1] >= stats["rho"] - 1e-12
        for order in itertools.permutations(observed)
    )
    assert stats["p_value"] == pytest.approx(as_good / 720)


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        activations.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_run_writes_figure_and_table(tmp_path):
    out = str(tmp_path)
    activations.main(["--quick", "--out", out])
    for suffix in ("png", "md", "json"):
        assert os.path.getsize(os.path.join(out, f"activations.{suffix}")) > 0
    with open(os.path.join(out, "activations.json")) as f:
        payload = json.load(f)
    rows = payload["rows"]
    assert {(r["model"], r["activation"]) for r in rows} == {
        (model, act) for model in ("mlp", "cnn") for act in activations.QUICK_ACTIVATIONS
    }
    for row in rows:
        for field in ("learning_rate", "val_accuracy_mean", "val_accuracy_sd", "test_accuracy_mean",
                      "test_accuracy_sd", "train_loss_mean", "train_loss_sd", "rank"):
            assert isinstance(row[field], float) and math.isfinite(row[field]), (field, row)
        assert 0.0 <= row["val_accuracy_mean"] <= 1.0 and 0.0 <= row["test_accuracy_mean"] <= 1.0
        assert row["train_loss_mean"] > 0.0
        assert row["seeds"] == 2
        assert row["init"] == {"selu": "lecun_normal", "relu": "he_normal", "sigmoid": "glorot_uniform"}[row["activation"]]
        assert row["learning_rate"] == pytest.approx(1e-3) or row["learning_rate"] == pytest.approx(1e-2)
    for model in ("mlp", "cnn"):
        ranks = sorted(r["rank"] for r in rows if r["model"] == model)
        assert sum(ranks) == pytest.approx(6.0)  # ranks 1..3, ties averaged
        for metric in ("val_accuracy", "test_accuracy"):
            assert math.isfinite(payload["spearman"][f"digits/{model}"][metric]["rho"])
    assert "CIFAR-10 was not run" in payload["finding"]
    with open(os.path.join(out, "activations.md")) as f:
        assert payload["finding"] in f.read()
