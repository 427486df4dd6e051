"""Tests for jaxdl.data: digits, IDX and CIFAR-10 files, splits, standardisation, batches."""

import gzip
import os
import pickle
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data
from jaxdl.data import DataError


# ---------------------------------------------------------------------------
# Embedded digits


def test_load_digits_flat_and_images():
    flat = data.load_digits(flat=True)
    images = data.load_digits(flat=False)
    assert flat.x.shape == (1797, 64) and flat.x.dtype == np.float32
    assert images.x.shape == (1797, 8, 8, 1) and images.x.dtype == np.float32
    assert flat.y.shape == (1797,) and flat.y.dtype == np.int32
    assert flat.num_classes == 10
    assert flat.x.min() == 0.0 and flat.x.max() == 1.0
    # Raw values are counts 0..16, so scaled values are multiples of 1/16.
    np.testing.assert_array_equal(flat.x * 16, np.round(flat.x * 16))
    np.testing.assert_array_equal(images.x.reshape(1797, 64), flat.x)
    assert set(np.unique(flat.y)) == set(range(10))


def test_load_dispatcher():
    digits = data.load("digits")
    assert digits.x.shape == (1797, 64)
    assert data.load("Digits", flat=False).x.shape == (1797, 8, 8, 1)
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        data.load("svhn")
    with pytest.raises(ValueError, match="data_dir"):
        data.load("mnist")
    with pytest.raises(ValueError, match="split_dataset"):
        data.load("digits", split="train")


# ---------------------------------------------------------------------------
# IDX files


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">i", size) for size in array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, payload: bytes, gz: bool = False):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as handle:
            handle.write(payload)
        return str(path) + ".gz"
    with open(path, "wb") as handle:
        handle.write(payload)
    return str(path)


