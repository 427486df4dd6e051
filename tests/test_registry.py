"""Tests for jaxdl.registry: the one mechanism that names models, activations, optimizers, schedules,
losses and metrics, and the built-ins that register through it."""

import re
import sys

import jax.numpy as jnp
import optax
import pytest

from jaxdl import activations, losses, metrics, models, optim, registry, schedules


def relu6(x):
    return jnp.clip(x, 0.0, 6.0)


def hard_tanh(x):
    return jnp.clip(x, -1.0, 1.0)


@pytest.fixture
def things():
    return registry.Registry("thing")


# ---------------------------------------------------------------------------
# Registering


def test_decorator_forms_and_call_form_register_and_return_the_object(things):
    @things.register("named")
    def first():
        return 1

    @things.register
    def second():
        return 2

    returned = things.register("called", relu6)
    assert returned is relu6 and first() == 1 and second() == 2  # decorated functions stay what they were
    assert things.get("named") is first
    assert things.get("second") is second  # the bare decorator uses __name__
    assert things.get("called") is relu6
    assert things.names() == ("called", "named", "second")
    assert list(things) == ["called", "named", "second"] and len(things) == 3
    assert "named" in things and "missing" not in things and 3 not in things


def test_metadata_is_kept_and_required_metadata_is_enforced(things):
    things.register("relu6", relu6, init="he_uniform", bounds={"x": (0.0, None)})
    assert things.info("relu6") == {"init": "he_uniform", "bounds": {"x": (0.0, None)}}
    scored = registry.Registry("metric", required=("maximize",))
    with pytest.raises(ValueError, match=r"registering metric 'score' needs maximize=\.\.\."):
        scored.register("score", relu6)
    scored.register("score", relu6, maximize=True)
    assert scored.info("score")["maximize"] is True


def test_a_taken_name_is_an_error_unless_replace(things):
    things.register("clip", relu6)
    things.register("clip", relu6)  # the same object again is harmless
    with pytest.raises(ValueError, match="thing 'clip' is already registered; pass replace=True"):
        things.register("clip", hard_tanh)
    with pytest.raises(ValueError, match="already registered"):
        things.register("clip")(hard_tanh)
    assert things.get("clip") is relu6
    things.register("clip", hard_tanh, replace=True, note="second")
    assert things.get("clip") is hard_tanh and things.info("clip") == {"note": "second"}
    things.unregister("clip")
    assert "clip" not in things
    things.unregister("clip")  # removing what is not there is a no-op


@pytest.mark.parametrize("name", ["", " padded", "padded ", 3, None])
def test_names_must_be_plain_non_empty_strings(things, name):
    with pytest.raises(ValueError, match="non-empty string"):
        things.register(name, relu6)


def test_unknown_names_say_did_you_mean(things):
    things.register("alpha", relu6)
    things.register("beta", hard_tanh)
    with pytest.raises(ValueError, match=r"unknown thing 'alpah'; did you mean 'alpha'\? known: alpha, beta"):
        things.get("alpah")
    with pytest.raises(ValueError, match=r"unknown thing 'zzz'; known: alpha, beta"):
        things.get("zzz")
    with pytest.raises(ValueError, match="by its registered name"):
        things.get(relu6)
    with pytest.raises(ValueError, match="unknown thing"):
        things.info("gamma")
    assert registry.did_you_mean("x", []) == ""


def test_case_insensitive_lookup():
    table = registry.Registry("optimizer", case_insensitive=True)
    table.register("Lion", relu6)
    assert table.get("LION") is table.get("lion") is relu6
    assert table.names() == ("lion",) and "LiOn" in table
    with pytest.raises(ValueError, match="already registered"):
        table.register("LION", hard_tanh)


