import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data, schedules, train


@pytest.fixture(scope="module")
def digits():
    parts = data.split_dataset(data.load_digits(), (0.6, 0.2, 0.2), key=0, stratify=True)
    standardizer = data.Standardizer.fit(parts[0].x)
    return train.Data.from_splits(*(p._replace(x=standardizer.apply(p.x)) for p in parts))


@pytest.fixture(scope="module")
def small(digits):
    """A 400-example training set: quick to train, enough to test the mechanics."""
    return digits.replace(x_train=digits.x_train[:400], y_train=digits.y_train[:400])


def population(n, **fields):
    """HParams whose every leaf has a population axis of ``n``."""
    return train.HParams(**fields).batched(n)


def test_reference_run_sgd_reaches_95_percent(digits):
    config = train.TrainConfig(hidden=(128,), optimizer="sgd", epochs=30)
    result = jax.jit(train.make_run(config, digits))(train.HParams(learning_rate=0.05), jax.random.key(0))
    assert float(result.metrics["test_accuracy"]) >= 0.95
    assert not bool(result.diverged)


def test_reference_run_adam_reaches_97_percent(digits):
    config = train.TrainConfig(hidden=(128,), optimizer="adam", epochs=30)
    result = jax.jit(train.make_run(config, digits))(train.HParams(learning_rate=1e-3), jax.random.key(0))
    assert float(result.metrics["test_accuracy"]) >= 0.97
    history = result.history
    assert history["train_loss"].shape == (30,)
    assert float(history["val_loss"][-1]) < float(history["val_loss"][0])


def test_vmapped_population_equals_separate_runs(small):
    config = train.TrainConfig(hidden=(32,), optimizer="adam", epochs=3, dropout="standard")
    run = train.make_run(config, small)
    rates = jnp.array([3e-4, 1e-3, 3e-3])
    keys = jax.random.split(jax.random.key(1), 3)
    batched = jax.jit(jax.vmap(run))(population(3, learning_rate=rates, dropout_rate=0.1), keys)
    single = jax.jit(run)
    for i in range(3):
        alone = single(train.HParams(learning_rate=rates[i], dropout_rate=0.1), keys[i])
        for name in ("train_loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(batched.history[name][i], alone.history[name], rtol=1e-5, atol=1e-6)


def test_same_key_same_numbers_and_other_key_differs(small):
    config = train.TrainConfig(hidden=(16,), epochs=2)
    run = jax.jit(train.make_run(config, small))
    a = run(train.HParams(), jax.random.key(3))
    b = run(train.HParams(), jax.random.key(3))
    c = run(train.HParams(), jax.random.key(4))
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    assert not np.allclose(a.history["train_loss"], c.history["train_loss"])


def test_divergence_is_marked_frozen_and_isolated(small):
    config = train.TrainConfig(hidden=(32,), optimizer="sgd", epochs=4)
    run = jax.jit(jax.vmap(train.make_run(config, small)))
    keys = jax.random.split(jax.random.key(0), 3)
    with_bad = run(population(3, learning_rate=jnp.array([0.01, 50.0, 0.05])), keys)
    assert [bool(d) for d in with_bad.diverged] == [False, True, False]
    assert int(with_bad.diverged_epoch[1]) >= 1 and int(with_bad.diverged_epoch[0]) == -1
    assert all(bool(jnp.all(jnp.isfinite(leaf[1]))) for leaf in jax.tree.leaves(with_bad.params))
    assert bool(jnp.isnan(with_bad.history["train_loss"][1, -1]))
    without = run(population(3, learning_rate=jnp.array([0.01, 0.02, 0.05])), keys)
    for i in (0, 2):
        np.testing.assert_allclose(with_bad.history["val_loss"][i], without.history["val_loss"][i], rtol=1e-6)


def test_early_stopping_stops_and_restores_best(small):
    # min_delta of 10 means no epoch after the first counts as an improvement.
    config = train.TrainConfig(hidden=(16,), epochs=8, early_stopping=True, patience=2, min_delta=10.0)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2), jax.random.key(0))
    assert int(result.epochs_run) == 3
    assert int(result.metrics["best_epoch"]) == 1
    assert np.all(np.isnan(np.asarray(result.history["val_loss"][3:])))
    np.testing.assert_allclose(result.metrics["val_loss"], result.history["val_loss"][0], rtol=1e-6)


def test_early_stopping_on_accuracy_keeps_best_epoch(small):
    config = train.TrainConfig(hidden=(16,), epochs=6, early_stopping=True, monitor="val_accuracy", patience=10)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=3e-3), jax.random.key(0))
    best = int(result.metrics["best_epoch"])
    np.testing.assert_allclose(result.metrics["best_val_accuracy"], np.nanmax(result.history["val_accuracy"]))
    np.testing.assert_allclose(result.metrics["val_accuracy"], result.history["val_accuracy"][best - 1])


