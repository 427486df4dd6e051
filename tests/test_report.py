import math

import numpy as np

from jaxdl.sweep import report


def record(trial_id, activation, lr, seed, score, status="ok", test=0.9):
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "train_accuracy": [0.5, 0.8],
               "val_accuracy": [0.5, score], "learning_rate": [lr, lr]}
    return {"id": trial_id, "static": {"activation": activation, "epochs": 2},
            "dynamic": {"learning_rate": lr}, "seed": seed, "status": status,
            "diverged_epoch": None if status == "ok" else 1,
            "final": {"test_accuracy": test, "val_accuracy": score, "val_loss": 0.6},
            "best": {"val_accuracy": score, "val_loss": 0.6}, "history": history, "wall_time": 1.0}


RECORDS = [
    record(0, "relu", 0.01, 0, 0.90), record(1, "relu", 0.01, 1, 0.94),
    record(2, "relu", 1.0, 0, float("nan"), status="diverged"), record(3, "relu", 1.0, 1, 0.50),
    record(4, "tanh", 0.01, 0, 0.96, test=0.95), record(5, "tanh", 0.01, 1, 0.96, test=0.97),
]


def test_configurations_aggregate_seeds_and_rank():
    rows = report.configurations(RECORDS)
    assert [r["settings"] for r in rows] == [
        {"activation": "tanh", "learning_rate": 0.01},
        {"activation": "relu", "learning_rate": 0.01},
        {"activation": "relu", "learning_rate": 1.0},
    ]
    assert math.isclose(rows[0]["test_accuracy"], 0.96)
    assert math.isclose(rows[1]["mean"], 0.92) and math.isclose(rows[1]["std"], np.std([0.90, 0.94], ddof=1))
    assert rows[2]["diverged"] == 1 and rows[2]["mean"] == 0.50 and rows[2]["n"] == 2


def test_loss_metrics_rank_lowest_first():
    rows = report.configurations(RECORDS[:2] + RECORDS[4:], metric="val_loss")
    assert all(r["mean"] == 0.6 for r in rows)
    assert rows[0]["trial_ids"] == [0, 1]


def test_table_and_report_files(tmp_path):
    written = report.write_report(RECORDS, tmp_path)
    lines = written["table"].splitlines()
    assert lines[0].split()[:3] == ["rank", "activation", "learning_rate"]
    assert "0.9600 ± 0.0000" in lines[2]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.startswith("| rank | activation | learning_rate |")
    assert (tmp_path / "val_accuracy_vs_learning_rate.png").stat().st_size > 0
    assert (tmp_path / "best_learning_curves.png").stat().st_size > 0
    assert (tmp_path / "results.csv").read_text().splitlines()[1].startswith("tanh,0.01,0.96")