def test_name_of_and_resolve(things):
    things.register("relu6", relu6)
    things.register("six", relu6)  # an alias
    assert things.name_of(relu6) == "relu6"  # the first name
    assert things.name_of(hard_tanh) is None
    assert things.resolve("six") == "six"
    assert things.resolve(relu6) == "relu6"
    with pytest.raises(ValueError, match="unknown thing 'sixx'"):
        things.resolve("sixx")
    with pytest.raises(ValueError, match=r"thing hard_tanh is not registered; register it first, e\.g\. "
                                         r"jaxdl\.register_thing\('hard_tanh', hard_tanh\)"):
        things.resolve(hard_tanh)
    assert repr(things) == "Registry('thing', 2 entries)"


# ---------------------------------------------------------------------------
# Plugins


def test_load_plugins_imports_a_file_once(tmp_path):
    name = f"plugin_metric_{tmp_path.name}"
    (tmp_path / "plugin.py").write_text(
        "import jax.numpy as jnp\n"
        "from jaxdl import registry\n"
        f"@registry.register_metric({name!r}, maximize=False)\n"
        "def worst_error(outputs, targets):\n"
        "    return jnp.max(jnp.abs(outputs - targets))\n"
    )
    try:
        registry.load_plugins(["plugin.py"], base=tmp_path)
        assert name in registry.METRICS
        assert metrics.maximize(f"val_{name}") is False
        assert float(registry.METRICS.get(name)(jnp.array([1.0, 4.0]), jnp.array([0.0, 0.0]))) == 4.0
        # The same file again, by another spelling of its path: not imported twice (which would be a
        # duplicate registration of a new function object).
        registry.load_plugins([str(tmp_path / "plugin.py")])
        registry.load_plugins([str(tmp_path / "." / "plugin.py")])
    finally:
        registry.METRICS.unregister(name)


def test_load_plugins_imports_a_module_by_name(tmp_path, monkeypatch):
    module = f"jaxdl_test_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        "from jaxdl import registry\n"
        f"registry.register_activation({module!r}, lambda x: x * 2.0, init='lecun_normal')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry.load_plugins([module])
        assert module in sys.modules
        assert float(activations.get(module)(jnp.float32(1.5))) == 3.0
        assert activations.matching_initializer(module) == "lecun_normal"
    finally:
        registry.ACTIVATIONS.unregister(module)
        sys.modules.pop(module, None)


@pytest.mark.parametrize(
    "source, message",
    [
        (None, r"--import {item}: no such file \(.*{item}\)$"),
        ("x = 1 / 0\n", r"--import .*{item}: importing it failed: ZeroDivisionError: division by zero$"),
        ("import not_a_module_anywhere_xyz\n", r"--import .*{item}: importing it failed: ModuleNotFoundError"),
        ("def broken(:\n", r"--import .*{item}: importing it failed: SyntaxError"),
    ],
)
def test_load_plugins_failures_are_one_line_value_errors(tmp_path, source, message):
    item = f"plugin_{tmp_path.name}.py"
    if source is not None:
        (tmp_path / item).write_text(source)
    with pytest.raises(ValueError, match=message.format(item=re.escape(item))) as error:
        registry.load_plugins([item], base=tmp_path)
    assert "\n" not in str(error.value)
    # A file that failed is not remembered as imported: fixing it and loading again works.
    if source is not None:
        (tmp_path / item).write_text("VALUE = 1\n")
        registry.load_plugins([item], base=tmp_path)


@pytest.mark.parametrize(
    "item, message",
    [
        ("jaxdl_no_such_module_xyz", "--import jaxdl_no_such_module_xyz: importing it failed: ModuleNotFoundError"),
        ("", "module names or .py files"),
        (3, "module names or .py files"),
    ],
)
def test_load_plugins_rejects_bad_entries(item, message):
    with pytest.raises(ValueError, match=message):
        registry.load_plugins([item])


# ---------------------------------------------------------------------------
# The built-ins register through the registry, and the lookups read it


def test_builtin_models_are_registered():
    assert registry.MODELS.get("mlp") is models.mlp
    assert registry.MODELS.get("cnn") is models.cnn


