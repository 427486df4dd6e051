"""Tests for jaxdl.analysis: error shares, confusions, error tags and lecture 001's category table."""

import collections
import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from jaxdl import analysis
from jaxdl.data import DataError

# A tiny example worked by hand: 10 examples of 3 classes, 4 errors.
#   class 0: 4 examples, errors at 1 (->1) and 3 (->2)    2 errors
#   class 1: 3 examples, error at 5 (->0)                 1 error
#   class 2: 3 examples, error at 9 (->1)                 1 error
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
PREDICTIONS = np.array([0, 1, 0, 2, 1, 0, 1, 2, 2, 1])


# ---------------------------------------------------------------------------
# error_shares


def test_error_shares_by_hand():
    table = analysis.error_shares(LABELS, PREDICTIONS, 3, class_names=["cat", "dog", "bird"])
    assert list(table.columns) == ["label", "class", "examples", "errors", "error_rate", "share", "ceiling"]
    # Sorted by share descending; dog and bird tie at 1/4 and keep class order.
    assert table["class"].tolist() == ["cat", "dog", "bird"]
    assert table["label"].tolist() == [0, 1, 2]
    assert table["examples"].tolist() == [4, 3, 3]
    assert table["errors"].tolist() == [2, 1, 1]
    np.testing.assert_allclose(table["error_rate"], [2 / 4, 1 / 3, 1 / 3])
    np.testing.assert_allclose(table["share"], [2 / 4, 1 / 4, 1 / 4])
    assert table["share"].sum() == pytest.approx(1.0)
    # Fixing every cat error lowers the 40 % error rate by at most 40 % * 1/2 = 20 %.
    overall = 4 / 10
    np.testing.assert_allclose(table["ceiling"], overall * table["share"])
    np.testing.assert_allclose(table["ceiling"], [0.2, 0.1, 0.1])
    assert table["ceiling"].sum() == pytest.approx(overall)


def test_error_shares_sorts_by_share_and_handles_empty_classes():
    # Class 2 has the most errors though it is listed last; class 3 has no examples.
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 0, 1, 2])
    table = analysis.error_shares(labels, predictions, 4)
    assert table["class"].tolist() == [2, 0, 1, 3]
    np.testing.assert_allclose(table["share"], [2 / 3, 1 / 3, 0.0, 0.0])
    assert np.isnan(table.loc[table["label"] == 3, "error_rate"].item())
    assert table.loc[table["label"] == 1, "error_rate"].item() == 0.0


def test_error_shares_without_errors_are_zero():
    table = analysis.error_shares([0, 1, 2], [0, 1, 2], 3)
    assert table["errors"].sum() == 0
    np.testing.assert_array_equal(table["share"], 0.0)
    np.testing.assert_array_equal(table["ceiling"], 0.0)


@pytest.mark.parametrize("labels, predictions, num_classes, message", [
    ([0, 1, 3], [0, 1, 1], 3, "1 labels outside 0..2"),
    ([0, 1, 2], [0, -1, 1], 3, "1 predictions outside 0..2"),
    ([0, 1], [0, 1, 1], 3, "differ in shape"),
    ([[0, 1]], [[0, 1]], 3, "1-d class indices"),
    ([0.5, 1.0], [0, 1], 3, "non-integral"),
    ([0, 1], [0, 1], 0, "num_classes must be a positive int"),
])
def test_error_shares_rejects_bad_input(labels, predictions, num_classes, message):
    with pytest.raises(ValueError, match=message):
        analysis.error_shares(labels, predictions, num_classes)


# ---------------------------------------------------------------------------
# top_confusions