def fake_mnist(directory, prefix="train", count=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    write(directory / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(directory / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write(tmp_path / "a-idx3-ubyte", idx_bytes(array), gz)
    np.testing.assert_array_equal(data.read_idx(path), array)
    floats = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    path = write(tmp_path / "f-idx2", idx_bytes(floats, 0x0D), gz)
    np.testing.assert_array_equal(data.read_idx(path), floats)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_style_loaders(tmp_path, loader, gz):
    train_images, train_labels = fake_mnist(tmp_path, "train", 5, gz, seed=1)
    test_images, test_labels = fake_mnist(tmp_path, "t10k", 3, gz, seed=2)
    train = loader(tmp_path)
    assert train.x.shape == (5, 784) and train.x.dtype == np.float32
    np.testing.assert_allclose(train.x, train_images.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(train.y, train_labels)
    assert train.y.dtype == np.int32
    test = loader(str(tmp_path), split="test", flat=False)
    assert test.x.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(test.x[..., 0], test_images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(test.y, test_labels)


def test_load_by_name_reads_files(tmp_path):
    _, labels = fake_mnist(tmp_path, "t10k", 4)
    dataset = data.load("fashion-mnist", tmp_path, split="test")
    np.testing.assert_array_equal(dataset.y, labels)


def test_idx_missing_directory_and_file(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_mnist(missing)
    fake_mnist(tmp_path, "train")
    os.remove(tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load_mnist(tmp_path, split="test")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path, gz):
    images, _ = fake_mnist(tmp_path, "train", 5)
    payload = idx_bytes(images)[:-100]
    name = "train-images-idx3-ubyte"
    os.remove(tmp_path / name)
    write(tmp_path / name, payload, gz)
    with pytest.raises(DataError, match=f"{name}.*truncated"):
        data.load_mnist(tmp_path)


def test_idx_truncated_gzip_stream(tmp_path):
    images, _ = fake_mnist(tmp_path, "train", 5)
    os.remove(tmp_path / "train-images-idx3-ubyte")
    path = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images), gz=True)
    with open(path, "rb") as handle:
        compressed = handle.read()
    with open(path, "wb") as handle:
        handle.write(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
        data.load_mnist(tmp_path)


def test_idx_header_only_truncated(tmp_path):
    path = write(tmp_path / "short", b"\x00\x00")
    with pytest.raises(DataError, match="short.*truncated"):
        data.read_idx(path)


def test_idx_wrong_magic(tmp_path):
    fake_mnist(tmp_path, "train")
    labels = np.zeros(5, dtype=np.uint8)
    # A label file whose magic says three dimensions where the loader needs one.
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels.reshape(5, 1, 1)))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*wrong magic number 0x00000803"):
        data.load_mnist(tmp_path)
    # A file that is not IDX at all.
    write(tmp_path / "train-labels-idx1-ubyte", b"GIF89a" + bytes(20))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*wrong magic number"):
        data.load_mnist(tmp_path)


def test_idx_count_mismatch(tmp_path):
    fake_mnist(tmp_path, "train", 5)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match="5 images.*4 labels"):
        data.load_mnist(tmp_path)


# ---------------------------------------------------------------------------
# CIFAR-10


def fake_cifar(root, counts=(2, 3, 1, 2, 2), test_count=3):
    directory = root / "cifar-10-batches-py"
    directory.mkdir()
    rng = np.random.default_rng(0)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, count in zip(names, list(counts) + [test_count]):
        rows = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count).tolist()
        with open(directory / name, "wb") as handle:
            pickle.dump({b"batch_label": b"x", b"data": rows, b"labels": labels}, handle)
        written[name] = (rows, labels)
    return directory, written


def test_cifar10_loader(tmp_path):
    directory, written = fake_cifar(tmp_path)
    train = data.load_cifar10(tmp_path)  # the parent directory works
    assert train.x.shape == (10, 3072) and train.x.dtype == np.float32
    labels = sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    np.testing.assert_array_equal(train.y, labels)
    test = data.load_cifar10(directory, split="test", flat=False)  # so does the batches dir
    assert test.x.shape == (3, 32, 32, 3)
    rows, test_labels = written["test_batch"]
    np.testing.assert_array_equal(test.y, test_labels)
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, row-major.
    first = rows[0]
    assert test.x[0, 0, 0, 0] == pytest.approx(first[0] / 255.0)
    assert test.x[0, 0, 1, 0] == pytest.approx(first[1] / 255.0)
    assert test.x[0, 1, 0, 0] == pytest.approx(first[32] / 255.0)
    assert test.x[0, 0, 0, 1] == pytest.approx(first[1024] / 255.0)
    assert test.x[0, 2, 3, 2] == pytest.approx(first[2048 + 2 * 32 + 3] / 255.0)
    # Flat is the NHWC image reshaped.
    flat_test = data.load("cifar10", tmp_path, split="test")
    np.testing.assert_array_equal(flat_test.x, test.x.reshape(3, -1))


def test_cifar10_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        data.load_cifar10(tmp_path / "absent")
    directory, _ = fake_cifar(tmp_path)
    os.remove(directory / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        data.load_cifar10(tmp_path)

    with open(directory / "test_batch", "rb") as handle:
        payload = handle.read()
    with open(directory / "test_batch", "wb") as handle:
        handle.write(payload[: len(payload) // 2])
    with pytest.raises(DataError, match="test_batch.*truncated"):
        data.load_cifar10(tmp_path, split="test")

    with open(directory / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, handle)
    with pytest.raises(DataError, match=r"test_batch.*\(N, 3072\)"):
        data.load_cifar10(tmp_path, split="test")

    with open(directory / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8)}, handle)
    with pytest.raises(DataError, match="test_batch.*labels"):
        data.load_cifar10(tmp_path, split="test")

    with open(directory / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, handle)
    with pytest.raises(DataError, match="test_batch.*2 images"):
        data.load_cifar10(tmp_path, split="test")


def test_cifar10_refuses_foreign_pickles(tmp_path):
    directory, _ = fake_cifar(tmp_path)
    with open(directory / "test_batch", "wb") as handle:
        pickle.dump({b"data": os.getcwd, b"labels": []}, handle)
    with pytest.raises(DataError, match="test_batch.*refusing"):
        data.load_cifar10(tmp_path, split="test")


# ---------------------------------------------------------------------------
# Splits


@pytest.mark.parametrize(
    "fractions, sizes",
    [((0.6, 0.2, 0.2), (60, 20, 20)), ((0.98, 0.01, 0.01), (98, 1, 1)), ((0.7, 0.3), (70, 30))],
)
def test_split_sizes_and_partition(fractions, sizes):
    parts = data.split_indices(100, fractions, key=3)
    assert tuple(len(p) for p in parts) == sizes
    joined = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(joined), np.arange(100))


def test_split_rounding_sums_to_total():
    parts = data.split_indices(1797, (0.6, 0.2, 0.2), key=0)
    sizes = [len(p) for p in parts]
    assert sum(sizes) == 1797
    for size, fraction in zip(sizes, (0.6, 0.2, 0.2)):
        assert abs(size - fraction * 1797) < 1


def test_split_seed_and_shuffle():
    a = data.split_indices(50, (0.6, 0.2, 0.2), key=1)
    b = data.split_indices(50, (0.6, 0.2, 0.2), key=jax.random.key(1))
    c = data.split_indices(50, (0.6, 0.2, 0.2), key=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(np.sort(a[0]), np.arange(30))  # shuffled
    ordered = data.split_indices(50, (0.6, 0.2, 0.2), shuffle=False)
    np.testing.assert_array_equal(ordered[0], np.arange(30))
    np.testing.assert_array_equal(ordered[2], np.arange(40, 50))


def test_split_fraction_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        data.split_indices(10, (0.6, 0.2, 0.1))
    with pytest.raises(ValueError, match="non-negative"):
        data.split_indices(10, (1.2, -0.2))
    with pytest.raises(ValueError, match="labels"):
        data.split_indices(10, (0.5, 0.5), stratify=True)


@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.5, 0.3, 0.2)])
def test_stratified_split_keeps_class_proportions(fractions):
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=503, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    parts = data.split_indices(labels, fractions, key=7, stratify=True)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(503))
    class_sizes = np.bincount(labels, minlength=5)
    for part, fraction in zip(parts, fractions):
        in_part = np.bincount(labels[part], minlength=5)
        assert np.all(np.abs(in_part - fraction * class_sizes) < 1), (in_part, class_sizes)
        assert abs(len(part) - fraction * 503) < 2.5


