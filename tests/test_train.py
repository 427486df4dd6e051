import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score

from jaxdl import data, models, registry, schedules, train


@pytest.fixture(scope="module")
def digits():
    parts = data.split_dataset(data.load_digits(), (0.6, 0.2, 0.2), key=0, stratify=True)
    standardizer = data.Standardizer.fit(parts[0].x)
    return train.Data.from_splits(*(p._replace(x=standardizer.apply(p.x)) for p in parts))


@pytest.fixture(scope="module")
def small(digits):
    """A 400-example training set: quick to train, enough to test the mechanics."""
    return digits.replace(x_train=digits.x_train[:400], y_train=digits.y_train[:400])


def mlp(hidden, *, dropout=None, batch_norm=None, **fields):
    """The built-in MLP's configuration: its settings are model_args, the rest TrainConfig fields."""
    settings = {"hidden": hidden, "dropout": dropout, "batch_norm": batch_norm}
    return train.TrainConfig(model="mlp", model_args={k: v for k, v in settings.items() if v is not None}, **fields)


def population(n, **fields):
    """HParams whose every leaf has a population axis of ``n``."""
    return train.HParams(**fields).batched(n)


def test_reference_run_sgd_reaches_95_percent(digits):
    config = mlp((128,), optimizer="sgd", epochs=30)
    result = jax.jit(train.make_run(config, digits))(train.HParams(learning_rate=0.05), jax.random.key(0))
    assert float(result.metrics["test_accuracy"]) >= 0.95
    assert not bool(result.diverged)


def test_reference_run_adam_reaches_97_percent(digits):
    config = mlp((128,), optimizer="adam", epochs=30)
    result = jax.jit(train.make_run(config, digits))(train.HParams(learning_rate=1e-3), jax.random.key(0))
    assert float(result.metrics["test_accuracy"]) >= 0.97
    history = result.history
    assert history["train_loss"].shape == (30,)
    assert float(history["val_loss"][-1]) < float(history["val_loss"][0])


def test_vmapped_population_equals_separate_runs(small):
    config = mlp((32,), dropout="standard", optimizer="adam", epochs=3)
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
    config = mlp((16,), epochs=2)
    run = jax.jit(train.make_run(config, small))
    a = run(train.HParams(), jax.random.key(3))
    b = run(train.HParams(), jax.random.key(3))
    c = run(train.HParams(), jax.random.key(4))
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    assert not np.allclose(a.history["train_loss"], c.history["train_loss"])


def test_divergence_is_marked_frozen_and_isolated(small):
    config = mlp((32,), optimizer="sgd", epochs=4)
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
    config = mlp((16,), epochs=8, early_stopping=True, patience=2, min_delta=10.0)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2), jax.random.key(0))
    assert int(result.epochs_run) == 3
    assert int(result.metrics["best_epoch"]) == 1
    assert np.all(np.isnan(np.asarray(result.history["val_loss"][3:])))
    np.testing.assert_allclose(result.metrics["val_loss"], result.history["val_loss"][0], rtol=1e-6)


def test_early_stopping_on_accuracy_keeps_best_epoch(small):
    config = mlp((16,), epochs=6, early_stopping=True, monitor="val_accuracy", patience=10)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=3e-3), jax.random.key(0))
    best = int(result.metrics["best_epoch"])
    np.testing.assert_allclose(result.metrics["best_val_accuracy"], np.nanmax(result.history["val_accuracy"]))
    np.testing.assert_allclose(result.metrics["val_accuracy"], result.history["val_accuracy"][best - 1])


def test_reduce_on_plateau_cuts_the_learning_rate(small):
    config = mlp((16,), epochs=6, reduce_on_plateau=True, plateau_patience=2, plateau_factor=0.5,
                 min_delta=10.0)
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2), jax.random.key(0))
    np.testing.assert_allclose(result.history["learning_rate"], [1e-2, 1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3], rtol=1e-6)


