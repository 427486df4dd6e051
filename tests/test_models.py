import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdl import models


def build(config, seed=0):
    return models.build(config, jax.random.key(seed))


def test_lecture_mlp_has_266610_parameters():
    model = build(models.MLPConfig(784, (300, 100), 10))
    assert models.count_params(nnx.state(model, nnx.Param)) == 266_610
    table = models.summary(model)
    for count in ("235,500", "30,100", "1,010", "266,610"):
        assert count in table


@pytest.mark.parametrize(
    "config, x_shape",
    [
        (models.MLPConfig(64, (32, 16), 10), (5, 64)),
        (models.MLPConfig(64, (32, 16), 10, dropout="standard"), (5, 64)),
        (models.MLPConfig(64, (32,), 3, activation="maxout", maxout_pieces=3), (5, 64)),
        (models.MLPConfig(64, (32,), 3, activation="maxout", maxout_pieces=1), (5, 64)),
        (models.MLPConfig(64, (32,), 10, batch_norm="before"), (5, 64)),
        (models.MLPConfig(64, (32,), 10, batch_norm="after", activation="selu", dropout="alpha"), (5, 64)),
        (models.CNNConfig((8, 8, 1)), (5, 8, 8, 1)),
        (models.CNNConfig((8, 8, 1), downsample="stride", batch_norm="after"), (5, 8, 8, 1)),
        (models.CNNConfig((8, 8, 1), activation="maxout", batch_norm="before"), (5, 64)),
        (models.CNNConfig((32, 32, 3), channels=(8, 8, 8), dense=()), (2, 32, 32, 3)),
    ],
)
def test_forward_shapes_and_finite(config, x_shape):
    model = build(config)
    x = jax.random.normal(jax.random.key(1), x_shape)
    for kwargs in ({}, {"train": True, "dropout_rate": 0.3, "key": jax.random.key(2)}):
        logits = model(x, **kwargs)
        assert logits.shape == (x_shape[0], config.out_features)
        assert bool(jnp.all(jnp.isfinite(logits)))


def test_maxout_layer_computes_pieces_per_unit():
    model = build(models.MLPConfig(4, (6,), 2, activation="maxout", maxout_pieces=3))
    assert model.blocks[0].layer.kernel[...].shape == (4, 18)
    assert model.head.kernel[...].shape == (6, 2)


def test_cnn_parameter_count_matches_closed_form():
    config = models.CNNConfig((8, 8, 1), channels=(16, 32), dense=(64,), out_features=10)
    model = build(config)
    expected = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (2 * 2 * 32 * 64 + 64) + (64 * 10 + 10)
    assert models.count_params(nnx.state(model, nnx.Param)) == expected


def test_zero_dropout_rate_is_identity_in_training_mode():
    model = build(models.MLPConfig(16, (32, 32), 4, dropout="standard"))
    x = jax.random.normal(jax.random.key(0), (8, 16))
    trained = model(x, train=True, dropout_rate=0.0, key=jax.random.key(3))
    np.testing.assert_array_equal(trained, model(x))


def test_dropout_keeps_expectation_and_drops_the_rate():
    x = jnp.ones((1_000_000,))
    y = models.dropout(x, 0.25, jax.random.key(0))
    assert abs(float(jnp.mean(y == 0)) - 0.25) < 3e-3
    assert abs(float(jnp.mean(y)) - 1.0) < 3e-3
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    x = jax.random.normal(jax.random.key(0), (1_000_000,))
    y = models.alpha_dropout(x, 0.1, jax.random.key(1))
    assert abs(float(jnp.mean(y))) < 5e-3
    assert abs(float(jnp.var(y)) - 1.0) < 1e-2
    np.testing.assert_array_equal(models.alpha_dropout(x, 0.0, jax.random.key(1)), x)


def test_dropout_rate_can_be_vmapped():
    model = build(models.MLPConfig(16, (64,), 4, dropout="standard"))
    graphdef, params = nnx.split(model, nnx.Param)
    x = jnp.ones((4, 16))

    def logits(rate):
        return nnx.merge(graphdef, params)(x, train=True, dropout_rate=rate, key=jax.random.key(0))

    rates = jnp.array([0.0, 0.5])
    batched = jax.vmap(logits)(rates)
    np.testing.assert_allclose(batched[0], model(x), rtol=1e-6)
    np.testing.assert_allclose(batched[1], logits(0.5), rtol=1e-6)


@pytest.mark.parametrize(
    "name, scale, fan",
    [
        ("he_normal", 2.0, "in"),
        ("he_uniform", 2.0, "in"),
        ("lecun_normal", 1.0, "in"),
        ("lecun_uniform", 1.0, "in"),
        ("glorot_normal", 1.0, "avg"),
        ("glorot_uniform", 1.0, "avg"),
    ],
)
def test_initializer_variance(name, scale, fan):
    fan_in, fan_out = 400, 200
    kernel = models.get_initializer(name)(jax.random.key(0), (fan_in, fan_out))
    n = fan_in if fan == "in" else (fan_in + fan_out) / 2
    np.testing.assert_allclose(float(jnp.var(kernel)), scale / n, rtol=0.03)
    if name.endswith("uniform"):
        assert float(jnp.max(jnp.abs(kernel))) <= math.sqrt(3 * scale / n)


def test_activation_picks_its_matching_initializer():
    assert models.default_initializer("selu") == "lecun_normal"
    assert models.default_initializer("serlu") == "lecun_normal"
    assert models.default_initializer("relu") == "he_normal"
    assert models.default_initializer("elu") == "he_normal"
    assert models.default_initializer("tanh") == "glorot_uniform"
    assert models.default_initializer("sigmoid") == "glorot_uniform"


def test_population_init_under_vmap():
    config = models.MLPConfig(8, (16,), 3)

    def init(key):
        return nnx.split(models.build(config, key), nnx.Param)[1]

    keys = jax.random.split(jax.random.key(0), 5)
    params = jax.vmap(init)(keys)
    kernels = params["head"]["kernel"][...]
    assert kernels.shape == (5, 16, 3)
    np.testing.assert_array_equal(kernels[2], init(keys[2])["head"]["kernel"][...])
    assert not np.allclose(kernels[0], kernels[1])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: models.MLPConfig(8, (4,), 2, activation="swishy"), "swishy"),
        (lambda: models.MLPConfig(8, (4,), 2, init="xavier"), "xavier"),
        (lambda: models.MLPConfig(8, (4,), 2, batch_norm="middle"), "batch_norm"),
        (lambda: models.MLPConfig(8, (0,), 2), "positive"),
        (lambda: models.CNNConfig((8, 8)), "input_shape"),
        (lambda: models.CNNConfig(downsample="avg"), "downsample"),
    ],
)
def test_bad_configuration_raises_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_training_mode_with_dropout_needs_a_key():
    model = build(models.MLPConfig(8, (4,), 2, dropout="standard"))
    with pytest.raises(ValueError, match="key"):
        model(jnp.ones((2, 8)), train=True, dropout_rate=0.1)


def test_without_dropout_training_mode_draws_nothing():
    model = build(models.MLPConfig(8, (16,), 2))
    x = jax.random.normal(jax.random.key(0), (4, 8))
    np.testing.assert_array_equal(model(x, train=True, dropout_rate=0.5), model(x))
