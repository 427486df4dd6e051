"""`jaxdl learning-curve` and `jaxdl analyze` end to end: files, tables, one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

from jaxdl import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze") / "run"
    assert cli.main(["train", "--epochs", "3", "--hidden", "16", "--quiet", "--out", str(out)]) == 0
    return out


def test_learning_curve_writes_its_figure_tables_and_verdict(tmp_path, capsys):
    out = tmp_path / "curve"
    code = cli.main(["learning-curve", "--epochs", "2", "--hidden", "16", "--seeds", "2", "--sizes", "100", "1078",
                     "--human-error", "0.01", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "2 sizes from 100 to 1078 of 1078 training examples x 2 seeds = 4 members in one program" in printed
    assert "verdict: more data" in printed
    saved = json.loads((out / "learning_curve.json").read_text())
    assert saved["sizes"] == [100, 1078] and np.shape(saved["val_error"]) == (2, 2) and saved["human_error"] == 0.01
    table = pd.read_csv(out / "learning_curve.csv")
    np.testing.assert_allclose(table["val error"], np.mean(saved["val_error"], axis=0))
    assert (out / "learning_curve.png").stat().st_size > 0


@pytest.mark.parametrize("argv,message", [
    (["--human-error", "1.5"], "--human-error is a fraction in [0, 1), got 1.5"),
    (["--sizes", "5000"], "a subset size must be an integer from 1 to 1,078, got 5000"),
    (["--seeds", "0"], "expected a positive integer, got 0"),
])
def test_learning_curve_bad_flags_are_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["learning-curve", "--epochs", "1", "--out", str(tmp_path / "c"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("jaxdl: error:")


def test_learning_curve_shares_the_train_options_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["learning-curve", "--help"])
    text = capsys.readouterr().out
    for flag in ("--model", "--activation", "--optimizer", "--learning-rate", "--patience", "--set", "--sizes",
                 "--seeds", "--human-error"):
        assert flag in text
    assert "(default: 3)" in text and "(default: 0.001)" in text


def test_analyze_a_train_run_with_tags(trained, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert cli.main(["analyze", str(trained), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    errors = pd.read_csv(out / "misclassified.csv")
    assert f"{len(errors)} errors in 360 examples" in printed and "most frequent confusions" in printed
    shares = pd.read_csv(out / "error_shares.csv")
    assert shares["errors"].sum() == len(errors) and shares["share"].sum() == pytest.approx(1.0)
    tags = tmp_path / "tags.csv"
    first, second = errors["id"].tolist()[:2]
    tags.write_text(f"id,tag\n{first},blurry\n{second},blurry;looks like 8\n")
    assert cli.main(["analyze", str(trained), "--tags", str(tags), "--out", str(out)]) == 0
    table = pd.read_csv(out / "tags.csv")
    assert dict(zip(table["tag"], table["count"])) == {"blurry": 2, "looks like 8": 1}
    assert (out / "gallery.png").stat().st_size > 0


@pytest.mark.parametrize("make_argv,message", [
    (lambda run, tmp: ["analyze", str(tmp / "nowhere")], "no run directory at"),
    (lambda run, tmp: ["analyze", str(run), "--trial", "7"], "no saved state for trial 7"),
    (lambda run, tmp: ["analyze", str(run), "--dataset", "mnist", "--data-dir", str(tmp)], "missing MNIST file"),
    (lambda run, tmp: ["analyze", str(run), "--tags", str(tmp / "missing.csv")], "missing.csv"),
])
def test_analyze_bad_input_is_one_line(trained, tmp_path, capsys, make_argv, message):
    assert cli.main(make_argv(trained, tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("jaxdl: error:") and "Traceback" not in err


def test_analyze_refuses_tags_of_examples_it_got_right(trained, tmp_path, capsys):
    assert cli.main(["analyze", str(trained), "--out", str(tmp_path / "a")]) == 0
    wrong = set(pd.read_csv(tmp_path / "a" / "misclassified.csv")["id"])
    right = next(i for i in range(360) if i not in wrong)
    tags = tmp_path / "tags.csv"
    tags.write_text(f"id,tag\n{right},blurry\n")
    capsys.readouterr()
    assert cli.main(["analyze", str(trained), "--tags", str(tags), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "is not among the" in err and str(right) in err and err.count("\n") == 1


def test_analyze_refuses_data_other_than_the_runs(trained, tmp_path, capsys):
    rng = np.random.default_rng(0)
    other = tmp_path / "other.csv"
    columns = [f"x{i}" for i in range(64)] + ["label"]
    pd.DataFrame(np.column_stack([rng.uniform(size=(100, 64)), np.arange(100) % 10]), columns=columns).astype(
        {"label": int}).to_csv(other, index=False)
    assert cli.main(["analyze", str(trained), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "differ from those" in err and "trained on" in err and err.count("\n") == 1


def test_train_augments_and_balances_from_its_flags(tmp_path, capsys):
    out = tmp_path / "aug"
    assert cli.main(["train", "--epochs", "1", "--hidden", "8", "--augment", "random_shift=0.25", "--augment",
                     "gaussian_noise", "--sampler", "balanced", "--class-weight", "balanced", "--quiet",
                     "--out", str(out)]) == 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["hyperparameters"]["random_shift"] == 0.25 and "gaussian_noise" not in saved["hyperparameters"]
    config = json.loads((out / "run.json").read_text())["groups"][0]["config"]
    assert config["augment"] == ["random_shift", "gaussian_noise"] and config["sampler"] == "balanced"
    assert config["class_weight"] == "balanced"


@pytest.mark.parametrize("argv,message", [
    (["--augment", "bogus"], "unknown augmentation 'bogus'; known: random_shift"),
    (["--augment", "random_shift=-1"], "--augment random_shift must be finite and >= 0 and < 1, got -1"),
    (["--sampler", "uniform"], "argument --sampler: invalid choice: 'uniform'"),
])
def test_bad_augmentation_flags_are_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["train", "--epochs", "1", "--quiet", "--out", str(tmp_path / "t"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "t").exists()


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "chatty.py"
    script.write_text(
        "from jaxdl import cli\n"
        "def chatty(args):\n"
        "    for i in range(10**6):\n"
        "        print('line', i)\n"
        "    return 0\n"
        "cli._report_command = chatty\n"
        "raise SystemExit(cli.main(['report', 'anything']))\n")
    reader = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.readline() == b"line 0\n"
    reader.stdout.close()  # as `| head -1` does
    assert reader.wait(timeout=60) == 141
    assert reader.stderr.read() == b""
