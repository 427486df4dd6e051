"""Error analysis: where a classifier's errors are, and what fixing them could buy.

Lecture 001 (and the deck of lectures 000/002, "Error Analysis and Overgoing
Troubles") tells us to look at the misclassified examples before we turn
another knob: which classes they belong to, which classes are mistaken for
which, and, after looking at the examples one by one, which *categories* of
error they fall into (too big, blurry, mislabelled, ...). Effort goes to
"the most numerous incorrectly classified examples of one class because it
can help you to decrease the error the most (ceiling)".

Definitions. ``m`` examples, ``E`` of them misclassified, overall error rate
``e = E / m``. For a group ``g`` of errors (a true class, a confusion
``i -> j`` or an error category) with ``E_g`` members::

    share_g   = E_g / E            (its part of all errors; shares of classes sum to 1)
    ceiling_g = e * share_g = E_g / m

``ceiling_g`` is the *most* the overall error rate can drop by fixing the
group: if every error in it became right and nothing else changed, the error
rate would fall from ``e`` to ``e - ceiling_g``. It is a ceiling and not a
forecast: a fix seldom corrects every example it aims at. With a 10 % error
rate, a category holding 5 % of the errors can buy at most 0.5 %; one
holding 50 % can buy up to 5 %, so that is where to look first.

Categories come from a person looking at the errors. An example may fall
into several (blurry *and* mislabelled), so the category shares can add up to
more than 100 %, as in the lecture's table (15 + 42 + 18 + 32 + 12 + 18 =
137 %). They are shares of the errors *examined*; when only a random sample
of the errors was examined, they estimate the shares among all of them.

The pieces:

- :func:`error_shares`: per true class, examples, errors, error rate, share
  of all errors and ceiling.
- :func:`top_confusions`: the most frequent ``true -> predicted`` pairs.
- :func:`read_tags` and :func:`tag_table`: a hand-written CSV of error
  categories and the lecture's "% of total" table made from it.
- :func:`gallery`: a figure of the misclassified examples, to look at.
- :func:`analyze`: all of the above for one set of predictions, written to a
  folder; what ``jaxdl analyze RUN`` calls once it has the run's model and data.

Everything here runs on the host with numpy, pandas (for the tables) and
matplotlib (for the figure); the predictions come from
:func:`jaxdl.train.evaluate` or any other model. The confusion matrix has
:func:`jaxdl.metrics.confusion_matrix`'s layout (rows true, columns
predicted) but is counted with numpy, as befits host arrays.
"""

from __future__ import annotations

import csv
import math
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from jaxdl.data import DataError

__all__ = [
    "analyze",
    "error_shares",
    "gallery",
    "read_tags",
    "tag_table",
    "top_confusions",
]

# A tag cell may hold several tags, e.g. "blurry;mislabeled".
TAG_SEPARATOR = ";"
# How many offending ids an error message shows before "...".
_SHOWN_IN_ERRORS = 5


# ---------------------------------------------------------------------------
# Inputs


