"""Time a vmapped learning-rate sweep against the ways people run sweeps today.

One run trains the same population of N trials (learning rates log-spaced
from 1e-4 to 1e-1, two seeds each) of an MLP (64 -> 64 -> 64 -> 10, ReLU) on
the digits data (60/20/20 stratified split, standardised with the training
set's statistics) with Adam, batch 128, 20 epochs, four ways:

(a) a Python loop over trials that builds ``optax.adam(lr)`` and a fresh
    ``jax.jit`` of a new closure per trial, so every trial recompiles, and
    loops over epochs and mini-batches in Python;
(b) a Python loop over trials with one shared jitted step, the learning rate
    an argument through ``optax.inject_hyperparams(optax.adam)`` (compiled
    once), looping over epochs and mini-batches in Python;
(c) jaxdl's pure run, ``jaxdl.train.jit(partial(jaxdl.train.train, config))``,
    compiled once and called trial after trial;
(d) jaxdl's sweep: the engine's program for a chunk,
    ``jaxdl.sweep.population_program(config)`` (``jaxdl.train.jit`` of
    ``jax.vmap`` of the run), compiled once and called through
    ``jaxdl.sweep.run_in_parts``, which on one CPU device runs one slice of
    the population per core from host threads (XLA:CPU runs each operation
    on one core; the slices use all of them); and ``jaxdl.sweep.run_sweep``
    in memory, which adds planning and per-trial records.

``jaxdl.train.jit`` is ``jax.jit`` with the compiler options jaxdl compiles
its own programs with (on XLA:CPU ``xla_backend_optimization_level=1``, see
``jaxdl/_xla.py``); (a) and (b) use plain ``jax.jit``, as their users do.

Every way does the same work per trial: the same model and initialisation
(the jaxdl MLP through nnx split/merge; (a) and (b) share one jitted
initialiser so that they differ only in how the step is compiled), a fresh
shuffle every epoch, floor(1078 / 128) = 8 steps per epoch, and the
validation loss and accuracy after every epoch; (a) and (b) also keep the
training loss and accuracy per epoch, as the jaxdl run does.

Times are wall-clock seconds. "End to end" starts from cleared caches
(``jax.clear_caches()``), with nothing compiled, and stops when every trial's
metrics are on the host; "compiled" repeats the same work with the compiled
program(s) kept ((a) recompiles every trial by design, so it has no compiled
time of its own; for ``run_sweep`` it is a second call, which reuses the
program the engine keeps). (a) is measured on fewer trials, spread over the
learning-rate range, and extrapolated linearly to N.

The sweep's FLOP/s count

    6 * parameters * examples      per training step (forward 2, backward 4)
    2 * parameters * examples      per evaluation (validation every epoch,
                                   validation and test at the end)

because XLA's ``cost_analysis()`` counts the body of each ``lax.scan`` once,
not once per iteration (the table shows its figure next to the count). The
yardstick is a jitted float32 matrix product (2048 x 2048 by default),
median of several calls, measured in the same run.

Repeated timings are summarised by their median (``--statistic min`` on a
busy machine). Next to each wall-clock time the results keep the process's
CPU time (all threads), which other processes' load disturbs far less.

The persistent compilation cache (``jaxdl._xla.enable_compilation_cache``,
on by default for the ``jaxdl`` command) is measured with the same sweep of
N trials run by ``jaxdl.sweep.run_sweep`` in a first and then a second fresh
Python process, which share one fresh cache folder under ``runs/benchmarks/``
(removed afterwards). Each process sums what ``jax.monitoring`` reports for
every program it compiles, data preparation included: XLA's compile time
(``/jax/core/compile/backend_compile_duration``, which times
``compile_or_get_cached`` and so, on a hit, the cache lookup and the loading
of the stored executable instead), the tracing and lowering that come before
it (nested programs may count inside their callers), and the cache's hits and
writes. The target is on XLA's compile time: the second process's at most
20% of the first's. Tracing and lowering are repeated in every process (the
cache key is a hash of the lowered program), so they are shown beside it,
with both processes' wall time of data preparation and sweep.

Run ``python -m benchmarks.sweep`` (``--quick`` for a check, about 40 s on a
quiet 2-core CPU; ``--help`` for the options). A Markdown table goes to standard
output and the results to ``runs/benchmarks/sweep.json``
(``runs/benchmarks/quick/sweep.json`` with ``--quick``) or ``--out``;
``--update-results`` writes the committed ``benchmarks/results/sweep.json``
instead (``--out benchmarks/results/sweep_gpu.json`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks import open_run
from experiments import common
from jaxdl import _xla
from jaxdl import data as data_lib
from jaxdl import models, sweep
from jaxdl import train as train_lib

HIDDEN = (64, 64)
BATCH_SIZE = 128
EPOCHS = 20
LEARNING_RATES = (1e-4, 1e-1)
SEEDS_PER_RATE = 2
SCALING = (1, 4, 16, 64, 256)
SCALING_GPU = SCALING + (1024, 4096)
MAX_TRIALS = {"gpu": 4096}
MAX_TRIALS_OTHER = 256
STATISTICS = {"median": statistics.median, "min": min}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What jax.monitoring reports while a process compiles; see ``sweep_in_this_process``.
COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    "/jax/core/compile/backend_compile_duration": "xla_s",
}
CACHE_EVENTS = {"/jax/compilation_cache/cache_hits": "hits", "/jax/compilation_cache/cache_misses": "writes"}
COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sweep.json")

# Targets at N = 64 on a 2-core CPU.
TARGET_VS_LOOP_FRESH_JIT = 20.0
TARGET_VS_LOOP_SHARED_JIT = 1.5
TARGET_VS_LOOP_SHARED_JIT_COMPILED = 3.0
TARGET_FRACTION_OF_MATMUL = 0.4
# The second process's XLA compile time over the first's, with the persistent compilation cache.
TARGET_CACHED_COMPILE = 0.2
# Per-trial time counts as falling while each N is no more than this much
# slower per trial than the previous (machine noise), and the largest N is
# clearly cheaper per trial than N = 1.
SCALING_NOISE = 1.05

METHODS = {
    "a": "(a) Python loop, fresh jit per trial",
    "b": "(b) Python loop, one jit, inject_hyperparams",
    "c": "(c) jaxdl run, jit once, trial by trial",
    "d": "(d) jaxdl vmapped sweep, one call",
    "run_sweep": "(d') jaxdl run_sweep, in memory",
}


# ---------------------------------------------------------------------------
# The problem


def load_data(seed: int = 0) -> train_lib.Data:
    """Digits split 60/20/20 (stratified), standardised with the training split's statistics."""
    parts = data_lib.split_dataset(data_lib.load_digits(), (0.6, 0.2, 0.2), key=seed, stratify=True)
    standardizer = data_lib.Standardizer.fit(parts[0].x)
    return train_lib.Data.from_splits(*(part._replace(x=standardizer.apply(part.x)) for part in parts))


