"""What opening the run to research code costs: the built-in MLP against a copy of the old run, and a user model.

Two ratios of compiled sweep time, each measured side by side in one run of
``python -m benchmarks.sweep`` (the same population, slices and threads as
its way (d)):

- **new / old run**: jaxdl's population program for the built-in MLP (the
  model built through the registry's factory, the step, epoch and evaluation
  as :func:`jaxdl.train.train_step`, :func:`~jaxdl.train.train_epoch` and
  :func:`~jaxdl.train.evaluate`) against :func:`old_train`, a plain-JAX copy
  of the run as it was before the model contract (one closure, a positional
  state tuple, the model called with its dropout arguments removed). The
  copy trains bit for bit as the new run, so both do exactly the same work.
- **user model / built-in**: the same architecture (64-64 ReLU MLP, He-normal
  kernels, zero biases) written as a user's own ``nnx.Module``, registered
  with :func:`jaxdl.register_model`, against the built-in ``"mlp"``.

Each must be within 5% (a ratio at most 1.05).
"""

from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxdl
from jaxdl import data as data_lib
from jaxdl import losses, models, sweep, train

TOLERANCE = 1.05
USER_MODEL = "benchmark_user_mlp"


class UserMLP(nnx.Module):
    """The built-in 64-64 MLP as a user would write it."""

    def __init__(self, input_shape, out_features, *, activation, rngs, hidden=(64, 64)):
        widths = (math.prod(input_shape), *hidden)
        init = jax.nn.initializers.he_normal()
        self.layers = nnx.List([nnx.Linear(a, b, kernel_init=init, rngs=rngs) for a, b in zip(widths, widths[1:])])
        self.head = nnx.Linear(widths[-1], out_features, kernel_init=init, rngs=rngs)
        self.activation = activation

    def __call__(self, x, *, train: bool = False):
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.head(x)


def register_user_model() -> None:
    jaxdl.register_model(USER_MODEL, lambda input_shape, out_features, *, activation, rngs, hidden=(64, 64):
                         UserMLP(input_shape, out_features, activation=activation, rngs=rngs, hidden=hidden),
                         replace=True)


def old_train(config: train.TrainConfig, hparams: train.HParams, key, data: train.Data):
    """The run before the model contract, for an MLP with Adam, a constant rate and no dropout.

    A copy of that code's structure: one closure per piece, a positional
    ``(params, batch_stats, opt_state, plateau, key)`` state, best-epoch
    tracking with ``restore_best``, and the same early-stopping and
    divergence masks. Returns ``(history, metrics)`` as its ``Result`` held them.
    """
    lr = jnp.asarray(hparams.learning_rate, jnp.float32)
    l2 = jnp.asarray(hparams.l2, jnp.float32)
    weight_decay = jnp.asarray(hparams.weight_decay, jnp.float32)
    init_key, run_key = jax.random.split(key)
    model = train.build_model(config, data, init_key)
    graphdef, params, batch_stats, rates, keys = models.split(model)
    num_train = data.x_train.shape[0]
    steps = data_lib.steps_per_epoch(num_train, config.batch_size)
    schedule = lambda count: lr
    optimizer = jaxdl.optim.adam(learning_rate=schedule)

    def merged(params, batch_stats):
        return nnx.merge(graphdef, params, batch_stats, rates, keys, copy=True)

    def objective(params, batch_stats, x, y):
        model = merged(params, batch_stats)
        logits = model(x, train=True)
        loss = losses.softmax_cross_entropy(logits, y)
        penalty = losses.l2_penalty(params, l2, x.shape[0], mask=losses.weights_only)
        return loss + penalty, (loss, jnp.mean(jnp.argmax(logits, -1) == y), models.split(model)[2])

    grad_fn = jax.value_and_grad(objective, has_aux=True)

    def evaluate(params, batch_stats, x, y):
        logits = merged(params, batch_stats)(x, train=False)
        return losses.softmax_cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

    def step(carry, batch):
        params, batch_stats, opt_state, plateau, step_key = carry
        indices, count = batch
        (_, (loss, accuracy, batch_stats)), grads = grad_fn(params, batch_stats, data.x_train[indices],
                                                            data.y_train[indices])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        decay = schedule(count) * weight_decay
        updates = jax.tree.map(lambda u, p: u - decay * p, updates, params)
        updates = jax.tree.map(lambda u: plateau.learning_rate * u, updates)
        return (optax.apply_updates(params, updates), batch_stats, opt_state, plateau, step_key), (loss, accuracy)

    def epoch(carry, _):
        state, best, flags = carry
        active = ~(flags["stopped"] | flags["diverged"])
        epoch_key, batch_key = jax.random.split(state[4])
        batches = data_lib.epoch_batches(batch_key, num_train, config.batch_size)
        counts = flags["epoch"] * steps + jnp.arange(steps)
        new_state, (batch_losses, batch_accs) = jax.lax.scan(step, state[:4] + (epoch_key,), (batches, counts))
        val_loss, val_acc = evaluate(new_state[0], new_state[1], data.x_val, data.y_val)
        train_loss = jnp.mean(batch_losses)
        blew_up = active & ~(jnp.isfinite(train_loss) & jnp.isfinite(val_loss))
        keep = active & ~blew_up
        state = train._tree_where(keep, new_state, state)
        improved = keep & (val_loss < best["value"] - config.min_delta)
        best = {
            "value": jnp.where(improved, val_loss, best["value"]),
            "epoch": jnp.where(improved, flags["epoch"] + 1, best["epoch"]),
            "val_loss": jnp.where(improved, val_loss, best["val_loss"]),
            "val_accuracy": jnp.where(improved, val_acc, best["val_accuracy"]),
            "params": train._tree_where(improved, state[0], best["params"]),
            "batch_stats": train._tree_where(improved, state[1], best["batch_stats"]),
        }
        wait = jnp.where(improved, 0, flags["wait"] + keep)
        flags = {"epoch": flags["epoch"] + 1, "stopped": flags["stopped"], "diverged": flags["diverged"] | blew_up,
                 "diverged_epoch": jnp.where(blew_up, flags["epoch"] + 1, flags["diverged_epoch"]),
                 "epochs_run": flags["epochs_run"] + keep, "wait": wait}
        nan = jnp.float32(jnp.nan)
        row = {"train_loss": jnp.where(active, train_loss, nan),
               "train_accuracy": jnp.where(active, jnp.mean(batch_accs), nan),
               "val_loss": jnp.where(active, val_loss, nan), "val_accuracy": jnp.where(active, val_acc, nan),
               "learning_rate": jnp.where(active, schedule(counts[-1]) * state[3].learning_rate, nan)}
        return (state, best, flags), row

    best = {"value": jnp.float32(jnp.inf), "epoch": jnp.int32(0), "val_loss": jnp.float32(jnp.nan),
            "val_accuracy": jnp.float32(jnp.nan), "params": params, "batch_stats": batch_stats}
    flags = {"epoch": jnp.int32(0), "stopped": jnp.bool_(False), "diverged": jnp.bool_(False),
             "diverged_epoch": jnp.int32(-1), "epochs_run": jnp.int32(0), "wait": jnp.int32(0)}
    state = (params, batch_stats, optimizer.init(params), jaxdl.schedules.plateau_init(1.0), run_key)
    (state, best, flags), history = jax.lax.scan(epoch, (state, best, flags), None, length=config.epochs)
    has_best = best["epoch"] > 0
    params = train._tree_where(has_best, best["params"], state[0])
    batch_stats = train._tree_where(has_best, best["batch_stats"], state[1])
    val_loss, val_acc = evaluate(params, batch_stats, data.x_val, data.y_val)
    test_loss, test_acc = evaluate(params, batch_stats, data.x_test, data.y_test)
    return history, {"val_loss": val_loss, "val_accuracy": val_acc, "test_loss": test_loss,
                     "test_accuracy": test_acc}


