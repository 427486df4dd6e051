"""Tests for jaxdl.data.Data: data of one's own (arrays, npz, csv), checks, fingerprints, Data.load."""

import csv
import doctest
import gzip
import os
import struct

import jax
import numpy as np
import pytest
from sklearn import datasets as sk_datasets

from jaxdl import data
from jaxdl.data import Data, DataError

SPLITS = (("x_train", "y_train"), ("x_val", "y_val"), ("x_test", "y_test"))
FIELDS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


@pytest.fixture(scope="module")
def diabetes():
    bunch = sk_datasets.load_diabetes()
    return np.asarray(bunch.data), np.asarray(bunch.target)  # float64 (442, 10), float64 (442,)


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def assert_same(a: Data, b: Data):
    """Identical arrays, dtypes and static fields."""
    for name in FIELDS + ("w_train",):
        left, right = getattr(a, name), getattr(b, name)
        if left is None or right is None:
            assert left is None and right is None, name
            continue
        left, right = np.asarray(left), np.asarray(right)
        assert left.dtype == right.dtype and left.shape == right.shape, name
        np.testing.assert_array_equal(left, right, err_msg=name)
    assert (a.task, a.num_classes, a.split_seed) == (b.task, b.num_classes, b.split_seed)


def test_from_arrays_doctest():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(Data.from_arrays, "Data.from_arrays", globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 5


# ---------------------------------------------------------------------------
# from_arrays


def test_from_arrays_digits_classification_stratified(digits):
    got = Data.from_arrays(digits.x, digits.y, seed=3, standardize=False)
    assert got.task == "classification" and got.num_classes == 10 and got.out_features == 10
    assert got.target_shape == () and got.split_seed == 3 and got.w_train is None
    assert got.x_train.dtype == np.float32 and got.y_train.dtype == np.int32
    sizes = [got.y_train.shape[0], got.y_val.shape[0], got.y_test.shape[0]]
    assert sum(sizes) == 1797
    for size, fraction in zip(sizes, (0.6, 0.2, 0.2)):
        assert abs(size - fraction * 1797) < 10  # within one per class
    # Stratified: every class's count in every split within one of its share.
    class_sizes = np.bincount(digits.y, minlength=10)
    for (_, y_name), fraction in zip(SPLITS, (0.6, 0.2, 0.2)):
        counts = np.bincount(np.asarray(getattr(got, y_name)), minlength=10)
        assert np.all(np.abs(counts - fraction * class_sizes) < 1)
    # The same rows as split_indices gives, no standardisation asked.
    parts = data.split_indices(digits.y, (0.6, 0.2, 0.2), key=3, stratify=True)
    for (x_name, y_name), idx in zip(SPLITS, parts):
        np.testing.assert_array_equal(np.asarray(getattr(got, x_name)), digits.x[idx])
        np.testing.assert_array_equal(np.asarray(getattr(got, y_name)), digits.y[idx])


def test_from_arrays_diabetes_regression_not_stratified(diabetes):
    x, y = diabetes
    got = Data.from_arrays(x, y, seed=1, standardize=False)
    assert got.task == "regression" and got.num_classes == 0
    assert got.out_features == 1 and got.target_shape == ()
    assert got.y_train.dtype == np.float32 and got.x_train.dtype == np.float32
    parts = data.split_indices(442, (0.6, 0.2, 0.2), key=1, stratify=False)
    assert sum(p.size for p in parts) == 442
    assert all(abs(p.size - f * 442) < 1 for p, f in zip(parts, (0.6, 0.2, 0.2)))
    for (x_name, y_name), idx in zip(SPLITS, parts):
        np.testing.assert_array_equal(np.asarray(getattr(got, x_name)), x[idx].astype(np.float32))
        np.testing.assert_array_equal(np.asarray(getattr(got, y_name)), y[idx].astype(np.float32))


def test_regression_targets_of_any_trailing_shape(diabetes):
    x, y = diabetes
    two = np.stack([y, -y], axis=1)
    got = Data.from_arrays(x, two)
    assert got.target_shape == (2,) and got.out_features == 2 and got.y_val.shape[1:] == (2,)
    grid = Data.from_arrays(x, np.broadcast_to(y[:, None, None], (442, 2, 3)).copy())
    assert grid.target_shape == (2, 3) and grid.out_features == 6


def test_standardisation_uses_training_statistics_only(diabetes):
    x, y = diabetes
    got = Data.from_arrays(x, y, seed=2)
    raw = Data.from_arrays(x, y, seed=2, standardize=False)
    x_train = np.asarray(raw.x_train, np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    np.testing.assert_allclose(np.asarray(got.x_train).mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(got.x_train).std(axis=0), 1, atol=1e-5)
    for name in ("x_val", "x_test"):
        np.testing.assert_allclose(np.asarray(getattr(got, name)), (np.asarray(getattr(raw, name)) - mean) / std,
                                   rtol=1e-4, atol=1e-5)
    # Statistics of all the data would give other numbers: nothing leaks from val/test.
    all_mean = x.mean(axis=0)
    assert not np.allclose(all_mean, mean, atol=1e-4)


@pytest.mark.parametrize(
    "y, task, expected_task, num_classes, dtype",
    [
        (np.array([0, 1, 2, 1] * 10, np.int64), None, "classification", 3, np.int32),
        (np.array([0, 1, 2, 1] * 10, np.uint8), None, "classification", 3, np.int32),
        (np.array([False, True] * 20), None, "classification", 2, np.int32),
        (np.array([0.5, 1.0, 2.0, 1.5] * 10), None, "regression", 0, np.float32),
        (np.array([0.0, 1.0, 3.0, 1.0] * 10), "classification", "classification", 4, np.int32),
        (np.array([0, 1, 2, 1] * 10), "regression", "regression", 0, np.float32),
    ],
)
def test_task_inference(y, task, expected_task, num_classes, dtype):
    x = np.arange(80, dtype=np.float64).reshape(40, 2)
    got = Data.from_arrays(x, y, task=task)
    assert got.task == expected_task and got.num_classes == num_classes
    assert got.y_train.dtype == dtype


def test_unknown_task_suggests_a_name(digits):
    with pytest.raises(ValueError, match="did you mean 'regression'"):
        Data.from_arrays(digits.x, digits.y, task="regresion")
    with pytest.raises(ValueError, match="stratify=True"):
        Data.from_arrays(digits.x, digits.y.astype(float), stratify=True)


def test_given_test_set_is_kept_and_rest_cut_train_to_val(digits):
    x, y = digits.x[:1500], digits.y[:1500]
    x_test, y_test = digits.x[1500:], digits.y[1500:]
    got = Data.from_arrays(x, y, x_test=x_test, y_test=y_test, fractions=(0.6, 0.2, 0.2), standardize=False)
    np.testing.assert_array_equal(np.asarray(got.x_test), x_test)
    np.testing.assert_array_equal(np.asarray(got.y_test), y_test)
    train_idx, val_idx = data.split_indices(y, (0.75, 0.25), key=0, stratify=True)
    np.testing.assert_array_equal(np.asarray(got.y_train), y[train_idx])
    np.testing.assert_array_equal(np.asarray(got.y_val), y[val_idx])


def test_weights_follow_the_training_rows(diabetes):
    x, y = diabetes
    weights = np.linspace(0.0, 2.0, 442)
    got = Data.from_arrays(x, y, weights=weights, seed=4)
    train_idx = data.split_indices(442, (0.6, 0.2, 0.2), key=4)[0]
    assert got.w_train.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got.w_train), weights[train_idx].astype(np.float32))
    # A pytree: the weights are a leaf and everything passes through jit.
    assert len(jax.tree.leaves(got)) == 7
    total = jax.jit(lambda d: d.w_train.sum() + d.x_train.sum())(got)
    assert np.isfinite(float(total))