def test_schedule_drives_the_learning_rate(small):
    config = mlp((16,), epochs=4, batch_size=100, schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "decay_rate": 0.5, "transition_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    # 4 steps an epoch; the row holds the rate of each epoch's last step, 3, 7, 11, 15.
    expected = schedules.exponential_decay(0.1, 4, 0.5)(jnp.array([3, 7, 11, 15]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_warmup_schedule_takes_the_learning_rate_as_peak(small):
    config = mlp((16,), epochs=2, batch_size=100, schedule="warmup_cosine_decay_schedule")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "warmup_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    expected = schedules.warmup_cosine_decay_schedule(0.0, 0.1, 4, 8)(jnp.array([3, 7]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_inverse_sqrt_schedule_by_name(small):
    config = mlp((16,), epochs=2, batch_size=100, schedule="inverse_sqrt_schedule")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "warmup_steps": 4}, config)
    result = jax.jit(train.make_run(config, small))(hparams, jax.random.key(0))
    expected = schedules.inverse_sqrt_schedule(0.1, 4)(jnp.array([3, 7]))
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-6)


def test_dropout_rate_without_dropout_is_an_error(small):
    config = mlp((8,), epochs=1)
    with pytest.raises(ValueError, match="dropout"):
        train.train(config, train.HParams(dropout_rate=0.2), jax.random.key(0), small)


def test_naming_dropout_rate_without_dropout_is_an_error_before_training(small):
    # Before the model contract, HParams.from_flat raised here; check() is now where a plan is validated.
    with pytest.raises(ValueError, match="dropout"):
        train.check(mlp((8,), epochs=1), small, ["dropout_rate"])


def test_from_flat_routes_names_and_rejects_unknown():
    config = train.TrainConfig(optimizer="adam", schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "b1": 0.8, "decay_rate": 0.9, "l2": 1e-3}, config)
    assert hparams.optimizer == {"b1": 0.8}
    assert hparams.schedule == {"decay_rate": 0.9}
    assert hparams.l2 == 1e-3
    with pytest.raises(ValueError, match="momentum"):
        train.HParams.from_flat({"momentum": 0.9}, config)


def test_weight_decay_and_l2_shrink_the_weights(small):
    config = mlp((32,), optimizer="sgd", epochs=3)
    run = jax.jit(jax.vmap(train.make_run(config, small)))
    keys = jnp.stack([jax.random.key(0)] * 3)
    result = run(population(3, learning_rate=0.05, weight_decay=jnp.array([0.0, 0.5, 0.0]),
                            l2=jnp.array([0.0, 0.0, 50.0])), keys)
    norms = [float(jnp.linalg.norm(result.params["head"]["kernel"][...][i])) for i in range(3)]
    assert norms[1] < 0.9 * norms[0] and norms[2] < 0.9 * norms[0]


@pytest.mark.parametrize(
    "config",
    [
        mlp((32,), batch_norm="before", dropout="standard", epochs=3),
        mlp((32,), dropout="alpha", activation="selu", epochs=3),
        train.TrainConfig(model="cnn", model_args={"channels": (8,), "dense": (16,), "dropout": "standard"},
                          epochs=6),
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
        ({"model_args": {"hiden": (8,)}}, "did you mean 'hidden'"),
        ({"model": "cnn", "model_args": {"hidden": (8,)}}, "has no setting 'hidden'"),
        ({"task": "ranking"}, "task"),
        ({"loss": "hinge"}, "hinge"),
        ({"metrics": ("acuracy",)}, "did you mean 'accuracy'"),
        ({"monitor": "val_acuracy"}, "did you mean 'accuracy'"),
        ({"class_weight": "inverse"}, "class_weight"),
        ({"class_weight": (1.0, -1.0)}, "non-negative"),
    ],
)
def test_bad_config_raises_clear_error(fields, message):
    with pytest.raises(ValueError, match=message):
        train.TrainConfig(**fields)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"init": "xavier"}, "xavier"),
        ({"batch_norm": "middle"}, "batch_norm"),
        ({"hidden": (0,)}, "positive"),
    ],
)
def test_bad_model_settings_are_caught_before_training(settings, message, small):
    # Settings are the factory's own: their values are checked when check() builds the model abstractly.
    config = train.TrainConfig(model_args=settings, epochs=1)
    with pytest.raises(ValueError, match=message) as error:
        train.check(config, small)
    assert "model 'mlp'" in str(error.value) and "\n" not in str(error.value)


