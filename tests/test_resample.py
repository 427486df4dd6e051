"""Populations over the training split: fold, bootstrap and subset tables, one program, and the tools on them."""

import doctest
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import metrics, resample, train
from jaxdl.data import Data

CONFIG = train.TrainConfig(model_args={"hidden": (16,)}, epochs=3, batch_size=32)
HPARAMS = train.HParams(learning_rate=3e-3)


@pytest.fixture(scope="module")
def digits():
    return Data.load("digits")


def noisy(data, fraction=0.1, seed=0):
    """``data`` with ``fraction`` of its training labels moved to another class; and which rows."""
    y = np.asarray(data.y_train).copy()
    rng = np.random.default_rng(seed)
    flipped = rng.choice(y.size, int(fraction * y.size), replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, data.num_classes, flipped.size)) % data.num_classes
    return data.replace(y_train=jnp.asarray(y)), flipped


@pytest.mark.parametrize("k", [2, 3, 5])
def test_folds_never_train_on_their_own_examples_and_cover_every_other_one(k):
    labels = np.arange(103) % 4
    members, folds = resample.kfold(labels, k, seed=3)
    for fold in range(k):
        own = np.flatnonzero(folds == fold)
        assert not np.isin(members.indices[fold], own).any()
        assert set(members.indices[fold].tolist()) == set(np.flatnonzero(folds != fold).tolist())
        assert members.sizes[fold] == labels.size - own.size
    # Stratified: each class spread over the folds to within one example.
    for c in range(4):
        counts = np.bincount(folds[labels == c], minlength=k)
        assert counts.max() - counts.min() <= 1
    # Each member's examples carry equal total weight, however its table had to repeat them.
    totals = members.counts(labels.size)
    for fold in range(k):
        inside = totals[fold][folds != fold]
        np.testing.assert_allclose(inside, members.indices.shape[1] / members.sizes[fold], rtol=1e-6)


def test_bootstrap_weights_sum_to_the_split_size_and_come_from_the_key():
    members = resample.bootstrap(500, 4, key=7)
    counts = members.counts(500)
    np.testing.assert_array_equal(counts.sum(axis=1), [500] * 4)
    assert np.all(counts == np.round(counts)) and np.all(members.weights == 1)
    assert np.all(np.abs(members.sizes / 500 - (1 - np.exp(-1))) < 0.06)  # about 63% distinct
    np.testing.assert_array_equal(resample.bootstrap(500, 4, key=7).indices, members.indices)
    assert not np.array_equal(resample.bootstrap(500, 4, key=8).indices, members.indices)
    assert not np.array_equal(members.indices[0], members.indices[1])


def test_nested_subsets_are_nested_per_seed_and_fill_the_table():
    members = resample.nested_subsets(200, [10, 50, 200], seeds=(0, 1))
    assert members.sizes.tolist() == [10, 50, 200] * 2 and members.indices.shape == (6, 200)
    for seed in range(2):
        small, mid, full = (set(members.indices[3 * seed + i].tolist()) for i in range(3))
        assert len(small) == 10 and len(mid) == 50 and full == set(range(200)) and small < mid < full
    assert set(members.indices[0].tolist()) != set(members.indices[3].tolist())  # seeds draw other subsets
    assert resample.default_sizes(1078) == [34, 67, 135, 270, 539, 1078]


