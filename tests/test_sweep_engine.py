"""The sweep engine: devices, processes, divergence, resume, modes, chunk sizes and successive halving.

Sweeps are tiny (300 training digits, one hidden layer of 16, 1-4 epochs) and
share compiled programs: the engine caches them per configuration and chunk
shape, so most sweeps below reuse the reference sweep's two programs. Sweeps
that need another JAX (4 CPU devices, two distributed processes, a process
killed half way) run ``tests/sweep_worker.py`` in a subprocess.
"""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sweep_worker
from jaxdl import train
from jaxdl.sweep import RunStore, Trial, auto_chunk_size, estimate_trial_bytes, run_sweep
from jaxdl.sweep import Plan, plan_chunks

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sweep_worker.py")
TIMEOUT = 300


# ---------------------------------------------------------------------------
# Helpers


def _array(values):
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def assert_records_close(got, expected, tol=1e-6):
    """Same trials with the same outcome; numbers within ``tol``. Wall times and chunk ids are ignored."""
    got = {(r["id"], r.get("stage")): r for r in got}
    expected = {(r["id"], r.get("stage")): r for r in expected}
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        have = got[key]
        for field in ("static", "dynamic", "seed", "status", "diverged_epoch", "best_epoch", "epochs_run", "stage",
                      "parent", "candidate"):
            assert have.get(field) == want.get(field), (key, field)
        for field in ("final", "best"):
            assert sorted(have[field]) == sorted(want[field])
            for name in want[field]:
                np.testing.assert_allclose(_array([have[field][name]]), _array([want[field][name]]),
                                           rtol=tol, atol=tol, err_msg=f"{key} {field}.{name}")
        assert sorted(have["history"]) == sorted(want["history"])
        for name in want["history"]:
            np.testing.assert_allclose(_array(have["history"][name]), _array(want["history"][name]),
                                       rtol=tol, atol=tol, err_msg=f"{key} history.{name}")


def run_worker(*args, env=None, **popen):
    """Start ``sweep_worker.py`` on CPU; extra ``env`` entries are added to this process's environment."""
    environment = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    environment.update(JAX_PLATFORMS="cpu", **(env or {}))
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def finish(process):
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output[-4000:]
    return output


def kill_after_first_chunk(worker) -> list[str]:
    """SIGKILL a worker started with ``--pause-after-first-chunk`` once it has written a chunk; its chunk lines."""
    watchdog = threading.Timer(TIMEOUT, worker.kill)
    watchdog.start()
    try:
        lines = []
        for line in worker.stdout:
            lines.append(line)
            if line.startswith("CHUNK "):
                os.kill(worker.pid, signal.SIGKILL)
                break
        worker.wait()
    finally:
        watchdog.cancel()
    assert worker.returncode == -signal.SIGKILL, "".join(lines)[-4000:]
    return chunk_lines("".join(lines))


def chunk_lines(output):
    return [line.split()[1] for line in output.splitlines() if line.startswith("CHUNK ")]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def snapshot(directory):
    """``{file name: (mtime_ns, bytes)}`` of a directory."""
    found = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as file:
            found[name] = (os.stat(path).st_mtime_ns, file.read())
    return found


class Interrupted(Exception):
    """Raised from ``on_chunk`` to stop a sweep after a chosen chunk."""


# ---------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def data():
    return sweep_worker.tiny_data()


@pytest.fixture(scope="module")
def small_plan():
    return sweep_worker.plan("small")


@pytest.fixture(scope="module")
def reference(small_plan, data, tmp_path_factory):
    """The small plan on one device, one process, chunks of 2: what every other way of running it must give."""
    out = tmp_path_factory.mktemp("reference")
    return run_sweep(small_plan, data, out, chunk_size=2, progress=False)


@pytest.fixture(scope="module")
def halving_plan():
    return sweep_worker.plan("halving")


