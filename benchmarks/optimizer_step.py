"""Time one optimizer step of jaxdl against optax, and against memory bandwidth.

For SGD, momentum, RMSprop and Adam on a pytree of about 16M float32
parameters, the jitted ``update`` + ``apply_updates`` of jaxdl and of optax are
timed in the same run (calls interleaved, warm-up first, parameters and state
donated on both sides), with a streaming ``a + b * x`` kernel over the same
leaves as the bandwidth yardstick. An optimizer step is memory-bound, so its
effective bandwidth is

    bytes moved per step / median time,

counting each array read or written once per step, 4 bytes per element:

    streaming a + b*x   read a, x; write out                      3 arrays
    sgd                 read p, g; write p                        3 arrays
    momentum            read p, g, v; write v, p                  5 arrays
    rmsprop             read p, g, nu; write nu, p                5 arrays
    adam                read p, g, mu, nu; write mu, nu, p        7 arrays

XLA reports how many bytes its compiled program really touches
(``cost_analysis()["bytes accessed"]``); where it writes a moment and reads it
back (XLA:CPU does not fuse the moment updates and the parameter update into
one loop, so Adam moves 10 arrays, not 7) the table shows that count too, and
the bandwidth at that traffic.

Momentum is the classic form on both sides (optax has no averaged momentum
alias): ``jaxdl.optim.momentum(lr, 0.9, form="classic")`` against
``optax.sgd(lr, momentum=0.9)``.

Run ``python -m benchmarks.optimizer_step`` or
``python benchmarks/optimizer_step.py``; ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import optax

import jaxdl.optim as jo

LEARNING_RATE = 1e-3

# name: (jaxdl factory, optax factory, arrays read + written per parameter)
OPTIMIZERS = {
    "sgd": (lambda: jo.sgd(LEARNING_RATE), lambda: optax.sgd(LEARNING_RATE), 3),
    "momentum": (
        lambda: jo.momentum(LEARNING_RATE, 0.9, form="classic"),
        lambda: optax.sgd(LEARNING_RATE, momentum=0.9),
        5,
    ),
    "rmsprop": (lambda: jo.rmsprop(LEARNING_RATE), lambda: optax.rmsprop(LEARNING_RATE), 5),
    "adam": (lambda: jo.adam(LEARNING_RATE), lambda: optax.adam(LEARNING_RATE), 7),
}
STREAM_ARRAYS = 3


def make_tree(total_params: int, leaves: int, key):
    """``leaves`` float32 matrices, 1024 columns wide, about ``total_params`` in all."""
    rows = max(1, total_params // (leaves * 1024))
    keys = jax.random.split(key, leaves)
    return {f"w{i}": jax.random.normal(k, (rows, 1024), jnp.float32) for i, k in enumerate(keys)}


def _copy(tree):
    return jax.tree.map(lambda x: x + 0, tree)


def _step_fn(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def _stream_fn():
    def stream(a, x, b):
        return jax.tree.map(lambda ai, xi: ai + b * xi, a, x)

    return jax.jit(stream, donate_argnums=(0,))


def _xla_arrays(fn, args, bytes_per_array: int) -> float:
    """Arrays' worth of bytes the compiled program accesses, by XLA's count."""
    analysis = fn.lower(*args).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    return float(analysis["bytes accessed"]) / bytes_per_array


class Runner:
    """A jitted call with its donated carry, timed one call at a time."""

    def __init__(self, fn, carry, *static_args):
        self.fn, self.carry, self.static_args = fn, carry, static_args
        self.times: list[float] = []

    def call(self, record: bool):
        start = time.perf_counter()
        out = self.fn(*self.carry, *self.static_args)
        jax.block_until_ready(out)
        elapsed = time.perf_counter() - start
        self.carry = out if isinstance(out, tuple) else (out,)
        if record:
            self.times.append(elapsed)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def _interleave(runners, warmup: int, repeats: int):
    """Warm up, then time the runners in turn, rotating who goes first."""
    for _ in range(warmup):
        for runner in runners:
            runner.call(record=False)
    for i in range(repeats):
        shift = i % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            runner.call(record=True)


def run(size_millions: float, leaves: int, repeats: int, warmup: int, names) -> dict:
    total = int(size_millions * 1_000_000)
    params = make_tree(total, leaves, jax.random.key(0))
    grads = make_tree(total, leaves, jax.random.key(1))
    n_params = sum(x.size for x in jax.tree.leaves(params))
    bytes_per_array = 4 * n_params

    stream = Runner(_stream_fn(), (_copy(params),), grads, jnp.float32(0.5))
    _interleave([stream], warmup, repeats)
    results = {
        "parameters": n_params,
        "leaves": leaves,
        "repeats": repeats,
        "device": str(jax.devices()[0]),
        "stream": {
            "seconds": stream.median,
            "gb_per_s": STREAM_ARRAYS * bytes_per_array / stream.median / 1e9,
        },
        "optimizers": {},
    }
    for name in names:
        make_ours, make_theirs, arrays = OPTIMIZERS[name]
        runners, xla_arrays = [], []
        for make in (make_ours, make_theirs):
            opt = make()
            p = _copy(params)
            step = _step_fn(opt)
            xla_arrays.append(_xla_arrays(step, (p, opt.init(p), grads), bytes_per_array))
            runners.append(Runner(step, (p, opt.init(p)), grads))
        # Stream again alongside, so drift in machine load hits all three alike.
        stream_again = Runner(_stream_fn(), (_copy(params),), grads, jnp.float32(0.5))
        _interleave(runners + [stream_again], warmup, repeats)
        ours, theirs = runners
        stream_bw = STREAM_ARRAYS * bytes_per_array / stream_again.median / 1e9
        ours_bw = arrays * bytes_per_array / ours.median / 1e9
        theirs_bw = arrays * bytes_per_array / theirs.median / 1e9
        results["optimizers"][name] = {
            "jaxdl_seconds": ours.median,
            "optax_seconds": theirs.median,
            "ratio": ours.median / theirs.median,
            "jaxdl_gb_per_s": ours_bw,
            "optax_gb_per_s": theirs_bw,
            "stream_gb_per_s": stream_bw,
            "jaxdl_fraction_of_stream": ours_bw / stream_bw,
            "optax_fraction_of_stream": theirs_bw / stream_bw,
            "arrays_minimum": arrays,
            "arrays_xla_jaxdl": xla_arrays[0],
            "arrays_xla_optax": xla_arrays[1],
            "jaxdl_fraction_of_stream_at_xla_traffic": ours_bw / stream_bw * xla_arrays[0] / arrays,
        }
        del runners, ours, theirs, stream_again
    return results


def format_table(results: dict) -> str:
    lines = [
        f"{results['parameters'] / 1e6:.1f}M float32 parameters in {results['leaves']} leaves, "
        f"median of {results['repeats']} calls, {results['device']}",
        f"streaming a + b*x: {results['stream']['seconds'] * 1e3:.2f} ms, "
        f"{results['stream']['gb_per_s']:.1f} GB/s (3 arrays)",
        "",
        f"{'optimizer':<9} {'jaxdl ms':>8} {'optax ms':>8} {'jaxdl/optax':>11} {'arrays':>6} "
        f"{'jaxdl GB/s':>10} {'optax GB/s':>10} {'stream GB/s':>11} {'jaxdl/stream':>12} "
        f"{'XLA arrays':>10} {'at XLA traffic':>14}",
    ]
    for name, r in results["optimizers"].items():
        lines.append(
            f"{name:<9} {r['jaxdl_seconds'] * 1e3:8.2f} {r['optax_seconds'] * 1e3:8.2f} "
            f"{r['ratio']:11.3f} {r['arrays_minimum']:6d} {r['jaxdl_gb_per_s']:10.1f} "
            f"{r['optax_gb_per_s']:10.1f} {r['stream_gb_per_s']:11.1f} "
            f"{r['jaxdl_fraction_of_stream']:12.0%} {r['arrays_xla_jaxdl']:10.1f} "
            f"{r['jaxdl_fraction_of_stream_at_xla_traffic']:14.0%}"
        )
    lines += [
        "",
        "arrays: minimum arrays read + written per step (4 bytes each);",
        "GB/s and jaxdl/stream count those bytes.",
        "XLA arrays: traffic of jaxdl's compiled step by XLA's cost analysis; 'at XLA traffic' is",
        "jaxdl's bandwidth at that traffic as a fraction of the streaming kernel's.",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description="Time jaxdl's optimizer steps against optax's and a streaming kernel."
    )
    parser.add_argument(
        "--size", type=float, default=16.0, help="parameters, in millions (default 16)"
    )
    parser.add_argument("--leaves", type=int, default=4, help="number of equal leaves (default 4)")
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed calls per function (default 30, at least 10)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    parser.add_argument(
        "--optimizers", nargs="+", choices=sorted(OPTIMIZERS), default=list(OPTIMIZERS),
        help="which optimizers (default: all)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if args.repeats < 10:
        parser.error("--repeats must be at least 10")
    results = run(args.size, args.leaves, args.repeats, args.warmup, args.optimizers)
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
