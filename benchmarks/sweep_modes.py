"""Which way of batching a chunk wins where: ``vmap``, ``map`` or ``chunked``, for an MLP and a CNN.

Vmapping a population turns each trial's matrix products into one batched
product, which suits dense layers; batched convolutions can be slower than
running the trials one after another. This script times
:func:`jaxdl.sweep.run_sweep` (in memory) in each mode on the digits, for
the MLP and the CNN, end to end (compilation included) and once compiled
(a second call), all in one run, and prints which mode wins for each model
next to the mode that ``mode="auto"`` (the engine's default) picks for it.

    python -m benchmarks.sweep_modes            # N = 32 trials, 5 epochs: runs/benchmarks/sweep_modes.json
    python -m benchmarks.sweep_modes --quick    # a small check: runs/benchmarks/quick/sweep_modes.json

``--update-results`` writes the committed ``benchmarks/results/sweep_modes.json``
instead (``--out benchmarks/results/sweep_modes_gpu.json`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np

from experiments import common
from jaxdl import sweep, train

COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sweep_modes.json")
MODES = tuple(mode for mode in sweep.MODES if mode != "auto")  # what "auto" chooses between
MODELS = {
    "mlp": {"model": "mlp", "hidden": (64, 64)},
    "cnn": {"model": "cnn", "channels": (16, 32), "dense": (64,)},
}


def plan_for(model: dict, trials: int, epochs: int) -> sweep.Plan:
    rates = np.logspace(-4, -1, trials)
    static = dict(sorted({**model, "epochs": epochs, "batch_size": 64, "optimizer": "adam"}.items()))
    return sweep.Plan(tuple(sweep.Trial(i, static, {"learning_rate": float(r)}, 0) for i, r in enumerate(rates)))


def time_mode(plan: sweep.Plan, data, mode: str, map_batch_size: int) -> dict:
    jax.clear_caches()
    tic = time.perf_counter()
    first = sweep.run_sweep(plan, data, None, chunk_size=len(plan), mode=mode, map_batch_size=map_batch_size,
                            progress=False)
    end_to_end = time.perf_counter() - tic
    tic = time.perf_counter()
    sweep.run_sweep(plan, data, None, chunk_size=len(plan), mode=mode, map_batch_size=map_batch_size, progress=False)
    compiled = time.perf_counter() - tic
    best = max(r["best"]["val_accuracy"] for r in first.records if r["status"] == "ok")
    return {"end_to_end_s": end_to_end, "compiled_s": compiled, "best_val_accuracy": best}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sweep_modes", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, help="trials per sweep (default 32, or 4 with --quick)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 5, or 1 with --quick)")
    p.add_argument("--map-batch-size", type=int, default=8, help="sub-batch of the chunked mode (default 8)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--quick", action="store_true",
                   help="a small run to check that everything works, about 30 s on a quiet 2-core CPU")
    common.add_output_flags(p, COMMITTED)
    args = p.parse_args(argv)
    args.out = common.benchmark_output(p, args, COMMITTED)
    args.trials = args.trials or (4 if args.quick else 32)
    args.epochs = args.epochs or (1 if args.quick else 5)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    trials, epochs = args.trials, args.epochs
    data = train.Data.load("digits", image=True)
    rows = []
    for name in args.models:
        plan = plan_for(MODELS[name], trials, epochs)
        for mode in MODES:
            timing = time_mode(plan, data, mode, min(args.map_batch_size, trials))
            rows.append({"model": name, "mode": mode, **timing})
            print(f"{name} {mode}: {timing['end_to_end_s']:.2f} s end to end, {timing['compiled_s']:.2f} s compiled",
                  flush=True)
    device = jax.devices()[0]
    print(f"\n{trials} trials x {epochs} epochs on the digits, batch 64, Adam; {device.platform} "
          f"({len(jax.devices())} device(s)); chunked = lax.map over vmapped blocks of {args.map_batch_size}\n")
    print("| model | mode | end to end s | compiled s | compiled vs vmap | best val acc |")
    print("|---|---|---:|---:|---:|---:|")
    winners = {}
    for name in args.models:
        mine = [r for r in rows if r["model"] == name]
        vmap_time = next(r["compiled_s"] for r in mine if r["mode"] == "vmap")
        for r in mine:
            r["compiled_vs_vmap"] = r["compiled_s"] / vmap_time
            print(f"| {name} | {r['mode']} | {r['end_to_end_s']:.2f} | {r['compiled_s']:.2f} | "
                  f"{r['compiled_vs_vmap']:.2f}x | {r['best_val_accuracy']:.3f} |")
        winners[name] = {"compiled": min(mine, key=lambda r: r["compiled_s"])["mode"],
                         "end_to_end": min(mine, key=lambda r: r["end_to_end_s"])["mode"],
                         "auto": sweep.auto_mode(sweep.group_config(plan_for(MODELS[name], 1, 1)[0].static))}
    print()
    for name, won in winners.items():
        print(f"{name}: fastest once compiled: {won['compiled']}; fastest end to end: {won['end_to_end']}; "
              f"mode='auto' picks {won['auto']}")
    payload = {"trials": trials, "epochs": epochs, "map_batch_size": args.map_batch_size,
               "platform": device.platform, "devices": len(jax.devices()), "rows": rows, "winners": winners}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
