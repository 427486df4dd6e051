"""The ``jaxdl`` command: ``sweep``, ``report DIR``, ``train``, ``learning-curve`` and ``analyze RUN``.

Bad input (an unknown activation, a negative learning rate, a missing data
directory, a malformed TOML file, an unwritable ``--out``) prints one line,
``jaxdl: error: ...``, and exits with status 2; Ctrl-C prints how to resume
and exits with status 130. The flags share their bounds with the TOML keys:
the checks live in :mod:`jaxdl.train` and :mod:`jaxdl.sweep`, not here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["main", "default_space"]

DEFAULT_SWEEP_DIR = os.path.join("runs", "sweep")
_TRAIN_FLAGS = ("learning_rate", "weight_decay", "l2", "dropout_rate")
MAX_SEED = 2**31 - 1  # seeds become int32 keys
SELECT_HELP = ("the metric to optimise and constraints to satisfy, e.g. 'max val_accuracy where latency_ms <= 100 "
               "and params <= 50000' (names: validation/training metrics, params, latency_ms, latency_ms_256, "
               "wall_time, epochs_run; default: [sweep] select, else --metric)")
INTERRUPTED = "interrupted \N{EM DASH} rerun the same command to resume"


def default_space():
    """The default sweep: four activations x 16 log-spaced learning rates in [1e-4, 1] x 2 seeds.

    A 64-64 MLP trained with Adam for 20 epochs (batch 32) on the digits, each
    activation with its matching initializer. 128 trials, four compilations.
    """
    from jaxdl import sweep

    return sweep.Space(
        {
            "activation": sweep.choice("relu", "elu", "selu", "tanh"),
            "learning_rate": sweep.loggrid(1e-4, 1.0, 16),
            "hidden": (64, 64),
            "optimizer": "adam",
            "epochs": 20,
            "batch_size": 32,
        },
        seeds=2,
    )


def _load_data(name, args, file_settings=None):
    """A named data set, or a file from --data / [data] (with its target column and task)."""
    from jaxdl import train

    settings = dict(file_settings or {})
    path = getattr(args, "data", None) or settings.get("file")
    if path:
        target = getattr(args, "target", None) or settings.get("target")
        task = getattr(args, "task", None) or settings.get("task")
        data = train.Data.from_file(path, target=target, task=task, seed=args.data_seed)
        print(f"data: {path} ({data.task}, {data.x_train.shape[0]} train / {data.x_val.shape[0]} val / "
              f"{data.x_test.shape[0]} test examples)")
        return data
    return train.Data.load(name, args.data_dir, image=True, seed=args.data_seed)


def _sweep(args) -> int:
    from jaxdl import registry, sweep

    registry.load_plugins(args.imports or ())
    if args.config:
        space, settings = sweep.load_config(args.config)
        out = args.out or os.path.join("runs", os.path.splitext(os.path.basename(args.config))[0])
    else:
        space, settings = default_space(), {"strategy": "grid"}
        out = args.out or DEFAULT_SWEEP_DIR
    sweep.store.check_out(out)
    file_settings = settings.pop("data", None)
    selected = _selection(args, settings.pop("select", None), settings.pop("metric", None),
                          settings.pop("maximize", None))
    metric, maximize, constraints = selected.metric or "val_accuracy", selected.maximize, selected.constraints
    keep = settings.pop("keep", 1)
    chunk_size = args.chunk_size or settings.pop("chunk_size", None)
    plan = sweep.build_plan(space, settings)
    # The data sets the space may choose (a later stage of a strategy may choose any of them).
    chosen = space.params.get("dataset")
    if chosen is None:
        data = _load_data(args.dataset, args, file_settings)
    else:
        data = {name: _load_data(name, args, file_settings)
                for name in (chosen.values() if isinstance(chosen, sweep.distributions.Choice) else (chosen,))}
    if selected.metric is None and not isinstance(data, dict) and data.task == "regression":
        metric = "val_rmse"
    strategy = settings.get("strategy", "random")
    first = f"{len(plan)} trials in {len(plan.groups())} static groups" if len(plan) else "trials asked as it goes"
    print(f"jaxdl sweep: {strategy}, {first} -> {out}")
    result = sweep.run_sweep(plan, data, out, chunk_size=chunk_size, mode=args.mode, parts=args.parts,
                             metric=metric, maximize=maximize, constraints=constraints, keep=keep,
                             progress=not args.quiet)
    if result.chunks_skipped and not result.chunks_run:
        print(f"already complete: all {result.chunks_skipped} chunks were found in {out}; nothing to train")
    elif result.chunks_skipped:
        print(f"resumed: {result.chunks_skipped} finished chunks found in {out}, {result.chunks_run} run now")
    return _report(result.records, out, metric, args.top, seconds=result.seconds, constraints=constraints)


def _selection(args, select=None, metric=None, maximize=None):
    """The selection the flags ask for, else the file's: ``--select`` or ``--metric`` replaces ``[sweep]``'s."""
    from jaxdl.sweep import selection

    if args.select and args.metric:
        raise ValueError("give --select or --metric, not both (--select names the metric)")
    if args.select:
        return selection.parse(args.select)
    if args.metric:
        return selection.Selection(args.metric)
    if select:
        return selection.parse(select)
    return selection.Selection(metric, maximize)


def _report(records, out, metric, top, seconds=None, constraints=()) -> int:
    from jaxdl.sweep import RunStore, report, store

    written = report.write_report(records, out, metric=metric, top=top, constraints=constraints)
    final = store.candidates(records)
    diverged = sum(r["status"] == "diverged" for r in final)
    print()
    print(written["table"])
    print()
    timing = f" in {seconds:.1f} s" if seconds is not None else ""
    stages = len({r.get("stage", 0) for r in records})
    over = f" (after {stages} stages, {len(records)} records)" if stages > 1 else ""
    print(f"{len(final)} trials{over}{timing}, {diverged} diverged")
    for name, path in written["paths"].items():
        print(f"{name}: {path}")
    rows = written["rows"]
    if rows and not rows[0].get("feasible", True):
        from jaxdl.sweep.selection import infeasible

        raise ValueError(infeasible(constraints, rows[0]))
    if not rows or rows[0]["best_trial"] is None:
        print(f"no configuration has a finite {metric}: every trial diverged, so none is called best")
        return 0
    best = rows[0]
    settings = ", ".join(f"{k}={report._format(v)}" for k, v in best["settings"].items()) or "the only configuration"
    print(f"best configuration (rank 1): {settings}; {metric} {best['mean']:.4f} ± {best['std']:.4f} "
          f"over {best['n']} seed{'s' if best['n'] != 1 else ''}")
    trial = best["best_trial"]
    if os.path.exists(RunStore(out).params_path(trial)):
        print(f"its best seed, trial {trial}, kept its weights: jaxdl.sweep.RunStore({out!r}).load_model({trial})")
    return 0


def _report_command(args) -> int:
    from jaxdl import metrics, registry, sweep

    from jaxdl.sweep import report

    registry.load_plugins(args.imports or ())
    chosen = _selection(args)
    runs, metric = {}, chosen.metric
    for run_dir in args.run_dirs:
        if not os.path.isdir(run_dir):
            raise FileNotFoundError(f"no run directory at {run_dir}")
        store = sweep.RunStore(run_dir)
        records = store.records()
        if not records:
            raise ValueError(f"{run_dir} holds no finished trials yet")
        summary = store.summary()
        if metric is None and summary:  # the sweep's own selection, constraints included
            chosen = sweep.selection.parse(summary.get("select") or summary["metric"].split(".", 1)[1])
        metric = chosen.metric or "val_accuracy"
        metrics.maximize(metric)  # an unknown metric is one line, not a table of NaN
        runs[run_dir] = records
    if len(runs) == 1:
        ((run_dir, records),) = runs.items()
        return _report(records, run_dir, metric, args.top, constraints=chosen.constraints)
    print(report.format_comparison(report.compare_runs(runs, metric), metric))
    return 0


def _parse_assignments(items, numbers_only: bool = True) -> dict:
    """``NAME=VALUE`` pairs; without ``numbers_only``, values are read as TOML (``width=128``, ``hidden=[64, 32]``)."""
    import tomllib

    values = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        if numbers_only:
            try:
                values[name.strip()] = float(value)
            except ValueError:
                raise ValueError(f"--set {name}: {value!r} is not a number") from None
            continue
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value
        values[name.strip()] = tuple(parsed) if isinstance(parsed, list) else parsed
    return values


def _fresh_directory(out: str | None, kind: str = "train") -> str:
    """``out`` if it is new or empty; else an error. Without ``out``, the next free ``runs/<kind>/run-N``."""
    if out is None:
        number = 1
        while os.path.exists(os.path.join("runs", kind, f"run-{number}")):
            number += 1
        return os.path.join("runs", kind, f"run-{number}")
    from jaxdl.sweep.store import check_out

    check_out(out)
    if os.path.isdir(out) and os.listdir(out):
        raise ValueError(f"--out {out} already holds files; jaxdl train never overwrites a run: choose another --out")
    return out


def _train_setup(args):
    """The checked configuration, dynamic values, hyperparameters, data and data source of ``jaxdl train``'s flags."""
    from jaxdl import registry, train

    registry.load_plugins(args.imports or ())
    model_args = {}
    if args.model == "mlp":
        model_args["hidden"] = tuple(args.hidden)
    if args.model in ("mlp", "cnn"):
        model_args.update(batch_norm=args.batch_norm, dropout=args.dropout if args.dropout_rate != 0 else None)
    model_args.update(_parse_assignments(args.model_arg, numbers_only=False))
    strengths = {}
    for item in args.augment or ():
        name, sep, value = item.partition("=")
        if sep:
            strengths.update(_parse_assignments([item]))
        strengths.setdefault(name.strip(), None)
    config = train.TrainConfig(
        model=args.model, model_args=model_args, activation=args.activation, optimizer=args.optimizer,
        schedule=args.schedule, task=args.task, batch_size=args.batch_size, epochs=args.epochs,
        early_stopping=args.patience is not None, patience=args.patience if args.patience is not None else 5,
        augment=tuple(strengths), sampler=args.sampler, class_weight=args.class_weight,
    )
    flat = {"learning_rate": args.learning_rate, "weight_decay": args.weight_decay, "l2": args.l2,
            **({"dropout_rate": args.dropout_rate} if args.dropout_rate != 0 else {}),
            **{name: value for name, value in strengths.items() if value is not None}, **_parse_assignments(args.set)}
    if args.data:
        data = train.Data.from_file(args.data, target=args.target, task=args.task, seed=args.seed)
        source = args.data
    else:
        # Images for a CNN, and for transforms that move pixels (an MLP flattens them itself).
        image = registry.MODELS.name_of(registry.MODELS.get(args.model)) == "cnn" or bool(config.augment)
        data = train.Data.load(args.dataset, args.data_dir, image=image, seed=args.seed)
        source = args.dataset
    config = train.check(config, data, sorted(flat))
    def flag(name: str) -> str:
        if name in _TRAIN_FLAGS:
            return f"--{name.replace('_', '-')}"
        return f"--augment {name}" if name in strengths else f"--set {name}"

    train.check_values(config, flat, flag)  # the bounds a TOML space has
    return config, flat, train.HParams.from_flat(flat, config), data, source


