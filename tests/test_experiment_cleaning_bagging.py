"""Questions 12-13: cleaning mislabelled examples and bagging; their pieces and a quick run of each."""

import json
import os

import numpy as np
import pytest

from experiments import bagging, cleaning

MAX_PNG_BYTES = 300_000


def _outputs(out, name):
    for suffix in ("md", "json"):
        assert os.path.getsize(os.path.join(out, f"{name}.{suffix}")) > 0
    size = os.path.getsize(os.path.join(out, f"{name}.png"))
    assert 0 < size < MAX_PNG_BYTES, size
    with open(os.path.join(out, f"{name}.json")) as f:
        payload = json.load(f)
    with open(os.path.join(out, f"{name}.md")) as f:
        assert payload["finding"] in f.read()
    assert payload["finding"].strip() and "\n" not in payload["finding"]
    return payload


@pytest.mark.parametrize("module", [cleaning, bagging])
def test_help_exits_cleanly(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Question 12


@pytest.mark.parametrize("fraction, expected", [(0.0, 0), (0.1, 108), (0.2, 216), (0.25, 270), (1.0, 1078)])
def test_flip_labels_moves_exactly_the_fraction_to_other_classes(fraction, expected):
    labels = np.arange(1078) % 10
    noisy, rows = cleaning.flip_labels(labels, fraction, 10, seed=3)
    assert rows.size == expected and noisy.dtype == np.int32
    np.testing.assert_array_equal(np.flatnonzero(noisy != labels), rows)  # exactly the reported rows changed
    assert np.all(noisy[rows] != labels[rows]) and np.all((0 <= noisy) & (noisy < 10))


def test_flip_labels_is_seeded_and_spreads_over_the_other_classes():
    labels = np.zeros(20_000, np.int32)
    first, rows = cleaning.flip_labels(labels, 0.5, 10, seed=7)
    again, rows_again = cleaning.flip_labels(labels, 0.5, 10, seed=7)
    other, other_rows = cleaning.flip_labels(labels, 0.5, 10, seed=8)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(rows, rows_again)
    assert not np.array_equal(rows, other_rows)
    counts = np.bincount(first[rows], minlength=10)
    assert counts[0] == 0  # never the same class
    # Uniform over the 9 others: 10,000 / 9 = 1111 each, sd about 31.
    assert np.all(np.abs(counts[1:] - 10_000 / 9) < 150), counts
    assert labels.sum() == 0  # the input is not modified


@pytest.mark.parametrize("fraction, classes", [(-0.1, 10), (1.5, 10), (0.1, 1)])
def test_flip_labels_rejects_bad_arguments(fraction, classes):
    with pytest.raises(ValueError):
        cleaning.flip_labels(np.zeros(5, np.int32), fraction, classes, seed=0)


def test_flag_quality_by_hand():
    # Flagged {2, 5, 7, 9}, flipped {1, 2, 3, 9}: two hits, precision 2/4, recall 2/4.
    quality = cleaning.flag_quality([9, 2, 7, 5], [1, 2, 3, 9])
    assert quality == {"removed": 4, "flipped": 4, "true_positives": 2, "precision": 0.5, "recall": 0.5}
    assert cleaning.flag_quality([3], [1, 2, 3, 9])["recall"] == 0.25
    assert cleaning.flag_quality([3], [1, 2, 3, 9])["precision"] == 1.0
    nothing_removed = cleaning.flag_quality([], [1, 2])
    assert nothing_removed["precision"] is None and nothing_removed["recall"] == 0.0
    no_noise = cleaning.flag_quality([4, 5], [])
    assert no_noise["precision"] == 0.0 and no_noise["recall"] is None


def _fake_run(fraction, seed, test):
    flipped = list(range(int(10 * fraction)))
    entry = lambda acc, removed: {"val_accuracy": acc, "test_accuracy": acc,
                                  **cleaning.flag_quality(removed, flipped)}
    return {"noise": fraction, "seed": seed, "flipped": flipped, "noisy_fitted": 0.5 if flipped else None,
            "noisy": entry(test[0], []), "oracle": entry(test[2], flipped),
            "rounds": [entry(test[1], flipped[:1] + [9])]}


def test_table_rows_and_paired_differences():
    results = {0.0: [_fake_run(0.0, s, (0.9, 0.89, 0.9)) for s in range(2)],
               0.2: [_fake_run(0.2, 0, (0.7, 0.8, 0.9)), _fake_run(0.2, 1, (0.6, 0.8, 0.9))]}
    rows = cleaning.table_rows(results, rounds=1)
    assert [(r["label noise"], r["method"]) for r in rows] == [
        ("0%", "noisy"), ("0%", "cleaned, 1 round"), ("0%", "oracle"),
        ("20%", "noisy"), ("20%", "cleaned, 1 round"), ("20%", "oracle")]
    cleaned = rows[4]
    assert cleaned["removed"] == "2.0 ± 0.0" and cleaned["precision"] == "0.500 ± 0.000"
    assert cleaned["recall"] == "0.500 ± 0.000" and cleaned["test accuracy"] == "0.8000 ± 0.0000"
    assert rows[1]["recall"] == "n/a" and rows[1]["precision"] == "0.000 ± 0.000"
    assert rows[3]["test accuracy"] == "0.6500 ± 0.0707" and rows[3]["noisy labels fitted"] == "0.500 ± 0.000"
    gain, sem = cleaning.paired(results[0.2], "round 1")
    assert gain == pytest.approx(0.15) and sem == pytest.approx(0.05)
    finding = cleaning._finding(results, rounds=1, num_val=360, num_test=359)
    assert "60% of the oracle's gain" in finding  # (0.80 - 0.65) / (0.90 - 0.65)


# ---------------------------------------------------------------------------
# Question 13


def test_ensemble_predictions_average_probabilities_like_resample():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 40, 3)) * 3
    predictions = bagging.ensemble_predictions(logits)
    assert predictions.shape == (5, 40)
    np.testing.assert_array_equal(predictions[0], logits[0].argmax(-1))
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_array_equal(predictions[-1], probabilities.mean(0).argmax(-1))