@pytest.mark.parametrize("call,message", [
    (lambda: resample.kfold(10, 1), "k must be an integer from 2"),
    (lambda: resample.kfold(10, 3), "stratified folds need the labels"),
    (lambda: resample.bootstrap(10, 0), "members must be an integer from 1"),
    (lambda: resample.nested_subsets(10, [0, 5]), "a subset size must be an integer from 1 to 10"),
    (lambda: resample.nested_subsets(10, [20]), "a subset size must be an integer from 1 to 10"),
    (lambda: resample.nested_subsets(10, [5], seeds=range(5000)), "exceed jaxdl.resample.MAX_MEMBERS"),
    (lambda: resample.find_label_issues(np.ones((3, 2)), [0, 1]), "probabilities must be (m, K)"),
    (lambda: resample.find_label_issues(np.ones((2, 2)), [0, 2]), "labels must lie in [0, 2)"),
])
def test_bad_tables_are_one_line_errors(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_member_is_the_run_on_its_own_rows_and_the_program_compiles_once(digits):
    members = resample.bootstrap(int(digits.x_train.shape[0]), 3, key=1)
    program = resample._program(train.check(CONFIG, digits))
    before = program._cache_size()
    population = resample.train_members(CONFIG, digits, members, HPARAMS, seed=5)
    assert resample._program(population.config) is program and program._cache_size() - before <= 1
    compiled = program._cache_size()
    ones = jnp.ones(members.indices.shape[1], jnp.float32)
    alone = jax.jit(lambda key, rows: train.train(CONFIG, HPARAMS, key, digits.replace(
        x_train=digits.x_train[rows], y_train=digits.y_train[rows], w_train=ones)))
    for p in (0, 2):
        alone_result = alone(jax.random.fold_in(jax.random.key(5), p), jnp.asarray(members.indices[p]))
        for name, value in alone_result.metrics.items():
            np.testing.assert_allclose(population.result.metrics[name][p], value, rtol=2e-5, atol=1e-6, err_msg=name)
        logits = population.outputs["val"][p]
        assert logits.shape == (digits.x_val.shape[0], 10)
        accuracy = (logits.argmax(-1) == np.asarray(digits.y_val)).mean()
        np.testing.assert_allclose(accuracy, alone_result.metrics["val_accuracy"], atol=1e-6)
    # Other tables of the same shape, another seed: the same program, nothing compiled.
    resample.train_members(CONFIG, digits, resample.bootstrap(int(digits.x_train.shape[0]), 3, key=2), HPARAMS, seed=6)
    assert program._cache_size() == compiled


def test_bad_members_are_refused_before_training(digits):
    members = resample.bootstrap(int(digits.x_train.shape[0]), 2)
    with pytest.raises(ValueError, match="outside the training split"):
        resample.train_members(CONFIG, digits, members._replace(indices=members.indices + 5000))
    with pytest.raises(ValueError, match="finite and non-negative"):
        resample.train_members(CONFIG, digits, members._replace(weights=-members.weights))


def test_find_label_issues_by_hand():
    # Class thresholds: t_0 = mean(0.9, 0.8) = 0.85, t_1 = mean(0.7, 0.8, 0.1, 0.4) = 0.5.
    p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    issues = resample.find_label_issues(p, [0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(issues.thresholds, [0.85, 0.5])
    # Row 4 reaches t_0; row 5 (0.6 < 0.85) reaches no threshold: not confident of anything, so not flagged.
    assert issues.indices.tolist() == [4] and issues.suspected.tolist() == [0] and issues.given.tolist() == [1]
    assert issues.table().to_dict("records") == [{"index": 4, "given": 1, "suspected": 0, "self_confidence": 0.1}]


def test_out_of_fold_flags_most_flipped_labels_of_digits(digits):
    dirty, flipped = noisy(digits, 0.1)
    config = train.TrainConfig(model_args={"hidden": (64,)}, epochs=10, batch_size=32)
    oof = resample.out_of_fold(config, dirty, k=5, hparams=HPARAMS)
    # Each example is predicted by the member that left its fold out.
    for fold in range(5):
        assert not np.isin(oof.population.members.indices[fold], np.flatnonzero(oof.folds == fold)).any()
    issues = resample.find_label_issues(oof.probabilities, np.asarray(dirty.y_train))
    hits = np.isin(issues.indices, flipped).sum()
    precision, recall = hits / issues.indices.size, hits / flipped.size
    assert precision > 0.7 and recall > 0.7, (precision, recall)
    # The suspected label of a caught flip is mostly the original one.
    caught = issues.indices[np.isin(issues.indices, flipped)]
    original = np.asarray(digits.y_train)[caught]
    assert (issues.suspected[np.isin(issues.indices, flipped)] == original).mean() > 0.9


def test_clean_and_retrain_removes_flags_and_keeps_its_programs(digits):
    dirty, flipped = noisy(digits, 0.2, seed=1)
    program = resample._program(train.check(CONFIG, dirty))
    before = program._cache_size()
    rounds = resample.clean_and_retrain(CONFIG, dirty, HPARAMS, k=3, rounds=2)
    # The fold program and the whole-split program, at most one compilation each, however many rounds.
    assert program._cache_size() - before <= 2
    assert [r["issues"] is None for r in rounds] == [True, False, False]
    assert rounds[0]["removed"].size == 0 and rounds[1]["removed"].size > 0
    assert set(rounds[1]["removed"]) <= set(rounds[2]["removed"])
    assert np.isin(rounds[1]["removed"], flipped).mean() > 0.5
    assert {"val_accuracy", "test_accuracy"} <= set(rounds[2]["metrics"])


def test_bagging_ensembles_and_its_first_member(digits):
    bag = resample.bagging(CONFIG, digits, k=4, hparams=HPARAMS)
    assert bag.sizes.tolist() == [1, 2, 3, 4]
    for split in ("val", "test"):
        assert bag.ensemble_accuracy[split][0] == bag.member_accuracy[split][0]
        assert bag.ensemble_accuracy[split].shape == (4,)
    np.testing.assert_allclose(bag.member_accuracy["val"], bag.population.result.metrics["val_accuracy"], atol=1e-6)
    assert bag.ensemble_accuracy["val"][-1] >= bag.member_accuracy["val"].mean()


def test_learning_curve_grows_with_data_and_names_the_problem(digits):
    curve = resample.learning_curve(CONFIG, digits, sizes=[34, 270, 1078], seeds=(0, 1), hparams=HPARAMS)
    assert curve.sizes.tolist() == [34, 270, 1078] and curve.train_error.shape == (2, 3)
    assert np.all(curve.val_error.mean(0)[:-1] > curve.val_error.mean(0)[1:])  # more data, lower dev error
    assert np.all(curve.train_error <= curve.val_error + 0.02)
    assert curve.diagnosis.training_error == pytest.approx(curve.train_error[:, -1].mean())
    assert curve.verdict == resample.verdict(curve.diagnosis)


@pytest.mark.parametrize("train_error,dev_error,start", [
    (0.035, 0.040, "more data will not help"),  # lecture 001's model B: high bias, low variance
    (0.035, 0.078, "more data will help with the variance only"),  # model A: high bias, high variance
    (0.010, 0.050, "more data will help:"),  # model C: low bias, high variance
    (0.008, 0.010, "more data will help little"),  # model D
])
def test_the_verdict_follows_the_lecture_table(train_error, dev_error, start):
    diagnosis = metrics.diagnose_bias_variance(train_error, dev_error, human_error=0.007)
    assert resample.verdict(diagnosis).startswith(start)


def test_two_devices_shard_and_pad_the_members_to_the_numbers_of_each_run_alone(tmp_path):
    # Three folds on two (forced host) devices: padded to four, sharded, the copy dropped; each member as alone.
    script = tmp_path / "two.py"
    script.write_text(
        "import json, jax, numpy as np\n"
        "from jaxdl import resample, train\n"
        "from jaxdl.data import Data\n"
        "data = Data.load('digits')\n"
        "config = train.TrainConfig(model_args={'hidden': (8,)}, epochs=1)\n"
        "members, _ = resample.kfold(np.asarray(data.y_train), 3)\n"
        "population = resample.train_members(config, data, members)\n"
        "rows = members.indices[2]\n"
        "own = data.replace(x_train=data.x_train[rows], y_train=data.y_train[rows], w_train=jax.numpy.asarray(members.weights[2]))\n"
        "alone = jax.jit(lambda key: train.train(config, train.HParams(), key, own))\n"
        "print(json.dumps([len(jax.devices()), population.result.metrics['val_loss'].tolist(),\n"
        "                  float(alone(jax.random.fold_in(jax.random.key(0), 2)).metrics['val_loss'])]))\n")
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    devices, losses, alone = json.loads(out.stdout.strip().splitlines()[-1])
    assert devices == 2 and len(losses) == 3
    np.testing.assert_allclose(losses[2], alone, rtol=1e-5)


def test_doctests():
    assert doctest.testmod(resample).failed == 0


def test_a_regression_curve_reads_its_trend_instead_of_a_rate_diagnosis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=400)).astype(np.float32)
    data = Data.from_arrays(x, y)
    config = train.TrainConfig(model_args={"hidden": (16,)}, epochs=20, batch_size=8)
    curve = resample.learning_curve(config, data, sizes=[15, 60, 240], seeds=(0,),
                                    hparams=train.HParams(learning_rate=1e-2))
    assert curve.diagnosis is None
    # Squared errors: the noise alone has variance 0.01; 15 examples fit far worse than 240.
    assert curve.val_error[0, 0] > 3 * curve.val_error[0, -1] and curve.val_error[0, -1] < 0.1
    drop = 1 - curve.val_error[0, 2] / curve.val_error[0, 1]
    assert curve.verdict == resample._trend(curve.sizes, curve.val_error.mean(axis=0))
    assert curve.verdict.startswith("more data is still paying off" if drop > 0.05 else "more data will help little")


def test_a_progress_bar_counts_epochs_and_changes_no_number(digits, capsys):
    members = resample.bootstrap(int(digits.x_train.shape[0]), 2, key=3)
    quiet = resample.train_members(CONFIG, digits, members, HPARAMS)
    shown = resample.train_members(CONFIG, digits, members, HPARAMS, progress=True)
    err = capsys.readouterr().err
    assert "2 members: 100%" in err and f"{CONFIG.epochs}/{CONFIG.epochs}" in err
    for name, value in quiet.result.metrics.items():
        np.testing.assert_array_equal(shown.result.metrics[name], value, err_msg=name)
    assert resample._PROGRESS.bar is None