def _old_program(config):
    program = train.jit(jax.vmap(lambda h, k, d: old_train(config, h, k, d), in_axes=(0, 0, None)))
    return lambda hparams, keys, carry, data: program(hparams, keys, data)


def _time(program, parts, hparams, keys, data, repeats: int):
    result = jax.block_until_ready(sweep.run_in_parts(program, parts, hparams, keys, None, data))  # compiles
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(sweep.run_in_parts(program, parts, hparams, keys, None, data))
        times.append(time.perf_counter() - tic)
    return result, times


def measure(config: train.TrainConfig, data: train.Data, hparams, keys, repeats: int) -> dict:
    """Compiled seconds of the new, old and user-model programs, interleaved round by round."""
    register_user_model()
    user = dataclasses.replace(config, model=USER_MODEL, model_args={"hidden": config.model_kwargs["hidden"]})
    programs = {"new": sweep.population_program(config), "old": _old_program(config),
                "user": sweep.population_program(user)}
    parts = sweep.default_parts(int(keys.shape[0]))
    results, times = {}, {name: [] for name in programs}
    for _ in range(repeats):
        for name, program in programs.items():
            results[name], measured = _time(program, parts, hparams, keys, data, 1)
            times[name] += measured
    new_history = results["new"].history
    old_history, _ = results["old"]
    same = all(np.array_equal(np.asarray(new_history[k]), np.asarray(old_history[k])) for k in old_history)
    median = {name: float(np.median(values)) for name, values in times.items()}
    return {
        "seconds": median,
        "all_seconds": times,
        "new_vs_old": median["new"] / median["old"],
        "user_vs_builtin": median["user"] / median["new"],
        "old_equals_new_bit_for_bit": bool(same),
        "tolerance": TOLERANCE,
        "pass": bool(median["new"] / median["old"] <= TOLERANCE and median["user"] / median["new"] <= TOLERANCE),
    }


def format_report(result: dict) -> str:
    seconds = result["seconds"]
    verdict = lambda ratio: "PASS" if ratio <= result["tolerance"] else "FAIL"
    return "\n".join([
        "### The open run: cost of the model contract (compiled seconds, median)",
        "",
        "| program | compiled s | ratio | needed |",
        "|---|---:|---:|---:|",
        f"| old run (plain-JAX copy, kept in benchmarks/open_run.py) | {seconds['old']:.3f} | | |",
        f"| built-in MLP, new run | {seconds['new']:.3f} | {result['new_vs_old']:.3f} new / old "
        f"{verdict(result['new_vs_old'])} | <= {result['tolerance']} |",
        f"| user MLP, registered | {seconds['user']:.3f} | {result['user_vs_builtin']:.3f} user / built-in "
        f"{verdict(result['user_vs_builtin'])} | <= {result['tolerance']} |",
        "",
        f"The old and new runs' histories are {'identical bit for bit' if result['old_equals_new_bit_for_bit'] else 'NOT identical'}.",
    ])