@pytest.fixture(scope="module")
def halving(halving_plan, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("halving")
    return run_sweep(halving_plan, data, out, chunk_size=2, progress=False)


# ---------------------------------------------------------------------------
# Records and the run directory


def test_reference_records_hold_final_metrics_best_epoch_and_epochs_run(reference, small_plan):
    assert reference.chunks_run == 4 and reference.chunks_skipped == 0 and reference.chunk_size == 2
    assert [r["id"] for r in reference.records] == [t.id for t in small_plan]
    for record in reference.records:
        assert record["status"] == "ok"
        assert set(record["final"]) == {"val_loss", "val_accuracy", "test_loss", "test_accuracy"}
        assert all(math.isfinite(v) for v in record["final"].values())
        assert 1 <= record["best_epoch"] <= 2 and record["epochs_run"] == 2
        assert len(record["history"]["val_loss"]) == 2
        assert record["best"]["val_accuracy"] == max(record["history"]["val_accuracy"])
    summary = reference.store.summary()
    best = max(reference.records, key=lambda r: (r["best"]["val_accuracy"], -r["id"]))
    assert summary["best"]["id"] == best["id"]
    assert summary["chunks_done"] == ["g0-c0", "g0-c1", "g1-c0", "g1-c1"]


def test_rerun_skips_everything_and_reuses_the_stored_chunk_size(reference, small_plan, data):
    chunks = []
    again = run_sweep(small_plan, data, reference.store.path, progress=False,
                      on_chunk=lambda chunk_id, records: chunks.append(chunk_id))
    assert again.chunk_size == 2
    assert (again.chunks_run, again.chunks_skipped, chunks) == (0, 4, [])
    assert_records_close(again.records, reference.records, tol=0)


def test_resume_with_another_chunk_size_is_an_error(reference, small_plan, data):
    before = snapshot(reference.store.records_dir)
    with pytest.raises(ValueError, match=r"chunk_size=2, not 4"):
        run_sweep(small_plan, data, reference.store.path, chunk_size=4, progress=False)
    assert snapshot(reference.store.records_dir) == before


def test_bad_arguments_raise_before_any_work(small_plan, data):
    with pytest.raises(ValueError, match="mode must be one of"):
        run_sweep(small_plan, data, mode="pmap")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        run_sweep(small_plan, data, chunk_size=0)
    with pytest.raises(ValueError, match="parts must be a positive integer"):
        run_sweep(small_plan, data, parts=0)
    with pytest.raises(ValueError, match="data set 'mnist'"):
        plan = Plan(tuple(Trial(t.id, {**t.static, "dataset": "mnist"}, t.dynamic, t.seed) for t in small_plan))
        run_sweep(plan, {"digits": data})


# ---------------------------------------------------------------------------
# 1. Devices: the population axis is sharded over every local device


def test_four_devices_give_the_one_device_numbers(reference, tmp_path):
    out = tmp_path / "four"
    output = finish(run_worker(out, "--plan", "adam", "--chunk-size", 4, env={"JAX_NUM_CPU_DEVICES": "4"}))
    assert "DEVICES 4" in output
    assert chunk_lines(output) == ["g0-c0"]  # all four trials in one program, one per device
    store = RunStore(out)
    adam = [r for r in reference.records if r["static"]["optimizer"] == "adam"]
    assert_records_close(store.records(), adam)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["map", "chunked"])
def test_sequential_modes_on_four_devices_give_the_one_device_numbers(reference, tmp_path, mode):
    out = tmp_path / mode
    output = finish(run_worker(out, "--plan", "adam", "--chunk-size", 4, "--mode", mode,
                               env={"JAX_NUM_CPU_DEVICES": "4"}))
    assert "DEVICES 4" in output
    assert_records_close(RunStore(out).records(), [r for r in reference.records if r["static"]["optimizer"] == "adam"])


# ---------------------------------------------------------------------------
# 2. Processes: jax.distributed over loopback, one run directory