def _train(args) -> int:
    import json

    import jax
    import numpy as np
    from tqdm.auto import tqdm

    from jaxdl import plots, sweep, train

    out = _fresh_directory(args.out)
    config, flat, hparams, data, source = _train_setup(args)
    train.check_memory(config, data)
    print(f"jaxdl train: {config.model_name} {train._label(config.activation)} {train._label(config.optimizer)} "
          f"lr={args.learning_rate:g} on {source}, {config.task} ({data.x_train.shape[0]} train / "
          f"{data.x_val.shape[0]} val / {data.x_test.shape[0]} test)")

    bar = tqdm(total=config.epochs, unit="epoch", desc="train", disable=args.quiet, dynamic_ncols=True)
    monitor = config.monitor

    def on_epoch(epoch, row):
        bar.update(1)
        bar.set_postfix(loss=f"{float(row['train_loss']):.4f}", **{monitor: f"{float(row[monitor]):.4f}"})

    run = train.jit(lambda h, k: train.train(config, h, k, data, on_epoch=on_epoch))
    tic = time.perf_counter()
    result = jax.block_until_ready(run(hparams, jax.random.key(args.seed)))
    jax.effects_barrier()
    bar.close()
    seconds = time.perf_counter() - tic
    history = {k: np.asarray(jax.device_get(v)) for k, v in result.history.items()}
    columns = ["train_loss", *(f"train_{m}" for m in config.metrics), "val_loss",
               *(f"val_{m}" for m in config.metrics), "learning_rate"]
    print()
    print("  ".join(f"{c:>12}" for c in ["epoch", *columns]))
    for i in range(config.epochs):
        print("  ".join([f"{i + 1:>12}", *(f"{history[c][i]:>12.4g}" for c in columns)]))
    metrics = {k: float(v) for k, v in result.metrics.items()}
    print()
    if bool(result.diverged):
        print(f"diverged at epoch {int(result.diverged_epoch)}: the loss became NaN or inf; parameters frozen")
    tests = ", ".join(f"{name[len('test_'):].replace('_', ' ')} {metrics[name]:.4f}" for name in metrics
                      if name.startswith("test_"))
    if config.restores:
        selected = f"the weights of epoch {int(metrics['best_epoch'])}, the best by {monitor}"
    else:
        selected = f"the weights of the last epoch ({int(result.epochs_run)}); --patience restores the best"
    print(f"{monitor} {metrics[monitor]:.4f} with {selected}")
    print(f"held-out test: {tests}; {seconds:.1f} s including compilation")
    os.makedirs(out, exist_ok=True)
    store = sweep.RunStore(out)
    store.save_params(0, {"params": result.params, "batch_stats": result.batch_stats})
    sweep.store.atomic_write(os.path.join(out, "metrics.json"), json.dumps(
        {"metrics": metrics, "diverged": bool(result.diverged), "epochs_run": int(result.epochs_run),
         "history": {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in history.items()},
         "hyperparameters": flat, "seconds": seconds}, indent=2, sort_keys=True) + "\n")
    info = {"groups": [{"static": {}, "dataset": source, "config": config.flat()}],
            "data": {source: sweep.engine._data_info(data)}, **sweep.engine.environment()}
    store.write_run(info)
    path = plots.plot_history({f"{train._label(config.activation)} / {train._label(config.optimizer)}": history},
                              os.path.join(out, "learning_curves.png"), title=f"{config.model_name} on {source}")
    print(f"wrote {out}: weights (params/trial-0.npz; jaxdl.sweep.RunStore({out!r}).load_model(0)), "
          f"metrics.json, {os.path.basename(path)}")
    return 0


