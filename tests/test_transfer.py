import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdl import data, models, optim, transfer


def build(hidden=(8, 4), out=3, seed=0, **kwargs):
    return models.build(models.MLPConfig(64, hidden, out, **kwargs), jax.random.key(seed))


def params_of(model):
    return nnx.state(model, nnx.Param)


def host(tree):
    return jax.tree.map(np.asarray, tree)


def assert_same(a, b):
    jax.tree.map(np.testing.assert_array_equal, host(a), host(b))


def assert_changed(a, b):
    assert any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(host(a)), jax.tree.leaves(host(b))))


def test_parameter_names_are_paths():
    names = transfer.parameter_names(params_of(build()))
    assert names == [
        "blocks/0/layer/bias", "blocks/0/layer/kernel",
        "blocks/1/layer/bias", "blocks/1/layer/kernel",
        "head/bias", "head/kernel",
    ]


def selected(tree, selector):
    return [n for n, s in zip(transfer.parameter_names(tree), transfer.select(tree, selector)) if s]


def test_selectors_match_whole_path_components_and_block_indices():
    params = params_of(build(hidden=(2,) * 11))
    assert selected(params, "head") == ["head/bias", "head/kernel"]
    assert selected(params, "blocks/1") == ["blocks/1/layer/bias", "blocks/1/layer/kernel"]
    assert selected(params, -1) == selected(params, 10) == selected(params, "blocks/10")
    assert len(selected(params, "kernel")) == 12
    assert len(selected(params, r"blocks/\d+")) == 22
    assert selected(params, ["head", 0]) == ["blocks/0/layer/bias", "blocks/0/layer/kernel", "head/bias", "head/kernel"]
    assert selected(params, None) == selected(params, ()) == []


def test_selector_errors():
    params = params_of(build())
    with pytest.raises(ValueError, match="matches no parameter"):
        transfer.select(params, "haed")
    with pytest.raises(ValueError, match="out of range"):
        transfer.select(params, 2)
    with pytest.raises(TypeError):
        transfer.select(params, True)
    assert transfer.select(params, "haed", strict=False) == [False] * 6


def test_unfrozen_carves_exceptions_out_of_frozen():
    params = params_of(build())
    labels = transfer.trainable_labels(params, frozen=".*", unfrozen=["head", -1])
    assert jax.tree.leaves(labels) == ["frozen", "frozen", "trainable", "trainable", "trainable", "trainable"]


def test_frozen_updates_are_zero_and_trainable_ones_match_the_plain_optimizer():
    params = params_of(build(seed=1))
    grads = jax.tree.map(lambda p: jnp.cos(3.0 * p) + 0.1, params)
    frozen_opt = transfer.freeze(optim.adam(1e-2), params, frozen="blocks", unfrozen=-1)
    plain = optim.adam(1e-2)
    frozen_state, plain_state = frozen_opt.init(params), plain.init(params)
    for _ in range(3):  # several steps, so that the moments matter
        frozen_updates, frozen_state = frozen_opt.update(grads, frozen_state, params)
        plain_updates, plain_state = plain.update(grads, plain_state, params)
    names = transfer.parameter_names(params)
    for name, got, reference in zip(names, jax.tree.leaves(frozen_updates), jax.tree.leaves(plain_updates)):
        if name.startswith("blocks/0"):
            np.testing.assert_array_equal(got, np.zeros_like(got))
        else:
            np.testing.assert_allclose(got, reference, rtol=1e-6, atol=1e-9)


def test_replace_head_copies_the_base_and_initialises_a_fresh_head():
    pretrained = build(hidden=(8, 4), out=3, batch_norm="before")
    before = host(nnx.state(pretrained))
    key = jax.random.key(7)
    new = transfer.replace_head(pretrained, 6, key)
    assert new.head.kernel[...].shape == (4, 6) and new.config.out_features == 6
    assert_same(nnx.state(new.blocks), nnx.state(pretrained.blocks))
    fresh = models.build(new.config, key)
    np.testing.assert_array_equal(new.head.kernel[...], fresh.head.kernel[...])
    assert_same(nnx.state(pretrained), before)
    with pytest.raises(ValueError):
        transfer.replace_head(pretrained, 0, key)


@pytest.fixture(scope="module")
def digits():
    dataset = data.load_digits()
    return np.asarray(dataset.x), np.asarray(dataset.y)


def test_fit_keeps_frozen_parameters_and_batch_statistics_bit_for_bit(digits):
    x, y = digits[0][:96], digits[1][:96]
    model = models.build(models.MLPConfig(64, (16, 8), 10, batch_norm="before"), jax.random.key(0))
    result = transfer.fit(model, x, y, "adam", learning_rate=1e-2, epochs=3, batch_size=32,
                          frozen=0, key=jax.random.key(1))
    trained = result.model
    assert_same(nnx.state(trained.blocks[0]), nnx.state(model.blocks[0]))  # kernel, bias, norm, running stats
    assert_changed(nnx.state(trained.blocks[1], nnx.BatchStat), nnx.state(model.blocks[1], nnx.BatchStat))
    assert_changed(params_of(trained.blocks[1]), params_of(model.blocks[1]))
    assert_changed(params_of(trained.head), params_of(model.head))
    assert result.losses.shape == (3,) and result.losses[-1] < result.losses[0]


