"""Data mismatch: train / train-dev / dev / test splits and the three-gap diagnosis (lecture 001)."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import metrics, mismatch, models, train
from jaxdl.data import DataError

LINEAR = train.TrainConfig(model_args={"hidden": ()}, epochs=10)


def _blobs(seed, size, shift=0.0):
    """Two well separated classes in two dimensions (Bayes error ~0), moved by ``shift``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size)
    return rng.normal(size=(size, 2)) + 4.0 * y[:, None] + shift, y


def _labelled(num_source=1000, num_target=300, classes=3):
    """Inputs whose first feature is the example's position among source + target, so rows can be traced."""
    rng = np.random.default_rng(1)
    ids = np.arange(num_source + num_target, dtype=np.float64)
    x = np.stack([ids, rng.normal(size=ids.size)], axis=1)
    y = rng.integers(0, classes, ids.size)
    return x[:num_source], y[:num_source], x[num_source:], y[num_source:]


def test_doctests():
    assert doctest.testmod(mismatch, optionflags=doctest.ELLIPSIS).failed == 0


def test_sizes_disjoint_and_sources_partition_the_inputs():
    x_s, y_s, x_t, y_t = _labelled()
    splits = mismatch.mismatch_splits(x_s, y_s, x_t, y_t, train_dev_fraction=0.1, dev_fraction=0.5,
                                      standardize=False, seed=2)
    assert splits.sizes == {"train": 900, "train-dev": 100, "dev": 150, "test": 150}
    assert splits.source.shape == (1300,) and splits.source.dtype == np.int8
    # Sources from the training distribution go to train or train-dev, target ones to dev or test.
    assert set(splits.source[:1000]) == {0, 1} and set(splits.source[1000:]) == {2, 3}
    everything = np.concatenate([splits.indices(name) for name in mismatch.SOURCES])
    np.testing.assert_array_equal(np.sort(everything), np.arange(1300))  # disjoint, and all of them
    x_all, y_all = np.concatenate([x_s, x_t]), np.concatenate([y_s, y_t])
    for name in mismatch.SOURCES:
        x, y = splits.split(name)
        rows = splits.indices(name)
        np.testing.assert_array_equal(np.asarray(x), x_all[rows].astype(np.float32))
        np.testing.assert_array_equal(np.asarray(y), y_all[rows])
    assert splits.split("dev")[0] is splits.data.x_val and splits.split("test")[1] is splits.data.y_test
    # Stratified: each class's share of train-dev within one example of a tenth of its source count.
    source_counts = np.bincount(y_s, minlength=3)
    train_dev_counts = np.bincount(np.asarray(splits.y_train_dev), minlength=3)
    assert np.all(np.abs(train_dev_counts - 0.1 * source_counts) < 1)
    assert splits.data.split_seed == 2 and splits.data.task == "classification"
    assert splits.data.num_classes == 3 and splits.y_train_dev.dtype == jnp.int32
    # Another seed, another split; the same seed, the same one.
    again = mismatch.mismatch_splits(x_s, y_s, x_t, y_t, standardize=False, seed=2)
    other = mismatch.mismatch_splits(x_s, y_s, x_t, y_t, standardize=False, seed=3)
    np.testing.assert_array_equal(again.source, splits.source)
    assert not np.array_equal(other.source, splits.source)


def test_lecture_example_sizes():
    # Lecture 001: distribution 1 holds 100,000 examples, distribution 2 20,000. With the
    # defaults the train-dev and dev errors are measured on equally many examples.
    rng = np.random.default_rng(0)
    x_source, x_target = rng.integers(0, 255, (100_000, 1), dtype=np.uint8), np.zeros((20_000, 1), np.uint8)
    splits = mismatch.mismatch_splits(x_source, rng.integers(0, 10, 100_000), x_target,
                                      rng.integers(0, 10, 20_000), standardize=False)
    assert splits.sizes == {"train": 90_000, "train-dev": 10_000, "dev": 10_000, "test": 10_000}


