"""The result store of a sweep: one directory that an interrupted sweep resumes from.

Layout of a run directory::

    out/
      plan.json            the plan, its fingerprint and what else fixes the numbers (the data's
                           fingerprints, the engine's mode); written first, never changed
      run.json             how to read the run back: every static group's resolved configuration
                           (all static keys), each data set's fingerprint, split seed and shapes,
                           the jaxdl/jax/jaxlib/flax/optax versions and the platform
      records/g0-c0.json   one file per finished chunk: one record per trial
      records/g0-c1.json
      params/trial-17.npz  parameters saved with save_params (the best trial's)
      summary.json         counts and the best trial, rewritten as the sweep goes
      engine.json          the engine's chunk size and mode; a resume must cut chunks alike
      carries/r0-g0-c0.npz a stage chunk's training state that the next stage continues
                           (a halving rung, a PBT interval), until the next stage is complete

Every file is written atomically: the bytes go to a hidden temporary file in
the same directory, are flushed and ``fsync``-ed, and ``os.replace`` renames
the temporary file over the target (with the permissions of a normally created
file, ``0666`` less the umask). A rename within one directory is atomic
on POSIX and Windows, so a reader (or a resumed sweep) sees either the old
file or the new one, never half of one. A chunk whose file exists is
finished; :meth:`RunStore.done_chunks` is all a resumed sweep needs to skip
work already done.

Setting up cannot leave a directory stuck: ``plan.json`` is the first file
written (atomically), and a directory that holds only jaxdl's hidden files
(the ``.lock`` file, leftover ``.*.tmp`` files) counts as empty, so an
interruption at any instant leaves either nothing to resume from (the same
command starts afresh) or a resumable run. :meth:`RunStore.lock` takes an
exclusive ``fcntl`` lock on ``.lock``: a second sweep into the same
directory is refused with one line while the first runs, and leftover
temporary files are removed once the lock is held. A chunk file counts only
if its name is a chunk id and it names itself (a copied file does not), and
a chunk file that is not a jaxdl chunk document is an error naming it.

A record is a JSON object with these fields (:data:`RECORD_FIELDS`)::

    id              trial id in the plan
    static          {TrainConfig field: value}
    dynamic         {HParams name: float}
    seed            the trial's seed
    status          "ok" or "diverged"
    diverged_epoch  1-based epoch the loss became NaN/inf, or null
    final           {metric: value at the last finite epoch}
    best            {metric: best value over epochs, in the metric's direction (jaxdl.metrics.maximize)}
    history         {metric: [one value per epoch]}
    wall_time       seconds the trial's chunk took to train

Records may carry further fields: ``stage`` (the strategy's stage that
trained it), ``parent`` (the trial of the previous stage it continued, or
null), ``candidate`` (whether it competes for the best; see
:func:`candidates`), ``epochs_run``, ``params`` (trainable parameters),
``latency_ms`` and ``latency_ms_256`` (median inference time at batch 1 and
256 on the device that ran it), ... The timings (:data:`TIMED_FIELDS`) are
measured afresh by every process, so a resumed sweep's records equal an
uninterrupted one's in everything else. JSON has no
NaN or infinity, so non-finite numbers are written as ``null``; pandas reads
them back as NaN.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from jaxdl.sweep import selection
from jaxdl.sweep.plans import Plan, Trial
from jaxdl.sweep.strategies import rank_trials

__all__ = [
    "RECORD_FIELDS",
    "STATUSES",
    "TIMED_FIELDS",
    "PlanMismatchError",
    "RunLockedError",
    "RunStore",
    "check_out",
    "candidates",
    "configuration_key",
    "atomic_write",
    "make_record",
    "rank_configurations",
    "summarize",
    "trial_score",
    "SELECTION",
]

RECORD_FIELDS: tuple[str, ...] = (
    "id",
    "static",
    "dynamic",
    "seed",
    "status",
    "diverged_epoch",
    "final",
    "best",
    "history",
    "wall_time",
)
"""Fields every record holds."""

TIMED_FIELDS: tuple[str, ...] = ("wall_time", "latency_ms", "latency_ms_256")
"""Record fields that are measured times: they differ from one run of the same trial to the next."""

STATUSES: tuple[str, ...] = ("ok", "diverged")

SELECTION = "final"
"""The part of a record that selection reads: ``final`` holds the metrics of the state a trial returned
(its best epoch's under early stopping, else its last epoch's), the state whose test metrics are
reported and never used to select. ``best`` holds each series' best over epochs, for curves."""

_PLAN_FORMAT = "jaxdl.plan/1"
TEMPORARY_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
_PARAMS_FORMAT = "jaxdl.params/1"
_CHUNK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PlanMismatchError(ValueError):
    """The run directory holds a different plan than the one given."""


