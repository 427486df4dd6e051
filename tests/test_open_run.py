"""The run opened to research code, end to end: user pieces in a sweep, data of one's own, bad input, getting models back."""

import json
import os
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxdl import cli, losses, metrics, sweep, train
from jaxdl.sweep import report
from jaxdl.sweep.store import make_record
from jaxdl.sweep import Trial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "residual.py")

USER_SWEEP = f"""
import = [{json.dumps(EXAMPLE)}]

[space]
model = "residual_mlp"
width = 16
depth = 1
activation = "squareplus"
optimizer = {{choice = ["lion", "adam"]}}
dropout_rate = 0.1
batch_size = 64
epochs = 2

[space.when.optimizer.lion]
learning_rate = {{loguniform = [1e-4, 1e-3]}}
b1 = {{uniform = [0.85, 0.95]}}

[space.when.optimizer.adam]
learning_rate = {{loguniform = [1e-3, 1e-2]}}
b2 = {{uniform = [0.9, 0.999]}}

[sweep]
strategy = "random"
num_samples = 6
chunk_size = 2
"""


def _strip(records):
    return [{k: v for k, v in r.items() if k not in sweep.store.TIMED_FIELDS} for r in records]


def _interrupt_after_first_chunk(monkeypatch, command):
    """Run the CLI in this process and raise Ctrl-C once its first chunk is written; how many chunks were."""
    write_chunk, written = sweep.RunStore.write_chunk, []

    def write_then_interrupt(self, *args, **kwargs):
        write_chunk(self, *args, **kwargs)
        written.append(args[0])
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(sweep.RunStore, "write_chunk", write_then_interrupt)
        assert cli.main(command) == 130
    return len(written)


def _sigkill_after_first_chunk(killed, command):
    """Run the CLI in a subprocess and SIGKILL it once a chunk is on disk; how many chunks were."""
    process = subprocess.Popen([sys.executable, "-m", "jaxdl.cli", *command], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finished():
        folder = killed / "records"
        return [n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".")] if folder.is_dir() else []

    deadline = time.time() + 120
    while time.time() < deadline and not finished() and process.poll() is None:
        time.sleep(0.05)
    process.kill()
    process.wait()
    return len(finished())


