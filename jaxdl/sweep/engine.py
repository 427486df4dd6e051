"""The sweep engine: a population of trainings, one compiled program per static group.

For each static group of a :class:`~jaxdl.sweep.plans.Plan` the engine builds

    step = jax.jit(jax.vmap(train, in_axes=(0, 0, 0, None)))   # hparams, keys, carry, data

once, cuts the group into equal chunks (padded to a multiple of the device
count), shards each chunk's population axis over a ``jax.make_mesh`` mesh of
the local devices with ``NamedSharding``, and writes each finished chunk's
records to the run directory before starting the next. Rerunning on the same
directory skips the chunks already there; the chunk size is stored in
``engine.json`` so that a resumed sweep cuts the same chunks.

Three ways to evaluate a chunk (``mode``), all giving the same numbers:

- ``"vmap"``: every trial of the chunk in one batched program (best for
  MLPs, where batching turns matrix-vector work into matrix-matrix, and
  everywhere on a GPU);
- ``"map"``: ``lax.map`` over trials, one after another inside one program
  (batched convolutions can be slower than a sequential map on CPU);
- ``"chunked"``: ``lax.map`` over vmapped sub-batches of ``map_batch_size``.

The default, ``"auto"``, picks per static group (:func:`auto_mode`): ``"map"``
for a CNN on XLA:CPU, and ``"vmap"`` everywhere else. ``python -m
benchmarks.sweep_modes`` measured, once compiled: on a 2-core CPU, in slices
of 4 trials, ``"map"`` 0.93x of ``"vmap"``'s time for the CNN and 1.06x for the
MLP (2.5x faster for the CNN when the whole chunk was one program); on an H100,
``"vmap"`` 9x faster than ``"map"`` for the MLP and 1.6x for the CNN, where
``"chunked"`` was 0.75x of ``"vmap"``.

On several devices the sequential modes map over each device's own block
of the chunk, so no device waits for, or repeats, another's trials.

On one CPU device a chunk runs as slices of at most 4 trials, at least
one per core, each slice's program started from its own host thread
(:func:`run_in_parts`): XLA:CPU runs the operations of one program one at a
time, each on one core, so slices side by side keep every core busy. The
numbers are those of whole chunks (to float32 rounding, as between any two
chunk sizes).

Chunk size. ``chunk_size=None`` picks the largest chunk whose estimated
footprint (:func:`estimate_trial_bytes`, plus the data set) fits a quarter
of a device's free memory (:func:`auto_chunk_size`) for every static group,
and no larger than the largest group. A resumed sweep reuses the stored
size; asking for another one is an error, since chunk ids would no longer
name the same trials.

Stages. A plan's strategy (:mod:`jaxdl.sweep.strategies`, named by
``plan.info["strategy"]``) proposes stages; the engine trains each stage's
chunks, named ``<prefix><group>-c<index>`` (``r1-g0-c0`` for halving's rung
1), and asks the strategy for the next stage from the records so far. A
trial that continues a parent of the previous stage starts from the
parent's scan carry and trains on with its own hyperparameters, exactly as
if it had never stopped (a schedule's decay length that defaults to "the
whole run" spans every stage); its record holds the history of every epoch
so far. Every stage that hands its carry on or continues one runs the one
program that takes and returns a carry (a first stage starts from
:func:`jaxdl.train.initial_carry`), so equal stages compile once. A stage
whose carries a later stage continues saves them to ``carries/`` in the run
directory (atomically, before the chunk's records): the checkpoint a resumed
sweep continues from, deleted once the next stage is complete. When a stage
was one chunk, its carry also stays on the devices and the next stage's
carry is one gather over the population axis (PBT's exploit step, no host
round trip). The summary ranks the candidate records
(:func:`jaxdl.sweep.store.candidates`) and lists the stages.

Across hosts, call :func:`jax.distributed.initialize` first: process 0
creates the run directory and chooses the chunk size, which it broadcasts;
process ``i`` of ``n`` runs the chunks whose position is ``i`` modulo ``n``
on its own devices (``jax.local_devices()``); all write into one run
directory, which must be reachable from every process; barriers
(:func:`jax.experimental.multihost_utils.sync_global_devices`) separate
rungs, and process 0 writes the summary after the last one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import inspect
import io
import json
import math
import os
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from jaxdl import data as data_lib
from jaxdl import metrics as metrics_lib
from jaxdl import schedules
from jaxdl import train as train_lib
from jaxdl.sweep import plans as plans_lib
from jaxdl.sweep import selection as selection_lib
from jaxdl.sweep import strategies as strategies_lib
from jaxdl.sweep.store import (RunStore, atomic_write, candidates, check_out, configuration_key, make_record,
                               rank_configurations, summarize)

__all__ = ["MODES", "SweepResult", "run_sweep", "check_plan", "environment", "auto_mode", "estimate_trial_bytes", "auto_chunk_size",
           "group_config", "population_program", "run_in_parts", "default_parts", "slice_length"]

MODES = ("auto", "vmap", "map", "chunked")
_ENGINE_FILE = "engine.json"
_CARRY_DIR = "carries"


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
      records: one record per trial (see :mod:`jaxdl.sweep.store`), sorted by
        id; a halving sweep has one per trial and rung it reached, sorted by
        ``(id, rung)``.
      summary: counts and the best trial (``RunStore.summarize``); for
        halving, over the last rung's trials, plus ``rungs``.
      store: the run directory's store, or ``None`` for an in-memory sweep.
      chunks_run, chunks_skipped: chunks this process trained now and chunks
        it found on disk.
      seconds: wall time of this call.
      chunk_size: the trials per chunk that were used.
    """

    records: list
    summary: dict
    store: RunStore | None
    chunks_run: int
    chunks_skipped: int
    seconds: float
    chunk_size: int = 0