def _learning_curve(args) -> int:
    import json

    import pandas as pd

    from jaxdl import plots, resample
    from jaxdl.data import steps_per_epoch
    from jaxdl.sweep.store import atomic_write

    out = _fresh_directory(args.out, "learning-curve")
    config, flat, hparams, data, source = _train_setup(args)
    if args.human_error is not None and not 0 <= args.human_error < 1:
        raise ValueError(f"--human-error is a fraction in [0, 1), got {args.human_error}")
    m = int(data.x_train.shape[0])
    sizes = args.sizes or resample.default_sizes(m)
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    print(f"jaxdl learning-curve: {config.model_name} on {source}, {len(sizes)} sizes from {min(sizes)} to "
          f"{max(sizes)} of {m} training examples x {len(seeds)} seeds = {len(sizes) * len(seeds)} members in one "
          f"program, {config.epochs} epochs of {steps_per_epoch(m, config.batch_size)} steps each")
    tic = time.perf_counter()
    curve = resample.learning_curve(config, data, sizes, seeds, hparams, human_error=args.human_error,
                                    progress=not args.quiet)
    seconds = time.perf_counter() - tic
    error = "error" if data.task == "classification" else "squared error"
    table = pd.DataFrame({
        "examples": curve.sizes,
        f"train {error}": curve.train_error.mean(0), "train sd": curve.train_error.std(0),
        f"val {error}": curve.val_error.mean(0), "val sd": curve.val_error.std(0),
    })
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print()
    if curve.diagnosis is not None:
        print(f"diagnosis at {int(curve.sizes[-1])} examples: {curve.diagnosis}")
    print(f"verdict: {curve.verdict}")
    os.makedirs(out, exist_ok=True)
    atomic_write(os.path.join(out, "learning_curve.csv"), table.to_csv(index=False))
    atomic_write(os.path.join(out, "learning_curve.json"), json.dumps({
        "sizes": curve.sizes.tolist(), "seeds": list(seeds), "train_error": curve.train_error.tolist(),
        "val_error": curve.val_error.tolist(), "human_error": curve.human_error, "verdict": curve.verdict,
        "diagnosis": str(curve.diagnosis), "source": source, "config": config.flat(), "hyperparameters": flat,
        "seconds": seconds}, indent=2, default=str) + "\n")
    path = plots.plot_data_curve(curve, os.path.join(out, "learning_curve.png"),
                                 title=f"{config.model_name} on {source}: error against training examples")
    print(f"{len(sizes) * len(seeds)} members in {seconds:.1f} s including compilation; wrote {path}, "
          f"learning_curve.csv, learning_curve.json")
    return 0