def test_standardisation_uses_the_training_split_only():
    x_s, y_s, x_t, y_t = _labelled()
    splits = mismatch.mismatch_splits(x_s, y_s, x_t, y_t)
    x_all = np.concatenate([x_s, x_t]).astype(np.float32)
    raw_train = x_all[splits.indices("train")]
    np.testing.assert_allclose(np.asarray(splits.standardizer.mean), raw_train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(splits.standardizer.std), raw_train.std(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(splits.data.x_train).mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(splits.data.x_train).std(0), 1.0, atol=1e-4)
    for name in ("train-dev", "dev", "test"):
        expected = (x_all[splits.indices(name)] - raw_train.mean(0)) / raw_train.std(0)
        np.testing.assert_allclose(np.asarray(splits.split(name)[0]), expected, rtol=1e-4, atol=1e-4)
    # The target ids (1000..1299) lie above every training id: dev is far from centred.
    assert float(np.asarray(splits.data.x_val)[:, 0].mean()) > 1.5
    # Changing the target data changes neither the statistics nor the training split.
    moved = mismatch.mismatch_splits(x_s, y_s, 100.0 * x_t, y_t)
    np.testing.assert_array_equal(np.asarray(moved.standardizer.mean), np.asarray(splits.standardizer.mean))
    np.testing.assert_array_equal(np.asarray(moved.data.x_train), np.asarray(splits.data.x_train))


def test_from_sources_round_trip():
    x_s, y_s, x_t, y_t = _labelled()
    splits = mismatch.mismatch_splits(x_s, y_s, x_t, y_t, seed=4)
    x_all, y_all = np.concatenate([x_s, x_t]), np.concatenate([y_s, y_t])
    names = np.array(mismatch.SOURCES)[splits.source]
    for source in (splits.source, names, names.astype(bytes), list(names)):
        again = mismatch.from_sources(x_all, y_all, source, seed=4)
        assert again.data.fingerprint() == splits.data.fingerprint()
        np.testing.assert_array_equal(np.asarray(again.x_train_dev), np.asarray(splits.x_train_dev))
        np.testing.assert_array_equal(np.asarray(again.y_train_dev), np.asarray(splits.y_train_dev))
        np.testing.assert_array_equal(again.source, splits.source)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda x, y: mismatch.from_sources(x, y, ["train", "train-dev", "dev", "tset"] * 5),
         DataError, "unknown split name.*did you mean 'test'"),
        (lambda x, y: mismatch.from_sources(x, y, [0, 1, 2, 7] * 5), DataError, "outside 0..3"),
        (lambda x, y: mismatch.from_sources(x, y, np.linspace(0, 3, 20)), DataError, "names .* or their codes"),
        (lambda x, y: mismatch.from_sources(x, y, [0, 1, 2, 3] * 4), DataError, "as many examples"),
        (lambda x, y: mismatch.from_sources(x, y, [0, 1, 2] * 6 + [0, 1]), DataError,
         "test split: no examples"),
        (lambda x, y: mismatch.from_sources(np.where(np.arange(20)[:, None] == 5, np.nan, x), y, [0, 1, 2, 3] * 5),
         DataError, "inputs: 1 examples with non-finite inputs .* example 5"),
        (lambda x, y: mismatch.from_sources(x[:, 0], y, [0, 1, 2, 3] * 5), DataError, "feature axis"),
        (lambda x, y: mismatch.from_sources(x, y, [0, 1, 2, 3] * 5, num_classes=1), DataError,
         "labels outside \\[0, 1\\)"),
        (lambda x, y: mismatch.mismatch_splits(x, y, x[:, :1], y), DataError, "target data: inputs of shape"),
        (lambda x, y: mismatch.mismatch_splits(x, y, x, y[:5]), DataError, "target data: 20 inputs"),
        (lambda x, y: mismatch.mismatch_splits(np.full_like(x, np.inf), y, x, y), DataError,
         "source data: 20 examples with non-finite"),
        (lambda x, y: mismatch.mismatch_splits(x[:5], y[:5], x, y), DataError,
         "train-dev split: no examples .*5 source examples at train_dev_fraction=0.1"),
        (lambda x, y: mismatch.mismatch_splits(x, y, x, y, dev_fraction=1.0), ValueError,
         "dev_fraction must be a fraction"),
        (lambda x, y: mismatch.mismatch_splits(x, y, x, y, train_dev_fraction=0), ValueError,
         "train_dev_fraction must be"),
        (lambda x, y: mismatch.mismatch_splits(x, x[:, 0], x, x[:, 0], stratify=True), ValueError,
         "stratify=True needs class labels"),
    ],
    ids=["unknown-name", "bad-code", "float-source", "source-length", "empty-split", "non-finite", "one-dim",
         "label-range", "shape", "length", "source-non-finite", "empty-train-dev", "dev-fraction",
         "train-dev-fraction", "stratify-regression"],
)
def test_one_line_errors(build, error, match):
    x = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 2
    with pytest.raises(error, match=match) as caught:
        build(x, y)
    assert "\n" not in str(caught.value)


def _identity_result(splits, config=LINEAR):
    """A linear model whose logits are its inputs: it predicts the class its input one-hot names."""
    model = train.build_model(config.resolve(splits.data), splits.data, jax.random.key(0))
    _, params, batch_stats, _, _ = models.split(model)
    params = jax.tree.map(lambda leaf: jnp.eye(*leaf.shape) if leaf.ndim == 2 else jnp.zeros_like(leaf), params)
    return train.Result(params, batch_stats, {}, {}, jnp.bool_(False), jnp.int32(-1), jnp.int32(0))