def group_config(static: Mapping[str, Any], metric: str | None = None) -> train_lib.TrainConfig:
    """The :class:`~jaxdl.train.TrainConfig` of a static group (``dataset`` is not part of it).

    A validation ``metric`` (the sweep's selection metric, ``val_accuracy``)
    becomes the run's ``monitor``, so that early stopping, the restored
    epoch and the sweep's ranking all select by one metric.

    Raises:
      ValueError: the group sets another ``monitor`` than ``metric``.
    """
    config = train_lib.TrainConfig.from_static(static)
    if metric is None or not metric.startswith("val_"):
        return config
    if config.monitor not in (None, metric):
        raise ValueError(f"monitor {config.monitor!r} differs from the sweep's metric {metric!r}: a sweep selects "
                         f"by one metric; drop monitor or set the metric to it")
    return dataclasses.replace(config, monitor=metric)


# ---------------------------------------------------------------------------
# Memory


estimate_trial_bytes = train_lib.trial_bytes  # train owns what a trial is; the engine only asks


def auto_chunk_size(
    config: train_lib.TrainConfig,
    data: train_lib.Data,
    num_trials: int,
    num_devices: int,
    fraction: float = 0.25,
    memory_bytes: int | None = None,
) -> int:
    """Largest chunk whose estimated footprint fits in ``fraction`` of one device's memory per device.

    Each device holds the data set once and ``chunk_size / num_devices``
    trials of :func:`estimate_trial_bytes` each, so the chunk is the largest
    multiple of ``num_devices`` with
    ``data + chunk_size / num_devices * per_trial <= fraction * memory_bytes``,
    at least one trial per device and at most the group (rounded up to the
    device count).

    Args:
      config, data: the group's configuration and data set.
      num_trials: trials in the group.
      num_devices: devices the population axis is sharded over.
      fraction: share of the memory the chunk may use; the rest is left to
        XLA's temporaries and whatever else runs.
      memory_bytes: memory of one device; default, the free memory of the
        first local device (for CPU devices, the host's free RAM divided by
        the number of local devices, which share it).
    """
    if memory_bytes is None:
        memory_bytes = train_lib.free_memory_bytes()
    per_trial = estimate_trial_bytes(config, data)
    train_lib.check_memory(config, data, 1, memory_bytes, per_trial=per_trial)
    budget = int(fraction * memory_bytes) - train_lib.data_bytes(data)
    per_device = max(1, budget // per_trial)
    group = -(-num_trials // num_devices)
    return num_devices * max(1, min(per_device, group))


# ---------------------------------------------------------------------------
# Compiled population runs


def _mapped_train(config: train_lib.TrainConfig, mode: str, map_batch_size: int, keep_carry: bool,
                  num_devices: int = 1):
    """``f(hparams, keys, carry, data) -> Result`` over a population; ``carry`` may be ``None``.

    The sequential modes split the population into one block per device
    first and map within each block, so that every device works through its
    own trials instead of all of them.
    """

    def one(hparams, key, carry, data):
        return train_lib.train(config, hparams, key, data, resume=carry, keep_carry=keep_carry)

    if mode == "vmap":
        return jax.vmap(one, in_axes=(0, 0, 0, None))

    batch = None if mode == "map" else map_batch_size

    def sequential(hparams, keys, carry, data):
        def block(population):
            return jax.lax.map(lambda args: one(*args, data), population, batch_size=batch)

        population = (hparams, keys, carry)
        if num_devices == 1:
            return block(population)
        blocks = jax.tree.map(lambda x: x.reshape(num_devices, -1, *x.shape[1:]), population)
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), jax.vmap(block)(blocks))

    return sequential


def auto_mode(config: train_lib.TrainConfig, backend: str | None = None) -> str:
    """The mode ``"auto"`` runs ``config`` with on ``backend`` (default: JAX's).

    A sequential ``"map"`` for a CNN on XLA:CPU, whose batched convolutions
    run slower than one trial after another; ``"vmap"`` otherwise.
    """
    backend = backend or jax.default_backend()
    return "map" if backend == "cpu" and config.model_name == "cnn" else "vmap"


@functools.lru_cache(maxsize=64)
def _compiled(config: train_lib.TrainConfig, mode: str, map_batch_size: int, keep_carry: bool,
              num_devices: int = 1) -> Callable:
    # Cached across sweeps: rerunning or resuming in the same process does not compile again.
    return train_lib.jit(_mapped_train(config, mode, map_batch_size, keep_carry, num_devices))


@functools.lru_cache(maxsize=64)
def _compiled_start(config: train_lib.TrainConfig) -> Callable:
    """``f(hparams, keys, data) -> carry``: a population's initial carries (no epoch trained)."""
    return train_lib.jit(jax.vmap(functools.partial(train_lib.initial_carry, config), in_axes=(0, 0, None)))


def population_program(config: train_lib.TrainConfig, mode: str = "vmap", *, map_batch_size: int = 8,
                       keep_carry: bool = False) -> Callable:
    """The engine's jitted ``f(hparams, keys, carry, data) -> Result`` for one device; ``carry`` may be ``None``.

    ``mode`` is ``"vmap"``, ``"map"`` or ``"chunked"``; the program is cached per
    configuration, so asking again does not compile again.
    """
    return _compiled(config, mode, map_batch_size, keep_carry, 1)


