"""Questions 7-9: initialisation, regularisation and transfer learning; their pieces and a quick run of each."""

import json
import math
import os

import jax
import numpy as np
import pytest

from experiments import initialization, regularization, transfer_learning
from jaxdl import models


MAX_PNG_BYTES = 300_000


def _outputs(out, name, figures=()):
    for suffix in ("md", "json"):
        assert os.path.getsize(os.path.join(out, f"{name}.{suffix}")) > 0
    for figure in (name, *figures):
        size = os.path.getsize(os.path.join(out, f"{figure}.png"))
        assert 0 < size < MAX_PNG_BYTES, (figure, size)
    with open(os.path.join(out, f"{name}.json")) as f:
        payload = json.load(f)
    with open(os.path.join(out, f"{name}.md")) as f:
        assert payload["finding"] in f.read()
    assert payload["finding"].strip() and "\n" not in payload["finding"]
    return payload


@pytest.mark.parametrize("module", [initialization, regularization, transfer_learning])
def test_help_exits_cleanly(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Question 7


@pytest.mark.parametrize("init, fan_in, fan_out, expected", [
    ("0.01·N(0,1)", 256, 256, 0.01),
    ("0.05·N(0,1)", 4096, 10, 0.05),
    ("Glorot", 256, 256, 1 / 16),
    ("Glorot", 64, 256, math.sqrt(2 / 320)),
    ("He", 256, 10, math.sqrt(2 / 256)),
])
def test_kernel_std(init, fan_in, fan_out, expected):
    assert initialization.kernel_std(init, fan_in, fan_out) == pytest.approx(expected)


def test_kernel_std_rejects_unknown_names():
    with pytest.raises(ValueError, match="Glorot"):
        initialization.kernel_std("xavier_uniform", 4, 4)


def test_scaled_models_share_directions_and_have_the_requested_spread():
    config = models.MLPConfig(in_features=64, hidden=(128, 128), out_features=10, activation="tanh")
    key = jax.random.key(3)
    small = initialization.scaled_model(config, initialization.init_stds(config, "0.01·N(0,1)"), key)
    glorot = initialization.scaled_model(config, initialization.init_stds(config, "Glorot"), key)
    stds = initialization.init_stds(config, "Glorot")
    layers = lambda m: [b.layer for b in m.blocks] + [m.head]
    for index, (a, b) in enumerate(zip(layers(small), layers(glorot))):
        ka, kb = np.asarray(a.kernel[...]), np.asarray(b.kernel[...])
        np.testing.assert_allclose(ka / 0.01, kb / stds[index], rtol=1e-5, atol=1e-5)
        assert kb.std() == pytest.approx(stds[index], rel=0.1)
        assert not np.any(np.asarray(b.bias[...]))


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_initialization_run(tmp_path):
    out = str(tmp_path)
    result = initialization.main(["--quick", "--out", out])
    payload = _outputs(out, "initialization", ("initialization_histograms", "initialization_histograms_trained"))
    rows = payload["rows"]
    assert [(r["activation"], r["init"]) for r in rows] == [
        (a, i) for a in initialization.ACTIVATIONS for i in initialization.INITS
    ]
    trained, training = result["trained"], result["training"]
    for act in initialization.ACTIVATIONS:
        last_std = {init: trained[act][init]["layers"][-1]["std"] for init in initialization.INITS}
        # Fixed 0.01 shrinks the signal far below the variance-preserving initialisations.
        assert last_std["0.01·N(0,1)"] < 0.1 * last_std["Glorot"]
        assert last_std["0.01·N(0,1)"] < last_std["0.05·N(0,1)"] < last_std["He"]
        loss = {i: np.mean(training[act][i]["final_train_loss"]) for i in initialization.INITS}
        # The collapsed network stays at chance, log 10; He trains.
        assert loss["0.01·N(0,1)"] == pytest.approx(math.log(10), abs=0.02)
        assert loss["He"] < loss["0.01·N(0,1)"] - 0.05
        for init in initialization.INITS:
            curves = np.asarray(training[act][init]["epoch_losses"])
            assert curves.shape == (2, 2)  # 2 seeds x 2 epochs
            assert training[act][init]["learning_rate"] in (0.03, 0.3)
    relu_zero = [trained["relu"][i]["layers"][0]["zero"] for i in initialization.INITS]
    assert all(0.3 < z < 0.7 for z in relu_zero)  # half the ReLUs are off at initialisation


# ---------------------------------------------------------------------------
# Question 8


def test_small_digits_is_stratified_and_standardised_on_itself():
    data = regularization.small_digits(200)
    assert data.x_train.shape == (200, 64)
    counts = np.bincount(np.asarray(data.y_train), minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21
    np.testing.assert_allclose(np.asarray(data.x_train).mean(0), 0.0, atol=1e-5)
    assert data.x_val.shape[0] + data.x_test.shape[0] == 1797 - 1078


def test_diagnose_reads_the_lecture_numbers():
    # Lecture 001, classifier C: train 1%, dev 5% with human error 0 is low bias, high variance.
    result = regularization.diagnose([0.01, 0.01], [0.05, 0.05])
    assert result["verdict"] == "low bias, high variance"
    assert result["agreeing_seeds"] == 2
    np.testing.assert_allclose(result["variance"], [0.04, 0.04])
    np.testing.assert_allclose(result["avoidable_bias"], [0.01, 0.01])


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_regularization_run(tmp_path):
    out = str(tmp_path)
    result = regularization.main(["--quick", "--out", out])
    payload = _outputs(out, "regularization")
    assert [r["method"] for r in payload["rows"]] == list(regularization.METHODS)
    for r in result["results"]:
        train_error, dev_error = np.asarray(r["train_error"]), np.asarray(r["dev_error"])
        assert train_error.shape == (2,)
        assert np.all((0 <= train_error) & (train_error <= 1)) and np.all((0 <= dev_error) & (dev_error <= 1))
        np.testing.assert_allclose(r["variance"], dev_error - train_error, atol=1e-6)
        np.testing.assert_allclose(r["avoidable_bias"], train_error - regularization.HUMAN_ERROR, atol=1e-6)
        assert r["verdict"] in {f"{b} bias, {v} variance" for b in ("high", "low") for v in ("high", "low")}
        assert all(1 <= e <= 5 for e in r["epochs_run"])
        assert not any(r["diverged"])
    assert sum(bool(r.get("chosen")) for r in result["results"]) == len(regularization.METHODS)
    rates = {r["method"]: r["learning_rate"] for r in result["results"]}
    assert rates["early stopping"] == rates["none"]


# ---------------------------------------------------------------------------
# Question 9


def test_tasks_split_the_classes_and_subsample_per_class():
    data = transfer_learning.tasks()
    for split in data["source"].values():
        assert set(np.unique(split.y)) == set(range(5)) and split.num_classes == 5
    train_set = data["target"]["train"]
    np.testing.assert_allclose(np.asarray(data["source"]["train"].x).mean(0), 0.0, atol=1e-5)
    sample = transfer_learning.subsample(train_set, 7, seed=1)
    assert np.bincount(sample.y, minlength=5).tolist() == [7] * 5
    again = transfer_learning.subsample(train_set, 7, seed=1)
    np.testing.assert_array_equal(sample.x, again.x)
    with pytest.raises(ValueError, match="fewer than"):
        transfer_learning.subsample(train_set, 1000, seed=0)


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_transfer_learning_run(tmp_path):
    out = str(tmp_path)
    result = transfer_learning.main(["--quick", "--out", out])
    payload = _outputs(out, "transfer_learning")
    assert [r["examples per class"] for r in payload["rows"]] == [5, 20]
    accuracy = result["accuracy"]
    for method in transfer_learning.METHODS:
        for n in (5, 20):
            values = np.asarray(accuracy[method][n])
            assert values.shape == (2,) and np.all((0 <= values) & (values <= 1))
        # Well above chance (0.2) with 20 examples per class, and more data helps on average.
        assert np.mean(accuracy[method][20]) > 0.5
        assert np.mean(accuracy[method][20]) >= np.mean(accuracy[method][5]) - 0.05
    assert min(payload["source_test_accuracy"]) > 0.8
    assert result["rates"]["fine_tune"] in (3e-4, 3e-3)
