"""Search spaces, validation, planning strategies, groups, chunks and TOML configs."""

import itertools
import math
import sys
import types

import numpy as np
import pytest

from jaxdl.sweep import config, distributions, plans, space, strategies
from jaxdl.sweep.space import DYNAMIC_KEYS, STATIC_KEYS
from jaxdl.sweep import (
    Plan,
    Space,
    Trial,
    build_plan,
    choice,
    chunk_group,
    distribution_from_spec,
    grid,
    grid_plan,
    halving_plan,
    halving_rungs,
    int_uniform,
    load_config,
    loggrid,
    loguniform,
    plan_chunks,
    random_plan,
    rank_trials,
    successive_halving,
    uniform,
    validate,
)

KNOWN = {"activation": ["relu", "elu", "tanh"], "optimizer": ["sgd", "adam", "rmsprop"], "model": ["mlp", "cnn"]}


def small_space(seeds=2):
    return Space(
        {
            "activation": choice("relu", "elu"),
            "hidden": choice([64], [128, 64]),
            "learning_rate": loguniform(1e-4, 1e-1),
            "dropout_rate": uniform(0.0, 0.5),
            "epochs": 5,
        },
        seeds=seeds,
    )


# ---------------------------------------------------------------------------
# Distributions


def test_loguniform_is_ten_to_a_uniform_exponent():
    # The lecture's rule: alpha = 10^r, r = -4 U(0, 1), i.e. loguniform(1e-4, 1).
    draws = loguniform(1e-4, 1.0).sample(np.random.default_rng(7), 5)
    exponents = np.random.default_rng(7).uniform(-4.0, 0.0, size=5)
    np.testing.assert_allclose(draws, 10.0**exponents, rtol=1e-12)


def test_loguniform_spends_equal_trials_per_decade_where_uniform_does_not():
    rng = np.random.default_rng(0)
    log_draws = np.array(loguniform(1e-4, 1.0).sample(rng, 8000))
    linear_draws = np.array(uniform(1e-4, 1.0).sample(rng, 8000))
    assert log_draws.min() >= 1e-4 and log_draws.max() < 1.0
    per_decade = np.histogram(np.log10(log_draws), bins=[-4, -3, -2, -1, 0])[0] / len(log_draws)
    np.testing.assert_allclose(per_decade, 0.25, atol=0.03)
    # On a linear scale about 90% of the draws land in the top decade.
    assert np.mean(linear_draws >= 0.1) > 0.85


def test_uniform_and_int_uniform_ranges():
    rng = np.random.default_rng(1)
    draws = np.array(uniform(0.2, 0.3).sample(rng, 1000))
    assert draws.min() >= 0.2 and draws.max() < 0.3
    integers = int_uniform(1, 3).sample(rng, 500)
    assert set(integers) == {1, 2, 3}  # both ends included
    assert all(isinstance(v, int) for v in integers)


