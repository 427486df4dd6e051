"""Satisficing selection: parse, rank by one metric among configurations that meet the constraints."""

import json
import math
import os

import pytest

import sweep_worker
from jaxdl import cli, sweep, train
from jaxdl.sweep import RunStore, selection
from jaxdl.sweep.plans import Trial
from jaxdl.sweep.store import make_record, summarize

# Lecture 001: "the accuracy must be the highest but available at the acceptable time, e.g. < 100 ms".
LECTURE = {"A": (0.945, 70), "B": (0.950, 95), "C": (0.943, 35), "D": (0.955, 240), "E": (0.968, 980),
           "F": (0.945, 60)}


def _lecture_records():
    records = []
    for number, (name, (accuracy, milliseconds)) in enumerate(LECTURE.items()):
        trial = Trial(number, {"classifier": name}, {}, 0)
        records.append(make_record(trial, {"val_accuracy": [accuracy]}, 1.0, latency_ms=float(milliseconds)))
    return records


def _winner(summary):
    return None if summary["best"] is None else summary["best"]["static"]["classifier"]


@pytest.mark.parametrize("text,expected", [
    ("val_accuracy", ("val_accuracy", None, [])),
    ("max val_accuracy where latency_ms <= 100 and params <= 5e4",
     ("val_accuracy", True, ["latency_ms <= 100", "params <= 50000"])),
    ("  min   val_loss  where  wall_time<3  ", ("val_loss", False, ["wall_time < 3"])),
    ("maximize val_r2 where latency_ms_256 >= 0.5", ("val_r2", True, ["latency_ms_256 >= 0.5"])),
])
def test_a_selection_reads_its_metric_direction_and_constraints(text, expected):
    chosen = selection.parse(text)
    assert (chosen.metric, chosen.maximize, [str(c) for c in chosen.constraints]) == expected
    assert selection.parse(str(chosen)) == chosen


@pytest.mark.parametrize("text,fragment", [
    ("", "a selection is"),
    ("val_accuracy where", "needs at least one constraint"),
    ("val_accuracy where latency_ms = 100", "is not 'NAME OP NUMBER'"),
    ("val_accuracy where latency_ms <= fast", "is not a number"),
    ("val_accuracy where latency_ms <= nan", "must be finite"),
    ("max test_accuracy", "held out"),
    ("val_accuracy where test_loss < 1", "held out"),
    ("best val_accuracy", r"is not '\[max\|min\] METRIC'"),
])
def test_a_bad_selection_is_one_line_naming_the_part(text, fragment):
    with pytest.raises(ValueError, match=fragment) as raised:
        selection.parse(text)
    assert "\n" not in str(raised.value)


def test_the_lecture_classifier_b_wins_under_100_ms_and_none_under_30():
    records = _lecture_records()
    assert _winner(summarize(records, "val_accuracy")) == "E"  # the unconstrained winner
    chosen = selection.parse("max val_accuracy where latency_ms < 100")
    summary = summarize(records, chosen.metric, chosen.maximize, constraints=chosen.constraints)
    assert _winner(summary) == "B" and summary["constraints"] == ["latency_ms < 100"]
    assert summary["select"] == "max val_accuracy where latency_ms < 100"
    order = [records[c["trial_ids"][0]]["static"]["classifier"] for c in summary["configurations"]]
    assert order == ["B", "A", "F", "C", "D", "E"]  # feasible by accuracy (A before F: smaller id), then closest
    none = summarize(records, "val_accuracy", constraints=[selection.parse_constraint("latency_ms <= 30")])
    assert none["best"] is None and none["closest"]["trial_ids"] == [2]  # C, at 35 ms
    assert none["closest"]["violations"] == ["latency_ms 35 fails latency_ms <= 30"]


def test_a_constraint_on_an_unknown_quantity_names_the_known_ones():
    with pytest.raises(ValueError, match="did you mean 'latency_ms'"):
        summarize(_lecture_records(), "val_accuracy", constraints=[selection.parse_constraint("latncy_ms < 1")])