# ---------------------------------------------------------------------------
# Files


def test_npz_round_trip(tmp_path, digits):
    path = tmp_path / "digits.npz"
    np.savez(path, x=digits.x, y=digits.y.astype(np.int64))
    assert_same(Data.from_file(path, seed=5), Data.from_arrays(digits.x, digits.y, seed=5))
    assert_same(Data.load(str(path), seed=5), Data.from_arrays(digits.x, digits.y, seed=5))
    assert_same(Data.load("digits.npz", tmp_path, seed=5), Data.from_arrays(digits.x, digits.y, seed=5))


def test_npz_with_given_splits_is_not_resplit(tmp_path, diabetes):
    x, y = diabetes
    path = tmp_path / "splits.npz"
    np.savez(path, x=x[:300], y=y[:300], x_val=x[300:370], y_val=y[300:370], x_test=x[370:], y_test=y[370:])
    got = Data.from_file(path, standardize=False)
    np.testing.assert_array_equal(np.asarray(got.x_train), x[:300].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(got.y_val), y[300:370].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(got.y_test), y[370:].astype(np.float32))
    with_test_only = tmp_path / "test_only.npz"
    np.savez(with_test_only, x=x[:370], y=y[:370], x_test=x[370:], y_test=y[370:])
    assert_same(Data.from_file(with_test_only), Data.from_arrays(x[:370], y[:370], x_test=x[370:], y_test=y[370:]))
    with_val_only = tmp_path / "val_only.npz"
    np.savez(with_val_only, x=x[:370], y=y[:370], x_val=x[370:], y_val=y[370:])
    val_only = Data.from_file(with_val_only, standardize=False)
    np.testing.assert_array_equal(np.asarray(val_only.y_val), y[370:].astype(np.float32))
    assert val_only.y_train.shape[0] + val_only.y_test.shape[0] == 370
    assert val_only.y_test.shape[0] == round(370 * 0.25)