def test_unstratified_split_can_break_proportions():
    # Guard against the stratification test passing by accident: without
    # stratifying, the same labels leave some class off by more than one.
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=503, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    parts = data.split_indices(labels, (0.6, 0.2, 0.2), key=7, stratify=False)
    class_sizes = np.bincount(labels, minlength=5)
    errors = [
        np.max(np.abs(np.bincount(labels[p], minlength=5) - f * class_sizes))
        for p, f in zip(parts, (0.6, 0.2, 0.2))
    ]
    assert max(errors) >= 1


def test_split_dataset_digits_stratified():
    digits = data.load_digits()
    train, val, test = data.split_dataset(digits, (0.6, 0.2, 0.2), key=0, stratify=True)
    assert len(train.y) + len(val.y) + len(test.y) == 1797
    assert train.num_classes == 10
    class_sizes = np.bincount(digits.y)
    for part, fraction in zip((train, val, test), (0.6, 0.2, 0.2)):
        assert np.all(np.abs(np.bincount(part.y, minlength=10) - fraction * class_sizes) < 1)
    # Rows stay paired with their labels.
    rows = {tuple(row): label for row, label in zip(digits.x.tolist(), digits.y.tolist())}
    assert all(rows[tuple(row)] == label for row, label in zip(val.x.tolist(), val.y.tolist()))


# ---------------------------------------------------------------------------
# Standardisation


