"""Tests for jaxdl.losses against closed forms, NumPy and scikit-learn's log_loss."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.metrics import log_loss

from jaxdl import losses


def numpy_softmax_ce(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(32, 5)).astype(np.float32) * 3
    labels = rng.integers(0, 5, size=32).astype(np.int32)
    weights = rng.uniform(0.1, 3.0, size=32).astype(np.float32)
    return logits, labels, weights


# ---------------------------------------------------------------------------
# weighted_mean


def test_weighted_mean_closed_form():
    values = jnp.array([1.0, 2.0, 4.0])
    assert float(losses.weighted_mean(values)) == pytest.approx(7.0 / 3.0)
    assert float(losses.weighted_mean(values, jnp.array([1.0, 0.0, 3.0]))) == pytest.approx(13.0 / 4.0)
    # Only the ratios of the weights matter.
    assert float(losses.weighted_mean(values, jnp.array([2.0, 0.0, 6.0]))) == pytest.approx(13.0 / 4.0)


def test_weighted_mean_trailing_axes_and_zero_weights():
    values = jnp.array([[1.0, 3.0], [5.0, 7.0]])  # per-example means 2 and 6
    assert float(losses.weighted_mean(values, jnp.array([3.0, 1.0]))) == pytest.approx(3.0)
    zero = jnp.zeros(2)
    assert float(losses.weighted_mean(values, zero)) == 0.0
    grad = jax.grad(lambda w: losses.weighted_mean(values, w))(zero)
    assert bool(jnp.all(jnp.isfinite(grad)))
    with pytest.raises(ValueError, match="one entry per example"):
        losses.weighted_mean(values, jnp.ones(3))


# ---------------------------------------------------------------------------
# Softmax cross-entropy


def test_softmax_ce_integer_and_one_hot_match_numpy(batch):
    logits, labels, _ = batch
    expected = numpy_softmax_ce(logits.astype(np.float64), labels).mean()
    integer = losses.softmax_cross_entropy(logits, labels)
    one_hot = losses.softmax_cross_entropy(logits, jax.nn.one_hot(labels, 5))
    assert float(integer) == pytest.approx(expected, rel=1e-5)
    assert float(one_hot) == pytest.approx(expected, rel=1e-5)


def test_softmax_ce_matches_sklearn_log_loss(batch):
    logits, labels, weights = batch
    probabilities = np.asarray(jax.nn.softmax(jnp.asarray(logits, jnp.float32)), np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    plain = log_loss(labels, probabilities, labels=range(5))
    weighted = log_loss(labels, probabilities, labels=range(5), sample_weight=weights)
    assert float(losses.softmax_cross_entropy(logits, labels)) == pytest.approx(plain, rel=1e-4)
    assert float(losses.softmax_cross_entropy(logits, labels, weights)) == pytest.approx(weighted, rel=1e-4)
    assert weighted != pytest.approx(plain, rel=1e-3)


def test_softmax_ce_lecture_example():
    # softmax([2, 5, -1, 3]) = [0.042, 0.842, 0.002, 0.114]
    logits = jnp.array([[2.0, 5.0, -1.0, 3.0]])
    probabilities = jax.nn.softmax(logits)
    np.testing.assert_allclose(probabilities[0], [0.042, 0.842, 0.002, 0.114], atol=6e-4)
    loss = losses.softmax_cross_entropy(logits, jnp.array([1]))
    assert float(loss) == pytest.approx(-np.log(148.41 / 176.26), rel=1e-3)


def test_softmax_ce_uniform_initial_loss():
    loss = losses.softmax_cross_entropy(jnp.zeros((8, 10)), jnp.arange(8) % 10)
    assert float(loss) == pytest.approx(2.302585, rel=1e-6)


def test_softmax_ce_soft_targets():
    logits = jnp.array([[1.0, 2.0, 3.0]])
    targets = jnp.array([[0.2, 0.3, 0.5]])
    log_probs = np.log(np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum())
    expected = -(np.array([0.2, 0.3, 0.5]) * log_probs).sum()
    assert float(losses.softmax_cross_entropy(logits, targets)) == pytest.approx(expected, rel=1e-6)


def test_integer_weights_equal_repeated_examples(batch):
    logits, labels, _ = batch
    counts = np.arange(32) % 3  # weight 0, 1 or 2
    repeated = np.repeat(np.arange(32), counts)
    weighted = losses.softmax_cross_entropy(logits, labels, counts.astype(np.float32))
    duplicated = losses.softmax_cross_entropy(logits[repeated], labels[repeated])
    assert float(weighted) == pytest.approx(float(duplicated), rel=1e-5)


def test_softmax_ce_label_errors(batch):
    logits, labels, _ = batch
    with pytest.raises(ValueError, match="integers"):
        losses.softmax_cross_entropy(logits, labels.astype(np.float32))
    with pytest.raises(ValueError, match="one-hot"):
        losses.softmax_cross_entropy(logits, np.zeros((32, 4)))


def test_softmax_ce_jit_and_vmap(batch):
    logits, labels, weights = batch
    loss = jax.jit(losses.softmax_cross_entropy)
    expected = losses.softmax_cross_entropy(logits, labels, weights)
    assert float(loss(logits, labels, weights)) == pytest.approx(float(expected), rel=1e-6)
    stacked = jax.vmap(losses.softmax_cross_entropy, in_axes=(0, 0, None))(
        np.stack([logits, -logits]), np.stack([labels, labels]), weights
    )
    assert float(stacked[0]) == pytest.approx(float(expected), rel=1e-6)


# ---------------------------------------------------------------------------
# Binary cross-entropy and MSE


def test_binary_ce_matches_numpy_and_sklearn():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=40) * 2
    labels = rng.integers(0, 2, size=40)
    weights = rng.uniform(0.5, 2.0, size=40)
    p = 1.0 / (1.0 + np.exp(-logits))
    per_example = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    assert float(losses.binary_cross_entropy(logits, labels)) == pytest.approx(per_example.mean(), rel=1e-5)
    expected = log_loss(labels, p, sample_weight=weights)
    assert float(losses.binary_cross_entropy(logits, labels, weights)) == pytest.approx(expected, rel=1e-5)


def test_binary_ce_stable_for_large_logits():
    loss = losses.binary_cross_entropy(jnp.array([100.0, -100.0]), jnp.array([0.0, 1.0]))
    assert float(loss) == pytest.approx(100.0, rel=1e-6)
    assert float(losses.binary_cross_entropy(jnp.array([100.0]), jnp.array([1.0]))) < 1e-30


def test_binary_ce_multi_label_mean_over_outputs():
    logits = jnp.array([[0.0, 0.0], [2.0, -1.0]])
    labels = jnp.array([[1.0, 0.0], [1.0, 1.0]])
    first = np.log(2.0)
    second = (np.log1p(np.exp(-2.0)) + np.log1p(np.exp(1.0))) / 2
    loss = losses.binary_cross_entropy(logits, labels, jnp.array([1.0, 3.0]))
    assert float(loss) == pytest.approx((first + 3 * second) / 4, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        losses.binary_cross_entropy(logits, labels[:, 0])


def test_mean_squared_error():
    predictions = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 0.0]])
    targets = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    per_example = ((predictions - targets) ** 2).mean(axis=1)  # 2, 12.5, 1
    assert float(losses.mean_squared_error(predictions, targets)) == pytest.approx(per_example.mean())
    weights = np.array([1.0, 0.0, 1.0])
    assert float(losses.mean_squared_error(predictions, targets, weights)) == pytest.approx(1.5)
    single_output = losses.mean_squared_error(jnp.array([1.0, 3.0]), jnp.array([0.0, 0.0]))
    assert float(single_output) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="shape"):
        losses.mean_squared_error(predictions, targets[:, :1])


# ---------------------------------------------------------------------------
# L2 penalty


@pytest.fixture
def params():
    return {
        "dense1": {"kernel": jnp.array([[1.0, 2.0], [3.0, 0.0]]), "bias": jnp.array([1.0, 1.0])},
        "dense2": {"kernel": jnp.array([[2.0], [1.0]]), "bias": jnp.array([5.0])},
    }


def test_l2_penalty_closed_form(params):
    # ||W1||^2 = 14, ||W2||^2 = 5, biases 2 + 25.
    assert float(losses.l2_penalty(params, 0.1, 10)) == pytest.approx(0.1 / 20 * 46)
    only_weights = losses.l2_penalty(params, 0.1, 10, mask=losses.weights_only)
    assert float(only_weights) == pytest.approx(0.1 / 20 * 19)
    by_name = losses.l2_penalty(
        params, 0.1, 10, mask=lambda path, leaf: path[-1].key == "kernel"
    )
    assert float(by_name) == pytest.approx(0.1 / 20 * 19)
    tree_mask = {"dense1": {"kernel": True, "bias": False}, "dense2": {"kernel": False, "bias": True}}
    assert float(losses.l2_penalty(params, 0.1, 10, mask=tree_mask)) == pytest.approx(0.1 / 20 * 39)


def test_l2_penalty_gradient_is_lambda_over_m_times_w(params):
    grads = jax.grad(lambda p: losses.l2_penalty(p, 0.3, 6, mask=losses.weights_only))(params)
    np.testing.assert_allclose(grads["dense1"]["kernel"], 0.3 / 6 * params["dense1"]["kernel"], rtol=1e-6)
    np.testing.assert_allclose(grads["dense2"]["bias"], 0.0)


def test_l2_penalty_traced_strength(params):
    penalty = jax.jit(jax.vmap(lambda lam: losses.l2_penalty(params, lam, 10)))
    values = penalty(jnp.array([0.0, 0.1, 1.0]))
    np.testing.assert_allclose(values, np.array([0.0, 0.1, 1.0]) / 20 * 46, rtol=1e-6)


# ---------------------------------------------------------------------------
# Per-example losses: loss(outputs, targets) -> (m,), the form a run uses


def test_cross_entropy_per_example_matches_optax_and_numpy(batch):
    logits, labels, _ = batch
    per_example = losses.cross_entropy(logits, labels)
    assert per_example.shape == (32,)
    np.testing.assert_allclose(per_example, optax.softmax_cross_entropy_with_integer_labels(logits, labels),
                               rtol=1e-6)
    np.testing.assert_allclose(per_example, numpy_softmax_ce(logits.astype(np.float64), labels), rtol=1e-5)
    np.testing.assert_allclose(losses.cross_entropy(logits, jax.nn.one_hot(labels, 5)), per_example, rtol=1e-5)
    assert float(jnp.mean(per_example)) == pytest.approx(float(losses.softmax_cross_entropy(logits, labels)),
                                                         rel=1e-6)


def test_cross_entropy_soft_targets_and_uniform_start():
    targets = jnp.array([[0.2, 0.3, 0.5]])
    log_probs = np.log(np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum())
    expected = -(np.array([0.2, 0.3, 0.5]) * log_probs).sum()
    assert float(losses.cross_entropy(jnp.array([[1.0, 2.0, 3.0]]), targets)[0]) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(losses.cross_entropy(jnp.zeros((4, 10)), jnp.arange(4)), np.log(10.0), rtol=1e-6)


def test_squared_and_absolute_error_closed_forms():
    outputs = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 0.0]], np.float32)
    targets = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    np.testing.assert_allclose(losses.squared_error(outputs, targets), [2.0, 12.5, 1.0])  # (1/k) sum_j r_j^2
    np.testing.assert_allclose(losses.absolute_error(outputs, targets), [1.0, 3.5, 1.0])  # (1/k) sum_j |r_j|
    np.testing.assert_allclose(losses.squared_error(outputs, targets),
                               jnp.mean(optax.squared_error(outputs, targets), axis=1), rtol=1e-6)
    # A single output as (m, 1) against targets (m,), and (m,) against (m,).
    column = losses.squared_error(jnp.array([[1.0], [3.0]]), jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(column, [1.0, 4.0])
    np.testing.assert_allclose(losses.absolute_error(jnp.array([1.0, -3.0]), jnp.array([0.0, 1.0])), [1.0, 4.0])
    # The plain mean of the per-example loss is mean_squared_error.
    assert float(jnp.mean(losses.squared_error(outputs, targets))) == pytest.approx(
        float(losses.mean_squared_error(outputs, targets)), rel=1e-6)


def test_squared_error_compares_class_labels_with_one_hot_rows(batch):
    logits, labels, _ = batch
    one_hot = jax.nn.one_hot(labels, 5)
    np.testing.assert_allclose(losses.squared_error(logits, labels), np.mean((logits - one_hot) ** 2, axis=1),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.absolute_error(logits, labels), np.mean(np.abs(logits - one_hot), axis=1),
                               rtol=1e-6)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_matches_optax_and_its_two_pieces(delta):
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(16, 3)).astype(np.float32) * 3
    targets = rng.normal(size=(16, 3)).astype(np.float32)
    per_example = losses.huber(outputs, targets, delta=delta)
    assert per_example.shape == (16,)
    np.testing.assert_allclose(per_example, jnp.mean(optax.huber_loss(outputs, targets, delta=delta), axis=1),
                               rtol=1e-6)
    r = np.abs(outputs.astype(np.float64) - targets)
    pieces = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    np.testing.assert_allclose(per_example, pieces.mean(axis=1), rtol=1e-5)
    assert np.any(r <= delta) and np.any(r > delta)  # both pieces are exercised


def test_huber_default_delta_and_traced_delta():
    r = jnp.array([0.5, 3.0])
    np.testing.assert_allclose(losses.huber(r, jnp.zeros(2)), [0.125, 2.5])  # delta = 1: r^2/2, |r| - 1/2
    deltas = jnp.array([0.5, 1.0, 4.0])
    batched = jax.jit(jax.vmap(lambda d: losses.huber(r, jnp.zeros(2), delta=d)))(deltas)
    expected = [[0.5 * (0.5 - 0.25), 0.5 * (3.0 - 0.25)], [0.125, 2.5], [0.125, 4.5]]
    np.testing.assert_allclose(batched, expected, rtol=1e-6)
    # Outliers pull less than under the squared error: the gradient is bounded by delta.
    grad = jax.grad(lambda o: jnp.sum(losses.huber(o, jnp.zeros(2), delta=1.0)))(jnp.array([0.5, 30.0]))
    np.testing.assert_allclose(grad, [0.5, 1.0])


def test_per_example_losses_are_differentiable_under_jit(batch):
    logits, labels, _ = batch
    for loss in (losses.cross_entropy, losses.squared_error, losses.absolute_error, losses.huber):
        grad = jax.jit(jax.grad(lambda z: jnp.mean(loss(z, labels))))(logits)
        assert grad.shape == logits.shape and bool(jnp.all(jnp.isfinite(grad)))
    # d/dz of the mean cross-entropy: (softmax(z) - onehot(y)) / m
    grad = jax.grad(lambda z: jnp.mean(losses.cross_entropy(z, labels)))(logits)
    np.testing.assert_allclose(grad, (jax.nn.softmax(logits) - jax.nn.one_hot(labels, 5)) / 32, atol=1e-7)