def test_loggrid_is_geometric_and_includes_both_ends():
    assert loggrid(1e-4, 1e-1, 4).values() == (1e-4, 1e-3, 1e-2, 1e-1)
    values = np.array(loggrid(1e-3, 1.0, 7).values())
    ratios = values[1:] / values[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert values[0] == 1e-3 and values[-1] == 1.0


def test_choice_freezes_lists_into_tuples():
    assert choice([64], [128, 64]).values() == ((64,), (128, 64))
    drawn = choice("a", "b", "c").sample(np.random.default_rng(0), 300)
    assert set(drawn) == {"a", "b", "c"}


@pytest.mark.parametrize(
    "distribution",
    [
        choice("relu", "elu"),
        choice([64], [128, 64]),
        grid(0.0, 0.1, 0.3),
        uniform(0.0, 0.5),
        loguniform(1e-4, 1e-1),
        loggrid(1e-4, 1e-1, 4),
        int_uniform(1, 10),
    ],
)
def test_distribution_spec_round_trip(distribution):
    assert distribution_from_spec(distribution.to_spec()) == distribution


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"normal": [0, 1]}, "unknown distribution"),
        ({"uniform": [0, 1], "choice": [1]}, "exactly one"),
        ({"uniform": [0, 1, 2]}, "takes 2 arguments"),
        ({"choice": "relu"}, "list of arguments"),
    ],
)
def test_distribution_spec_errors(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        distribution_from_spec(spec)


# ---------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "params, key, fragment",
    [
        ({"dropout_rate": uniform(0.5, 0.1)}, "dropout_rate", "empty"),
        ({"learning_rate": loguniform(0.0, 1e-1)}, "learning_rate", "positive"),
        ({"learning_rate": loguniform(-1e-3, 1e-1)}, "learning_rate", "positive"),
        ({"learning_rate": loguniform(1e-1, 1e-4)}, "learning_rate", "empty"),
        ({"learning_rate": -0.1}, "learning_rate", "negative"),
        ({"learning_rate": choice(0.1, -0.01)}, "learning_rate", "negative"),
        ({"learning_rate": uniform(-0.1, 0.1)}, "learning_rate", "negative"),
        ({"learning_rate": grid(0.1, -1.0)}, "learning_rate", "negative"),
        ({"dropout_rate": 1.0}, "dropout_rate", "< 1.0"),
        ({"b1": choice(0.9, 1.0)}, "b1", "< 1.0"),
        ({"momentum": "high"}, "momentum", "numeric"),
        ({"momentum": choice(0.9, "nesterov")}, "momentum", "numeric"),
        ({"learning_rate": float("nan")}, "learning_rate", "finite"),
        ({"activation": uniform(0.0, 1.0)}, "activation", "static key"),
        ({"batch_size": grid(32, 64)}, "batch_size", "static key"),
        ({"batch_size": 0}, "batch_size", "positive integer"),
        ({"epochs": choice(5, 2.5)}, "epochs", "positive integer"),
        ({"hidden": choice([64], [128, -1])}, "hidden", "widths"),
        ({"model": "rnn"}, "model", "known: cnn, mlp"),
        ({"lr": 0.1}, "lr", "did you mean 'learning_rate'"),
        ({"learnig_rate": 0.1}, "learnig_rate", "did you mean 'learning_rate'"),
        ({"activation": choice("relu", "nope")}, "activation", "unknown activation 'nope'"),
        ({"optimizer": "adma"}, "optimizer", "did you mean 'adam'"),
        ({"int_steps": int_uniform(5, 5)}, "int_steps", "unknown key"),
        ({"decay_steps": int_uniform(5, 5)}, "decay_steps", "empty"),
        ({"decay_steps": int_uniform(1.5, 5)}, "decay_steps", "integers"),
        ({"learning_rate": loggrid(1e-3, 1e-1, 1)}, "learning_rate", "num"),
        ({"activation": choice()}, "activation", "at least one"),
    ],
)
def test_validate_names_the_key_and_the_problem(params, key, fragment):
    with pytest.raises(ValueError) as error:
        validate(Space(params), known=KNOWN)
    message = str(error.value)
    assert repr(key) in message
    assert fragment in message


def test_all_problems_come_in_one_error():
    with pytest.raises(ValueError) as error:
        Space({"learning_rate": -1.0, "dropout_rate": uniform(0.6, 0.2), "lr": 3.0})
    message = str(error.value)
    assert "3 problems" in message
    for key in ("'learning_rate'", "'dropout_rate'", "'lr'"):
        assert key in message


def test_valid_space_passes_and_seeds_are_checked():
    validate(small_space(), known=KNOWN)
    validate(Space({"learning_rate": 0.0, "init": None, "batch_norm": None}), known=KNOWN)
    with pytest.raises(ValueError, match="'seeds'"):
        Space({"learning_rate": 0.1}, seeds=0)