def test_from_static_routes_flat_names_and_flat_inverts_it():
    flat = {"model": "mlp", "hidden": [64, 32], "dropout": "standard", "activation": "elu", "epochs": 3,
            "dataset": "digits"}
    config = train.TrainConfig.from_static(flat)
    assert config == train.TrainConfig(model="mlp", model_args={"hidden": (64, 32), "dropout": "standard"},
                                       activation="elu", epochs=3)
    assert config.model_kwargs == {"hidden": (64, 32), "dropout": "standard"}
    back = config.flat()
    assert {k: back[k] for k in ("model", "hidden", "dropout", "activation", "epochs")} == {
        "model": "mlp", "hidden": (64, 32), "dropout": "standard", "activation": "elu", "epochs": 3}
    assert back["batch_norm"] is None and back["maxout_pieces"] == 2  # defaults of the factory
    assert train.TrainConfig.from_static(back) == config.__class__.from_static(back)
    assert train.TrainConfig.from_static({**back, "model": "mlp"}).model_kwargs["hidden"] == (64, 32)
    with pytest.raises(ValueError, match="did you mean 'hidden'"):
        train.TrainConfig.from_static({"hiden": (8,)})
    assert {"hidden", "dropout", "batch_norm", "epochs", "model"} <= train.static_keys("mlp")
    assert {"channels", "dense", "kernel_size"} <= train.static_keys("cnn") - train.static_keys("mlp")


def test_resume_continues_exactly_where_a_run_stopped(small):
    long = mlp((16,), epochs=4, schedule="exponential_decay")
    short = mlp((16,), epochs=2, schedule="exponential_decay")
    hparams = train.HParams.from_flat({"learning_rate": 0.01, "decay_rate": 0.5, "transition_steps": 20}, long)
    key = jax.random.key(5)
    whole = jax.jit(lambda h, k: train.train(long, h, k, small))(hparams, key)
    first = jax.jit(lambda h, k: train.train(short, h, k, small, keep_carry=True))(hparams, key)
    second = jax.jit(lambda h, k, c: train.train(short, h, k, small, resume=c))(hparams, key, first.carry)
    for name in ("train_loss", "val_loss", "learning_rate"):
        joined = np.concatenate([first.history[name], second.history[name]])
        np.testing.assert_allclose(joined, whole.history[name], rtol=1e-6)
    assert whole.carry is None


# ---------------------------------------------------------------------------
# The model contract: a model of one's own is as good as a built-in


class Residual(nnx.Module):
    """Not an MLP: a residual block with layer norm and a sweepable Dropout, under the model contract."""

    def __init__(self, input_shape, out_features, *, activation, rngs, width=16):
        self.embed = nnx.Linear(math.prod(input_shape), width, rngs=rngs)
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.inner = nnx.Linear(width, width, rngs=rngs)
        self.dropout = models.Dropout()
        self.head = nnx.Linear(width, out_features, rngs=rngs)
        self.activation = activation

    def __call__(self, x, *, train=False):
        h = self.embed(x.reshape(x.shape[0], -1))
        h = h + self.inner(self.activation(self.norm(h)))
        return self.head(self.dropout(self.activation(h), train=train))


@pytest.fixture
def residual():
    """``test_residual`` registered for one test; the list of input shapes it was built (traced) for."""
    traces = []

    def residual_net(input_shape, out_features, *, activation, rngs, width=16):
        traces.append(tuple(input_shape))
        return Residual(input_shape, out_features, activation=activation, rngs=rngs, width=width)

    registry.register_model("test_residual", residual_net)
    yield traces
    registry.MODELS.unregister("test_residual")


def test_own_model_trains_vmapped_with_a_dynamic_dropout_rate(small, residual):
    config = train.TrainConfig(model="test_residual", model_args={"width": 32}, epochs=2, batch_size=50)
    assert config.flat()["model"] == "test_residual" and config.flat()["width"] == 32
    run = jax.jit(jax.vmap(train.make_run(config, small)))
    keys = jnp.stack([jax.random.key(0)] * 2)
    first = run(population(2, learning_rate=1e-2, dropout_rate=jnp.array([0.0, 0.5])), keys)
    second = run(population(2, learning_rate=1e-2, dropout_rate=jnp.array([0.0, 0.3])), keys)
    assert residual == [(64,)]  # two populations of rates: one trace, one compilation
    losses = first.history["train_loss"], second.history["train_loss"]
    np.testing.assert_array_equal(losses[0][0], losses[1][0])  # rate 0 in both: the same numbers
    assert not np.allclose(losses[0][1], losses[1][1])  # rate 0.5 and 0.3 train differently
    assert not np.allclose(losses[0][0], losses[0][1])
    assert {"embed", "norm", "inner", "head"} <= set(first.params)
    assert float(first.metrics["val_accuracy"][0]) > 0.6


