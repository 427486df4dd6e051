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
    "random_rotation": (augment.random_rotation, 30.0, (IMAGES,)),
    "random_scale": (augment.random_scale, 0.25, (IMAGES, SIGNALS)),
    "crop_and_pad": (augment.crop_and_pad, 0.25, (IMAGES, SIGNALS)),
    "gaussian_blur": (augment.gaussian_blur, 1.5, (IMAGES, SIGNALS)),
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
    # Batched, a matrix product may sum in another order (the blur's does, by one float32 rounding).
    np.testing.assert_allclose(out[1], transform(jax.random.key(5), x, strength), rtol=1e-6, atol=1e-6)


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


def test_a_flip_and_a_rotation_refuse_signals_and_every_transform_refuses_other_ranks():
    with pytest.raises(ValueError, match="images"):
        augment.horizontal_flip(jax.random.key(0), SIGNALS, 0.5)
    with pytest.raises(ValueError, match="images"):
        augment.random_rotation(jax.random.key(0), SIGNALS, 10.0)
    with pytest.raises(ValueError, match=r"\(N, L, C\)"):
        augment.random_shift(jax.random.key(0), jnp.ones((3, 4)), 0.1)


def test_a_rotation_by_90_degrees_is_rot90_and_random_angles_stay_within_the_bound():
    square = jax.random.normal(jax.random.key(8), (7, 7, 2))
    # cos(pi / 2) is -4e-8 in float32, so the grid lands on the grid up to that.
    np.testing.assert_allclose(augment._rotate_one(square, 90.0), jnp.rot90(square), atol=1e-5)
    np.testing.assert_allclose(augment._rotate_one(square, 180.0), square[::-1, ::-1], atol=1e-5)
    # One bright pixel 12 to the right of the centre of a 25 x 25 image: its interpolated centroid turns with it.
    marker = jnp.zeros((8, 25, 25, 1)).at[:, 12, 24, 0].set(1.0)
    out = np.asarray(augment.random_rotation(jax.random.key(9), marker, 20.0))[..., 0]
    rows, cols = np.mgrid[:25, :25] - 12.0
    mass = out.sum(axis=(1, 2))
    up, right = -(out * rows).sum(axis=(1, 2)) / mass, (out * cols).sum(axis=(1, 2)) / mass
    angles = np.degrees(np.arctan2(up, right))  # counterclockwise as displayed is positive
    np.testing.assert_allclose(np.hypot(up, right), 12.0, atol=0.3)
    assert np.all(np.abs(angles) <= 20.5) and np.ptp(angles) > 10  # within the bound, and spread over it
    # The corners of a uniform image are cut off (zero fill); the centre stays.
    ones = augment.random_rotation(jax.random.key(9), jnp.ones((8, 25, 25, 1)), 20.0)
    np.testing.assert_allclose(ones[:, 12, 12, 0], 1.0, rtol=1e-6)
    assert np.all(ones >= 0) and np.all(ones <= 1 + 1e-6) and np.all(ones.sum(axis=(1, 2, 3)) < 25 * 25)


def test_a_scale_of_one_is_exact_and_a_scale_magnifies_a_ramp_about_its_centre():
    np.testing.assert_array_equal(augment._zoom_one(IMAGES[0], 1.0), IMAGES[0])
    ramp = jnp.arange(13.0)[:, None]  # centre 6; linear interpolation of a line is exact
    np.testing.assert_allclose(augment._zoom_one(ramp, 2.0)[:, 0], 6 + (jnp.arange(13) - 6) / 2, atol=1e-6)
    shrunk = np.asarray(augment._zoom_one(ramp, 0.5))[:, 0]
    np.testing.assert_allclose(shrunk[3:10], 6 + 2 * (np.arange(3, 10) - 6), atol=1e-6)
    np.testing.assert_array_equal(shrunk[:2], 0.0)  # read from beyond the border: zero fill
    np.testing.assert_array_equal(shrunk[-2:], 0.0)
    # Random factors within [0.75, 1.25], one per example, the same along both axes of an image.
    out = np.asarray(augment.random_scale(jax.random.key(10), jnp.broadcast_to(ramp[None], (8, 13, 1)), 0.25))[..., 0]
    np.testing.assert_allclose(out[:, 6], 6.0, atol=1e-6)
    factors = 1 / (out[:, 7] - out[:, 6])
    assert np.all((factors >= 0.75 - 1e-5) & (factors <= 1.25 + 1e-5)) and np.ptp(factors) > 0.1
    plane = jnp.arange(13.0)[:, None] + 100 * jnp.arange(13.0)[None, :]
    image = np.asarray(augment.random_scale(jax.random.key(10), jnp.broadcast_to(plane[None, ..., None], (8, 13, 13, 1)), 0.25))
    np.testing.assert_allclose(image[:, 7, 6, 0] - image[:, 6, 6, 0], (image[:, 6, 7, 0] - image[:, 6, 6, 0]) / 100, rtol=1e-4)


