"""Smoke runs of benchmarks/sweep.py and benchmarks/sweep_parts.py: every way runs and is reported."""

import json

import pytest

from benchmarks import sweep as sweep_benchmark
from benchmarks import sweep_parts


@pytest.mark.slow  # a whole benchmark script, 20 s: run with `pytest -m slow`
def test_quick_sweep_benchmark_times_every_way_and_judges_every_target(tmp_path):
    out = tmp_path / "sweep.json"
    results = sweep_benchmark.main(["--n", "4", "--scaling", "1", "4", "--epochs", "1", "--repeats", "1",
                                    "--a-trials", "1", "--matmul-size", "128", "--matmul-calls", "2",
                                    "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    methods = results["methods"]
    assert set(methods) == {"a", "b", "c", "d", "run_sweep"}
    for name in ("b", "c", "d", "run_sweep"):
        assert methods[name]["end_to_end_s"] >= methods[name]["compiled_s"] > 0
    # jaxdl's three ways train the same trials with the same keys: the same accuracy. (The loops
    # shuffle with NumPy, so theirs differs.)
    accuracies = [methods[name]["best_val_accuracy"] for name in ("c", "d", "run_sweep")]
    assert max(accuracies) - min(accuracies) < 1e-6
    assert all(0 < methods[name]["best_val_accuracy"] <= 1 for name in ("a", "b"))
    assert sorted(results["scaling"]) == ["1", "4"] and results["scaling"]["1"]["parts"] == 1
    assert [t["name"] for t in results["targets"]] == [
        "end to end vs (a)", "end to end vs (b)", "compiled vs (b)", "sweep FLOP/s / matmul FLOP/s",
        "per-trial time falls as N grows", "second process's XLA compile / first's"]
    assert all(isinstance(t["pass"], bool) for t in results["targets"])
    # The compilation cache: the second process loads every program the first one stored.
    cached = results["compilation_cache"]
    assert cached["first"]["cache"] and cached["first"]["hits"] == 0 and cached["first"]["writes"] >= 1
    assert cached["second"]["hits"] == cached["first"]["writes"] == cached["entries"]
    assert cached["second"]["writes"] == 0
    assert 0 < cached["xla_ratio"] == cached["second"]["xla_s"] / cached["first"]["xla_s"]
    # The open run: the copy of the old run trains the same numbers, and both ratios are measured.
    opened = results["open_run"]
    assert opened["old_equals_new_bit_for_bit"]
    assert opened["new_vs_old"] > 0 and opened["user_vs_builtin"] > 0 and isinstance(opened["pass"], bool)


def test_quick_parts_benchmark_times_each_number_of_parts(tmp_path):
    payload = sweep_parts.main(["--quick", "--trials", "4", "--repeats", "1", "--out", str(tmp_path / "parts.json")])
    assert {row["parts"] for row in payload["rows"]} >= {1}
    assert all(row["seconds"] > 0 and row["slice_length"] * row["parts"] >= 4 for row in payload["rows"])
    assert sum(row["default"] for row in payload["rows"]) == 1
    assert next(row["speedup"] for row in payload["rows"] if row["parts"] == 1) == 1.0