def test_reduce_on_plateau_cuts_the_learning_rate(small):
    config = train.TrainConfig(hidden=(16,), epochs=6, reduce_on_plateau=True, plateau_patience=2,
                               plateau_factor=0.5, min_delta=10.0)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2), jax.random.key(0))
    np.testing.assert_allclose(result.history["learning_rate"], [1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3], rtol=1e-6)


def test_schedule_drives_the_learning_rate(small):
    config = train.TrainConfig(hidden=(16,), epochs=4, batch_size=100, schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "decay_rate": 0.5, "transition_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    # 4 steps an epoch; the row holds the rate of each epoch's last step, 3, 7, 11, 15.
    expected = schedules.exponential_decay(0.1, 4, 0.5)(jnp.array([3, 7, 11, 15]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_warmup_schedule_takes_the_learning_rate_as_peak(small):
    config = train.TrainConfig(hidden=(16,), epochs=2, batch_size=100, schedule="warmup_cosine_decay_schedule")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "warmup_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    expected = schedules.warmup_cosine_decay_schedule(0.0, 0.1, 4, 8)(jnp.array([3, 7]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_inverse_sqrt_schedule_by_name(small):
    config = train.TrainConfig(hidden=(16,), epochs=2, batch_size=100, schedule="inverse_sqrt_schedule")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "warmup_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    expected = schedules.inverse_sqrt_schedule(0.1, 4)(jnp.array([3, 7]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_dropout_rate_without_dropout_is_an_error(small):
    config = train.TrainConfig(hidden=(8,), epochs=1)
    with pytest.raises(ValueError, match="dropout"):
        train.train(config, train.HParams(dropout_rate=0.2), jax.random.key(0), small)
    with pytest.raises(ValueError, match="dropout"):
        train.HParams.from_flat({"dropout_rate": 0.2}, config)


def test_from_flat_routes_names_and_rejects_unknown():
    config = train.TrainConfig(optimizer="adam", schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "b1": 0.8, "decay_rate": 0.9, "l2": 1e-3}, config)
    assert hparams.optimizer == {"b1": 0.8}
    assert hparams.schedule == {"decay_rate": 0.9}
    assert hparams.l2 == 1e-3
    with pytest.raises(ValueError, match="momentum"):
        train.HParams.from_flat({"momentum": 0.9}, config)


def test_weight_decay_and_l2_shrink_the_weights(small):
    config = train.TrainConfig(hidden=(32,), optimizer="sgd", epochs=3)
    run = jax.jit(jax.vmap(train.make_run(config, small)))
    keys = jnp.stack([jax.random.key(0)] * 3)
    result = run(population(3, learning_rate=0.05, weight_decay=jnp.array([0.0, 0.5, 0.0]),
                            l2=jnp.array([0.0, 0.0, 50.0])), keys)
    norms = [float(jnp.linalg.norm(result.params["head"]["kernel"][...][i])) for i in range(3)]
    assert norms[1] < 0.9 * norms[0] and norms[2] < 0.9 * norms[0]


@pytest.mark.parametrize(
    "config",
    [
        train.TrainConfig(hidden=(32,), batch_norm="before", dropout="standard", epochs=3),
        train.TrainConfig(hidden=(32,), activation="selu", dropout="alpha", epochs=3),
        train.TrainConfig(model="cnn", channels=(8,), dense=(16,), dropout="standard", epochs=6),
    ],
)
def test_variants_learn(config, small):
    if config.model == "cnn":
        small = small.replace(**{k: getattr(small, k).reshape(-1, 8, 8, 1) for k in ("x_train", "x_val", "x_test")})
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2, dropout_rate=0.05),
                                                    jax.random.key(0))
    assert float(result.metrics["val_accuracy"]) > 0.6


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"model": "rnn"}, "model"),
        ({"optimizer": "lion2"}, "lion2"),
        ({"schedule": "cyclic"}, "cyclic"),
        ({"epochs": 0}, "epochs"),
        ({"monitor": "loss"}, "monitor"),
        ({"activation": "swishy"}, "swishy"),
        ({"init": "xavier"}, "xavier"),
        ({"batch_norm": "middle"}, "batch_norm"),
    ],
)
def test_bad_config_raises_clear_error(fields, message):
    with pytest.raises(ValueError, match=message):
        train.TrainConfig(**fields)


def test_resume_continues_exactly_where_a_run_stopped(small):
    long = train.TrainConfig(hidden=(16,), epochs=4, schedule="exponential_decay")
    short = train.TrainConfig(hidden=(16,), epochs=2, schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.01, "decay_rate": 0.5, "transition_steps": 20}, long)
    key = jax.random.key(5)
    whole = jax.jit(lambda h, k: train.train(long, h, k, small))(hparams, key)
    first = jax.jit(lambda h, k: train.train(short, h, k, small, keep_carry=True))(hparams, key)
    second = jax.jit(lambda h, k, c: train.train(short, h, k, small, resume=c))(hparams, key, first.carry)
    for name in ("train_loss", "val_loss", "learning_rate"):
        joined = np.concatenate([first.history[name], second.history[name]])
        np.testing.assert_allclose(joined, whole.history[name], rtol=1e-6)
    assert whole.carry is None
