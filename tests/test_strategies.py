"""Search strategies as stages: the protocol, PBT, coarse-to-fine and Optuna batch search."""

import math
import os

import numpy as np
import pytest

from jaxdl import cli
from jaxdl import registry
from jaxdl.sweep import (REQUIRED, Plan, RunStore, Setting, Space, Stage, Strategy, build_plan, choice, load_config,
                         loguniform, random_plan, rank_trials, run_sweep, strategies, uniform)
from jaxdl.sweep import engine

import sweep_worker
from test_sweep_engine import TIMEOUT, Interrupted, assert_records_close, kill_after_first_chunk, run_worker


@pytest.fixture(scope="module")
def data():
    return sweep_worker.tiny_data()


def _exact(got, expected):
    """Records equal bit for bit in every number, wall and carry times aside."""
    assert_records_close(got, expected, tol=0)


# ---------------------------------------------------------------------------
# The protocol: a strategy written here plugs in without touching engine or store


class Twice(Strategy):
    """Everyone for ``epochs``, then the best ``keep_best`` once more for as long, continuing."""

    name = "test_twice"
    settings = {"num_samples": Setting(REQUIRED, lambda v: None, "configurations"),
                "keep_best": Setting(2, lambda v: None if isinstance(v, int) and v >= 1 else "a count", "survivors")}

    @classmethod
    def make_plan(cls, space, settings, known=None):
        plan = random_plan(space, settings["num_samples"], settings["seed"], known)
        return Plan(plan.trials, {**plan.info, "strategy": cls.name, "keep_best": settings["keep_best"]})

    def first(self):
        return Stage(0, self.plan, keep_carry=True, candidate=False, prefix="s0-")

    def next(self, stage, records):
        if stage.index == 1:
            return None
        best = self.rank(records)[: self.plan.info["keep_best"]]
        return Stage(1, self.plan.select(best), parents={i: i for i in best}, prefix="s1-")


@pytest.fixture
def twice():
    registry.register_strategy(Twice.name, Twice)
    yield Twice
    registry.STRATEGIES.unregister(Twice.name)


def _space(**extra):
    return Space({"hidden": (16,), "batch_size": 32, "optimizer": "adam",
                  "learning_rate": loguniform(1e-3, 1e-1), **extra}, seeds=1)


def test_a_strategy_written_here_plugs_in(twice, data, tmp_path):
    plan = build_plan(_space(epochs=2), {"strategy": "test_twice", "num_samples": 4, "seed": 0})
    result = run_sweep(plan, data, tmp_path / "run", chunk_size=4, progress=False)
    first = [r for r in result.records if r["stage"] == 0]
    second = [r for r in result.records if r["stage"] == 1]
    assert len(first) == 4 and len(second) == 2
    assert sorted(r["id"] for r in second) == sorted(rank_trials([r["id"] for r in first],
                                                                 [r["final"]["val_accuracy"] for r in first], True)[:2])
    by_id = {r["id"]: r for r in first}
    for record in second:
        assert record["parent"] == record["id"] and record["candidate"]
        # the history goes on from the parent's two epochs
        assert record["history"]["val_loss"][:2] == by_id[record["id"]]["history"]["val_loss"]
        assert len(record["history"]["val_loss"]) == 4
    assert all(r["parent"] is None and not r["candidate"] for r in first)
    assert [s["stage"] for s in result.summary["stages"]] == [0, 1]
    assert result.summary["best"]["id"] in {r["id"] for r in second}  # only candidates compete
    assert RunStore(tmp_path / "run").best()["id"] == result.summary["best"]["id"]
    again = run_sweep(plan, data, tmp_path / "run", chunk_size=4, progress=False)  # replayed from disk
    assert again.chunks_run == 0
    _exact(again.records, result.records)