def make_plan(num_trials: int, epochs: int) -> sweep.Plan:
    """``num_trials`` trials: log-spaced learning rates, two seeds each (one when N is odd)."""
    seeds = SEEDS_PER_RATE if num_trials % SEEDS_PER_RATE == 0 else 1
    rates = np.geomspace(*LEARNING_RATES, num_trials // seeds)
    space = sweep.Space(
        {
            "learning_rate": sweep.grid(*(float(r) for r in rates)),
            "hidden": HIDDEN,
            "activation": "relu",
            "optimizer": "adam",
            "batch_size": BATCH_SIZE,
            "epochs": epochs,
        },
        seeds=seeds,
    )
    return sweep.grid_plan(space)


def plan_config(plan: sweep.Plan) -> train_lib.TrainConfig:
    (group,) = plan.groups()
    return sweep.group_config(group.static)


def plan_trials(plan: sweep.Plan) -> list[tuple[float, int]]:
    return [(trial.dynamic["learning_rate"], trial.seed) for trial in plan]


def num_parameters(config: train_lib.TrainConfig, data: train_lib.Data) -> int:
    shapes = jax.eval_shape(lambda key: models.split(train_lib.build_model(config, data, key))[1], jax.random.key(0))
    return models.count_params(shapes)


def flops_per_trial(config: train_lib.TrainConfig, data: train_lib.Data) -> int:
    """Multiply-add FLOPs of one trial: 6 P per training example, 2 P per evaluated example."""
    parameters = num_parameters(config, data)
    num_train, num_val, num_test = (int(a.shape[0]) for a in (data.x_train, data.x_val, data.x_test))
    steps = data_lib.steps_per_epoch(num_train, config.batch_size) * config.epochs
    training = 6 * parameters * config.batch_size * steps
    evaluation = 2 * parameters * (num_val * config.epochs + num_val + num_test)
    return training + evaluation


# ---------------------------------------------------------------------------
# (a) and (b): Python loops over trials, epochs and mini-batches


class PythonLoop:
    """The usual hand-written loop: numpy shuffles, one jitted call per mini-batch."""

    def __init__(self, config: train_lib.TrainConfig, data: train_lib.Data):
        self.config = config
        self.data = data
        self.x_train, self.y_train = np.asarray(data.x_train), np.asarray(data.y_train)
        self.val = (data.x_val, data.y_val)
        self.test = (data.x_test, data.y_test)
        self.graphdef, _, self.rest = self._split(jax.random.key(0))

    def _split(self, key):
        init_key, _ = jax.random.split(key)  # the key jaxdl.train initialises with
        return nnx.split(train_lib.build_model(self.config, self.data, init_key), nnx.Param, ...)

    def make_init(self):
        """Jitted ``key -> params``: the same initial weights as the jaxdl run."""
        return jax.jit(lambda key: self._split(key)[1])

    def _loss_and_accuracy(self, params, x, y):
        logits = nnx.merge(self.graphdef, params, self.rest)(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def make_step(self, optimizer: optax.GradientTransformation):
        """A new jitted training step (a new closure: it compiles on its first call)."""
        grad_fn = jax.value_and_grad(self._loss_and_accuracy, has_aux=True)

        def step(params, opt_state, x, y):
            (loss, accuracy), grads = grad_fn(params, x, y)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, accuracy

        return jax.jit(step, donate_argnums=(0, 1))

    def make_evaluate(self):
        """A new jitted evaluation (a new closure, as :meth:`make_step`)."""
        return jax.jit(lambda params, x, y: self._loss_and_accuracy(params, x, y))

    def fit(self, step, evaluate, params, opt_state, seed: int) -> dict:
        """Train one trial; return its per-epoch history and final test metrics on the host."""
        num_train, batch_size = len(self.x_train), self.config.batch_size
        steps = num_train // batch_size
        rng = np.random.default_rng(seed)
        history = []
        for _ in range(self.config.epochs):
            batches = rng.permutation(num_train)[: steps * batch_size].reshape(steps, batch_size)
            losses, accuracies = [], []
            for indices in batches:
                params, opt_state, loss, accuracy = step(
                    params, opt_state, self.x_train[indices], self.y_train[indices]
                )
                losses.append(loss)
                accuracies.append(accuracy)
            val_loss, val_accuracy = evaluate(params, *self.val)
            losses, accuracies, val_loss, val_accuracy = jax.device_get(
                (losses, accuracies, val_loss, val_accuracy)
            )
            history.append((np.mean(losses), np.mean(accuracies), float(val_loss), float(val_accuracy)))
        test_loss, test_accuracy = jax.device_get(evaluate(params, *self.test))
        return {"history": np.array(history), "test_accuracy": float(test_accuracy)}

    def run_fresh_jit(self, trials, init) -> list[dict]:
        """(a): per trial, ``optax.adam(lr)`` and new jitted step and evaluation."""
        results = []
        for learning_rate, seed in trials:
            params = init(jax.random.key(seed))
            optimizer = optax.adam(learning_rate)
            step, evaluate = self.make_step(optimizer), self.make_evaluate()
            results.append(self.fit(step, evaluate, params, optimizer.init(params), seed))
        return results

    def make_shared(self):
        """(b): one step with the learning rate as state, one evaluation."""
        optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=LEARNING_RATES[0])
        return optimizer, self.make_step(optimizer), self.make_evaluate()

    def run_shared_jit(self, trials, init, shared) -> list[dict]:
        optimizer, step, evaluate = shared
        results = []
        for learning_rate, seed in trials:
            params = init(jax.random.key(seed))
            opt_state = optimizer.init(params)
            opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
            results.append(self.fit(step, evaluate, params, opt_state, seed))
        return results


def best_val_accuracy(results: list[dict]) -> float:
    return float(max(np.max(r["history"][:, 3]) for r in results))


# ---------------------------------------------------------------------------
# (c) and (d): jaxdl


def run_one_by_one(run, trials, data) -> list[dict]:
    """(c): the compiled pure run, called per trial; each trial's history reaches the host."""
    results = []
    for learning_rate, seed in trials:
        hparams = train_lib.HParams(learning_rate=jnp.float32(learning_rate))
        result = run(hparams, jax.random.key(seed), data)
        results.append(jax.device_get({"history": result.history, "metrics": result.metrics}))
    return results


def population(trials):
    rates = jnp.asarray([rate for rate, _ in trials], jnp.float32)
    zeros = jnp.zeros_like(rates)
    hparams = train_lib.HParams(learning_rate=rates, weight_decay=zeros, l2=zeros, dropout_rate=zeros)
    keys = jax.vmap(jax.random.key)(jnp.asarray([seed for _, seed in trials], jnp.int32))
    return hparams, keys


def first_rows(tree, count: int):
    """Shapes and dtypes of ``tree``'s leaves cut to ``count`` rows: what a slice's program is compiled for."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((count, *x.shape[1:]), x.dtype), tree)


def _xla_flops(compiled) -> float | None:
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # some backends have no cost analysis
        return None
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])


def _timed(fn, *args, **kwargs):
    """``fn``'s result, wall-clock seconds and process CPU seconds (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


class Timings:
    """Wall-clock and CPU seconds of repeated end-to-end and compiled measurements."""

    def __init__(self):
        self.runs = {kind: {"wall": [], "cpu": []} for kind in ("end_to_end", "compiled")}

    def add(self, kind: str, wall: float, cpu: float) -> None:
        self.runs[kind]["wall"].append(wall)
        self.runs[kind]["cpu"].append(cpu)

    def summary(self, statistic) -> dict:
        out = {}
        for kind, run in self.runs.items():
            out[f"{kind}_s"] = statistic(run["wall"]) if run["wall"] else None
            out[f"{kind}_cpu_s"] = statistic(run["cpu"]) if run["cpu"] else None
            out[f"{kind}_all_s"] = run["wall"]
            out[f"{kind}_all_cpu_s"] = run["cpu"]
        return out


def measure_sweep(config, data, trials, repeats: int, timings: Timings | None = None) -> dict:
    """(d) at one N: compile and a first call, then ``repeats`` calls of the compiled program."""
    hparams, keys = population(trials)
    timings = timings if timings is not None else Timings()
    parts = sweep.default_parts(len(trials))
    part = sweep.slice_length(len(trials), parts)

    def call():
        result = sweep.run_in_parts(compiled, parts, hparams, keys, None, data)
        return jax.device_get({"history": result.history, "metrics": result.metrics})

    wall, cpu = time.perf_counter(), time.process_time()
    compiled = sweep.population_program(config).lower(*first_rows((hparams, keys), part), None, data).compile()
    compile_s, compile_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    slice_flops = _xla_flops(compiled)
    history = call()["history"]
    timings.add("end_to_end", time.perf_counter() - wall, time.process_time() - cpu)
    for _ in range(repeats):
        timings.add("compiled", *_timed(call)[1:])
    return {
        "timings": timings,
        "compile_s": compile_s,
        "compile_cpu_s": compile_cpu_s,
        "xla_flops": None if slice_flops is None else len(trials) / part * slice_flops,
        "parts": -(-len(trials) // part),
        "best_val_accuracy": float(np.nanmax(history["val_accuracy"])),
    }


def matmul_flops_per_second(size: int, calls: int) -> dict:
    """Wall and CPU seconds of ``calls`` jitted float32 ``size x size @ size x size`` after a warm-up."""
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    times = [_timed(lambda: jax.block_until_ready(matmul(a, b)))[1:] for _ in range(calls)]
    return {"wall": [wall for wall, _ in times], "cpu": [cpu for _, cpu in times]}


# ---------------------------------------------------------------------------
# The persistent compilation cache: a second process loads what the first compiled


def sweep_in_this_process(num_trials: int, epochs: int) -> dict:
    """Run the sweep with the compilation cache on, as the ``jaxdl`` command does; what compiling cost.

    Meant for a fresh process (:func:`measure_compilation_cache` starts two),
    with the cache folder in ``JAXDL_COMPILATION_CACHE``. Sums the seconds
    that ``jax.monitoring`` reports for every program the process compiles,
    data preparation included: tracing, lowering, and XLA's compilation
    (which on a cache hit is the lookup and loading of the stored program
    instead), and counts the cache's hits and writes.
    """
    measured = dict.fromkeys([*COMPILE_EVENTS.values(), *CACHE_EVENTS.values()], 0)

    def on_duration(event, seconds, **_):
        if event in COMPILE_EVENTS:
            measured[COMPILE_EVENTS[event]] += seconds

    def on_event(event, **_):
        if event in CACHE_EVENTS:
            measured[CACHE_EVENTS[event]] += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    measured["cache"] = _xla.enable_compilation_cache() is not None
    wall = time.perf_counter()
    plan = make_plan(num_trials, epochs)
    sweep.run_sweep(plan, load_data(), None, chunk_size=len(plan), progress=False)
    measured["wall_s"] = time.perf_counter() - wall
    return measured


def measure_compilation_cache(num_trials: int, epochs: int) -> dict:
    """The same sweep in a first and a second fresh process that share one fresh cache folder under runs/."""
    parent = os.path.join(common.RUNS_DIR, "benchmarks")
    os.makedirs(parent, exist_ok=True)
    folder = os.path.abspath(tempfile.mkdtemp(prefix="compilation-cache-", dir=parent))
    # A cache the user configured for JAX would take precedence: leave it out of the children.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE",
                                                                   "JAX_ENABLE_COMPILATION_CACHE"))}
    env[_xla.CACHE_VARIABLE] = folder
    code = ("import json; from benchmarks import sweep; "
            f"print(json.dumps(sweep.sweep_in_this_process({num_trials}, {epochs})))")
    processes = []
    try:
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"the sweep in a fresh process failed:\n{done.stderr[-3000:]}")
            processes.append(json.loads(done.stdout.splitlines()[-1]))
        entries = [os.path.join(folder, name) for name in os.listdir(folder)]
        size = sum(os.path.getsize(path) for path in entries)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    first, second = processes
    total = lambda p: p["trace_s"] + p["lower_s"] + p["xla_s"]
    return {
        "trials": num_trials,
        "epochs": epochs,
        "first": first,
        "second": second,
        "entries": len(entries),
        "bytes": size,
        "xla_ratio": second["xla_s"] / first["xla_s"],
        "total_ratio": total(second) / total(first),
        "wall_ratio": second["wall_s"] / first["wall_s"],
    }