# The SIGKILL of a subprocess is the real thing; Ctrl-C in this process reuses its compiled programs, so the
# default tier runs that one (the engine's own SIGKILL test stays there too).
@pytest.mark.parametrize("interrupt", ["ctrl_c", pytest.param("sigkill", marks=pytest.mark.slow)])
def test_user_model_activation_and_optimizer_sweep_resume_after_an_interruption_and_report(
        interrupt, tmp_path, capsys, monkeypatch):
    config = tmp_path / "user.toml"
    config.write_text(USER_SWEEP)
    reference = tmp_path / "reference"
    assert cli.main(["sweep", "--config", str(config), "--out", str(reference), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "6 trials in 2 static groups" in out and "lion" in out
    records = sweep.RunStore(reference).records()
    assert {r["static"]["optimizer"] for r in records} == {"lion", "adam"}
    # Each optimizer got its own conditional hyperparameters, and the records name every piece.
    for record in records:
        assert set(record["dynamic"]) == {"learning_rate", "dropout_rate",
                                          "b1" if record["static"]["optimizer"] == "lion" else "b2"}
    info = sweep.RunStore(reference).run_info()
    assert {g["config"]["model"] for g in info["groups"]} == {"residual_mlp"}
    assert {g["config"]["activation"] for g in info["groups"]} == {"squareplus"}
    assert set(info["versions"]) >= {"jaxdl", "jax", "jaxlib", "flax", "optax"}

    # Interrupted once the first chunk is on disk, then the same command resumes to the same records.
    killed = tmp_path / "killed"
    command = ["sweep", "--config", str(config), "--out", str(killed), "--quiet"]
    if interrupt == "ctrl_c":
        done = _interrupt_after_first_chunk(monkeypatch, command)
        assert "interrupted" in capsys.readouterr().err
    else:
        done = _sigkill_after_first_chunk(killed, command)
    assert done >= 1
    assert cli.main(command) == 0
    resumed = capsys.readouterr().out
    if done < 3:
        assert f"resumed: {done} finished chunks" in resumed
    assert _strip(sweep.RunStore(killed).records()) == _strip(records)

    assert cli.main(["report", str(killed), "--import", EXAMPLE]) == 0
    assert "val_accuracy (mean ± sd)" in capsys.readouterr().out
    # The winner's model comes back, a user model, and scores its record.
    store = sweep.RunStore(reference)
    best = store.best()
    model = store.load_model(best["id"])
    data = train.Data.load("digits", image=True)
    accuracy = float(jnp.mean(jnp.argmax(model(data.x_val, train=False), -1) == data.y_val))
    record = next(r for r in records if r["id"] == best["id"])
    assert accuracy == pytest.approx(record["final"]["val_accuracy"], abs=1e-6)


def _diabetes():
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return bunch.data.astype(np.float32), bunch.target.astype(np.float32)


REGRESSION_SWEEP = """
[space]
hidden = [16]
loss = {choice = ["mse", "huber"]}
learning_rate = {loguniform = [3e-3, 3e-2]}
epochs = 5

[sweep]
strategy = "random"
num_samples = 2
metric = "val_rmse"
"""


def test_regression_sweep_from_a_file_and_from_arrays_reports_rmse_and_r2(tmp_path, capsys):
    x, y = _diabetes()
    np.savez(tmp_path / "diabetes.npz", x=x, y=y)
    config = tmp_path / "regression.toml"
    config.write_text(REGRESSION_SWEEP)
    out = tmp_path / "file"
    assert cli.main(["sweep", "--data", str(tmp_path / "diabetes.npz"), "--config", str(config), "--out", str(out),
                     "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "regression" in table and "val_rmse (mean ± sd)" in table and "test_r2" in table and "test_rmse" in table

    data = train.Data.from_arrays(x, y)
    assert data.task == "regression"
    space, settings = sweep.load_config(config)
    result = sweep.run_sweep(sweep.build_plan(space, settings), data, tmp_path / "arrays", metric="val_rmse",
                             progress=False)
    # Same data, same split: the file and the arrays give the same records.
    assert _strip(result.records) == _strip(sweep.RunStore(out).records())
    store = sweep.RunStore(tmp_path / "arrays")
    best = store.best()
    assert best["metric"] == "final.val_rmse" and best["maximize"] is False
    model = store.load_model(best["id"])
    outputs = model(data.x_val, train=False)
    record = next(r for r in result.records if r["id"] == best["id"])
    np.testing.assert_allclose(float(metrics.root_mean_squared_error(outputs, data.y_val)),
                               record["final"]["val_rmse"], rtol=1e-5)
    np.testing.assert_allclose(float(metrics.r2_score(outputs, data.y_val)), record["final"]["val_r2"], rtol=1e-4)


BROKEN_MODELS = """
import jaxdl

@jaxdl.register_model("raises")
def raises(input_shape, out_features, *, activation, rngs, width=8):
    raise RuntimeError("no such layer")

@jaxdl.register_model("wrong_signature")
def wrong_signature(shape, classes):
    return None
"""


def _bad_inputs(tmp_path):
    (tmp_path / "models.py").write_text(BROKEN_MODELS)
    (tmp_path / "fails.py").write_text("raise ImportError('cannot import torch here')\n")
    x, y = _diabetes()
    nan_x = x.copy()
    nan_x[3, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x=nan_x, y=y)
    np.savez(tmp_path / "labels.npz", x=x, y=np.where(np.arange(len(y)) == 5, -1, np.arange(len(y)) % 3))
    (tmp_path / "table.csv").write_text("a,b,target\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n")

    def toml(name, body):
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(body))
        return str(path)

    small = "[sweep]\nstrategy = 'grid'\n"
    return [
        (["--config", toml("unknown", f"[space]\noptimizer = 'adamm'\n{small}")], "did you mean 'adam'"),
        (["--import", str(tmp_path / "models.py"),
          "--config", toml("raises", f"[space]\nmodel = 'raises'\n{small}")], "no such layer"),
        (["--import", str(tmp_path / "models.py"),
          "--config", toml("signature", f"[space]\nmodel = 'wrong_signature'\n{small}")],
         "must take (input_shape, out_features"),
        (["--data", str(tmp_path / "nan.npz"), "--config", toml("nan", f"[space]\nepochs = 1\n{small}")],
         "non-finite"),
        (["--data", str(tmp_path / "labels.npz"), "--config", toml("labels", f"[space]\nepochs = 1\n{small}")],
         "-1"),
        (["--data", str(tmp_path / "table.csv"), "--target", "price",
          "--config", toml("csv", f"[space]\nepochs = 1\n{small}")], "price"),
        (["--config", toml("when", f"""
            [space]
            optimizer = {{choice = ["adam", "momentum"]}}
            [space.when.optimizer.sgd]
            momentum = 0.9
            {small}""")], "never takes the value 'sgd'"),
        (["--config", toml("b1", f"""
            [space]
            optimizer = {{choice = ["adam", "momentum"]}}
            b1 = 0.9
            {small}""")], "[space.when.optimizer.adam]"),
        (["--import", str(tmp_path / "missing.py")], "no such file"),
        (["--import", str(tmp_path / "fails.py")], "cannot import torch here"),
    ]


def test_bad_input_is_one_line_exit_2_and_leaves_no_run_directory(tmp_path, capsys):
    from jaxdl import registry

    try:
        for number, (argv, fragment) in enumerate(_bad_inputs(tmp_path)):
            out = tmp_path / f"run-{number}"
            assert cli.main(["sweep", *argv, "--out", str(out), "--quiet"]) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith("jaxdl: error:") and "Traceback" not in err, err
            assert fragment in err.splitlines()[0], (fragment, err)
            assert not out.exists(), argv
    finally:
        for name in ("raises", "wrong_signature"):
            registry.MODELS.unregister(name)


def test_train_writes_weights_metrics_and_curves_into_a_fresh_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--epochs", "2", "--hidden", "16", "--out", str(out), "--quiet"]) == 0
    assert "held-out test: accuracy" in capsys.readouterr().out
    written = json.loads((out / "metrics.json").read_text())
    assert (out / "learning_curves.png").stat().st_size > 0
    model = sweep.RunStore(out).load_model(0)
    data = train.Data.load("digits")
    outputs = model(data.x_val, train=False)
    np.testing.assert_allclose(float(jnp.mean(losses.cross_entropy(outputs, data.y_val))),
                               written["metrics"]["val_loss"], rtol=1e-5)
    # Never over another run's files.
    assert cli.main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 2
    assert "never overwrites" in capsys.readouterr().err


def _record(trial_id, seed, score, lr):
    trial = Trial(id=trial_id, static={"optimizer": "adam"}, dynamic={"learning_rate": lr}, seed=seed)
    return make_record(trial, {"val_accuracy": [score]}, 0.0, final={"val_accuracy": score, "test_accuracy": score})


def test_comparing_runs_pairs_seeds_and_gives_a_t_interval():
    scores_a = {0: 0.90, 1: 0.92, 2: 0.88, 3: 0.91}
    scores_b = {0: 0.93, 1: 0.93, 2: 0.92, 3: 0.92}
    run_a = [_record(s, s, v, 1e-3) for s, v in scores_a.items()] + [_record(10 + s, s, 0.5, 1e-1) for s in range(4)]
    run_b = [_record(s, s, v, 3e-3) for s, v in scores_b.items()]
    rows = report.compare_runs({"A": run_a, "B": run_b}, "val_accuracy")
    assert rows[0]["settings"] == {"learning_rate": 1e-3}  # A's best configuration, not its worse one
    d = np.array([scores_b[s] - scores_a[s] for s in range(4)])
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert rows[1]["pairs"] == 4
    np.testing.assert_allclose(rows[1]["difference"], d.mean())
    np.testing.assert_allclose(rows[1]["interval"], (d.mean() - half, d.mean() + half))
    text = report.format_comparison(rows, "val_accuracy")
    assert f"{d.mean():+.4f}" in text and "difference from A" in text


def test_conditional_tables_in_grid_random_and_halving():
    space = sweep.Space(
        {"optimizer": sweep.choice("adam", "momentum"), "learning_rate": sweep.grid(1e-3, 1e-2)},
        when={"optimizer": {"adam": {"b1": sweep.grid(0.8, 0.9)}, "momentum": {"decay": 0.9}}},
    )
    grid = sweep.grid_plan(space)
    assert len(grid) == 2 * 2 + 2  # adam: lr x b1; momentum: lr
    for trial in grid:
        assert ("b1" in trial.dynamic) == (trial.static["optimizer"] == "adam")
        assert ("decay" in trial.dynamic) == (trial.static["optimizer"] == "momentum")
    halving = sweep.halving_plan(space, 12, 1, 3, seed=1)
    assert all(("b1" in t.dynamic) == (t.static["optimizer"] == "adam") for t in halving)
    # Adding a table leaves every other value as it was.
    plain = sweep.random_plan(sweep.Space({"optimizer": sweep.choice("adam", "momentum"),
                                           "learning_rate": sweep.loguniform(1e-4, 1e-1)}), 10, seed=3)
    conditional = sweep.random_plan(space.__class__(
        {"optimizer": sweep.choice("adam", "momentum"), "learning_rate": sweep.loguniform(1e-4, 1e-1)},
        when={"optimizer": {"adam": {"b1": sweep.uniform(0.8, 0.9)}}}), 10, seed=3)
    assert [t.static for t in plain] == [t.static for t in conditional]
    assert [t.dynamic["learning_rate"] for t in plain] == [t.dynamic["learning_rate"] for t in conditional]


def test_a_module_class_or_a_factory_with_keyword_settings_is_a_model():
    from flax import nnx

    from jaxdl import registry

    class Linear(nnx.Module):
        def __init__(self, input_shape, out_features, *, activation, rngs, scale=1.0):
            self.layer = nnx.Linear(int(np.prod(input_shape)), out_features, rngs=rngs)
            self.scale = scale

        def __call__(self, x, *, train=False):
            return self.scale * self.layer(x.reshape(x.shape[0], -1))

    def flexible(input_shape, out_features, *, activation, rngs, **settings):
        return Linear(input_shape, out_features, activation=activation, rngs=rngs, **settings)

    data = train.Data.load("digits")
    registry.register_model("class_model", Linear)
    registry.register_model("flexible_model", flexible)
    try:
        for name in ("class_model", "flexible_model"):
            config = train.check(train.TrainConfig.from_static({"model": name, "scale": 2.0}), data)
            assert config.model_kwargs == {"scale": 2.0}
        with pytest.raises(ValueError, match="has no setting 'width'"):
            train.TrainConfig(model="class_model", model_args={"width": 3})
    finally:
        registry.MODELS.unregister("class_model")
        registry.MODELS.unregister("flexible_model")