def residual_net(input_shape, out_features, *, activation, rngs, width=16):
    return Residual(input_shape, out_features, activation=activation, rngs=rngs, width=width)


def test_a_factory_can_be_given_directly(small):
    config = train.TrainConfig(model=residual_net, model_args={"width": 8}, epochs=1, batch_size=100)
    assert config.model_name == "residual_net" and config.model_kwargs == {"width": 8}
    result = jax.jit(lambda h, k: train.train(config, h, k, small))(train.HParams(learning_rate=1e-2),
                                                                   jax.random.key(0))
    assert result.params["embed"]["kernel"][...].shape == (64, 8)
    assert np.isfinite(float(result.metrics["val_loss"]))
    with pytest.raises(ValueError, match="not registered; register it first"):
        config.flat()  # records store names


def _no_rngs(input_shape, out_features, *, activation):
    return Residual(input_shape, out_features, activation=activation, rngs=nnx.Rngs(0))


def _not_a_module(input_shape, out_features, *, activation, rngs):
    return lambda x, train=False: x


def _raises(input_shape, out_features, *, activation, rngs):
    raise RuntimeError("no GPU here")


def test_a_factory_breaking_the_contract_is_a_clear_error(small):
    contract = r"must take \(input_shape, out_features, \*, activation, rngs, \*\*settings\); it lacks rngs"
    with pytest.raises(ValueError, match=contract):
        train.TrainConfig(model=_no_rngs)
    registry.register_model("test_no_rngs", _no_rngs)
    try:
        with pytest.raises(ValueError, match=contract):
            train.TrainConfig(model="test_no_rngs")
    finally:
        registry.MODELS.unregister("test_no_rngs")
    with pytest.raises(ValueError, match="returned function, not an nnx.Module"):
        train.check(train.TrainConfig(model=_not_a_module), small)
    with pytest.raises(ValueError, match="could not be built .*RuntimeError: no GPU here"):
        train.check(train.TrainConfig(model=_raises), small)
    with pytest.raises(ValueError, match="has no setting 'depth'"):
        train.TrainConfig(model=residual_net, model_args={"depth": 2})


# ---------------------------------------------------------------------------
# Regression


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return train.Data.from_arrays(x, y.astype(np.float32))


def test_regression_trains_and_reports_rmse_and_r2(diabetes):
    assert diabetes.task == "regression" and diabetes.out_features == 1
    config = mlp((16,), epochs=8, batch_size=32, monitor="val_r2")
    result = jax.jit(lambda h, k: train.train(config, h, k, diabetes))(train.HParams(learning_rate=0.1),
                                                                      jax.random.key(0))
    history = jax.device_get(result.history)
    assert set(history) == {"train_loss", "train_rmse", "train_r2", "val_loss", "val_rmse", "val_r2",
                            "learning_rate"}
    assert {"val_rmse", "val_r2", "test_rmse", "test_r2", "best_val_r2", "best_epoch"} <= set(result.metrics)
    assert not any("accuracy" in name for name in result.metrics)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    # One output and the MSE loss: the validation RMSE is the root of the validation loss.
    np.testing.assert_allclose(history["val_rmse"] ** 2, history["val_loss"], rtol=1e-5)
    # r2 is maximised: the best epoch is the one of the largest validation r2.
    np.testing.assert_allclose(result.metrics["best_val_r2"], np.max(history["val_r2"]), rtol=1e-6)
    assert int(result.metrics["best_epoch"]) == int(np.argmax(history["val_r2"])) + 1
    # evaluate() of the returned state gives the reported test numbers, and r2 is scikit-learn's.
    resolved = config.resolve(diabetes)
    model = train.build_model(resolved, diabetes, jax.random.key(0))
    learner, *_ = train.make_learner(resolved, train.HParams(), model, diabetes, steps_per_epoch=1)
    test = train.evaluate(learner, result.params, result.batch_stats, diabetes.x_test, diabetes.y_test)
    assert set(test) == {"loss", "rmse", "r2"}
    np.testing.assert_allclose(test["r2"], result.metrics["test_r2"], rtol=1e-5)
    outputs = learner.model(result.params, result.batch_stats)(diabetes.x_test, train=False)
    np.testing.assert_allclose(float(test["r2"]), r2_score(np.asarray(diabetes.y_test), np.asarray(outputs[:, 0])),
                               rtol=1e-4)


