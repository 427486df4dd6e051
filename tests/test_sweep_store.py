"""The run directory: atomic writes, resume, fingerprint checks, records and parameters."""

import json
import os
import sys

import numpy as np
import pytest

from jaxdl.sweep import store as store_module
from jaxdl.sweep import Space, Trial, choice, loguniform, plan_chunks, random_plan
from jaxdl.sweep.store import RECORD_FIELDS, PlanMismatchError, RunStore, atomic_write, make_record

NAN = float("nan")


def make_plan(seed=0, num_samples=5):
    space = Space(
        {"activation": choice("relu", "elu"), "hidden": choice([8], [16, 8]), "learning_rate": loguniform(1e-4, 1e-1)},
        seeds=2,
    )
    return random_plan(space, num_samples, seed=seed, known={})


def fake_records(plan, chunk, diverge=()):
    """Records as an engine would write them: a loss that falls, NaN after divergence."""
    records = []
    for trial_id in chunk.trial_ids[chunk.valid]:
        trial = plan.by_id(int(trial_id))
        loss = np.array([1.0, 0.6, 0.4]) + 0.01 * trial.id
        accuracy = np.array([0.5, 0.7, 0.8]) - 0.01 * trial.id
        diverged_epoch = -1
        if trial.id in diverge:
            loss[1:] = NAN
            accuracy[1:] = NAN
            diverged_epoch = 2
        history = {"val_loss": loss, "val_accuracy": accuracy}
        records.append(make_record(trial, history, wall_time=2.5, diverged_epoch=diverged_epoch))
    return records


def fill(store, plan, diverge=()):
    for chunk in plan_chunks(plan, 4):
        store.write_chunk(chunk.id, fake_records(plan, chunk, diverge))


# ---------------------------------------------------------------------------
# Layout, resume and fingerprints


def test_init_creates_the_layout_and_resumes(tmp_path):
    plan = make_plan()
    out = tmp_path / "out"
    store = RunStore(out)
    assert store.init(plan) is False
    assert (out / "plan.json").is_file() and (out / "records").is_dir()
    stored = json.loads((out / "plan.json").read_text())
    assert stored["fingerprint"] == plan.fingerprint()
    assert store.plan() == plan and store.fingerprint() == plan.fingerprint()
    assert store.done_chunks() == set()

    chunks = plan_chunks(plan, 4)
    store.write_chunk(chunks[0].id, fake_records(plan, chunks[0]))
    # A new process, the same plan: init says "resume" and the chunk is done.
    resumed = RunStore(out)
    assert resumed.init(plan) is True
    assert resumed.done_chunks() == {chunks[0].id}
    remaining = [c.id for c in plan_chunks(plan, 4) if c.id not in resumed.done_chunks()]
    assert remaining == [c.id for c in chunks[1:]]


def test_a_different_plan_is_refused(tmp_path):
    store = RunStore(tmp_path / "out")
    store.init(make_plan(seed=0))
    with pytest.raises(PlanMismatchError, match="--out") as error:
        RunStore(tmp_path / "out").init(make_plan(seed=1))
    assert isinstance(error.value, ValueError)
    assert store.plan() == make_plan(seed=0)  # untouched


