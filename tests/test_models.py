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
    inference = model(x)
    models.set_dropout(model, 0.3, jax.random.key(2))
    for logits in (inference, model(x, train=True)):
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
    models.set_dropout(model, 0.0, jax.random.key(3))
    trained = model(x, train=True)
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
    pieces = models.split(model)
    x = jnp.ones((4, 16))

    def logits(rate):
        copy = nnx.merge(*pieces, copy=True)
        models.set_dropout(copy, rate, jax.random.key(0))
        return copy(x, train=True)

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


def test_dropout_masks_come_from_the_key_that_was_set():
    # The key is a model variable now (no key= at call time): masks follow it, and only it.
    model = build(models.MLPConfig(8, (64,), 2, dropout="standard"))
    x = jax.random.normal(jax.random.key(0), (4, 8))
    np.testing.assert_array_equal(model(x, train=True), model(x))  # rate 0 until one is set
    models.set_dropout(model, 0.5, jax.random.key(1))
    first, again = model(x, train=True), model(x, train=True)
    np.testing.assert_array_equal(first, again)
    models.set_dropout(model, 0.5, jax.random.key(2))
    assert not np.allclose(model(x, train=True), first)
    models.set_dropout(model, 0.5, jax.random.key(1))
    np.testing.assert_array_equal(model(x, train=True), first)


def test_without_dropout_training_mode_draws_nothing():
    model = build(models.MLPConfig(8, (16,), 2))
    x = jax.random.normal(jax.random.key(0), (4, 8))
    models.set_dropout(model, 0.5, jax.random.key(1))
    np.testing.assert_array_equal(model(x, train=True), model(x))
    _, _, _, rates, keys = models.split(model)
    assert jax.tree.leaves(rates) == [] and jax.tree.leaves(keys) == []


# ---------------------------------------------------------------------------
# The model contract: registered factories, Dropout variables, the pure split


@pytest.mark.parametrize(
    "factory, input_shape, settings, config",
    [
        (models.mlp, (64,), {"hidden": (32, 16), "dropout": "standard"},
         models.MLPConfig(64, (32, 16), 10, activation="elu", dropout="standard")),
        (models.mlp, (8, 8, 1), {"hidden": (16,), "batch_norm": "after"},
         models.MLPConfig(64, (16,), 10, activation="elu", batch_norm="after")),
        (models.cnn, (8, 8, 1), {"channels": (8,), "dense": (16,), "dropout": "standard"},
         models.CNNConfig((8, 8, 1), channels=(8,), dense=(16,), activation="elu", dropout="standard")),
    ],
)
def test_registered_factories_build_what_the_configs_build(factory, input_shape, settings, config):
    from jaxdl import activations, registry

    assert registry.MODELS.get(factory.__name__) is factory
    key = jax.random.key(4)
    made = factory(input_shape, 10, activation=activations.elu, rngs=nnx.Rngs(params=key), **settings)
    built = models.build(config, key)
    for a, b in zip(jax.tree.leaves(nnx.state(made, nnx.Param)), jax.tree.leaves(nnx.state(built, nnx.Param))):
        np.testing.assert_array_equal(a, b)
    x = jax.random.normal(jax.random.key(5), (3, *input_shape))
    np.testing.assert_array_equal(made(x), built(x))


def test_cnn_factory_needs_images():
    with pytest.raises(ValueError, match="height, width, channels"):
        models.cnn((64,), 10, activation=jax.nn.relu, rngs=nnx.Rngs(0))


def test_split_gives_one_rate_and_key_per_dropout_layer_and_merges_back():
    model = build(models.MLPConfig(8, (16, 16, 16), 3, dropout="standard", batch_norm="before"))
    models.set_dropout(model, 0.25, jax.random.key(7))
    graphdef, params, state, rates, keys = models.split(model)
    assert [float(r) for r in jax.tree.leaves(rates)] == [0.25] * 3
    assert len(jax.tree.leaves(keys)) == 3
    assert len({str(jax.random.key_data(k)) for k in jax.tree.leaves(keys)}) == 3  # one key per layer
    assert jax.tree.leaves(nnx.state(model, nnx.BatchStat))  # batch statistics are in `state`
    assert models.count_params(state) == models.count_params(nnx.state(model, nnx.BatchStat))
    x = jax.random.normal(jax.random.key(0), (4, 8))
    merged = nnx.merge(graphdef, params, state, rates, keys, copy=True)
    np.testing.assert_array_equal(merged(x, train=True), model(x, train=True))


def test_dropout_layer_is_identity_in_inference_and_checks_its_kind():
    layer = models.Dropout("alpha")
    layer.rate[...] = jnp.float32(0.5)
    x = jax.random.normal(jax.random.key(0), (100,))
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, train=True), models.alpha_dropout(x, layer.rate[...], layer.key[...]))
    with pytest.raises(ValueError, match="standard"):
        models.Dropout("gaussian")