def write_csv(path, names, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(rows)
    return path


def test_csv_round_trip_regression(tmp_path, diabetes):
    x, y = diabetes
    names = [f"f{i}" for i in range(10)]
    # The target in the middle, named; every float written exactly (repr).
    rows = [[repr(float(v)) for v in row[:4]] + [repr(float(t))] + [repr(float(v)) for v in row[4:]]
            for row, t in zip(x, y)]
    path = write_csv(tmp_path / "diabetes.csv", names[:4] + ["progression"] + names[4:], rows)
    got = Data.from_file(path, target="progression", seed=2)
    assert got.task == "regression"
    assert_same(got, Data.from_arrays(x, y, seed=2))
    assert_same(Data.load(str(path), target="progression", seed=2), got)


def test_csv_round_trip_classification_last_column(tmp_path, digits):
    rows = [[repr(float(v)) for v in row] + [str(label)] for row, label in zip(digits.x, digits.y)]
    path = write_csv(tmp_path / "digits.csv", [f"p{i}" for i in range(64)] + ["digit"], rows)
    got = Data.from_file(path)
    assert got.task == "classification" and got.num_classes == 10
    assert_same(got, Data.from_arrays(digits.x, digits.y))


def test_csv_float_looking_integers_are_regression(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "t"], [[i, i * 2, f"{i}.0"] for i in range(20)])
    assert Data.from_file(path).task == "regression"
    path = write_csv(tmp_path / "e.csv", ["a", "b", "t"], [[i, i * 2, f"{i}e0"] for i in range(20)])
    assert Data.from_file(path).task == "regression"
    assert Data.from_file(path, task="classification").num_classes == 20


# ---------------------------------------------------------------------------
# Checks


def val_rows(n=100, seed=0, fractions=(0.6, 0.2, 0.2)):
    return data.split_indices(n, fractions, key=seed)[1]


def small():
    rng = np.random.default_rng(0)
    return rng.normal(size=(100, 4)), np.arange(100) % 5


def nan_in_val():
    x, y = small()
    x[data.split_indices(y, (0.6, 0.2, 0.2), key=0, stratify=True)[1][:3], 1] = np.nan
    return Data.from_arrays(x, y)


def inf_target_in_test():
    x, y = small()
    targets = y.astype(np.float64)
    targets[data.split_indices(100, (0.6, 0.2, 0.2), key=0)[2][0]] = np.inf
    return Data.from_arrays(x, targets)


def direct(**changes):
    x, y = small()
    fields = dict(x_train=x[:60], y_train=y[:60], x_val=x[60:80], y_val=y[60:80], x_test=x[80:], y_test=y[80:],
                  num_classes=5)
    fields.update(changes)
    return Data(**fields).check()