def _with_errors(wrong_per_split, size=1000):
    """Splits on which the identity model gets ``wrong`` of ``size`` examples wrong, split by split."""
    xs, ys, source = [], [], []
    for code, wrong in enumerate(wrong_per_split):
        y = np.arange(size) % 2
        predicted = y.copy()
        predicted[:wrong] = 1 - predicted[:wrong]
        xs.append(np.eye(2)[predicted])
        ys.append(y)
        source.append(np.full(size, code))
    return mismatch.from_sources(np.concatenate(xs), np.concatenate(ys), np.concatenate(source), standardize=False)


# Andrew Ng's worked examples (human error ~0 %), the numbers tests/test_metrics.py checks
# against diagnose_bias_variance directly; here through a model, its splits and its errors.
@pytest.mark.parametrize(
    "train_error, train_dev_error, dev_error, focus",
    [(0.01, 0.09, 0.10, "variance"), (0.01, 0.015, 0.10, "data mismatch"), (0.10, 0.11, 0.12, "bias"),
     (0.10, 0.11, 0.20, "bias")],
    ids=["variance", "data-mismatch", "bias", "bias-and-mismatch"],
)
def test_worked_examples_through_a_model(train_error, train_dev_error, dev_error, focus):
    test_error = 0.3
    splits = _with_errors([round(1000 * e) for e in (train_error, train_dev_error, dev_error, test_error)])
    result = _identity_result(splits)
    errors = mismatch.split_errors(LINEAR, result, splits)
    assert errors.metric == "error rate"
    assert errors[:4] == pytest.approx((train_error, train_dev_error, dev_error, test_error))
    diagnosis = mismatch.diagnose(LINEAR, result, splits, human_error=0.0)
    reference = metrics.diagnose_bias_variance(train_error, dev_error, human_error=0.0,
                                               train_dev_error=train_dev_error)
    assert diagnosis.focus == reference.focus == focus
    assert diagnosis.verdict == reference.verdict
    assert diagnosis.data_mismatch == pytest.approx(reference.data_mismatch)
    assert diagnosis.variance == pytest.approx(reference.variance)
    assert "test error" not in str(diagnosis)  # held out: no part of the diagnosis


def test_diagnose_refuses_populations_other_models_and_regression():
    splits = _with_errors([10, 15, 100, 100], size=200)
    result = _identity_result(splits)
    population = result._replace(params=jax.tree.map(lambda leaf: jnp.stack([leaf] * 3), result.params))
    with pytest.raises(ValueError, match="population of 3 trials"):
        mismatch.diagnose(LINEAR, population, splits)
    wider = train.TrainConfig(model_args={"hidden": (4,)})
    with pytest.raises(ValueError, match="do not fit the model"):
        mismatch.diagnose(wider, result, splits)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    regression = mismatch.mismatch_splits(x[:150], x[:150, 0] + 1.0, x[150:], x[150:, 0] + 3.0, standardize=False)
    assert regression.data.task == "regression" and regression.y_train_dev.dtype == jnp.float32
    zero = _identity_result(regression)
    zero = zero._replace(params=jax.tree.map(jnp.zeros_like, zero.params))  # predicts 0 everywhere
    errors = mismatch.split_errors(LINEAR, zero, regression)
    assert errors.metric == "rmse"
    for name, value in zip(mismatch.SOURCES, errors):
        targets = np.asarray(regression.split(name)[1])
        assert value == pytest.approx(float(np.sqrt(np.mean(targets ** 2))), rel=1e-5)
    with pytest.raises(ValueError, match="regression has none") as caught:
        mismatch.diagnose(LINEAR, zero, regression)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("shift, mismatched", [(-2.0, True), (0.0, False)], ids=["shifted-target", "no-shift"])
def test_train_and_diagnose_finds_a_shifted_target(shift, mismatched):
    x_source, y_source = _blobs(1, 500)
    x_target, y_target = _blobs(2, 200, shift=shift)
    splits = mismatch.mismatch_splits(x_source, y_source, x_target, y_target)
    run = mismatch.train_and_diagnose(LINEAR, train.HParams(learning_rate=0.05), jax.random.key(0), splits,
                                      human_error=0.0)
    diagnosis = run.diagnosis
    assert run.errors.train_dev < 0.02 and not diagnosis.high_bias and not diagnosis.high_variance
    assert diagnosis.train_dev_error == run.errors.train_dev and diagnosis.dev_error == run.errors.dev
    assert diagnosis.high_mismatch is mismatched
    if mismatched:
        assert diagnosis.focus == "data mismatch" and diagnosis.data_mismatch > 0.1
        assert diagnosis.knobs == metrics.DATA_MISMATCH_KNOBS
    else:
        assert diagnosis.focus is None and abs(diagnosis.data_mismatch) < 0.02
    # The run's own dev metric is the dev error's complement; test is reported, held out.
    assert float(run.result.metrics["val_accuracy"]) == pytest.approx(1 - run.errors.dev, abs=1e-6)
    assert "(held out)" in str(run) and "train-dev error" in str(run)
