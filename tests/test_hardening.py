"""Adversarial inputs and interruptions: every failure is one ``jaxdl: error:`` line, exit 2, nothing lost.

One test per category: bad flags, bad TOML, bad data files, corrupt run
directories, interrupted setup, a full disk, read-only folders, concurrent
sweeps, sizes too large to build, Ctrl-C, and what "best" means.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxdl import cli
from jaxdl.sweep import RunStore, store as store_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = """
[space]
learning_rate = {{grid = [0.003, 0.03]}}
hidden = [8]
epochs = 1
batch_size = 64
{extra}
[sweep]
strategy = "grid"
seeds = 2
{sweep}
"""


def toml(tmp_path, extra="", sweep="", name="tiny.toml"):
    path = tmp_path / name
    path.write_text(TINY.format(extra=extra, sweep=sweep))
    return str(path)


def one_error_line(capsys, code, *needles):
    """``code`` is 2 and stderr is exactly one ``jaxdl: error:`` line holding every needle."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("jaxdl: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def sweep(config, out, *flags):
    return cli.main(["sweep", "--config", config, "--out", str(out), "--quiet", *flags])


# ---------------------------------------------------------------------------
# Flags and paths


@pytest.mark.parametrize("argv, needles", [
    (["sweep", "--chunk-size", "0"], ["--chunk-size", "positive integer"]),
    (["sweep", "--data-seed", "-1"], ["--data-seed", "seed must be in"]),
    (["sweep", "--mode", "fast"], ["--mode", "invalid choice"]),
    (["train", "--epochs", "x"], ["--epochs", "positive integer"]),
    (["train", "--hidden", "0"], ["--hidden", "positive integer"]),
    (["train", "--batch-size", "100000"], ["batch"]),
    (["train", "--set", "eps=-1"], ["--set eps", ">= 0"]),
    (["train", "--weight-decay", "-1"], ["--weight-decay", ">= 0"]),
    (["report", "--top", "0", "x"], ["--top"]),
])
def test_bad_flags(argv, needles, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_error_line(capsys, cli.main(argv), *needles)
    assert not (tmp_path / "runs").exists()


def test_paths_that_cannot_be_used(capsys, tmp_path):
    config = toml(tmp_path)
    one_error_line(capsys, cli.main(["sweep", "--config", str(tmp_path), "--quiet"]), str(tmp_path), "directory")
    one_error_line(capsys, sweep(config, config), "--out", "is a file")
    one_error_line(capsys, sweep(config, tmp_path / "tiny.toml" / "run"), "--out", "is a file")
    one_error_line(capsys, cli.main(["train", "--out", config, "--quiet"]), "--out", "is a file")
    one_error_line(capsys, cli.main(["report", str(tmp_path / "none")]), "no run directory")
    one_error_line(capsys, cli.main(["sweep", "--config", str(tmp_path / "missing.toml")]), "missing.toml")


# ---------------------------------------------------------------------------
# TOML


@pytest.mark.parametrize("extra, sweep_settings, needles", [
    ("", "chunk_size = 0", ["chunk_size"]),
    ("dropout_rate = {choice = [0.1, nan]}", "", ["dropout_rate", "finite"]),
    ("momentum = {choice = [0.5, inf]}", "", ["momentum", "finite"]),
    ("", "seeds = 1e9", ["seeds"]),
    ("", "seed = -3", ["seed"]),
    ("b1 = 2.0", "", ["b1", "< 1"]),
    ("learnig_rate = 0.1", "", ["learnig_rate", "did you mean"]),
    ("epochs = 0", "", ["epochs"]),
])
def test_bad_toml(extra, sweep_settings, needles, capsys, tmp_path):
    out = tmp_path / "run"
    text = TINY.format(extra="", sweep=sweep_settings).replace("epochs = 1\n", "" if "epochs" in extra else "epochs = 1\n")
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("[sweep]", extra + "\n[sweep]"))
    one_error_line(capsys, sweep(str(path), out), *needles)
    assert not out.exists()


