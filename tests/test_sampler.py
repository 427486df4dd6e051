"""The class-balanced sampler: probabilities by hand, batches that balance the classes, a run that uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import train
from jaxdl.data import Data, class_balanced_probabilities, epoch_batches, sampled_batches


def test_probabilities_give_every_present_class_the_same_mass():
    labels = jnp.array([0] * 6 + [2] * 3 + [3])
    p = np.asarray(class_balanced_probabilities(labels, 5))
    np.testing.assert_allclose(p[:6], 1 / 18, rtol=1e-6)
    np.testing.assert_allclose(p[6:9], 1 / 9, rtol=1e-6)
    np.testing.assert_allclose(p[9], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose([p[np.asarray(labels) == c].sum() for c in (0, 2, 3)], [1 / 3] * 3, rtol=1e-6)


def test_sampled_batches_balance_the_classes_and_take_an_epochs_steps():
    labels = jnp.array([0] * 900 + [1] * 100)
    p = class_balanced_probabilities(labels, 2)
    batches = sampled_batches(jax.random.key(0), p, 32)
    assert batches.shape == epoch_batches(jax.random.key(0), 1000, 32).shape == (31, 32)
    assert batches.dtype == jnp.int32
    many = np.asarray(jax.vmap(lambda k: sampled_batches(k, p, 32))(jax.random.split(jax.random.key(1), 50)))
    share = (np.asarray(labels)[many] == 1).mean()
    assert abs(share - 0.5) < 0.02, share  # 49,600 draws: the standard error is 0.0022
    np.testing.assert_array_equal(sampled_batches(jax.random.key(0), p, 32), batches)


@pytest.fixture(scope="module")
def imbalanced():
    data = Data.load("digits")
    y = np.asarray(data.y_train)
    keep = np.concatenate([np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:10]])
    return data.replace(x_train=data.x_train[keep], y_train=data.y_train[keep])


def test_a_balanced_run_trains_on_balanced_batches_and_vmaps(imbalanced):
    config = train.TrainConfig(model_args={"hidden": (16,)}, epochs=2, sampler="balanced")
    run = jax.jit(jax.vmap(lambda h, k: train.train(config, h, k, imbalanced)))
    keys = jax.random.split(jax.random.key(0), 2)
    hparams = train.HParams(learning_rate=jnp.array([1e-3, 3e-3]))
    population = run(hparams.batched(2), keys)
    alone = jax.jit(lambda k: train.train(config, train.HParams(learning_rate=3e-3), k, imbalanced))(keys[1])
    np.testing.assert_allclose(population.metrics["val_loss"][1], alone.metrics["val_loss"], rtol=1e-5)
    plain = train.TrainConfig(model_args={"hidden": (16,)}, epochs=2)
    shuffled = jax.jit(lambda k: train.train(plain, train.HParams(learning_rate=3e-3), k, imbalanced))(keys[1])
    assert float(shuffled.metrics["val_loss"]) != float(alone.metrics["val_loss"])


def test_bad_samplers_are_one_line():
    with pytest.raises(ValueError, match="sampler must be one of 'shuffle', 'balanced', got 'uniform'"):
        train.TrainConfig(sampler="uniform")
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    regression = Data.from_arrays(x, x[:, 0], standardize=False)
    with pytest.raises(ValueError, match="sampler 'balanced' needs a classification task"):
        train.check(train.TrainConfig(sampler="balanced", batch_size=8), regression)