def test_a_registered_strategy_takes_its_settings_from_toml(twice, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[space]\nlearning_rate = {loguniform = [1e-3, 1e-1]}\nepochs = 2\n'
                    '[sweep]\nstrategy = "test_twice"\nnum_samples = 3\nkeep_best = 1\n')
    space, settings = load_config(path)
    assert settings == {"strategy": "test_twice", "seed": 0, "num_samples": 3, "keep_best": 1}
    assert build_plan(space, settings).info["keep_best"] == 1


@pytest.mark.parametrize("sweep, fragment", [
    ('strategy = "pbt"\nnum_samples = 4\nmax_epochs = 4\neta = 3\n', "'sweep.eta': not a setting of strategy 'pbt'"),
    ('strategy = "pbtt"\n', "unknown strategy 'pbtt'; did you mean 'pbt'?"),
    ('strategy = "pbt"\nnum_samples = 4\n', "'sweep.max_epochs': required by strategy 'pbt'"),
    ('strategy = "pbt"\nnum_samples = 4\nmax_epochs = 4\nquantile = 0.9\n', "'sweep.quantile': must be a number in (0, 0.5]"),
    ('strategy = "optuna"\nnum_samples = 4\nsampler = "gp"\n', "'sweep.sampler': must be one of tpe, cmaes, random, qmc"),
    ('strategy = "random"\nnum_samples = 4\nbatch = 2\n', "not a setting of strategy 'random' (it is one of optuna)"),
])
def test_strategy_settings_are_checked_up_front(tmp_path, sweep, fragment):
    path = tmp_path / "c.toml"
    path.write_text('[space]\nlearning_rate = {loguniform = [1e-3, 1e-1]}\n[sweep]\n' + sweep)
    with pytest.raises(ValueError) as error:
        load_config(path)
    assert fragment in str(error.value) and str(path) in str(error.value)


def test_pbt_needs_whole_intervals_and_no_epochs_in_the_space():
    with pytest.raises(ValueError, match="not a whole number of intervals of 3"):
        build_plan(_space(), {"strategy": "pbt", "num_samples": 4, "max_epochs": 10, "interval": 3})
    with pytest.raises(ValueError, match="'epochs': population-based training sets epochs"):
        build_plan(_space(epochs=4), {"strategy": "pbt", "num_samples": 4, "max_epochs": 4})
    plan = build_plan(_space(), {"strategy": "pbt", "num_samples": 4, "max_epochs": 30})
    assert plan.info["interval"] == 3 and plan.info["intervals"] == list(range(3, 31, 3))


def test_every_strategy_is_listed_in_the_sweep_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("grid", "random", "halving", "pbt", "coarse_to_fine", "optuna"):
        assert name in text


# ---------------------------------------------------------------------------
# PBT: exploit and explore


def _members(scores, learning_rates, static=None):
    return [{"id": i, "static": static or {"activation": "relu"}, "dynamic": {"learning_rate": lr}, "status": "ok",
             "final": {"val_accuracy": s}} for i, (s, lr) in enumerate(zip(scores, learning_rates))]


def test_exploit_replaces_the_bottom_quarter_with_copies_of_the_top_quarter():
    space = Space({"learning_rate": loguniform(1e-4, 1.0)})
    scores = [0.5, 0.9, 0.1, 0.7, 0.3, 0.95, 0.2, 0.6]  # best: 5 and 1; worst: 2 and 6
    rates = [0.001 * (i + 1) for i in range(8)]
    members = _members(scores, rates)
    parents, dynamic = strategies.exploit_and_explore(
        members, space, np.random.default_rng(0), maximize=True, score=lambda m: m["final"]["val_accuracy"],
        resample_probability=0.0)
    assert {i for i, p in parents.items() if p != i} == {2, 6}
    assert {parents[2], parents[6]} <= {5, 1}
    for i in range(8):
        if i in (2, 6):  # a copy of its donor's value times 0.8 or 1.2
            ratio = dynamic[i]["learning_rate"] / rates[parents[i]]
            assert min(abs(ratio - 0.8), abs(ratio - 1.2)) < 1e-12
        else:
            assert parents[i] == i and dynamic[i] == {"learning_rate": rates[i]}