def _analysis_data(args, store, trial: int):
    """The data a run trained on, rebuilt from its record and the flags and checked against its fingerprint.

    Returns the data, the same splits unstandardised (to look at) and the source's name.
    """
    from jaxdl import train

    data_info = store.run_info()["data"]
    name = next(iter(data_info)) if len(data_info) == 1 else None
    if name is None:
        record = next((r for r in store.records() if r["id"] == trial), None)
        name = str((record or {}).get("static", {}).get("dataset"))
    recorded = data_info.get(name)
    if recorded is None:
        raise ValueError(f"{store.path} records no data set for trial {trial}")
    path = args.data or (name if os.path.isfile(name) else None)
    source = path or args.dataset or (name if name != "None" else "digits")

    def build(standardize: bool):
        if path:
            return train.Data.from_file(path, target=args.target, task=recorded["task"], seed=recorded["split_seed"],
                                        standardize=standardize)
        return train.Data.load(source, args.data_dir, image=len(recorded["input_shape"]) == 3,
                               seed=recorded["split_seed"], standardize=standardize)

    data = build(True)
    if data.fingerprint() != recorded["fingerprint"]:
        raise ValueError(f"the data rebuilt from {source} differ from those {store.path} trained on; "
                         f"give the --dataset (or --data) the run used")
    return data, build(False), source


