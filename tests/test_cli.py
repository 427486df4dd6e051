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
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
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
        (["sweep", "--parts", "0"], "parts must be a positive integer"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_exit_2(argv, message, capsys):
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
    assert "resumed: 2 finished chunks" in capsys.readouterr().out
    assert cli.main(["report", str(out)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"best trial \d+: model state in .*trial-\d+\.npz", table)
    assert table.count(" relu ") + table.count(" tanh ") == 4


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    readme = open(os.path.join(ROOT, "README.md")).read()
    commands = re.findall(r"```bash\n(.+?)\n```", readme, re.DOTALL)
    assert commands[0].endswith("jaxdl sweep")
    assert commands[1].endswith("python -m pytest")
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert commands[1] in ci.splitlines()
