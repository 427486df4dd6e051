"""How many host-thread slices a chunk should run as on a CPU: ``run_in_parts`` against ``parts``.

XLA:CPU runs each operation of a program on one core, so the engine runs a
chunk as slices side by side, one per host thread
(:func:`jaxdl.sweep.run_in_parts`), by default at least one per core and
one per 4 trials (:func:`jaxdl.sweep.default_parts`). This script times the
digits MLP sweep of ``benchmarks.sweep`` (Adam, batch 128, 64 x 64 hidden)
once compiled, for each number of slices (powers of two up to the
population) and each population size, all in one run, with as many threads
as cores, and prints the time per trial and the speed-up over one slice.

    python -m benchmarks.sweep_parts                 # N = 64 and 256, 20 epochs: runs/benchmarks/sweep_parts.json
    python -m benchmarks.sweep_parts --quick         # a small check: runs/benchmarks/quick/sweep_parts.json

``--update-results`` writes the committed ``benchmarks/results/sweep_parts.json``
instead (``--out benchmarks/results/sweep_parts_16core.json`` on the 16-core machine).

Run it on the CPU backend (``JAX_PLATFORMS=cpu`` on a machine with a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax

from benchmarks import sweep as sweep_benchmark
from experiments import common
from jaxdl import sweep

COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "sweep_parts.json")


def time_parts(config, data, trials, parts: int, repeats: int) -> float:
    """Best of ``repeats`` compiled calls of the population in ``parts`` slices (compiled before timing)."""
    hparams, keys = sweep_benchmark.population(trials)
    program = sweep.population_program(config)
    sweep.run_in_parts(program, parts, hparams, keys, None, data)  # compiles the slice's shape
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(sweep.run_in_parts(program, parts, hparams, keys, None, data))
        times.append(time.perf_counter() - tic)
    return min(times)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sweep_parts", description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, nargs="+", help="population sizes (default 64 256; 8 with --quick)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 20; 1 with --quick)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per setting; the best is kept (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="a small run to check that everything works, about 15 s on a quiet 2-core CPU")
    common.add_output_flags(p, COMMITTED)
    args = p.parse_args(argv)
    args.out = common.benchmark_output(p, args, COMMITTED)
    args.trials = args.trials or ([8] if args.quick else [64, 256])
    args.epochs = args.epochs or (1 if args.quick else 20)
    if min(args.trials) < 1 or args.epochs < 1 or args.repeats < 1:
        p.error("--trials, --epochs and --repeats must be positive integers")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    sizes, epochs = args.trials, args.epochs
    cores = sweep.engine.usable_cores()
    data = sweep_benchmark.load_data()
    rows = []
    for size in sizes:
        plan = sweep_benchmark.make_plan(size, epochs)
        config, trials = sweep_benchmark.plan_config(plan), sweep_benchmark.plan_trials(plan)
        default = sweep.default_parts(size)
        counts = sorted({2**k for k in range(size.bit_length()) if 2**k <= size} | {default})
        for parts in counts:
            seconds = time_parts(config, data, trials, parts, args.repeats)
            rows.append({"trials": size, "parts": parts, "slice_length": sweep.slice_length(size, parts),
                         "default": parts == default, "seconds": seconds})
            print(f"N={size} parts={parts}: {seconds:.3f} s", flush=True)
    for row in rows:
        one = next(r["seconds"] for r in rows if r["trials"] == row["trials"] and r["parts"] == 1)
        row["speedup"] = one / row["seconds"]
        row["ms_per_trial"] = 1e3 * row["seconds"] / row["trials"]
    best = {size: max((r for r in rows if r["trials"] == size), key=lambda r: r["speedup"])["parts"] for size in sizes}
    print(f"\n{jax.default_backend()}, {cores} cores, {epochs} epochs; best of {args.repeats} compiled calls; "
          f"* marks default_parts(N)\n")
    print("| N | parts | trials per slice | seconds | ms / trial | speed-up over 1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = " *" if r["default"] else ""
        print(f"| {r['trials']} | {r['parts']}{mark} | {r['slice_length']} | {r['seconds']:.3f} | "
              f"{r['ms_per_trial']:.2f} | {r['speedup']:.2f}x |")
    print("\nfastest: " + ", ".join(f"N={size}: {parts} parts" for size, parts in best.items()))
    payload = {"backend": jax.default_backend(), "cores": cores, "epochs": epochs, "repeats": args.repeats,
               "rows": rows, "fastest": {str(k): v for k, v in best.items()}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
