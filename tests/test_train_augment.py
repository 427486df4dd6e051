"""Augmentation in training: TrainConfig(augment=...) chooses, HParams.augment sets strengths, in-jit and vmappable."""

import doctest
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import augment, train
from jaxdl.sweep import distributions, space as space_lib

EVERY = tuple(augment.TRANSFORMS)


@pytest.fixture(scope="module")
def images():
    """90 tiny 8 x 8 images of 3 classes: 54 to train (3 batches of 16), 18 to validate, 18 to test."""
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.normal(size=(90, 8, 8, 1)).astype(np.float32) + y[:, None, None, None]
    return train.Data.from_arrays(x, y)


@pytest.fixture(scope="module")
def flat(images):
    return images.replace(x_train=images.x_train.reshape(-1, 64), x_val=images.x_val.reshape(-1, 64),
                          x_test=images.x_test.reshape(-1, 64))


def config(augment=(), **fields):
    fields = {"model": "mlp", "model_args": {"hidden": (8,)}, "batch_size": 16, "epochs": 2, **fields}
    return train.TrainConfig(augment=augment, **fields)


def assert_same(a, b):
    jax.tree.map(np.testing.assert_array_equal, (a.params, a.history, a.metrics), (b.params, b.history, b.metrics))


def test_strength_zero_trains_bit_for_bit_as_no_augmentation(images):
    # With dropout: the augmentation keys are folded off the epoch's key, so the batches' and dropout
    # masks' streams are those of the run without augmentation.
    fields = {"model_args": {"hidden": (8,), "dropout": "standard"}}
    hparams = train.HParams(dropout_rate=0.2)
    plain = jax.jit(train.make_run(config(**fields), images))(hparams, jax.random.key(0))
    zero = hparams._replace(augment={name: 0.0 for name in EVERY})
    augmented = jax.jit(train.make_run(config(EVERY, **fields), images))(zero, jax.random.key(0))
    assert_same(plain, augmented)


def test_a_strength_changes_the_run_and_the_default_strength_is_used_when_none_is_given(images):
    run = jax.jit(train.make_run(config(("random_shift", "cutout")), images))
    key = jax.random.key(1)
    zero = run(train.HParams(augment={"random_shift": 0.0, "cutout": 0.0}), key)
    shifted = run(train.HParams(augment={"random_shift": 0.25, "cutout": 0.0}), key)
    defaults = run(train.HParams(), key)
    stated = run(train.HParams(augment={name: augment.DEFAULTS[name] for name in ("random_shift", "cutout")}), key)
    assert not np.array_equal(zero.history["train_loss"], shifted.history["train_loss"])
    assert not np.array_equal(zero.history["train_loss"], defaults.history["train_loss"])
    assert_same(defaults, stated)


def test_same_key_same_result_and_another_key_another(images):
    run = jax.jit(train.make_run(config(("random_rotation", "gaussian_noise")), images))
    a, b = run(train.HParams(), jax.random.key(2)), run(train.HParams(), jax.random.key(2))
    c = run(train.HParams(), jax.random.key(3))
    assert_same(a, b)
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


