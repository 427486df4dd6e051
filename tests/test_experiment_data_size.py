"""Question 10: learning curves over data size; the script's pieces and a quick run."""

import json
import os

import numpy as np
import pytest

from experiments import common, data_size
from jaxdl import metrics, resample


MAX_PNG_BYTES = 300_000
SIZES = [34, 67, 135, 270, 539, 1078]


def _curve(train_error, val_error, sizes=SIZES):
    """A stand-in for :class:`jaxdl.resample.LearningCurve` with the fields the script reads."""
    train_error, val_error = np.asarray(train_error, float), np.asarray(val_error, float)
    diagnosis = metrics.diagnose_bias_variance(float(train_error[:, -1].mean()), float(val_error[:, -1].mean()),
                                               human_error=0.0)
    return resample.LearningCurve(np.asarray(sizes), train_error, val_error, 0.0, diagnosis,
                                  resample.verdict(diagnosis), None)


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        data_size.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_parser_defaults():
    full = data_size.resolve(data_size.make_parser().parse_args([]))
    assert full["epochs"] == 30 and full["budget"] == 7 and full["seeds"] == (1, 2, 3, 4, 5)
    assert [hidden for _, hidden in full["models"]] == [(2,), (), (256, 256)]
    assert [model.l2 for model, _ in full["models"]] == [0.0, 3.0, 0.0]
    quick_args = data_size.make_parser().parse_args(["--quick"])
    quick = data_size.resolve(quick_args)
    assert quick["epochs"] == 3 and quick["seeds"] == (1, 2)
    assert [(model.kind, hidden) for model, hidden in quick["models"]] == [("high bias", (2,)),
                                                                          ("high variance", (32,))]
    # A quick run never writes the committed results.
    assert common.output_path(quick_args, "data_size") == os.path.join("runs", "experiments", "quick", "data_size")
    assert common.output_path(data_size.make_parser().parse_args([]), "data_size") == os.path.join(
        common.RESULTS_DIR, "data_size")
    custom = data_size.resolve(data_size.make_parser().parse_args(["--epochs", "4", "--seeds", "3"]))
    assert custom["epochs"] == 4 and custom["seeds"] == (1, 2, 3)


def test_last_doubling_gain_by_hand():
    val = [[0.50, 0.40, 0.30, 0.20, 0.15, 0.10],
           [0.55, 0.45, 0.35, 0.25, 0.12, 0.13]]
    np.testing.assert_allclose(data_size.last_doubling_gain(SIZES, val), [0.05, -0.01])
    np.testing.assert_allclose(data_size.last_doubling_gain([500, 1000], [[0.2, 0.1]]), [0.1])
    with pytest.raises(ValueError, match="n/2 and n"):
        data_size.last_doubling_gain([100, 1000], [[0.2, 0.1]])
    with pytest.raises(ValueError, match="n/2 and n"):
        data_size.last_doubling_gain([1000], [[0.1]])


def test_still_falling_needs_two_standard_errors():
    # mean 0.04, sd 0.01, n 3: standard error 0.0058, well under half the mean.
    assert data_size.still_falling([0.03, 0.04, 0.05])
    # mean 0.01, sd 0.02, n 4: 2 standard errors = 0.02 > 0.01.
    assert not data_size.still_falling([0.03, -0.01, 0.03, -0.01])
    assert not data_size.still_falling([0.05])  # one seed has no spread to judge by
    assert not data_size.still_falling([-0.03, -0.04, -0.05])


@pytest.mark.parametrize("verdict, gains, expected", [
    ("more data will help: the model overfits", [0.03, 0.04, 0.05], "agrees"),
    ("more data will help: the model overfits", [0.01, -0.01, 0.0], "disagrees"),
    ("more data will not help: the model underfits", [0.01, -0.01, 0.0], "agrees"),
    ("more data will not help: the model underfits", [0.03, 0.04, 0.05], "disagrees"),
    ("more data will help with the variance only: the model underfits and overfits", [0.03, 0.04, 0.05], "agrees"),
    ("more data will help with the variance only: the model underfits and overfits", [0.01, -0.01, 0.0],
     "disagrees"),
    ("more data will help little: training and validation errors have met", [0.01, 0.01, 0.01], "agrees"),
    ("more data will help little: training and validation errors have met", [0.03, 0.04, 0.05], "disagrees"),
])
def test_agreement(verdict, gains, expected):
    assert data_size.agreement(verdict, gains) == expected


def test_model_names():
    assert data_size.model_name((2,)) == "MLP 64-2-10"
    assert data_size.model_name((256, 256)) == "MLP 64-256-256-10"
    assert data_size.model_name((), 3.0) == "linear 64-10, L2 3"