def _class_indices(values, what: str) -> np.ndarray:
    """A 1-d integer array of class indices (integral floats allowed)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-d class indices, got shape {array.shape}")
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise ValueError(f"{what} must be integer class indices, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{what} must be integer class indices, got non-integral values")
    return array.astype(np.int64)


def _pair(labels, predictions, num_classes: int | None, class_names) -> tuple[np.ndarray, np.ndarray, int]:
    """Checked labels and predictions and the number of classes."""
    labels = _class_indices(labels, "labels")
    predictions = _class_indices(predictions, "predictions")
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    if num_classes is None:
        if class_names is not None:
            num_classes = len(class_names)
        else:
            num_classes = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    num_classes = int(num_classes)
    for what, values in (("labels", labels), ("predictions", predictions)):
        outside = (values < 0) | (values >= num_classes)
        if np.any(outside):
            raise ValueError(f"{int(outside.sum())} {what} outside 0..{num_classes - 1}, "
                             f"e.g. {int(values[outside][0])}")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class_names for {num_classes} classes")
    return labels, predictions, num_classes


def _names(class_names, num_classes: int) -> list:
    """Names to show for classes: the given names, else the class indices."""
    return list(class_names) if class_names is not None else list(range(num_classes))


def _matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """``C[true, predicted]``, the layout of :func:`jaxdl.metrics.confusion_matrix` and scikit-learn.

    Counted with numpy on the host: the predictions are host arrays already,
    and a jax version would compile once per array length.
    """
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


# ---------------------------------------------------------------------------
# Where the errors are


def error_shares(labels, predictions, num_classes: int | None = None, class_names: Sequence[str] | None = None):
    """Errors per true class, their share of all errors and the ceiling of fixing them.

    For true class ``k`` with ``m_k`` examples of which ``E_k`` are
    misclassified, out of ``m`` examples and ``E`` errors in all::

        error_rate_k = E_k / m_k                   (NaN for a class with no examples)
        share_k      = E_k / E                     (sums to 1; all 0 when E = 0)
        ceiling_k    = (E / m) * share_k = E_k / m  (sums to the overall error rate)

    ``ceiling_k`` is the most the overall error rate can fall by getting
    every example of class ``k`` right: the lecture's "ceiling" of working on
    that class. A class can have a high error rate and a low ceiling (it is
    rare) or the reverse (it is common).

    Args:
      labels: true class indices, shape ``(m,)``.
      predictions: predicted class indices, shape ``(m,)`` (``argmax`` of
        the outputs).
      num_classes: ``K``; by default ``len(class_names)`` or the largest
        index seen plus one.
      class_names: optional names shown in the ``class`` column.

    Returns:
      A ``pandas.DataFrame`` with one row per class and the columns
      ``label`` (index), ``class`` (name, or the index), ``examples``,
      ``errors``, ``error_rate``, ``share`` and ``ceiling``, sorted by
      ``share`` descending (ties by class index).

    Example:

    >>> table = error_shares([0, 0, 1, 1, 1, 2], [0, 1, 2, 2, 1, 2], 3, ["cat", "dog", "bird"])
    >>> print(table.to_string(index=False))
     label class  examples  errors  error_rate    share  ceiling
         1   dog         3       2    0.666667 0.666667 0.333333
         0   cat         2       1    0.500000 0.333333 0.166667
         2  bird         1       0    0.000000 0.000000 0.000000
    """
    labels, predictions, num_classes = _pair(labels, predictions, num_classes, class_names)
    matrix = _matrix(labels, predictions, num_classes)
    examples = matrix.sum(axis=1)
    errors = examples - np.diagonal(matrix)
    total_errors, total = int(errors.sum()), int(examples.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = np.where(examples > 0, errors / np.maximum(examples, 1), np.nan)
    share = errors / total_errors if total_errors else np.zeros(num_classes)
    ceiling = errors / total if total else np.zeros(num_classes)
    import pandas as pd  # imported here so that importing jaxdl does not load pandas
    table = pd.DataFrame({
        "label": np.arange(num_classes),
        "class": _names(class_names, num_classes),
        "examples": examples,
        "errors": errors,
        "error_rate": error_rate,
        "share": share,
        "ceiling": ceiling,
    })
    return table.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)


def top_confusions(labels, predictions, k: int | None = 10, class_names: Sequence[str] | None = None,
                   num_classes: int | None = None):
    """The ``k`` most frequent confusions ``true -> predicted`` and their share of all errors.

    With ``C`` the confusion matrix (rows true, columns predicted, from
    :func:`jaxdl.metrics.confusion_matrix`'s layout) and ``E`` the number of errors,
    each off-diagonal cell ``C[i, j] > 0`` is one row with
    ``share = C[i, j] / E``. A confusion that makes up much of the errors
    (3 read as 8) is a concrete thing to look at; the shares of all
    confusions sum to 1.

    Args:
      labels, predictions: class indices, shape ``(m,)``.
      k: how many rows to keep (``None``: all confusions that occur).
      class_names: optional names shown in ``true`` and ``predicted``.
      num_classes: ``K``; by default ``len(class_names)`` or the largest
        index seen plus one.

    Returns:
      A ``pandas.DataFrame`` with the columns ``true``, ``predicted`` (names,
      or indices), ``true_label``, ``predicted_label``, ``count`` and
      ``share``, sorted by ``count`` descending (ties by true, then predicted
      index). Empty when there are no errors.

    Example:

    >>> table = top_confusions([3, 3, 3, 8, 1], [8, 8, 5, 3, 1], k=2)
    >>> print(table.to_string(index=False))
     true  predicted  true_label  predicted_label  count  share
        3          8           3                8      2   0.50
        3          5           3                5      1   0.25
    """
    if k is not None and (not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1):
        raise ValueError(f"k must be a positive int or None, got {k!r}")
    labels, predictions, num_classes = _pair(labels, predictions, num_classes, class_names)
    matrix = _matrix(labels, predictions, num_classes)
    np.fill_diagonal(matrix, 0)
    total_errors = int(matrix.sum())
    true, predicted = np.nonzero(matrix)  # row-major: ties stay in (true, predicted) order
    count = matrix[true, predicted]
    order = np.argsort(-count, kind="stable")[:k]
    true, predicted, count = true[order], predicted[order], count[order]
    names = _names(class_names, num_classes)
    import pandas as pd  # imported here so that importing jaxdl does not load pandas
    return pd.DataFrame({
        "true": [names[i] for i in true],
        "predicted": [names[j] for j in predicted],
        "true_label": true.astype(np.int64),
        "predicted_label": predicted.astype(np.int64),
        "count": count.astype(np.int64),
        "share": count / total_errors if total_errors else np.zeros(len(count)),
    })


# ---------------------------------------------------------------------------
# Error categories


def _few(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN_IN_ERRORS])
    return shown + (", ..." if len(items) > _SHOWN_IN_ERRORS else "")


def read_tags(path: str | os.PathLike, known_ids: Iterable[int] | None) -> dict[int, tuple[str, ...]]:
    """Read the error categories a person gave the misclassified examples.

    The file is a CSV with a header naming (at least) the columns ``id`` and
    ``tag``; other columns (say ``comment``, the lecture's "Comments") are
    ignored. Each row gives an example's ``id`` (the id :func:`analyze` and
    :func:`gallery` show, by default its position in the evaluated split)
    and one or more tags. An example gets several tags either from several
    rows or from one cell with the tags separated by ``;``; both may be
    mixed::

        id,tag
        17,blurry
        17,mislabeled
        42,too big;blurry

    Tags are stripped of surrounding spaces and kept as written (``Blurry``
    and ``blurry`` are two tags); a tag repeated for one id counts once.
    Blank lines are skipped; a byte-order mark (Excel's UTF-8) is fine. An
    example that fits no category needs a tag too (say ``other``) to count
    as examined.

    Args:
      path: the CSV file.
      known_ids: the ids that may be tagged, normally the misclassified
        examples' ids; ``None`` accepts any id.

    Returns:
      ``{id: (tag, ...)}`` in the order the ids first appear, tags in the
      order they first appear for that id.

    Raises:
      jaxdl.data.DataError: (a ``ValueError``) in one line naming the file and
        the line: the file is missing or empty, the header lacks ``id`` or
        ``tag``, an id is not an integer, a tag is empty, or ids are not
        among ``known_ids`` (how many, and the first few with their lines).

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tags.csv"
    >>> _ = path.write_text("id,tag\\n17,blurry\\n17,mislabeled\\n42,too big;blurry\\n")
    >>> read_tags(path, known_ids=[17, 42, 51])
    {17: ('blurry', 'mislabeled'), 42: ('too big', 'blurry')}
    """
    known = None if known_ids is None else {int(i) for i in known_ids}
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such tag file (expected a CSV with the header id,tag)") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the tag file ({error.strerror or error})") from None
    tags: dict[int, list[str]] = {}
    unknown: list[str] = []
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty tag file (expected a CSV with the header id,tag)")
        columns = [cell.strip().lower() for cell in header]
        missing = [name for name in ("id", "tag") if name not in columns]
        if missing:
            raise DataError(f"{path}, line {reader.line_num}: header lacks column{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(missing)} (found {', '.join(repr(c) for c in header)}; expected id,tag)")
        id_column, tag_column = columns.index("id"), columns.index("tag")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            cell = row[id_column].strip() if id_column < len(row) else ""
            try:
                example = int(cell)
            except ValueError:
                raise DataError(f"{path}, line {line}: id {cell!r} is not an integer") from None
            pieces = row[tag_column].split(TAG_SEPARATOR) if tag_column < len(row) else [""]
            pieces = [piece.strip() for piece in pieces]
            if not all(pieces):
                raise DataError(f"{path}, line {line}: empty tag for id {example}")
            if known is not None and example not in known:
                unknown.append(f"{example} (line {line})")
            mine = tags.setdefault(example, [])
            mine.extend(piece for piece in pieces if piece not in mine)
    if unknown:
        among = "" if known is None else f" the {len(known)} misclassified examples"
        raise DataError(f"{path}: {len(unknown)} tagged id{'s are' if len(unknown) > 1 else ' is'} not among"
                        f"{among}: {_few(unknown)}")
    return {example: tuple(mine) for example, mine in tags.items()}


def tag_table(tags: Mapping[int, Sequence[str]], num_errors: int | None = None, error_rate: float | None = None):
    """The lecture's table of error categories: how many examined errors carry each tag.

    With ``n`` examined errors of which ``n_t`` carry tag ``t``::

        share_t   = n_t / n          ("% of total"; may sum to more than 1)
        ceiling_t = error_rate * share_t

    ``ceiling_t`` ("overall error reduction if fixed") is the most the
    overall error rate can fall by fixing every error of that category,
    assuming the examined errors represent all errors.

    Args:
      tags: ``{id: (tag, ...)}`` as :func:`read_tags` returns.
      num_errors: ``n``, the number of errors examined; by default the number
        of tagged ids. Must be at least that many.
      error_rate: the overall error rate ``e`` of the evaluated set (a
        fraction); when given, the table has a ``ceiling`` column.

    Returns:
      A ``pandas.DataFrame`` with the columns ``tag``, ``count``, ``share``
      (and ``ceiling``), sorted by ``count`` descending, ties in the order
      the tags first appear.

    Example: lecture 001's "% of total" row over 100 examined errors, with
    lecture 001's model A (dev error 7.8 %) as the error rate:

    >>> counts = {"too big": 15, "blurry": 42, "mislabeled": 18, "cars": 32}
    >>> tags, next_id = {}, 0
    >>> for tag, count in counts.items():
    ...     for i in range(count):
    ...         tags.setdefault((next_id + i) % 100, []).append(tag)
    ...     next_id += count
    >>> print(tag_table(tags, num_errors=100, error_rate=0.078).to_string(index=False))
           tag  count  share  ceiling
        blurry     42   0.42  0.03276
          cars     32   0.32  0.02496
    mislabeled     18   0.18  0.01404
       too big     15   0.15  0.01170
    """
    tagged = len(tags)
    if num_errors is None:
        num_errors = tagged
    if not isinstance(num_errors, (int, np.integer)) or isinstance(num_errors, bool) or num_errors < 1:
        raise ValueError(f"num_errors must be a positive int (errors examined), got {num_errors!r}")
    if num_errors < tagged:
        raise ValueError(f"num_errors {num_errors} is less than the {tagged} tagged examples")
    if error_rate is not None and not (0.0 <= float(error_rate) <= 1.0):
        raise ValueError(f"error_rate must be a fraction in [0, 1], got {error_rate!r}")
    counts: dict[str, int] = {}
    for example_tags in tags.values():
        for tag in dict.fromkeys(example_tags):
            counts[tag] = counts.get(tag, 0) + 1
    import pandas as pd  # imported here so that importing jaxdl does not load pandas
    table = pd.DataFrame({"tag": list(counts), "count": np.array(list(counts.values()), dtype=np.int64)})
    table["share"] = table["count"] / num_errors
    if error_rate is not None:
        table["ceiling"] = table["share"] * float(error_rate)
    return table.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# Looking at the errors


def _title(example, true, predicted, width: int = 30) -> str:
    return "\n".join(textwrap.wrap(f"id {example}: true {true}, predicted {predicted}", width))


def _draw(ax, image: np.ndarray) -> None:
    """One example: an image when it has two or three axes (or a square flat vector), else bars."""
    if image.ndim == 1:
        side = math.isqrt(image.size)
        if side * side == image.size and side > 1:
            image = image.reshape(side, side)
        else:
            positions = np.arange(image.size)
            if image.size <= 64:
                ax.bar(positions, image, width=0.8, color="tab:blue")
            else:
                ax.plot(positions, image, linewidth=0.8, color="tab:blue")
            ax.tick_params(labelsize=6)
            return
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        ax.imshow(image, cmap="gray_r", interpolation="nearest")
    else:
        image = image[..., :3] if image.shape[-1] >= 3 else image[..., :1].repeat(3, axis=-1)
        low, high = float(image.min()), float(image.max())
        # Normalised inputs are not in [0, 1]; show each image over its own range.
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def gallery(images, labels, predictions, ids=None, class_names: Sequence[str] | None = None,
            path: str | os.PathLike | None = None, max_examples: int = 25):
    """A grid of the misclassified examples, each titled ``id N: true A, predicted B``.

    ``images``, ``labels``, ``predictions`` and ``ids`` are aligned: all the
    evaluated examples or any subset of them. The examples with ``label !=
    prediction`` are drawn in the order given, at most ``max_examples`` of
    them (pass them in the order to review, e.g. most confident mistakes
    first). Images are ``(N, H, W, C)`` (``C`` 1 or 3; each RGB image is
    scaled to its own range), ``(N, H, W)``, or flat ``(N, D)``: reshaped to
    a square grey image when ``D`` is a perfect square, else drawn as bars
    (``D <= 64``) or a line over the ``D`` features. The figure's title counts
    the errors shown, the errors and the examples.

    Args:
      images: the inputs, aligned with ``labels``.
      labels, predictions: class indices, shape ``(N,)``.
      ids: the id shown for each example (default ``0 .. N-1``); the ids a
        tag file (:func:`read_tags`) uses.
      class_names: optional names shown instead of indices.
      path: when given, the figure is written there as a PNG (Agg backend;
        pyplot's global state is not touched).
      max_examples: the most errors to draw.

    Returns:
      The ``matplotlib.figure.Figure``: one axes per drawn error (one
      blank axes with a note when there are none).

    Example:

    >>> import numpy as np
    >>> figure = gallery(np.zeros((4, 8, 8)), [0, 1, 2, 3], [0, 2, 2, 1])
    >>> len(figure.axes), figure.get_suptitle()
    (2, '2 of 2 misclassified examples shown (of 4 examples, error rate 50.0%)')
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = np.asarray(images)
    labels, predictions, num_classes = _pair(labels, predictions, None if class_names is None
                                             else len(class_names), class_names)
    if images.ndim < 2 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"images {images.shape} must have one example per label ({labels.shape[0]})")
    ids = np.arange(labels.shape[0]) if ids is None else np.asarray(ids)
    if ids.shape != labels.shape:
        raise ValueError(f"ids {ids.shape} and labels {labels.shape} differ in shape")
    if not isinstance(max_examples, (int, np.integer)) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    names = _names(class_names, num_classes)
    wrong = np.flatnonzero(labels != predictions)
    shown = wrong[:max_examples]
    columns = max(1, math.ceil(math.sqrt(len(shown))))
    rows = max(1, math.ceil(len(shown) / columns))
    # At least wide enough for the title in one line (about 13 characters an inch at 10 points).
    width = max(2.1 * columns, 6.5)
    figure = Figure(figsize=(width, 2.3 * rows + 0.5), layout="constrained")
    FigureCanvasAgg(figure)
    rate = len(wrong) / len(labels) if len(labels) else 0.0
    title = (f"{len(shown)} of {len(wrong)} misclassified examples shown "
             f"(of {len(labels)} examples, error rate {100 * rate:.1f}%)")
    figure.suptitle("\n".join(textwrap.wrap(title, int(13 * width))), fontsize=10)
    if len(shown) == 0:
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        ax.set_axis_off()
    for position, index in enumerate(shown):
        ax = figure.add_subplot(rows, columns, position + 1)
        _draw(ax, np.asarray(images[index], dtype=float))
        example = ids[index].item() if hasattr(ids[index], "item") else ids[index]
        ax.set_title(_title(example, names[labels[index]], names[predictions[index]]), fontsize=8)
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure.savefig(path, dpi=120, format="png")
    return figure


# ---------------------------------------------------------------------------
# Everything at once


def analyze(labels, probabilities_or_predictions, num_classes: int | None = None, *, images=None, ids=None,
            class_names: Sequence[str] | None = None, tags_path: str | os.PathLike | None = None,
            examined: int | None = None, out_dir: str | os.PathLike | None = None, k: int | None = 10,
            max_examples: int = 25) -> dict:
    """Error analysis of one set of predictions: tables, tags and gallery, written to a folder.

    Args:
      labels: true class indices, shape ``(m,)``.
      probabilities_or_predictions: ``(m, K)`` outputs (probabilities or
        logits; the prediction is their ``argmax``) or ``(m,)`` predicted
        indices.
      num_classes: ``K``; by default the outputs' second axis,
        ``len(class_names)`` or the largest index seen plus one.
      images: the inputs, for the gallery (none drawn without them).
      ids: each example's id (default ``0 .. m-1``), as the tag file uses.
      class_names: optional names of the classes.
      tags_path: a CSV of error categories for :func:`read_tags`; its ids
        must be misclassified examples.
      examined: how many errors were examined for the tag file; by default
        the number of tagged ids (see :func:`tag_table`).
      out_dir: when given, writes ``misclassified.csv``, ``error_shares.csv``, ``confusions.csv``,
        ``tags.csv`` (with tags) and ``gallery.png`` (with images) there.
      k: rows of :func:`top_confusions`.
      max_examples: errors drawn in the gallery. Given ``(m, K)`` outputs,
        the most confident mistakes (highest predicted output) come first,
        since those are the likeliest mislabelled examples; else in order.

    Returns:
      ``{"examples": m, "errors": E, "error_rate": E / m, "misclassified":
      ids of the errors, "errors_table": DataFrame of id, label, predicted
      (and confidence) per error, to tag from, "error_shares": DataFrame, "confusions": DataFrame,
      "tags": {id: tags} or None, "tag_table": DataFrame or None,
      "gallery": Figure or None, "files": {name: path written}}``.

    Example:

    >>> result = analyze([0, 1, 1, 2], [[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    >>> result["errors"], result["error_rate"], result["misclassified"].tolist()
    (2, 0.5, [1, 3])
    """
    labels_array = np.asarray(labels)
    outputs = np.asarray(probabilities_or_predictions)
    confidence = None
    if outputs.ndim == 2:
        if num_classes is None:
            num_classes = outputs.shape[1]
        elif outputs.shape[1] != num_classes:
            raise ValueError(f"outputs have {outputs.shape[1]} columns for {num_classes} classes")
        predictions = np.argmax(outputs, axis=1)
        confidence = outputs[np.arange(len(outputs)), predictions]
    elif outputs.ndim == 1:
        predictions = outputs
    else:
        raise ValueError(f"probabilities_or_predictions must be (m, K) outputs or (m,) indices, got {outputs.shape}")
    labels_array, predictions, num_classes = _pair(labels_array, predictions, num_classes, class_names)
    ids = np.arange(len(labels_array)) if ids is None else np.asarray(ids)
    if ids.shape != labels_array.shape:
        raise ValueError(f"ids {ids.shape} and labels {labels_array.shape} differ in shape")
    wrong = labels_array != predictions
    errors, examples = int(wrong.sum()), len(labels_array)
    error_rate = errors / examples if examples else 0.0
    import pandas as pd  # imported here so that importing jaxdl does not load pandas
    result = {
        "examples": examples,
        "errors": errors,
        "error_rate": error_rate,
        "misclassified": ids[wrong],
        "errors_table": pd.DataFrame({"id": ids[wrong], "label": labels_array[wrong],
                                      "predicted": predictions[wrong],
                                      **({} if confidence is None else {"confidence": confidence[wrong]})}),
        "error_shares": error_shares(labels_array, predictions, num_classes, class_names),
        "confusions": top_confusions(labels_array, predictions, k, class_names, num_classes=num_classes),
        "tags": None,
        "tag_table": None,
        "gallery": None,
        "files": {},
    }
    if tags_path is not None:
        result["tags"] = read_tags(tags_path, known_ids=ids[wrong].tolist())
        if result["tags"]:
            result["tag_table"] = tag_table(result["tags"], examined, error_rate)
    if images is not None:
        order = np.arange(examples)
        if confidence is not None:
            order = np.argsort(-np.where(wrong, confidence, -np.inf), kind="stable")
        images = np.asarray(images)
        gallery_path = None if out_dir is None else os.path.join(out_dir, "gallery.png")
        result["gallery"] = gallery(images[order], labels_array[order], predictions[order], ids[order],
                                    class_names, gallery_path, max_examples)
        if gallery_path is not None:
            result["files"]["gallery"] = gallery_path
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        for name, key in (("misclassified", "errors_table"), ("error_shares", "error_shares"),
                          ("confusions", "confusions"), ("tags", "tag_table")):
            if result[key] is not None:
                file = os.path.join(out_dir, f"{name}.csv")
                result[key].to_csv(file, index=False)
                result["files"][name] = file
    return result