def test_top_confusions_order_and_shares():
    labels = np.array([3] * 5 + [8] * 4 + [1] * 3 + [7] * 2)
    predictions = np.array([8, 8, 8, 5, 3] + [3, 3, 1, 8] + [7, 7, 1] + [1, 7])
    # Errors: 3->8 x3, 8->3 x2, 1->7 x2, 3->5, 8->1, 7->1: 10 in all.
    table = analysis.top_confusions(labels, predictions, k=None)
    assert list(table.columns) == ["true", "predicted", "true_label", "predicted_label", "count", "share"]
    pairs = list(zip(table["true"], table["predicted"]))
    # Count descending; equal counts in (true, predicted) order.
    assert pairs == [(3, 8), (1, 7), (8, 3), (3, 5), (7, 1), (8, 1)]
    assert table["count"].tolist() == [3, 2, 2, 1, 1, 1]
    np.testing.assert_allclose(table["share"], np.array([3, 2, 2, 1, 1, 1]) / 10)
    assert table["share"].sum() == pytest.approx(1.0)
    # Independent count of the pairs.
    expected = collections.Counter((t, p) for t, p in zip(labels, predictions) if t != p)
    assert dict(zip(pairs, table["count"])) == expected
    top = analysis.top_confusions(labels, predictions, k=2)
    assert list(zip(top["true"], top["predicted"])) == [(3, 8), (1, 7)]


def test_top_confusions_names_and_no_errors():
    names = ["cat", "dog", "bird"]
    table = analysis.top_confusions(LABELS, PREDICTIONS, class_names=names)
    assert table.iloc[0][["true", "predicted"]].tolist() == ["cat", "dog"]
    assert table["true_label"].tolist() == [0, 0, 1, 2]
    assert analysis.top_confusions([0, 1], [0, 1]).empty
    with pytest.raises(ValueError, match="k must be"):
        analysis.top_confusions(LABELS, PREDICTIONS, k=0)


# ---------------------------------------------------------------------------
# read_tags


def test_read_tags_several_tags_per_id(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text(
        "\ufeffid,tag,comment\n"
        "17,blurry,hard to see\n"
        "\n"
        "17, mislabeled ,\n"
        "42,too big;blurry\n"
        "17,blurry,counted once\n"
        " 5 ,cars\n",
        encoding="utf-8",
    )
    tags = analysis.read_tags(path, known_ids=[5, 17, 42, 99])
    assert tags == {17: ("blurry", "mislabeled"), 42: ("too big", "blurry"), 5: ("cars",)}
    assert list(tags) == [17, 42, 5]
    assert analysis.read_tags(path, known_ids=None) == tags


@pytest.mark.parametrize("content, message", [
    ("", "empty tag file"),
    ("id,label\n1,blurry\n", "line 1: header lacks column tag"),
    ("example,category\n1,blurry\n", "line 1: header lacks columns id, tag"),
    ("id,tag\n1,blurry\nseven,cars\n", "line 3: id 'seven' is not an integer"),
    ("id,tag\n1,blurry\n2,\n", "line 3: empty tag for id 2"),
    ("id,tag\n1,blurry;;cars\n", "line 2: empty tag for id 1"),
    ("id,tag\n1\n", "line 2: empty tag for id 1"),
])
def test_read_tags_errors_are_one_line_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "tags.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as error:
        analysis.read_tags(path, known_ids=[1, 2])
    assert isinstance(error.value, ValueError)
    assert str(error.value).startswith(str(path))
    assert "\n" not in str(error.value)


def test_read_tags_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="no such tag file") as error:
        analysis.read_tags(path, known_ids=[1])
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_read_tags_unknown_ids_are_counted_and_shown(tmp_path):
    path = tmp_path / "tags.csv"
    rows = ["id,tag", "1,blurry"] + [f"{example},cars" for example in (10, 11, 12, 13, 14, 15, 16)]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as error:
        analysis.read_tags(path, known_ids=[1, 2, 3])
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: 7 tagged ids are not among the 3 misclassified examples: ")
    assert "10 (line 3), 11 (line 4), 12 (line 5), 13 (line 6), 14 (line 7), ..." in message
    assert "15 (line" not in message
    path.write_text("id,tag\n1,blurry\n4,cars\n")
    with pytest.raises(DataError, match=r"1 tagged id is not among the 3 misclassified examples: 4 \(line 3\)$"):
        analysis.read_tags(path, known_ids=[1, 2, 3])


# ---------------------------------------------------------------------------
# tag_table and lecture 001's table