ERRORS = [
    ("non-finite inputs", nan_in_val, "validation split: 3 non-finite input values (NaN or inf)"),
    ("labels out of range", lambda: Data.from_arrays(*small(), num_classes=3),
     "training split: 24 labels outside [0, 3): [3, 4]"),
    ("negative labels", lambda: direct(y_test=np.full(20, -1)), "test split: 20 labels outside [0, 5): [-1]"),
    ("non-integer labels", lambda: Data.from_arrays(small()[0], small()[1] + 0.5, task="classification"),
     "training split: 60 non-integer labels (e.g. [0.5, 1.5, 2.5, ...])"),
    ("non-numeric inputs", lambda: Data.from_arrays(small()[0].astype(str), small()[1]),
     "training split: inputs are not numeric (dtype <U"),
    ("non-numeric targets", lambda: direct(y_val=np.array(["a"] * 20)), "validation split: labels are not numbers"),
    ("non-numeric y", lambda: Data.from_arrays(small()[0], np.array(["a"] * 100)), "not numbers; cannot infer"),
    ("empty split", lambda: Data.from_arrays(*small(), fractions=(1.0, 0.0, 0.0)),
     "validation split: no examples (empty split)"),
    ("x/y lengths differ", lambda: direct(x_val=small()[0][:19]), "validation split: 19 inputs but 20 targets"),
    ("x/y lengths differ before the split", lambda: Data.from_arrays(small()[0], small()[1][:99]),
     "x and y must hold as many examples"),
    ("negative weights", lambda: Data.from_arrays(*small(), weights=-np.ones(100)),
     "training split: 60 negative weights ([-1]); weights must be >= 0"),
    ("weights of the wrong length", lambda: Data.from_arrays(*small(), weights=np.ones(99)),
     "weights of shape (99,) for 100 examples"),
    ("w_train of the wrong length", lambda: direct(w_train=np.ones(59)),
     "training split: weights of shape (59,) for 60 examples"),
    ("non-finite regression targets", inf_target_in_test, "test split: 1 non-finite target values (NaN or inf)"),
    ("inputs without a feature axis", lambda: Data.from_arrays(small()[0][:, 0], small()[1]),
     "training split: inputs need an example axis and a feature axis"),
    ("input shapes differ", lambda: direct(x_test=small()[0][80:, :3]),
     "test split: inputs of shape (3,) per example, the training split has (4,)"),
    ("float64 overflow", lambda: Data.from_arrays(np.full((100, 4), 1e300), small()[1]),
     "training split: 240 input values too large for float32"),
]


@pytest.mark.parametrize("build, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_check_errors_name_the_split(build, message):
    with pytest.raises(DataError) as info:
        build()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_check_passes_and_chains(digits):
    good = Data.from_arrays(digits.x, digits.y)
    assert good.check() is good


def test_check_batch_size(diabetes):
    x, y = diabetes
    got = Data.from_arrays(x[:100], y[:100], fractions=(0.4, 0.3, 0.3))
    got.check_batch_size(40)
    with pytest.raises(DataError, match=r"^batch size 64 is larger than the training split \(40 examples\)$"):
        got.check_batch_size(64)
    with pytest.raises(ValueError, match="positive int"):
        got.check_batch_size(0)


def file_errors(tmp_path):
    """(name, path, build, message) for every file error."""
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,t\n1,2,0\n3,4\n")
    word = tmp_path / "word.csv"
    word.write_text("a,b,t\n1,2,0\n3,four,1\n")
    no_target = write_csv(tmp_path / "cols.csv", ["a", "b", "t"], [[1, 2, 0], [3, 4, 1]])
    no_header = write_csv(tmp_path / "noheader.csv", ["1", "2", "0"], [[3, 4, 1]])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    lacking = tmp_path / "lacking.npz"
    np.savez(lacking, x=np.zeros((10, 2)), labels=np.zeros(10))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file")
    nan_csv = write_csv(tmp_path / "nan.csv", ["a", "t"], [[float("nan") if i == 0 else i, i % 2] for i in range(20)])
    other = tmp_path / "data.txt"
    other.write_text("1,2\n")
    return [
        ("missing", tmp_path / "absent.npz", "no such file"),
        ("directory", tmp_path, "is a directory"),
        ("other suffix", other, "unsupported file type '.txt'"),
        ("ragged", ragged, "line 3 has 2 fields, the header has 3"),
        ("non-numeric cell", word, "line 3, column 'b': 'four' is not a number"),
        ("no target column", no_target, "no column 'label'; the columns are a, b, t"),
        ("no header", no_header, "holds numbers; a CSV needs a header row"),
        ("empty csv", empty, "empty file"),
        ("npz lacking y", lacking, "no array 'y' (the file holds labels, x)"),
        ("corrupt npz", corrupt, "not a readable .npz file"),
        ("checks in a file", nan_csv, "split: 1 non-finite input values"),
    ]


def test_file_errors_name_the_file(tmp_path):
    for name, path, message in file_errors(tmp_path):
        target = "label" if name == "no target column" else None
        with pytest.raises(DataError) as info:
            Data.from_file(path, target=target)
        text = str(info.value)
        assert text.startswith(str(path) + ":"), (name, text)
        assert message in text, (name, text)
        assert "\n" not in text, name


# ---------------------------------------------------------------------------
# Fingerprints


def test_fingerprint_stable_and_sensitive(diabetes):
    x, y = diabetes
    first = Data.from_arrays(x, y, seed=0)
    assert first.fingerprint() == Data.from_arrays(x.copy(), y.copy(), seed=0).fingerprint()
    host = first.replace(**{name: np.asarray(getattr(first, name)) for name in FIELDS})
    assert host.fingerprint() == first.fingerprint()  # device or host copies alike
    assert len(first.fingerprint()) == 64 and int(first.fingerprint(), 16) >= 0
    changed = y.copy()
    changed[17] += 1e-3
    others = [
        Data.from_arrays(x, changed, seed=0),
        Data.from_arrays(x, y, seed=1),
        first.replace(split_seed=None),
        first.replace(w_train=np.ones(first.y_train.shape[0], np.float32)),
        first.replace(y_test=np.asarray(first.y_test, np.float64)),
        first.replace(x_val=np.asarray(first.x_val).reshape(-1, 2, 5)),
    ]
    prints = {first.fingerprint()} | {other.fingerprint() for other in others}
    assert len(prints) == len(others) + 1


# ---------------------------------------------------------------------------
# Data.load keeps its numbers


def old_load(full: data.Dataset, fractions, seed, standardize, test: data.Dataset | None = None):
    """What train.Data.load computed before Data moved: split_dataset + Standardizer."""
    if test is None:
        parts = data.split_dataset(full, fractions, key=seed, stratify=True)
    else:
        share = fractions[1] / (fractions[0] + fractions[1])
        train_part, val_part = data.split_dataset(full, (1 - share, share), key=seed, stratify=True)
        parts = (train_part, val_part, test)
    if standardize:
        standardizer = data.Standardizer.fit(parts[0].x)
        parts = [p._replace(x=standardizer.apply(p.x)) for p in parts]
    return [np.asarray(a) for p in parts for a in (p.x, p.y)], int(parts[0].num_classes)


def assert_matches_old(got: Data, expected):
    arrays, num_classes = expected
    assert got.num_classes == num_classes and got.task == "classification"
    for name, array in zip(FIELDS, arrays):
        value = np.asarray(getattr(got, name))
        assert value.dtype == array.dtype and value.shape == array.shape, name
        np.testing.assert_array_equal(value, array, err_msg=name)


@pytest.mark.parametrize("image, seed, standardize, fractions", [
    (False, 0, True, (0.6, 0.2, 0.2)),
    (True, 1, True, (0.6, 0.2, 0.2)),
    (False, 2, False, (0.8, 0.1, 0.1)),
])
def test_load_digits_unchanged(image, seed, standardize, fractions):
    got = data.Data.load("digits", image=image, seed=seed, standardize=standardize, fractions=fractions)
    assert_matches_old(got, old_load(data.load_digits(flat=not image), fractions, seed, standardize))
    assert got.split_seed == seed


def test_load_default_matches_train_data_load():
    """``train.Data.load("digits")`` (whichever class it is now) gives the same arrays."""
    from jaxdl import train

    old = train.Data.load("digits")
    new = Data.load("digits")
    for name in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(new, name)), np.asarray(getattr(old, name)))
    assert new.num_classes == old.num_classes


