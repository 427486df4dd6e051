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

Targets: jaxdl within 5% of optax (or faster), and at least 85% of the
streaming kernel's bandwidth.

A third line per optimizer, "fused", is the same step written by hand as one
elementwise jnp expression per leaf that returns the new parameters and every
new state array, jitted with the same donation: the best a plain JAX step gets
from the XLA it runs on.

Why RMSprop and Adam stay near 70% of the stream on CPU
--------------------------------------------------------

XLA:CPU emits each fused loop with exactly one output array (its
multi-output fusion pass is off unless the backend option
``xla_cpu_use_multi_output_fusion`` is set). A step that writes the
parameters and k state arrays therefore runs k + 1 loops: each moment loop
reads its moment and the gradient and writes the moment (3 arrays), and the
parameter loop reads ``p`` and what it needs to form the step, then writes
``p``. The compiled programs (``.compile().as_text()``) are, per leaf:

    momentum  v' = g + mu v          [v, g -> v']
              p' = p - lr v'         [p, v' -> p']                 6 arrays
    rmsprop   nu' = .9 nu + .1 g^2   [nu, g -> nu']
              p' = p - lr g/sqrt(nu'+eps)  [p, g, nu' -> p']       7 arrays
    adam      mu' [mu, g -> mu'], nu' [nu, g -> nu']
              p' = p - lr mu^/(sqrt(nu^)+eps)  [p, mu', nu' -> p'] 10 arrays

With each state array kept separate (optax's state layout), no arrangement of
one-output loops moves less, so the best XLA:CPU can reach is
minimum / XLA arrays of the stream's bandwidth: 100%, 83%, 71% and 70%. The
"ceiling" column prints that bound for the fused step; jaxdl, optax and the
hand-fused step all compile to the same loops and the same traffic. What was
tried and measured (2-core CPU):

- computing the step from the old moments and the gradient, so that one loop
  could produce all three outputs: XLA:CPU keeps three loops and must copy
  each donated moment before overwriting it (15 arrays for Adam, 3.7x slower).
  With ``XLA_FLAGS=--xla_backend_extra_options=xla_cpu_use_multi_output_fusion``
  that form does become one loop of 7 arrays at the stream's bandwidth, and
  the usual form becomes 9 arrays (the moment loops merge); but a library
  cannot choose its users' compiler options, so jaxdl keeps the usual form,
  which is at the ceiling under the default options;
- cache-blocking the whole step (``lax.scan`` or ``fori_loop`` over row
  chunks, so intermediates stay in cache): 5x to 250x slower on XLA:CPU;
- RMSprop also pays for XLA:CPU's ``rsqrt`` (10% to 20% slower than the same
  loop with a multiply); ``g / sqrt(.)`` is rewritten to ``rsqrt`` by XLA, and
  other spellings change the rounding that jaxdl shares with optax, for a
  gain of about 5% of a step.

XLA's GPU backend runs multi-output fusion by default, and there every step
moves only its minimum traffic. On one H100 (``--size 256``: 1 GB per array,
``benchmarks/results/optimizer_step_gpu.json``) the stream ran at 2.36 TB/s,
and jaxdl, optax and the hand-fused step alike at 100% (sgd), 106% (momentum),
105% (rmsprop) and 112% (adam) of it, with XLA counting exactly the minimum
arrays; the optimizers beat the stream because more arrays are in flight per
element. The ceiling above is XLA:CPU's.

Momentum is the classic form on both sides (optax has no averaged momentum
alias): ``jaxdl.optim.momentum(lr, 0.9, form="classic")`` against
``optax.sgd(lr, momentum=0.9)``.