# Lecture 001 (and 000/002), "Error Analysis and Overgoing Troubles": "try to find out all possible
# categories of errors and count up their occurrences", with the row "% of total: 15% 42% 18% 32% 12% 18%".
LECTURE_CATEGORIES = {
    "Too big": 15,
    "Blurry": 42,
    "Mislabeled": 18,
    "Cars": 32,
    "Data Distribution 1": 12,
    "Weak representation of this class": 18,
}


def _lecture_tag_file(path):
    """100 examined errors tagged to give the lecture's percentages; rows 1 and 2 as the lecture's table shows."""
    rows = {1: ["Blurry", "Mislabeled"], 2: ["Cars", "Weak representation of this class"]}
    others = list(range(3, 101))
    position = 0
    for tag, count in LECTURE_CATEGORIES.items():
        for _ in range(count - sum(tag in tags for tags in rows.values())):
            rows.setdefault(others[position % len(others)], []).append(tag)
            position += 1
    lines = ["id,tag"] + [f"{example},{';'.join(tags)}" for example, tags in sorted(rows.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_lecture_category_table(tmp_path):
    tags = analysis.read_tags(_lecture_tag_file(tmp_path / "tags.csv"), known_ids=range(1, 101))
    assert len(tags) == 100
    assert tags[1] == ("Blurry", "Mislabeled")
    assert tags[2] == ("Cars", "Weak representation of this class")
    table = analysis.tag_table(tags, num_errors=100)
    percent = dict(zip(table["tag"], np.round(100 * table["share"], 10)))
    assert percent == {tag: float(value) for tag, value in LECTURE_CATEGORIES.items()}
    # One example can have several categories: the lecture's row adds up to 137 %.
    assert 100 * table["share"].sum() == pytest.approx(137.0)
    assert table["count"].tolist() == sorted(LECTURE_CATEGORIES.values(), reverse=True)
    # Equal counts (18 and 18) keep the order in which the tags first appear.
    assert table["tag"].tolist()[2:4] == ["Mislabeled", "Weak representation of this class"]


def test_tag_table_ceiling_from_error_rate():
    tags = {1: ("blurry",), 2: ("blurry", "mislabeled"), 3: ("too big",), 4: ("blurry",)}
    table = analysis.tag_table(tags, num_errors=5, error_rate=0.10)
    assert table["tag"].tolist() == ["blurry", "mislabeled", "too big"]
    np.testing.assert_allclose(table["share"], [3 / 5, 1 / 5, 1 / 5])
    # Fixing every blurry error of a 10 % error rate buys at most 10 % * 3/5 = 6 %.
    np.testing.assert_allclose(table["ceiling"], [0.06, 0.02, 0.02])
    assert "ceiling" not in analysis.tag_table(tags).columns
    # By default the examined errors are the tagged ones.
    np.testing.assert_allclose(analysis.tag_table(tags)["share"], [3 / 4, 1 / 4, 1 / 4])
    with pytest.raises(ValueError, match="less than the 4 tagged"):
        analysis.tag_table(tags, num_errors=3)
    with pytest.raises(ValueError, match="error_rate"):
        analysis.tag_table(tags, num_errors=5, error_rate=7.8)


# ---------------------------------------------------------------------------
# gallery


def _digits_with_mistakes(count=120, every=10):
    digits = load_digits()
    images, labels = digits.data[:count], digits.target[:count]
    predictions = labels.copy()
    predictions[::every] = (labels[::every] + 1) % 10  # 12 mistakes among 120
    return images, labels, predictions


def test_gallery_writes_png_with_one_axes_per_error(tmp_path):
    images, labels, predictions = _digits_with_mistakes()
    ids = np.arange(1000, 1000 + len(labels))
    path = tmp_path / "figures" / "gallery.png"
    figure = analysis.gallery(images, labels, predictions, ids, path=path, max_examples=9)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == 9
    first = figure.axes[0]
    assert first.get_title() == f"id 1000: true {labels[0]}, predicted {predictions[0]}"
    assert first.images[0].get_array().shape == (8, 8)  # 64 features drawn as an 8 x 8 image
    assert figure.get_suptitle() == "9 of 12 misclassified examples shown (of 120 examples, error rate 10.0%)"
    everything = analysis.gallery(images, labels, predictions, max_examples=25)
    assert len(everything.axes) == 12


def test_gallery_image_layouts_and_no_errors():
    images, labels, predictions = _digits_with_mistakes(count=20)
    cube = images.reshape(-1, 8, 8, 1)
    assert len(analysis.gallery(cube, labels, predictions).axes) == 2
    rgb = np.repeat(cube, 3, axis=-1) - 8.0  # normalised inputs are not in [0, 1]
    image = analysis.gallery(rgb, labels, predictions).axes[0].images[0].get_array()
    assert image.shape == (8, 8, 3) and image.min() == 0.0 and image.max() == 1.0
    bars = analysis.gallery(images[:, :10], labels, predictions).axes[0]
    assert not bars.images and len(bars.patches) == 10  # 10 features: not a square, drawn as bars
    names = [f"digit {k}" for k in range(10)]
    titled = analysis.gallery(images, labels, predictions, class_names=names)
    title = titled.axes[0].get_title()
    assert "\n" in title  # long titles wrap instead of running into the next panel
    assert title.replace("\n", " ") == f"id 0: true digit {labels[0]}, predicted digit {predictions[0]}"
    empty = analysis.gallery(images, labels, labels)
    assert len(empty.axes) == 1 and empty.get_suptitle().startswith("0 of 0 misclassified")


# ---------------------------------------------------------------------------
# analyze


def test_analyze_writes_tables_tags_and_gallery(tmp_path):
    images, labels, predictions = _digits_with_mistakes()
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=len(labels)) * 0.5
    probabilities[np.arange(len(labels)), predictions] += 0.5
    wrong = np.flatnonzero(labels != predictions)
    tags_path = tmp_path / "tags.csv"
    tags_path.write_text(f"id,tag\n{wrong[0]},blurry\n{wrong[1]},blurry;mislabeled\n")
    out = tmp_path / "analysis"
    result = analysis.analyze(labels, probabilities, images=images, tags_path=tags_path, examined=4,
                              out_dir=out, max_examples=4)
    assert (result["examples"], result["errors"]) == (120, 12)
    assert result["error_rate"] == pytest.approx(0.1)
    np.testing.assert_array_equal(result["misclassified"], wrong)
    assert set(result["files"]) == {"misclassified", "error_shares", "confusions", "tags", "gallery"}
    for name in ("misclassified.csv", "error_shares.csv", "confusions.csv", "tags.csv", "gallery.png"):
        assert (out / name).stat().st_size > 0
    # The errors to tag from: each misclassified id with its label, prediction and confidence.
    errors = pd.read_csv(out / "misclassified.csv")
    assert errors["id"].tolist() == wrong.tolist() and errors["predicted"].tolist() == predictions[wrong].tolist()
    np.testing.assert_allclose(errors["confidence"], probabilities[wrong, predictions[wrong]])
    pd.testing.assert_frame_equal(pd.read_csv(out / "error_shares.csv"),
                                  analysis.error_shares(labels, predictions, 10), check_dtype=False)
    tags = pd.read_csv(out / "tags.csv")
    assert tags["tag"].tolist() == ["blurry", "mislabeled"]
    np.testing.assert_allclose(tags["share"], [2 / 4, 1 / 4])
    np.testing.assert_allclose(tags["ceiling"], [0.1 * 2 / 4, 0.1 * 1 / 4])
    # The gallery shows the most confident mistakes first.
    confidence = probabilities[wrong, predictions[wrong]]
    first = wrong[np.argmax(confidence)]
    assert result["gallery"].axes[0].get_title().startswith(f"id {first}:")
    assert len(result["gallery"].axes) == 4


def test_analyze_rejects_tags_of_correct_examples(tmp_path):
    tags_path = tmp_path / "tags.csv"
    tags_path.write_text("id,tag\n0,blurry\n")  # example 0 is classified correctly
    with pytest.raises(DataError, match="1 tagged id is not among the 4 misclassified examples: 0"):
        analysis.analyze(LABELS, PREDICTIONS, tags_path=tags_path)
    result = analysis.analyze(LABELS, PREDICTIONS)
    assert result["tags"] is None and result["gallery"] is None and result["files"] == {}


def test_docstring_examples_run():
    assert doctest.testmod(analysis).failed == 0