def test_a_foreign_directory_is_refused_but_an_empty_one_is_used(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a jaxdl run directory"):
        RunStore(tmp_path).init(make_plan())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert RunStore(empty).init(make_plan()) is False


def test_write_chunk_needs_an_initialised_store(tmp_path):
    plan = make_plan()
    chunk = plan_chunks(plan, 4)[0]
    with pytest.raises(FileNotFoundError, match="init"):
        RunStore(tmp_path / "out").write_chunk(chunk.id, fake_records(plan, chunk))


# ---------------------------------------------------------------------------
# Atomic writes


def test_a_crash_before_the_rename_leaves_no_record(tmp_path, monkeypatch):
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    chunk = plan_chunks(plan, 4)[0]

    def crash(source, target):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        store.write_chunk(chunk.id, fake_records(plan, chunk))
    assert os.listdir(store.records_dir) == []  # no record, no temporary file
    assert store.done_chunks() == set()
    assert store.records() == []


def test_a_killed_writer_leaves_only_an_ignored_temporary_file(tmp_path, monkeypatch):
    # kill -9 between writing and renaming: no cleanup runs at all.
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    chunk = plan_chunks(plan, 4)[0]

    def killed(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(os, "unlink", lambda path: None)
    with pytest.raises(KeyboardInterrupt):
        store.write_chunk(chunk.id, fake_records(plan, chunk))
    monkeypatch.undo()
    (leftover,) = os.listdir(store.records_dir)
    assert leftover.startswith(".") and not leftover.endswith(".json")
    assert store.done_chunks() == set() and store.records() == []


def test_a_crash_while_rewriting_keeps_the_old_file(tmp_path, monkeypatch):
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    chunk = plan_chunks(plan, 4)[0]
    store.write_chunk(chunk.id, fake_records(plan, chunk))
    before = store.records()

    def crash(source, target):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.write_chunk(chunk.id, fake_records(plan, chunk, diverge={int(chunk.trial_ids[0])}))
    monkeypatch.undo()
    assert store.records() == before
    assert sorted(os.listdir(store.records_dir)) == [f"{chunk.id}.json"]


def test_a_crash_while_writing_the_bytes_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"

    def crash(handle):
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        atomic_write(target, "{}")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    atomic_write(target, "{}")
    assert target.read_text() == "{}"


# ---------------------------------------------------------------------------
# Records


def test_make_record_fills_the_schema():
    trial = Trial(3, {"hidden": (8,)}, {"learning_rate": 0.01}, 1)
    history = {"val_loss": np.array([0.9, 0.5, 0.7, NAN]), "val_accuracy": [0.6, 0.8, 0.7, NAN]}
    record = make_record(trial, history, wall_time=1.25, diverged_epoch=-1, rung=0)
    assert set(RECORD_FIELDS) <= set(record)
    assert record["status"] == "ok" and record["diverged_epoch"] is None
    assert record["final"] == {"val_loss": 0.7, "val_accuracy": 0.7}  # last finite epoch
    assert record["best"] == {"val_loss": 0.5, "val_accuracy": 0.8}  # min of losses, max otherwise
    assert record["history"]["val_loss"] == [0.9, 0.5, 0.7, None]  # JSON has no NaN
    assert record["static"] == {"hidden": [8]} and record["seed"] == 1 and record["rung"] == 0
    diverged = make_record(trial, {"val_loss": [NAN]}, 1.0, diverged_epoch=1)
    assert diverged["status"] == "diverged" and diverged["diverged_epoch"] == 1
    assert diverged["final"] == {"val_loss": None} and diverged["best"] == {"val_loss": None}
    with pytest.raises(ValueError, match="overwrite"):
        make_record(trial, {}, 1.0, status="ok")


def test_records_round_trip_sorted_by_trial_id(tmp_path):
    plan = make_plan(num_samples=6)
    store = RunStore(tmp_path / "out")
    store.init(plan)
    chunks = plan_chunks(plan, 4)
    written = {}
    for chunk in reversed(chunks):  # out of order, as parallel hosts may finish
        records = fake_records(plan, chunk, diverge={3})
        store.write_chunk(chunk.id, records)
        written.update({r["id"]: (chunk.id, r) for r in records})
    records = store.records()
    assert [r["id"] for r in records] == sorted(t.id for t in plan)
    for record in records:
        chunk_id, original = written[record["id"]]
        assert record["chunk"] == chunk_id
        trial = plan.by_id(record["id"])
        assert record["static"] == trial.static  # tuples restored
        assert record["dynamic"] == trial.dynamic and record["seed"] == trial.seed
        for field in ("status", "diverged_epoch", "final", "best", "history", "wall_time"):
            assert record[field] == original[field]
    assert records[3]["status"] == "diverged" and records[3]["history"]["val_loss"][1:] == [None, None]
    # The files are standard JSON: no NaN tokens.
    for name in os.listdir(store.records_dir):
        assert "NaN" not in (tmp_path / "out" / "records" / name).read_text()


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda r: r.pop("history"), "lacks field"),
        (lambda r: r.update(status="exploded"), "status"),
        (lambda r: r.update(id=999), "not in this run's plan"),
    ],
)
def test_write_chunk_rejects_bad_records(tmp_path, change, fragment):
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    chunk = plan_chunks(plan, 4)[0]
    records = fake_records(plan, chunk)
    change(records[1])
    with pytest.raises(ValueError, match=fragment):
        store.write_chunk(chunk.id, records)
    assert store.done_chunks() == set()


@pytest.mark.parametrize("chunk_id", ["", ".hidden", "../escape", "a/b", 7])
def test_write_chunk_rejects_unsafe_chunk_ids(tmp_path, chunk_id):
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    with pytest.raises(ValueError, match="chunk id"):
        store.write_chunk(chunk_id, [])