def test_fit_compiles_once_for_several_learning_rates(digits):
    x, y = digits[0][:64], digits[1][:64]
    model = build(out=10)
    transfer.fit(model, x, y, "sgd", learning_rate=0.1, epochs=2, frozen="head", key=jax.random.key(0))
    compiled = transfer._fit._cache_size()
    still = transfer.fit(model, x, y, "sgd", learning_rate=0.0, epochs=2, frozen="head", key=jax.random.key(0))
    assert transfer._fit._cache_size() == compiled
    assert_same(params_of(still.model), params_of(model))
    with pytest.raises(ValueError, match="learning_rate"):
        transfer.fit(model, x, y, "sgd", epochs=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="learning_rate"):
        transfer.fit(model, x, y, optax.sgd(0.1), learning_rate=0.1, epochs=1, key=jax.random.key(0))


def test_freezing_a_convolution_block(digits):
    x, y = digits[0][:64], digits[1][:64]
    model = models.build(models.CNNConfig((8, 8, 1), channels=(2, 2), dense=(4,)), jax.random.key(0))
    trained = transfer.fit(model, x, y, optax.adam(1e-2), epochs=1, frozen=[0, "blocks/2"],
                           key=jax.random.key(1)).model
    assert_same(params_of(trained.blocks[0]), params_of(model.blocks[0]))
    assert_same(params_of(trained.blocks[2]), params_of(model.blocks[2]))
    assert_changed(params_of(trained.blocks[1]), params_of(model.blocks[1]))


# ---------------------------------------------------------------------------
# Digits: pretrain on 0-4, transfer to 5-9 from 20 examples per class

HIDDEN = (64, 32)


def split_target(x, y, seed, per_class=20):
    rng = np.random.default_rng(seed)
    target = np.flatnonzero(y >= 5)
    train = np.concatenate([rng.choice(target[y[target] == c], per_class, replace=False) for c in range(5, 10)])
    test = np.setdiff1d(target, train)
    return (x[train], y[train] - 5), (x[test], y[test] - 5)


def pretrain(x, y, seed):
    source = y < 5
    model = models.build(models.MLPConfig(64, HIDDEN, 5), jax.random.key(seed))
    return transfer.fit(model, x[source], y[source], "adam", learning_rate=1e-3, epochs=20,
                        batch_size=32, key=jax.random.key(seed + 100)).model


@pytest.fixture(scope="module")
def pretrained(digits):
    return {seed: pretrain(*digits, seed) for seed in (0, 1, 2)}


def test_pretrained_model_learned_the_source_task(digits, pretrained):
    x, y = digits
    assert transfer.accuracy(pretrained[0], x[y < 5], y[y < 5]) > 0.95


def test_stages_by_hand_freeze_the_base_bit_for_bit(digits, pretrained):
    (xt, yt), (xe, ye) = split_target(*digits, seed=0)
    base = pretrained[0]
    model = transfer.replace_head(base, 5, jax.random.key(3))
    stage1 = transfer.fit(model, xt, yt, "adam", learning_rate=1e-2, epochs=100, frozen="blocks",
                          key=jax.random.key(4)).model
    assert_same(params_of(stage1.blocks), params_of(base.blocks))
    assert_changed(params_of(stage1.head), params_of(model.head))
    assert transfer.accuracy(stage1, xe, ye) > 0.6  # chance is 0.2

    stage2 = transfer.fit(stage1, xt, yt, "adam", learning_rate=1e-3, epochs=100, frozen="blocks",
                          unfrozen=-1, key=jax.random.key(5)).model
    assert_same(params_of(stage2.blocks[0]), params_of(base.blocks[0]))
    assert_changed(params_of(stage2.blocks[1]), params_of(base.blocks[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_staged_fine_tuning_improves_on_the_frozen_base(digits, pretrained, seed):
    # Fine-tuning the top block beats training the head alone on every seed
    # (by 4 to 13 points in our runs). It does not reliably beat an MLP
    # trained from scratch on the same 100 examples: digits 0-4 teach
    # features that help 5-9 less than raw pixels do, so that comparison is
    # reported, not asserted.
    (xt, yt), (xe, ye) = split_target(*digits, seed=seed)
    base = pretrained[seed]
    result = transfer.staged_fine_tune(base, xt, yt, num_classes=5, key=jax.random.key(seed + 200),
                                       head_epochs=100, fine_tune_epochs=100)
    assert_same(params_of(result.head_model.blocks), params_of(base.blocks))
    assert_same(params_of(result.model.blocks[0]), params_of(base.blocks[0]))
    assert_changed(params_of(result.model.blocks[1]), params_of(base.blocks[1]))
    assert result.head_losses.shape == result.fine_tune_losses.shape == (100,)
    head_only, staged = transfer.accuracy(result.head_model, xe, ye), transfer.accuracy(result.model, xe, ye)
    assert head_only > 0.6
    assert staged >= head_only
    assert result.fine_tune_losses[-1] < result.head_losses[-1]


def test_staged_fine_tune_argument_checks(pretrained, digits):
    (xt, yt), _ = split_target(*digits, seed=0)
    with pytest.raises(ValueError, match="unfreeze_top"):
        transfer.staged_fine_tune(pretrained[0], xt, yt, num_classes=5, key=jax.random.key(0), unfreeze_top=3)
    only_head = transfer.staged_fine_tune(pretrained[0], xt, yt, num_classes=5, key=jax.random.key(0),
                                          head_epochs=100, fine_tune_epochs=0)
    assert only_head.model is only_head.head_model and only_head.fine_tune_losses.shape == (0,)