# Trials per slice on a CPU. Vmapping more trials into one program gains
# nothing there once every core has a slice, and small slices keep their
# activations in a core's cache: the digits MLP (batch 128, width 64) ran
# 8.2 ms per trial in slices of 4, 8.7-9.0 in slices of 8 to 32 and 10.3 in
# slices of 128 on 2 cores, and slices of 4 were the fastest on 16 cores too
# (``python -m benchmarks.sweep_parts``, results in benchmarks/results/).
SLICE_TRIALS = 4


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system reports one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_parts(size: int) -> int:
    """Slices :func:`run_in_parts` cuts a chunk of ``size`` trials into by default.

    On one CPU device, one per core and at least one per :data:`SLICE_TRIALS`
    trials; on other devices, or several, 1 (the whole chunk in one program).
    """
    if jax.default_backend() != "cpu" or len(jax.local_devices()) > 1:
        return 1
    return max(usable_cores(), -(-size // SLICE_TRIALS))


def slice_length(size: int, parts: int) -> int:
    """Trials per slice when :func:`run_in_parts` cuts ``size`` trials into ``parts``: ``ceil(size / parts)``."""
    return -(-size // max(1, min(parts, size)))


def run_in_parts(program: Callable, parts: int, hparams, keys, carry, data, *, threads: int | None = None):
    """``program(hparams, keys, carry, data)`` over the population, run as ``parts`` slices side by side.

    XLA:CPU runs the operations of a program one after another, each on one
    core (the few independent ones excepted), so one program over the whole
    population leaves the other cores idle. Started from host threads, the
    programs of several slices run at once, one core each: on 2 cores the
    digits sweep of ``python -m benchmarks.sweep`` runs 1.9x faster. Each
    thread waits for its own slice, since calls dispatched from one thread
    run one after another.

    The population is cut into slices of :func:`slice_length` trials, the
    last padded with copies of the last trial (whose results are dropped),
    so that every slice runs the one program compiled for that length. At
    most ``threads`` slices (default: :func:`usable_cores`) run at a time. The
    results are concatenated back in order: the caller sees one ``Result``.
    A trial's numbers are those of an unsliced call to float32 rounding, as
    between any two population sizes: XLA may block a product over the
    shared evaluation data differently for another size, which can move an
    evaluation loss by an ulp.
    """
    size = int(keys.shape[0])
    length = slice_length(size, parts)
    if length == size:
        return program(hparams, keys, carry, data)
    count = -(-size // length)
    pieces = _cut(size, count, length, (hparams, keys, carry))
    with concurrent.futures.ThreadPoolExecutor(min(count, threads or usable_cores())) as pool:
        results = list(pool.map(lambda piece: jax.block_until_ready(program(*piece, data)), pieces))
    return _join(size, results)


def _to_host(leaf) -> tuple[np.ndarray, Callable]:
    """``leaf`` as a NumPy array, and the function that puts such an array back on the device.

    PRNG keys, which NumPy cannot hold, travel as their raw data.
    """
    if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
        wrap = functools.partial(jax.random.wrap_key_data, impl=jax.random.key_impl(leaf))
        return np.asarray(jax.random.key_data(leaf)), wrap
    return np.asarray(leaf), jax.device_put


def _cut(size: int, count: int, length: int, population) -> list:
    """``count`` slices of ``length`` trials; the last padded with copies of trial ``size - 1``.

    Arrays are cut on the host (:func:`_to_host`): a view and a copy to the
    device, no program to compile for each slice.
    """
    def pieces(leaf):
        x, wrap = _to_host(leaf)
        x = np.concatenate([x, np.repeat(x[-1:], count * length - size, axis=0)])
        return [wrap(x[i * length:(i + 1) * length]) for i in range(count)]

    leaves, treedef = jax.tree.flatten(population)
    cut = [pieces(leaf) for leaf in leaves]
    return [treedef.unflatten([c[i] for c in cut]) for i in range(count)]


def _join(size: int, results: list):
    """The slices' results concatenated in order, padding dropped (on the host, as :func:`_cut`)."""
    def join(*leaves):
        arrays, wraps = zip(*map(_to_host, leaves))
        return wraps[0](np.concatenate(arrays)[:size])

    return jax.tree.map(join, *results)


def _schedule_lengths(config: train_lib.TrainConfig, data: train_lib.Data, total_epochs: int) -> dict[str, int]:
    """Decay lengths a schedule needs and ``train`` would default to the run's length, over ``total_epochs``.

    A halving rung's configuration holds only that rung's epochs; the decay
    must span every rung for a continued trial to follow its uninterrupted run.
    """
    parameters = inspect.signature(schedules.get(config.schedule)).parameters
    steps = data_lib.steps_per_epoch(int(data.x_train.shape[0]), config.batch_size) * total_epochs
    return {
        name: steps
        for name in ("decay_steps", "transition_steps")
        if name in parameters and parameters[name].default is inspect.Parameter.empty
    }


def _hparams(chunk: plans_lib.Chunk, config: train_lib.TrainConfig, defaults: Mapping[str, float],
             task: str) -> train_lib.HParams:
    n = len(chunk)
    flat = {name: jnp.full((n,), value, jnp.float32) for name, value in defaults.items() if name not in chunk.dynamic}
    flat.update({name: jnp.asarray(values) for name, values in chunk.dynamic.items()})
    return train_lib.HParams.from_flat(flat, config, task).batched(n)


def _is_key(leaf) -> bool:
    return jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _nan_history(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _records(stage: strategies_lib.Stage, chunk, result, wall_time, earlier=None, **extra) -> list[dict]:
    """Records of a chunk's valid rows; ``earlier`` maps a parent's trial id to its record of the previous stage.

    A continued trial's history is its parent's followed by this stage's epochs.
    """
    host = jax.device_get((result.history, result.metrics, result.diverged_epoch, result.epochs_run))
    history, metrics, diverged_epoch, epochs_run = host
    records = []
    for row, (trial_id, valid) in enumerate(zip(chunk.trial_ids, chunk.valid)):
        if not valid:
            continue
        trial_id = int(trial_id)
        parent = stage.parents.get(trial_id)
        rows = {name: np.asarray(values[row], np.float64) for name, values in history.items()}
        if parent is not None:
            before = earlier[parent]["history"]
            rows = {name: np.concatenate([_nan_history(before[name]), values]) for name, values in rows.items()}
        final = {name: float(values[row]) for name, values in metrics.items() if not name.startswith("best")}
        records.append(
            make_record(
                stage.trials.by_id(trial_id),
                rows,
                wall_time,
                diverged_epoch=int(diverged_epoch[row]),
                final=final,
                best_epoch=int(metrics["best_epoch"][row]),
                epochs_run=int(epochs_run[row]),
                stage=stage.index,
                parent=parent,
                candidate=stage.candidate,
                **({} if stage.grouped else {"configuration": f"trial {trial_id}"}),
                **extra,
            )
        )
    return records


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _as_stored(record: dict, chunk_id: str) -> dict:
    """A record as ``RunStore.records`` reads it back: static widths as tuples, with its chunk id."""
    return {**record, "static": {k: _tuples(v) for k, v in record["static"].items()}, "chunk": chunk_id}


# ---------------------------------------------------------------------------
# Carries of successive halving


@functools.lru_cache(maxsize=8)
def _gather(population: NamedSharding) -> Callable:
    """The jitted gather of carry rows, one per sharding: every sweep of a process shares its compilations."""
    return jax.jit(lambda carry, rows: jax.tree.map(lambda leaf: leaf[rows], carry), out_shardings=population)


class _Carries:
    """Scan carries of the trials a stage trained, by stage and trial id, for the next stage to continue from.

    With a run directory, one ``carries/<chunk id>.npz`` per chunk of a stage
    whose trials may be continued, holding ``trial_ids`` and the flattened
    carry's leaves (keys as their raw ``uint32`` data): the checkpoint a
    resumed sweep continues from, read back by whichever process trains the
    child next. Without one, the same in memory. When a stage was one chunk,
    its carry also stays on the devices, and the next stage's carry is one
    gather over the population axis there (:meth:`take`), bit for bit what
    reading the checkpoint gives.
    """

    def __init__(self, store: RunStore | None, population: NamedSharding):
        self.directory = None if store is None else os.path.join(store.path, _CARRY_DIR)
        self.memory: dict[int, dict[int, list[np.ndarray]]] = {}
        self.device: dict[int, tuple[list[int], Any]] = {}
        self.population = population
        self.gather = _gather(population)

    def _path(self, chunk_id: str) -> str:
        return os.path.join(self.directory, f"{chunk_id}.npz")

    def put(self, stage: int, chunk_id: str, chunk: plans_lib.Chunk, carry, on_device: bool = False) -> None:
        if on_device:
            self.device[stage] = ([int(t) for t in chunk.trial_ids], carry)
        leaves = [jax.random.key_data(leaf) if _is_key(leaf) else leaf for leaf in jax.tree.leaves(carry)]
        leaves = [np.asarray(leaf)[chunk.valid] for leaf in jax.device_get(leaves)]
        trial_ids = np.asarray(chunk.trial_ids)[chunk.valid]
        if self.directory is None:
            stage_carries = self.memory.setdefault(stage, {})
            for row, trial_id in enumerate(trial_ids):
                stage_carries[int(trial_id)] = [leaf[row] for leaf in leaves]
            return
        buffer = io.BytesIO()
        np.savez(buffer, trial_ids=trial_ids, **{f"leaf_{i}": leaf for i, leaf in enumerate(leaves)})
        os.makedirs(self.directory, exist_ok=True)
        atomic_write(self._path(chunk_id), buffer.getvalue())

    def _from_disk(self, prefix: str, trial_ids: set[int]) -> dict[int, list[np.ndarray]]:
        names = sorted(os.listdir(self.directory)) if os.path.isdir(self.directory) else []
        names = [name for name in names if name.startswith(prefix) and name.endswith(".npz")]
        found = {}
        for name in names:
            with np.load(os.path.join(self.directory, name), allow_pickle=False) as archive:
                ids = archive["trial_ids"]
                rows = [row for row, trial_id in enumerate(ids) if int(trial_id) in trial_ids]
                if not rows:
                    continue
                count = sum(1 for key in archive.files if key.startswith("leaf_"))
                leaves = [archive[f"leaf_{i}"] for i in range(count)]
                for row in rows:
                    found[int(ids[row])] = [leaf[row] for leaf in leaves]
        return found

    def take(self, stage: int, prefix: str, parents: list[int], template):
        """The stacked carry of ``parents`` (one per row, repeats allowed) after ``stage``, shaped like ``template``.

        On the population's devices: gathered there, or read from the checkpoints and put there.

        ``prefix`` names the stage's checkpoint files.
        """
        if stage in self.device:
            ids, carry = self.device[stage]
            position = {}
            for row, trial_id in enumerate(ids):
                position.setdefault(trial_id, row)
            if all(p in position for p in parents):
                return self.gather(carry, jnp.asarray([position[p] for p in parents], jnp.int32))
        found = self.memory.get(stage, {}) if self.directory is None else self._from_disk(prefix, set(parents))
        missing = sorted(set(parents) - set(found))
        if missing:
            where = "memory" if self.directory is None else self.directory
            raise FileNotFoundError(
                f"cannot continue stage {stage + 1}: the training state of trial(s) {missing} after stage {stage} "
                f"is missing from {where}; run the sweep again in a new directory"
            )
        specs, treedef = jax.tree.flatten(template)
        leaves = []
        for number, spec in enumerate(specs):
            stacked = np.stack([found[trial_id][number] for trial_id in parents])
            leaves.append(jax.random.wrap_key_data(stacked) if _is_key(spec) else stacked.astype(spec.dtype))
        return jax.device_put(jax.tree.unflatten(treedef, leaves), self.population)

    def drop(self, stage: int, prefix: str, rank: int) -> None:
        """Forget a stage's carries once the next stage is complete (files: process 0 removes them)."""
        self.memory.pop(stage, None)
        self.device.pop(stage, None)
        if self.directory is None or rank != 0 or not os.path.isdir(self.directory):
            return
        for name in os.listdir(self.directory):
            if name.startswith(prefix) and name.endswith(".npz"):
                os.unlink(os.path.join(self.directory, name))


# ---------------------------------------------------------------------------
# Settings shared by the processes of a sweep


def _seeds_per_configuration(plan: plans_lib.Plan) -> int:
    counts = collections.Counter(configuration_key(trial.static, trial.dynamic) for trial in plan)
    return max(counts.values(), default=1)


def _resolve_chunk_size(store: RunStore | None, requested: int | None, choose: Callable[[], int],
                        num_devices: int, settings: dict, seeds: Callable[[], int] = lambda: 1) -> int:
    """The chunk size: the stored one when resuming, else ``requested`` (or ``choose()``).

    A multiple of the device count and of ``seeds``, so that a configuration's
    seeds share a chunk: ``requested`` is rounded up, ``choose()``'s fit down
    (but never below one configuration).
    """
    path = None if store is None else os.path.join(store.path, _ENGINE_FILE)
    if path is not None and os.path.exists(path):
        stored = store._read_json(path)
        if not (isinstance(stored, dict) and isinstance(stored.get("chunk_size"), int) and stored["chunk_size"] >= 1):
            raise ValueError(f"{path}: not a jaxdl engine file (no positive chunk_size); "
                             f"delete it only if no chunk has finished, or choose another --out")
        size = stored["chunk_size"]
        if requested is None or requested in (size, stored.get("requested_chunk_size")):
            return size
        raise ValueError(
            f"{store.path} was run with chunk_size={size}, not {requested}: chunk ids would name other "
            f"trials. Rerun with chunk_size={size} (or leave it unset to reuse it), or choose another --out"
        )
    multiple = math.lcm(num_devices, seeds())
    if requested is None:
        size = multiple * max(1, choose() // multiple)
    else:
        size = multiple * -(-requested // multiple)
    if path is not None:
        document = {**settings, "chunk_size": size, "requested_chunk_size": requested}
        atomic_write(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return size


def _agree(plan, store, requested, choose, num_devices, settings, rank, world, meta=None,
           seeds: Callable[[], int] = lambda: 1) -> int:
    """Process 0 creates the run directory and picks the chunk size; every process gets the same size.

    ``choose()`` and ``seeds()`` (the seeds per configuration) are asked only when a new size is chosen.
    """
    size, error = 0, None
    if rank == 0:
        try:
            if store is not None:
                store.init(plan, meta)
            size = _resolve_chunk_size(store, requested, choose, num_devices, settings, seeds)
        except Exception as caught:
            if world == 1:
                raise
            error = caught
    if world == 1:
        return size
    from jax.experimental import multihost_utils

    # Also a barrier: no process reads the run directory before process 0 has set it up.
    shared = multihost_utils.broadcast_one_to_all(np.array([size, error is None], np.int32))
    if error is not None:
        raise error
    if not bool(shared[1]):
        raise RuntimeError("process 0 could not set up the sweep (see its error); stopping")
    if store is not None and rank != 0:
        store.init(plan, meta)  # checks the plan process 0 wrote
    return int(shared[0])


def population_shardings() -> tuple[NamedSharding, NamedSharding]:
    """The population axis split over this process's devices, and a copy on each (for the data)."""
    devices = jax.local_devices()
    # Auto axes: XLA propagates the population sharding through the scans.
    mesh = jax.make_mesh((len(devices),), ("trials",), (jax.sharding.AxisType.Auto,), devices=devices)
    return NamedSharding(mesh, PartitionSpec("trials")), NamedSharding(mesh, PartitionSpec())


def _barrier(name: str, world: int) -> None:
    if world > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


# ---------------------------------------------------------------------------
# Checks and what a run directory records


def check_plan(plan: plans_lib.Plan, dataset: Callable[[Mapping[str, Any]], train_lib.Data],
               metric: str | None = None) -> list[train_lib.TrainConfig]:
    """Check every static group of ``plan`` before anything is written or compiled; return their resolved configs.

    Each group's configuration is resolved for its data set and its model
    built abstractly (:func:`jaxdl.train.check`), and its dynamic names are
    routed; ``metric``, when given, must be measured by every group.

    Raises:
      ValueError: the first problem, naming the group's static values.
    """
    resolved = []
    for group in plan.groups():
        where = ", ".join(f"{k}={v!r}" for k, v in group.static.items()) or "the default configuration"
        try:
            config = train_lib.check(group_config(group.static, metric), dataset(group.static), sorted(group.dynamic))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: {error}") from None
        if metric is not None:
            base = metric.split(".", 1)[-1]
            base = base[base.index("_") + 1:] if base.startswith(metrics_lib.PREFIXES) else base
            if base != "loss" and base not in config.metrics:
                raise ValueError(f"metric {metric!r} is not measured for {where}; measured: "
                                 f"{', '.join(f'val_{m}' for m in ('loss', *config.metrics))}")
        resolved.append(config)
    return resolved


def _data_info(data: train_lib.Data) -> dict:
    return {"fingerprint": data.fingerprint(), "split_seed": data.split_seed, "task": data.task,
            "num_classes": data.num_classes, "input_shape": list(data.x_train.shape[1:]),
            "out_features": data.out_features,
            "sizes": [int(data.x_train.shape[0]), int(data.x_val.shape[0]), int(data.x_test.shape[0])]}


def environment() -> dict:
    """The versions and platform a run directory records."""
    import platform

    import flax
    import jaxlib
    import optax

    import jaxdl

    return {"versions": {"jaxdl": jaxdl.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                         "flax": flax.__version__, "optax": optax.__version__, "python": platform.python_version()},
            "platform": {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
                         "machine": platform.machine(), "system": platform.system()}}


# ---------------------------------------------------------------------------
# The engine


@dataclasses.dataclass
class _Run:
    """What every stage of one :func:`run_sweep` call shares."""

    plan: plans_lib.Plan
    data: Any
    store: RunStore | None
    chunk_size: int
    mode: str
    map_batch_size: int
    progress: bool
    on_chunk: Callable | None
    rank: int
    world: int
    population: NamedSharding
    replicated: NamedSharding
    num_devices: int
    parts: int | None = None
    metric: str = "val_accuracy"
    maximize: bool = True
    constraints: tuple = ()
    keep: int = 1
    placed: dict = dataclasses.field(default_factory=dict)
    chunk_ids: set = dataclasses.field(default_factory=set)  # the chunks this run's stages name
    records: list = dataclasses.field(default_factory=list)
    resolved: dict = dataclasses.field(default_factory=dict)  # static group -> checked TrainConfig
    prefixes: dict = dataclasses.field(default_factory=dict)  # stage index -> its chunk prefix
    run: int = 0
    skipped: int = 0

    def dataset(self, static: Mapping[str, Any]) -> train_lib.Data:
        name = static.get("dataset")
        if isinstance(self.data, Mapping):
            if name not in self.data:
                raise ValueError(f"plan asks for data set {name!r}; given: {sorted(self.data)}")
            return self.data[name]
        return self.data

    def on_mesh(self, static: Mapping[str, Any]) -> train_lib.Data:
        name = static.get("dataset")
        if name not in self.placed:
            self.placed[name] = jax.device_put(self.dataset(static), self.replicated)
        return self.placed[name]

    def config(self, static: Mapping[str, Any]) -> train_lib.TrainConfig:
        """A static group's resolved configuration, checked once (:func:`check_plan`)."""
        key = tuple(sorted(static.items()))
        if key not in self.resolved:
            plan = plans_lib.Plan((plans_lib.Trial(0, static, {}, 0),))
            (self.resolved[key],) = check_plan(plan, self.dataset, self.metric)
        return self.resolved[key]

    def cost(self, static: Mapping[str, Any]) -> dict:
        """A static group's parameter count and inference latencies (:func:`jaxdl.train.inference_cost`)."""
        return train_lib.inference_cost(self.config(static), self.dataset(static))

    def stage(self, stage: strategies_lib.Stage, carries: _Carries, earlier: Mapping[int, dict]) -> list[str]:
        """Train this process's share of the stage's chunks; returns every chunk id of the stage."""
        chunks = plans_lib.plan_chunks(stage.trials, self.chunk_size, self.num_devices)
        prefix = stage.prefix
        self.chunk_ids.update(prefix + c.id for c in chunks)
        done = self.store.done_chunks(self.chunk_ids) if self.store is not None else set()
        mine = [c for i, c in enumerate(chunks) if i % self.world == self.rank]
        total = sum(c.num_valid for c in mine)
        initial = sum(c.num_valid for c in mine if prefix + c.id in done)
        desc = "sweep" if not prefix else f"stage {stage.index}"
        bar = tqdm(total=total, initial=initial, unit="trial", desc=desc, disable=not self.progress, dynamic_ncols=True)
        fresh = [t.id for t in stage.trials if t.id not in stage.parents]
        if stage.parents and fresh:
            raise ValueError(f"stage {stage.index}: trial(s) {fresh[:5]} have no parent while others continue one; "
                             f"a stage either continues every trial or none")
        templates: dict[tuple, Any] = {}
        try:
            for chunk in mine:
                chunk_id = prefix + chunk.id
                if chunk_id in done:
                    self.skipped += 1
                    continue
                config = self.config(chunk.static)
                if stage.epochs is not None:
                    config = dataclasses.replace(config, epochs=stage.epochs)
                data = self.dataset(chunk.static)
                defaults = {} if stage.total_epochs is None else _schedule_lengths(config, data, stage.total_epochs)
                hparams = jax.device_put(_hparams(chunk, config, defaults, data.task), self.population)
                keys = jax.device_put(jax.vmap(jax.random.key)(jnp.asarray(chunk.seeds)), self.population)
                carry, extra = None, {}
                # A stage that hands its carry on, or continues one, runs the program that takes and returns a
                # carry; a first stage starts it from the initial carries, so every such stage is that one program.
                continuing = stage.keep_carry or bool(stage.parents)
                if continuing and not stage.parents:
                    carry = _compiled_start(config)(hparams, keys, self.on_mesh(chunk.static))
                if stage.parents:
                    key = (tuple(sorted(chunk.static.items())), len(chunk))
                    if key not in templates:  # the initial carries' shapes: a trace of the start, not of training
                        templates[key] = jax.eval_shape(_compiled_start(config), hparams, keys, data)
                    tic = time.perf_counter()
                    parents = [stage.parents[int(t)] for t in chunk.trial_ids]
                    carry = jax.block_until_ready(
                        carries.take(stage.index - 1, self.prefixes[stage.index - 1], parents, templates[key]))
                    extra["carry_time"] = time.perf_counter() - tic  # the exploit step: a gather, or a checkpoint read
                mode = auto_mode(config) if self.mode == "auto" else self.mode
                step = _compiled(config, mode, self.map_batch_size, continuing, self.num_devices)
                tic = time.perf_counter()
                parts = default_parts(len(chunk)) if self.parts is None else self.parts
                result = run_in_parts(step, parts, hparams, keys, carry, self.on_mesh(chunk.static))
                jax.block_until_ready(result)
                chunk_records = _records(stage, chunk, result, time.perf_counter() - tic, earlier, **extra,
                                         **self.cost(chunk.static))
                if stage.keep_carry:  # before the records: they mark the chunk done
                    carries.put(stage.index, chunk_id, chunk, result.carry, on_device=len(chunks) == 1)
                if self.store is not None:
                    if stage.candidate:
                        self._save_best_params(chunk, chunk_records, result)  # likewise before the records
                    self.store.write_chunk(chunk_id, chunk_records, trial_ids=[t.id for t in stage.trials])
                else:
                    self.records.extend(_as_stored(record, chunk_id) for record in chunk_records)
                if self.on_chunk is not None:
                    self.on_chunk(chunk_id, chunk_records)
                self.run += 1
                bar.update(chunk.num_valid)
        finally:
            bar.close()  # before an error or Ctrl-C message, not after it
        self.prefixes[stage.index] = prefix
        return [prefix + c.id for c in chunks]

    def _save_best_params(self, chunk: plans_lib.Chunk, chunk_records: list[dict], result) -> None:
        """Keep the model state of the best seed of each of the chunk's ``keep`` best configurations.

        A configuration's seeds share a chunk (chunk sizes are multiples of
        the seed count), so the sweep's ``keep`` best configurations are
        always among the chunks' ``keep`` best; the rest are deleted when the
        sweep ends. Saved as ``{"params": ...,
        "batch_stats": ...}`` with ``RunStore.save_params``;
        ``RunStore.load_model(id)`` rebuilds the trained model.
        """
        ranked = rank_configurations(chunk_records, self.metric, self.maximize, constraints=self.constraints)
        state = {"params": result.params, "batch_stats": result.batch_stats}
        for trial_id in [row["best_trial"] for row in ranked[: self.keep] if row["best_trial"] is not None]:
            row = next(i for i, (trial, valid) in enumerate(zip(chunk.trial_ids, chunk.valid))
                       if valid and int(trial) == trial_id)
            self.store.save_params(trial_id, jax.tree.map(lambda leaf: np.asarray(leaf[row]), state))

    def all_records(self) -> list[dict]:
        if self.store is not None:
            return self.store.records(self.chunk_ids)
        return sorted(self.records, key=lambda r: (r["id"], r.get("stage") or 0))


def _record_numbers(run: _Run, static: Mapping[str, Any]) -> list[str]:
    """The numbers a record of this static group holds that a constraint may name (see :func:`_records`)."""
    config = run.config(static)
    names = ["loss", *config.metrics]
    return [*(f"{part}_{name}" for part in ("train", "val") for name in names), *run.cost(static),
            "best_epoch", "epochs_run", "wall_time"]


def run_sweep(
    plan: plans_lib.Plan,
    data: train_lib.Data | Mapping[str, train_lib.Data],
    out: str | os.PathLike | None = None,
    *,
    chunk_size: int | None = None,
    mode: str = "auto",
    map_batch_size: int = 8,
    parts: int | None = None,
    metric: str = "val_accuracy",
    maximize: bool | None = None,
    constraints: Sequence[str | selection_lib.Constraint] = (),
    keep: int = 1,
    progress: bool = True,
    on_chunk: Callable[[str, list], None] | None = None,
) -> SweepResult:
    """Train every trial of ``plan``; write records under ``out`` as chunks finish.

    Args:
      plan: from :func:`~jaxdl.sweep.strategies.build_plan` (or built by hand):
        its ``info["strategy"]`` names the strategy that proposes the stages
        (one stage of its trials for a name none registered).
      data: the data set, or ``{name: Data}`` when the plan has a static ``dataset`` choice.
      out: run directory; ``None`` keeps results in memory only (one process
        only). An existing directory of the same plan resumes: finished
        chunks are skipped. The best trial of each chunk keeps its model state
        there, so ``RunStore(out).load_params(summary["best"]["id"])`` returns
        the winner's ``{"params", "batch_stats"}``.
      chunk_size: trials per compiled call; ``None`` picks the largest that
        fits a quarter of free memory (:func:`auto_chunk_size`), or, when
        resuming, the stored one. Rounded up to a multiple of the device count.
      mode: ``"auto"`` (per static group, :func:`auto_mode`), ``"vmap"``,
        ``"map"`` or ``"chunked"`` (see the module docstring).
      map_batch_size: sub-batch size of ``"chunked"``.
      parts: run each chunk as this many slices side by side from host
        threads (:func:`run_in_parts`); ``None``: :func:`default_parts` (on
        one CPU device one per core and per 4 trials, else 1). The numbers
        do not depend on it beyond float32 rounding.
      metric: the selection metric: the runs' ``monitor`` (when it is a
        validation metric), and what the summary, halving and ``keep`` rank
        by (``final.<metric>``, the returned state's); test metrics never select.
      maximize: whether larger ``metric`` is better; default, its direction in
        the metric table (:func:`jaxdl.metrics.maximize`).
      constraints: satisficing constraints (``"latency_ms <= 100"`` or
        :class:`~jaxdl.sweep.selection.Constraint`): the summary's best and
        the kept states are of configurations that meet them all
        (:mod:`jaxdl.sweep.selection`); strategies still rank by ``metric``.
        Every record carries ``params``, ``latency_ms`` and
        ``latency_ms_256`` of its static group to constrain.
      keep: how many of the best configurations keep their best seed's
        trained state in ``params/``, for ``RunStore.load_model``.
      progress: show a progress bar over trials.
      on_chunk: called with ``(chunk_id, records)`` after each chunk is written.

    Raises:
      ValueError: a bad mode or chunk size, a chunk size other than the one
        a resumed directory was run with, or a data set the plan names but
        ``data`` lacks.
      PlanMismatchError: ``out`` holds another plan.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if not (isinstance(map_batch_size, int) and map_batch_size >= 1):
        raise ValueError(f"map_batch_size must be a positive integer, got {map_batch_size!r}")
    if parts is not None and not (isinstance(parts, int) and parts >= 1):
        raise ValueError(f"parts must be a positive integer, got {parts!r}")
    if not (isinstance(keep, int) and keep >= 0):
        raise ValueError(f"keep must be a non-negative integer, got {keep!r}")
    if maximize is None:
        maximize = metrics_lib.maximize(metric)
    constraints = tuple(selection_lib.parse_constraint(c) for c in constraints)
    start = time.perf_counter()
    rank, world = jax.process_index(), jax.process_count()
    if world > 1 and out is None:
        raise ValueError(f"a sweep over {world} processes needs a run directory (out) that every process can reach")
    if out is not None:
        check_out(out)
    num_devices = len(jax.local_devices())
    store = RunStore(out) if out is not None else None
    population, replicated = population_shardings()
    run = _Run(plan, data, store, 0, mode, map_batch_size, progress, on_chunk, rank, world, population, replicated,
               num_devices, parts=parts, metric=metric, maximize=maximize, constraints=constraints, keep=keep)
    # The strategy checks its plan; the first stage may need the run directory (a study), so it is asked after init.
    strategy = strategies_lib.from_plan(plan, metric, maximize, None if store is None else store.path)
    groups = plan.groups()
    for group in groups:  # before anything is written
        run.config(group.static)
    if constraints:
        known = sorted({name for group in groups for name in _record_numbers(run, group.static)})
        selection_lib.check_known(constraints, known, "no record will hold")
    if chunk_size is not None:  # an explicit size must fit too; auto_chunk_size checks its own
        for group in groups:
            train_lib.check_memory(run.config(group.static), run.dataset(group.static),
                                   -(-min(chunk_size, len(group)) // num_devices))
    first: list[strategies_lib.Stage] = []

    def first_stage() -> strategies_lib.Stage:
        if not first:
            first.append(strategy.first())
        return first[0]

    def choose() -> int:
        # The size that fits every group; capped by the largest group, not the smallest, which is simply one chunk.
        stage_groups = first_stage().trials.groups()
        largest = max(len(g) for g in stage_groups)
        return min(auto_chunk_size(run.config(g.static), run.dataset(g.static), largest, num_devices)
                   for g in stage_groups)

    settings = {"mode": mode, "num_devices": num_devices, "num_processes": world}
    names = sorted({group.static.get("dataset") for group in groups}, key=str) if groups else (
        sorted(data, key=str) if isinstance(data, Mapping) else [None])
    data_info = {str(name): _data_info(run.dataset({"dataset": name} if name is not None else {})) for name in names}
    # Whatever changes the numbers: a resume must give the same (the store says what differs). The metric is the
    # runs' monitor and picks what later stages continue.
    meta = {"data": {name: info["fingerprint"] for name, info in data_info.items()}, "mode": mode, "metric": metric}
    locked = store.lock() if store is not None and rank == 0 else contextlib.nullcontext()
    with locked:
        run.chunk_size = _agree(plan, store, chunk_size, choose, num_devices, settings, rank, world, meta,
                                lambda: _seeds_per_configuration(first_stage().trials))

        def write_run() -> None:
            if store is not None and rank == 0:
                store.write_run({
                    "groups": [{"static": dict(key), "dataset": str(dict(key).get("dataset")), "config": config.flat()}
                               for key, config in run.resolved.items()],
                    "data": data_info, **environment()})

        write_run()
        carries = _Carries(store, population)
        stage, earlier, log = first_stage(), {}, []
        try:
            while stage is not None:
                for group in stage.trials.groups():
                    run.config(group.static)
                run.stage(stage, carries, earlier)
                _barrier(f"jaxdl-sweep-stage-{stage.index}", world)
                if stage.index:
                    carries.drop(stage.index - 1, run.prefixes[stage.index - 1], rank)
                log.append(stage.log())
                records = run.all_records()
                earlier = {r["id"]: r for r in records if r.get("stage", 0) == stage.index}
                stage = strategy.next(stage, records)
        finally:
            strategy.close()
        write_run()  # later stages may have added static groups
        summary = summarize(candidates(records), metric, maximize, constraints=constraints)
        summary.update(fingerprint=plan.fingerprint(), num_trials=len({r["id"] for r in records}), stages=log)
        if store is not None:
            summary["chunks_done"] = sorted(store.done_chunks(run.chunk_ids))
            if rank == 0:
                store.write_summary(summary)
                store.keep_only([c["best_trial"] for c in summary["configurations"][:keep] if c["best_trial"] is not None])
    return SweepResult(records, summary, store, run.run, run.skipped, time.perf_counter() - start, run.chunk_size)
