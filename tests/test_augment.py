"""Augmentation: strength 0 is the identity, a key fixes the batch, each transform does what it says."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import augment

IMAGES = jax.random.normal(jax.random.key(0), (6, 8, 10, 3))
SIGNALS = jax.random.normal(jax.random.key(1), (6, 12, 2))
TRANSFORMS = {
    "gaussian_noise": (augment.gaussian_noise, 0.3, (IMAGES, SIGNALS)),
    "horizontal_flip": (augment.horizontal_flip, 0.5, (IMAGES,)),
    "random_shift": (augment.random_shift, 0.25, (IMAGES, SIGNALS)),
    "cutout": (augment.cutout, 0.5, (IMAGES, SIGNALS)),
}
CASES = [(name, x) for name, (_, _, inputs) in TRANSFORMS.items() for x in inputs]
IDS = [f"{name}-{x.ndim - 2}d" for name, x in CASES]


@pytest.mark.parametrize("name,x", CASES, ids=IDS)
def test_strength_zero_is_the_identity_and_a_key_fixes_the_batch(name, x):
    transform, strength, _ = TRANSFORMS[name]
    key = jax.random.key(3)
    np.testing.assert_array_equal(transform(key, x, 0.0), x)
    once = transform(key, x, strength)
    np.testing.assert_array_equal(once, transform(key, x, strength))
    # Compiled, the same batch up to float32 rounding (XLA fuses x + std * z into one multiply-add).
    np.testing.assert_allclose(jax.jit(transform)(key, x, strength), once, rtol=1e-6, atol=1e-6)
    assert once.shape == x.shape and once.dtype == x.dtype
    assert not np.array_equal(once, x) and not np.array_equal(once, transform(jax.random.key(4), x, strength))


@pytest.mark.parametrize("name,x", CASES, ids=IDS)
def test_strength_is_vmappable_as_a_population_hyperparameter(name, x):
    transform, strength, _ = TRANSFORMS[name]
    strengths = jnp.asarray([0.0, strength])
    out = jax.vmap(transform, in_axes=(None, None, 0))(jax.random.key(5), x, strengths)
    np.testing.assert_array_equal(out[0], x)
    np.testing.assert_array_equal(out[1], transform(jax.random.key(5), x, strength))


def test_a_flip_mirrors_whole_images_and_a_shift_moves_and_zero_fills():
    flipped = augment.horizontal_flip(jax.random.key(0), IMAGES, 1.0)
    np.testing.assert_array_equal(flipped, IMAGES[:, :, ::-1, :])
    x = jnp.arange(1.0, 13.0).reshape(1, 12, 1)
    shifted = np.asarray(augment.random_shift(jax.random.key(2), x, 0.25))[0, :, 0]
    offset = int(np.flatnonzero(shifted == 1.0)[0]) if 1.0 in shifted else -int(shifted[0] - 1)
    assert abs(offset) <= 3 and offset != 0
    np.testing.assert_array_equal(shifted, np.asarray(augment._shift_one(x[0], jnp.asarray([offset])))[:, 0])
    kept = shifted[shifted != 0]
    np.testing.assert_array_equal(np.diff(kept), 1.0)  # the order is kept, the rest is zeros
    assert np.count_nonzero(shifted == 0) == abs(offset)


def test_cutout_zeroes_one_square_of_the_given_side():
    x = jnp.ones((4, 10, 10, 1))
    out = np.asarray(augment.cutout(jax.random.key(7), x, 0.4))[..., 0]
    for image in out:
        rows, cols = np.nonzero(image == 0)
        # A 4 x 4 square, clipped where its centre is near the border.
        assert 0 < len(rows) <= 16 and len(rows) == len(set(rows)) * len(set(cols))
        assert rows.max() - rows.min() < 4 and cols.max() - cols.min() < 4


def test_a_flip_refuses_signals_and_every_transform_refuses_other_ranks():
    with pytest.raises(ValueError, match="images"):
        augment.horizontal_flip(jax.random.key(0), SIGNALS, 0.5)
    with pytest.raises(ValueError, match=r"\(N, L, C\)"):
        augment.random_shift(jax.random.key(0), jnp.ones((3, 4)), 0.1)