def test_dataframe_flattens_static_dynamic_and_metrics(tmp_path):
    pandas = pytest.importorskip("pandas")
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    fill(store, plan, diverge={2})
    frame = store.dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame["id"]) == [t.id for t in plan]
    for column in ("chunk", "seed", "status", "activation", "hidden", "learning_rate",
                   "final_val_loss", "best_val_loss", "best_val_accuracy", "wall_time"):
        assert column in frame.columns, column
    row = frame.set_index("id").loc[4]
    trial = plan.by_id(4)
    assert row["activation"] == trial.static["activation"] and row["hidden"] == trial.static["hidden"]
    assert row["learning_rate"] == trial.dynamic["learning_rate"]
    assert row["best_val_loss"] == pytest.approx(0.44) and row["best_val_accuracy"] == pytest.approx(0.76)
    diverged = frame.set_index("id").loc[2]
    assert diverged["status"] == "diverged" and diverged["final_val_loss"] == pytest.approx(1.02)
    # Groups work on tuple-valued widths.
    assert frame.groupby("hidden")["best_val_loss"].count().sum() == len(plan)
    history = store.history_dataframe()
    assert len(history) == 3 * len(plan)
    assert np.isnan(history[(history["id"] == 2) & (history["epoch"] == 3)]["val_loss"]).all()


def test_dataframe_without_pandas_is_a_clear_import_error(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "out")
    store.init(make_plan())
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas.*records"):
        store.dataframe()


def test_summary_ranks_trials_and_round_trips(tmp_path):
    plan = make_plan()
    store = RunStore(tmp_path / "out")
    store.init(plan)
    assert store.summary() is None
    fill(store, plan, diverge={0})
    summary = store.summarize("val_loss")
    # Loss grows with the id, so trial 1 is best once trial 0 diverged.
    assert summary["best"]["id"] == 1 and summary["maximize"] is False
    assert summary["ranking"][-1] == 0
    assert summary["num_trials"] == len(plan) == summary["num_records"]
    assert summary["num_diverged"] == 1 and summary["num_ok"] == len(plan) - 1
    assert store.summarize("val_accuracy")["maximize"] is True
    store.write_summary(summary)
    assert store.summary() == summary


# ---------------------------------------------------------------------------
# Parameters


def nested_params():
    import jax.numpy as jnp

    return {
        "dense_0": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "bias": np.zeros(3, np.float32)},
        "dense_1": {"kernel": jnp.asarray([[1.5], [-2.25]], dtype=jnp.bfloat16), "bias": np.array([0.1])},
        "blocks": [{"scale": np.float32(2.0)}, {"scale": np.array(3, dtype=np.int32)}],
        "step": np.array(7, dtype=np.int64),
    }


def assert_same_tree(restored, original):
    import jax

    original_leaves, original_def = jax.tree_util.tree_flatten(original)
    restored_leaves, restored_def = jax.tree_util.tree_flatten(restored)
    assert restored_def == original_def
    for got, want in zip(restored_leaves, original_leaves):
        want = np.asarray(want)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_params_round_trip_exactly(tmp_path):
    store = RunStore(tmp_path / "out")
    store.init(make_plan())
    params = nested_params()
    store.save_params(4, params)
    assert os.path.isfile(store.params_path(4))
    assert_same_tree(store.load_params(4), params)
    with pytest.raises(FileNotFoundError):
        store.load_params(5)


def test_params_keep_container_types_with_like(tmp_path):
    store = RunStore(tmp_path / "out")
    store.init(make_plan())
    params = {"layers": ({"w": np.ones((2, 2), np.float32)}, {"w": np.full((2,), 3.0, np.float32)})}
    store.save_params(0, params)
    assert isinstance(store.load_params(0)["layers"], list)  # no template: sequences are lists
    restored = store.load_params(0, like=params)
    assert isinstance(restored["layers"], tuple)
    assert_same_tree(restored, params)
    with pytest.raises(ValueError, match="structure"):
        store.load_params(0, like={"layers": [{"v": 0}, {"w": 0}]})


def test_params_of_an_nnx_model_round_trip(tmp_path):
    from flax import nnx

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    store = RunStore(tmp_path / "out")
    store.init(make_plan())
    store.save_params(1, state)
    fresh = nnx.state(nnx.Linear(3, 2, rngs=nnx.Rngs(1)), nnx.Param)
    restored = store.load_params(1, like=fresh)
    assert type(restored) is type(state)
    assert_same_tree(restored, state)


def test_module_exports_exist():
    for name in store_module.__all__:
        assert hasattr(store_module, name), name
