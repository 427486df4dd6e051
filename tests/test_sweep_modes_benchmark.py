import json

import pytest

from benchmarks import sweep_modes

# Quick runs of whole experiment or benchmark scripts: run with `pytest -m slow` (the default suite
# keeps within 5 minutes on 2 cores; the library they drive is tested by the other files).
pytestmark = pytest.mark.slow


def test_quick_run_times_every_mode_and_names_a_winner(tmp_path):
    out = tmp_path / "modes.json"
    payload = sweep_modes.main(["--quick", "--models", "mlp", "--trials", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(payload))
    modes = {row["mode"] for row in payload["rows"]}
    assert modes == {"vmap", "map", "chunked"}
    assert all(row["compiled_s"] > 0 and row["end_to_end_s"] >= row["compiled_s"] for row in payload["rows"])
    # Every mode trains the same trials: the same best validation accuracy.
    assert len({round(row["best_val_accuracy"], 6) for row in payload["rows"]}) == 1
    assert payload["winners"]["mlp"]["compiled"] in modes
    assert payload["winners"]["mlp"]["auto"] == "vmap"