def test_loss_arguments_are_routed_to_the_loss():
    config = train.TrainConfig(loss="huber")
    hparams = train.HParams.from_flat({"learning_rate": 0.1, "delta": 2.0}, config)
    assert hparams.loss == {"delta": 2.0} and hparams.optimizer == {}
    assert train.dynamic_keys(config)["delta"] == (0.0, None)
    assert "delta" not in train.dynamic_keys(mlp((8,)), task="classification")


# ---------------------------------------------------------------------------
# Class weights and the regularisers of HParams, each as its formula says


def one_step(config, hparams, data, batch=64, *, loss=False):
    """Parameters before and after one ``train_step`` on the first ``batch`` training examples (and its loss)."""
    config = config.resolve(data)
    model = train.build_model(config, data, jax.random.key(0))
    learner, _, params, batch_stats = train.make_learner(config, hparams, model, data, steps_per_epoch=1)
    state = train.TrainState(params, batch_stats, learner.optimizer.init(params), schedules.plateau_init(1.0),
                             jax.random.key(1))
    weights = None if data.w_train is None else data.w_train[:batch]
    step = jax.jit(lambda s: train.train_step(learner, s, data.x_train[:batch], data.y_train[:batch], weights,
                                              count=0))
    new, stats = step(state)
    return (params, new.params, float(stats["loss"])) if loss else (params, new.params)


def _leaves(tree):
    return [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(tree)]