def test_explore_resamples_inside_the_range_and_is_deterministic():
    space = Space({"learning_rate": loguniform(1e-4, 1e-3), "dropout_rate": uniform(0.0, 0.5)})
    members = [{**m, "dynamic": {"learning_rate": 9e-4, "dropout_rate": 0.45}} for m in _members(range(8), [0] * 8)]
    run = lambda seed, p: strategies.exploit_and_explore(  # noqa: E731
        members, space, np.random.default_rng(seed), maximize=True, score=lambda m: m["final"]["val_accuracy"],
        resample_probability=p)
    assert run(1, 0.5) == run(1, 0.5)
    for seed in range(20):
        _, dynamic = run(seed, 1.0 if seed % 2 else 0.0)
        for values in dynamic.values():
            assert 1e-4 <= values["learning_rate"] < 1e-3 and 0.0 <= values["dropout_rate"] < 0.5


def test_exploit_stays_within_a_static_group_and_diverged_members_are_replaced():
    space = Space({"activation": choice("relu", "tanh"), "learning_rate": loguniform(1e-4, 1.0)})
    members = _members([0.9, 0.8, 0.1, 0.2], [1e-3] * 4) + [
        {**m, "id": m["id"] + 4} for m in _members([0.3, 0.4, 0.5, 0.6], [1e-2] * 4, {"activation": "tanh"})]
    members[1]["status"] = "diverged"
    parents, _ = strategies.exploit_and_explore(members, space, np.random.default_rng(0), maximize=True,
                                                score=lambda m: m["final"]["val_accuracy"])
    moved = {i: p for i, p in parents.items() if p != i}
    assert moved == {1: 0, 4: 7}  # the diverged relu member copies the best relu member; tanh copies tanh


# ---------------------------------------------------------------------------
# PBT in the engine


@pytest.fixture(scope="module")
def pbt_plan():
    return sweep_worker.plan("pbt")


@pytest.fixture(scope="module")
def pbt(pbt_plan, data, tmp_path_factory):
    return run_sweep(pbt_plan, data, tmp_path_factory.mktemp("pbt"), chunk_size=8, progress=False)


def test_pbt_members_continue_their_parents_and_the_last_interval_competes(pbt, pbt_plan):
    assert [s["stage"] for s in pbt.summary["stages"]] == [0, 1, 2, 3]
    by_key = {(r["id"], r["stage"]): r for r in pbt.records}
    for stage in (1, 2, 3):
        moved = [r for r in pbt.records if r["stage"] == stage and r["parent"] != r["id"]]
        assert len(moved) == 2  # ceil(0.25 * 8)
        for record in pbt.records:
            if record["stage"] != stage:
                continue
            parent = by_key[(record["parent"], stage - 1)]
            assert record["history"]["val_loss"][:stage] == parent["history"]["val_loss"]
            assert len(record["history"]["val_loss"]) == stage + 1
            if record["parent"] == record["id"]:
                assert record["dynamic"] == parent["dynamic"]
            else:
                ratio = record["dynamic"]["learning_rate"] / parent["dynamic"]["learning_rate"]
                resampled = 1e-4 <= record["dynamic"]["learning_rate"] < 3e-1
                assert min(abs(ratio - 0.8), abs(ratio - 1.2)) < 1e-6 or resampled
    assert pbt.summary["num_records"] == 8  # the last interval's members, each its own configuration
    assert {c["trial_ids"][0] for c in pbt.summary["configurations"]} == set(range(8))
    assert os.listdir(os.path.join(pbt.store.path, "carries")) == []


