"""Where every experiment and benchmark script writes by default: never over committed results by accident.

Argument parsing only, no training: an experiment's ``main`` is stopped where
it asks for its output folder.
"""

import glob
import importlib
import os

import pytest

from experiments import common

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = ["activations", "augmentation", "bagging", "batch_size", "cleaning", "data_size", "ewa",
               "initialization", "lr_sampling", "optimizer_surfaces", "regularization", "schedules",
               "transfer_learning"]
BENCHMARKS = {  # name: its committed results
    "compare_optimizers": "compare_optimizers",
    "optimizer_step": "optimizer_step.json",
    "sweep": "sweep.json",
    "sweep_modes": "sweep_modes.json",
    "sweep_parts": "sweep_parts.json",
    "strategies": "strategies.json",
}
NOT_SCRIPTS = {"experiments": {"__init__", "common", "readme"}, "benchmarks": {"__init__", "open_run"}}


def _scripts(folder):
    names = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(HERE, folder, "*.py"))}
    return names - NOT_SCRIPTS[folder]


def test_every_script_is_checked_here():
    assert _scripts("experiments") == set(EXPERIMENTS)
    assert _scripts("benchmarks") == set(BENCHMARKS)


class _Parsed(Exception):
    pass


def _experiment_output(monkeypatch, name, argv):
    def stop(args, script):
        assert script == name
        raise _Parsed(common.output_path(args, script))

    monkeypatch.setattr(common, "output_dir", stop)
    with pytest.raises(_Parsed) as parsed:
        importlib.import_module(f"experiments.{name}").main(argv)
    return parsed.value.args[0]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_an_experiment_writes_quick_runs_under_runs(monkeypatch, name):
    assert _experiment_output(monkeypatch, name, ["--quick"]) == os.path.join("runs", "experiments", "quick", name)
    assert _experiment_output(monkeypatch, name, []) == os.path.join(common.RESULTS_DIR, name)
    assert _experiment_output(monkeypatch, name, ["--quick", "--out", "elsewhere"]) == "elsewhere"


def _benchmark_args(name, argv):
    module = importlib.import_module(f"benchmarks.{name}")
    return module.parse_args(argv)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_a_benchmark_writes_under_runs_unless_told_to_update_results(name):
    committed = os.path.join(HERE, "benchmarks", "results", BENCHMARKS[name])
    assert _benchmark_args(name, []).out == os.path.join("runs", "benchmarks", BENCHMARKS[name])
    assert _benchmark_args(name, ["--quick"]).out == os.path.join("runs", "benchmarks", "quick", BENCHMARKS[name])
    assert _benchmark_args(name, ["--out", "elsewhere"]).out == "elsewhere"
    assert os.path.samefile(_benchmark_args(name, ["--update-results"]).out, committed)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_a_quick_benchmark_never_updates_committed_results(name, capsys):
    with pytest.raises(SystemExit) as exit:
        _benchmark_args(name, ["--quick", "--update-results"])
    assert exit.value.code == 2
    assert "a quick run never overwrites the committed results" in capsys.readouterr().err