def test_malformed_toml_names_the_file(capsys, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[space\nlearning_rate = 0.1\n")
    one_error_line(capsys, sweep(str(path), tmp_path / "run"), "broken.toml")


def test_accepted_sweep_settings_are_honoured(capsys, tmp_path):
    out = tmp_path / "run"
    assert sweep(toml(tmp_path, sweep="chunk_size = 2\nmetric = \"val_loss\""), out) == 0
    capsys.readouterr()
    assert json.loads((out / "engine.json").read_text())["chunk_size"] == 2
    assert sorted(RunStore(out).done_chunks()) == ["g0-c0", "g0-c1"]
    assert RunStore(out).summary()["metric"] == "final.val_loss"


# ---------------------------------------------------------------------------
# Data files


def test_bad_data_files(capsys, tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 3))
    y = np.arange(60) % 3
    cases = {}
    bad = x.copy()
    bad[4, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x=bad, y=y)
    cases["nan.npz"] = ["non-finite"]
    np.savez(tmp_path / "labels.npz", x=x, y=y.astype(np.int64) - 1)
    cases["labels.npz"] = ["label"]
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
    cases["garbage.npz"] = ["garbage.npz"]
    np.savez(tmp_path / "objects.npz", x=np.array([object()] * 60, dtype=object), y=y)
    cases["objects.npz"] = ["objects.npz"]
    (tmp_path / "two.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    cases["two.csv"] = ["split"]
    (tmp_path / "empty.csv").write_text("")
    cases["empty.csv"] = ["empty.csv"]
    (tmp_path / "notarget.csv").write_text("a,b\n" + "\n".join(f"{i},{i}" for i in range(30)) + "\n")
    for name, needles in cases.items():
        code = cli.main(["train", "--data", str(tmp_path / name), "--out", str(tmp_path / f"out-{name}"), "--quiet"])
        one_error_line(capsys, code, *needles)
        assert not (tmp_path / f"out-{name}").exists()
    code = cli.main(["train", "--data", str(tmp_path / "notarget.csv"), "--target", "label", "--quiet",
                     "--out", str(tmp_path / "out-nt")])
    one_error_line(capsys, code, "label")


# ---------------------------------------------------------------------------
# Run directories: corrupt, interrupted, shared


@pytest.fixture
def finished(tmp_path, capsys):
    config = toml(tmp_path, sweep="chunk_size = 2")
    out = tmp_path / "run"
    assert sweep(config, out) == 0
    capsys.readouterr()
    return config, out


def test_corrupt_chunk_files_are_one_line_and_stray_copies_are_ignored(finished, capsys):
    config, out = finished
    records = RunStore(out).records()
    assert len(records) == 4
    chunk = out / "records" / "g0-c0.json"
    original = chunk.read_text()
    # A copy of a chunk's file under another chunk-like name names its own chunk: not one of this run's.
    (out / "records" / "g0-c0-copy.json").write_text(original)
    (out / "records" / "g0-c0 (copy).json").write_text(original)
    assert len(RunStore(out).records()) == 4
    assert sweep(config, out) == 0
    assert "already complete" in capsys.readouterr().out
    for text in ("{}", "[]", "{\"chunk\": \"g0-c0\", \"records\": [{}]}", "{not json"):
        chunk.write_text(text)
        one_error_line(capsys, sweep(config, out), "g0-c0.json")
        one_error_line(capsys, cli.main(["report", str(out)]), "g0-c0.json")
    chunk.write_text(original)
    (out / "engine.json").write_text("[]")
    one_error_line(capsys, sweep(config, out), "engine.json")


def test_resuming_with_anything_that_changes_the_numbers_is_refused(finished, capsys):
    config, out = finished
    one_error_line(capsys, sweep(config, out, "--data-seed", "7"), "data")
    one_error_line(capsys, sweep(config, out, "--mode", "map"), "mode")
    one_error_line(capsys, sweep(config, out, "--chunk-size", "4"), "chunk_size")
    other = toml(out.parent, extra="l2 = 0.001", name="other.toml")
    one_error_line(capsys, sweep(other, out), "different sweep")
    assert len(RunStore(out).records()) == 4  # nothing lost


def test_an_interrupted_setup_never_blocks_the_same_command(tmp_path, capsys, monkeypatch):
    config = toml(tmp_path)
    out = tmp_path / "run"
    real = store_lib.atomic_write

    def interrupted(path, data):
        if str(path).endswith("plan.json"):
            partial = os.path.join(os.path.dirname(path), ".plan.json.abc123.tmp")
            with open(partial, "w") as file:
                file.write(str(data)[:10])  # what a writer killed mid-write leaves
            raise KeyboardInterrupt
        return real(path, data)

    monkeypatch.setattr(store_lib, "atomic_write", interrupted)
    assert sweep(config, out) == 130
    assert "interrupted \N{EM DASH} rerun the same command to resume" in capsys.readouterr().err
    monkeypatch.setattr(store_lib, "atomic_write", real)
    assert not (out / "plan.json").exists()
    assert sweep(config, out) == 0
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]
    assert len(RunStore(out).records()) == 4
    # A directory an older jaxdl left with an empty records/ and no plan is not stuck either.
    stuck = tmp_path / "stuck"
    (stuck / "records").mkdir(parents=True)
    assert sweep(config, stuck) == 0


def test_leftover_temporary_files_are_removed_on_start(finished, capsys):
    config, out = finished
    for folder in (out, out / "records", out / "params"):
        (folder / ".g0-c9.json.xyz.tmp").write_text("half")
    assert sweep(config, out) == 0
    assert not [p for p in out.rglob("*.tmp")]


def test_full_disk_is_one_line_and_resumable(tmp_path, capsys, monkeypatch):
    config = toml(tmp_path, sweep="chunk_size = 2")
    out = tmp_path / "run"
    real = store_lib.atomic_write
    writes = []

    def full(path, data):
        if os.path.basename(str(path)) == "g0-c1.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        writes.append(path)
        return real(path, data)

    monkeypatch.setattr(store_lib, "atomic_write", full)
    one_error_line(capsys, sweep(config, out), "g0-c1.json", "No space left on device")
    monkeypatch.setattr(store_lib, "atomic_write", real)
    assert RunStore(out).done_chunks() == {"g0-c0"}  # the chunk written before the disk filled is kept
    assert sweep(config, out) == 0
    assert "resumed: 1 finished chunks" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_real_full_disk(tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        code = sweep(toml(tmp_path), disk / "run")
        if code == 0:
            pytest.skip("the run fitted in 64 KiB")
        one_error_line(capsys, code, "No space left on device")
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folders(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        one_error_line(capsys, sweep(toml(tmp_path), folder / "run"), "not writable")
        one_error_line(capsys, cli.main(["train", "--out", str(folder / "t"), "--quiet"]), "not writable")
    finally:
        folder.chmod(0o700)


def test_a_second_sweep_into_a_running_one_is_refused(tmp_path, capsys):
    config = toml(tmp_path)
    out = tmp_path / "run"
    with RunStore(out).lock():
        one_error_line(capsys, sweep(config, out), "in use by a running sweep", f"pid {os.getpid()}")
    assert sweep(config, out) == 0  # once it is free, the same command runs


def test_files_get_a_normal_files_permissions(finished):
    _, out = finished
    mask = os.umask(0)
    os.umask(mask)
    for path in [out / "plan.json", out / "summary.json", *(out / "records").iterdir(), *(out / "params").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


# ---------------------------------------------------------------------------
# Sizes


@pytest.mark.parametrize("extra, sweep_settings, needles", [
    ("", 'strategy = "random"\nnum_samples = 1000000000', ["1,000,000,000", "trials"]),
    ("l1 = {loggrid = [0.01, 0.5, 100000]}\nl2 = {grid = [0.1, 0.2, 0.3]}", "",
     ["trials", "MAX_TRIALS"]),
    ("", "seeds = 1000000000", ["seeds"]),
])
def test_plans_too_large_to_build_are_refused_at_once(extra, sweep_settings, needles, capsys, tmp_path):
    text = TINY.format(extra=extra, sweep="").replace('strategy = "grid"\n', "" if "strategy" in sweep_settings else
                                                         'strategy = "grid"\n').replace("seeds = 2\n", "")
    path = tmp_path / "big.toml"
    path.write_text(text + sweep_settings + "\n")
    tic = time.perf_counter()
    one_error_line(capsys, sweep(str(path), tmp_path / "run"), *needles)
    assert time.perf_counter() - tic < 20
    assert not (tmp_path / "run").exists()


def test_models_too_large_for_memory_are_refused_before_compiling(capsys, tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text(TINY.format(extra="", sweep="").replace("hidden = [8]", "hidden = [100000000]"))
    one_error_line(capsys, sweep(str(path), tmp_path / "run"), "would need about", "GiB")
    path.write_text(TINY.format(extra="", sweep="").replace("epochs = 1", "epochs = 1000000000"))
    one_error_line(capsys, sweep(str(path), tmp_path / "run"), "epochs must be at most")


# ---------------------------------------------------------------------------
# Ctrl-C and what "best" means


def test_ctrl_c_says_how_to_resume(tmp_path):
    config = toml(tmp_path)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "jaxdl.cli", "sweep", "--config", config, "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "plan.json").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the sweep finished before the signal arrived")
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == "jaxdl: interrupted \N{EM DASH} rerun the same command to resume"


def test_when_every_trial_diverged_nothing_is_called_best(capsys, tmp_path):
    path = tmp_path / "wild.toml"
    path.write_text(TINY.format(extra='optimizer = "sgd"', sweep="").replace("[0.003, 0.03]", "[1e30, 1e35]"))
    out = tmp_path / "run"
    assert sweep(str(path), out) == 0
    printed = capsys.readouterr().out
    assert "every trial diverged, so none is called best" in printed
    assert "best configuration" not in printed and "kept its weights" not in printed
    assert RunStore(out).summary()["best"] is None
    assert not (out / "params").exists() or not os.listdir(out / "params")
    with pytest.raises(ValueError, match="every trial diverged"):
        RunStore(out).best()