def test_disagreement_by_hand():
    # Pairs: (0,1) differ on 1 of 4, (0,2) on 2 of 4, (1,2) on 1 of 4: mean 1/3.
    assert bagging.disagreement(np.array([[0, 1, 2, 3], [0, 1, 2, 0], [0, 1, 1, 0]])) == pytest.approx(1 / 3)
    assert bagging.disagreement(np.array([[1, 2], [1, 2]])) == 0.0
    assert np.isnan(bagging.disagreement(np.array([[1, 2]])))


def test_model_size_counts_one_member():
    params = {"kernel": np.zeros((16, 64, 256)), "bias": np.zeros((16, 256)),
              "head": {"kernel": np.zeros((16, 256, 10)), "bias": np.zeros((16, 10))}}
    assert bagging.model_size(params) == (64 * 256 + 256 + 256 * 10 + 10, 64 * 256 + 256 * 10)


def test_epochs_give_the_same_step_budget():
    assert bagging.epochs_for(200) == 200 and bagging.epochs_for(1078) == 37
    assert bagging.epochs_for(10) == 1200  # fewer examples than a batch: one step per epoch


def test_subset_is_stratified_and_keeps_dev_and_test():
    from jaxdl.data import Data

    full = Data.load("digits")
    small = bagging.subset(full, 200)
    assert small.x_train.shape == (200, 64)
    counts = np.bincount(np.asarray(small.y_train), minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21
    np.testing.assert_array_equal(np.asarray(small.x_val), np.asarray(full.x_val))
    np.testing.assert_array_equal(np.asarray(small.y_test), np.asarray(full.y_test))
    assert bagging.subset(full, 5000) is full


def _fake_size(train_size=200, members=3, seeds=2):
    rng = np.random.default_rng(1)
    runs = []
    for seed in range(seeds):
        runs.append({
            "seed": seed,
            "ensemble_train_error": [0.05, 0.03, 0.02], "ensemble_dev_error": [0.12, 0.1, 0.08],
            "ensemble_test_accuracy": [0.88, 0.9, 0.92], "member_train_error": [0.05, 0.06, 0.04],
            "member_dev_error": [0.12, 0.13, 0.11], "member_test_accuracy": [0.88, 0.87, 0.89],
            "distinct_examples": [126, 127, 126],
            "ensemble_test_predictions": rng.integers(0, 10, (members, 50)).tolist(),
            "single_train_error": 0.0, "single_dev_error": 0.1 + 0.02 * seed, "single_test_accuracy": 0.9,
            "single_test_predictions": rng.integers(0, 10, 50).tolist(),
        })
    return {"train_size": train_size, "epochs": 200, "members": members, "seeds": runs, "parameters": 100,
            "macs": 90, "seconds": {"ensemble": 1.0, "single": 0.5, "ensemble_first": 9.0, "single_first": 5.0}}


def test_bagging_table_rows():
    rows = bagging.table_rows([_fake_size()], table_k=(2, 8))
    assert [(r["model"], r["members"]) for r in rows] == [
        ("one model, full split", 1), ("one bootstrap member", 1), ("bagged, k=2", 2), ("bagged, k=3", 3)]
    assert [r["parameters"] for r in rows] == [100, 100, 200, 300]
    assert rows[3]["multiply-adds per image"] == 270
    assert rows[0]["train/dev gap %"] == "11.0 ± 1.4" and rows[0]["train wall time s"] == "0.50"
    assert rows[3]["train/dev gap %"] == "6.0 ± 0.0" and rows[3]["train wall time s"] == "1.00"
    assert rows[3]["test accuracy"] == "0.9200 ± 0.0000"
    finding = bagging._finding([_fake_size()])
    assert "2.0x, not 3x" in finding and "k = 3 is the first" in finding


# ---------------------------------------------------------------------------
# Quick runs of both scripts


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_cleaning_run(tmp_path):
    out = str(tmp_path)
    result = cleaning.main(["--quick", "--out", out])
    payload = _outputs(out, "cleaning")
    assert [(r["label noise"], r["method"]) for r in payload["rows"]] == [
        (noise, method) for noise in ("0%", "20%") for method in ("noisy", "cleaned, 1 round", "oracle")]
    for fraction, runs in result["results"].items():
        assert len(runs) == 2
        for run in runs:
            assert len(run["flipped"]) == round(fraction * 1078)
            assert run["oracle"]["removed"] == len(run["flipped"])
            cleaned = run["rounds"][0]
            assert cleaned["removed"] == len(cleaned["removed_rows"]) > 0
            for entry in (run["noisy"], cleaned, run["oracle"]):
                assert 0.3 < entry["test_accuracy"] <= 1 and 0.3 < entry["val_accuracy"] <= 1
            if fraction == 0:  # nothing to remove: the oracle is the noisy model itself
                assert run["oracle"]["test_accuracy"] == run["noisy"]["test_accuracy"]
            else:
                assert 0 < cleaned["precision"] <= 1 and 0 < cleaned["recall"] <= 1
                # Better than flagging at random, whose precision would be the noise rate.
                assert cleaned["precision"] > 1.5 * fraction


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_bagging_run(tmp_path):
    out = str(tmp_path)
    result = bagging.main(["--quick", "--out", out])
    payload = _outputs(out, "bagging")
    assert [r["model"] for r in payload["rows"]] == ["one model, full split", "one bootstrap member", "bagged, k=2"]
    (run,) = result["runs"]
    assert run["train_size"] == 200 and len(run["seeds"]) == 2
    for seed in run["seeds"]:
        assert len(seed["ensemble_test_accuracy"]) == 2
        assert seed["ensemble_test_accuracy"][0] == pytest.approx(seed["member_test_accuracy"][0])
        assert all(100 < n < 160 for n in seed["distinct_examples"])  # about 63% of 200 in each bootstrap sample
    assert run["seconds"]["ensemble"] > 0 and run["seconds"]["single"] > 0
    curve = payload["curves"][0]
    assert len(curve["disagreement"]) == 2 and 0 <= curve["single_disagreement"] <= 1