class RunLockedError(RuntimeError):
    """Another process holds the run directory's lock (a sweep into it is running)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: setting it to read it is not thread-safe


def check_out(path: str | os.PathLike, flag: str = "--out") -> str:
    """Check, before anything is written, that ``path`` can become (or already is) a directory of ours.

    Raises:
      ValueError: ``path`` is a file, or lies under one, or its nearest existing
        folder is not writable; the message names ``flag``.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{flag} {path}: is a file, not a directory")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{flag} {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: {existing} is not writable")
    return path


def _ours(folder: str, name: str) -> bool:
    """What an interrupted setup may leave in a run directory: the lock, temporary files, an empty ``records/``."""
    if name == "records":
        path = os.path.join(folder, name)
        return os.path.isdir(path) and not os.listdir(path)
    return name == LOCK_FILE or (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX))


# ---------------------------------------------------------------------------
# Atomic files


def _fsync_directory(directory: str) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a mix.

    Writes a hidden temporary file in the same directory (``os.replace`` is
    atomic only within one file system), flushes and fsyncs it, renames it
    over ``path``, then fsyncs the directory. On any error the temporary file
    is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if isinstance(data, str):
        data = data.encode("utf-8")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=TEMPORARY_SUFFIX)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes the file 0600; give it a normal file's mode
            os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


# ---------------------------------------------------------------------------
# Records