def test_pbt_copies_are_exact(data):
    # Explore off: a replaced member trains on with its donor's state and hyperparameters, so the next
    # interval's numbers of the two are the same bit for bit.
    plan = build_plan(_space(), {"strategy": "pbt", "num_samples": 4, "max_epochs": 2, "interval": 1,
                                 "resample_probability": 0.0, "perturb": [1.0], "seed": 0})
    result = run_sweep(plan, data, None, chunk_size=4, progress=False)
    last = {r["id"]: r for r in result.records if r["stage"] == 1}
    copies = [r for r in last.values() if r["parent"] != r["id"]]
    assert len(copies) == 1
    copy, donor = copies[0], last[copies[0]["parent"]]
    assert copy["dynamic"] == donor["dynamic"]
    assert copy["history"] == donor["history"] and copy["final"] == donor["final"]
    assert copy["carry_time"] >= 0


def test_pbt_compiles_its_interval_program_once(pbt_plan, data, monkeypatch):
    programs = {}
    compiled = engine._compiled

    def spy(config, *args):
        program = compiled(config, *args)
        programs.setdefault((config, *args), program)
        return program

    engine._compiled.cache_clear()
    monkeypatch.setattr(engine, "_compiled", spy)
    run_sweep(pbt_plan, data, None, chunk_size=8, progress=False)
    assert len(programs) == 1  # one static group: every interval asks for the same program
    (program,) = programs.values()
    assert program._cache_size() == 1  # and it was traced and compiled once


def test_pbt_in_memory_and_resumed_after_each_interval_give_the_same_records(pbt, pbt_plan, data, tmp_path):
    in_memory = run_sweep(pbt_plan, data, None, chunk_size=8, progress=False)
    _exact(in_memory.records, pbt.records)
    out = tmp_path / "stopped"
    for stop in range(3):  # stop after each interval in turn, then go on from the checkpoint
        ran = []

        def stop_after(chunk_id, records, stop=stop):
            ran.append(chunk_id)
            if chunk_id.startswith(f"s{stop}-"):
                raise Interrupted(chunk_id)

        with pytest.raises(Interrupted):
            run_sweep(pbt_plan, data, out, chunk_size=8, progress=False, on_chunk=stop_after)
        assert ran == [f"s{stop}-g0-c0"]  # everything before it was found on disk
        # The boundary's checkpoint is on disk; the one before it goes once this stage is over.
        assert f"s{stop}-g0-c0.npz" in os.listdir(out / "carries")
        assert set(os.listdir(out / "carries")) <= {f"s{stop - 1}-g0-c0.npz", f"s{stop}-g0-c0.npz"}
    result = run_sweep(pbt_plan, data, out, chunk_size=8, progress=False)
    assert result.chunks_run == 1
    _exact(result.records, pbt.records)