Run ``python -m benchmarks.optimizer_step`` (``--quick`` for a check,
a few seconds; ``--help`` lists the options). The results go to
``runs/benchmarks/optimizer_step.json`` (``runs/benchmarks/quick/`` with
``--quick``) or ``--out``; ``--update-results`` writes the committed
``benchmarks/results/optimizer_step.json`` instead
(``--out benchmarks/results/optimizer_step_gpu.json`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import optax

import jaxdl.optim as jo
from experiments import common

LEARNING_RATE = 1e-3
MOMENTUM = 0.9
RMS_DECAY, RMS_EPS = 0.9, 1e-8
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8
STREAM_ARRAYS = 3
TARGET_VS_OPTAX = 1.05
TARGET_FRACTION_OF_STREAM = 0.85
COMMITTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "optimizer_step.json")
QUICK = {"size": 1.0, "repeats": 10}


# ---------------------------------------------------------------------------
# Hand-fused steps: one elementwise expression per leaf with every output.


def _per_leaf(fn, outputs: int, *trees):
    """Apply ``fn`` leaf by leaf and return its ``outputs`` results as trees."""
    treedef = jax.tree.structure(trees[0])
    results = [fn(*leaves) for leaves in zip(*(jax.tree.leaves(t) for t in trees))]
    return tuple(treedef.unflatten([r[i] for r in results]) for i in range(outputs))


def _fused_sgd():
    def step(params, state, grads):
        return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads), state

    return step, lambda params: ()


def _fused_momentum():
    def leaf(p, v, g):
        v = g + MOMENTUM * v
        return p - LEARNING_RATE * v, v

    def step(params, velocity, grads):
        return _per_leaf(leaf, 2, params, velocity, grads)

    return step, lambda params: jax.tree.map(jnp.zeros_like, params)


def _fused_rmsprop():
    def leaf(p, nu, g):
        nu = (1 - RMS_DECAY) * jnp.square(g) + RMS_DECAY * nu
        return p - LEARNING_RATE * (g * jax.lax.rsqrt(nu + RMS_EPS)), nu

    def step(params, nu, grads):
        return _per_leaf(leaf, 2, params, nu, grads)

    return step, lambda params: jax.tree.map(jnp.zeros_like, params)


def _fused_adam():
    def step(params, state, grads):
        count, mu, nu = state
        count = count + 1
        t = count.astype(jnp.float32)
        correction_mu, correction_nu = 1 - ADAM_B1**t, 1 - ADAM_B2**t

        def leaf(p, m, v, g):
            m = (1 - ADAM_B1) * g + ADAM_B1 * m
            v = (1 - ADAM_B2) * jnp.square(g) + ADAM_B2 * v
            direction = (m / correction_mu) / (jnp.sqrt(v / correction_nu) + ADAM_EPS)
            return p - LEARNING_RATE * direction, m, v

        params, mu, nu = _per_leaf(leaf, 3, params, mu, nu, grads)
        return params, (count, mu, nu)

    def init(params):
        return (
            jnp.zeros([], jnp.int32),
            jax.tree.map(jnp.zeros_like, params),
            jax.tree.map(jnp.zeros_like, params),
        )

    return step, init


# name: (jaxdl factory, optax factory, hand-fused (step, init), minimal arrays per parameter)
OPTIMIZERS = {
    "sgd": (lambda: jo.sgd(LEARNING_RATE), lambda: optax.sgd(LEARNING_RATE), _fused_sgd, 3),
    "momentum": (
        lambda: jo.momentum(LEARNING_RATE, MOMENTUM, form="classic"),
        lambda: optax.sgd(LEARNING_RATE, momentum=MOMENTUM),
        _fused_momentum,
        5,
    ),
    "rmsprop": (
        lambda: jo.rmsprop(LEARNING_RATE, decay=RMS_DECAY, eps=RMS_EPS),
        lambda: optax.rmsprop(LEARNING_RATE, decay=RMS_DECAY, eps=RMS_EPS),
        _fused_rmsprop,
        5,
    ),
    "adam": (
        lambda: jo.adam(LEARNING_RATE, ADAM_B1, ADAM_B2, ADAM_EPS),
        lambda: optax.adam(LEARNING_RATE, ADAM_B1, ADAM_B2, ADAM_EPS),
        _fused_adam,
        7,
    ),
}


# ---------------------------------------------------------------------------
# Timing


def make_tree(total_params: int, leaves: int, key):
    """``leaves`` float32 matrices, 1024 columns wide, about ``total_params`` in all."""
    rows = max(1, total_params // (leaves * 1024))
    keys = jax.random.split(key, leaves)
    return {f"w{i}": jax.random.normal(k, (rows, 1024), jnp.float32) for i, k in enumerate(keys)}


def _copy(tree):
    return jax.tree.map(lambda x: x + 0, tree)


def _optimizer_step(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


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
        "backend": jax.default_backend(),
        "stream": {
            "seconds": stream.median,
            "gb_per_s": STREAM_ARRAYS * bytes_per_array / stream.median / 1e9,
        },
        "targets": {
            "jaxdl_over_optax_at_most": TARGET_VS_OPTAX,
            "fraction_of_stream_at_least": TARGET_FRACTION_OF_STREAM,
        },
        "optimizers": {},
    }
    for name in names:
        make_ours, make_theirs, make_fused, arrays = OPTIMIZERS[name]
        runners, xla_arrays = [], []
        fused_step, fused_init = make_fused()
        steps = [
            (_optimizer_step(opt), opt.init) for opt in (make_ours(), make_theirs())
        ] + [(fused_step, fused_init)]
        for step, init in steps:
            step = jax.jit(step, donate_argnums=(0, 1))
            p = _copy(params)
            xla_arrays.append(_xla_arrays(step, (p, init(p), grads), bytes_per_array))
            runners.append(Runner(step, (p, init(p)), grads))
        # Stream again alongside, so drift in machine load hits all of them alike.
        stream_again = Runner(_stream_fn(), (_copy(params),), grads, jnp.float32(0.5))
        _interleave(runners + [stream_again], warmup, repeats)
        ours, theirs, fused = runners
        stream_bw = STREAM_ARRAYS * bytes_per_array / stream_again.median / 1e9
        ours_bw, theirs_bw, fused_bw = (
            arrays * bytes_per_array / r.median / 1e9 for r in (ours, theirs, fused)
        )
        results["optimizers"][name] = {
            "jaxdl_seconds": ours.median,
            "optax_seconds": theirs.median,
            "fused_seconds": fused.median,
            "ratio": ours.median / theirs.median,
            "jaxdl_gb_per_s": ours_bw,
            "optax_gb_per_s": theirs_bw,
            "fused_gb_per_s": fused_bw,
            "stream_gb_per_s": stream_bw,
            "jaxdl_fraction_of_stream": ours_bw / stream_bw,
            "optax_fraction_of_stream": theirs_bw / stream_bw,
            "fused_fraction_of_stream": fused_bw / stream_bw,
            "arrays_minimum": arrays,
            "arrays_xla_jaxdl": xla_arrays[0],
            "arrays_xla_optax": xla_arrays[1],
            "arrays_xla_fused": xla_arrays[2],
            "jaxdl_fraction_of_stream_at_xla_traffic": ours_bw / stream_bw * xla_arrays[0] / arrays,
            "xla_ceiling_fraction_of_stream": arrays / xla_arrays[2],
            "meets_optax_target": ours.median / theirs.median <= TARGET_VS_OPTAX,
            "meets_stream_target": ours_bw / stream_bw >= TARGET_FRACTION_OF_STREAM,
        }
        del runners, ours, theirs, fused, stream_again
    return results


def format_table(results: dict) -> str:
    lines = [
        f"{results['parameters'] / 1e6:.1f}M float32 parameters in {results['leaves']} leaves, "
        f"median of {results['repeats']} calls, {results['device']}",
        f"streaming a + b*x: {results['stream']['seconds'] * 1e3:.2f} ms, "
        f"{results['stream']['gb_per_s']:.1f} GB/s (3 arrays)",
        "",
        f"{'optimizer':<9} {'jaxdl ms':>8} {'optax ms':>8} {'fused ms':>8} {'jaxdl/optax':>11} "
        f"{'arrays':>6} {'jaxdl GB/s':>10} {'stream GB/s':>11} {'jaxdl/stream':>12} "
        f"{'optax/stream':>12} {'fused/stream':>12} {'XLA arrays':>10} {'ceiling':>7}",
    ]
    for name, r in results["optimizers"].items():
        lines.append(
            f"{name:<9} {r['jaxdl_seconds'] * 1e3:8.2f} {r['optax_seconds'] * 1e3:8.2f} "
            f"{r['fused_seconds'] * 1e3:8.2f} {r['ratio']:11.3f} {r['arrays_minimum']:6d} "
            f"{r['jaxdl_gb_per_s']:10.1f} {r['stream_gb_per_s']:11.1f} "
            f"{r['jaxdl_fraction_of_stream']:12.0%} {r['optax_fraction_of_stream']:12.0%} "
            f"{r['fused_fraction_of_stream']:12.0%} {r['arrays_xla_jaxdl']:10.1f} "
            f"{r['xla_ceiling_fraction_of_stream']:7.0%}"
        )
    lines += [
        "",
        "arrays: minimum arrays read + written per step (4 bytes each); GB/s and x/stream count",
        "those bytes. fused: the same step hand-written as one jnp expression per leaf.",
        "XLA arrays: traffic of jaxdl's compiled step by XLA's cost analysis. ceiling: arrays /",
        "the fused step's XLA arrays, the fraction of the stream reachable if XLA's loops ran at",
        "the stream's bandwidth. XLA:CPU gives each fused loop one output, so every new moment",
        "is written by its own loop and read back by the parameter loop (see the docstring).",
        "",
        "targets: jaxdl/optax <= "
        f"{TARGET_VS_OPTAX:.2f}, jaxdl/stream >= {TARGET_FRACTION_OF_STREAM:.0%}",
    ]
    for name, r in results["optimizers"].items():
        optax_verdict = "met" if r["meets_optax_target"] else "missed"
        if r["meets_stream_target"]:
            stream_verdict = "met"
        else:
            stream_verdict = (
                f"missed ({r['jaxdl_fraction_of_stream']:.0%}; "
                f"XLA ceiling {r['xla_ceiling_fraction_of_stream']:.0%})"
            )
        lines.append(f"  {name:<9} vs optax: {optax_verdict:<7} vs stream: {stream_verdict}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.optimizer_step",
        description="Time jaxdl's optimizer steps against optax's and a streaming kernel."
    )
    parser.add_argument(
        "--size", type=float, help=f"parameters, in millions (default 16, or {QUICK['size']:g} with --quick)"
    )
    parser.add_argument("--leaves", type=int, default=4, help="number of equal leaves (default 4)")
    parser.add_argument(
        "--repeats", type=int,
        help=f"timed calls per function (default 30, or {QUICK['repeats']} with --quick; at least 10)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    parser.add_argument(
        "--optimizers", nargs="+", choices=sorted(OPTIMIZERS), default=list(OPTIMIZERS),
        help="which optimizers (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a check with a small tree, a few seconds")
    common.add_output_flags(parser, COMMITTED)
    parser.add_argument("--json", dest="out", metavar="PATH", help=argparse.SUPPRESS)  # the old name of --out
    args = parser.parse_args(argv)
    args.out = common.benchmark_output(parser, args, COMMITTED)
    if args.size is None:
        args.size = QUICK["size"] if args.quick else 16.0
    if args.repeats is None:
        args.repeats = QUICK["repeats"] if args.quick else 30
    if args.repeats < 10:
        parser.error("--repeats must be at least 10")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = run(args.size, args.leaves, args.repeats, args.warmup, args.optimizers)
    print(format_table(results))
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    temporary = args.out + ".tmp"
    with open(temporary, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(temporary, args.out)
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