def test_names_are_looked_up_in_the_registries_when_they_are_read(tmp_path):
    from jaxdl import data, registry, sweep, train

    with pytest.raises(ValueError, match="unknown activation 'seluu'; did you mean 'selu'"):
        validate(Space({"activation": "seluu"}))
    registry.register_activation("seluu", lambda x: x)
    try:
        validate(Space({"activation": "seluu"}))  # registered after import: known now
    finally:
        registry.ACTIVATIONS.unregister("seluu")
    # An explicit ``known`` wins, and ``{}`` turns name checks off.
    validate(Space({"activation": "seluu"}), known={})
    # Settings a model rejects are found before a run directory is written.
    plan = grid_plan(Space({"batch_norm": "middle", "epochs": 1}))
    digits = train.Data.load("digits")
    with pytest.raises(ValueError, match="batch_norm must be None, 'before' or 'after'"):
        sweep.run_sweep(plan, digits, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_key_sets_are_overridable():
    custom = Space(
        {"width": choice(8, 16), "temperature": uniform(0.5, 2.0)},
        static_keys=STATIC_KEYS | {"width"},
        dynamic_keys=DYNAMIC_KEYS | {"temperature"},
    )
    plan = random_plan(custom, 20, seed=0, known={})
    assert {t.static["width"] for t in plan} == {8, 16}
    assert all(set(t.dynamic) == {"temperature"} for t in plan)
    with pytest.raises(ValueError, match="both static and dynamic"):
        Space({"learning_rate": 0.1}, static_keys=STATIC_KEYS | {"learning_rate"})


# ---------------------------------------------------------------------------
# Grid strategy


def test_grid_is_the_cartesian_product_times_seeds():
    space = Space(
        {
            "activation": choice("relu", "elu", "tanh"),
            "learning_rate": loggrid(1e-3, 1e-1, 3),
            "momentum": grid(0.0, 0.9),
            "epochs": 3,
        },
        seeds=2,
    )
    plan = grid_plan(space, known=KNOWN)
    assert len(plan) == 3 * 3 * 2 * 2
    assert [t.id for t in plan] == list(range(len(plan)))
    configs = {(t.static["activation"], t.dynamic["learning_rate"], t.dynamic["momentum"]) for t in plan}
    expected = set(itertools.product(("relu", "elu", "tanh"), (1e-3, 1e-2, 1e-1), (0.0, 0.9)))
    assert configs == expected
    assert all(t.static["epochs"] == 3 for t in plan)
    # Each configuration appears once per seed, seeds 0 and 1.
    for config in expected:
        seeds = sorted(t.seed for t in plan if (t.static["activation"], *t.dynamic.values()) == config)
        assert seeds == [0, 1]
    # Names in sorted order, the last fastest; values in the order given.
    first = [(t.static["activation"], t.dynamic["learning_rate"], t.dynamic["momentum"]) for t in plan[:4:2]]
    assert first == [("relu", 1e-3, 0.0), ("relu", 1e-3, 0.9)]


def test_grid_rejects_continuous_distributions_naming_each():
    space = Space({"learning_rate": loguniform(1e-4, 1e-1), "dropout_rate": uniform(0.0, 0.5)})
    with pytest.raises(ValueError) as error:
        grid_plan(space, known={})
    message = str(error.value)
    assert "'learning_rate'" in message and "'dropout_rate'" in message and "loggrid" in message


# ---------------------------------------------------------------------------
# Random strategy


def test_random_plan_is_reproducible_from_an_integer_seed():
    space = small_space()
    first = random_plan(space, 16, seed=3, known=KNOWN)
    again = random_plan(space, 16, seed=3, known=KNOWN)
    other = random_plan(space, 16, seed=4, known=KNOWN)
    assert first == again and first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != other.fingerprint()
    assert len(first) == 32
    assert all(t.seed == t.id % 2 for t in first)


def test_random_plan_accepts_a_jax_key():
    import jax

    space = small_space(seeds=1)
    a = random_plan(space, 8, seed=jax.random.key(5), known=KNOWN)
    b = random_plan(space, 8, seed=jax.random.key(5), known=KNOWN)
    c = random_plan(space, 8, seed=jax.random.key(6), known=KNOWN)
    legacy = random_plan(space, 8, seed=jax.random.PRNGKey(5), known=KNOWN)
    assert a == b == legacy
    assert a != c


def test_random_plan_samples_static_choices_and_respects_ranges():
    plan = random_plan(small_space(seeds=1), 200, seed=0, known=KNOWN)
    assert {t.static["activation"] for t in plan} == {"relu", "elu"}
    assert {t.static["hidden"] for t in plan} == {(64,), (128, 64)}
    rates = np.array([t.dynamic["learning_rate"] for t in plan])
    assert rates.min() >= 1e-4 and rates.max() < 1e-1
    assert len(set(rates.tolist())) == 200  # every trial tries a new rate
    assert len(plan.groups()) == 4


def test_more_samples_extend_a_plan_and_new_keys_leave_others_alone():
    space = small_space(seeds=1)
    short = random_plan(space, 10, seed=1, known=KNOWN)
    long = random_plan(space, 30, seed=1, known=KNOWN)
    assert list(long)[:10] == list(short)
    # "b1" sorts before most keys, so a stream per position would shift them all.
    wider = Space({**space.params, "b1": uniform(0.8, 0.99)})
    widened = random_plan(wider, 10, seed=1, known=KNOWN)
    for old, new in zip(short, widened):
        assert new.static == old.static
        assert {k: v for k, v in new.dynamic.items() if k != "b1"} == old.dynamic


def test_random_plan_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_samples"):
        random_plan(small_space(), 0, known=KNOWN)
    with pytest.raises(ValueError, match="seed"):
        random_plan(small_space(), 3, seed=-1, known=KNOWN)


# ---------------------------------------------------------------------------
# Plans: JSON, fingerprint, groups, chunks


def test_plan_json_round_trip_keeps_tuples_and_fingerprint():
    plan = random_plan(small_space(), 6, seed=2, known=KNOWN)
    restored = Plan.from_json(plan.to_json())
    assert restored == plan
    assert restored.fingerprint() == plan.fingerprint()
    assert isinstance(restored[0].static["hidden"], tuple)


def test_fingerprint_is_pinned_and_sensitive():
    plan = Plan(
        (
            Trial(0, {"activation": "relu", "hidden": (8,)}, {"learning_rate": 0.01}, 0),
            Trial(1, {"activation": "elu", "hidden": (8,)}, {"learning_rate": 0.001}, 0),
        ),
        {"strategy": "grid"},
    )
    # Changing the canonical form would orphan every stored run: keep it fixed
    # (the hash is `printf %s <that JSON> | sha256sum`).
    assert plan.to_json() == (
        '{"info":{"strategy":"grid"},"trials":['
        '{"dynamic":{"learning_rate":0.01},"id":0,"seed":0,"static":{"activation":"relu","hidden":[8]}},'
        '{"dynamic":{"learning_rate":0.001},"id":1,"seed":0,"static":{"activation":"elu","hidden":[8]}}]}'
    )
    assert plan.fingerprint() == "18cb8a07da6fc06b0fbe0f16865598ef959d6a8ebf6837a9a552c8c8a2872a6d"
    changed = Plan((plan[0], Trial(1, plan[1].static, {"learning_rate": 0.002}, 0)), plan.info)
    assert changed.fingerprint() != plan.fingerprint()
    # The order keys are written in does not matter.
    reordered = Space({"epochs": 5, "activation": choice("relu", "elu"), "learning_rate": loggrid(1e-3, 1e-2, 2)})
    ordered = Space({"activation": choice("relu", "elu"), "epochs": 5, "learning_rate": loggrid(1e-3, 1e-2, 2)})
    assert grid_plan(reordered, known={}).fingerprint() == grid_plan(ordered, known={}).fingerprint()


def test_plan_rejects_duplicate_ids_and_selects_by_id():
    trial = Trial(0, {}, {"learning_rate": 0.1}, 0)
    with pytest.raises(ValueError, match="unique"):
        Plan((trial, trial))
    plan = random_plan(small_space(), 5, known=KNOWN)
    survivors = plan.select([7, 2])
    assert [t.id for t in survivors] == [2, 7]
    assert survivors.info == plan.info
    with pytest.raises(KeyError):
        plan.select([99])


def test_groups_hold_float32_arrays_in_a_deterministic_order():
    plan = random_plan(small_space(), 40, seed=0, known=KNOWN)
    groups = plan.groups()
    assert [g.index for g in groups] == list(range(len(groups)))
    # Ordered by first appearance in the plan.
    first_ids = [int(g.trial_ids[0]) for g in groups]
    assert first_ids == sorted(first_ids)
    assert sorted(int(i) for g in groups for i in g.trial_ids) == [t.id for t in plan]
    assert len({g.key for g in groups}) == len(groups)
    for group in groups:
        assert list(group.static) == sorted(group.static)
        assert group.seeds.dtype.kind == "i" and group.seeds.shape == (len(group),)
        for name, values in group.dynamic.items():
            assert values.dtype == np.float32 and values.shape == (len(group),)
        for row, trial_id in enumerate(group.trial_ids):
            trial = plan.by_id(int(trial_id))
            assert trial.static == group.static
            assert trial.seed == group.seeds[row]
            assert group.dynamic["learning_rate"][row] == np.float32(trial.dynamic["learning_rate"])
    assert [g.key for g in random_plan(small_space(), 40, seed=0, known=KNOWN).groups()] == [g.key for g in groups]


def test_groups_need_matching_dynamic_names():
    plan = Plan((Trial(0, {}, {"learning_rate": 0.1}, 0), Trial(1, {}, {"momentum": 0.9}, 0)))
    with pytest.raises(ValueError, match="dynamic names"):
        plan.groups()


@pytest.mark.parametrize("chunk_size, multiple", [(4, 1), (4, 4), (3, 2), (10, 8), (1, 3)])
def test_chunks_cover_the_group_and_pad_to_the_device_multiple(chunk_size, multiple):
    plan = random_plan(Space({"learning_rate": loguniform(1e-4, 1e-1)}, seeds=1), 11, known={})
    (group,) = plan.groups()
    chunks = chunk_group(group, chunk_size, multiple)
    assert [c.id for c in chunks] == [f"g0-c{i}" for i in range(len(chunks))]
    assert len(chunks) == math.ceil(11 / chunk_size)
    real = np.concatenate([c.trial_ids[c.valid] for c in chunks])
    np.testing.assert_array_equal(real, group.trial_ids)
    for chunk in chunks:
        assert len(chunk) % multiple == 0
        assert chunk.num_valid <= chunk_size
        assert chunk.valid[: chunk.num_valid].all() and not chunk.valid[chunk.num_valid :].any()
        # Padding repeats a real trial, so it trains on sensible values.
        for name in ("trial_ids", "seeds"):
            padded = getattr(chunk, name)[~chunk.valid]
            assert set(padded.tolist()) <= set(getattr(chunk, name)[chunk.valid].tolist())
        assert chunk.dynamic["learning_rate"].dtype == np.float32
        assert len(chunk.dynamic["learning_rate"]) == len(chunk)
    # Boundaries do not depend on the device count, so resumes match.
    unpadded = chunk_group(group, chunk_size, 1)
    assert [c.id for c in unpadded] == [c.id for c in chunks]
    for a, b in zip(unpadded, chunks):
        np.testing.assert_array_equal(a.trial_ids, b.trial_ids[b.valid])


def test_plan_chunks_and_chunk_arguments():
    plan = random_plan(small_space(), 30, seed=0, known=KNOWN)
    chunks = plan_chunks(plan, 8, 2)
    assert len({c.id for c in chunks}) == len(chunks)
    assert sorted(int(i) for c in chunks for i in c.trial_ids[c.valid]) == [t.id for t in plan]
    (group,) = Plan((Trial(0, {}, {"learning_rate": 0.1}, 0),)).groups()
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_group(group, 0)
    with pytest.raises(ValueError, match="multiple"):
        chunk_group(group, 4, 0)


# ---------------------------------------------------------------------------
# Successive halving


@pytest.mark.parametrize(
    "min_epochs, max_epochs, eta, expected",
    [
        (1, 27, 3, [1, 3, 9, 27]),
        (2, 20, 3, [2, 6, 18, 20]),
        (1, 10, 2, [1, 2, 4, 8, 10]),
        (5, 5, 3, [5]),
        (1, 4, 1.5, [1, 2, 3, 4]),
    ],
)
def test_halving_rungs(min_epochs, max_epochs, eta, expected):
    assert halving_rungs(min_epochs, max_epochs, eta) == expected


@pytest.mark.parametrize("args", [(0, 5, 3), (6, 5, 3), (1, 5, 1), (1, 5.5, 3)])
def test_halving_rungs_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        halving_rungs(*args)


def test_successive_halving_keeps_the_best_fraction():
    ids = list(range(10))
    losses = [0.9, 0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 1.0]
    assert successive_halving(ids, losses, eta=3) == [1, 5, 3, 7]  # ceil(10 / 3) = 4
    assert successive_halving(ids, losses, eta=2) == [1, 5, 3, 7, 2]
    accuracies = [1 - x for x in losses]
    assert successive_halving(ids, accuracies, eta=3, maximize=True) == [1, 5, 3, 7]


def test_successive_halving_breaks_ties_by_id_and_ranks_divergence_last():
    ids = [12, 4, 9, 7]
    assert successive_halving(ids, [0.5, 0.5, 0.2, 0.5], eta=2) == [9, 4]
    nan, inf = float("nan"), float("inf")
    assert rank_trials([3, 1, 2, 0], [nan, 0.4, -inf, 0.9]) == [1, 0, 2, 3]
    assert rank_trials([0, 1, 2], [0.1, 0.2, 0.3], diverged=[0]) == [1, 2, 0]
    assert rank_trials([0, 1], [None, 0.3]) == [1, 0]
    # A diverged trial survives only when too few trials are finite.
    assert successive_halving([0, 1, 2], [nan, 0.3, nan], eta=1.5) == [1, 0]
    assert successive_halving([], [], eta=3) == []
    with pytest.raises(ValueError, match="eta"):
        successive_halving([0], [0.1], eta=1)
    with pytest.raises(ValueError, match="scores"):
        rank_trials([0, 1], [0.1])


def test_halving_plan_records_its_rungs():
    space = Space({"learning_rate": loguniform(1e-4, 1e-1)}, seeds=1)
    plan = halving_plan(space, 27, min_epochs=1, max_epochs=9, eta=3, seed=0, known={})
    assert plan.info["strategy"] == "halving" and plan.info["rungs"] == [1, 3, 9]
    assert len(plan) == 27
    assert plan.fingerprint() != halving_plan(space, 27, 1, 27, 3, 0, {}).fingerprint()
    with pytest.raises(ValueError, match="'epochs'"):
        halving_plan(Space({"epochs": 5}), 4, 1, 9)


# ---------------------------------------------------------------------------
# TOML configuration

EXAMPLE = """
[space]
activation = {choice = ["relu", "elu"]}
hidden = {choice = [[64], [128, 64]]}
learning_rate = {loguniform = [1e-4, 1e-1]}
batch_norm = {choice = ["none", "before"]}
init = "none"
epochs = 20

[sweep]
strategy = "random"
num_samples = 32
seeds = 2
seed = 0
"""


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_config_reads_space_and_settings(tmp_path):
    space, settings = load_config(write(tmp_path, EXAMPLE))
    assert space.seeds == 2
    assert space.params["activation"] == choice("relu", "elu")
    assert space.params["hidden"] == choice((64,), (128, 64))
    assert space.params["learning_rate"] == loguniform(1e-4, 1e-1)
    assert space.params["batch_norm"] == choice(None, "before")
    assert space.params["init"] is None
    assert space.params["epochs"] == 20
    assert settings == {"strategy": "random", "num_samples": 32, "seed": 0}
    plan = build_plan(space, settings, known=KNOWN)
    assert len(plan) == 64
    assert plan == random_plan(space, 32, seed=0, known=KNOWN)


def test_load_config_grid_and_halving(tmp_path):
    grid_text = (
        '[space]\nlearning_rate = {loggrid = [1e-3, 1e-1, 3]}\nmomentum = {grid = [0.0, 0.9]}\n'
        '[sweep]\nstrategy = "grid"\n'
    )
    space, settings = load_config(write(tmp_path, grid_text))
    assert len(build_plan(space, settings, known={})) == 6
    halving_text = (
        '[space]\nlearning_rate = {loguniform = [1e-4, 1e-1]}\n'
        '[sweep]\nstrategy = "halving"\nnum_samples = 9\nmin_epochs = 1\nmax_epochs = 9\n'
    )
    space, settings = load_config(write(tmp_path, halving_text, "halving.toml"))
    assert settings["eta"] == 3
    assert build_plan(space, settings, known={}).info["rungs"] == [1, 3, 9]


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("[space\nlearning_rate = 1", ["not valid TOML"]),
        ("[sweep]\nstrategy = 'grid'\n", ["[space]"]),
        ("[sapce]\nx = 1\n[space]\nlearning_rate = 0.1\n", ["sapce"]),
        ("[space]\nlearning_rate = {loguniform = [0, 1]}\n[sweep]\nnum_samples = 4\n", ["'learning_rate'", "positive"]),
        ("[space]\nlearning_rate = {normal = [0, 1]}\n[sweep]\nnum_samples = 4\n", ["'space.learning_rate'", "normal"]),
        ("[space]\nlearning_rate = 0.1\n[sweep]\nnum_sample = 4\n", ["'sweep.num_sample'", "num_samples"]),
        ("[space]\nlearning_rate = 0.1\n[sweep]\nstrategy = 'bayes'\n", ["'sweep.strategy'", "bayes"]),
        ("[space]\nlearning_rate = 0.1\n[sweep]\nstrategy = 'random'\n", ["'sweep.num_samples'", "required"]),
        ("[space]\nlearning_rate = 0.1\n[sweep]\nnum_samples = 4\nseeds = 0\n", ["'sweep.seeds'"]),
        ("[space]\nactivation = {uniform = [0, 1]}\n[sweep]\nnum_samples = 4\n", ["'activation'", "static"]),
    ],
)
def test_load_config_errors_name_the_file_and_key(tmp_path, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("module", [config, distributions, plans, space, strategies])
def test_module_exports_exist(module):
    for name in module.__all__:
        assert hasattr(module, name), name