def write_fake_mnist(directory, prefix, count, seed):
    rng = np.random.default_rng(seed)
    for kind, shape in (("images-idx3", (count, 28, 28)), ("labels-idx1", (count,))):
        array = rng.integers(0, 256 if kind.startswith("images") else 10, size=shape, dtype=np.uint8)
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", s) for s in array.shape)
        with gzip.open(os.path.join(directory, f"{prefix}-{kind}-ubyte.gz"), "wb") as handle:
            handle.write(header + array.tobytes())


def test_load_file_data_set_with_official_test_split_unchanged(tmp_path):
    write_fake_mnist(tmp_path, "train", 80, seed=1)
    write_fake_mnist(tmp_path, "t10k", 20, seed=2)
    got = Data.load("mnist", tmp_path, seed=3)
    full = data.load("mnist", tmp_path, split="train")
    test = data.load("mnist", tmp_path, split="test")
    assert_matches_old(got, old_load(full, (0.6, 0.2, 0.2), 3, True, test))


def test_from_splits_checks():
    parts = data.split_dataset(data.load_digits(), (0.6, 0.2, 0.2), key=0, stratify=True)
    built = Data.from_splits(*parts)
    assert built.num_classes == 10 and built.task == "classification"
    bad = parts[1]._replace(y=parts[1].y + 5)
    with pytest.raises(DataError, match=r"^validation split: \d+ labels outside \[0, 10\)"):
        Data.from_splits(parts[0], bad, parts[2])
    with pytest.raises(ValueError, match="target names a CSV column"):
        Data.load("digits", target="label")