def test_crop_and_pad_is_pad_then_crop_and_the_same_batch_as_a_shift():
    x = jnp.arange(1.0, 8 * 10 + 1).reshape(1, 8, 10, 1)
    x = jnp.broadcast_to(x, (6, 8, 10, 1))
    out = np.asarray(augment.crop_and_pad(jax.random.key(11), x, 0.25))[..., 0]
    for image in out:
        # Recover the crop's offset from any pixel that kept its content, then redo it in numpy.
        row, col = np.argwhere(image != 0)[0]
        source = int(image[row, col]) - 1
        down, right = row - source // 10, col - source % 10
        assert abs(down) <= 2 and abs(right) <= 2  # p = floor(0.25 * 8) = 2 rows, floor(0.25 * 10) = 2 columns
        padded = np.pad(np.asarray(x[0, :, :, 0]), 2)
        np.testing.assert_array_equal(image, padded[2 - down : 2 - down + 8, 2 - right : 2 - right + 10])
    assert len({tuple(np.argwhere(image != 0)[0]) + (image[tuple(np.argwhere(image != 0)[0])],) for image in out}) > 1
    for batch in (IMAGES, SIGNALS):
        for pad in (0.25, 1.5):  # 1.5: offsets past the whole size leave only zeros, in both
            key = jax.random.key(12)
            np.testing.assert_array_equal(augment.crop_and_pad(key, batch, pad), augment.random_shift(key, batch, pad))


def test_a_blur_is_scipys_gaussian_filter_keeps_constants_and_mass_and_smooths_noise():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    image, sigma = np.asarray(IMAGES[0]), 1.3
    expected = image
    for axis, size in ((0, 8), (1, 10)):
        expected = scipy_ndimage.gaussian_filter1d(expected, sigma, axis=axis, mode="reflect", truncate=(size - 1) / sigma)
    np.testing.assert_allclose(augment._blur_one(IMAGES[0], sigma), expected, rtol=1e-5, atol=1e-6)
    key = jax.random.key(13)
    constant = jnp.full((4, 9, 9, 2), 3.0)
    np.testing.assert_allclose(augment.gaussian_blur(key, constant, 2.0), constant, rtol=1e-6)  # edges too
    impulse = jnp.zeros((4, 33, 1)).at[:, 16, 0].set(1.0)
    spread = np.asarray(augment.gaussian_blur(key, impulse, 2.0))[..., 0]
    np.testing.assert_allclose(spread.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(spread, spread[:, ::-1], atol=1e-7)  # centred and symmetric
    assert np.all(spread[:, 16] < 1) and np.all(spread.argmax(axis=1) == 16)
    noise = jax.random.normal(jax.random.key(14), (8, 16, 16, 1))
    variance = jnp.var(augment.gaussian_blur(key, noise, 2.0), axis=(1, 2, 3))
    assert np.all(variance < 0.9 * jnp.var(noise, axis=(1, 2, 3))) and np.ptp(variance) > 0.05  # per-example sigmas
    assert augment.gaussian_blur(key, (noise * 50).astype(jnp.uint8), 2.0).dtype == jnp.uint8


def test_compose_of_zero_strengths_is_the_identity_and_it_applies_the_table_order():
    key = jax.random.key(15)
    everything = tuple(augment.TRANSFORMS)
    np.testing.assert_array_equal(augment.compose(key, IMAGES, everything, dict.fromkeys(everything, 0.0)), IMAGES)
    signal_ones = tuple(name for name in everything if name not in ("horizontal_flip", "random_rotation"))
    np.testing.assert_array_equal(augment.compose(key, SIGNALS, signal_ones, dict.fromkeys(signal_ones, 0.0)), SIGNALS)
    assert everything.index("random_shift") < everything.index("cutout") < everything.index("gaussian_noise")
    # Asked for noise then cutout, compose still cuts first: the cut square is noisy, not exact zeros.
    strengths = {"cutout": 0.5, "gaussian_noise": 0.3}
    out = augment.compose(key, IMAGES, ("gaussian_noise", "cutout"), strengths)
    assert not np.any(out == 0)
    cut = augment.cutout(jax.random.fold_in(key, everything.index("cutout")), IMAGES, 0.5)
    noisy = augment.gaussian_noise(jax.random.fold_in(key, everything.index("gaussian_noise")), cut, 0.3)
    np.testing.assert_array_equal(out, noisy)
    with pytest.raises(ValueError, match="known: random_shift"):
        augment.compose(key, IMAGES, ("rotate",), {})
