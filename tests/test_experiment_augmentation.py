"""Question 11: data augmentation and variance on small training sets; its pieces and a quick run."""

import json
import math
import os

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import augmentation
from jaxdl import augment

MAX_PNG_BYTES = 300_000


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        augmentation.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_arms_scale_the_library_defaults_and_never_flip():
    assert "horizontal_flip" not in augmentation.TRANSFORMS
    assert augmentation.strengths(0.0) == {name: 0.0 for name in augmentation.TRANSFORMS}
    assert augmentation.strengths(1.0) == {name: augment.DEFAULTS[name] for name in augmentation.TRANSFORMS}
    assert augmentation.ARMS["none"] == 0.0
    assert augmentation.describe("none") == "none"
    assert augmentation.describe("mild") == "mild (shift ±1 px, rotation ±10°, scale ×[0.9, 1.1])"
    assert augmentation.describe("strong") == "strong (shift ±2 px, rotation ±20°, scale ×[0.8, 1.2])"


def test_member_hparams_pair_rates_with_strengths():
    hparams = augmentation.member_hparams([1e-3, 1e-2, 1e-3], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(hparams.learning_rate, [1e-3, 1e-2, 1e-3], rtol=1e-6)
    for name in augmentation.TRANSFORMS:
        np.testing.assert_allclose(hparams.augment[name], np.array([0.0, 1.0, 2.0]) * augment.DEFAULTS[name],
                                   rtol=1e-6)
        assert hparams.augment[name][0] == 0.0  # the control is exactly no augmentation


@pytest.fixture(scope="module")
def parts():
    return augmentation.splits()


def test_subsets_are_stratified_per_seed_and_keep_the_background(parts):
    small = augmentation.digits_subset(100, 1, parts)
    assert small.x_train.shape == (100, 8, 8, 1)
    assert np.bincount(np.asarray(small.y_train), minlength=10).tolist() == [10] * 10
    x = np.asarray(small.x_train)
    assert x.min() == 0.0 and x.std() == pytest.approx(1.0, rel=1e-5)  # scaled, not centred
    again, other = augmentation.digits_subset(100, 1, parts), augmentation.digits_subset(100, 2, parts)
    np.testing.assert_array_equal(x, np.asarray(again.x_train))
    assert not np.array_equal(x, np.asarray(other.x_train))
    # Validation and test are the same images whatever the subset (only the one scale differs).
    ratio = np.asarray(small.x_val) / np.where(np.asarray(other.x_val) == 0, 1, np.asarray(other.x_val))
    assert np.unique(np.round(ratio[np.asarray(other.x_val) != 0], 4)).size == 1
    np.testing.assert_array_equal(np.asarray(small.y_test), np.asarray(other.y_test))
    whole = augmentation.digits_subset(None, 3, parts)
    assert whole.x_train.shape[0] == len(parts[0].y) == 1078
    assert whole.x_val.shape[0] + whole.x_test.shape[0] == 1797 - 1078
    with pytest.raises(ValueError, match="between 1 and the 1078"):
        augmentation.digits_subset(2000, 0, parts)


def test_stack_adds_a_member_axis(parts):
    datas = [augmentation.digits_subset(100, seed, parts) for seed in (1, 2)]
    stacked = augmentation.stack(datas)
    assert stacked.x_train.shape == (2, 100, 8, 8, 1) and stacked.y_val.shape[0] == 2
    assert stacked.num_classes == 10
    np.testing.assert_array_equal(np.asarray(stacked.x_train[1]), np.asarray(datas[1].x_train))


@pytest.mark.parametrize("size, steps, epochs, expected", [
    (100, 1200, 100, 400),  # 3 steps per epoch: the step floor rules
    (300, 1200, 100, 134),  # 9 per epoch: ceil(1200 / 9)
    (1078, 1200, 100, 100),  # 33 per epoch: the epoch floor rules
    (40, 1, 1, 1),
])
def test_epochs_for(size, steps, epochs, expected):
    assert augmentation.epochs_for(size, steps, epochs) == expected


def test_config_chooses_every_transform_and_keeps_the_last_epoch():
    config = augmentation.config_for(100, (16,), 60, 5)
    assert config.augment == tuple(name for name in augment.TRANSFORMS if name in augmentation.TRANSFORMS)
    assert config.restore_best is False and config.epochs == 20 and config.model_kwargs["hidden"] == (16,)


def test_digit_geometry_of_a_known_image():
    image = np.zeros((2, 8, 8, 1))
    image[0, :, 3, 0] = 1.0  # a full-height bar in column 3
    image[1, 2, 0, 0] = 1.0  # one dot at row 2, column 0
    g = augmentation.digit_geometry(image)
    assert g["images"] == 2
    assert g["centroid_sd_down"] == pytest.approx(np.std([3.5, 2.0]))
    assert g["centroid_sd_across"] == pytest.approx(np.std([3.0, 0.0]))
    assert g["rows_with_ink"] == pytest.approx(4.5) and g["columns_with_ink"] == pytest.approx(1.0)
    assert g["full_height"] == pytest.approx(0.5) and g["touch_left_or_right"] == pytest.approx(0.5)


def test_pick_rates_skips_diverged_rates_and_takes_the_first_of_ties():
    rates = [1e-3, 3e-3, 1e-2]
    val_error = [0.2, 0.1, 0.1,  # ties: the first
                 0.3, 0.05, np.nan]  # NaN: as if diverged
    diverged = [False, False, False, False, True, False]
    assert augmentation.pick_rates(rates, ["none", "mild"], val_error, diverged) == {"none": 3e-3, "mild": 1e-3}
    with pytest.raises(ValueError, match="every learning rate diverged for arm 'mild'"):
        augmentation.pick_rates(rates, ["none", "mild"], val_error, [False] * 3 + [True] * 3)


def test_paired_and_clear():
    stats = augmentation.paired([0.10, 0.12, 0.11, 0.13, 0.09], [0.08, 0.10, 0.09, 0.10, 0.08])
    assert stats["mean"] == pytest.approx(0.02) and stats["n"] == 5 and stats["positive"] == 5
    assert stats["sd"] == pytest.approx(np.std([0.02, 0.02, 0.02, 0.03, 0.01], ddof=1))
    assert augmentation.clear(stats)
    noisy = augmentation.paired([0.1, 0.2], [0.2, 0.1])
    assert noisy["mean"] == pytest.approx(0.0) and not augmentation.clear(noisy)
    assert not augmentation.clear({"mean": 1.0, "sd": 0.0, "n": 1})


def _synthetic(size, none, mild, strong):
    """A run_size-shaped result: each arm given as (train errors, val errors), 3 seeds."""
    arms = {}
    for arm, (train_error, val_error) in (("none", none), ("mild", mild), ("strong", strong)):
        train_error, val_error = np.asarray(train_error), np.asarray(val_error)
        arms[arm] = {"train_error": train_error.tolist(), "val_error": val_error.tolist(),
                     "gap": (val_error - train_error).tolist(), "test_error": val_error.tolist(),
                     "test_accuracy": (1 - val_error).tolist(), "final_train_loss": [0.0] * 3,
                     "diverged": [False] * 3}
    for arm in ("mild", "strong"):
        arms[arm]["versus_none"] = {key: augmentation.paired(arms["none"][key], arms[arm][key])
                                    for key in ("gap", "val_error", "train_error", "test_error")}
    return {"size": size, "epochs": 1, "steps": 1, "learning_rates": {a: 1e-3 for a in arms}, "arms": arms}


def _helpful_results():
    # Mild narrows the gap by 5 points at 100 images, 1 at 1078, and costs 2 points of training error.
    return [
        _synthetic(100, ([0.0, 0.0, 0.0], [0.10, 0.11, 0.12]), ([0.02, 0.02, 0.02], [0.07, 0.08, 0.07]),
                   ([0.10, 0.12, 0.11], [0.20, 0.21, 0.22])),
        _synthetic(1078, ([0.0, 0.0, 0.0], [0.02, 0.03, 0.02]), ([0.0, 0.0, 0.0], [0.01, 0.02, 0.01]),
                   ([0.05, 0.05, 0.05], [0.06, 0.07, 0.06])),
    ]


def test_finding_reports_a_gap_that_shrinks_most_at_the_smallest_size():
    finding = augmentation._finding(_helpful_results(), {"images": 5})
    assert "100 images 11.0 / 5.3 / 10.0" in finding
    assert "mild +5.7, +1.0" in finding
    assert "beyond twice its standard error: mild at 100 (training error +2.0), mild at 1078" in finding
    assert "so mild narrows the gap most at the smallest size" in finding
    assert "rises by (points): mild +2.0, +0.0; strong +11.0, +5.0: a bias cost for mild and strong" in finding
    assert "100 images 11.0% -> 7.3% (mild, better), test accuracy 89.0% -> 92.7% (better)" in finding
    assert "Why so little" not in finding  # augmentation helped, so no excuse is offered
    assert "\n" not in finding


def test_finding_explains_a_null_result_with_the_digits_geometry():
    same = ([0.0, 0.0, 0.0], [0.10, 0.12, 0.11])
    worse = ([0.0, 0.0, 0.0], [0.11, 0.11, 0.12])
    results = [_synthetic(100, same, worse, worse), _synthetic(300, same, same, worse)]
    geometry = {"images": 1797, "centroid_sd_down": 0.39, "centroid_sd_across": 0.3, "full_height": 1.0}
    finding = augmentation._finding(results, geometry)
    assert "beyond twice its standard error: nowhere" in finding
    assert "; at 100 images, where variance is highest, no arm narrows the gap beyond noise" in finding
    assert "mild +0.0, +0.0; strong +0.0, +0.0: no bias cost to speak of" in finding
    assert "(mild, within noise" in finding
    assert "Why so little" in finding and "100% of all 1797 images" in finding


def test_plot_writes_a_small_png(tmp_path):
    path = augmentation.plot(_helpful_results(), str(tmp_path / "augmentation.png"), hidden=(8,))
    assert 0 < os.path.getsize(path) < MAX_PNG_BYTES


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_augmentation_run(tmp_path):
    out = str(tmp_path)
    result = augmentation.main(["--quick", "--out", out])
    for suffix in ("md", "json"):
        assert os.path.getsize(os.path.join(out, f"augmentation.{suffix}")) > 0
    assert 0 < os.path.getsize(os.path.join(out, "augmentation.png")) < MAX_PNG_BYTES
    with open(os.path.join(out, "augmentation.json")) as f:
        payload = json.load(f)
    with open(os.path.join(out, "augmentation.md")) as f:
        assert payload["finding"] in f.read()
    assert payload["finding"].strip() and "\n" not in payload["finding"]
    rows = payload["rows"]
    assert [(r["training images"], r["augmentation"].split()[0]) for r in rows] == [
        (100, arm) for arm in augmentation.ARMS]
    (size_result,) = result["results"]
    assert size_result["size"] == 100 and size_result["epochs"] == 20
    grid = {augmentation.LOW, augmentation.HIGH}  # --quick tries 2 rates, the grid's ends
    assert set(size_result["learning_rates"].values()) <= grid
    assert all(r["learning rate"].endswith("(edge)") for r in rows)
    for arm, r in size_result["arms"].items():
        train_error, val_error = np.asarray(r["train_error"]), np.asarray(r["val_error"])
        assert train_error.shape == (2,)
        assert np.all((0 <= train_error) & (train_error <= 1)) and np.all((0 <= val_error) & (val_error <= 1))
        np.testing.assert_allclose(r["gap"], val_error - train_error, atol=1e-6)
        np.testing.assert_allclose(r["test_accuracy"], 1 - np.asarray(r["test_error"]), atol=1e-6)
        assert not any(r["diverged"])
        if arm != "none":
            assert r["versus_none"]["gap"]["n"] == 2
    assert math.isclose(payload["geometry"]["full_height"], result["geometry"]["full_height"])