def test_standardizer_uses_training_statistics():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, size=(200, 4)).astype(np.float32)
    x_val = rng.normal(5.0, 1.0, size=(50, 4)).astype(np.float32)
    stats = data.Standardizer.fit(x_train)
    np.testing.assert_allclose(stats.mean, x_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, x_train.std(axis=0), rtol=1e-5)  # ddof 0
    z_train = stats.apply(x_train)
    np.testing.assert_allclose(np.mean(z_train, axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.std(z_train, axis=0), 1.0, atol=1e-5)
    z_val = stats.apply(x_val)
    expected = (x_val - x_train.mean(axis=0)) / x_train.std(axis=0)
    np.testing.assert_allclose(z_val, expected, rtol=1e-4, atol=1e-5)
    # Validation data are not re-centred on their own mean.
    assert np.all(np.abs(np.mean(z_val, axis=0)) > 0.5)
    np.testing.assert_allclose(stats.invert(z_val), x_val, rtol=1e-5, atol=1e-5)


def test_standardizer_constant_feature_and_jit():
    x_train = np.array([[0.0, 1.0], [0.0, 3.0]], np.float32)
    stats = jax.jit(data.fit_standardizer)(x_train)
    np.testing.assert_allclose(stats.std, [1.0, 1.0])
    z = jax.jit(data.standardize)(np.array([[0.5, 2.0]], np.float32), stats)
    np.testing.assert_allclose(z, [[0.5, 0.0]])


def test_standardizer_per_channel_images():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(10, 4, 4, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([0.0, 1.0, 2.0])
    stats = data.Standardizer.fit(images, axis=(0, 1, 2))
    assert stats.mean.shape == (1, 1, 3)
    np.testing.assert_allclose(stats.mean.ravel(), images.mean(axis=(0, 1, 2)), rtol=1e-5)
    z = stats.apply(images)
    np.testing.assert_allclose(np.asarray(z).std(axis=(0, 1, 2)), 1.0, rtol=1e-4)


# ---------------------------------------------------------------------------
# Mini-batches


def test_steps_per_epoch_and_errors():
    assert data.steps_per_epoch(100, 32) == 3
    assert data.steps_per_epoch(64) == 2  # default batch size 32
    assert data.steps_per_epoch(10, 10) == 1
    for bad in (0, -4, 11):
        with pytest.raises(ValueError, match="batch_size"):
            data.steps_per_epoch(10, bad)
    with pytest.raises(ValueError, match="batch_size"):
        data.epoch_batches(jax.random.key(0), 10, 2.5)


def test_epoch_batches_are_a_permutation_subset():
    batches = np.asarray(data.epoch_batches(jax.random.key(0), 100, 7))
    assert batches.shape == (14, 7) and batches.dtype == np.int32
    flat = batches.ravel()
    assert len(np.unique(flat)) == flat.size == 98
    assert flat.min() >= 0 and flat.max() < 100
    assert not np.array_equal(flat, np.arange(98))


def test_epoch_batches_keys_and_jit():
    make = jax.jit(data.epoch_batches, static_argnums=(1, 2))
    key_a, key_b = jax.random.key(1), jax.random.key(2)
    a1, a2, b = make(key_a, 64, 16), make(key_a, 64, 16), make(key_b, 64, 16)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(a1, data.epoch_batches(key_a, 64, 16))
    assert not np.array_equal(a1, b)
    assert make._cache_size() == 1


def test_epoch_batches_in_scan_and_vmap():
    x = jnp.arange(40.0)

    @jax.jit
    def epoch_sum(key):
        def step(total, indices):
            return total + jnp.sum(data.take(x, indices)), None

        total, _ = jax.lax.scan(step, 0.0, data.epoch_batches(key, 40, 8))
        return total

    # Batch size divides 40, so every example is seen exactly once.
    assert float(epoch_sum(jax.random.key(0))) == pytest.approx(float(jnp.sum(x)))
    keys = jax.random.split(jax.random.key(0), 3)
    stacked = jax.vmap(lambda k: data.epoch_batches(k, 40, 8))(keys)
    assert stacked.shape == (3, 5, 8)
    assert not np.array_equal(stacked[0], stacked[1])


@pytest.mark.parametrize("n", [1, 2, 7, 128, 1078, 1626, 5000])
def test_permutation_is_jax_random_permutation_bit_for_bit(n):
    """1,626 is the first size JAX shuffles in two rounds."""
    keys = jax.random.split(jax.random.key(n), 64)
    ours = jax.jit(jax.vmap(lambda k: data.permutation(k, n)))(keys)
    theirs = jax.vmap(lambda k: jax.random.permutation(k, n))(keys)
    assert ours.dtype == jnp.int32
    np.testing.assert_array_equal(ours, theirs)


def test_stable_argsort_orders_ties_by_position():
    rng = np.random.default_rng(0)
    for size, distinct in [(1000, 7), (1000, 1), (33, 33), (5, 2)]:
        keys = rng.integers(0, distinct, size).astype(np.uint32)
        got = data._stable_argsort(jnp.asarray(keys), max(1, (size - 1).bit_length()))
        np.testing.assert_array_equal(got, np.argsort(keys, kind="stable"))


def test_take_pytree():
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    bx, by = data.take((x, y), jnp.array([4, 1]))
    np.testing.assert_array_equal(bx, x[[4, 1]])
    np.testing.assert_array_equal(by, [4, 1])
