"""Small sweeps for the engine tests, and a command that runs one in a fresh process.

The tests need sweeps in processes of their own: several CPU devices must be
asked for before JAX starts, ``jax.distributed.initialize`` must run before
anything else touches JAX, and a resume test kills a sweep half way. The
data and plans are defined here once, so the test process and its children
build exactly the same ones.

Usage::

    python tests/sweep_worker.py OUT --plan small --chunk-size 4
        [--process-id I --num-processes N --port P] [--pause-after-first-chunk S]

It prints ``CHUNK <id>`` (flushed) after each chunk it writes and ``DONE``
at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def tiny_data():
    """300 training digits, the usual validation and test splits, standardised."""
    from jaxdl import data, train

    parts = data.split_dataset(data.load_digits(), (0.6, 0.2, 0.2), key=0, stratify=True)
    standardizer = data.Standardizer.fit(parts[0].x)
    splits = [p._replace(x=standardizer.apply(p.x)) for p in parts]
    splits[0] = splits[0]._replace(x=splits[0].x[:300], y=splits[0].y[:300])
    return train.Data.from_splits(*splits)


def plan(name: str):
    """The named test plan."""
    from jaxdl import sweep

    common = {"hidden": (16,), "batch_size": 32}
    if name == "small":
        # Two groups (sgd, adam) of four trials each.
        space = sweep.Space(
            {**common, "epochs": 2, "optimizer": sweep.choice("sgd", "adam"),
             "learning_rate": sweep.grid(0.003, 0.01, 0.03, 0.1)},
            seeds=1,
        )
        return sweep.grid_plan(space)
    if name == "adam":
        small = plan("small")
        return small.select(t.id for t in small if t.static["optimizer"] == "adam")
    if name == "halving":
        # Rungs of 1, 2 and 4 epochs keep 8, then 4, then 2 trials.
        space = sweep.Space(
            {**common, "optimizer": "adam", "schedule": "cosine_decay_schedule",
             "learning_rate": sweep.loguniform(1e-4, 3e-1)},
            seeds=1,
        )
        return sweep.halving_plan(space, 8, min_epochs=1, max_epochs=4, eta=2, seed=1)
    if name == "pbt":
        # Eight members, four intervals of one epoch: two members replaced after each.
        space = sweep.Space({**common, "optimizer": "adam", "learning_rate": sweep.loguniform(1e-4, 3e-1)}, seeds=1)
        return sweep.build_plan(space, {"strategy": "pbt", "num_samples": 8, "max_epochs": 4, "interval": 1,
                                        "seed": 3})
    if name == "optuna":
        # Two batches of four configurations asked from TPE, in two static groups.
        space = sweep.Space({**common, "epochs": 2, "optimizer": "adam", "activation": sweep.choice("relu", "tanh"),
                             "learning_rate": sweep.loguniform(1e-4, 3e-1)}, seeds=1)
        return sweep.build_plan(space, {"strategy": "optuna", "num_samples": 8, "batch": 4, "sampler": "tpe",
                                        "seed": 0})
    raise ValueError(f"unknown plan {name!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--plan", default="small")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--mode", default="vmap")
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pause-after-first-chunk", type=float, default=0.0)
    args = parser.parse_args(argv)

    import jax

    if args.num_processes > 1:
        jax.distributed.initialize(
            f"127.0.0.1:{args.port}", num_processes=args.num_processes, process_id=args.process_id,
            initialization_timeout=120,
        )
    from jaxdl.sweep import run_sweep

    written = []

    def on_chunk(chunk_id, records):
        written.append(chunk_id)
        print(f"CHUNK {chunk_id}", flush=True)
        if len(written) == 1 and args.pause_after_first_chunk:
            time.sleep(args.pause_after_first_chunk)

    result = run_sweep(plan(args.plan), tiny_data(), args.out, chunk_size=args.chunk_size, mode=args.mode,
                       progress=False, on_chunk=on_chunk)
    print(f"DEVICES {len(jax.local_devices())}", flush=True)
    print(f"DONE run={result.chunks_run} skipped={result.chunks_skipped}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
