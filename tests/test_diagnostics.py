import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl import data, diagnostics, models, optim


@pytest.fixture(scope="module")
def batch():
    digits = data.load_digits()
    x = np.asarray(data.Standardizer.fit(digits.x).apply(digits.x))
    return x[:128], digits.y[:128]


def mlp(activation="relu", hidden=(32, 16), seed=0, init="glorot_uniform", **kwargs):
    # Glorot (Keras' Dense default, the lecture's model) keeps the initial logits small;
    # jaxdl's default He initialisation of the head starts ReLU nets at losses near 3.
    config = models.MLPConfig(64, hidden, 10, activation=activation, init=init, **kwargs)
    return models.build(config, jax.random.key(seed))


def scale_kernels(model, factor):
    for block in model.blocks:
        block.layer.kernel[...] = block.layer.kernel[...] * factor
    return model


@pytest.mark.parametrize(
    "config",
    [
        models.MLPConfig(64, (16, 8), 10),
        models.MLPConfig(64, (16,), 10, activation="maxout", maxout_pieces=3, batch_norm="before"),
        models.MLPConfig(64, (16,), 10, activation="selu", batch_norm="after"),
        models.CNNConfig((8, 8, 1), channels=(4,), dense=(8,)),
    ],
)
def test_layer_outputs_reproduce_the_model(config, batch):
    model = models.build(config, jax.random.key(1))
    outputs = diagnostics.layer_outputs(model, batch[0][:16])
    np.testing.assert_allclose(outputs.logits, model(batch[0][:16]), rtol=1e-5, atol=1e-5)
    assert outputs.names == tuple(f"blocks/{i}" for i in range(len(model.blocks)))
    assert len(outputs.activations) == len(outputs.outputs) == len(model.blocks)


def test_layer_outputs_record_pre_activation_and_activation(batch):
    model = mlp()
    x = batch[0][:16]
    outputs = diagnostics.layer_outputs(model, x)
    kernel, bias = model.blocks[0].layer.kernel[...], model.blocks[0].layer.bias[...]
    np.testing.assert_allclose(outputs.pre_activations[0], x @ kernel + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(outputs.activations[0], np.maximum(outputs.pre_activations[0], 0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_initial_loss_of_fresh_ten_class_model_is_near_log_10(batch, seed):
    model = mlp(seed=seed)
    check = diagnostics.initial_loss(model, *batch)
    logits = np.asarray(model(batch[0]), np.float64)
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    assert check.loss == pytest.approx(-log_probs[np.arange(len(batch[1])), batch[1]].mean(), rel=1e-5)
    assert check.expected == pytest.approx(2.302585, abs=1e-6)
    assert check.ok and "near uniform" in check.verdict


def test_initial_loss_flags_large_output_weights_and_too_low_losses(batch):
    model = mlp()
    model.head.kernel[...] = model.head.kernel[...] * 20.0
    high = diagnostics.initial_loss(model, *batch)
    assert not high.ok and high.loss > math.log(10) + 0.5 and "too high" in high.verdict
    low = diagnostics.initial_loss(mlp(), *batch, num_classes=100)
    assert not low.ok and "better than chance" in low.verdict
    tight = diagnostics.initial_loss(mlp(), *batch, tolerance=1e-4)
    assert not tight.ok


def test_overfit_batch_fits_32_examples_and_leaves_model_alone(batch):
    model = mlp()
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.Param))
    check = diagnostics.overfit_batch(model, *batch, optimizer="adam", learning_rate=1e-2, max_steps=60)
    assert check.ok and check.accuracy == 1.0 and 0 < check.steps_to_fit <= 60
    assert check.losses.shape == check.accuracies.shape == (61,)
    assert check.accuracies[check.steps_to_fit] == 1.0 and np.all(check.accuracies[: check.steps_to_fit] < 1.0)
    assert check.losses[-1] < 0.05 < check.losses[0]
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.asarray, nnx.state(model, nnx.Param)))


def test_overfit_batch_reports_failure_and_reuses_compilation(batch):
    model = mlp()
    diagnostics.overfit_batch(model, *batch, learning_rate=1e-2, max_steps=60)
    compiled = diagnostics._overfit._cache_size()
    stuck = diagnostics.overfit_batch(model, *batch, learning_rate=0.0, max_steps=60)
    assert diagnostics._overfit._cache_size() == compiled  # the learning rate is an array argument
    assert not stuck.ok and stuck.steps_to_fit is None and "could not fit" in stuck.verdict
    np.testing.assert_array_equal(stuck.losses, np.full(61, stuck.losses[0]))


def test_overfit_batch_accepts_a_built_optimizer(batch):
    check = diagnostics.overfit_batch(mlp(), *batch, optimizer=optax.adam(1e-2), learning_rate=None, max_steps=60)
    assert check.ok
    with pytest.raises(ValueError, match="learning_rate"):
        diagnostics.overfit_batch(mlp(), *batch, optimizer=optax.adam(1e-2), max_steps=5)
    with pytest.raises(ValueError, match="batch_size"):
        diagnostics.overfit_batch(mlp(), *batch, batch_size=1000)


