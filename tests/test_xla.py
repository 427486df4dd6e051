"""The compiler options of jaxdl's own programs and the persistent compilation cache (jaxdl/_xla.py)."""

import json
import os
import subprocess
import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import _xla
from jaxdl import train as train_lib


def test_cpu_programs_compile_at_level_one(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    assert _xla.compiler_options("cpu") == {"xla_backend_optimization_level": 1}


def test_a_level_in_xla_flags_wins(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
    assert _xla.compiler_options("cpu") is None


@pytest.mark.parametrize("backend", ["gpu", "tpu"])
def test_other_backends_keep_xla_defaults(monkeypatch, backend):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert _xla.compiler_options(backend) is None


def test_jit_passes_the_options(monkeypatch):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    seen = {}

    def fake_jit(fn, **kwargs):
        seen.update(kwargs)
        return fn

    monkeypatch.setattr(jax, "jit", fake_jit)
    _xla.jit(abs, donate_argnums=0)
    assert seen == {"compiler_options": _xla.compiler_options(), "donate_argnums": 0}


@pytest.fixture(scope="module")
def digits_data():
    return train_lib.Data.load("digits")


def test_level_one_trains_an_mlp_as_the_default_level(digits_data):
    """Training is bit for bit the same; evaluation sums may differ in the last place."""
    config = train_lib.TrainConfig(model_args={"hidden": (32,)}, batch_size=64, epochs=3, optimizer="adam")
    n = 4
    hparams = train_lib.HParams(learning_rate=jnp.geomspace(1e-3, 1e-1, n)).batched(n)
    keys = jax.random.split(jax.random.key(0), n)
    population = jax.jit(jax.vmap(partial(train_lib.train, config), in_axes=(0, 0, None)))
    lowered = population.lower(hparams, keys, digits_data)
    default, level_one = (
        jax.device_get(lowered.compile(compiler_options=options)(hparams, keys, digits_data))
        for options in ({"xla_backend_optimization_level": 2}, _xla.CPU_OPTIONS)
    )
    for a, b in zip(jax.tree.leaves(default.params), jax.tree.leaves(level_one.params)):
        np.testing.assert_array_equal(a, b)
    for name in ("train_loss", "train_accuracy", "val_accuracy"):
        np.testing.assert_array_equal(default.history[name], level_one.history[name])
    np.testing.assert_allclose(default.history["val_loss"], level_one.history["val_loss"], rtol=1e-6)


# The cache is global to a process: tests that turn it on do so in a subprocess, never in the suite's.
CACHED_PROCESS = """
import json
import jax, jax.numpy as jnp
from jaxdl import _xla
events = []
jax.monitoring.register_event_listener(lambda event, **_: events.append(event))
folder = _xla.enable_compilation_cache()
options = _xla.compiler_options()
jax.block_until_ready(_xla.jit(lambda x: jnp.tanh(x) @ x.T)(jnp.ones((4, 4))))
print(json.dumps({"folder": folder, "options": options,
                  "hits": events.count("/jax/compilation_cache/cache_hits"),
                  "writes": events.count("/jax/compilation_cache/cache_misses")}))
"""


def _run_cached_process(env):
    done = subprocess.run([sys.executable, "-c", CACHED_PROCESS], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def cache_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT"))}
    env["XLA_FLAGS"] = ""  # jaxdl's own level-1 options, not the suite's level 0: they are part of the key
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    return env


def test_a_second_process_loads_its_programs_from_the_cache(tmp_path, cache_env):
    folder = tmp_path / "cache"
    cache_env[_xla.CACHE_VARIABLE] = str(folder)
    first = _run_cached_process(cache_env)
    assert first["folder"] == str(folder) and first["options"] == _xla.CPU_OPTIONS
    assert first["hits"] == 0 and first["writes"] >= 1
    assert len(os.listdir(folder)) == first["writes"]
    second = _run_cached_process(cache_env)
    assert second["hits"] == first["writes"] and second["writes"] == 0


def test_a_cache_the_user_configured_for_jax_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv(_xla.CACHE_VARIABLE, str(tmp_path / "ours"))
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))
    try:
        assert _xla.enable_compilation_cache() == str(tmp_path / "theirs")
    finally:
        jax.config.update("jax_compilation_cache_dir", None)
    assert not os.path.exists(tmp_path / "ours")


@pytest.mark.parametrize("setting", ["0", "off", "False"])
def test_the_environment_turns_the_cache_off(monkeypatch, tmp_path, setting):
    monkeypatch.setenv(_xla.CACHE_VARIABLE, setting)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jax.config.jax_compilation_cache_dir is None
    assert _xla.enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    assert os.listdir(tmp_path) == []


def test_a_folder_that_cannot_be_created_leaves_the_cache_off_with_one_line(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(_xla.CACHE_VARIABLE, str(tmp_path / "file" / "xla"))
    assert _xla.enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    err = capsys.readouterr().err
    assert err.startswith("jaxdl: warning: compilation cache off") and err.count("\n") == 1


def test_the_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _xla.default_cache_dir() == os.path.join(str(tmp_path), "jaxdl", "xla")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _xla.default_cache_dir() == os.path.join(str(tmp_path), ".cache", "jaxdl", "xla")
