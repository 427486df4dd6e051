"""Data: the embedded digits set, local-file loaders, splits, standardisation, batches.

Everything here runs without a network. The default data set is scikit-learn's
copy of the UCI handwritten digits (1,797 images of 8x8 pixels, 10 classes),
which ships inside the scikit-learn wheel. MNIST, Fashion-MNIST and CIFAR-10
are read from files the user has already downloaded; nothing is fetched.

Loaders return a :class:`Dataset` of host (NumPy) arrays: ``x`` as float32
scaled to ``[0, 1]`` and ``y`` as int32 class indices. Images are either flat
vectors (``flat=True``, the default) or NHWC arrays ``(N, H, W, C)``; the flat
form is always the NHWC image reshaped row-major, so the two differ only by a
reshape.

A training run reads a :class:`Data`: train, validation and test arrays
checked, split and standardised, built from a named data set
(:meth:`Data.load`), from arrays of one's own (:meth:`Data.from_arrays`,
classification or regression) or from an ``.npz`` or ``.csv`` file
(:meth:`Data.from_file`).

The pieces that run inside a compiled training loop (:func:`epoch_batches`,
:class:`Standardizer`) are pure ``jax.numpy`` code: they take explicit keys,
keep no hidden state and work under ``jax.jit`` and ``jax.vmap``.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import math
import os
import pickle
import re
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = [
    "DATASETS",
    "TASKS",
    "Data",
    "DataError",
    "Dataset",
    "Standardizer",
    "check_labels",
    "class_balanced_probabilities",
    "epoch_batches",
    "sampled_batches",
    "permutation",
    "fit_standardizer",
    "load",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "split_dataset",
    "split_indices",
    "standardize",
    "steps_per_epoch",
    "take",
]

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")

TASKS = ("classification", "regression")

DEFAULT_BATCH_SIZE = 32


class DataError(ValueError):
    """Data that cannot be used: a file that is missing, truncated, corrupt or of the
    wrong kind, or arrays that fail :meth:`Data.check`."""


class Dataset(NamedTuple):
    """Inputs and integer class labels.

    Attributes:
      x: float32 inputs, ``(N, D)`` when flat or ``(N, H, W, C)`` as images.
      y: int32 class indices in ``[0, num_classes)``, shape ``(N,)``.
      num_classes: number of classes (a Python int).

    Being a ``NamedTuple`` it is a pytree; when passing one through
    ``jax.jit``, pass ``x`` and ``y`` and keep ``num_classes`` static.
    """

    x: np.ndarray
    y: np.ndarray
    num_classes: int


# ---------------------------------------------------------------------------
# Embedded default: scikit-learn's handwritten digits


def load_digits(flat: bool = True) -> Dataset:
    """scikit-learn's handwritten digits, read from the copy bundled with scikit-learn.

    1,797 grey-scale images of 8x8 pixels, digits 0-9 (about 180 per class).
    The raw pixel values are counts 0..16; they are divided by 16 so that
    ``x`` lies in ``[0, 1]``.

    Args:
      flat: return ``x`` as ``(1797, 64)`` vectors (default) or as
        ``(1797, 8, 8, 1)`` NHWC images.

    Returns:
      A :class:`Dataset` with float32 ``x``, int32 ``y`` and ``num_classes=10``.
    """
    from sklearn import datasets as sk_datasets

    bunch = sk_datasets.load_digits()
    x = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(bunch.target, dtype=np.int32)
    if not flat:
        x = x.reshape(-1, 8, 8, 1)
    return Dataset(x=x, y=y, num_classes=10)


# ---------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: str) -> bytes:
    """Whole file contents, transparently un-gzipped when the name ends in ``.gz``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    if path.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (EOFError, OSError, zlib.error) as error:
            raise DataError(f"{path}: truncated or corrupt gzip file ({error})") from error
    with open(path, "rb") as handle:
        return handle.read()


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (the format of MNIST and Fashion-MNIST), gzipped or not.

    Layout (big-endian): two zero bytes, a type code (``0x08`` unsigned byte,
    ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32,
    ``0x0E`` float64), the number of dimensions ``d``, then ``d`` int32
    sizes, then the data in row-major order. Image files therefore start with
    the magic number ``0x00000803`` and label files with ``0x00000801``.

    Args:
      path: the file; a name ending in ``.gz`` is decompressed on the fly.
      expected_ndim: if given, the number of dimensions the header must state.

    Returns:
      The array with its stored dtype and shape.

    Raises:
      FileNotFoundError: the file does not exist.
      DataError: bad magic number, unexpected rank, or a file shorter or
        longer than its header says; the message names the file.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes, no complete header)")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}; an IDX file starts with 0x0000TTDD "
            "(TT a type code such as 08, DD the number of dimensions)"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}: header states {ndim} dimensions, "
            f"expected {expected_ndim} (magic 0x{0x800 + expected_ndim:08X})"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} of {header_size} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected_size = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected_size:
        raise DataError(
            f"{path}: truncated IDX file: header promises shape {shape} "
            f"({expected_size} bytes) but the file has {len(raw)} bytes"
        )
    if len(raw) > expected_size:
        raise DataError(
            f"{path}: IDX file longer than its header says: shape {shape} needs "
            f"{expected_size} bytes, the file has {len(raw)}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _require_dir(data_dir: str | os.PathLike | None, name: str) -> str:
    if data_dir is None:
        raise ValueError(
            f"{name} is read from local files: pass data_dir, the directory holding them "
            "(jaxdl never downloads data)"
        )
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{data_dir}: no such directory (looking for {name} files)")
    return data_dir


def _find_file(data_dir: str, stem: str, name: str) -> str:
    """``stem`` or ``stem.gz`` in ``data_dir`` (also accepting the ``-idx`` -> ``.idx`` spelling)."""
    alternatives = [stem, stem.replace("-idx", ".idx")]
    for candidate in alternatives:
        for suffix in ("", ".gz"):
            path = os.path.join(data_dir, candidate + suffix)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(
        f"{os.path.join(data_dir, stem)}: missing {name} file (looked for {stem} and {stem}.gz)"
    )


def _load_idx_pair(data_dir, split: str, flat: bool, name: str) -> Dataset:
    data_dir = _require_dir(data_dir, name)
    prefixes = {"train": "train", "test": "t10k"}
    if split not in prefixes:
        raise ValueError(f"{name}: split must be 'train' or 'test', got {split!r}")
    prefix = prefixes[split]
    image_path = _find_file(data_dir, f"{prefix}-images-idx3-ubyte", name)
    label_path = _find_file(data_dir, f"{prefix}-labels-idx1-ubyte", name)
    images = read_idx(image_path, expected_ndim=3)
    labels = read_idx(label_path, expected_ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(
            f"{image_path}, {label_path}: expected unsigned-byte data (type code 0x08), "
            f"got {images.dtype} images and {labels.dtype} labels"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{image_path} holds {images.shape[0]} images but {label_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= 10:
        raise DataError(f"{label_path}: label {int(labels.max())} outside 0..9")
    x = images.astype(np.float32) / np.float32(255.0)
    x = x.reshape(x.shape[0], -1) if flat else x[..., None]
    return Dataset(x=x, y=labels.astype(np.int32), num_classes=10)


def load_mnist(data_dir: str | os.PathLike, split: str = "train", flat: bool = True) -> Dataset:
    """MNIST from local IDX files.

    ``data_dir`` must hold ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each may be
    gzipped, with a ``.gz`` suffix). Pixels 0..255 are divided by 255.

    Args:
      data_dir: directory with the four files.
      split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
      flat: ``(N, 784)`` vectors (default) or ``(N, 28, 28, 1)`` images.

    Raises:
      FileNotFoundError: the directory or a file is missing.
      DataError: a file is truncated, has the wrong magic number, or images
        and labels disagree in number.
    """
    return _load_idx_pair(data_dir, split, flat, "MNIST")


def load_fashion_mnist(
    data_dir: str | os.PathLike, split: str = "train", flat: bool = True
) -> Dataset:
    """Fashion-MNIST from local IDX files; same file names and layout as :func:`load_mnist`.

    Ten clothing classes (T-shirt/top, trouser, pullover, dress, coat, sandal,
    shirt, sneaker, bag, ankle boot), 28x28 grey-scale, 60,000 + 10,000 images.
    """
    return _load_idx_pair(data_dir, split, flat, "Fashion-MNIST")


# ---------------------------------------------------------------------------
# CIFAR-10 python batches

_CIFAR_DIR = "cifar-10-batches-py"


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds NumPy arrays and plain containers and nothing else.

    Pickle can run arbitrary code; the CIFAR batches need only ndarray
    reconstruction, so every other global is refused.
    """

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing CIFAR-10 batch file")
    try:
        with open(path, "rb") as handle:
            batch = _ArrayOnlyUnpickler(handle, encoding="bytes").load()
    except EOFError as error:
        raise DataError(f"{path}: truncated CIFAR-10 batch (pickle ended early)") from error
    except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({error})") from error
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError(f"{path}: batch lacks b'data' or b'labels' (keys {sorted(map(str, batch))})")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DataError(
            f"{path}: b'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}"
        )
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {data.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise DataError(f"{path}: labels outside 0..9")
    return data, labels.astype(np.int32)


def load_cifar10(data_dir: str | os.PathLike, split: str = "train", flat: bool = True) -> Dataset:
    """CIFAR-10 from the python version of its batches.

    ``data_dir`` is either the ``cifar-10-batches-py`` directory or its parent.
    The training split concatenates ``data_batch_1`` ... ``data_batch_5``
    (50,000 images), the test split is ``test_batch`` (10,000). Each batch is a
    pickled dict whose ``b'data'`` is uint8 ``(N, 3072)``, every row the red,
    green and blue 32x32 planes in turn, and whose ``b'labels'`` lists ints.
    Rows are turned into NHWC ``(32, 32, 3)`` images and divided by 255.
    Only NumPy arrays are unpickled; any other pickled object is refused.

    Args:
      data_dir: the batches directory or its parent.
      split: ``"train"`` or ``"test"``.
      flat: ``(N, 3072)`` vectors in HWC order (default) or ``(N, 32, 32, 3)``.

    Raises:
      FileNotFoundError: the directory or a batch file is missing.
      DataError: a batch is truncated or not a CIFAR-10 batch.
    """
    data_dir = _require_dir(data_dir, "CIFAR-10")
    nested = os.path.join(data_dir, _CIFAR_DIR)
    if os.path.isdir(nested):
        data_dir = nested
    if split == "train":
        names = [f"data_batch_{i}" for i in range(1, 6)]
    elif split == "test":
        names = ["test_batch"]
    else:
        raise ValueError(f"CIFAR-10: split must be 'train' or 'test', got {split!r}")
    parts = [_read_cifar_batch(os.path.join(data_dir, name)) for name in names]
    data = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([targets for _, targets in parts])
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255.0)
    if flat:
        x = x.reshape(x.shape[0], -1)
    return Dataset(x=x, y=labels, num_classes=10)


def load(
    name: str = "digits",
    data_dir: str | os.PathLike | None = None,
    *,
    split: str | None = None,
    flat: bool = True,
) -> Dataset:
    """Load a data set by name: ``"digits"``, ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.

    Names are case-insensitive and ``-`` counts as ``_`` (``"Fashion-MNIST"``).

    Args:
      name: which data set.
      data_dir: directory with the files; required for everything except
        ``"digits"``, which is embedded.
      split: ``"train"`` (the default for file data sets) or ``"test"``. The
        digits have no official split: leave it ``None`` (or ``"all"``) and use
        :func:`split_dataset`.
      flat: flat vectors (default) or NHWC images.
    """
    key = name.lower().replace("-", "_")
    if key == "digits":
        if split not in (None, "all"):
            raise ValueError(
                f"digits has no predefined {split!r} split; load it whole and use split_dataset"
            )
        return load_digits(flat=flat)
    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10}
    if key not in loaders:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return loaders[key](data_dir, split="train" if split is None else split, flat=flat)


# ---------------------------------------------------------------------------
# Splits


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or fractions.size == 0:
        raise ValueError(f"fractions must be a non-empty sequence, got {fractions!r}")
    if np.any(fractions < 0) or not np.all(np.isfinite(fractions)):
        raise ValueError(f"fractions must be finite and non-negative, got {fractions.tolist()}")
    if abs(fractions.sum() - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must sum to 1, got {fractions.tolist()} (sum {fractions.sum():g})"
        )
    return fractions


def _apportion(total: int, fractions: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total``, each within one of ``total * fraction``.

    Every count starts at the floor of its share ``total * f_k``; the
    ``total - sum(floors)`` examples left over go one each to shares with a
    fractional remainder, highest ``priority`` first (stable, so ties favour
    earlier parts). Only shares with a remainder can receive one, which keeps
    every count strictly within one of its share.
    """
    ideal = total * fractions
    counts = np.floor(ideal).astype(np.int64)
    has_remainder = (ideal - counts) > 1e-9
    left = total - int(counts.sum())
    if left > 0:
        order = np.lexsort((-priority, ~has_remainder))
        counts[order[:left]] += 1
    return counts


def _as_key(key) -> jax.Array:
    if isinstance(key, (int, np.integer)):
        return jax.random.key(int(key))
    return key


def split_indices(
    labels_or_size,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    *,
    key=0,
    shuffle: bool = True,
    stratify: bool = False,
) -> tuple[np.ndarray, ...]:
    """Index arrays that cut ``N`` examples into consecutive parts of the given fractions.

    Sizes: part ``k`` gets ``n_k`` examples with ``sum_k n_k = N`` and
    ``|n_k - f_k N| < 1`` (largest-remainder rounding). With ``stratify=True``
    the same rounding is done per class, so each part holds ``n_{c,k}``
    examples of class ``c`` with ``|n_{c,k} - f_k N_c| < 1``: the class
    proportions of every part match those of the whole to within one example
    per class. Leftover examples are dealt to the parts that are furthest
    below their overall share, which keeps the part sizes near ``f_k N``.

    Args:
      labels_or_size: int ``N``, or the ``(N,)`` integer labels (needed to stratify).
      fractions: one fraction per part, summing to 1, e.g. ``(0.6, 0.2, 0.2)``
        (small data sets) or ``(0.98, 0.01, 0.01)`` (millions of examples).
        A part may come out empty when ``f_k N < 1``.
      key: a ``jax.random`` key or an int seed; the same key gives the same split.
      shuffle: shuffle before cutting (default). With ``shuffle=False`` the
        parts are consecutive runs of the original order (per class when
        stratified) and ``key`` is unused.
      stratify: keep class proportions equal across parts.

    Returns:
      One int64 index array per fraction, in order (e.g. train, val, test).
      Each index array is sorted by its position in the shuffled order.
    """
    fractions = _check_fractions(fractions)
    if isinstance(labels_or_size, (int, np.integer)):
        size = int(labels_or_size)
        labels = None
    else:
        labels = np.asarray(labels_or_size)
        if labels.ndim != 1:
            raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
        size = labels.shape[0]
    if size < 0:
        raise ValueError(f"number of examples must be non-negative, got {size}")
    if stratify and labels is None:
        raise ValueError("stratify=True needs the labels, not just the number of examples")

    if shuffle:
        order = np.asarray(jax.random.permutation(_as_key(key), size))
    else:
        order = np.arange(size)

    if not stratify:
        counts = _apportion(size, fractions, size * fractions - np.floor(size * fractions))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return tuple(order[bounds[k] : bounds[k + 1]] for k in range(fractions.size))

    ordered_labels = labels[order]
    classes, class_sizes = np.unique(ordered_labels, return_counts=True)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    taken = np.zeros(fractions.size, dtype=np.int64)
    seen = 0
    for cls, class_size in zip(classes, class_sizes):
        seen += int(class_size)
        # Leftovers go to the parts furthest below their share of all classes so far.
        deficit = fractions * seen - taken - np.floor(fractions * class_size)
        counts = _apportion(int(class_size), fractions, deficit)
        members = order[ordered_labels == cls]
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for k in range(fractions.size):
            parts[k].append(members[bounds[k] : bounds[k + 1]])
        taken += counts
    position = np.empty(size, dtype=np.int64)
    position[order] = np.arange(size)
    result = []
    for chunks in parts:
        indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
        result.append(indices[np.argsort(position[indices], kind="stable")])
    return tuple(result)


def split_dataset(
    dataset: Dataset,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    *,
    key=0,
    shuffle: bool = True,
    stratify: bool = False,
) -> tuple[Dataset, ...]:
    """Cut a :class:`Dataset` into parts, in order (train, val, test for three fractions).

    See :func:`split_indices` for the rounding and the stratification guarantee.

    Example::

        train, val, test = split_dataset(load_digits(), (0.6, 0.2, 0.2), key=0, stratify=True)
    """
    parts = split_indices(
        dataset.y if stratify else int(np.shape(dataset.y)[0]),
        fractions,
        key=key,
        shuffle=shuffle,
        stratify=stratify,
    )
    x, y = np.asarray(dataset.x), np.asarray(dataset.y)
    return tuple(Dataset(x=x[idx], y=y[idx], num_classes=dataset.num_classes) for idx in parts)


# ---------------------------------------------------------------------------
# Standardisation with training statistics


class Standardizer(NamedTuple):
    """Per-feature shift and scale estimated on the training set only.

    Fitting on ``m`` training examples (lecture 001, "Normalization")::

        mu      = (1/m) sum_i x^(i)
        sigma^2 = (1/m) sum_i (x^(i) - mu)^2          (population variance, ddof 0)

    and applying to any example, training, validation or test alike::

        z = (x - mu) / sigma

    Validation and test data must be scaled with the *training* ``mu`` and
    ``sigma``; estimating them on all the data leaks information from the
    held-out sets. A feature whose training std is below ``eps`` (constant,
    such as the always-blank corner pixels of the digits) gets ``sigma = 1``,
    so it is only centred; this matches scikit-learn's ``StandardScaler``
    and avoids dividing a nonzero test value by a tiny number.

    Attributes:
      mean: ``mu``, shaped to broadcast against one batch of inputs.
      std: ``sigma`` after the ``eps`` guard, same shape as ``mean``.

    Being a ``NamedTuple`` of arrays it is a pytree: it can be passed into
    ``jax.jit`` and carried in training state.
    """

    mean: jax.Array
    std: jax.Array

    @classmethod
    def fit(cls, x_train, axis: int | Sequence[int] = 0, eps: float = 1e-7) -> Standardizer:
        """Estimate ``mu`` and ``sigma`` from training inputs.

        Args:
          x_train: training inputs, examples along axis 0.
          axis: axes to average over; ``0`` (default) gives one statistic per
            feature/pixel; for NHWC images ``(0, 1, 2)`` gives one per channel.
          eps: stds below this are replaced by 1 (default ``1e-7``).
        """
        return fit_standardizer(x_train, axis=axis, eps=eps)

    def apply(self, x) -> jax.Array:
        """``(x - mean) / std`` with the stored training statistics."""
        return standardize(x, self)

    def invert(self, z) -> jax.Array:
        """Undo :meth:`apply`: ``z * std + mean``."""
        return jnp.asarray(z) * self.std + self.mean


def fit_standardizer(x_train, axis: int | Sequence[int] = 0, eps: float = 1e-7) -> Standardizer:
    """Training-set mean and std as a :class:`Standardizer` (pure; jit-compatible)."""
    x_train = jnp.asarray(x_train, dtype=jnp.result_type(float))
    mean = jnp.mean(x_train, axis=axis, keepdims=True)
    std = jnp.sqrt(jnp.mean(jnp.square(x_train - mean), axis=axis, keepdims=True))
    std = jnp.where(std < eps, jnp.ones_like(std), std)
    # Drop the leading example axis so the statistics broadcast over any batch.
    return Standardizer(mean=mean[0], std=std[0])


def standardize(x, standardizer: Standardizer) -> jax.Array:
    """Apply training statistics to ``x``: ``(x - mean) / std``."""
    return (jnp.asarray(x) - standardizer.mean) / standardizer.std


# ---------------------------------------------------------------------------
# Mini-batches inside jit


def _check_batch_size(num_examples: int, batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a Python int, got {batch_size!r}")
    if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)):
        raise ValueError(f"num_examples must be a Python int, got {num_examples!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if batch_size > num_examples:
        raise ValueError(
            f"batch_size {batch_size} is larger than the number of examples {num_examples}"
        )


def steps_per_epoch(num_examples: int, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Number of full mini-batches in one epoch: ``T = floor(m / batch_size)``.

    The last ``m mod batch_size`` examples of each shuffled epoch are dropped,
    so every step sees a batch of the same shape (one compilation); because
    each epoch reshuffles, a different remainder is dropped every epoch.

    Raises:
      ValueError: ``batch_size <= 0`` or ``batch_size > num_examples``.
    """
    _check_batch_size(num_examples, batch_size)
    return int(num_examples) // int(batch_size)


def epoch_batches(key, num_examples: int, batch_size: int = DEFAULT_BATCH_SIZE) -> jax.Array:
    """Shuffled mini-batch indices for one epoch, as one array.

    A random permutation of ``0 .. m-1`` is cut into ``T = floor(m / B)``
    rows of ``B`` indices; the ``m - T B`` indices left over are dropped (see
    :func:`steps_per_epoch`). No index repeats within an epoch.

    ``num_examples`` and ``batch_size`` are static Python ints (they fix
    shapes); ``key`` may be traced, so the function runs inside ``jax.jit``
    and ``jax.vmap`` and its rows feed ``jax.lax.scan`` directly::

        def epoch(params, key):
            idx = epoch_batches(key, m, 32)                 # (T, 32)
            return jax.lax.scan(step, params, idx)           # step gets (32,) indices

    Batch size may be any positive integer up to ``m``; powers of two
    (32, 64, ..., 2048; default 32) suit accelerators best.

    The permutation is exactly ``jax.random.permutation(key, num_examples)``
    (see :func:`permutation`).

    Returns:
      int32 array of shape ``(T, batch_size)``.
    """
    steps = steps_per_epoch(num_examples, batch_size)
    return permutation(key, num_examples)[: steps * batch_size].reshape(steps, batch_size)


def class_balanced_probabilities(labels, num_classes: int) -> jax.Array:
    r"""Each example's probability under class-balanced sampling: every present class equally likely.

    .. math:: p_i = \frac{1}{K' \, m_{y_i}},

    with :math:`m_c` the examples of class :math:`c` and :math:`K'` the
    classes present, so that :math:`\sum_{i:\,y_i = c} p_i = 1/K'`. Pure.

    >>> class_balanced_probabilities(jnp.array([0, 0, 0, 1]), 3).tolist()
    [0.1666666716337204, 0.1666666716337204, 0.1666666716337204, 0.5]
    """
    counts = jnp.bincount(jnp.asarray(labels), length=num_classes).astype(jnp.float32)
    present = jnp.sum(counts > 0)
    return 1.0 / (present * counts[jnp.asarray(labels)])


def sampled_batches(key, probabilities, batch_size: int = DEFAULT_BATCH_SIZE) -> jax.Array:
    """One epoch of mini-batch indices drawn with replacement with the given per-example probabilities.

    As many steps as :func:`epoch_batches` (``floor(m / B)``), so an epoch
    is the same number of updates whichever sampler draws it. With
    :func:`class_balanced_probabilities` it is the class-balanced sampler
    (PyTorch's ``WeightedRandomSampler`` with weights :math:`1/m_{y_i}`):
    each batch holds about ``B / K`` examples of every class, minority
    examples repeating within an epoch. Pure; ``key`` may be traced.

    Returns:
      int32 array of shape ``(T, batch_size)``.
    """
    num_examples = probabilities.shape[0]
    steps = steps_per_epoch(num_examples, batch_size)
    rows = jax.random.choice(key, num_examples, (steps, batch_size), replace=True, p=probabilities)
    return rows.astype(jnp.int32)


def permutation(key, n: int) -> jax.Array:
    """``jax.random.permutation(key, n)`` as int32, computed faster on XLA:CPU.

    JAX shuffles by sorting ``0 .. n-1`` stably by random 32-bit keys, one
    round per ``ceil(3 ln n / ln(2^32 - 1))`` (one round up to n = 1,625).
    XLA:CPU sorts a lone ``uint32`` array about four times faster than a
    key-value pair, so on the CPU each round's stable argsort is formed
    from two lone sorts: with ``r_i`` the number of keys below ``k_i`` (a
    binary search in the sorted keys) and ``b = ceil(log2 n)`` bits,

        sort((r_i << b) | i) & (2^b - 1)

    orders by key and, among equal keys, by position: the same stable order,
    so the same permutation, bit for bit (``tests/test_data.py``). This
    holds for ``n <= 2^16``; larger ``n``, and other backends, use
    ``jax.random.permutation`` itself.
    """
    bits = max(1, (n - 1).bit_length())
    if jax.default_backend() != "cpu" or 2 * bits > 32:
        return jax.random.permutation(key, n).astype(jnp.int32)
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    order = jnp.arange(n, dtype=jnp.int32)
    for _ in range(rounds):
        key, subkey = jax.random.split(key)
        order = order[_stable_argsort(jax.random.bits(subkey, (n,), jnp.uint32), bits)]
    return order


def _stable_argsort(keys: jax.Array, bits: int) -> jax.Array:
    """Stable argsort of 1-D ``uint32`` ``keys`` (``len(keys) <= 2^bits``, ``2 bits <= 32``), by lone sorts."""
    rank = jnp.searchsorted(jax.lax.sort(keys), keys, side="left", method="scan").astype(jnp.uint32)
    position = jnp.arange(keys.shape[0], dtype=jnp.uint32)
    return (jax.lax.sort((rank << bits) | position) & ((1 << bits) - 1)).astype(jnp.int32)


def take(data, indices):
    """Rows ``indices`` of every array in a pytree (e.g. ``take((x, y), batch)``)."""
    return jax.tree.map(lambda array: jnp.take(array, indices, axis=0), data)


# ---------------------------------------------------------------------------
# Data: what a training run reads

_SPLITS = (("training", "x_train", "y_train"), ("validation", "x_val", "y_val"), ("test", "x_test", "y_test"))
_FILE_TYPES = (".npz", ".csv")
_INTEGER_LITERAL = re.compile(r"[+-]?\d+")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _host(array) -> np.ndarray:
    return np.asarray(array)


def _numeric(array: np.ndarray) -> np.ndarray | None:
    """``array`` as a bool, integer or float array, or ``None`` when it holds anything else."""
    if array.dtype.kind in "biuf":
        return array
    if array.dtype.kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            return None
    return None


def _examples(values: np.ndarray, limit: int = 5) -> str:
    """The first few distinct values, as ``[a, b, c, ...]``."""
    distinct = np.unique(values)
    shown = ", ".join(f"{value:g}" if isinstance(value, float) else str(value) for value in distinct[:limit].tolist())
    return f"[{shown}{', ...' if distinct.size > limit else ''}]"


def _check_task(task: str) -> str:
    if task not in TASKS:
        close = difflib.get_close_matches(str(task), TASKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}{hint}")
    return task


def _to_float32(where: str, what: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float32; values finite before the cast must stay finite after it."""
    with np.errstate(over="ignore"):
        cast = np.asarray(array, dtype=np.float32)
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:  # only wider floats can overflow float32
        overflow = np.count_nonzero(~np.isfinite(cast)) - np.count_nonzero(~np.isfinite(array))
        if overflow:
            raise DataError(f"{where}: {overflow} {what} too large for float32 (|value| > {_FLOAT32_MAX:.3g})")
    return cast


def check_labels(where: str, labels: np.ndarray, num_classes: int) -> None:
    """One-line :class:`DataError` naming ``where`` unless ``labels`` are ``(N,)`` integer values in ``[0, K)``."""
    if labels.ndim != 1:
        raise DataError(f"{where}: classification needs one label per example, shape (N,), got {labels.shape}")
    if labels.dtype.kind == "f":
        fractional = ~np.isfinite(labels) | (labels != np.round(labels))
        if np.any(fractional):
            raise DataError(
                f"{where}: {int(np.count_nonzero(fractional))} non-integer labels "
                f"(e.g. {_examples(labels[fractional], 3)}); classification needs integer class indices"
            )
    outside = (labels < 0) | (labels >= num_classes)
    if np.any(outside):
        raise DataError(
            f"{where}: {int(np.count_nonzero(outside))} labels outside [0, {num_classes}): "
            f"{_examples(labels[outside])}"
        )


@struct.dataclass
class Data:
    """Train, validation and test arrays, checked, with the task and class count static.

    A ``flax.struct.dataclass``: a pytree whose leaves are the arrays, so a
    whole ``Data`` passes through ``jax.jit`` and ``jax.device_put``, while
    ``num_classes``, ``task`` and ``split_seed`` are static (part of the
    compiled program's identity, never traced).

    Attributes:
      x_train, x_val, x_test: float32 inputs, ``(N, D)`` or ``(N, H, W, C)``;
        standardised with training statistics when built with ``standardize=True``.
      y_train, y_val, y_test: classification: int32 class indices in
        ``[0, num_classes)``, shape ``(N,)``; regression: float32 targets,
        shape ``(N,)`` or ``(N, k, ...)``.
      num_classes: number of classes; ``0`` for regression.
      w_train: optional float32 per-example training weights ``(N_train,)``,
        all ``>= 0`` (``None``: every example weighs 1).
      task: ``"classification"`` or ``"regression"``.
      split_seed: the seed the split was drawn with, when known.

    Build one with :meth:`from_arrays`, :meth:`from_file`, :meth:`load` or
    :meth:`from_splits`; each runs :meth:`check`. The constructor itself
    checks nothing (it also runs under ``jit`` on traced arrays); call
    :meth:`check` after building one by hand.
    """

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array
    num_classes: int = struct.field(pytree_node=False)
    w_train: jax.Array | None = None
    task: str = struct.field(pytree_node=False, default="classification")
    split_seed: int | None = struct.field(pytree_node=False, default=None)

    # -- what a model needs to know --------------------------------------

    @property
    def target_shape(self) -> tuple[int, ...]:
        """Shape of one example's target: ``()`` for labels and scalar targets."""
        return tuple(self.y_train.shape[1:])

    @property
    def out_features(self) -> int:
        """Width of the model's output layer.

        ``num_classes`` (one logit per class) for classification; for
        regression the number of target values per example,
        ``prod(target_shape)`` (1 for scalar targets).
        """
        if self.task == "classification":
            return int(self.num_classes)
        return math.prod(self.target_shape)

    # -- checks ----------------------------------------------------------

    def check(self) -> Data:
        """Raise :class:`DataError` (one line naming the split) unless the data can be trained on.

        Checked, per split: inputs are numeric, have an example axis and a
        feature axis, the same per-example shape in every split, and are
        finite; inputs and targets have as many examples; no split is empty.
        Classification labels are one per example, integer valued (floats
        such as ``3.0`` can be cast) and in ``[0, num_classes)``; regression
        targets are numbers, finite, of one per-example shape. Weights
        ``w_train`` are finite, non-negative, one per training example.

        Host-side (it reads the arrays back); returns ``self`` so that it chains.
        """
        _check_task(self.task)
        num_classes = self.num_classes
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise DataError(f"num_classes must be a Python int, got {num_classes!r}")
        if self.task == "classification" and num_classes < 1:
            raise DataError(f"classification needs num_classes >= 1, got {num_classes}")
        if self.task == "regression" and num_classes != 0:
            raise DataError(f"regression data has num_classes 0, got {num_classes}")
        input_shape = target_shape = None
        for split, x_name, y_name in _SPLITS:
            where = f"{split} split"
            x, y = _host(getattr(self, x_name)), _host(getattr(self, y_name))
            if x.ndim < 2:
                raise DataError(
                    f"{where}: inputs need an example axis and a feature axis, got shape {x.shape} "
                    "(use x[:, None] for one feature)"
                )
            if y.ndim < 1:
                raise DataError(f"{where}: targets need an example axis, got shape {y.shape}")
            if x.shape[0] != y.shape[0]:
                raise DataError(f"{where}: {x.shape[0]} inputs but {y.shape[0]} targets")
            if x.shape[0] == 0:
                raise DataError(f"{where}: no examples (empty split)")
            if input_shape is None:
                input_shape = x.shape[1:]
            elif x.shape[1:] != input_shape:
                raise DataError(
                    f"{where}: inputs of shape {x.shape[1:]} per example, the training split has {input_shape}"
                )
            numeric = _numeric(x)
            if numeric is None:
                raise DataError(f"{where}: inputs are not numeric (dtype {x.dtype})")
            if numeric.dtype.kind == "f":
                bad = int(np.count_nonzero(~np.isfinite(numeric)))
                if bad:
                    raise DataError(f"{where}: {bad} non-finite input values (NaN or inf)")
            targets = _numeric(y)
            if targets is None:
                noun = "labels" if self.task == "classification" else "targets"
                raise DataError(f"{where}: {noun} are not numbers (dtype {y.dtype})")
            if self.task == "classification":
                check_labels(where, targets, self.num_classes)
            else:
                if target_shape is None:
                    target_shape = y.shape[1:]
                elif y.shape[1:] != target_shape:
                    raise DataError(
                        f"{where}: targets of shape {y.shape[1:]} per example, the training split has {target_shape}"
                    )
                if targets.dtype.kind == "f":
                    bad = int(np.count_nonzero(~np.isfinite(targets)))
                    if bad:
                        raise DataError(f"{where}: {bad} non-finite target values (NaN or inf)")
        if self.w_train is not None:
            self._check_weights(_host(self.w_train), _host(self.x_train).shape[0])
        return self

    @staticmethod
    def _check_weights(weights: np.ndarray, num_train: int) -> None:
        where = "training split"
        numeric = _numeric(weights)
        if numeric is None:
            raise DataError(f"{where}: weights are not numbers (dtype {weights.dtype})")
        if weights.shape != (num_train,):
            raise DataError(
                f"{where}: weights of shape {weights.shape} for {num_train} examples; "
                f"need one per example, shape ({num_train},)"
            )
        if numeric.dtype.kind == "f" and not np.all(np.isfinite(numeric)):
            raise DataError(f"{where}: {int(np.count_nonzero(~np.isfinite(numeric)))} non-finite weights")
        negative = numeric < 0
        if np.any(negative):
            raise DataError(
                f"{where}: {int(np.count_nonzero(negative))} negative weights ({_examples(numeric[negative])}); "
                "weights must be >= 0"
            )

    def check_batch_size(self, batch_size: int) -> None:
        """Raise :class:`DataError` when ``batch_size`` exceeds the training split.

        Every step trains on a full batch (see :func:`steps_per_epoch`), so
        at least one batch must fit: ``batch_size <= N_train``.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        num_train = int(np.shape(self.x_train)[0])
        if batch_size > num_train:
            raise DataError(
                f"batch size {batch_size} is larger than the training split ({num_train} examples)"
            )

    def fingerprint(self) -> str:
        """A sha256 hex digest that identifies these exact numbers.

        Hashes, in a fixed order, each array's name, dtype (little-endian),
        shape and bytes (host copies, C order), then ``task``,
        ``num_classes`` and ``split_seed``. Equal data give equal
        fingerprints on any machine and backend; changing any one value,
        dtype, shape, the split seed or the task changes it. Host-side.
        """
        digest = hashlib.sha256()
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "w_train"):
            value = getattr(self, name)
            if value is None:
                digest.update(f"{name}:None;".encode())
                continue
            array = np.ascontiguousarray(_host(value))
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            digest.update(f"{name}:{array.dtype.str}:{array.shape}:{array.nbytes};".encode())
            digest.update(array.tobytes())
        digest.update(f"task:{self.task};num_classes:{int(self.num_classes)};split_seed:{self.split_seed!r}".encode())
        return digest.hexdigest()

    # -- builders --------------------------------------------------------

    @classmethod
    def from_splits(cls, train: Dataset, val: Dataset, test: Dataset) -> Data:
        """From three :class:`Dataset` splits (as :func:`split_dataset` returns), checked.

        The arrays are taken as they are (no casting, no standardisation).
        """
        arrays = [jnp.asarray(a) for part in (train, val, test) for a in (part.x, part.y)]
        return cls(*arrays, num_classes=int(train.num_classes)).check()

    @classmethod
    def from_arrays(
        cls,
        x,
        y,
        *,
        x_test=None,
        y_test=None,
        fractions: Sequence[float] = (0.6, 0.2, 0.2),
        stratify: bool | None = None,
        standardize: bool = True,
        seed: int = 0,
        task: str | None = None,
        num_classes: int | None = None,
        weights=None,
    ) -> Data:
        """Split, check and standardise arrays of one's own.

        **Split.** ``N`` examples are cut into train, validation and test
        parts of ``n_k`` examples, ``|n_k - f_k N| < 1`` for the fractions
        ``f = fractions`` (per class when stratified; see
        :func:`split_indices`). When ``x_test`` and ``y_test`` are given they
        are the test set, and ``x, y`` are cut train : validation in the ratio
        ``f_0 : f_1``, i.e. with validation share ``s = f_1 / (f_0 + f_1)``.

        **Standardise** (``standardize=True``). With the training split's
        per-feature mean ``mu`` and std ``sigma`` (population, ``ddof=0``;
        ``sigma = 1`` for constant features; see :class:`Standardizer`),
        every split becomes ``z = (x - mu) / sigma``; validation and test
        never contribute to ``mu`` or ``sigma``.

        **Task.** Inferred from ``y``'s dtype when ``task`` is ``None``:
        integer or bool -> ``"classification"``, floating ->
        ``"regression"``. Classification labels become int32 with
        ``num_classes = max(y) + 1`` over all splits unless given (2 for bool
        labels); regression targets become float32 of any trailing shape,
        ``(N,)`` or ``(N, k, ...)``, and ``num_classes = 0``. Inputs become
        float32.

        Args:
          x: inputs ``(N, ...)``, any numeric dtype.
          y: labels or targets ``(N, ...)``.
          x_test, y_test: an official test set, used as it is.
          fractions: train, validation, test fractions summing to 1
            (default ``(0.6, 0.2, 0.2)``); with a given test set only the
            ratio of the first two matters.
          stratify: keep class proportions equal across splits; default
            ``True`` for classification, ``False`` for regression (which
            cannot be stratified).
          standardize: standardise inputs with training statistics (default ``True``).
          seed: seeds the shuffle of the split; recorded as ``split_seed``.
          task: ``"classification"``, ``"regression"`` or ``None`` (infer).
          num_classes: number of classes (classification only).
          weights: optional per-example weights ``(N,)`` of ``x``, ``>= 0``;
            the training split's become ``w_train``.

        Raises:
          DataError: the arrays fail :meth:`check` (the message names the split),
            or ``x``, ``y`` and ``weights`` differ in length.
          ValueError: an unknown ``task``, bad fractions, or ``stratify=True`` for regression.

        Example:

        >>> import numpy as np
        >>> from jaxdl.data import Data
        >>> x = np.random.default_rng(0).normal(size=(100, 3))
        >>> data = Data.from_arrays(x, (x[:, 0] > 0).astype(np.int64))
        >>> data.task, data.num_classes, data.out_features
        ('classification', 2, 2)
        >>> data.x_train.shape, data.x_val.shape, data.x_test.shape
        ((60, 3), (20, 3), (20, 3))
        >>> bool(abs(data.x_train.mean()) < 1e-6)
        True
        >>> Data.from_arrays(x, x @ np.array([1.0, -2.0, 0.5])).task
        'regression'
        """
        x, y = np.asarray(x), np.asarray(y)
        task = cls._infer_task(y, task)
        if stratify is None:
            stratify = task == "classification"
        elif stratify and task == "regression":
            raise ValueError("stratify=True needs class labels; regression targets are not stratified")
        if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
            raise DataError(f"x and y must hold as many examples, got shapes {x.shape} and {y.shape}")
        if task == "classification" and y.ndim != 1:
            raise DataError(f"classification needs one label per example, y of shape (N,), got {y.shape}")
        if weights is not None:
            weights = np.asarray(weights)
            if weights.shape != (x.shape[0],):
                raise DataError(
                    f"weights of shape {weights.shape} for {x.shape[0]} examples; "
                    f"need one per example of x, shape ({x.shape[0]},)"
                )
        if (x_test is None) != (y_test is None):
            raise ValueError("give both x_test and y_test, or neither")
        labels = y if stratify else int(x.shape[0])
        if x_test is None:
            if len(fractions) != 3:
                raise ValueError(f"fractions must be (train, validation, test), got {tuple(fractions)}")
            parts = split_indices(labels, fractions, key=seed, stratify=stratify)
            (x_train, x_val, x_test), (y_train, y_val, y_test) = ([x[i] for i in parts], [y[i] for i in parts])
        else:
            if len(fractions) not in (2, 3) or fractions[0] + fractions[1] <= 0:
                raise ValueError(f"fractions must start with train and validation fractions, got {tuple(fractions)}")
            share = fractions[1] / (fractions[0] + fractions[1])
            parts = split_indices(labels, (1 - share, share), key=seed, stratify=stratify)
            (x_train, x_val), (y_train, y_val) = ([x[i] for i in parts], [y[i] for i in parts])
            x_test, y_test = np.asarray(x_test), np.asarray(y_test)
        w_train = None if weights is None else weights[parts[0]]
        return cls._build(
            (x_train, y_train, x_val, y_val, x_test, y_test), w_train,
            task=task, num_classes=num_classes, standardize=standardize, seed=seed,
        )

    @staticmethod
    def _infer_task(y: np.ndarray, task: str | None) -> str:
        if task is not None:
            return _check_task(task)
        if y.dtype.kind in "biu":
            return "classification"
        if y.dtype.kind == "f":
            return "regression"
        raise DataError(
            f"targets of dtype {y.dtype} are not numbers; cannot infer the task (pass task=...)"
        )

    @classmethod
    def _build(cls, arrays, w_train, *, task: str, num_classes, standardize: bool, seed) -> Data:
        """Check host arrays (train, val, test pairs), cast them, standardise, move them to the device."""
        x_train, y_train, x_val, y_val, x_test, y_test = (np.asarray(a) for a in arrays)
        labels = (y_train, y_val, y_test)
        if task == "regression":
            if num_classes not in (None, 0):
                raise ValueError(f"num_classes is for classification; regression has 0, got {num_classes}")
            num_classes = 0
        elif num_classes is None:
            num_classes = cls._count_classes(labels)
        raw = cls(x_train, y_train, x_val, y_val, x_test, y_test, int(num_classes),
                  w_train=None if w_train is None else np.asarray(w_train), task=task, split_seed=seed)
        raw.check()
        fields = {}
        for split, x_name, y_name in _SPLITS:
            where = f"{split} split"
            fields[x_name] = _to_float32(where, "input values", _numeric(_host(getattr(raw, x_name))))
            targets = _numeric(_host(getattr(raw, y_name)))
            if task == "classification":
                fields[y_name] = targets.astype(np.int32)
            else:
                fields[y_name] = _to_float32(where, "target values", targets)
        if standardize:
            standardizer = Standardizer.fit(fields["x_train"])
            for _, x_name, _ in _SPLITS:
                fields[x_name] = standardizer.apply(fields[x_name])
        if raw.w_train is not None:
            fields["w_train"] = jnp.asarray(_to_float32("training split", "weights", _numeric(raw.w_train)))
        return raw.replace(**{name: jnp.asarray(value) for name, value in fields.items()})

    @staticmethod
    def _count_classes(labels) -> int:
        """``max(y) + 1`` over all splits (2 for bool labels); 1 when no label is a usable integer."""
        if all(label.dtype.kind == "b" for label in labels):
            return 2
        largest = -1
        for label in labels:
            numeric = _numeric(label)
            if numeric is None or numeric.size == 0:
                continue
            finite = numeric[np.isfinite(numeric)] if numeric.dtype.kind == "f" else numeric
            if finite.size:
                largest = max(largest, int(np.max(finite)))
        return max(largest + 1, 1)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        *,
        target: str | None = None,
        task: str | None = None,
        fractions: Sequence[float] = (0.6, 0.2, 0.2),
        stratify: bool | None = None,
        standardize: bool = True,
        seed: int = 0,
    ) -> Data:
        """Read an ``.npz`` or ``.csv`` file into a checked :class:`Data` (see :meth:`from_arrays`).

        ``.npz`` (``np.savez``): arrays ``x`` and ``y``, optionally
        ``x_val, y_val`` and ``x_test, y_test``. Given splits are used as
        they are, never re-split: with both, ``x, y`` is the training split;
        with a test set only, ``x, y`` is cut train : validation in the ratio
        ``f_0 : f_1``; with a validation set only, train : test in the ratio
        ``f_0 : f_2``.

        ``.csv``: a header row of column names, then one example per row,
        every cell a number. ``target`` names the target column (default: the
        last); all other columns are the inputs. The target parses to int64
        labels when every value is an integer literal (no ``.``, no
        exponent), which infers classification; otherwise to floats, which
        infers regression. Pass ``task`` to override (e.g. integer-valued
        regression targets).

        Raises:
          DataError: one line beginning with the file's name: the file is
            missing, a directory, of another type, unreadable, a CSV with
            ragged rows, a non-numeric cell (its line and column) or no such
            target column (the columns are listed), an npz lacking ``x`` or
            ``y``, or data failing :meth:`check` (the split is named).
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            raise DataError(f"{path}: is a directory, not a data file")
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such file")
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in _FILE_TYPES:
            raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected .npz or .csv")
        if target is not None and suffix != ".csv":
            raise ValueError(f"target names a CSV column; {path} is not a .csv file")
        try:
            if suffix == ".csv":
                x, y = _read_csv(path, target)
                return cls.from_arrays(x, y, fractions=fractions, stratify=stratify, standardize=standardize,
                                       seed=seed, task=task)
            return cls._from_npz(path, task=task, fractions=fractions, stratify=stratify,
                                 standardize=standardize, seed=seed)
        except DataError as error:
            if str(error).startswith(path):
                raise
            raise DataError(f"{path}: {error}") from error

    @classmethod
    def _from_npz(cls, path: str, *, task, fractions, stratify, standardize, seed) -> Data:
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except Exception as error:  # zipfile, pickle and format errors all mean "not a usable npz"
            raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from error
        for name in ("x", "y"):
            if name not in arrays:
                held = ", ".join(sorted(arrays)) or "nothing"
                raise DataError(f"{path}: no array {name!r} (the file holds {held})")
        for split in ("val", "test"):
            if (f"x_{split}" in arrays) != (f"y_{split}" in arrays):
                raise DataError(f"{path}: has one of x_{split} and y_{split} but not the other")
        x, y = arrays["x"], arrays["y"]
        if "x_val" not in arrays:
            return cls.from_arrays(x, y, x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
                                   fractions=fractions, stratify=stratify, standardize=standardize,
                                   seed=seed, task=task)
        task = cls._infer_task(y, task)
        if "x_test" in arrays:
            splits = (x, y, arrays["x_val"], arrays["y_val"], arrays["x_test"], arrays["y_test"])
        else:
            # A validation set but no test set: the test set is cut from x, train : test = f_0 : f_2.
            if len(fractions) != 3 or fractions[0] + fractions[2] <= 0:
                raise ValueError(f"fractions must be (train, validation, test), got {tuple(fractions)}")
            share = fractions[2] / (fractions[0] + fractions[2])
            if stratify is None:
                stratify = task == "classification"
            if x.shape[:1] != y.shape[:1]:
                raise DataError(f"x and y must hold as many examples, got shapes {x.shape} and {y.shape}")
            train_idx, test_idx = split_indices(y if stratify else int(x.shape[0]), (1 - share, share),
                                                key=seed, stratify=stratify)
            splits = (x[train_idx], y[train_idx], arrays["x_val"], arrays["y_val"], x[test_idx], y[test_idx])
        return cls._build(splits, None, task=task, num_classes=None, standardize=standardize, seed=seed)

    @classmethod
    def load(
        cls,
        dataset: str | os.PathLike = "digits",
        data_dir: str | os.PathLike | None = None,
        *,
        image: bool = False,
        fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
        seed: int = 0,
        standardize: bool = True,
        target: str | None = None,
    ) -> Data:
        """Load, split and standardise a data set (statistics from the training split only).

        The digits are split by ``fractions`` (stratified). Data sets with an
        official test split (MNIST, Fashion-MNIST, CIFAR-10) keep it as the
        test set and split their training files into train and validation in
        the ratio ``fractions[0] : fractions[1]``. A path ending in ``.npz``
        or ``.csv`` is read by :meth:`from_file`.

        Args:
          dataset: ``"digits"``, ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``,
            or the path of an ``.npz`` or ``.csv`` file.
          data_dir: folder with the files (all but the digits); a relative
            file path is taken relative to it when it is given.
          image: NHWC images (for the CNN) instead of flat vectors; named
            data sets only (a file's inputs keep the shape stored in it).
          fractions: train, validation, test fractions.
          seed: seeds the shuffle of the split; recorded as ``split_seed``.
          standardize: per-feature zero mean and unit variance, fitted on training data.
          target: the target column of a ``.csv`` file (default: the last).
        """
        name = os.fspath(dataset)
        if name.lower().endswith(_FILE_TYPES):
            if data_dir is not None and not os.path.isabs(name):
                name = os.path.join(os.fspath(data_dir), name)
            return cls.from_file(name, target=target, fractions=fractions, seed=seed, standardize=standardize)
        if target is not None:
            raise ValueError(f"target names a CSV column; {name!r} is not a .csv file")
        flat = not image
        if name.lower() == "digits":
            full = load_digits(flat=flat)
            return cls.from_arrays(full.x, full.y, fractions=fractions, stratify=True, standardize=standardize,
                                   seed=seed, task="classification", num_classes=full.num_classes)
        full = load(name, data_dir, split="train", flat=flat)
        test = load(name, data_dir, split="test", flat=flat)
        return cls.from_arrays(full.x, full.y, x_test=test.x, y_test=test.y, fractions=fractions, stratify=True,
                               standardize=standardize, seed=seed, task="classification",
                               num_classes=full.num_classes)


def _read_csv(path: str, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (float64, every column but the target) and target (int64 or float64) of a CSV file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file; a CSV needs a header row of column names")
            names = [cell.strip() for cell in header]
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank lines, e.g. a trailing one
                if len(row) != len(names):
                    raise DataError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, the header has {len(names)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a UTF-8 text file ({error})") from error
    except csv.Error as error:
        raise DataError(f"{path}: malformed CSV ({error})") from error
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate column names {duplicates} in the header")
    if all(_is_number(name) for name in names):
        raise DataError(f"{path}: the first row {names} holds numbers; a CSV needs a header row of column names")
    if target is None:
        target = names[-1]
    if target not in names:
        raise DataError(f"{path}: no column {target!r}; the columns are {', '.join(names)}")
    if len(names) < 2:
        raise DataError(f"{path}: only the target column {target!r}; no input columns")
    if not rows:
        raise DataError(f"{path}: a header but no data rows")
    columns = list(zip(*rows))
    target_index = names.index(target)

    def parse(index: int) -> np.ndarray:
        cells = columns[index]
        try:
            return np.array([float(cell) for cell in cells], dtype=np.float64)
        except ValueError:
            line, cell = next((line, cell) for line, cell in zip(lines, cells) if not _is_number(cell))
            raise DataError(
                f"{path}: line {line}, column {names[index]!r}: {cell.strip()!r} is not a number"
            ) from None

    target_cells = columns[target_index]
    if all(_INTEGER_LITERAL.fullmatch(cell.strip()) for cell in target_cells):
        try:
            y = np.array([int(cell) for cell in target_cells], dtype=np.int64)
        except OverflowError:
            raise DataError(f"{path}: column {target!r} holds integers beyond int64") from None
    else:
        y = parse(target_index)
    inputs = [index for index in range(len(names)) if index != target_index]
    x = np.stack([parse(index) for index in inputs], axis=1)
    return x, y


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