@pytest.mark.slow  # two jax.distributed subprocesses compiling side by side: the longest test of the suite
def test_two_processes_share_one_run_directory(reference, tmp_path):
    out, port = tmp_path / "two", free_port()
    workers = [
        run_worker(out, "--plan", "adam", "--chunk-size", 1, "--process-id", i, "--num-processes", 2, "--port", port)
        for i in range(2)
    ]
    outputs = [finish(worker) for worker in workers]
    # Chunks alternate between the processes: none is trained twice, none is left out.
    assert [chunk_lines(output) for output in outputs] == [["g0-c0", "g0-c2"], ["g0-c1", "g0-c3"]]
    store = RunStore(out)
    assert sorted(store.done_chunks()) == ["g0-c0", "g0-c1", "g0-c2", "g0-c3"]
    adam = [r for r in reference.records if r["static"]["optimizer"] == "adam"]
    assert_records_close(store.records(), adam)
    summary = store.summary()  # written by process 0 after the barrier, so it saw every chunk
    assert summary["num_records"] == 4 and summary["chunks_done"] == sorted(store.done_chunks())
    best = max(adam, key=lambda r: (r["best"]["val_accuracy"], -r["id"]))
    assert summary["best"]["id"] == best["id"]


# ---------------------------------------------------------------------------
# 3. Divergence


def test_a_diverging_trial_is_reported_and_changes_no_other_trial(reference, small_plan, data):
    # The sgd group with its largest learning rate raised to 50: same chunks and shapes as the reference.
    sgd = [t for t in small_plan if t.static["optimizer"] == "sgd"]
    wild = sgd[-1]
    trials = [Trial(t.id, t.static, {"learning_rate": 50.0} if t is wild else t.dynamic, t.seed) for t in sgd]
    result = run_sweep(Plan(tuple(trials)), data, chunk_size=2, progress=False)
    records = {r["id"]: r for r in result.records}
    diverged = records.pop(wild.id)
    assert diverged["status"] == "diverged"
    losses = _array(diverged["history"]["train_loss"])
    first_bad = int(np.flatnonzero(~np.isfinite(losses))[0]) + 1
    assert diverged["diverged_epoch"] == first_bad
    assert diverged["epochs_run"] == first_bad - 1
    assert result.summary["num_diverged"] == 1 and result.summary["ranking"][-1] == wild.id
    assert_records_close(list(records.values()), [r for r in reference.records if r["id"] in records])


# ---------------------------------------------------------------------------
# 4. Resume after a hard kill


def test_sweep_killed_after_its_first_chunk_resumes_without_redoing_it(reference, small_plan, data, tmp_path):
    out = tmp_path / "killed"
    (first,) = kill_after_first_chunk(run_worker(out, "--chunk-size", 2, "--pause-after-first-chunk", 600))
    before = snapshot(RunStore(out).records_dir)
    assert list(before) == [f"{first}.json"]

    chunks = []
    result = run_sweep(small_plan, data, out, chunk_size=2, mode="vmap", progress=False,
                       on_chunk=lambda chunk_id, records: chunks.append(chunk_id))
    assert first not in chunks
    assert (result.chunks_run, result.chunks_skipped) == (3, 1)
    assert snapshot(RunStore(out).records_dir)[f"{first}.json"] == before[f"{first}.json"]
    assert_records_close(result.records, reference.records)


# ---------------------------------------------------------------------------
# 5. Modes


@pytest.mark.parametrize("mode, map_batch_size", [("map", 8), ("chunked", 2)])
def test_modes_give_the_vmap_numbers(reference, small_plan, data, mode, map_batch_size):
    adam = small_plan.select(t.id for t in small_plan if t.static["optimizer"] == "adam")
    result = run_sweep(adam, data, chunk_size=4, mode=mode, map_batch_size=map_batch_size, progress=False)
    assert_records_close(result.records, [r for r in reference.records if r["static"]["optimizer"] == "adam"])


def test_chunks_in_parts_give_the_numbers_of_whole_chunks(reference, small_plan, data):
    # whole and halves both run slices of 2 trials (one compiled program); padded runs slices of 3.
    whole = run_sweep(small_plan, data, chunk_size=2, parts=1, progress=False)
    halves = run_sweep(small_plan, data, chunk_size=4, parts=2, progress=False)
    padded = run_sweep(small_plan, data, chunk_size=5, parts=2, progress=False)  # 3 + 2 and a copy
    assert_records_close(halves.records, whole.records)
    assert_records_close(padded.records, whole.records)