def test_balanced_class_weights_are_per_example_weights(small):
    y = np.asarray(small.y_train)
    keep = np.flatnonzero((y < 5) | (np.arange(len(y)) % 4 == 0))  # classes 5-9 at a quarter of their size
    skewed = small.replace(x_train=small.x_train[keep], y_train=small.y_train[keep])
    counts = np.bincount(y[keep], minlength=10)
    balanced = len(keep) / (10 * counts)  # w_c = m / (K m_c) over the whole training split
    assert balanced.max() > 3 * balanced.min()
    by_example = skewed.replace(w_train=jnp.asarray(balanced[y[keep]], jnp.float32))
    hparams, batch = train.HParams(learning_rate=0.1), 128
    _, weighted, weighted_loss = one_step(mlp((16,), class_weight="balanced"), hparams, skewed, batch, loss=True)
    _, by_hand, by_hand_loss = one_step(mlp((16,)), hparams, by_example, batch, loss=True)
    _, plain, plain_loss = one_step(mlp((16,)), hparams, skewed, batch, loss=True)
    for a, b in zip(_leaves(weighted), _leaves(by_hand)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert weighted_loss == pytest.approx(by_hand_loss, rel=1e-6)
    assert weighted_loss != pytest.approx(plain_loss, rel=1e-3)
    assert not all(np.allclose(a, b) for a, b in zip(_leaves(weighted), _leaves(plain)))


def test_class_weights_need_classification_and_one_weight_per_class(small, diabetes):
    with pytest.raises(ValueError, match="3 weights for 10 classes"):
        mlp((8,), class_weight=(1.0, 2.0, 3.0)).resolve(small)
    with pytest.raises(ValueError, match="classification"):
        mlp((8,), class_weight="balanced").resolve(diabetes)


def test_l1_adds_its_subgradient_to_the_kernels(small):
    config, learning_rate, strength = mlp((16,), optimizer="sgd"), 0.1, 0.01
    before, plain = one_step(config, train.HParams(learning_rate=learning_rate), small)
    _, lasso = one_step(config, train.HParams(learning_rate=learning_rate, l1=strength), small)
    for p, a, b in zip(_leaves(before), _leaves(plain), _leaves(lasso)):
        if p.ndim >= 2:  # kernels: g <- g + l1 sign(W)
            np.testing.assert_allclose(b - a, -learning_rate * strength * np.sign(p), rtol=1e-3, atol=1e-7)
        else:  # biases are not penalised
            np.testing.assert_array_equal(a, b)


def test_clip_value_bounds_the_first_update(small):
    config, bound = mlp((16,), optimizer="sgd"), 1e-3
    before, plain = one_step(config, train.HParams(learning_rate=1.0), small)
    _, clipped = one_step(config, train.HParams(learning_rate=1.0, clip_value=bound), small)
    assert max(np.max(np.abs(a - p)) for p, a in zip(_leaves(before), _leaves(plain))) > 10 * bound
    for p, a, c in zip(_leaves(before), _leaves(plain), _leaves(clipped)):
        assert np.max(np.abs(c - p)) <= bound * (1 + 1e-3)
        gradient = p - a  # sgd with learning rate 1
        np.testing.assert_allclose(p - c, np.clip(gradient, -bound, bound), atol=3e-7)


def test_clip_norm_rescales_the_first_update_to_the_bound(small):
    config = mlp((16,), optimizer="sgd")
    before, plain = one_step(config, train.HParams(learning_rate=1.0), small)
    gradients = [p - a for p, a in zip(_leaves(before), _leaves(plain))]
    norm = math.sqrt(sum(float(np.sum(g**2)) for g in gradients))
    bound = 0.1 * norm
    _, clipped = one_step(config, train.HParams(learning_rate=1.0, clip_norm=bound), small)
    updates = [p - c for p, c in zip(_leaves(before), _leaves(clipped))]
    assert math.sqrt(sum(float(np.sum(u**2)) for u in updates)) == pytest.approx(bound, rel=1e-4)
    for g, u in zip(gradients, updates):
        np.testing.assert_allclose(u, g * (bound / norm), rtol=1e-3, atol=1e-7)
    _, loose = one_step(config, train.HParams(learning_rate=1.0, clip_norm=10 * norm), small)
    for a, b in zip(_leaves(plain), _leaves(loose)):
        np.testing.assert_array_equal(a, b)  # a bound above the norm changes nothing


def test_max_norm_keeps_every_kernel_column_inside_the_ball(small):
    bound = 1.0
    config = mlp((32, 16), epochs=2, batch_size=50)
    initial = train.build_model(config.resolve(small), small, jax.random.key(0))
    column_norms = lambda params: [np.linalg.norm(k.reshape(-1, k.shape[-1]), axis=0)
                                   for k in _leaves(params) if k.ndim >= 2]
    assert max(float(n.max()) for n in column_norms(nnx.state(initial, nnx.Param))) > 1.2 * bound
    result = jax.jit(train.make_run(config, small))(train.HParams(learning_rate=1e-2, max_norm=bound),
                                                    jax.random.key(0))
    norms = np.concatenate(column_norms(result.params))
    assert norms.max() <= bound * (1 + 1e-5)
    assert np.mean(np.isclose(norms, bound, rtol=1e-4)) > 0.5  # the projection is active
    assert float(result.metrics["val_accuracy"]) > 0.5


@pytest.mark.parametrize("optimizer", ["adadelta", "adamw"])
def test_weight_decay_is_decoupled(optimizer, small):
    # p_new = p - lr * wd * p + u, u the step without decay: adadelta (by the run) and adamw (by itself).
    config, learning_rate, decay = mlp((16,), optimizer=optimizer), 0.5, 0.1
    hparams = train.HParams.from_flat({"learning_rate": learning_rate, "weight_decay": decay}, config)
    assert hparams.weight_decay == decay and hparams.optimizer == {}
    before, plain = one_step(config, train.HParams(learning_rate=learning_rate), small)
    _, decayed = one_step(config, hparams, small)
    for p, a, d in zip(_leaves(before), _leaves(plain), _leaves(decayed)):
        np.testing.assert_allclose(d, a - learning_rate * decay * p, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, d) for a, d in zip(_leaves(plain), _leaves(decayed)))