def _analyze(args) -> int:
    import jax
    import numpy as np

    from jaxdl import analysis, registry, sweep

    registry.load_plugins(args.imports or ())
    if not os.path.isdir(args.run_dir):
        raise FileNotFoundError(f"no run directory at {args.run_dir}")
    store = sweep.RunStore(args.run_dir)
    if not os.path.exists(store.run_path):
        raise ValueError(f"{args.run_dir} is not a jaxdl run directory (no {os.path.basename(store.run_path)})")
    trial = args.trial
    if trial is None:
        trial = store.best()["id"] if store.records() else 0
    model = store.load_model(trial)
    data, raw, source = _analysis_data(args, store, trial)
    if data.task != "classification":
        raise ValueError("error analysis needs a classification run")
    x, y = (data.x_val, data.y_val) if args.split == "val" else (data.x_test, data.y_test)
    shown = raw.x_val if args.split == "val" else raw.x_test
    outputs = np.asarray(jax.nn.softmax(jax.jit(lambda x: model(x, train=False))(x), axis=-1))
    out = args.out or os.path.join(args.run_dir, "analysis", f"trial-{trial}")
    result = analysis.analyze(np.asarray(y), outputs, data.num_classes, images=np.asarray(shown), tags_path=args.tags,
                              out_dir=out, k=args.top)
    split = "validation" if args.split == "val" else "held-out test"
    print(f"jaxdl analyze: trial {trial} of {args.run_dir} on the {split} split of {source}: "
          f"{result['errors']} errors in {result['examples']} examples ({result['error_rate']:.2%})")
    print()
    print("each class's share of the errors (fixing all of a class gains at most its share of the error rate):")
    print(result["error_shares"].to_string(index=False))
    print()
    print("most frequent confusions:")
    print(result["confusions"].to_string(index=False))
    if result["tag_table"] is not None:
        print()
        print("error categories from the tags:")
        print(result["tag_table"].to_string(index=False))
    print()
    print(f"wrote {', '.join(sorted(result['files'].values()))}")
    return 0