def test_optim_get_reads_the_registry():
    assert {"adam", "adamw", "sgd", "adadelta", "nesterov"} <= set(optim.names())
    assert tuple(optim.names()) == registry.OPTIMIZERS.names()
    assert optim.get("ADAM") is optim.adam is registry.OPTIMIZERS.get("adam")
    assert registry.OPTIMIZERS.info("adamw")["decoupled_weight_decay"] is True
    assert registry.OPTIMIZERS.info("adam")["decoupled_weight_decay"] is False

    def sign_sgd(learning_rate):
        return optax.chain(optax.scale_by_sign(), optax.scale(-learning_rate))

    registry.register_optimizer("test_sign_sgd", sign_sgd)
    try:
        assert optim.get("test_sign_sgd") is sign_sgd and "test_sign_sgd" in optim.names()
    finally:
        registry.OPTIMIZERS.unregister("test_sign_sgd")
    with pytest.raises(ValueError, match="did you mean 'sgd'"):
        optim.get("sgdd")


def test_activations_get_reads_the_registry():
    assert activations.get("elu") is activations.elu is registry.ACTIVATIONS.get("elu")
    assert activations.names() == registry.ACTIVATIONS.names()
    assert activations.matching_initializer("selu") == "lecun_normal"
    registry.register_activation("test_relu6", relu6)
    registry.register_activation("test_hard_tanh", hard_tanh, init="glorot_uniform")
    try:
        assert activations.get("test_relu6") is relu6
        assert activations.matching_initializer("test_relu6") == "he_normal"  # registered without init
        assert activations.matching_initializer(hard_tanh) == "glorot_uniform"
        assert models.default_initializer("test_hard_tanh") == "glorot_uniform"
    finally:
        registry.ACTIVATIONS.unregister("test_relu6")
        registry.ACTIVATIONS.unregister("test_hard_tanh")
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        activations.get("rleu")


def test_schedules_get_reads_the_registry():
    assert schedules.get("cosine_decay_schedule") is registry.SCHEDULES.get("cosine_decay_schedule")
    assert schedules.names() == registry.SCHEDULES.names()

    def halving(init_value, steps_per_epoch):
        return lambda count: init_value * 0.5 ** (count // steps_per_epoch)

    registry.register_schedule("test_halving", halving)
    try:
        assert schedules.get("test_halving") is halving and "test_halving" in schedules.names()
    finally:
        registry.SCHEDULES.unregister("test_halving")


def test_builtin_losses_and_metrics_carry_their_task_and_direction():
    assert registry.LOSSES.get("cross_entropy") is losses.cross_entropy
    assert registry.LOSSES.get("mse") is losses.squared_error
    assert registry.LOSSES.get("mae") is losses.absolute_error
    assert registry.LOSSES.get("huber") is losses.huber
    assert registry.LOSSES.info("cross_entropy")["task"] == "classification"
    assert registry.LOSSES.info("mse")["task"] is None  # classification on one-hot targets, or regression
    expected = {"accuracy": (metrics.classification_accuracy, True, "classification"),
                "f1": (metrics.macro_f1, True, "classification"),
                "rmse": (metrics.root_mean_squared_error, False, "regression"),
                "mae": (metrics.mean_absolute_error, False, "regression"),
                "r2": (metrics.r2_score, True, "regression")}
    for name, (function, maximize, task) in expected.items():
        assert registry.METRICS.get(name) is function
        assert registry.METRICS.info(name) == {"maximize": maximize, "task": task}


def test_module_level_register_functions_are_the_tables_own():
    for kind, table in (("model", registry.MODELS), ("activation", registry.ACTIVATIONS),
                        ("optimizer", registry.OPTIMIZERS), ("schedule", registry.SCHEDULES),
                        ("loss", registry.LOSSES), ("metric", registry.METRICS)):
        assert getattr(registry, f"register_{kind}") == table.register
        assert table.kind == kind