# ---------------------------------------------------------------------------
# The benchmark


def _log(message: str) -> None:
    print(message, flush=True)


def _round_line(round_index: int, name: str, timings: Timings, extra: str = "") -> str:
    runs = timings.runs
    line = f"  round {round_index + 1}: {name} {runs['end_to_end']['wall'][-1]:.2f} s end to end{extra}"
    if runs["compiled"]["wall"]:
        line += f", {runs['compiled']['wall'][-1]:.2f} s compiled ({runs['compiled']['cpu'][-1]:.2f} s CPU)"
    return line


def benchmark(args) -> dict:
    statistic = STATISTICS[args.statistic]
    data = load_data()
    plan = make_plan(args.n, args.epochs)
    config = plan_config(plan)
    trials = plan_trials(plan)
    n = len(trials)
    per_trial_flops = flops_per_trial(config, data)
    loop = PythonLoop(config, data)
    load_before = os.getloadavg()
    _log(f"{n} trials, {config.epochs} epochs, batch {config.batch_size}, MLP {config.model_kwargs['hidden']}, "
         f"{num_parameters(config, data)} parameters, {jax.default_backend()} ({jax.devices()[0]}), "
         f"load average {load_before[0]:.1f}")

    timings = {name: Timings() for name in ("b", "c", "d", "run_sweep")}
    accuracy, compile_seconds, matmuls = {}, [], []
    xla_flops = None
    # Rounds interleave the ways (and the matmul yardstick), so that drift in
    # the machine's load hits all alike. Each end-to-end measurement starts
    # from cleared caches: nothing compiled in an earlier round is reused.
    for round_index in range(args.repeats):
        matmuls.append(matmul_flops_per_second(args.matmul_size, args.matmul_calls))
        jax.clear_caches()
        init, shared = loop.make_init(), loop.make_shared()
        for kind in ("end_to_end", "compiled"):
            results, wall, cpu = _timed(loop.run_shared_jit, trials, init, shared)
            timings["b"].add(kind, wall, cpu)
        accuracy["b"] = best_val_accuracy(results)
        _log(_round_line(round_index, "(b)", timings["b"]))

        run = train_lib.jit(partial(train_lib.train, config))
        for kind in ("end_to_end", "compiled"):
            results, wall, cpu = _timed(run_one_by_one, run, trials, data)
            timings["c"].add(kind, wall, cpu)
        accuracy["c"] = float(max(np.nanmax(r["history"]["val_accuracy"]) for r in results))
        _log(_round_line(round_index, "(c)", timings["c"]))

        measured = measure_sweep(config, data, trials, 1, timings["d"])
        accuracy["d"] = measured["best_val_accuracy"]
        xla_flops, parts_n = measured["xla_flops"], measured["parts"]
        compile_seconds.append(measured["compile_s"])
        _log(_round_line(round_index, "(d)", timings["d"], f" ({measured['compile_s']:.2f} s compiling)"))

        jax.clear_caches()
        for kind in ("end_to_end", "compiled"):
            swept, wall, cpu = _timed(sweep.run_sweep, plan, data, None, chunk_size=n, progress=False)
            timings["run_sweep"].add(kind, wall, cpu)
        accuracy["run_sweep"] = float(max(record["best"]["val_accuracy"] for record in swept.records))
        _log(_round_line(round_index, "(d') run_sweep", timings["run_sweep"]))

    # (a): fewer trials, spread over the learning rates, extrapolated linearly.
    jax.clear_caches()
    a_rows = np.unique(np.linspace(0, n - 1, min(args.a_trials, n)).round().astype(int))
    a_trials = [trials[i] for i in a_rows]
    results, a_wall, a_cpu = _timed(loop.run_fresh_jit, a_trials, loop.make_init())
    accuracy["a"] = best_val_accuracy(results)
    a_scale = n / len(a_trials)
    _log(f"  (a) {len(a_trials)} trials in {a_wall:.2f} s; {a_wall * a_scale:.1f} s extrapolated to {n}")

    # (d) against N.
    scaling = {}
    for count in args.scaling:
        if count == n:
            row = {"compile_s": statistic(compile_seconds), "parts": parts_n, **timings["d"].summary(statistic)}
        else:
            jax.clear_caches()
            measured = measure_sweep(config, data, plan_trials(make_plan(count, args.epochs)), args.repeats)
            row = {"compile_s": measured["compile_s"], "parts": measured["parts"],
                   **measured["timings"].summary(statistic)}
        row["per_trial_ms"] = 1e3 * row["compiled_s"] / count
        row["per_trial_cpu_ms"] = 1e3 * row["compiled_cpu_s"] / count
        row["flops_per_s"] = per_trial_flops * count / row["compiled_s"]
        scaling[count] = row
        _log(f"  N={count}: {row['end_to_end_s']:.2f} s end to end, {row['compiled_s']:.3f} s compiled, "
             f"{row['per_trial_ms']:.2f} ms per trial ({row['per_trial_cpu_ms']:.2f} ms CPU)")

    jax.clear_caches()
    opened = open_run.measure(config, data, *population(trials), args.repeats)
    _log(f"  open run: new / old {opened['new_vs_old']:.3f}, user / built-in {opened['user_vs_builtin']:.3f}")

    cached = measure_compilation_cache(n, config.epochs)
    _log(f"  compilation cache: XLA compile {cached['first']['xla_s']:.2f} s in a first process, "
         f"{cached['second']['xla_s']:.2f} s in a second ({cached['xla_ratio']:.1%}; "
         f"{cached['second']['hits']} cache hits)")

    matmuls.append(matmul_flops_per_second(args.matmul_size, args.matmul_calls))
    matmul = {
        "size": args.matmul_size,
        "seconds": statistic([wall for m in matmuls for wall in m["wall"]]),
        "cpu_s": statistic([cpu for m in matmuls for cpu in m["cpu"]]),
    }
    matmul["flops_per_s"] = 2 * args.matmul_size**3 / matmul["seconds"]
    matmul["flops_per_cpu_s"] = 2 * args.matmul_size**3 / matmul["cpu_s"]
    _log(f"  matmul {args.matmul_size}^3: {matmul['seconds'] * 1e3:.1f} ms ({matmul['cpu_s'] * 1e3:.1f} ms CPU), "
         f"{matmul['flops_per_s'] / 1e9:.1f} GFLOP/s")

    methods = {
        name: {"label": METHODS[name], "trials_timed": n, **timing.summary(statistic),
               "best_val_accuracy": accuracy[name]}
        for name, timing in timings.items()
    }
    methods["a"] = {
        "label": METHODS["a"],
        "trials_timed": len(a_trials),
        "measured_s": a_wall,
        "measured_cpu_s": a_cpu,
        "end_to_end_s": a_wall * a_scale,
        "end_to_end_cpu_s": a_cpu * a_scale,
        "compiled_s": None,
        "compiled_cpu_s": None,
        "extrapolated": len(a_trials) != n,
        "best_val_accuracy": accuracy["a"],
    }
    ours = methods["d"]
    for row in methods.values():
        for kind in ("end_to_end", "compiled"):
            for clock in ("", "_cpu"):
                value = row[f"{kind}{clock}_s"]
                row[f"{kind}{clock}_vs_d"] = value / ours[f"{kind}{clock}_s"] if value else None

    sweep_flops = per_trial_flops * n
    sweep_flops_per_s = sweep_flops / ours["compiled_s"]
    sweep_flops_per_cpu_s = sweep_flops / ours["compiled_cpu_s"]
    counts = sorted(scaling)

    def falling(values):
        return bool(len(values) > 1 and values[-1] < values[0] and all(
            later <= earlier * SCALING_NOISE for earlier, later in zip(values, values[1:])
        ))

    def target(name, value, needed, cpu_value=None, at_most=False):
        row = {"name": name, "value": value, "target": needed, "cpu_value": cpu_value, "at_most": at_most}
        if needed == "falling":
            row["pass"], row["cpu_pass"] = falling(value), falling(cpu_value)
        else:
            passes = (lambda v: v <= needed) if at_most else (lambda v: v >= needed)
            row["pass"] = bool(passes(value))
            row["cpu_pass"] = None if cpu_value is None else bool(passes(cpu_value))
        return row

    a, b = methods["a"], methods["b"]
    targets = [
        target("end to end vs (a)", a["end_to_end_vs_d"], TARGET_VS_LOOP_FRESH_JIT, a["end_to_end_cpu_vs_d"]),
        target("end to end vs (b)", b["end_to_end_vs_d"], TARGET_VS_LOOP_SHARED_JIT, b["end_to_end_cpu_vs_d"]),
        target("compiled vs (b)", b["compiled_vs_d"], TARGET_VS_LOOP_SHARED_JIT_COMPILED, b["compiled_cpu_vs_d"]),
        target("sweep FLOP/s / matmul FLOP/s", sweep_flops_per_s / matmul["flops_per_s"],
               TARGET_FRACTION_OF_MATMUL, sweep_flops_per_cpu_s / matmul["flops_per_cpu_s"]),
        target("per-trial time falls as N grows", [scaling[c]["per_trial_ms"] for c in counts], "falling",
               [scaling[c]["per_trial_cpu_ms"] for c in counts]),
        target("second process's XLA compile / first's", cached["xla_ratio"], TARGET_CACHED_COMPILE, at_most=True),
    ]
    return {
        "setup": {
            "trials": n,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "hidden": list(config.model_kwargs["hidden"]),
            "parameters": num_parameters(config, data),
            "learning_rates": list(LEARNING_RATES),
            "train_val_test": [int(array.shape[0]) for array in (data.x_train, data.x_val, data.x_test)],
            "repeats": args.repeats,
            "statistic": args.statistic,
            "backend": jax.default_backend(),
            "device": str(jax.devices()[0]),
            "cpu_count": os.cpu_count(),
            "load_average_before": load_before[0],
            "load_average_after": os.getloadavg()[0],
            "quick": args.quick,
        },
        "methods": methods,
        "scaling": {str(count): scaling[count] for count in counts},
        "flops": {
            "per_trial": per_trial_flops,
            "sweep": sweep_flops,
            "xla_cost_analysis_sweep": xla_flops,
            "sweep_flops_per_s": sweep_flops_per_s,
            "sweep_flops_per_cpu_s": sweep_flops_per_cpu_s,
            "matmul": matmul,
            "fraction_of_matmul": sweep_flops_per_s / matmul["flops_per_s"],
        },
        "targets": targets,
        "open_run": opened,
        "compilation_cache": cached,
    }


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(wall, cpu=None) -> str:
    if wall is None:
        return "-"
    return f"{wall:.1f}x" + ("" if cpu is None else f" ({cpu:.1f}x)")