def _integer(valid, requirement: str):
    """An argparse type: an integer for which ``valid(value)`` holds, else ``"<requirement>, got <text>"``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {value}")
        return value

    return parse


_count = _integer(lambda value: value >= 1, "expected a positive integer")
_seed = _integer(lambda value: 0 <= value <= MAX_SEED, f"a seed must be in [0, {MAX_SEED}]")


def _names(table) -> str:
    return ", ".join(table.names())


def _registered(table) -> str:
    return f"registered: {_names(table)}, or one of yours (--import)"


def _add_import(parser) -> None:
    parser.add_argument("--import", dest="imports", action="append", metavar="MODULE_OR_FILE.py",
                        help="import user code that registers models, activations, optimizers, ... (repeatable)")


class _Parser(argparse.ArgumentParser):
    """Usage errors in the one-line form of every other error: ``jaxdl: error: ...``, exit 2."""

    def error(self, message):
        self.exit(2, f"jaxdl: error: {self.prog.partition(' ')[2] or 'jaxdl'}: {message} (see {self.prog} --help)\n")


class _Help(argparse.HelpFormatter):
    """Every ``--help`` shows the defaults (an option without one says what happens instead)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "(default" not in text:
            default = " ".join(map(str, action.default)) if isinstance(action.default, list) else action.default
            text += f" (default: {default})"
        return text


