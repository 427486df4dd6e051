"""Tests for jaxdl.metrics against scikit-learn, closed forms and lecture 001's tables."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import metrics as sk

from jaxdl import metrics

K = 5


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, K, size=300)
    guesses = np.where(rng.random(300) < 0.55, labels, rng.integers(0, K, size=300))
    guesses[guesses == 4] = 3  # class 4 is never predicted: a zero division for precision
    return labels, guesses


def test_confusion_matrix_matches_sklearn(predictions):
    labels, guesses = predictions
    cm = metrics.confusion_matrix(labels, guesses, K)
    assert cm.dtype == jnp.int32
    np.testing.assert_array_equal(cm, sk.confusion_matrix(labels, guesses, labels=range(K)))
    jitted = jax.jit(metrics.confusion_matrix, static_argnums=2)(labels, guesses, K)
    np.testing.assert_array_equal(jitted, cm)


def test_confusion_matrix_weights_and_out_of_range():
    labels = jnp.array([0, 1, 1, 2, -1, 3])
    guesses = jnp.array([0, 1, 0, 2, 0, 1])
    cm = metrics.confusion_matrix(labels, guesses, 3)  # -1 and 3 are ignored
    np.testing.assert_array_equal(cm, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    weighted = metrics.confusion_matrix(labels[:4], guesses[:4], 3, weights=jnp.array([1.0, 2.0, 0.5, 3.0]))
    expected = sk.confusion_matrix([0, 1, 1, 2], [0, 1, 0, 2], sample_weight=[1.0, 2.0, 0.5, 3.0])
    np.testing.assert_allclose(weighted, expected)


@pytest.mark.parametrize("average", [None, "macro", "micro", "weighted"])
def test_precision_recall_f1_match_sklearn(predictions, average):
    labels, guesses = predictions
    cm = metrics.confusion_matrix(labels, guesses, K)
    p, r, f, _ = sk.precision_recall_fscore_support(
        labels, guesses, labels=range(K), average=average, zero_division=0
    )
    np.testing.assert_allclose(metrics.precision(cm, average), p, rtol=1e-6)
    np.testing.assert_allclose(metrics.recall(cm, average), r, rtol=1e-6)
    np.testing.assert_allclose(metrics.f1(cm, average), f, rtol=1e-6)


@pytest.mark.parametrize("beta", [0.5, 2.0])
@pytest.mark.parametrize("average", [None, "macro", "micro"])
def test_f_beta_matches_sklearn(predictions, beta, average):
    labels, guesses = predictions
    cm = metrics.confusion_matrix(labels, guesses, K)
    expected = sk.fbeta_score(labels, guesses, beta=beta, labels=range(K), average=average, zero_division=0)
    np.testing.assert_allclose(metrics.f_beta(cm, beta, average), expected, rtol=1e-6)


def test_zero_division_never_predicted_class(predictions):
    labels, guesses = predictions
    cm = metrics.confusion_matrix(labels, guesses, K)
    assert float(metrics.precision(cm)[4]) == 0.0
    assert float(metrics.f1(cm)[4]) == 0.0
    assert math.isnan(float(metrics.precision(cm, zero_division=float("nan"))[4]))
    assert float(metrics.precision(cm, zero_division=1.0)[4]) == 1.0


def test_accuracy_and_balanced_accuracy(predictions):
    labels, guesses = predictions
    cm = metrics.confusion_matrix(labels, guesses, K)
    assert float(metrics.accuracy(cm)) == pytest.approx(sk.accuracy_score(labels, guesses))
    assert float(metrics.per_class_accuracy(cm, "macro")) == pytest.approx(
        sk.balanced_accuracy_score(labels, guesses)
    )
    assert float(metrics.accuracy(jnp.zeros((3, 3), jnp.int32))) == 0.0


def test_one_vs_rest_rates_closed_forms(predictions):
    labels, guesses = predictions
    cm = np.asarray(metrics.confusion_matrix(labels, guesses, K))
    tp = np.diag(cm).astype(float)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = {
            "specificity": tn / (tn + fp),
            "false_positive_rate": fp / (fp + tn),
            "false_negative_rate": fn / (fn + tp),
            "negative_predictive_value": tn / (tn + fn),
            "false_discovery_rate": np.nan_to_num(fp / (fp + tp)),
            "false_omission_rate": fn / (fn + tn),
            "prevalence": (tp + fn) / cm.sum(),
        }
    table = metrics.one_vs_rest_metrics(cm)
    for name, values in expected.items():
        np.testing.assert_allclose(table[name], values, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(table["specificity"] + table["false_positive_rate"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(table["recall"] + table["false_negative_rate"], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(table["support"], cm.sum(axis=1))
    micro_specificity = metrics.specificity(cm, "micro")
    assert float(micro_specificity) == pytest.approx(tn.sum() / (tn.sum() + fp.sum()))


def test_binary_table_by_hand():
    # 100 examples: TP 40, FN 10, FP 5, TN 45 (positive class is index 1).
    cm = jnp.array([[45, 5], [10, 40]])
    assert float(metrics.precision(cm)[1]) == pytest.approx(40 / 45)
    assert float(metrics.recall(cm)[1]) == pytest.approx(0.8)
    assert float(metrics.specificity(cm)[1]) == pytest.approx(0.9)
    assert float(metrics.negative_predictive_value(cm)[1]) == pytest.approx(45 / 55)
    assert float(metrics.false_omission_rate(cm)[1]) == pytest.approx(10 / 55)
    assert float(metrics.prevalence(cm)[1]) == pytest.approx(0.5)
    assert float(metrics.positive_likelihood_ratio(cm)[1]) == pytest.approx(0.8 / 0.1, rel=1e-5)
    assert float(metrics.negative_likelihood_ratio(cm)[1]) == pytest.approx(0.2 / 0.9, rel=1e-5)
    assert float(metrics.diagnostic_odds_ratio(cm)[1]) == pytest.approx(40 * 45 / (5 * 10), rel=1e-5)
    lr_plus, lr_minus = metrics.positive_likelihood_ratio(cm), metrics.negative_likelihood_ratio(cm)
    np.testing.assert_allclose(metrics.diagnostic_odds_ratio(cm), lr_plus / lr_minus, rtol=1e-5)
    # F_beta in counts equals the precision/recall form.
    p, r = 40 / 45, 0.8
    assert float(metrics.f_beta(cm, 2.0)[1]) == pytest.approx(5 * p * r / (4 * p + r), rel=1e-6)


def test_unbounded_ratios_return_nan_on_zero_division():
    perfect = jnp.array([[50, 0], [0, 50]])
    assert bool(jnp.all(jnp.isnan(metrics.positive_likelihood_ratio(perfect))))
    assert bool(jnp.all(jnp.isnan(metrics.diagnostic_odds_ratio(perfect))))
    assert float(metrics.diagnostic_odds_ratio(perfect, zero_division=jnp.inf)[0]) == math.inf
    big = jnp.array([[60000, 1], [1, 60000]])  # TP * TN overflows int32
    assert float(metrics.diagnostic_odds_ratio(big)[0]) == pytest.approx(3.6e9, rel=1e-5)


@pytest.mark.parametrize(
    "precision_value, recall_value, expected",
    [(0.96, 0.90, 0.9290), (0.98, 0.88, 0.9273), (0.94, 0.93, 0.9350)],
)
def test_lecture_f1_table(precision_value, recall_value, expected):
    f1 = metrics.f_beta_from_precision_recall(precision_value, recall_value)
    assert float(f1) == pytest.approx(expected, abs=5e-5)
    harmonic = metrics.harmonic_mean(jnp.array([precision_value, recall_value]))
    assert float(harmonic) == pytest.approx(float(f1), rel=1e-6)
    assert float(metrics.f_beta_from_precision_recall(0.0, 0.0)) == 0.0


@pytest.mark.parametrize(
    "accuracies, mean, harmonic",
    [
        ((95, 90, 94, 99), 94.5, 94.39),
        ((96, 93, 97, 94), 95.0, 94.97),
        ((92, 93, 95, 97), 94.25, 94.21),
        ((94, 95, 99, 94), 95.5, 95.46),
        ((97, 98, 95, 97), 96.75, 96.74),
        ((99, 91, 96, 92), 94.5, 94.39),
    ],
)
def test_lecture_per_class_accuracy_table(accuracies, mean, harmonic):
    value = metrics.harmonic_mean(jnp.array(accuracies, jnp.float32))
    assert float(value) == pytest.approx(harmonic, abs=5e-3)
    # The same numbers from a confusion matrix: 100 examples per class, the
    # misclassified ones sent to the next class.
    cm = np.zeros((4, 4), np.int32)
    for k, correct in enumerate(accuracies):
        cm[k, k] = correct
        cm[k, (k + 1) % 4] = 100 - correct
    assert float(metrics.per_class_accuracy(cm, "macro")) * 100 == pytest.approx(mean, abs=1e-4)
    assert float(metrics.per_class_accuracy(cm, "harmonic")) * 100 == pytest.approx(harmonic, abs=5e-3)


def test_harmonic_mean_zero_and_average_errors():
    assert float(metrics.harmonic_mean(jnp.array([0.0, 0.5]))) == 0.0
    with pytest.raises(ValueError, match="average"):
        metrics.precision(jnp.eye(2), average="samples")


def test_metrics_vmap_over_models(predictions):
    labels, _ = predictions
    rng = np.random.default_rng(3)
    guesses = rng.integers(0, K, size=(4, labels.size))

    @jax.jit
    def macro_f1(guess):
        return metrics.f1(metrics.confusion_matrix(labels, guess, K), "macro")

    scores = jax.vmap(macro_f1)(guesses)
    expected = [sk.f1_score(labels, g, average="macro", labels=range(K), zero_division=0) for g in guesses]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)


def test_classification_report_matches_sklearn(predictions):
    labels, guesses = predictions
    names = ["a", "b", "c", "d", "e"]
    report = metrics.classification_report(labels, guesses, K, class_names=names)
    reference = sk.classification_report(
        labels, guesses, labels=range(K), target_names=names, output_dict=True, zero_division=0
    )
    for name in names + ["macro avg", "weighted avg"]:
        assert report[name]["precision"] == pytest.approx(reference[name]["precision"], rel=1e-6)
        assert report[name]["recall"] == pytest.approx(reference[name]["recall"], rel=1e-6)
        assert report[name]["f1"] == pytest.approx(reference[name]["f1-score"], rel=1e-6)
        assert report[name]["support"] == reference[name]["support"]
    assert report["accuracy"] == pytest.approx(reference["accuracy"])
    assert report["micro avg"]["f1"] == pytest.approx(reference["accuracy"])
    assert report["harmonic mean"]["f1"] == 0.0  # class "e" is never predicted
    text = metrics.format_classification_report(report)
    lines = text.splitlines()
    assert "precision" in lines[0] and "specificity" in lines[0]
    row_b = next(line for line in lines if line.strip().startswith("b "))
    assert f"{reference['b']['precision']:.4f}" in row_b
    assert any(line.strip().startswith("harmonic mean") for line in lines)


def test_classification_report_infers_classes():
    report = metrics.classification_report(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
    assert set(report) >= {"0", "1", "2", "accuracy", "macro avg"}
    assert report["accuracy"] == pytest.approx(0.5)
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]


# ---------------------------------------------------------------------------
# Bias and variance (lecture 001: Bayes 0.5 %, human 0.7 %)


@pytest.mark.parametrize(
    "train, dev, verdict, focus, bias, variance",
    [
        (0.035, 0.078, "high bias, high variance", "bias", 0.028, 0.043),
        (0.035, 0.040, "high bias, low variance", "bias", 0.028, 0.005),
        (0.010, 0.050, "low bias, high variance", "variance", 0.003, 0.040),
        (0.008, 0.010, "low bias, low variance", None, 0.001, 0.002),
    ],
    ids=["A", "B", "C", "D"],
)
def test_lecture_bias_variance_table(train, dev, verdict, focus, bias, variance):
    result = metrics.diagnose_bias_variance(train, dev, human_error=0.007, bayes_error=0.005)
    assert result.verdict == verdict
    assert result.focus == focus
    assert result.avoidable_bias == pytest.approx(bias)
    assert result.bias == pytest.approx(train - 0.005)
    assert result.variance == pytest.approx(variance)
    if focus == "bias":
        assert result.knobs == metrics.BIAS_KNOBS
        assert any("bigger network" in knob for knob in result.knobs)
        assert any("train longer" in knob for knob in result.knobs)
        assert any("optimizer" in knob for knob in result.knobs)
    elif focus == "variance":
        assert result.knobs == metrics.VARIANCE_KNOBS
        assert any("more training data" in knob for knob in result.knobs)
        assert any("regularization" in knob for knob in result.knobs)
    else:
        assert result.knobs == ()
        assert "well trained" in str(result)


@pytest.mark.parametrize(
    "train, dev, high_bias, high_variance",
    [
        (0.01, 0.12, False, True),
        (0.12, 0.13, True, False),
        (0.12, 0.20, True, True),
        (0.01, 0.02, False, False),
    ],
)
def test_lecture_train_dev_examples(train, dev, high_bias, high_variance):
    result = metrics.diagnose_bias_variance(train, dev)
    assert (result.high_bias, result.high_variance) == (high_bias, high_variance)
    assert result.reference_error == 0.0


def test_bias_variance_references_thresholds_and_errors():
    only_bayes = metrics.diagnose_bias_variance(0.035, 0.040, bayes_error=0.005)
    assert only_bayes.avoidable_bias == pytest.approx(0.030)
    strict = metrics.diagnose_bias_variance(0.010, 0.015, human_error=0.007, variance_threshold=0.001)
    assert strict.verdict == "low bias, high variance"
    beyond_human = metrics.diagnose_bias_variance(0.003, 0.004, human_error=0.005)
    assert beyond_human.avoidable_bias < 0 and beyond_human.focus is None
    with pytest.raises(ValueError, match="fraction"):
        metrics.diagnose_bias_variance(3.5, 7.8)
    with pytest.raises(ValueError, match="bayes_error"):
        metrics.diagnose_bias_variance(0.03, 0.04, human_error=0.005, bayes_error=0.007)
    with pytest.raises(ValueError, match="bias_threshold"):
        metrics.diagnose_bias_variance(0.03, 0.04, bias_threshold=-0.1)


# Train / train-dev / dev. Lecture 001 gives only the ordering ("human-level error <
# training error < dev1 error < dev error < dev2 error < testing error ... indicates the
# data mismatch problem"), no numbers; these are Andrew Ng's worked examples
# ("Bias and variance with mismatched data distributions", human error ~0 %).
@pytest.mark.parametrize(
    "train, train_dev, dev, bias, variance, mismatch, verdict, focus",
    [
        (0.01, 0.09, 0.10, 0.01, 0.08, 0.01, "low bias, high variance, low data mismatch",
         "variance"),
        (0.01, 0.015, 0.10, 0.01, 0.005, 0.085, "low bias, low variance, high data mismatch",
         "data mismatch"),
        (0.10, 0.11, 0.12, 0.10, 0.01, 0.01, "high bias, low variance, low data mismatch",
         "bias"),
        (0.10, 0.11, 0.20, 0.10, 0.01, 0.09, "high bias, low variance, high data mismatch",
         "bias"),
    ],
    ids=["variance", "data-mismatch", "bias", "bias-and-mismatch"],
)
def test_lecture_train_dev_mismatch_examples(train, train_dev, dev, bias, variance, mismatch,
                                             verdict, focus):
    result = metrics.diagnose_bias_variance(train, dev, human_error=0.0, train_dev_error=train_dev)
    assert result.train_dev_error == train_dev
    assert result.avoidable_bias == pytest.approx(bias)
    assert result.variance == pytest.approx(variance)
    assert result.data_mismatch == pytest.approx(mismatch)
    assert result.avoidable_bias + result.variance + result.data_mismatch == pytest.approx(dev)
    assert result.verdict == verdict
    assert result.focus == focus
    assert result.high_mismatch == ("high data mismatch" in verdict)
    expected_knobs = {
        "bias": metrics.BIAS_KNOBS,
        "variance": metrics.VARIANCE_KNOBS,
        "data mismatch": metrics.DATA_MISMATCH_KNOBS,
    }
    assert result.knobs == expected_knobs[focus]
    summary = str(result)
    assert f"train-dev error {train_dev:.2%}" in summary
    assert f"data mismatch {mismatch:.2%}" in summary
    assert f"focus on {focus} first" in summary


def test_data_mismatch_order_knobs_and_errors():
    # Variance is fixed before data mismatch, even when both are high.
    both = metrics.diagnose_bias_variance(0.01, 0.20, human_error=0.0, train_dev_error=0.09)
    assert (both.high_variance, both.high_mismatch, both.focus) == (True, True, "variance")
    # Ng's general formulation (human 4 %, train 7 %, train-dev 10 %, dev 6 %): dev data
    # easier than the training data give a negative gap, never a high one.
    easier = metrics.diagnose_bias_variance(0.07, 0.06, human_error=0.04, train_dev_error=0.10)
    assert easier.data_mismatch == pytest.approx(-0.04) and not easier.high_mismatch
    assert easier.focus == "bias"
    clean = metrics.diagnose_bias_variance(0.01, 0.025, human_error=0.0, train_dev_error=0.015)
    assert clean.focus is None and clean.knobs == () and "well trained" in str(clean)
    strict = metrics.diagnose_bias_variance(0.01, 0.025, human_error=0.0, train_dev_error=0.015,
                                            mismatch_threshold=0.005)
    assert strict.focus == "data mismatch"
    knobs = " ".join(metrics.DATA_MISMATCH_KNOBS)
    assert "error analysis" in knobs and "collect more data" in knobs
    assert "synthesis" in knobs and "overfit" in knobs
    # Without a train-dev set nothing changes: the mismatch gap is unknown, not zero.
    plain = metrics.diagnose_bias_variance(0.01, 0.10, human_error=0.0)
    assert plain.train_dev_error is None and plain.data_mismatch is None
    assert not plain.high_mismatch and plain.variance == pytest.approx(0.09)
    assert plain.verdict == "low bias, high variance" and "train-dev" not in str(plain)
    with pytest.raises(ValueError, match="train_dev_error must be a fraction"):
        metrics.diagnose_bias_variance(0.01, 0.10, train_dev_error=9.0)
    with pytest.raises(ValueError, match="train_dev_error must be a fraction"):
        metrics.diagnose_bias_variance(0.01, 0.10, train_dev_error=float("nan"))
    with pytest.raises(ValueError, match="mismatch_threshold"):
        metrics.diagnose_bias_variance(0.01, 0.10, train_dev_error=0.05, mismatch_threshold=-0.1)
    with pytest.raises(TypeError):
        metrics.diagnose_bias_variance(0.01, 0.10, None, None, 0.05)  # keyword-only


# ---------------------------------------------------------------------------
# The metric table: metric(outputs, targets) -> scalar, with its direction


@pytest.fixture
def logits_and_labels(predictions):
    labels, guesses = predictions
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(len(labels), K)).astype(np.float32)
    logits[np.arange(len(labels)), guesses] += 10.0  # the arg-max is the guess
    return logits, labels, guesses


def test_classification_accuracy_and_macro_f1_match_sklearn(logits_and_labels):
    logits, labels, guesses = logits_and_labels
    assert float(metrics.classification_accuracy(logits, labels)) == pytest.approx(
        sk.accuracy_score(labels, guesses), rel=1e-6)
    # Class 4 is never predicted: its F1 is 0 (zero_division=0), as scikit-learn with all K labels.
    expected = sk.f1_score(labels, guesses, labels=range(K), average="macro", zero_division=0)
    assert float(metrics.macro_f1(logits, labels)) == pytest.approx(expected, rel=1e-6)
    assert float(jax.jit(metrics.macro_f1)(logits, labels)) == pytest.approx(expected, rel=1e-6)


@pytest.fixture
def regression():
    rng = np.random.default_rng(2)
    targets = rng.normal(size=(50, 3)) * np.array([1.0, 10.0, 0.1])
    outputs = targets + rng.normal(size=(50, 3)) * np.array([0.5, 3.0, 0.2])
    return outputs.astype(np.float32), targets.astype(np.float32)


def test_rmse_and_mae_match_sklearn(regression):
    outputs, targets = regression
    # Over examples and outputs together: scikit-learn's on the flattened arrays.
    rmse = np.sqrt(sk.mean_squared_error(targets.ravel(), outputs.ravel()))
    mae = sk.mean_absolute_error(targets.ravel(), outputs.ravel())
    assert float(metrics.root_mean_squared_error(outputs, targets)) == pytest.approx(rmse, rel=1e-5)
    assert float(metrics.mean_absolute_error(outputs, targets)) == pytest.approx(mae, rel=1e-5)
    single = outputs[:, :1], targets[:, 0]  # an (m, 1) output against (m,) targets
    assert float(metrics.root_mean_squared_error(*single)) == pytest.approx(
        np.sqrt(sk.mean_squared_error(targets[:, 0], outputs[:, 0])), rel=1e-5)
    assert float(metrics.mean_absolute_error(*single)) == pytest.approx(
        sk.mean_absolute_error(targets[:, 0], outputs[:, 0]), rel=1e-5)


def test_r2_matches_sklearn_single_and_multi_output(regression):
    outputs, targets = regression
    # Each output's own R^2, then their plain mean (scikit-learn's "uniform_average").
    assert float(metrics.r2_score(outputs, targets)) == pytest.approx(
        sk.r2_score(targets, outputs, multioutput="uniform_average"), rel=1e-5)
    assert float(metrics.r2_score(outputs[:, 1], targets[:, 1])) == pytest.approx(
        sk.r2_score(targets[:, 1], outputs[:, 1]), rel=1e-5)
    assert float(metrics.r2_score(outputs[:, :1], targets[:, 0])) == pytest.approx(
        sk.r2_score(targets[:, 0], outputs[:, 0]), rel=1e-5)
    # The mean predictor scores 0, a perfect one 1, a worse than mean one below 0.
    mean = np.broadcast_to(targets.mean(axis=0), targets.shape)
    assert float(metrics.r2_score(mean, targets)) == pytest.approx(0.0, abs=1e-6)
    assert float(metrics.r2_score(targets, targets)) == 1.0
    assert float(metrics.r2_score(-targets, targets)) < 0


def test_r2_of_a_constant_target_is_finite_as_in_sklearn():
    constant = np.full(6, 3.0, np.float32)
    varied = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)
    exact, off = constant.copy(), constant + np.float32(0.5)
    # force_finite: 1 for an exact prediction of a constant target, else 0.
    assert float(metrics.r2_score(exact, constant)) == sk.r2_score(constant, exact) == 1.0
    assert float(metrics.r2_score(off, constant)) == sk.r2_score(constant, off) == 0.0
    outputs = np.stack([off, varied + 0.5], axis=1)
    targets = np.stack([constant, varied], axis=1)
    assert float(metrics.r2_score(outputs, targets)) == pytest.approx(sk.r2_score(targets, outputs), rel=1e-6)
    grad = jax.grad(lambda o: metrics.r2_score(o, targets))(jnp.asarray(outputs))
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_regression_metrics_under_jit_and_vmap(regression):
    outputs, targets = regression
    stacked = np.stack([outputs, targets])  # a model, and a perfect one
    for metric in (metrics.root_mean_squared_error, metrics.mean_absolute_error, metrics.r2_score):
        values = jax.jit(jax.vmap(metric, in_axes=(0, None)))(stacked, targets)
        assert float(values[0]) == pytest.approx(float(metric(outputs, targets)), rel=1e-6)
    perfect = jax.vmap(metrics.root_mean_squared_error, in_axes=(0, None))(stacked, targets)
    assert float(perfect[1]) == 0.0


@pytest.mark.parametrize(
    "name, expected",
    [
        ("accuracy", True),
        ("val_accuracy", True),
        ("best.val_accuracy", True),
        ("final.test_f1", True),
        ("train_r2", True),
        ("best_val_r2", True),
        ("best_val_loss", False),
        ("val_loss", False),
        ("best.val_loss", False),
        ("loss", False),
        ("test_rmse", False),
        ("final.val_mae", False),
    ],
)
def test_maximize_reads_the_direction_from_the_metric_table(name, expected):
    assert metrics.maximize(name) is expected


@pytest.mark.parametrize(
    "name, hint",
    [
        ("val_acuracy", "did you mean 'accuracy'"),
        ("best.val_rmsee", "did you mean 'rmse'"),
        ("perplexity", "; known: accuracy, f1, loss, mae, r2, rmse"),
    ],
)
def test_maximize_of_an_unknown_metric_is_a_clear_error(name, hint):
    with pytest.raises(ValueError, match=f"unknown metric {name!r}.*{hint}"):
        metrics.maximize(name)


def worst_error(outputs, targets):
    return jnp.max(jnp.abs(outputs - targets))


def test_a_registered_metric_brings_its_direction():
    from jaxdl import registry

    with pytest.raises(ValueError, match="maximize"):
        registry.register_metric("worst_error_for_test", worst_error)
    registry.register_metric("worst_error_for_test", worst_error, maximize=False, task="regression")
    try:
        assert metrics.maximize("worst_error_for_test") is False
        assert metrics.maximize("best.val_worst_error_for_test") is False
        assert metrics.maximize("best_val_worst_error_for_test") is False
    finally:
        registry.METRICS.unregister("worst_error_for_test")
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.maximize("val_worst_error_for_test")


def test_a_metric_whose_name_begins_like_a_split_keeps_its_direction():
    from jaxdl import registry

    registry.register_metric("test_worst_error", worst_error, maximize=False, task="regression")
    try:
        assert metrics.maximize("test_worst_error") is False
        assert metrics.maximize("val_test_worst_error") is False
    finally:
        registry.METRICS.unregister("test_worst_error")