def _plain(value: Any) -> Any:
    """JSON-ready copy: arrays and tuples to lists, numpy scalars to Python, NaN and inf to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        return _plain(np.asarray(value).tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _direction(metric: str) -> bool | None:
    """``maximize(metric)`` for a metric of the table, ``None`` for any other series (``learning_rate``)."""
    from jaxdl import metrics

    try:
        return metrics.maximize(metric)
    except ValueError:
        return None


def _best(metric: str, values: np.ndarray) -> float | None:
    maximize = _direction(metric)
    if not values.size or maximize is None:
        return None
    return float(values.max() if maximize else values.min())


def make_record(
    trial: Trial,
    history: Mapping[str, Any],
    wall_time: float,
    diverged_epoch: int | None = None,
    final: Mapping[str, Any] | None = None,
    best: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict:
    """Build a record (see the module docstring) for one trial of a finished chunk.

    Args:
      trial: the planned trial; its id, static, dynamic and seed are copied.
      history: ``{metric: per-epoch values}`` (arrays or lists). Entries after
        a trial stopped may be NaN, as ``jaxdl.train`` writes them.
      wall_time: seconds the chunk took.
      diverged_epoch: 1-based epoch of divergence; ``None`` or a negative
        number (``Result.diverged_epoch`` uses -1) mean it did not diverge.
        It sets ``status``.
      final: metrics of the returned state; default, each history's last
        finite value.
      best: default, each metric history's best finite value in the metric's
        direction (:func:`jaxdl.metrics.maximize`); series that are not
        metrics (``learning_rate``) are left out.
      **extra: further JSON-ready fields (``rung=2``, ``epochs_run=7``).
    """
    series = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in history.items()}
    finite = {name: values[np.isfinite(values)] for name, values in series.items()}
    if final is None:
        final = {name: (values[-1] if values.size else None) for name, values in finite.items()}
    if best is None:
        best = {name: _best(name, values) for name, values in finite.items() if _direction(name) is not None}
    if diverged_epoch is not None and int(diverged_epoch) < 0:
        diverged_epoch = None
    record = {
        **trial.to_dict(),
        "status": "ok" if diverged_epoch is None else "diverged",
        "diverged_epoch": None if diverged_epoch is None else int(diverged_epoch),
        "final": _plain(dict(final)),
        "best": _plain(dict(best)),
        "history": _plain(series),
        "wall_time": float(wall_time),
    }
    clashes = set(extra) & set(record)
    if clashes:
        raise ValueError(f"extra fields {sorted(clashes)} would overwrite record fields")
    record.update(_plain(extra))
    return record


def _check_record(record: Any, where: str, plan_ids: set[int] | None) -> None:
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: a record must be a dict, got {type(record).__name__}")
    missing = [name for name in RECORD_FIELDS if name not in record]
    if missing:
        raise ValueError(f"{where}: record lacks field(s) {missing}; build it with make_record")
    if record["status"] not in STATUSES:
        raise ValueError(f"{where}: status must be one of {list(STATUSES)}, got {record['status']!r}")
    if plan_ids is not None and record["id"] not in plan_ids:
        raise ValueError(f"{where}: trial id {record['id']!r} is not in this run's plan")


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


# ---------------------------------------------------------------------------
# Parameters


def _encode_path(path: Sequence[Any]) -> list[list]:
    import jax

    encoded = []
    for entry in path:
        if isinstance(entry, jax.tree_util.DictKey):
            kind, key = "key", entry.key
        elif isinstance(entry, jax.tree_util.SequenceKey):
            kind, key = "index", entry.idx
        elif isinstance(entry, jax.tree_util.GetAttrKey):
            kind, key = "attr", entry.name
        elif isinstance(entry, jax.tree_util.FlattenedIndexKey):
            kind, key = "flat", entry.key
        else:
            raise TypeError(f"cannot save a pytree path entry of type {type(entry).__name__}")
        if isinstance(key, np.integer):
            key = int(key)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise TypeError(f"cannot save pytree key {key!r}: keys must be strings or integers")
        encoded.append([kind, key])
    return encoded


def _nest(paths: list[list[list]], leaves: list[np.ndarray]) -> Any:
    """Rebuild nested dicts (keys, attributes) and lists (indices) from encoded paths."""
    if not paths:
        return {}
    if len(paths) == 1 and not paths[0]:
        return leaves[0]

    def container(kind: str) -> dict | list:
        return [] if kind in ("index", "flat") else {}

    def put(node: dict | list, key: Any, value: Any, overwrite: bool) -> Any:
        if isinstance(node, list):
            node.extend([None] * (key + 1 - len(node)))
            if overwrite or node[key] is None:
                node[key] = value
        elif overwrite or key not in node:
            node[key] = value
        return node[key]

    root = container(paths[0][0][0])
    for path, leaf in zip(paths, leaves):
        node = root
        for (_, key), (next_kind, _) in zip(path[:-1], path[1:]):
            node = put(node, key, container(next_kind), overwrite=False)
        put(node, path[-1][1], leaf, overwrite=True)
    return root


# ---------------------------------------------------------------------------
# The store


class RunStore:
    """A sweep's run directory: plan, per-chunk records, summary and saved parameters.

    Typical use by an engine::

        store = RunStore(out)
        store.init(plan)                       # creates, or checks it is the same plan
        done = store.done_chunks()
        for chunk in plan_chunks(plan, chunk_size, device_count):
            if chunk.id in done:
                continue
            ...train the chunk...
            store.write_chunk(chunk.id, [make_record(...) for each valid trial])
            store.write_summary(store.summarize("val_loss"))
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._plan_ids: set[int] | None = None

    @property
    def plan_path(self) -> str:
        return os.path.join(self.path, "plan.json")

    @property
    def records_dir(self) -> str:
        return os.path.join(self.path, "records")

    @property
    def params_dir(self) -> str:
        return os.path.join(self.path, "params")

    @property
    def summary_path(self) -> str:
        return os.path.join(self.path, "summary.json")

    def __repr__(self) -> str:
        return f"RunStore({self.path!r})"

    # -- plan ---------------------------------------------------------------

    def _read_json(self, path: str) -> Any:
        try:
            with open(path, encoding="utf-8") as file:
                return json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON: {error}") from None

    def _stored(self) -> dict:
        if not os.path.exists(self.plan_path):
            raise FileNotFoundError(f"{self.path} is not an initialised run directory (no plan.json); call init(plan)")
        stored = self._read_json(self.plan_path)
        if not isinstance(stored, dict) or stored.get("format") != _PLAN_FORMAT:
            raise ValueError(f"{self.plan_path}: not a jaxdl plan file (format {_PLAN_FORMAT!r} expected)")
        return stored

    def init(self, plan: Plan, meta: Mapping[str, Any] | None = None) -> bool:
        """Create the run directory for ``plan``, or check that an existing one holds the same plan.

        Args:
          plan: the trials.
          meta: whatever else fixes the numbers (``{"data": {name: fingerprint}}``):
            stored beside the plan, and a resume must give the same.

        Returns:
          ``True`` when the directory already held this plan (a resume: skip
          the chunks in :meth:`done_chunks`), ``False`` when it was created.

        Raises:
          PlanMismatchError: the directory holds a different plan, or the same
            plan with other ``meta`` (the message names what differs).
          ValueError: the directory exists, is not empty and is not a run directory.
        """
        fingerprint = plan.fingerprint()
        meta = _plain(dict(meta or {}))
        if os.path.exists(self.plan_path):
            stored = self._stored()
            if stored.get("fingerprint") != fingerprint:
                raise PlanMismatchError(
                    f"{self.path} holds a different sweep (plan fingerprint {str(stored.get('fingerprint'))[:12]}, "
                    f"this plan {fingerprint[:12]}): the space, strategy, seed or sample count changed. "
                    f"Choose another --out directory, or delete {self.path} to start over."
                )
            before = stored.get("meta", {})
            differ = sorted(key for key in set(before) | set(meta) if before.get(key) != meta.get(key))
            if differ:
                raise PlanMismatchError(
                    f"{self.path} was run with other {', '.join(differ)} ({_difference(before, meta, differ)}): "
                    f"resuming would mix results. Rerun with the same ones, or choose another --out directory."
                )
            os.makedirs(self.records_dir, exist_ok=True)
            self._plan_ids = {t.id for t in plan}
            return True
        if os.path.isdir(self.path) and not all(_ours(self.path, name) for name in os.listdir(self.path)):
            raise ValueError(
                f"{self.path} exists and is not a jaxdl run directory (no plan.json); choose another --out directory"
            )
        os.makedirs(self.path, exist_ok=True)
        document = {"format": _PLAN_FORMAT, "fingerprint": fingerprint, "plan": plan.to_dict(), "meta": meta}
        atomic_write(self.plan_path, json.dumps(document, sort_keys=True, allow_nan=False) + "\n")
        os.makedirs(self.records_dir, exist_ok=True)
        self._plan_ids = {t.id for t in plan}
        return False

    @contextlib.contextmanager
    def lock(self):
        """Hold an exclusive lock on the run directory (created if need be) while the block runs.

        Once it is held, temporary files that an interrupted writer left are
        removed. Where ``fcntl`` is missing (Windows) nothing is locked.

        Raises:
          RunLockedError: another process holds it (its pid is named).
        """
        os.makedirs(self.path, exist_ok=True)
        path = os.path.join(self.path, LOCK_FILE)
        with open(path, "a+", encoding="utf-8") as file:
            try:
                import fcntl
            except ImportError:  # Windows
                fcntl = None
            if fcntl is not None:
                try:
                    fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    file.seek(0)
                    holder = file.read().strip() or "another process"
                    raise RunLockedError(f"{self.path} is in use by a running sweep (pid {holder}); "
                                         f"wait for it to finish or choose another --out directory") from None
            file.seek(0)
            file.truncate()
            file.write(str(os.getpid()))
            file.flush()
            self.clean()
            try:
                yield self
            finally:
                file.seek(0)
                file.truncate()

    def clean(self) -> list[str]:
        """Remove the temporary files an interrupted writer left (call it holding :meth:`lock`); return them."""
        removed = []
        for folder in (self.path, self.records_dir, self.params_dir, os.path.join(self.path, "carries")):
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.startswith(".") and name.endswith(TEMPORARY_SUFFIX):
                        os.unlink(os.path.join(folder, name))
                        removed.append(os.path.join(folder, name))
        return removed

    def meta(self) -> dict:
        """What :meth:`init` stored beside the plan (the data's fingerprints, the mode)."""
        return self._stored().get("meta", {})

    @property
    def run_path(self) -> str:
        return os.path.join(self.path, "run.json")

    def write_run(self, info: Mapping[str, Any]) -> None:
        """Write ``run.json``: resolved configurations, data shapes, versions and platform."""
        atomic_write(self.run_path, json.dumps(_plain(info), indent=2, sort_keys=True, allow_nan=False) + "\n")

    def run_info(self) -> dict:
        """The contents of ``run.json`` (see the module docstring)."""
        if not os.path.exists(self.run_path):
            raise FileNotFoundError(f"{self.path} has no run.json (written by jaxdl sweep and jaxdl train)")
        return self._read_json(self.run_path)

    def fingerprint(self) -> str:
        """The stored plan's fingerprint."""
        return self._stored()["fingerprint"]

    def plan(self) -> Plan:
        """The stored plan (to resume from the directory alone)."""
        return Plan.from_dict(self._stored()["plan"])

    # -- records ------------------------------------------------------------

    def done_chunks(self, chunk_ids: Iterable[str] | None = None) -> set[str]:
        """Ids of the chunks whose records are on disk (of ``chunk_ids`` only, when given); a resume skips them.

        A file counts when its name is a chunk id; :meth:`records` also
        checks that the file names itself.
        """
        if not os.path.isdir(self.records_dir):
            return set()
        found = {
            name[: -len(".json")]
            for name in os.listdir(self.records_dir)
            if name.endswith(".json") and _CHUNK_ID.match(name[: -len(".json")])
        }
        return found if chunk_ids is None else found & set(chunk_ids)

    def write_chunk(self, chunk_id: str, records: Iterable[Mapping[str, Any]],
                    trial_ids: Iterable[int] | None = None) -> None:
        """Write one finished chunk's records (padding already dropped) as ``records/<chunk_id>.json``.

        Atomic: after a crash the file is absent (or, when rewriting, the old
        one is intact), so the chunk is simply trained again on resume.

        Args:
          chunk_id: the chunk's id.
          records: its records.
          trial_ids: the ids its stage may hold (a later stage of a strategy
            may propose new trials); default, the stored plan's.

        Raises:
          ValueError: a bad chunk id, a record lacking a field of
            :data:`RECORD_FIELDS`, a bad status, or a trial id not in the plan.
        """
        if not isinstance(chunk_id, str) or not _CHUNK_ID.match(chunk_id):
            raise ValueError(f"chunk id must be letters, digits, '.', '_' or '-' (not leading '.'), got {chunk_id!r}")
        plan_ids = None if trial_ids is None else set(trial_ids)
        if plan_ids is None:
            plan_ids = self._plan_ids
        if plan_ids is None:
            plan_ids = {t["id"] for t in self._stored()["plan"]["trials"]}
            self._plan_ids = plan_ids
        records = list(records)
        for number, record in enumerate(records):
            _check_record(record, f"chunk {chunk_id!r}, record {number}", plan_ids)
        document = {"chunk": chunk_id, "records": _plain(records)}
        text = json.dumps(document, sort_keys=True, allow_nan=False)
        atomic_write(os.path.join(self.records_dir, f"{chunk_id}.json"), text + "\n")

    def records(self, chunk_ids: Iterable[str] | None = None) -> list[dict]:
        """Every stored record (of ``chunk_ids`` only, when given), with its ``chunk`` id added.

        Sorted by trial id (then ``stage``). Static values that were tuples
        come back as tuples (JSON stores lists). A file that does not name
        itself (a copy of another chunk's file) is not one of this run's
        chunks and is passed over.

        Raises:
          ValueError: a chunk file that is not a jaxdl chunk document, or two
            chunks holding the same trial (and stage); the message names the files.
        """
        found, seen = [], {}
        for chunk_id in sorted(self.done_chunks(chunk_ids)):
            path = os.path.join(self.records_dir, f"{chunk_id}.json")
            document = self._read_json(path)
            if not (isinstance(document, dict) and isinstance(document.get("records"), list)):
                raise ValueError(f"{path}: not a jaxdl chunk file (a JSON object with 'chunk' and 'records'); "
                                 f"delete it to train that chunk again")
            if document.get("chunk") != chunk_id:
                continue
            for number, record in enumerate(document["records"]):
                try:
                    _check_record(record, f"{path}, record {number}", None)
                except ValueError as error:
                    raise ValueError(f"{error}; delete the file to train that chunk again") from None
                key = (record["id"], record.get("stage"))
                if key in seen:
                    raise ValueError(f"{path} and {seen[key]} both hold trial {record['id']}: "
                                     f"remove the one that does not belong to this run")
                seen[key] = path
                record["static"] = {k: _tuples(v) for k, v in record["static"].items()}
                record["chunk"] = chunk_id
                found.append(record)
        found.sort(key=lambda r: (r["id"], r.get("stage") or 0))
        return found

    def dataframe(self):
        """The records as a ``pandas.DataFrame``, one row per record.

        Columns: ``id``, ``chunk``, ``seed``, ``status``, ``diverged_epoch``,
        ``wall_time`` and any extra scalar fields; then one column per static
        and per dynamic key (prefixed ``static_``/``dynamic_`` only on a name
        clash); then ``final_<metric>`` and ``best_<metric>``. Histories are in
        :meth:`history_dataframe`.

        Raises:
          ImportError: pandas is not installed.
        """
        pandas = _pandas("dataframe")
        base = ["id", "chunk", "seed", "status", "diverged_epoch", "wall_time"]
        rows = []
        for record in self.records():
            row = {name: record[name] for name in base}
            for name, value in record.items():
                if name not in RECORD_FIELDS and name not in row and not isinstance(value, (dict, list)):
                    row[name] = value
            for prefix in ("static", "dynamic"):
                for name, value in record[prefix].items():
                    row[f"{prefix}_{name}" if name in row else name] = value
            for prefix in ("final", "best"):
                for name, value in record[prefix].items():
                    row[f"{prefix}_{name}"] = np.nan if value is None else value
            rows.append(row)
        return pandas.DataFrame(rows, columns=None if rows else base)

    def history_dataframe(self):
        """Per-epoch histories in long form: columns ``id``, ``epoch`` (1-based) and one per metric.

        Raises:
          ImportError: pandas is not installed.
        """
        pandas = _pandas("history_dataframe")
        rows = []
        for record in self.records():
            history = record["history"]
            epochs = max((len(v) for v in history.values()), default=0)
            for epoch in range(epochs):
                row = {"id": record["id"], "epoch": epoch + 1}
                for name, values in history.items():
                    value = values[epoch] if epoch < len(values) else None
                    row[name] = np.nan if value is None else value
                rows.append(row)
        return pandas.DataFrame(rows, columns=None if rows else ["id", "epoch"])

    # -- summary ------------------------------------------------------------

    def summarize(self, metric: str = "val_loss", maximize: bool | None = None, which: str = "best") -> dict:
        """:func:`summarize` over the stored records, plus the plan's fingerprint and finished chunks."""
        stored = self._stored()
        summary = summarize(candidates(self.records()), metric, maximize, which)
        summary.update(
            fingerprint=stored["fingerprint"],
            num_trials=len(stored["plan"]["trials"]),
            chunks_done=sorted(self.done_chunks()),
        )
        return summary

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Write ``summary.json`` atomically (typically :meth:`summarize`'s result)."""
        atomic_write(self.summary_path, json.dumps(_plain(summary), indent=2, sort_keys=True, allow_nan=False) + "\n")

    def summary(self) -> dict | None:
        """The stored summary, or ``None`` before the first :meth:`write_summary`."""
        return self._read_json(self.summary_path) if os.path.exists(self.summary_path) else None

    def best(self, select: str | None = None, which: str = SELECTION) -> dict:
        """The best configuration (the report's rank 1), and by which metric.

        Returns ``{"id", "metric", "score", "mean", "std", "n", "trial_ids",
        "maximize", "static", "dynamic", "seed"}``: ``mean``/``std`` over the
        configuration's ``n`` seeds, and ``id``, ``seed``, ``score`` of its
        best seed, whose state :meth:`load_model` loads.

        Args:
          select: a metric (``"val_accuracy"``) or a satisficing selection
            (``"max val_accuracy where latency_ms <= 100"``, see
            :mod:`jaxdl.sweep.selection`); default, the sweep's own (its
            summary's metric, direction and constraints), else ``val_accuracy``.
          which: ``"final"`` (the returned state's metrics, the default) or
            ``"best"`` (each metric's best epoch, which no returned state need have).

        Raises:
          ValueError: no records yet, every trial diverged, a constraint names
            an unknown quantity, or no configuration meets the constraints
            (the message names the closest and what it misses).
        """
        if select is None:
            stored = self.summary()
            select = "val_accuracy" if not stored else stored.get("select") or stored["metric"].split(".", 1)[1]
        chosen = selection.parse(select)
        records = candidates(self.records())
        if not records:
            raise ValueError(f"{self.path} holds no finished trials yet")
        summary = summarize(records, chosen.metric, chosen.maximize, which, chosen.constraints)
        top = summary["best"]
        if summary.get("closest") is not None:
            raise ValueError(selection.infeasible(summary["constraints"], summary["closest"], f"{self.path}: "))
        if top is None or top["status"] != "ok" or top["score"] is None:
            raise ValueError(f"{self.path}: no trial has a finite {which}.{chosen.metric} (every trial diverged?)")
        return {"id": top["id"], "metric": f"{which}.{chosen.metric}", "score": top["score"], "mean": top["mean"],
                "std": top["std"], "n": top["n"], "trial_ids": top["trial_ids"], "maximize": summary["maximize"],
                "static": top["static"], "dynamic": top["dynamic"], "seed": top["seed"]}

    def load_model(self, trial_id: int):
        """The trained ``nnx.Module`` of a trial whose state was kept, ready to call as ``model(x, train=False)``.

        Rebuilds the model from the trial's resolved configuration in
        ``run.json`` (a user model needs its module imported first, as for
        the sweep) and loads the saved parameters and batch statistics. The
        model expects inputs prepared as the run's (standardised with the
        training statistics: build the same ``Data`` again).

        Raises:
          FileNotFoundError: no state was kept for the trial (the sweep keeps
            the ``keep`` best; see ``[sweep] keep``), or no ``run.json``.
        """
        import jax
        from flax import nnx

        from jaxdl import models, train

        trial_id = int(trial_id)
        if not os.path.exists(self.params_path(trial_id)):
            kept = sorted(int(n[len("trial-"):-len(".npz")]) for n in os.listdir(self.params_dir)
                          if n.startswith("trial-") and n.endswith(".npz")) if os.path.isdir(self.params_dir) else []
            raise FileNotFoundError(f"{self.path}: no saved state for trial {trial_id}; kept: {kept or 'none'}")
        info = self.run_info()
        record = next((r for r in candidates(self.records()) if r["id"] == trial_id), None)
        if record is not None:
            static = record["static"]
        else:  # no records: a jaxdl train folder, one group
            static = self.plan().by_id(trial_id).static if os.path.exists(self.plan_path) else {}
        key = json.dumps(_plain(static), sort_keys=True)
        group = next((g for g in info["groups"] if json.dumps(g["static"], sort_keys=True) == key), None)
        if group is None:
            raise ValueError(f"{self.run_path} has no configuration for trial {trial_id}'s group")
        config = train.TrainConfig.from_static({k: _tuples(v) for k, v in group["config"].items()})
        shape = info["data"][group["dataset"]]
        model = train.make_model(config, tuple(shape["input_shape"]), int(shape["out_features"]), jax.random.key(0))
        graphdef, params, batch_stats, rates, keys = models.split(model)
        state = self.load_params(trial_id, like={"params": params, "batch_stats": batch_stats})
        return nnx.merge(graphdef, state["params"], state["batch_stats"], rates, keys)

    def keep_only(self, trial_ids: Iterable[int]) -> None:
        """Delete the saved states of every trial not in ``trial_ids``."""
        wanted = {int(i) for i in trial_ids}
        if not os.path.isdir(self.params_dir):
            return
        for name in os.listdir(self.params_dir):
            if name.startswith("trial-") and name.endswith(".npz") and int(name[6:-4]) not in wanted:
                os.unlink(os.path.join(self.params_dir, name))

    # -- parameters ---------------------------------------------------------

    def params_path(self, trial_id: int) -> str:
        return os.path.join(self.params_dir, f"trial-{int(trial_id)}.npz")

    def save_params(self, trial_id: int, params: Any) -> None:
        """Save a parameter pytree as ``params/trial-<id>.npz``, atomically.

        The npz holds one array per leaf plus a JSON table of each leaf's path
        (dict keys, list indices, attribute names) and of dtypes numpy cannot
        name itself (``bfloat16`` is stored as its ``uint16`` bits), so no
        pickle is ever needed to read it back.
        """
        import jax

        leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(params)
        arrays, table = {}, []
        for number, (path, leaf) in enumerate(leaves_with_paths):
            array = np.asarray(leaf)
            if array.dtype == object:
                raise TypeError(f"cannot save leaf {jax.tree_util.keystr(path)}: object arrays need pickle")
            dtype = None
            if array.dtype.type.__module__.startswith("ml_dtypes"):
                dtype = array.dtype.name
                array = array.view(f"u{array.dtype.itemsize}")
            arrays[f"leaf_{number}"] = array
            table.append({"path": _encode_path(path), "dtype": dtype})
        meta = json.dumps({"format": _PARAMS_FORMAT, "leaves": table})
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.array(meta), **arrays)
        os.makedirs(self.params_dir, exist_ok=True)
        atomic_write(self.params_path(trial_id), buffer.getvalue())

    def load_params(self, trial_id: int, like: Any = None) -> Any:
        """Load parameters saved by :meth:`save_params`.

        Args:
          trial_id: whose parameters.
          like: a pytree of the same structure (e.g. a fresh model's
            ``nnx.State``); its structure is reused, so the result has the
            same container types. Without it, dict keys and attributes come
            back as nested dicts and sequences as lists.

        Returns:
          The pytree, with numpy arrays of the saved dtypes and shapes as leaves.

        Raises:
          FileNotFoundError: nothing was saved for ``trial_id``.
          ValueError: ``like`` has a different structure.
        """
        path = self.params_path(trial_id)
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["__meta__"]))
            leaves = []
            for number, entry in enumerate(meta["leaves"]):
                array = archive[f"leaf_{number}"]
                if entry["dtype"] is not None:
                    import ml_dtypes

                    array = array.view(getattr(ml_dtypes, entry["dtype"]))
                leaves.append(array)
        paths = [entry["path"] for entry in meta["leaves"]]
        if like is None:
            return _nest(paths, leaves)
        import jax

        template, treedef = jax.tree_util.tree_flatten_with_path(like)
        expected = [_encode_path(p) for p, _ in template]
        if expected != paths:
            raise ValueError(f"{path}: saved parameters do not have the structure of `like`")
        return jax.tree_util.tree_unflatten(treedef, leaves)