def test_summary_and_table_rows():
    train_error = [[0.00, 0.00, 0.00, 0.00, 0.00, 0.00], [0.00, 0.00, 0.00, 0.00, 0.00, 0.00]]
    val_error = [[0.30, 0.20, 0.10, 0.07, 0.05, 0.02], [0.32, 0.18, 0.12, 0.05, 0.04, 0.04]]
    model = data_size.MODELS[-1]
    summary = data_size.summarise(model, model.hidden, 1e-3, _curve(train_error, val_error))
    np.testing.assert_allclose(summary["gain"], [0.03, 0.0], atol=1e-12)
    np.testing.assert_allclose(summary["gap"], [0.02, 0.04])
    assert summary["diagnosis"] == "low bias, high variance"
    # At 539 the mean errors are 0 / 4.5 %: high variance, so "more data will help"; the gain 1.5 ± 2.1 points
    # over 2 seeds is under two standard errors (3.0), so the verdict disagrees with the measured gain.
    assert summary["diagnosis_by_size"][-2] == "low bias, high variance"
    assert summary["half_verdict"].startswith("more data will help:")
    assert summary["half_verdict_vs_gain"] == "disagrees"

    check = {"kind": model.kind, "factor": 2, "sizes": [539, 1078], "train_error": [[0.0, 0.0], [0.0, 0.0]],
             "val_error": [[0.05, 0.01], [0.04, 0.02]], "diagnosis": "low bias, low variance",
             "verdict": "more data will help little: met"}
    rows = data_size.table_rows([summary], [check])
    assert [(r["model"], r["error %"]) for r in rows] == [
        ("MLP 64-256-256-10 (high variance)", "training"), ("MLP 64-256-256-10 (high variance)", "validation"),
        ("MLP 64-256-256-10 (high variance), 2x steps", "training"),
        ("MLP 64-256-256-10 (high variance), 2x steps", "validation"),
    ]
    val_row = rows[1]
    assert val_row["n=34"] == "31.0 ± 1.4"  # mean 31 %, sd of (30, 32) = 1.41
    assert val_row["n=1078"] == "3.0 ± 1.4"
    assert val_row["gain of last doubling (points)"] == "1.5 ± 2.1"
    assert val_row["val - train at full size (points)"] == "3.0 ± 1.4"
    assert val_row["verdict at full size"] == "more data will help"
    assert val_row["half-size verdict vs gain"] == "disagrees"
    assert rows[3]["gain of last doubling (points)"] == "3.0 ± 1.4"  # gains 4 and 2 points
    assert "n=34" not in rows[3] and rows[3]["verdict at full size"] == "more data will help little"
    columns = data_size.columns_of(rows)
    assert columns[:8] == ["model", "error %"] + [f"n={n}" for n in SIZES]
    assert columns[-1] == "half-size verdict vs gain"


@pytest.mark.slow  # a quick run of the whole script; `pytest -m slow`
def test_quick_data_size_run(tmp_path):
    out = str(tmp_path)
    result = data_size.main(["--quick", "--out", out])
    for suffix in ("md", "json"):
        assert os.path.getsize(os.path.join(out, f"data_size.{suffix}")) > 0
    assert 0 < os.path.getsize(os.path.join(out, "data_size.png")) < MAX_PNG_BYTES
    with open(os.path.join(out, "data_size.json")) as f:
        payload = json.load(f)
    with open(os.path.join(out, "data_size.md")) as f:
        assert payload["finding"] in f.read()
    assert payload["finding"].strip() and "\n" not in payload["finding"]
    assert len(payload["rows"]) == 8  # 2 models x (training, validation) x (curve, longer check)
    assert [c["kind"] for c in result["curves"]] == ["high bias", "high variance"]
    verdicts = {"more data will help", "more data will not help", "more data will help little",
                "more data will help with the variance only"}
    for curve, check in zip(result["curves"], result["checks"]):
        assert curve["sizes"] == SIZES
        train_error, val_error = np.asarray(curve["train_error"]), np.asarray(curve["val_error"])
        assert train_error.shape == val_error.shape == (2, 6)
        assert np.all((0 <= train_error) & (train_error <= 1)) and np.all((0 <= val_error) & (val_error <= 1))
        np.testing.assert_allclose(curve["gain"], val_error[:, -2] - val_error[:, -1])
        np.testing.assert_allclose(curve["gap"], val_error[:, -1] - train_error[:, -1])
        assert data_size.short(curve["verdict"]) in verdicts
        assert check["sizes"] == SIZES[-2:] and np.asarray(check["val_error"]).shape == (2, 2)
        # 30 passes per epoch at 34 examples: the smallest member must fit far better than chance (90 % error).
        assert val_error[:, 0].mean() < 0.8
    # The wide network fits its training subsets better than the two-unit bottleneck at every size.
    bottleneck, wide = result["curves"]
    assert np.all(np.mean(wide["train_error"], axis=0) < np.mean(bottleneck["train_error"], axis=0))
