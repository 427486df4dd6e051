import os
import re

import pytest

from jaxdl import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL_SWEEP = """
[space]
activation = {choice = ["relu", "tanh"]}
learning_rate = {grid = [0.003, 0.03]}
hidden = [16]
epochs = 2
batch_size = 64

[sweep]
strategy = "grid"
seeds = 2
"""


@pytest.mark.parametrize("argv", [["--help"], ["sweep", "--help"], ["report", "--help"], ["train", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    assert "usage: jaxdl" in capsys.readouterr().out


def test_train_prints_table_metrics_and_writes_curves(tmp_path, capsys):
    code = cli.main(["train", "--epochs", "3", "--hidden", "16", "--activation", "elu", "--optimizer", "adam",
                     "--learning-rate", "3e-3", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^\s+3\s+\d\.\d{4}", out, re.MULTILINE)
    accuracy = float(re.search(r"held-out test: accuracy (\d\.\d+)", out).group(1))
    assert "with the weights of the last epoch (3)" in out  # no early stopping: nothing is restored
    assert accuracy > 0.5
    assert os.path.getsize(tmp_path / "learning_curves.png") > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--activation", "swishy"], "swishy"),
        (["train", "--learning-rate", "-0.1"], "learning-rate"),
        (["train", "--optimizer", "lion2"], "lion2"),
        (["train", "--dataset", "mnist", "--data-dir", "/no/such/dir"], "/no/such/dir"),
        (["train", "--set", "b1"], "NAME=VALUE"),
        (["report", "/no/such/run"], "/no/such/run"),
        (["sweep", "--config", "/no/such/file.toml"], "file.toml"),
        (["sweep", "--parts", "0"], "argument --parts: expected a positive integer, got 0"),
        (["sweep", "--top", "-2"], "argument --top: expected a positive integer, got -2"),
        (["train", "--seed", str(10**23)], "argument --seed: a seed must be in [0, 2147483647]"),
        (["train", "--patience", "0"], "argument --patience: expected a positive integer, got 0"),
        (["train", "--set", "b1=2"], "--set b1 must be finite and >= 0 and < 1, got 2"),
        (["train", "--learning-rate", "nan"], "--learning-rate must be finite and >= 0, got nan"),
        (["train", "--dropout-rate", "-0.1"], "--dropout-rate must be finite and >= 0 and < 1"),
        (["train", "--hidden", "100000000", "--epochs", "1"], "one trial of mlp would need about"),
        (["train", "--epochs", "2000000"], "epochs must be at most 1,000,000"),
        (["sweep", "--metric", "bogus"], "bogus"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a case that wrongly ran would write its runs/ here
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdl: error:")
    assert message in err.splitlines()[0]


def test_sweep_from_toml_resumes_and_reports(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_SWEEP)
    out = tmp_path / "run"
    assert cli.main(["sweep", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    first = capsys.readouterr().out
    assert "8 trials in 2 static groups" in first
    for name in ("results.md", "results.csv", "val_accuracy_vs_learning_rate.png", "best_learning_curves.png"):
        assert (out / name).exists(), name
    assert cli.main(["sweep", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    assert "already complete: all 2 chunks were found" in capsys.readouterr().out
    assert cli.main(["report", str(out)]) == 0
    table = capsys.readouterr().out
    # One "best": the table's rank 1, whose best seed's weights were kept.
    rank_one = re.search(r"^\s+1\s+(\w+)\s+(\S+)", table, re.MULTILINE)
    best = re.search(r"best configuration \(rank 1\): activation=(\w+), learning_rate=(\S+);", table)
    assert best and best.groups() == rank_one.groups()
    trial = int(re.search(r"its best seed, trial (\d+), kept its weights", table).group(1))
    assert (out / "params" / f"trial-{trial}.npz").exists()
    assert table.count(" relu ") + table.count(" tanh ") == 4


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    readme = open(os.path.join(ROOT, "README.md")).read()
    commands = re.findall(r"```bash\n(.+?)\n```", readme, re.DOTALL)
    assert commands[0].endswith("jaxdl sweep")
    assert commands[1].endswith("python -m pytest")
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert commands[1] in ci.splitlines()