def candidates(records: Sequence[Mapping[str, Any]]) -> list:
    """The records that compete for the best configuration: those of stages no later stage continued.

    A halving rung or a PBT interval that a later stage continued has
    ``candidate: false``; one-stage records, which lack the field, all
    compete. While no candidate exists yet (a multi-stage sweep stopped
    early), each trial's record of the latest stage stands in.
    """
    chosen = [r for r in records if r.get("candidate", True)]
    if chosen or not records:
        return chosen
    last = max(r.get("stage", 0) for r in records)
    return [r for r in records if r.get("stage", 0) == last]


def _difference(before: Mapping, now: Mapping, keys: Sequence[str]) -> str:
    def short(value):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 40 else text[:37] + "..."

    return "; ".join(f"{key}: stored {short(before.get(key))}, now {short(now.get(key))}" for key in keys)


def _pandas(method: str):
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"RunStore.{method}() needs pandas; install it (pip install pandas) or use RunStore.records()"
        ) from error
    return pandas


def trial_score(record: Mapping[str, Any], metric: str, which: str = SELECTION) -> float:
    """``record[which][metric]`` as a float; NaN when it is missing or the trial diverged."""
    value = record[which].get(metric) if record["status"] == "ok" else None
    return float("nan") if value is None else float(value)


