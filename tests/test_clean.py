"""Outlier cleaning: fences against NumPy, statistics from the training split only, each treatment by hand."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import clean
from jaxdl.clean import OutlierFence, clean_outliers
from jaxdl.data import Data, DataError, split_indices


def calm(shape, seed=0):
    """Each feature a shuffle of linspace(0, 1, N): its IQR fences are [-0.5, 1.5] and hold every value."""
    rng = np.random.default_rng(seed)
    column = np.linspace(0.0, 1.0, shape[0], dtype=np.float32)
    features = int(np.prod(shape[1:]))
    return np.stack([rng.permutation(column) for _ in range(features)], axis=1).reshape(shape)


TRAIN = calm((40, 3))


def make_data(x_train, x_val=None, x_test=None, w_train=None, task="classification"):
    """Checked Data from given inputs: labels alternate 0, 1; regression targets are x_0 - 2 x_1 + 0.5."""
    x_train = np.asarray(x_train, np.float32)
    x_val = x_train[:4] if x_val is None else np.asarray(x_val, np.float32)
    x_test = x_train[4:8] if x_test is None else np.asarray(x_test, np.float32)
    if task == "classification":
        labels = [np.arange(len(x)) % 2 for x in (x_train, x_val, x_test)]
        num_classes = 2
    else:
        labels = [x[:, 0] - 2.0 * x[:, 1] + 0.5 for x in (x_train, x_val, x_test)]
        num_classes = 0
    return Data(jnp.asarray(x_train), jnp.asarray(labels[0]), jnp.asarray(x_val), jnp.asarray(labels[1]),
                jnp.asarray(x_test), jnp.asarray(labels[2]), num_classes,
                w_train=None if w_train is None else jnp.asarray(w_train, jnp.float32), task=task).check()


def planted(rows_and_features, value=50.0, base=TRAIN):
    x = base.copy()
    for row, feature in rows_and_features:
        x[row, feature] = value
    return x


@pytest.mark.parametrize("threshold,k", [(None, 1.5), (3.0, 3.0), (0.0, 0.0)])
def test_iqr_fences_equal_numpy_percentiles(threshold, k):
    x = planted([(5, 0), (9, 2)], value=4.0)
    x[17, 1] = -3.0
    q1, median, q3 = np.percentile(x.astype(np.float64), [25, 50, 75], axis=0)  # NumPy's default: linear
    fence = OutlierFence.fit(x, "iqr", threshold)
    np.testing.assert_allclose(fence.low, q1 - k * (q3 - q1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fence.high, q3 + k * (q3 - q1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fence.median, median, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fence.mean, x.mean(axis=0), rtol=1e-6, atol=1e-6)
    expected = (x < q1 - k * (q3 - q1)) | (x > q3 + k * (q3 - q1))
    np.testing.assert_array_equal(fence.mask(x), expected)
    if threshold is None:  # the planted entries, and only they, at Tukey's k = 1.5
        assert sorted(zip(*np.nonzero(expected))) == [(5, 0), (9, 2), (17, 1)]


def test_iqr_quartiles_of_a_hand_example():
    # Sorted [1, 2, 3, 4, 5, 6, 7, 100]: Q1 at rank 1.75 -> 2.75, Q3 at rank 5.25 -> 6.25, IQR 3.5.
    x = np.array([[3.0], [1.0], [100.0], [2.0], [5.0], [4.0], [7.0], [6.0]])
    fence = OutlierFence.fit(x)
    np.testing.assert_allclose([fence.low[0], fence.high[0], fence.median[0]], [2.75 - 5.25, 6.25 + 5.25, 4.5])
    assert np.asarray(fence.mask(x))[:, 0].tolist() == [False, False, True] + [False] * 5


@pytest.mark.parametrize("threshold,t", [(None, 3.0), (2.0, 2.0)])
def test_zscore_fences_match_hand_computed_z_scores(threshold, t):
    x = planted([(3, 1)], value=9.0)
    x[20, 2] = -6.0
    z = np.abs(x - x.mean(axis=0)) / x.std(axis=0)  # population std, ddof 0
    fence = OutlierFence.fit(x, "zscore", threshold)
    np.testing.assert_allclose(fence.low, x.mean(0) - t * x.std(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fence.high, x.mean(0) + t * x.std(0), rtol=1e-5, atol=1e-5)
    assert np.min(np.abs(z - t)) > 1e-3  # no entry on the boundary, where rounding could decide
    np.testing.assert_array_equal(fence.mask(x), z > t)
    assert np.asarray(fence.mask(x))[3, 1] and np.asarray(fence.mask(x))[20, 2]


def test_zscore_with_a_constant_feature_flags_every_other_value():
    fence = OutlierFence.fit(np.zeros((5, 1)), "zscore")
    assert np.asarray(fence.mask(np.array([[0.0], [1e-3]])))[:, 0].tolist() == [False, True]


def test_zscore_cannot_flag_in_a_tiny_sample():
    # With ddof 0 no value lies more than (m - 1) / sqrt(m) stds out: 1.79 for m = 5 (the docstring's masking).
    x = np.array([[1.0], [2.0], [3.0], [4.0], [1e6]])
    assert not np.any(np.asarray(OutlierFence.fit(x, "zscore").mask(x)))
    assert np.asarray(OutlierFence.fit(x, "iqr").mask(x))[4, 0]


@pytest.mark.parametrize("method", clean.METHODS)
def test_statistics_come_from_the_training_split_only(method):
    x_train = planted([(2, 0)])
    calm = make_data(x_train)
    wild = make_data(x_train, x_val=planted([(0, 1)], 1e4, TRAIN[:6]), x_test=planted([(1, 2)], -1e4, TRAIN[:6]))
    _, calm_report = clean_outliers(calm, method, "winsorize")
    cleaned, report = clean_outliers(wild, method, "winsorize")
    reference = OutlierFence.fit(x_train, method)
    for fitted in (report.fence, calm_report.fence):
        for got, want in zip(fitted, reference):
            np.testing.assert_array_equal(got, want)
    assert report.entries["val"] == 1 and report.entries["test"] == 1
    # The planted validation and test entries are clipped to the *training* fences.
    np.testing.assert_allclose(cleaned.x_val[0, 1], reference.high[1])
    np.testing.assert_allclose(cleaned.x_test[1, 2], reference.low[2])


@pytest.mark.parametrize("method", clean.METHODS)
def test_remove_drops_exactly_the_planted_rows_and_keeps_weights_aligned(method):
    rows = [3, 11, 30]
    x_train = planted([(3, 0), (11, 2), (30, 1)])
    weights = np.arange(40, dtype=np.float32) + 1.0
    x_val = planted([(2, 1)], 50.0, TRAIN[:6])
    data = make_data(x_train, x_val=x_val, w_train=weights)
    cleaned, report = clean_outliers(data, method, "remove")
    np.testing.assert_array_equal(cleaned.x_train, np.delete(x_train, rows, axis=0))
    np.testing.assert_array_equal(cleaned.y_train, np.delete(np.asarray(data.y_train), rows))
    np.testing.assert_array_equal(cleaned.w_train, np.delete(weights, rows))
    # Validation and test are never dropped, not even the planted validation outlier.
    np.testing.assert_array_equal(cleaned.x_val, x_val)
    np.testing.assert_array_equal(cleaned.x_test, data.x_test)
    assert report.removed == 3 and report.examples == {"train": 3, "val": 1, "test": 0}
    assert report.entries["train"] == 3 and report.threshold == clean.DEFAULT_THRESHOLDS[method]
    assert cleaned.num_classes == data.num_classes and cleaned.task == data.task
    unweighted, _ = clean_outliers(make_data(x_train), method, "remove")
    assert unweighted.w_train is None


def test_remove_that_would_empty_the_training_split_is_refused():
    x = np.eye(4)  # each column [0, 0, 0, 1] has fences [-0.375, 0.625]: every row holds one outlier
    with pytest.raises(DataError, match="would drop all 4 training examples"):
        clean_outliers(make_data(x, x_val=x, x_test=x), "iqr", "remove", threshold=0.0)


# Train column 0 sorted [1, 2, 3, 4, 100]: Q1 2, Q3 4, fences [-1, 7], mean 22, median 3.
# Train column 1 sorted [-50, 10, 20, 30, 40]: Q1 10, Q3 30, fences [-20, 60], mean 10, median 20.
HAND_TRAIN = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [100.0, -50.0]])
HAND_VAL = np.array([[0.0, 61.0], [-2.0, 25.0]])
HAND_TEST = np.array([[7.0, -20.0], [8.0, -21.0]])  # on the fences (kept) and just outside them
HAND = {  # how: (train row 4, validation, test)
    "mean": ([22.0, 10.0], [[0.0, 10.0], [22.0, 25.0]], [[7.0, -20.0], [22.0, 10.0]]),
    "median": ([3.0, 20.0], [[0.0, 20.0], [3.0, 25.0]], [[7.0, -20.0], [3.0, 20.0]]),
    "winsorize": ([7.0, -20.0], [[0.0, 60.0], [-1.0, 25.0]], [[7.0, -20.0], [7.0, -20.0]]),
}


@pytest.mark.parametrize("how", sorted(HAND))
def test_replacements_give_the_hand_computed_values(how):
    data = make_data(HAND_TRAIN, x_val=HAND_VAL, x_test=HAND_TEST, w_train=np.arange(5.0))
    cleaned, report = clean_outliers(data, "iqr", how)
    train_row, val, test = HAND[how]
    np.testing.assert_allclose(cleaned.x_train, np.concatenate([HAND_TRAIN[:4], [train_row]]), rtol=1e-6)
    np.testing.assert_allclose(cleaned.x_val, val, rtol=1e-6)
    np.testing.assert_allclose(cleaned.x_test, test, rtol=1e-6)
    np.testing.assert_array_equal(cleaned.w_train, np.arange(5.0))
    assert report.entries == {"train": 2, "val": 2, "test": 2} and report.removed == 0
    # The same treatment compiled, with a traced threshold, gives the same numbers.
    fence = jax.jit(OutlierFence.fit, static_argnames="method")(HAND_TRAIN, "iqr", jnp.float32(1.5))
    np.testing.assert_allclose(jax.jit(fence.apply, static_argnames="how")(HAND_VAL, how), val, rtol=1e-6)


@pytest.mark.parametrize("how", clean.TREATMENTS)
def test_images_treat_each_pixel_position_as_a_feature(how):
    images = calm((30, 4, 4, 2), seed=1)
    images[6, 1, 2, 0] = 9.0
    images[13, 3, 0, 1] = -9.0
    data = make_data(images, x_val=images[:3], x_test=images[3:7])
    flat = make_data(images.reshape(30, -1), x_val=images[:3].reshape(3, -1), x_test=images[3:7].reshape(4, -1))
    cleaned, report = clean_outliers(data, "iqr", how)
    cleaned_flat, report_flat = clean_outliers(flat, "iqr", how)
    assert report.fence.low.shape == (4, 4, 2)
    assert report.entries == report_flat.entries and report.examples["train"] == 2
    for name in ("x_train", "x_val", "x_test"):
        got = np.asarray(getattr(cleaned, name))
        np.testing.assert_array_equal(got.reshape(got.shape[0], -1), getattr(cleaned_flat, name))
    if how == "remove":
        np.testing.assert_array_equal(cleaned.x_train, np.delete(images, [6, 13], axis=0))
    else:  # only the two planted pixels change
        changed = np.argwhere(np.asarray(cleaned.x_train) != images).tolist()
        assert changed == [[6, 1, 2, 0], [13, 3, 0, 1]]


@pytest.mark.parametrize("method", clean.METHODS)
def test_regression_data_keeps_its_targets_aligned(method):
    x_train = planted([(4, 0), (9, 1)], 30.0)
    data = make_data(x_train, x_val=calm((6, 3), seed=2), task="regression")
    cleaned, report = clean_outliers(data, method, "remove")
    # The test split is x_train[4:8], planted row 4 included: flagged, counted, kept.
    assert report.removed == 2 and report.examples == {"train": 2, "val": 0, "test": 1}
    np.testing.assert_array_equal(cleaned.x_test, x_train[4:8])
    np.testing.assert_array_equal(cleaned.y_test, data.y_test)
    keep = np.delete(np.arange(40), [4, 9])
    np.testing.assert_array_equal(cleaned.x_train, x_train[keep])
    np.testing.assert_array_equal(cleaned.y_train, np.asarray(data.y_train)[keep])
    assert cleaned.task == "regression" and cleaned.num_classes == 0 and cleaned.y_train.dtype == jnp.float32
    median, _ = clean_outliers(data, method, "median")  # inputs change, targets never do
    np.testing.assert_array_equal(median.y_train, data.y_train)
    assert np.count_nonzero(np.asarray(median.x_train) != x_train) == 2


@pytest.mark.parametrize("method", clean.METHODS)
def test_flagging_does_not_depend_on_standardising(method):
    # Any per-feature a x + b with a > 0, standardisation included, flags the same entries.
    x = planted([(5, 0), (17, 1), (33, 2)], 30.0)
    x[33, 2] = -30.0
    scale, shift = np.array([0.01, 7.0, 250.0], np.float32), np.array([-3.0, 0.5, 1e3], np.float32)
    entries = [clean_outliers(make_data(xs), method, "mean")[1].entries for xs in (x, x * scale + shift)]
    assert entries[0] == entries[1] and entries[0]["train"] == 3


@pytest.mark.parametrize("kwargs,fragment", [
    ({"method": "mad"}, "method must be one of 'iqr', 'zscore', got 'mad'"),
    ({"method": "z-score"}, "did you mean 'zscore'?"),
    ({"how": "drop"}, "how must be one of 'remove', 'mean', 'median', 'winsorize', got 'drop'"),
    ({"how": "winsorise"}, "did you mean 'winsorize'?"),
    ({"threshold": -1.0}, "threshold must be a finite number >= 0"),
    ({"threshold": float("nan")}, "threshold must be a finite number >= 0"),
    ({"threshold": float("inf")}, "got inf"),
    ({"threshold": "3"}, "threshold must be a finite number >= 0"),
])
def test_bad_arguments_give_one_line_errors_with_the_choices(kwargs, fragment):
    for call in (lambda: clean_outliers(make_data(TRAIN), **kwargs),
                 lambda: OutlierFence.fit(TRAIN, kwargs.get("method", "iqr"), kwargs.get("threshold"))
                 if "how" not in kwargs else OutlierFence.fit(TRAIN).apply(TRAIN, kwargs["how"])):
        with pytest.raises(ValueError) as error:
            call()
        assert fragment in str(error.value) and "\n" not in str(error.value)


def test_non_finite_inputs_are_refused_naming_them():
    x = TRAIN.copy()
    x[1, 1] = np.nan
    with pytest.raises(ValueError, match="x_train holds 1 non-finite values") as error:
        OutlierFence.fit(x)
    assert "\n" not in str(error.value)
    bad = Data(jnp.asarray(x), jnp.zeros(40, jnp.int32), jnp.asarray(TRAIN), jnp.zeros(40, jnp.int32),
               jnp.asarray(TRAIN), jnp.zeros(40, jnp.int32), 1)
    with pytest.raises(DataError, match="training split: 1 non-finite input values"):
        clean_outliers(bad)


def test_doctests():
    assert doctest.testmod(clean).failed == 0