def test_run_in_parts_cuts_equal_slices_and_pads_the_last():
    from jaxdl.sweep import run_in_parts

    calls = []

    def program(hparams, keys, carry, data):
        calls.append(keys.shape[0])
        return {"twice": 2 * hparams + data, "keys": keys, "carry": carry}

    hparams, keys = jnp.arange(10.0), jnp.arange(10) + 100
    for parts, slices in [(1, [10]), (2, [5, 5]), (4, [3, 3, 3, 3]), (64, [1] * 10)]:
        for threads in (None, 1):
            calls.clear()
            out = run_in_parts(program, parts, hparams, keys, None, 7, threads=threads)
            assert calls == slices if threads == 1 else sorted(calls) == slices
            np.testing.assert_array_equal(out["twice"], 2 * hparams + 7)  # in order, padding dropped
            np.testing.assert_array_equal(out["keys"], keys)
            assert out["carry"] is None


def test_default_parts_on_one_cpu_device():
    from jaxdl.sweep import default_parts, engine

    cores = engine.usable_cores()
    assert default_parts(1) == cores
    assert default_parts(engine.SLICE_TRIALS * 4 * cores) == 4 * cores


def test_auto_mode_maps_cnns_on_cpu_and_vmaps_the_rest():
    from jaxdl.sweep import auto_mode

    cnn, mlp = train.TrainConfig(model="cnn"), train.TrainConfig()
    assert auto_mode(cnn, "cpu") == "map"
    assert auto_mode(mlp, "cpu") == "vmap"
    assert auto_mode(cnn, "gpu") == auto_mode(mlp, "tpu") == "vmap"


def test_the_default_mode_is_chosen_per_group(reference, small_plan, data, monkeypatch):
    from jaxdl.sweep import engine

    chosen = []
    compiled = engine._compiled

    def spy(config, mode, *args):
        chosen.append(mode)
        return compiled(config, mode, *args)

    monkeypatch.setattr(engine, "_compiled", spy)
    monkeypatch.setattr(engine, "auto_mode", lambda config: "map" if config.optimizer == "adam" else "vmap")
    result = run_sweep(small_plan, data, chunk_size=4, progress=False)
    optimizers = sorted({t.static["optimizer"] for t in small_plan})
    assert len(optimizers) > 1 and sorted(set(chosen)) == ["map", "vmap"]
    assert_records_close(result.records, reference.records)


# ---------------------------------------------------------------------------
# 6. Chunk sizes