def _add_train_options(parser) -> None:
    """The options of one training run: ``jaxdl train``'s, which ``jaxdl learning-curve`` shares."""
    from jaxdl import augment as augment_lib, registry, train as train_lib

    parser.add_argument("--dataset", default="digits", help="digits, mnist, fashion_mnist or cifar10")
    parser.add_argument("--data-dir", help="folder with the data files (all but digits)")
    _add_import(parser)
    parser.add_argument("--data", help="a .npz or .csv file of your own (instead of --dataset)")
    parser.add_argument("--target", help="the target column of a --data CSV (default: the last column)")
    parser.add_argument("--task", choices=("classification", "regression"),
                       help="task (default: read from the targets' type)")
    parser.add_argument("--model", default="mlp", help=f"a model; {_registered(registry.MODELS)}")
    parser.add_argument("--model-arg", action="append", metavar="NAME=VALUE",
                       help="a setting of the model, e.g. --model-arg width=128 (repeatable)")
    parser.add_argument("--hidden", type=_count, nargs="+", default=[64, 64], help="MLP hidden widths")
    parser.add_argument("--activation", default="relu", help=f"an activation; {_registered(registry.ACTIVATIONS)}")
    parser.add_argument("--optimizer", default="adam", help=f"an optimizer; {_registered(registry.OPTIMIZERS)}")
    parser.add_argument("--schedule", default="constant_schedule",
                       help=f"a learning-rate schedule; {_registered(registry.SCHEDULES)}")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="initial (or peak) learning rate")
    parser.add_argument("--batch-size", type=_count, default=32, help="mini-batch size")
    parser.add_argument("--epochs", type=_count, default=20, help="epochs")
    parser.add_argument("--dropout-rate", type=float, default=0.0, help="dropout after each hidden layer")
    parser.add_argument("--dropout", default="standard", choices=("standard", "alpha"),
                       help="dropout kind when --dropout-rate > 0 (alpha for SELU)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="decoupled weight decay")
    parser.add_argument("--l2", type=float, default=0.0, help="L2 penalty lambda/(2m)||W||^2")
    parser.add_argument("--batch-norm", choices=("before", "after"), help="batch norm before or after the activation")
    parser.add_argument("--patience", type=_count,
                       help="early stopping: stop after this many epochs without improvement and restore the best "
                            "epoch (default: off, the last epoch is kept)")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                       help="further optimizer or schedule hyperparameters, e.g. --set b1=0.95")
    parser.add_argument("--augment", action="append", metavar="NAME[=STRENGTH]",
                        help=f"augment every training batch, e.g. --augment random_shift=0.125 (repeatable; without "
                             f"a strength, jaxdl.augment.DEFAULTS); transforms: {', '.join(augment_lib.TRANSFORMS)}")
    parser.add_argument("--sampler", default="shuffle", choices=train_lib.SAMPLERS,
                        help="how batches are drawn: a shuffled pass, or balanced (every class equally likely)")
    parser.add_argument("--class-weight", choices=("balanced",),
                        help="weight the loss by m / (K m_c) per class (default: unweighted)")
    parser.add_argument("--seed", type=_seed, default=0, help="seed of the initialisation, batches and split")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    from jaxdl import __version__, registry, sweep as sweep_lib

    parser = _Parser(prog="jaxdl", description="Train and sweep neural networks as pure JAX functions.")
    parser.add_argument("--version", action="version", version=f"jaxdl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = lambda name, **kwargs: commands.add_parser(name, formatter_class=_Help, **kwargs)

    sweep = command(
        "sweep", help="run a vmapped hyperparameter sweep (default: activations x learning rates on digits)",
        description="Run a hyperparameter sweep: every static group compiles once and trains its trials "
                    "in parallel. Finished chunks are written as they complete; rerunning the same command "
                    "resumes. Without --config, runs the default sweep: relu, elu, selu and tanh x 16 "
                    "learning rates in [1e-4, 1] x 2 seeds on the digits. Strategies ([sweep] strategy): "
                    f"{', '.join(sweep_lib.strategy_names())}.")
    sweep.add_argument("--config", help="TOML file with [space] and [sweep] tables")
    _add_import(sweep)
    sweep.add_argument("--data", help="a .npz or .csv file of your own (instead of --dataset)")
    sweep.add_argument("--target", help="the target column of a --data CSV (default: the last column)")
    sweep.add_argument("--task", choices=("classification", "regression"),
                       help="task of --data (default: read from the target's type)")
    sweep.add_argument("--out", help=f"run directory (default: {DEFAULT_SWEEP_DIR}, or runs/<config name>)")
    sweep.add_argument("--dataset", default="digits", help="data set when the space does not choose one")
    sweep.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST / CIFAR-10 files")
    sweep.add_argument("--data-seed", type=_seed, default=0, help="seed of the train/validation/test split")
    sweep.add_argument("--chunk-size", type=_count,
                       help="trials per compiled call (default: [sweep] chunk_size, else fit a quarter of memory)")
    sweep.add_argument("--parts", type=_count, help="slices of a chunk run side by side from host threads "
                                                     "(default on one CPU device: one per core, at most 4 trials each)")
    sweep.add_argument("--mode", default="auto", choices=sweep_lib.MODES,
                       help="how a chunk is batched (auto: map for a CNN on CPU, else vmap)")
    sweep.add_argument("--metric", help="validation metric to select by (default: [sweep] metric, else "
                                        "val_accuracy; val_rmse for regression)")
    sweep.add_argument("--select", help=SELECT_HELP)
    sweep.add_argument("--top", type=_count, default=10, help="rows of the printed table")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_sweep)

    report = command("report", help="print the table and redraw the figures of a run, or compare runs",
                     description="Print the ranked table of a sweep and redraw its figures from disk; "
                                 "given several run directories, compare their best configurations "
                                 "(seeds paired, the mean difference from the first with a 95% interval).")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="directories written by jaxdl sweep")
    _add_import(report)
    report.add_argument("--metric", help="metric to rank by (default: the sweep's)")
    report.add_argument("--select", help=SELECT_HELP)
    report.add_argument("--top", type=_count, default=10, help="rows of the printed table")
    report.set_defaults(handler=_report_command)

    train = command("train", help="train one model and plot its learning curves",
                    description="Train one model, print the per-epoch table and test metrics, "
                                "and write the weights, metrics.json and the learning curves as a PNG.")
    _add_train_options(train)
    train.add_argument("--out", help="new folder for the weights, metrics.json and curves "
                                      "(default: the next free runs/train/run-N; never overwritten)")
    train.set_defaults(handler=_train)

    curve = command("learning-curve", help="training and validation error against the number of training examples",
                    description="Train one model per training-set size and seed, on nested subsets of the "
                                "training split, as one compiled population (every size takes the same number of "
                                "steps); print the errors, the bias/variance diagnosis of the largest size and "
                                "whether more data will help; write learning_curve.png, .csv and .json.")
    _add_train_options(curve)
    curve.add_argument("--sizes", type=_count, nargs="+",
                       help="training-set sizes (default: 1/32, 1/16, ... of the training split, and all of it)")
    curve.add_argument("--seeds", type=_count, default=3, help="seeds per size (each its own subsets and weights)")
    curve.add_argument("--human-error", type=float,
                       help="human-level (or Bayes) error as a fraction, drawn as a line and used by the diagnosis "
                            "(default: 0)")
    curve.add_argument("--out", help="new folder for the figure and tables (default: the next free "
                                     "runs/learning-curve/run-N)")
    curve.set_defaults(handler=_learning_curve)

    analyze = command("analyze", help="error analysis of a trained run: error shares, confusions, tags, gallery",
                      description="Error analysis of a run's model on the validation split (lecture 001): each "
                                  "class's share of the errors (the ceiling on what fixing it can gain), the most "
                                  "frequent confusions, a gallery of misclassified examples, and, given --tags "
                                  "(a CSV of example id and tag, several rows or 'a;b' per id), the table of "
                                  "error categories. Ids are positions in the analysed split.")
    analyze.add_argument("run_dir", metavar="RUN", help="a directory written by jaxdl train or jaxdl sweep")
    analyze.add_argument("--trial", type=_integer(lambda v: v >= 0, "a trial id is a non-negative integer"),
                         help="trial whose kept weights to analyse (default: the run's best, trial 0 for a train run)")
    analyze.add_argument("--tags", metavar="FILE", help="CSV of example id and error tag")
    analyze.add_argument("--split", default="val", choices=("val", "test"),
                         help="split to analyse (test is held out: look, but never select by it)")
    analyze.add_argument("--dataset", help="data set the run used, when the run does not record it (default: the "
                                           "run's, else digits)")
    analyze.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST / CIFAR-10 files")
    analyze.add_argument("--data", help="the .npz or .csv file the run trained on (default: the run's)")
    analyze.add_argument("--target", help="the target column of a --data CSV (default: the last column)")
    _add_import(analyze)
    analyze.add_argument("--top", type=_count, default=10, help="rows of the confusion table")
    analyze.add_argument("--out", help="folder for the tables and gallery (default: RUN/analysis/trial-N)")
    analyze.set_defaults(handler=_analyze)
    return parser


def _message(error: BaseException) -> list[str]:
    """An error's lines: an OS error names its file; a value error may list several problems."""
    if isinstance(error, OSError) and error.strerror:
        where = ": ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
        return [f"{where}: {error.strerror}" if where else error.strerror]
    if isinstance(error, MemoryError):
        return [f"out of memory{': ' + str(error) if str(error) else ''} (is a file or size far larger than meant?)"]
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines if isinstance(error, ValueError) else lines[:1]


def main(argv=None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        if exit.code in (0, None):
            raise  # --help, --version
        return int(exit.code)
    if args.command is None:
        parser.print_help()
        return 2
    import jax

    from jaxdl import _xla
    from jaxdl.data import DataError
    from jaxdl.sweep.store import PlanMismatchError, RunLockedError

    _xla.enable_compilation_cache()
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"jaxdl: {INTERRUPTED}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`jaxdl ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError, DataError, PlanMismatchError, RunLockedError, OverflowError, MemoryError,
            ImportError, jax.errors.JaxRuntimeError) as error:
        first, *rest = _message(error)
        print(f"jaxdl: error: {first}", file=sys.stderr)
        for line in rest:
            print(f"  {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