def _kill_after_first_chunk(out, plan):
    # Compiled as this process compiles (the same XLA flags), so that the numbers can be compared bit for bit.
    return kill_after_first_chunk(run_worker(out, "--plan", plan, "--chunk-size", 8, "--mode", "auto",
                                             "--pause-after-first-chunk", 600,
                                             env={"XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}))


# A subprocess; the in-process interruption after each interval above stays in the default tier.
@pytest.mark.slow
def test_pbt_killed_after_its_first_interval_resumes_to_the_same_records(pbt, pbt_plan, data, tmp_path):
    out = tmp_path / "killed"
    assert _kill_after_first_chunk(out, "pbt") == ["s0-g0-c0"]
    assert os.listdir(out / "carries") == ["s0-g0-c0.npz"]  # the checkpoint of the interval boundary
    result = run_sweep(pbt_plan, data, out, chunk_size=8, progress=False)
    assert (result.chunks_run, result.chunks_skipped) == (3, 1)
    _exact(result.records, pbt.records)


@pytest.mark.slow  # a subprocess on four devices; the engine's own four-device test stays in the default tier
def test_pbt_on_four_devices_gives_the_one_device_numbers(pbt, tmp_path):
    out = tmp_path / "four"
    worker = run_worker(out, "--plan", "pbt", "--chunk-size", 8, "--mode", "auto",
                        env={"JAX_NUM_CPU_DEVICES": "4", "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")})
    output, _ = worker.communicate(timeout=TIMEOUT)
    assert worker.returncode == 0 and "DEVICES 4" in output, output[-4000:]
    # The same members copied, with the same hyperparameters, every interval (compared exactly); the numbers
    # agree to the float32 rounding of a sharded matmul, grown over four epochs (3.8e-6 at most, measured).
    assert_records_close(RunStore(out).records(), pbt.records, tol=1e-5)


# ---------------------------------------------------------------------------
# Coarse to fine


def test_shrink_space_keeps_the_kind_and_spans_the_given_values():
    space = Space({"learning_rate": loguniform(1e-5, 1.0), "dropout_rate": uniform(0.0, 0.5),
                   "activation": choice("relu", "tanh"), "b1": choice(0.8, 0.9, 0.95)})
    shrunk = strategies.shrink_space(space, [{"learning_rate": 1e-3, "dropout_rate": 0.1, "b1": 0.9},
                                             {"learning_rate": 1e-2, "dropout_rate": 0.3, "b1": 0.95}])
    assert shrunk.params["learning_rate"] == loguniform(1e-3, 1e-2)
    assert shrunk.params["dropout_rate"] == uniform(0.1, 0.3)
    assert shrunk.params["activation"] == choice("relu", "tanh")
    assert shrunk.params["b1"] == choice(0.9, 0.95)
    assert strategies.shrink_space(space, [{"learning_rate": 1e-3}]).params["learning_rate"] == 1e-3


def test_coarse_to_fine_samples_each_stage_around_the_best_so_far(data):
    plan = build_plan(_space(epochs=2, learning_rate=loguniform(1e-4, 1.0)),
                      {"strategy": "coarse_to_fine", "num_samples": 6, "stages": 3, "top_k": 2, "seed": 0})
    result = run_sweep(plan, data, None, chunk_size=6, progress=False)
    assert sorted({r["stage"] for r in result.records}) == [0, 1, 2]
    assert len({r["id"] for r in result.records}) == 18  # new trials every stage
    for stage in (1, 2):
        before = [r for r in result.records if r["stage"] < stage]
        top = sorted(before, key=lambda r: -r["final"]["val_accuracy"])[:2]
        low, high = sorted(r["dynamic"]["learning_rate"] for r in top)
        drawn = [r["dynamic"]["learning_rate"] for r in result.records if r["stage"] == stage]
        assert all(low <= lr <= high for lr in drawn)
        assert result.summary["stages"][stage]["space"]["learning_rate"] == {"loguniform": [low, high]}
    assert result.summary["num_records"] == 18  # every stage competes


# ---------------------------------------------------------------------------
# Optuna


@pytest.fixture(scope="module")
def optuna_plan():
    pytest.importorskip("optuna")
    return sweep_worker.plan("optuna")


@pytest.fixture(scope="module")
def optuna_run(optuna_plan, data, tmp_path_factory):
    return run_sweep(optuna_plan, data, tmp_path_factory.mktemp("optuna"), chunk_size=4, progress=False)


def test_optuna_asks_in_batches_and_is_told_every_result(optuna_run):
    import optuna

    records = optuna_run.records
    assert len(records) == 8 and sorted({r["stage"] for r in records}) == [0, 1]
    study = optuna.load_study(study_name="jaxdl", storage=f"sqlite:///{optuna_run.store.path}/optuna.db")
    done = {t.user_attrs["jaxdl_configuration"]: t for t in study.trials}
    assert len(done) == 8 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done.values())
    for record in records:
        trial = done[record["id"]]
        assert trial.value == record["final"]["val_accuracy"]
        assert trial.params["activation"] == record["static"]["activation"]
        assert trial.params["learning_rate"] == record["dynamic"]["learning_rate"]


def test_optuna_is_reproducible_and_resumes_after_an_interruption(optuna_run, optuna_plan, data, tmp_path):
    again = run_sweep(optuna_plan, data, tmp_path / "again", chunk_size=4, progress=False)
    _exact(again.records, optuna_run.records)
    out = tmp_path / "stopped"

    def stop(chunk_id, records):
        if chunk_id.startswith("s1-"):
            raise Interrupted(chunk_id)

    with pytest.raises(Interrupted):
        run_sweep(optuna_plan, data, out, chunk_size=4, progress=False, on_chunk=stop)
    result = run_sweep(optuna_plan, data, out, chunk_size=4, progress=False)
    _exact(result.records, optuna_run.records)


def test_optuna_batch_asked_in_part_is_asked_again(optuna_run, optuna_plan, data, tmp_path):
    import optuna

    out = tmp_path / "partial"

    def stop(chunk_id, records):
        raise Interrupted(chunk_id)

    with pytest.raises(Interrupted):
        run_sweep(optuna_plan, data, out, chunk_size=8, progress=False, on_chunk=stop)
    # As if killed while asking the second batch: one of its trials is in the study, the rest are not.
    study = optuna.load_study(study_name="jaxdl", storage=f"sqlite:///{out}/optuna.db")
    stray = study.ask()
    stray.set_user_attr("jaxdl_configuration", 4)
    stray.suggest_categorical("activation", ["relu", "tanh"])
    result = run_sweep(optuna_plan, data, out, chunk_size=8, progress=False)
    _exact(result.records, optuna_run.records)


@pytest.mark.slow  # a killed subprocess; the in-process interruption tests above stay in the default tier
def test_optuna_killed_after_its_first_chunk_resumes_to_the_same_records(optuna_run, optuna_plan, data, tmp_path):
    out = tmp_path / "killed"
    first = _kill_after_first_chunk(out, "optuna")
    assert len(first) == 1 and first[0].startswith("s0-")
    result = run_sweep(optuna_plan, data, out, chunk_size=8, progress=False)
    _exact(result.records, optuna_run.records)


def test_a_missing_optuna_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna" or name.startswith("optuna."):
            raise ImportError("No module named 'optuna'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    with pytest.raises(ImportError, match=r"pip install 'jaxdl\[optuna\]'"):
        build_plan(_space(epochs=2), {"strategy": "optuna", "num_samples": 4})


def test_results_do_not_depend_on_when_the_metric_is_nan():
    assert math.isnan(Strategy(Plan(())).score({"status": "diverged", "final": {"val_accuracy": 0.5}}))


def test_report_follows_every_final_member_back_along_its_lineage(pbt, tmp_path):
    from jaxdl.sweep import report

    found = report.lineages(pbt.records)
    assert found["names"] == ["learning_rate"] and found["epochs"] == [1, 2, 3, 4]
    assert sorted(found["members"]) == list(range(8))
    by_key = {(r["id"], r["stage"]): r for r in pbt.records}
    for member, values in found["members"].items():
        trial, rates = member, []
        for stage in (3, 2, 1, 0):
            record = by_key[(trial, stage)]
            rates.append(record["dynamic"]["learning_rate"])
            trial = record["parent"]
        assert values["learning_rate"] == rates[::-1]
    for stage, (best, median) in enumerate(zip(found["best"], found["median"])):
        scores = [r["final"]["val_accuracy"] for r in pbt.records if r["stage"] == stage]
        assert best == max(scores) and median == float(np.median(scores))
    written = report.write_report(pbt.records, tmp_path, metric="val_accuracy")
    assert os.path.getsize(written["paths"]["lineage_figure"]) > 10_000
    assert report.lineages([r for r in pbt.records if r["stage"] == 0]) is None  # one stage: nothing changed


def test_the_readme_strategy_examples_load_and_plan(tmp_path):
    import re

    text = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    found = set()
    for number, block in enumerate(blocks):
        path = tmp_path / f"{number}.toml"
        path.write_text(block)
        space, settings = load_config(path)
        found.add(settings["strategy"])
        if settings["strategy"] != "optuna" or pytest.importorskip("optuna"):
            assert build_plan(space, settings).info["strategy"] == settings["strategy"]
    assert {"pbt", "optuna"} <= found
