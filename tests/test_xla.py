"""The compiler options of jaxdl's own programs (jaxdl/_xla.py)."""

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