def format_report(results: dict) -> str:
    setup, methods, flops = results["setup"], results["methods"], results["flops"]
    n = setup["trials"]
    lines = [
        f"## Sweep of {n} trials: digits MLP {tuple(setup['hidden'])}, Adam, {setup['epochs']} epochs, "
        f"batch {setup['batch_size']}",
        "",
        f"{setup['backend']} ({setup['device']}, {setup['cpu_count']} CPUs, load average "
        f"{setup['load_average_before']:.1f} before, {setup['load_average_after']:.1f} after); "
        f"{setup['statistic']} of {setup['repeats']} round(s); wall-clock seconds, process CPU seconds "
        f"(all threads) where shown; ratios are the other way's time over (d)'s, wall (CPU).",
        "",
        "| way | trials timed | end to end s | compiled s | compiled CPU s | ms / trial compiled "
        "| end to end vs (d), wall (CPU) | compiled vs (d), wall (CPU) | best val acc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("a", "b", "c", "d", "run_sweep"):
        row = methods[name]
        per_trial = None if row["compiled_s"] is None else 1e3 * row["compiled_s"] / n
        label = row["label"] + (" *" if row.get("extrapolated") else "")
        lines.append(
            f"| {label} | {row['trials_timed']} | {_seconds(row['end_to_end_s'])} | "
            f"{_seconds(row['compiled_s'])} | {_seconds(row['compiled_cpu_s'])} | {_seconds(per_trial)} | "
            f"{_ratio(row['end_to_end_vs_d'], row['end_to_end_cpu_vs_d'])} | "
            f"{_ratio(row['compiled_vs_d'], row['compiled_cpu_vs_d'])} | "
            f"{row['best_val_accuracy']:.3f} |"
        )
    a = methods["a"]
    if a.get("extrapolated"):
        lines += [
            "",
            f"\\* (a) was timed on {a['trials_timed']} of the {n} trials ({a['measured_s']:.1f} s, "
            f"{a['measured_s'] / a['trials_timed']:.2f} s per trial, each recompiling) and its end-to-end "
            f"time extrapolated linearly to {n} trials.",
        ]
    lines += [
        "",
        "### (d) against N",
        "",
        "| N | slices | end to end s | of which compiling s | compiled s | ms / trial | CPU ms / trial | GFLOP/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count, row in results["scaling"].items():
        lines.append(
            f"| {count} | {row['parts']} | {row['end_to_end_s']:.2f} | {row['compile_s']:.2f} | {row['compiled_s']:.3f} | "
            f"{row['per_trial_ms']:.2f} | {row['per_trial_cpu_ms']:.2f} | {row['flops_per_s'] / 1e9:.2f} |"
        )
    matmul = flops["matmul"]
    xla = flops["xla_cost_analysis_sweep"]
    lines += [
        "",
        f"FLOPs: {flops['per_trial'] / 1e9:.3f} GFLOP per trial (6 P per training example, 2 P per "
        f"evaluated example), {flops['sweep'] / 1e9:.1f} GFLOP for the sweep"
        + (f"; XLA's cost analysis says {xla / 1e9:.2f} GFLOP, counting each scan body once" if xla else "")
        + ".",
        f"Sweep: {flops['sweep_flops_per_s'] / 1e9:.2f} GFLOP/s compiled; float32 matmul "
        f"{matmul['size']}x{matmul['size']}: {matmul['flops_per_s'] / 1e9:.2f} GFLOP/s "
        f"({flops['fraction_of_matmul']:.1%}). Per CPU-second (all threads): sweep "
        f"{flops['sweep_flops_per_cpu_s'] / 1e9:.2f}, matmul {matmul['flops_per_cpu_s'] / 1e9:.2f} GFLOP.",
        "",
        "### Targets (set for N = 64 on a 2-core CPU)",
        "",
        "| target | measured (wall) | | by CPU time | | needed |",
        "|---|---:|---|---:|---|---:|",
    ]
    verdict = lambda passed: "" if passed is None else ("PASS" if passed else "FAIL")
    for target in results["targets"]:
        value, cpu_value = target["value"], target["cpu_value"]
        if target["target"] == "falling":
            show = lambda values: ", ".join(f"{v:.2f}" for v in values) + " ms / trial"
            needed = f"falling over N = {', '.join(results['scaling'])}"
        elif "FLOP" in target["name"] or target.get("at_most"):
            sign = "<=" if target.get("at_most") else ">="
            show, needed = (lambda v: f"{v:.1%}"), f"{sign} {target['target']:.0%}"
        else:
            show, needed = (lambda v: f"{v:.1f}x"), f">= {target['target']}x"
        lines.append(
            f"| {target['name']} | {show(value)} | {verdict(target['pass'])} | "
            f"{'-' if cpu_value is None else show(cpu_value)} | {verdict(target['cpu_pass'])} | {needed} |"
        )
    if "open_run" in results:
        lines += ["", open_run.format_report(results["open_run"])]
    if "compilation_cache" in results:
        lines += ["", format_cache_report(results["compilation_cache"])]
    return "\n".join(lines)


def format_cache_report(cached: dict) -> str:
    lines = [
        f"### The compilation cache: the same sweep ({cached['trials']} trials, {cached['epochs']} epochs) "
        "in a first and a second fresh process",
        "",
        "| process | XLA compile s | trace s | lower s | cache hits | cache writes | data and sweep wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("first", "second"):
        p = cached[name]
        lines.append(f"| {name} | {p['xla_s']:.2f} | {p['trace_s']:.2f} | {p['lower_s']:.2f} | {p['hits']} | "
                     f"{p['writes']} | {p['wall_s']:.2f} |")
    verdict = "PASS" if cached["xla_ratio"] <= TARGET_CACHED_COMPILE else "FAIL"
    lines += [
        "",
        f"Second / first: XLA compile {cached['xla_ratio']:.1%} ({verdict}, needed <= "
        f"{TARGET_CACHED_COMPILE:.0%}); trace, lower and compile {cached['total_ratio']:.1%}; wall "
        f"{cached['wall_ratio']:.1%}. The cache held {cached['entries']} programs, "
        f"{cached['bytes'] / 1e6:.1f} MB.",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sweep",
        description="Time jaxdl's vmapped sweep against Python-loop sweeps on the digits MLP.",
    )
    parser.add_argument("--n", type=int, default=None,
                        help="trials in the comparison (default 64; 16 with --quick)")
    parser.add_argument("--scaling", type=int, nargs="+", default=None, metavar="N",
                        help="trial counts for the (d)-against-N table (default 1 4 16 64 256, "
                             "plus 1024 4096 on a GPU; 1 4 16 with --quick)")
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs (default {EPOCHS}; 5 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of timing; medians are reported (default 3; 1 with --quick)")
    parser.add_argument("--a-trials", type=int, default=None,
                        help="trials that (a) is timed on before extrapolating to N (default 8; 2 with --quick)")
    parser.add_argument("--matmul-size", type=int, default=None,
                        help="side of the matmul yardstick (default 2048; 1024 with --quick)")
    parser.add_argument("--matmul-calls", type=int, default=7, help="timed matmul calls (default 7)")
    parser.add_argument("--statistic", choices=sorted(STATISTICS), default="median",
                        help="how repeated timings are summarised (default median; min suits a busy machine)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run to check that everything works, about 40 s on a quiet 2-core CPU")
    common.add_output_flags(parser, COMMITTED)
    args = parser.parse_args(argv)
    args.out = common.benchmark_output(parser, args, COMMITTED)

    quick = args.quick
    defaults = {
        "n": 16 if quick else 64,
        "epochs": 5 if quick else EPOCHS,
        "repeats": 1 if quick else 3,
        "a_trials": 2 if quick else 8,
        "matmul_size": 1024 if quick else 2048,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    backend = jax.default_backend()
    if args.scaling is None:
        args.scaling = [1, 4, 16] if quick else list(SCALING_GPU if backend == "gpu" else SCALING)
    limit = MAX_TRIALS.get(backend, MAX_TRIALS_OTHER)
    for name in ("n", "epochs", "repeats", "a_trials", "matmul_size", "matmul_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if any(n < 1 for n in args.scaling):
        parser.error("--scaling values must be positive integers")
    if max([args.n, *args.scaling]) > limit:
        parser.error(f"at most {limit} trials on the {backend} backend (4096 on a GPU)")
    args.scaling = sorted(set(args.scaling))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = benchmark(args)
    print()
    print(format_report(results))
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