def configuration_key(static: Mapping[str, Any], dynamic: Mapping[str, Any]) -> str:
    """What trials of one configuration share (everything but the seed), as a string to group by."""
    return json.dumps(_plain({"static": static, "dynamic": dynamic}), sort_keys=True)


def rank_configurations(records: Sequence[Mapping[str, Any]], metric: str, maximize: bool | None = None,
                        which: str = SELECTION, constraints: Sequence[Any] = ()) -> list[dict]:
    """Trials that differ only by seed, as configurations ranked best first by their mean ``record[which][metric]``.

    A record that names its ``configuration`` (a PBT member) is grouped by that name instead.

    Each row: ``trial_ids`` (sorted), ``mean`` and ``std`` (sample standard
    deviation; 0 for one seed) over the seeds that did not diverge, ``n``
    seeds, ``diverged`` (count) and ``best_trial``, the seed's trial with the
    best score (``None`` when none is finite). Configurations with no finite
    score rank last; ties go to the smaller first trial id. This is the one
    ranking the summary, ``RunStore.best``, ``keep`` and the report's table share.

    With ``constraints`` (:class:`jaxdl.sweep.selection.Constraint`, satisficing
    selection) each row also has ``values`` (each constrained quantity's mean
    over the seeds that did not diverge), ``feasible`` and ``violations``
    (the constraints it fails, as text); feasible configurations rank first,
    by the metric, and the rest follow, closest first.

    Raises:
      ValueError: a constraint names a quantity the records do not hold.
    """
    if which not in ("best", "final"):
        raise ValueError(f"which must be 'best' or 'final', got {which!r}")
    if maximize is None:
        from jaxdl import metrics

        maximize = metrics.maximize(metric)
    if constraints and records:
        selection.check_known(constraints, selection.known_names(records, which), "the records do not hold")
    groups: dict[str, list] = {}
    for record in records:
        key = record.get("configuration") or configuration_key(record["static"], record["dynamic"])
        groups.setdefault(key, []).append(record)
    rows = []
    for members in groups.values():
        ids = [m["id"] for m in members]
        scores = np.array([trial_score(m, metric, which) for m in members])
        finite = scores[np.isfinite(scores)]
        order = rank_trials(ids, list(scores), maximize, [m["id"] for m in members if m["status"] != "ok"])
        rows.append({
            "trial_ids": sorted(ids),
            "mean": float(finite.mean()) if finite.size else float("nan"),
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
            "n": len(members),
            "diverged": sum(m["status"] == "diverged" for m in members),
            "best_trial": order[0] if finite.size else None,
        })
        if constraints:
            values = {}
            for constraint in constraints:
                column = np.array([selection.record_value(m, constraint.name, which) for m in members])
                column = column[np.isfinite(column)]
                values[constraint.name] = float(column.mean()) if column.size else float("nan")
            rows[-1].update(values=values,
                            violations=[f"{c.name} {values[c.name]:.4g} fails {c}" for c in constraints
                                        if not c.holds(values[c.name])])
            rows[-1]["feasible"] = not rows[-1]["violations"]
            rows[-1]["excess"] = sum(c.excess(values[c.name]) for c in constraints)
    sign = -1.0 if maximize else 1.0
    rows.sort(key=lambda r: (not r.get("feasible", True), r.get("excess", 0.0) if not r.get("feasible", True) else 0.0,
                             not np.isfinite(r["mean"]), sign * r["mean"] if np.isfinite(r["mean"]) else 0.0,
                             r["trial_ids"][0]))
    return rows