def test_auto_chunk_size_keeps_4096_digit_mlps_within_a_24_gb_device(data):
    config = train.TrainConfig(model_args={"hidden": (64, 64)}, optimizer="adam", epochs=20)
    per_trial = estimate_trial_bytes(config, data)
    data_bytes = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(data))
    for memory, devices in [(24e9, 1), (24e9, 8), (1e9, 1), (2e8, 4)]:
        size = auto_chunk_size(config, data, 4096, devices, memory_bytes=int(memory))
        assert size % devices == 0 and devices <= size <= 4096 + devices - 1
        assert data_bytes + size // devices * per_trial <= 0.25 * memory
        if size < 4096:  # as large as fits: one more trial per device would not
            assert data_bytes + (size // devices + 1) * per_trial > 0.25 * memory
    assert auto_chunk_size(config, data, 4096, 1, memory_bytes=int(24e9)) == 4096
    assert auto_chunk_size(config, data, 4096, 1, memory_bytes=int(1e9)) < 4096
    assert auto_chunk_size(config, data, 10, 4, memory_bytes=int(24e9)) == 12
    with pytest.raises(ValueError, match="one trial of mlp would need about .* more than the"):
        auto_chunk_size(config, data, 4096, 2, memory_bytes=1)  # not even one trial fits: refused, never started


def test_trial_estimate_bounds_what_xla_allocates(reference, small_plan, data):
    """Per trial, the estimate exceeds what XLA allocates for a chunk, by a small factor.

    Lowers the reference sweep's first chunk exactly as the engine placed it,
    so the compiled program is the one already in the cache.
    """
    from jaxdl.sweep import engine

    chunk = plan_chunks(small_plan, 2)[0]
    config = engine.group_config(chunk.static)
    population, replicated = engine.population_shardings()
    hparams = jax.device_put(engine._hparams(chunk, config, {}, "classification"), population)
    keys = jax.device_put(jax.vmap(jax.random.key)(jnp.asarray(chunk.seeds)), population)
    on_mesh = jax.device_put(data, replicated)
    lowered = engine._compiled(config, "vmap", 8, False).lower(hparams, keys, None, on_mesh)
    stats = lowered.compile().memory_analysis()
    shared = train.data_bytes(data)
    per_trial = (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes - shared) / 2
    estimate = estimate_trial_bytes(config, data)
    assert per_trial <= estimate <= 4 * per_trial


def test_auto_chunk_size_is_used_and_stored_when_none_is_given(small_plan, data, tmp_path):
    # The whole adam group fits in memory: one chunk of four, recorded for a resume to reuse.
    adam = small_plan.select(t.id for t in small_plan if t.static["optimizer"] == "adam")
    out = tmp_path / "auto"
    result = run_sweep(adam, data, out, mode="map", progress=False)
    assert result.chunk_size == 4 and result.chunks_run == 1
    with open(out / "engine.json") as file:
        assert json.load(file)["chunk_size"] == 4


# ---------------------------------------------------------------------------
# 7. Successive halving


def _top(records, keep):
    """Best ``keep`` ids by best validation accuracy, ties to the smaller id, diverged last: an independent ranking."""
    def order(record):
        score = record["best"]["val_accuracy"]
        bad = record["status"] == "diverged" or score is None
        return (bad, 0.0 if bad else -score, record["id"])

    return sorted(r["id"] for r in sorted(records, key=order)[:keep])


def test_halving_keeps_the_best_half_of_each_rung(halving, halving_plan):
    rungs = halving_plan.info["rungs"]
    assert rungs == [1, 2, 4]
    by_rung = {k: [r for r in halving.records if r["stage"] == k] for k in range(3)}
    assert [len(by_rung[k]) for k in range(3)] == [8, 4, 2]
    for k in (1, 2):
        assert sorted(r["id"] for r in by_rung[k]) == _top(by_rung[k - 1], len(by_rung[k]))
    for k, epochs in enumerate(rungs):
        for record in by_rung[k]:
            assert record["chunk"].startswith(f"r{k}-")
            assert len(record["history"]["val_loss"]) == epochs and record["epochs_run"] == epochs
    assert [entry["trials"] for entry in halving.summary["stages"]] == [
        sorted(r["id"] for r in by_rung[k]) for k in range(3)
    ]
    assert os.listdir(os.path.join(halving.store.path, "carries")) == []  # dropped once no longer needed


def test_halving_summary_picks_among_the_last_rung(halving):
    last = [r for r in halving.records if r["stage"] == 2]
    summary = halving.store.summary()
    assert summary["num_records"] == 2
    assert sorted(summary["ranking"]) == sorted(r["id"] for r in last)
    assert summary["best"]["id"] == _top(last, 1)[0]


def test_halving_survivors_train_exactly_as_one_uninterrupted_run(halving, halving_plan, data):
    last = [r for r in halving.records if r["stage"] == 2]
    earlier = {(r["id"], r["stage"]): r for r in halving.records}
    config = train.TrainConfig(model_args={"hidden": (16,)}, batch_size=32, optimizer="adam", schedule="cosine_decay_schedule",
                               epochs=4)
    rates = jnp.array([halving_plan.by_id(r["id"]).dynamic["learning_rate"] for r in last], jnp.float32)
    n = len(last)
    hparams = train.HParams(learning_rate=rates, weight_decay=jnp.zeros(n), l2=jnp.zeros(n),
                            dropout_rate=jnp.zeros(n))
    keys = jax.vmap(jax.random.key)(jnp.array([r["seed"] for r in last]))
    whole = jax.jit(jax.vmap(lambda h, k: train.train(config, h, k, data)))(hparams, keys)
    for row, record in enumerate(last):
        for name, values in record["history"].items():
            np.testing.assert_allclose(_array(values), np.asarray(whole.history[name][row], np.float64),
                                       rtol=1e-6, atol=1e-6, err_msg=f"trial {record['id']} {name}")
            # Each rung's record holds the history so far: a prefix of the next one's.
            for k, epochs in ((0, 1), (1, 2)):
                np.testing.assert_array_equal(_array(earlier[(record["id"], k)]["history"][name]),
                                              _array(values[:epochs]))
        for name in ("val_loss", "val_accuracy", "test_loss", "test_accuracy"):
            np.testing.assert_allclose(record["final"][name], float(whole.metrics[name][row]), rtol=1e-6, atol=1e-6)
        assert record["best_epoch"] == int(whole.metrics["best_epoch"][row])


def test_interrupted_halving_resumes_from_saved_carries(halving, halving_plan, data, tmp_path):
    out = tmp_path / "halving"
    ran = []

    def stop_in_rung_one(chunk_id, records):
        ran.append(chunk_id)
        if chunk_id.startswith("r1-"):
            raise Interrupted(chunk_id)

    with pytest.raises(Interrupted):
        run_sweep(halving_plan, data, out, chunk_size=2, progress=False, on_chunk=stop_in_rung_one)
    assert ran == ["r0-g0-c0", "r0-g0-c1", "r0-g0-c2", "r0-g0-c3", "r1-g0-c0"]
    saved = sorted(os.listdir(out / "carries"))
    assert saved == ["r0-g0-c0.npz", "r0-g0-c1.npz", "r0-g0-c2.npz", "r0-g0-c3.npz", "r1-g0-c0.npz"]

    resumed = []
    result = run_sweep(halving_plan, data, out, chunk_size=2, progress=False,
                       on_chunk=lambda chunk_id, records: resumed.append(chunk_id))
    assert resumed == ["r1-g0-c1", "r2-g0-c0"]
    assert (result.chunks_run, result.chunks_skipped) == (2, 5)
    assert_records_close(result.records, halving.records)
    assert result.summary["best"] == halving.summary["best"]


def test_halving_in_memory_gives_the_same_records(halving, halving_plan, data):
    result = run_sweep(halving_plan, data, chunk_size=2, progress=False)
    assert result.store is None
    assert_records_close(result.records, halving.records)
    assert result.summary["best"] == halving.summary["best"]


@pytest.mark.slow
def test_halving_over_two_processes_gives_the_one_process_records(halving, tmp_path):
    out, port = tmp_path / "two", free_port()
    workers = [
        run_worker(out, "--plan", "halving", "--chunk-size", 2, "--process-id", i, "--num-processes", 2,
                   "--port", port)
        for i in range(2)
    ]
    ran = [chunk_lines(finish(worker)) for worker in workers]
    assert ran == [["r0-g0-c0", "r0-g0-c2", "r1-g0-c0", "r2-g0-c0"], ["r0-g0-c1", "r0-g0-c3", "r1-g0-c1"]]
    store = RunStore(out)
    assert_records_close(store.records(), halving.records)
    assert store.summary()["best"] == halving.summary["best"]
    assert os.listdir(out / "carries") == []


def test_best_trial_state_is_kept_and_reproduces_its_record(reference, data):
    """The winner's model loads back from the run directory and scores what its record says."""
    from jaxdl import losses

    best = reference.store.best()
    assert best["id"] == reference.summary["best"]["id"] and best["metric"] == "final.val_accuracy"
    record = next(r for r in reference.records if r["id"] == best["id"])
    model = reference.store.load_model(best["id"])
    outputs = model(data.x_val, train=False)
    val_accuracy = jnp.mean(jnp.argmax(outputs, -1) == data.y_val)
    val_loss = jnp.mean(losses.cross_entropy(outputs, data.y_val))
    np.testing.assert_allclose(float(val_accuracy), record["final"]["val_accuracy"], rtol=1e-6)
    np.testing.assert_allclose(float(val_loss), record["final"]["val_loss"], rtol=1e-5)
    # keep=1: only the winner's state is left once the sweep ends.
    assert os.listdir(os.path.join(reference.store.path, "params")) == [f"trial-{best['id']}.npz"]
    with pytest.raises(FileNotFoundError, match="no saved state"):
        reference.store.load_model(next(r["id"] for r in reference.records if r["id"] != best["id"]))