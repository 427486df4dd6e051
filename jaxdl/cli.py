"""The ``jaxdl`` command: ``jaxdl sweep``, ``jaxdl report DIR`` and ``jaxdl train``.

Bad input (an unknown activation, a negative learning rate, a missing data
directory, a malformed TOML file) prints one line, ``jaxdl: error: ...``, and
exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["main", "default_space"]

DEFAULT_SWEEP_DIR = os.path.join("runs", "sweep")


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


def _sweep(args) -> int:
    from jaxdl import sweep, train
    from jaxdl.sweep import report

    if args.config:
        space, settings = sweep.load_config(args.config)
        out = args.out or os.path.join("runs", os.path.splitext(os.path.basename(args.config))[0])
    else:
        space, settings = default_space(), {"strategy": "grid"}
        out = args.out or DEFAULT_SWEEP_DIR
    plan = sweep.build_plan(space, settings)
    datasets = {group.static.get("dataset", args.dataset) for group in plan.groups()}
    data = {name: train.Data.load(name, args.data_dir, image=True, seed=args.data_seed) for name in datasets}
    if not any("dataset" in t.static for t in plan):
        data = data[args.dataset]
    print(f"jaxdl sweep: {len(plan)} trials in {len(plan.groups())} static groups -> {out}")
    result = sweep.run_sweep(plan, data, out, chunk_size=args.chunk_size, mode=args.mode, parts=args.parts,
                             metric=args.metric, progress=not args.quiet)
    if result.chunks_skipped:
        print(f"resumed: {result.chunks_skipped} finished chunks found in {out}, {result.chunks_run} run now")
    return _report(result.records, out, args.metric, args.top, seconds=result.seconds)


def _report(records, out, metric, top, seconds=None) -> int:
    from jaxdl.sweep import RunStore, report

    written = report.write_report(records, out, metric=metric, top=top)
    diverged = sum(r["status"] == "diverged" for r in records)
    print()
    print(written["table"])
    print()
    timing = f" in {seconds:.1f} s" if seconds is not None else ""
    print(f"{len(records)} trials{timing}, {diverged} diverged")
    for name, path in written["paths"].items():
        print(f"{name}: {path}")
    summary = RunStore(out).summary() if os.path.exists(os.path.join(out, "summary.json")) else None
    if summary and summary.get("best"):
        best = summary["best"]["id"]
        path = os.path.join(out, "params", f"trial-{best}.npz")
        if os.path.exists(path):
            print(f"best trial {best}: model state in {path} (jaxdl.sweep.RunStore(out).load_params({best}))")
    return 0


def _report_command(args) -> int:
    from jaxdl import sweep

    if not os.path.isdir(args.run_dir):
        raise FileNotFoundError(f"no run directory at {args.run_dir}")
    records = sweep.RunStore(args.run_dir).records()
    if not records:
        raise ValueError(f"{args.run_dir} holds no finished trials yet")
    return _report(records, args.run_dir, args.metric, args.top)


def _parse_assignments(items) -> dict:
    values = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--set {name}: {value!r} is not a number") from None
    return values


def _train(args) -> int:
    import jax
    from tqdm.auto import tqdm

    from jaxdl import plots, train

    if args.learning_rate < 0:
        raise ValueError(f"--learning-rate must be non-negative, got {args.learning_rate}")
    config = train.TrainConfig(
        model=args.model,
        hidden=tuple(args.hidden),
        activation=args.activation,
        optimizer=args.optimizer,
        schedule=args.schedule,
        batch_size=args.batch_size,
        epochs=args.epochs,
        batch_norm=args.batch_norm,
        dropout=args.dropout if args.dropout_rate > 0 else None,
        early_stopping=args.patience is not None,
        patience=args.patience or 5,
    )
    flat = {"learning_rate": args.learning_rate, "weight_decay": args.weight_decay, "l2": args.l2,
            **({"dropout_rate": args.dropout_rate} if args.dropout_rate > 0 else {}), **_parse_assignments(args.set)}
    hparams = train.HParams.from_flat(flat, config)
    data = train.Data.load(args.dataset, args.data_dir, image=args.model == "cnn", seed=args.seed)
    print(f"jaxdl train: {args.model} {args.activation} {args.optimizer} lr={args.learning_rate:g} on "
          f"{args.dataset} ({data.x_train.shape[0]} train / {data.x_val.shape[0]} val / {data.x_test.shape[0]} test)")

    bar = tqdm(total=config.epochs, unit="epoch", desc="train", disable=args.quiet, dynamic_ncols=True)

    def on_epoch(epoch, row):
        bar.update(1)
        bar.set_postfix(loss=f"{float(row['train_loss']):.4f}", val_acc=f"{float(row['val_accuracy']):.4f}")

    run = train.jit(lambda h, k: train.train(config, h, k, data, on_epoch=on_epoch))
    tic = time.perf_counter()
    result = jax.block_until_ready(run(hparams, jax.random.key(args.seed)))
    jax.effects_barrier()
    bar.close()
    seconds = time.perf_counter() - tic
    history = {k: jax.device_get(v) for k, v in result.history.items()}
    print()
    print(f"{'epoch':>5}  {'train_loss':>10}  {'train_acc':>9}  {'val_loss':>9}  {'val_acc':>7}  {'lr':>9}")
    for i in range(config.epochs):
        print(f"{i + 1:>5}  {history['train_loss'][i]:>10.4f}  {history['train_accuracy'][i]:>9.4f}  "
              f"{history['val_loss'][i]:>9.4f}  {history['val_accuracy'][i]:>7.4f}  {history['learning_rate'][i]:>9.3g}")
    metrics = {k: float(v) for k, v in result.metrics.items()}
    print()
    if bool(result.diverged):
        print(f"diverged at epoch {int(result.diverged_epoch)}: the loss became NaN or inf; parameters frozen")
    print(f"test accuracy {metrics['test_accuracy']:.4f}, test loss {metrics['test_loss']:.4f} "
          f"(best epoch {int(metrics['best_epoch'])}, validation accuracy {metrics['val_accuracy']:.4f}); "
          f"{seconds:.1f} s including compilation")
    path = plots.plot_history({f"{args.activation} / {args.optimizer}": history},
                              os.path.join(args.out, "learning_curves.png"),
                              title=f"{args.model} on {args.dataset}")
    print(f"learning curves: {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxdl", description="Train and sweep neural networks as pure JAX functions.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sweep = commands.add_parser(
        "sweep", help="run a vmapped hyperparameter sweep (default: activations x learning rates on digits)",
        description="Run a hyperparameter sweep: every static group compiles once and trains its trials "
                    "in parallel. Finished chunks are written as they complete; rerunning the same command "
                    "resumes. Without --config, runs the default sweep: relu, elu, selu and tanh x 16 "
                    "learning rates in [1e-4, 1] x 2 seeds on the digits.")
    sweep.add_argument("--config", help="TOML file with [space] and [sweep] tables")
    sweep.add_argument("--out", help=f"run directory (default {DEFAULT_SWEEP_DIR}, or runs/<config name>)")
    sweep.add_argument("--dataset", default="digits", help="data set when the space does not choose one")
    sweep.add_argument("--data-dir", help="folder with MNIST / Fashion-MNIST / CIFAR-10 files")
    sweep.add_argument("--data-seed", type=int, default=0, help="seed of the train/validation/test split")
    sweep.add_argument("--chunk-size", type=int, help="trials per compiled call (default: fit a quarter of memory)")
    sweep.add_argument("--parts", type=int, help="slices of a chunk run side by side from host threads "
                                                  "(default on one CPU device: one per core, at most 4 trials each)")
    sweep.add_argument("--mode", default="auto", choices=("auto", "vmap", "map", "chunked"),
                       help="how a chunk is batched (default auto: map for a CNN on CPU, else vmap)")
    sweep.add_argument("--metric", default="val_accuracy", help="metric to rank by (default val_accuracy)")
    sweep.add_argument("--top", type=int, default=10, help="rows of the printed table")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_sweep)

    report = commands.add_parser("report", help="print the table and redraw the figures of a run directory",
                                 description="Print the ranked table of a sweep and redraw its figures from disk.")
    report.add_argument("run_dir", help="a directory written by jaxdl sweep")
    report.add_argument("--metric", default="val_accuracy", help="metric to rank by")
    report.add_argument("--top", type=int, default=10, help="rows of the printed table")
    report.set_defaults(handler=_report_command)

    train = commands.add_parser("train", help="train one model and plot its learning curves",
                                description="Train one model, print the per-epoch table and test metrics, "
                                            "and write the learning curves as a PNG.")
    train.add_argument("--dataset", default="digits", help="digits, mnist, fashion_mnist or cifar10")
    train.add_argument("--data-dir", help="folder with the data files (all but digits)")
    train.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    train.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden widths")
    train.add_argument("--activation", default="relu", help="a jaxdl.activations name")
    train.add_argument("--optimizer", default="adam", help="a jaxdl.optim name")
    train.add_argument("--schedule", default="constant_schedule", help="a jaxdl.schedules name")
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--dropout-rate", type=float, default=0.0, help="dropout after each hidden layer")
    train.add_argument("--dropout", default="standard", choices=("standard", "alpha"),
                       help="dropout kind when --dropout-rate > 0 (alpha for SELU)")
    train.add_argument("--weight-decay", type=float, default=0.0, help="decoupled weight decay")
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty lambda/(2m)||W||^2")
    train.add_argument("--batch-norm", choices=("before", "after"), help="batch norm before or after the activation")
    train.add_argument("--patience", type=int, help="early stopping patience in epochs (default: off)")
    train.add_argument("--set", action="append", metavar="NAME=VALUE",
                       help="further optimizer or schedule hyperparameters, e.g. --set b1=0.95")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=os.path.join("runs", "train"), help="folder for the learning-curve PNG")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from jaxdl.data import DataError
    from jaxdl.sweep.store import PlanMismatchError

    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, DataError, PlanMismatchError) as error:
        message = str(error).strip().splitlines()
        print(f"jaxdl: error: {message[0] if message else type(error).__name__}", file=sys.stderr)
        for line in message[1:]:
            print(f"  {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