def test_diverged_seeds_do_not_count_and_an_all_diverged_configuration_fails_every_constraint():
    trial = Trial(0, {"classifier": "X"}, {}, 0)
    ok = make_record(trial, {"val_accuracy": [0.9]}, 1.0, params=10)
    gone = make_record(Trial(1, {"classifier": "X"}, {}, 1), {"val_accuracy": [math.nan]}, 1.0, diverged_epoch=1,
                       params=10)
    lone = make_record(Trial(2, {"classifier": "Y"}, {}, 0), {"val_accuracy": [math.nan]}, 1.0, diverged_epoch=1,
                       params=1)
    summary = summarize([ok, gone, lone], "val_accuracy", constraints=[selection.parse_constraint("params <= 10")])
    assert summary["best"]["id"] == 0 and summary["configurations"][1]["trial_ids"] == [2]


# ---------------------------------------------------------------------------
# A sweep: every record carries its cost, the constraint picks what is kept


@pytest.fixture(scope="module")
def constrained(tmp_path_factory):
    data = sweep_worker.tiny_data()
    space = sweep.Space({"hidden": sweep.choice((8,), (64,)), "epochs": 2, "batch_size": 32, "optimizer": "adam",
                         "learning_rate": sweep.grid(0.01, 0.03)})
    plan = sweep.grid_plan(space)
    small = train.inference_cost(train.TrainConfig(model_args={"hidden": (8,)}), data)["params"]
    out = tmp_path_factory.mktemp("constrained") / "run"
    result = sweep.run_sweep(plan, data, out, chunk_size=2, progress=False, constraints=[f"params <= {small}"])
    return result, small, data, plan


def test_records_carry_parameter_counts_and_latencies_of_their_group(constrained):
    result, small, data, _ = constrained
    for record in result.records:
        hidden = record["static"]["hidden"]
        assert record["params"] == 64 * hidden[0] + hidden[0] + hidden[0] * 10 + 10
        assert record["latency_ms"] > 0 and record["latency_ms_256"] > 0
    assert {r["params"] for r in result.records} == {small, 64 * 64 + 64 + 640 + 10}


def test_the_constraint_excludes_the_unconstrained_winner_and_keeps_the_feasible_one(constrained):
    result, small, _, _ = constrained
    store = result.store
    unconstrained = store.best("val_accuracy")
    assert unconstrained["static"]["hidden"] == [64]  # the wide model wins without the constraint
    best = store.best()  # the sweep's own selection
    assert best["static"]["hidden"] == [8] and best["id"] == result.summary["best"]["id"]
    assert os.listdir(os.path.join(store.path, "params")) == [f"trial-{best['id']}.npz"]
    assert json.loads(open(store.summary_path).read())["select"] == f"max val_accuracy where params <= {small}"
    with pytest.raises(ValueError, match=r"no configuration meets params <= 10; the closest .* has params \d+ fails"):
        store.best("val_accuracy where params <= 10")


def test_report_select_ranks_feasible_first_and_a_miss_is_one_error_line(constrained, capsys):
    result, small, _, _ = constrained
    out = str(result.store.path)
    assert cli.main(["report", out, "--select", f"val_accuracy where params > {small}"]) == 0
    table = capsys.readouterr().out
    assert "meets constraints" in table and "best configuration (rank 1): hidden=64" in table
    assert cli.main(["report", out, "--select", "val_accuracy where params < 5"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("jaxdl: error: no configuration meets params < 5; the closest")
    assert cli.main(["report", out, "--select", "val_accuracy", "--metric", "val_loss"]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_constraint_no_record_will_hold_is_refused_before_anything_is_written(constrained, tmp_path):
    _, _, data, plan = constrained
    with pytest.raises(ValueError, match="no record will hold; did you mean 'latency_ms'"):
        sweep.run_sweep(plan, data, tmp_path / "never", progress=False, constraints=["latency <= 1"])
    assert not (tmp_path / "never").exists()