def test_dead_units_counts_units_that_are_zero_on_every_example(batch):
    x = batch[0]
    healthy = diagnostics.dead_units(mlp(), x)
    assert healthy.ok and healthy.dead == (0, 0) and healthy.units == (32, 16)

    model = mlp()
    bias = np.array(model.blocks[0].layer.bias[...])
    bias[:8] = -1e3  # these 8 units can never turn on
    model.blocks[0].layer.bias[...] = jnp.asarray(bias)
    check = diagnostics.dead_units(model, x)
    pre = x @ np.asarray(model.blocks[0].layer.kernel[...]) + bias
    expected = int(np.all(np.maximum(pre, 0) == 0, axis=0).sum())
    assert check.dead[0] == expected == 8
    assert check.fractions[0] == pytest.approx(0.25)
    assert not check.ok and "blocks/0" in check.verdict
    assert diagnostics.dead_units(model, x, max_fraction=0.3).ok


def test_dead_units_are_channels_in_convolutions(batch):
    model = models.build(models.CNNConfig((8, 8, 1), channels=(4,), dense=(8,)), jax.random.key(0))
    bias = np.array(model.blocks[0].layer.bias[...])
    bias[1] = -1e3
    model.blocks[0].layer.bias[...] = jnp.asarray(bias)
    check = diagnostics.dead_units(model, batch[0])
    assert check.units[0] == 4 and check.dead[0] == 1


def test_dead_units_are_none_for_tanh(batch):
    assert diagnostics.dead_units(scale_kernels(mlp("tanh"), 100.0), batch[0]).dead == (0, 0)


def test_update_ratio_of_sgd_is_learning_rate_times_gradient_over_weight_norm(batch):
    model = mlp()
    x, y = batch
    learning_rate = 0.05
    check = diagnostics.update_ratios(model, x, y, optimizer="sgd", learning_rate=learning_rate)

    def loss(kernel):
        hidden = jax.nn.relu(x @ kernel + model.blocks[0].layer.bias[...])
        hidden = jax.nn.relu(hidden @ model.blocks[1].layer.kernel[...] + model.blocks[1].layer.bias[...])
        logits = hidden @ model.head.kernel[...] + model.head.bias[...]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(y)), y])

    kernel = model.blocks[0].layer.kernel[...]
    expected = learning_rate * jnp.linalg.norm(jax.grad(loss)(kernel)) / jnp.linalg.norm(kernel)
    assert check.layers == ("blocks/0", "blocks/1", "head")
    assert check.ratios[0] == pytest.approx(float(expected), rel=1e-4)


def test_update_ratio_verdicts(batch):
    model = mlp()
    healthy = diagnostics.update_ratios(model, *batch, optimizer="adam", learning_rate=1e-3)
    assert healthy.ok and set(healthy.verdicts) == {"healthy"}
    assert all(1e-4 <= r <= 1e-2 for r in healthy.ratios)
    high = diagnostics.update_ratios(model, *batch, optimizer="adam", learning_rate=1.0)
    assert not high.ok and set(high.verdicts) == {"too high"} and "lower the learning rate" in high.verdict
    low = diagnostics.update_ratios(model, *batch, optimizer=optim.sgd, learning_rate=1e-7)
    assert not low.ok and set(low.verdicts) == {"too low"} and "raise the learning rate" in low.verdict


def test_update_ratio_scales_with_the_learning_rate_for_sgd(batch):
    model = mlp()
    small = diagnostics.update_ratios(model, *batch, optimizer="sgd", learning_rate=1e-3)
    large = diagnostics.update_ratios(model, *batch, optimizer="sgd", learning_rate=1e-1)
    np.testing.assert_allclose(np.array(large.ratios), 100 * np.array(small.ratios), rtol=1e-4)


def test_activation_statistics_of_healthy_tanh_network(batch):
    model = mlp("tanh")
    check = diagnostics.activation_statistics(model, batch[0])
    first = np.tanh(batch[0] @ np.asarray(model.blocks[0].layer.kernel[...]) + np.asarray(model.blocks[0].layer.bias[...]))
    row = check.layers[0]
    assert row.layer == "blocks/0"
    assert row.mean == pytest.approx(first.mean(), abs=1e-5)
    assert row.std == pytest.approx(first.std(), rel=1e-4)
    assert row.saturated == pytest.approx(np.mean(np.abs(first) > 0.99), abs=1e-6)
    assert check.ok


def test_activation_statistics_flag_saturation_collapse_and_zeros(batch):
    saturated = diagnostics.activation_statistics(scale_kernels(mlp("tanh"), 30.0), batch[0])
    assert not saturated.ok and saturated.layers[0].saturated > 0.5 and "saturated" in saturated.verdict
    sigmoid = diagnostics.activation_statistics(scale_kernels(mlp("sigmoid"), 30.0), batch[0])
    assert sigmoid.layers[0].saturated > 0.5
    collapsed = diagnostics.activation_statistics(scale_kernels(mlp("tanh"), 1e-4), batch[0])
    assert not collapsed.ok and "collapsed" in collapsed.verdict
    relu = diagnostics.activation_statistics(mlp("relu"), batch[0])
    assert relu.ok and math.isnan(relu.layers[0].saturated) and 0.3 < relu.layers[0].zero < 0.7


def test_report_prints_every_check(batch):
    printed = []
    result = diagnostics.report(mlp(), *batch, overfit_steps=60, print_fn=printed.append)
    assert printed == [result.table]
    for text in ("initial loss", "overfit 32 examples", "dead units", "update/weight", "activations",
                 "blocks/0", "blocks/1", "head"):
        assert text in result.table
    assert result.ok == all(
        c.ok for c in (result.initial_loss, result.overfit, result.dead_units, result.update_ratios, result.activations)
    )
    assert result.ok
    broken = mlp()
    broken.head.kernel[...] = broken.head.kernel[...] * 20.0
    assert not diagnostics.report(broken, *batch, overfit_steps=60, print_fn=None).ok