def summarize(records: Sequence[Mapping[str, Any]], metric: str = "val_loss", maximize: bool | None = None,
              which: str = SELECTION, constraints: Sequence[Any] = ()) -> dict:
    """Counts, the trials ranked by ``record[which][metric]``, and the best configuration.

    ``maximize`` defaults to the metric's direction in the metric table
    (:func:`jaxdl.metrics.maximize`). Diverged trials rank last.
    ``best`` is the first of :func:`rank_configurations` (the table's rank
    1): its ``mean``, ``std`` and ``n`` over seeds, its ``trial_ids``, and
    ``id``/``seed``/``score`` of its best seed's trial, whose state a sweep
    keeps; ``None`` when no trial has a finite score (every trial diverged).
    ``configurations`` lists each configuration's ``trial_ids`` and
    ``best_trial`` in rank order. With ``constraints`` (satisficing
    selection), ``best`` is the first configuration that meets them all,
    ``None`` when none does, and ``closest`` then names the nearest miss and
    its ``violations``; ``constraints`` lists them as text.
    """
    if maximize is None:
        from jaxdl import metrics

        maximize = metrics.maximize(metric)
    configurations = rank_configurations(records, metric, maximize, which, constraints)
    diverged = [r["id"] for r in records if r["status"] == "diverged"]
    ranking = rank_trials([r["id"] for r in records], [trial_score(r, metric, which) for r in records], maximize, diverged)
    best = closest = None
    if configurations and not configurations[0].get("feasible", True):
        closest = {"trial_ids": configurations[0]["trial_ids"], "violations": configurations[0]["violations"]}
    elif configurations and configurations[0]["best_trial"] is not None:
        top = configurations[0]
        trial = next(r for r in records if r["id"] == top["best_trial"])
        best = {key: trial[key] for key in ("id", "static", "dynamic", "seed", "status")}
        best.update(score=trial_score(trial, metric, which), mean=top["mean"], std=top["std"], n=top["n"],
                    trial_ids=top["trial_ids"])
    return _plain(
        {
            "num_records": len(records),
            "num_ok": sum(r["status"] == "ok" for r in records),
            "num_diverged": len(diverged),
            "metric": f"{which}.{metric}",
            "maximize": maximize,
            "best": best,
            "select": str(selection.Selection(metric, maximize, tuple(constraints))),
            **({"constraints": [str(c) for c in constraints], "closest": closest} if constraints else {}),
            "ranking": ranking,
            "configurations": [{"trial_ids": c["trial_ids"], "best_trial": c["best_trial"]} for c in configurations],
        }
    )