def test_a_vmapped_population_of_strengths_equals_each_run_on_its_own(images):
    # The CNN on NHWC images, strengths routed from flat names as a sweep plans them.
    chosen = config(("random_shift", "horizontal_flip"), model="cnn",
                    model_args={"channels": (4,), "dense": (8,)}, epochs=1)
    shifts = jnp.asarray([0.0, 0.125, 0.25])
    population = train.HParams.from_flat({"random_shift": shifts, "horizontal_flip": 0.5}, chosen).batched(3)
    assert set(population.augment) == {"random_shift", "horizontal_flip"}
    keys = jax.random.split(jax.random.key(4), 3)
    run = train.make_run(chosen, images)
    batched = jax.jit(jax.vmap(run))(population, keys)
    single = jax.jit(run)
    for i in range(3):
        alone = single(train.HParams(augment={"random_shift": shifts[i], "horizontal_flip": 0.5}), keys[i])
        for name in ("train_loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(batched.history[name][i], alone.history[name], rtol=1e-5, atol=1e-6)
    assert len(set(np.asarray(batched.history["train_loss"][:, 0]).tolist())) == 3


def test_only_training_inputs_pass_through_the_transforms(images, monkeypatch):
    seen = []
    compose = augment.compose

    def spy(key, x, names, strengths):
        seen.append((x.shape, x.dtype, names))
        return compose(key, x, names, strengths)

    monkeypatch.setattr(augment, "compose", spy)
    jax.jit(train.make_run(config(("gaussian_noise",)), images))(train.HParams(), jax.random.key(5))
    # Traced once in the epoch's scan, on a batch of inputs: never labels, validation or test data.
    assert seen == [((16, 8, 8, 1), images.x_train.dtype, ("gaussian_noise",))]


def test_augment_is_a_canonical_tuple_that_survives_a_json_record(images):
    assert config("cutout").augment == ("cutout",)
    assert config(["cutout", "random_shift"]) == config(("random_shift", "cutout"))  # compose's order
    assert hash(config(("random_shift", "cutout")))
    chosen = config(("random_shift", "cutout"))
    record = json.loads(json.dumps(chosen.flat()))
    assert record["augment"] == ["random_shift", "cutout"]
    back = train.TrainConfig.from_static(record)
    assert back.augment == chosen.augment and back.flat() == chosen.flat()
    assert config().flat()["augment"] == () and "augment" in train.static_keys()


def test_dynamic_keys_list_a_strength_only_when_its_transform_is_chosen():
    assert not set(EVERY) & set(train.dynamic_keys(config()))
    keys = train.dynamic_keys(config(("horizontal_flip", "random_rotation")))
    assert {name: keys[name] for name in set(EVERY) & set(keys)} == {
        "horizontal_flip": (0.0, 1.0), "random_rotation": (0.0, None)}
    assert set(augment.DEFAULTS) == set(augment.BOUNDS) == set(EVERY)
    for name, value in augment.DEFAULTS.items():
        assert train.bound_problem(value, augment.BOUNDS[name]) is None


@pytest.mark.parametrize("make, message", [
    (lambda: config(("random_shfit",)), "unknown augmentation 'random_shfit'"),
    (lambda: config(("cutout", "cutout")), "repeat"),
    (lambda: config(3), "augment must be a transform name"),
    (lambda: train.HParams.from_flat({"cutout": 0.1}, config(("random_shift",))),
     "'cutout' is the strength of an augmentation that TrainConfig.augment"),
    (lambda: train.check_values(config(("random_shift",)), {"random_shift": -0.1}),
     "random_shift must be finite and >= 0 and < 1, got -0.1"),
])
def test_bad_names_and_strengths_are_one_line_errors(make, message):
    with pytest.raises(ValueError, match=message) as error:
        make()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("chosen, hparams, message", [
    (("random_shift",), {"random_shift": -0.1}, "augmentation strength random_shift must be finite and >= 0"),
    (("horizontal_flip",), {"horizontal_flip": jnp.asarray([0.5, 1.5])}, "horizontal_flip .* got 1.5"),
    (("random_shift",), {"cutout": 0.1}, "HParams.augment sets 'cutout'"),
])
def test_a_run_refuses_strengths_out_of_range_or_unchosen(images, chosen, hparams, message):
    with pytest.raises(ValueError, match=message) as error:
        train.train(config(chosen, epochs=1), train.HParams(augment=hparams), jax.random.key(0), images)
    assert "\n" not in str(error.value)


def test_flat_data_take_only_transforms_of_any_shape(flat):
    with pytest.raises(ValueError, match=r"random_shift, cutout cannot take examples of shape \(64,\); .*flat=False") \
            as error:
        train.check(config(("random_shift", "cutout", "gaussian_noise")), flat)
    assert "\n" not in str(error.value)
    assert train.check(config(("gaussian_noise",)), flat).augment == ("gaussian_noise",)
    signals = flat.replace(x_train=flat.x_train.reshape(-1, 64, 1))
    with pytest.raises(ValueError, match="horizontal_flip cannot take .* need images"):
        config(("random_shift", "horizontal_flip")).resolve(signals)


def test_a_search_space_sweeps_strengths_of_the_chosen_transforms():
    swept = space_lib.Space({"augment": ("random_shift",), "random_shift": distributions.grid(0.0, 0.1, 0.2)})
    space_lib.validate(swept)
    with pytest.raises(ValueError, match="'cutout'.*which augment does not choose"):
        space_lib.validate(space_lib.Space({"augment": ("random_shift",), "cutout": 0.1}))
    # A choice of sets: the strength goes in the when table of the sets that hold its transform.
    choice = {"augment": distributions.choice((), ("random_shift",)), "random_shift": 0.1}
    with pytest.raises(ValueError) as error:
        space_lib.validate(space_lib.Space(choice))
    assert """set it under [space.when.augment.'["random_shift"]']""" in str(error.value)
    conditioned = space_lib.Space({"augment": choice["augment"]},
                                  when={"augment": {("random_shift",): {"random_shift": 0.1}}})
    space_lib.validate(conditioned)
    with pytest.raises(ValueError, match="unknown augmentation"):
        space_lib.validate(space_lib.Space({"augment": ("shift",)}))
    with pytest.raises(ValueError, match="random_shift must be < 1"):
        space_lib.Space({"augment": ("random_shift",), "random_shift": 1.5})


def test_the_docstring_examples_run():
    assert doctest.testmod(augment).failed == 0
