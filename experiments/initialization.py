r"""Question 7: how does the scale of the initial weights decide whether a deep network trains?

Lecture 003 initialises a deep tanh network with :math:`W \sim 0.01\,\mathcal N(0, 1)`
(the activations shrink to zero layer by layer: tiny activations, tiny
gradients) and with :math:`0.05\,\mathcal N(0, 1)` (the activations pile up at
:math:`\pm 1`: saturated units, zero gradients), and recommends Xavier/Glorot,
:math:`W \sim \mathcal N(0, 1)/\sqrt{d_{in}}`. This script draws both pictures
and trains what follows, for a deep tanh and a deep ReLU network, with four
initialisations that differ only in the standard deviation of the kernels:

- ``0.01·N(0,1)`` and ``0.05·N(0,1)``: a fixed standard deviation, whatever the width;
- Glorot: :math:`\sigma^2 = 2/(n_{in} + n_{out})`; He: :math:`\sigma^2 = 2/n_{in}`.

All four are untruncated normals drawn from the *same* standard-normal
matrices (one draw per seed, rescaled), biases zero, so a comparison isolates
the scale. (:data:`jaxdl.models.INITIALIZERS` has no fixed-scale entry, so the
kernels are set on a built :class:`jaxdl.models.MLP`; its ``glorot_normal`` and
``he_normal`` are the same variances truncated at 2 sigma.)

What matters is the per-layer gain :math:`\sigma\sqrt{n}`: a fixed 0.05 is
close to Glorot's :math:`1/\sqrt{n} = 0.0625` at 256 units (gain 0.8, a slow
fade) and saturates only in wide layers: at the 4096 units of the lecture's
source (CS231n) the gain is 3.2. The script therefore draws the histograms
twice:

1. the lecture's setting: 10 tanh (or ReLU) layers of 4096 units fed 256
   standard-normal vectors (``initialization_histograms.png``);
2. the network it trains: 64 digit pixels -> 10 layers of 256 units -> 10
   classes, fed the digits training split (``initialization_histograms_trained.png``).

Training: SGD with momentum (lecture form, beta 0.9), mini-batches of 64,
cross-entropy on the digits (1078 training / 359 validation images). Plain
momentum SGD is used because Adam divides each gradient by its own running
size, which hides vanishing gradients. Each (activation, initialisation)
gets its own learning rate from the same log grid (lowest mean final
training loss on a tuning seed not used afterwards), then trains with 5
fresh seeds; each activation's whole population (4 initialisations x seeds)
is one ``jax.jit(jax.vmap(...))`` around :func:`jaxdl.transfer.fit` with
nothing frozen. Layer statistics come from
:func:`jaxdl.diagnostics.layer_outputs` and :func:`jaxdl.diagnostics.activation_statistics`.

Run ``python -m experiments.initialization`` (``--quick``: a 3-layer
network, 2 epochs; ``--help`` for the flags). Writes ``initialization.png``
(activation spread by layer and the loss curves), the two histogram grids
and ``initialization.{md,json}``.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from experiments import common  # noqa: E402
from jaxdl import diagnostics, losses, models, train, transfer  # noqa: E402

NAME = "initialization"
INITS = ("0.01·N(0,1)", "0.05·N(0,1)", "Glorot", "He")
ACTIVATIONS = ("tanh", "relu")
TUNING_SEED = 1000
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0)


def kernel_std(init: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of the kernel entries of one layer under ``init``."""
    if init == "0.01·N(0,1)":
        return 0.01
    if init == "0.05·N(0,1)":
        return 0.05
    if init == "Glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if init == "He":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown initialisation {init!r}; valid: {', '.join(INITS)}")


def layer_fans(config: models.MLPConfig) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of every kernel, hidden blocks then head."""
    widths = (config.in_features, *config.hidden, config.out_features)
    return list(zip(widths[:-1], widths[1:]))


def init_stds(config: models.MLPConfig, init: str) -> np.ndarray:
    """Per-kernel standard deviations of ``init`` for ``config`` (hidden blocks, then head)."""
    return np.array([kernel_std(init, i, o) for i, o in layer_fans(config)], np.float32)


def set_kernels(model: models.MLP, stds, key) -> models.MLP:
    """Overwrite every kernel with ``stds[l] * N(0, 1)`` and every bias with 0, in place.

    The standard-normal draw of layer ``l`` depends only on ``key`` and ``l``,
    so models built from one key with different ``stds`` share their
    directions and differ only in scale. ``stds`` may be traced.
    """
    layers = [block.layer for block in model.blocks] + [model.head]
    for index, layer in enumerate(layers):
        shape = layer.kernel[...].shape
        layer.kernel[...] = stds[index] * jax.random.normal(jax.random.fold_in(key, index), shape)
        layer.bias[...] = jnp.zeros_like(layer.bias[...])
    return model


def scaled_model(config: models.MLPConfig, stds, key) -> models.MLP:
    """An MLP of ``config`` with kernels ``stds[l] * N(0, 1)``; the library's own draw is skipped."""
    graphdef, state = nnx.split(nnx.eval_shape(lambda: models.build(config, jax.random.key(0))))
    state = jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), state)
    return set_kernels(nnx.merge(graphdef, state), stds, key)


# ---------------------------------------------------------------------------
# Activations at initialisation


def histogram_grid(config: models.MLPConfig, x, key, bins: int = 50) -> dict:
    """Each initialisation's per-layer activation statistics and histograms for ``config`` on ``x``."""
    saturating = config.activation == "tanh"
    unit = scaled_model(config, np.ones(len(config.hidden) + 1, np.float32), key)
    graphdef, unit_state = nnx.split(unit)
    out = {}
    for init in INITS:
        model = nnx.merge(graphdef, unit_state, copy=True)
        for std, layer in zip(init_stds(config, init), [block.layer for block in model.blocks] + [model.head]):
            layer.kernel[...] = std * layer.kernel[...]
        stats = diagnostics.activation_statistics(model, x)
        acts = diagnostics.layer_outputs(model, x).activations
        layers = []
        for row, activation in zip(stats.layers, acts):
            a = np.asarray(activation, np.float64).ravel()
            a = a[np.isfinite(a)]
            if saturating:
                counts, edges = np.histogram(a, bins=bins, range=(-1.0, 1.0))
            else:
                positive = a[a > 0]
                top = float(np.quantile(positive, 0.995)) if positive.size else 1.0
                counts, edges = np.histogram(positive, bins=bins, range=(0.0, top if top > 0 else 1.0))
            layers.append({"layer": row.layer, "mean": row.mean, "std": row.std,
                           "saturated": row.saturated, "zero": row.zero,
                           "counts": counts.tolist(), "range": [float(edges[0]), float(edges[-1])]})
        out[init] = {"layers": layers, "verdict": stats.verdict}
    return out


def plot_histograms(grids: dict, path: str, title: str) -> str:
    """Layers across, initialisations down; tanh block above ReLU block."""
    rows = [(act, init) for act in grids for init in INITS]
    depth = len(next(iter(next(iter(grids.values())).values()))["layers"])
    fig, axes = plt.subplots(len(rows), depth, figsize=(1.45 * depth + 1.2, 1.05 * len(rows) + 0.8),
                             squeeze=False)
    for r, (act, init) in enumerate(rows):
        for c, layer in enumerate(grids[act][init]["layers"]):
            ax = axes[r, c]
            counts = np.asarray(layer["counts"], float)
            edges = np.linspace(*layer["range"], counts.size + 1)
            total = counts.sum()
            ax.stairs(counts / total if total else counts, edges, fill=True,
                      color="C0" if act == "tanh" else "C3", linewidth=0)
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=5, length=2, pad=1)
            if act == "tanh":
                ax.set_xticks([-1, 0, 1])
                note = f"σ={layer['std']:.1e}\nsat {layer['saturated']:.0%}"
            else:
                ax.set_xticks([0, edges[-1]])
                ax.set_xticklabels(["0", f"{edges[-1]:.0e}"])
                note = f"σ={layer['std']:.1e}"
            ax.text(0.97, 0.95, note, transform=ax.transAxes, ha="right", va="top", fontsize=5)
            if r == 0:
                ax.set_title(f"layer {c + 1}", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{act}\n{init}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.03, top=0.93, wspace=0.08, hspace=0.35)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# Training


def make_trainer(config: models.MLPConfig, data: train.Data, *, epochs: int, batch_size: int):
    """``population(keys, stds, learning_rates) -> (epoch losses, val loss, val accuracy)``, jitted and vmapped.

    Row ``i`` builds an MLP of ``config`` with kernels ``stds[i, l] * N(0, 1)``
    from ``keys[i]`` and trains it with momentum SGD at ``learning_rates[i]``.
    """

    def run(key, stds, learning_rate, data):
        init_key, fit_key = jax.random.split(key)
        model = set_kernels(models.build(config, init_key), stds, init_key)
        fitted = transfer.fit(model, data.x_train, data.y_train, "momentum", epochs=epochs, key=fit_key,
                              learning_rate=learning_rate, batch_size=batch_size)
        logits = fitted.model(data.x_val)
        val_loss = losses.softmax_cross_entropy(logits, data.y_val)
        return fitted.losses, val_loss, jnp.mean(jnp.argmax(logits, -1) == data.y_val)

    population = jax.jit(jax.vmap(run, in_axes=(0, 0, 0, None)))
    return lambda keys, stds, learning_rates: population(keys, stds, learning_rates, data)


def _finite_mean(values) -> float:
    return common.mean_spread(values)[0]


def train_activation(config, data, *, epochs, batch_size, rates, num_seeds) -> dict:
    """Tune a learning rate per initialisation, then train ``num_seeds`` fresh seeds of each."""
    population = make_trainer(config, data, epochs=epochs, batch_size=batch_size)
    stds = {init: init_stds(config, init) for init in INITS}
    # Tuning: every initialisation x every rate, on the tuning seed.
    grid = [(init, rate) for init in INITS for rate in rates]
    tuning_keys = jnp.stack([jax.random.key(TUNING_SEED)] * len(grid))
    tune_losses, _, _ = population(tuning_keys, jnp.asarray(np.stack([stds[i] for i, _ in grid])),
                                   jnp.asarray([r for _, r in grid], jnp.float32))
    final_loss = np.asarray(tune_losses)[:, -1]
    chosen = {}
    for init in INITS:
        scores = {rate: float(final_loss[k]) for k, (i, rate) in enumerate(grid) if i == init}
        finite = {rate: s for rate, s in scores.items() if math.isfinite(s)}
        chosen[init] = min(finite, key=finite.get) if finite else min(rates)
    # Final: every initialisation x fresh seeds at its own rate.
    runs = [(init, seed) for init in INITS for seed in range(num_seeds)]
    keys = jnp.stack([jax.random.key(seed) for _, seed in runs])
    epoch_losses, val_loss, val_acc = population(
        keys, jnp.asarray(np.stack([stds[i] for i, _ in runs])), jnp.asarray([chosen[i] for i, _ in runs], jnp.float32)
    )
    epoch_losses, val_loss, val_acc = map(np.asarray, (epoch_losses, val_loss, val_acc))
    out = {}
    for init in INITS:
        mine = [k for k, (i, _) in enumerate(runs) if i == init]
        out[init] = {
            "learning_rate": chosen[init],
            "tuning_final_loss": {str(r): float(final_loss[k]) for k, (i, r) in enumerate(grid) if i == init},
            "epoch_losses": epoch_losses[mine].tolist(),
            "final_train_loss": epoch_losses[mine, -1].tolist(),
            "val_loss": val_loss[mine].tolist(),
            "val_accuracy": val_acc[mine].tolist(),
        }
    return out


def plot_summary(wide: dict, trained_grid: dict, training: dict, widths: tuple[int, int], path: str) -> str:
    """Top: activation std by layer (both widths). Bottom: mean training loss +- sd over seeds."""
    fig, axes = plt.subplots(2, len(training), figsize=(5.2 * len(training), 7.4), squeeze=False)
    for c, act in enumerate(training):
        ax = axes[0, c]
        for k, init in enumerate(INITS):
            for grid, style, width in ((wide, "-", widths[0]), (trained_grid, "--", widths[1])):
                std = [layer["std"] for layer in grid[act][init]["layers"]]
                ax.plot(np.arange(1, len(std) + 1), std, style, color=f"C{k}", marker="o", markersize=3,
                        label=f"{init}, {width} units" if style == "-" else f"{init}, {width} units (digits)")
        ax.set(yscale="log", xlabel="hidden layer", ylabel="std of activations at initialisation",
               title=f"{act}: activation spread through depth")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
        ax = axes[1, c]
        for k, init in enumerate(INITS):
            curves = np.asarray(training[act][init]["epoch_losses"], float)
            mean, spread = np.nanmean(curves, 0), np.nanstd(curves, 0, ddof=1) if len(curves) > 1 else 0 * curves[0]
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, mean, color=f"C{k}", label=f"{init} (lr {training[act][init]['learning_rate']:g})")
            ax.fill_between(epochs, mean - spread, mean + spread, color=f"C{k}", alpha=0.2)
        ax.set(yscale="log", xlabel="epoch", ylabel="training loss (mean ± sd over seeds)",
               title=f"{act}: training that follows (digits, {len(curves)} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _last(grid, act, init, field):
    return grid[act][init]["layers"][-1][field]


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="about 15 s")
    p.add_argument("--depth", type=int, help="hidden layers (default 10, or 3 with --quick)")
    p.add_argument("--width", type=int,
                   help="units per hidden layer of the trained network (default 256, or 32 with --quick)")
    p.add_argument("--wide", type=int,
                   help="units per layer of the lecture's picture (default 4096, or 256 with --quick)")
    p.add_argument("--epochs", type=int, help="training epochs (default 10, or 2 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    depth = args.depth or (3 if args.quick else 10)
    width = args.width or (32 if args.quick else 256)
    wide = args.wide or (256 if args.quick else 4096)
    epochs = args.epochs or (2 if args.quick else 10)
    rates = (0.03, 0.3) if args.quick else LEARNING_RATES
    batch_size = 64
    began = time.perf_counter()

    data = train.Data.load("digits", args.data_dir)
    if args.quick:
        data = train.Data(data.x_train[:256], data.y_train[:256], data.x_val, data.y_val,
                          data.x_test, data.y_test, data.num_classes)
    key = jax.random.key(0)
    wide_x = jax.random.normal(jax.random.key(1), (64, wide))
    wide_grid, trained_grid, training = {}, {}, {}
    for act in ACTIVATIONS:
        wide_config = models.MLPConfig(in_features=wide, hidden=(wide,) * depth, out_features=10, activation=act)
        wide_grid[act] = histogram_grid(wide_config, wide_x, key)
        config = models.MLPConfig(in_features=int(data.x_train.shape[1]), hidden=(width,) * depth,
                                  out_features=data.num_classes, activation=act)
        trained_grid[act] = histogram_grid(config, data.x_train, key)
        start = time.perf_counter()
        training[act] = train_activation(config, data, epochs=epochs, batch_size=batch_size, rates=rates,
                                         num_seeds=num_seeds)
        print(f"{act}: trained {len(INITS)} x ({len(rates)} rates + {num_seeds} seeds) "
              f"in {time.perf_counter() - start:.1f} s", flush=True)

    plot_histograms(wide_grid, f"{out}/{NAME}_histograms.png",
                    f"Activations at initialisation: {depth} layers x {wide} units, standard-normal inputs "
                    "(tanh: range [-1, 1]; ReLU: positive part, zeros not shown)")
    plot_histograms(trained_grid, f"{out}/{NAME}_histograms_trained.png",
                    f"Activations at initialisation of the trained network: 64 -> {depth} x {width} units, "
                    "digits training inputs")
    plot_summary(wide_grid, trained_grid, training, (wide, width), f"{out}/{NAME}.png")

    rows = []
    for act in ACTIVATIONS:
        for init in INITS:
            result = training[act][init]
            hidden_std = kernel_std(init, width, width)
            rows.append({
                "activation": act,
                "init": init,
                f"gain σ√n ({width} units)": round(hidden_std * math.sqrt(width), 3),
                f"gain σ√n ({wide} units)": round(kernel_std(init, wide, wide) * math.sqrt(wide), 3),
                f"last-layer std ({wide})": f"{_last(wide_grid, act, init, 'std'):.2e}",
                f"last-layer saturated/zero ({wide})": _fraction(wide_grid, act, init),
                f"last-layer std ({width}, digits)": f"{_last(trained_grid, act, init, 'std'):.2e}",
                "learning_rate": result["learning_rate"],
                "final_train_loss": common.format_mean(result["final_train_loss"], 3),
                "val_accuracy": common.format_mean(result["val_accuracy"], 3),
            })
    finding = _finding(training, wide_grid, trained_grid, wide, width)
    settings = {
        "data": f"digits ({int(data.x_train.shape[0])} train / {int(data.x_val.shape[0])} validation), standardised",
        "trained_network": f"64 -> {depth} x {width} -> 10, biases 0",
        "picture_network": f"{wide} -> {depth} x {wide}, 64 standard-normal inputs",
        "optimizer": "momentum (ewa form, decay 0.9)", "batch_size": batch_size, "epochs": epochs,
        "learning_rate_grid": list(rates), "tuning": f"lowest final training loss, seed {TUNING_SEED}",
        "seeds": num_seeds, "seconds": round(time.perf_counter() - began, 1),
    }
    paths = common.write_results(
        out, NAME, title="Question 7: weight initialisation in deep tanh and ReLU networks", finding=finding,
        rows=rows, settings=settings,
        extra={"histograms": {"wide": wide_grid, "trained": trained_grid},
               "training": {act: {init: {k: v for k, v in training[act][init].items()} for init in INITS}
                            for act in ACTIVATIONS}},
    )
    print(f"done in {time.perf_counter() - began:.1f} s")
    return {**paths, "figure": f"{out}/{NAME}.png", "histograms": f"{out}/{NAME}_histograms.png",
            "histograms_trained": f"{out}/{NAME}_histograms_trained.png", "rows": rows, "training": training,
            "wide": wide_grid, "trained": trained_grid}


def _fraction(grid, act, init) -> str:
    if act == "tanh":
        return f"{_last(grid, act, init, 'saturated'):.0%} saturated"
    return f"{_last(grid, act, init, 'zero'):.0%} zero"


def _finding(training, wide_grid, trained_grid, wide, width) -> str:
    loss = {(a, i): _finite_mean(training[a][i]["final_train_loss"]) for a in training for i in INITS}
    acc = {(a, i): _finite_mean(training[a][i]["val_accuracy"]) for a in training for i in INITS}
    std = lambda grid, act, init: _last(grid, act, init, "std")
    small, medium = INITS[0], INITS[1]
    wide_saturated = _last(wide_grid, "tanh", medium, "saturated")
    trained_saturated = _last(trained_grid, "tanh", medium, "saturated")
    gain = 0.05 * math.sqrt(width)
    picture = ("the lecture's saturated picture only in wide layers" if wide_saturated > 0.1 > trained_saturated
               else "saturated" if trained_saturated > 0.1 else "not saturated")
    return (
        f"0.01·N(0,1) collapses the activations (tanh last-layer std {std(wide_grid, 'tanh', small):.1e} with "
        f"{wide} units, {std(trained_grid, 'tanh', small):.1e} with {width}) and neither network leaves chance "
        f"(final training loss {loss['tanh', small]:.3f} tanh, {loss['relu', small]:.3f} ReLU; log 10 = 2.303); "
        f"0.05·N(0,1) is {picture} ({wide_saturated:.0%} of last-layer tanh units at |a| > 0.99 with {wide} "
        f"units, where ReLU's last-layer std is {std(wide_grid, 'relu', medium):.1e}); with {width} units "
        f"({trained_saturated:.0%} saturated) its gain {gain:.2g} makes the activations "
        f"{'fade' if gain < 1 else 'grow'} "
        f"(tanh last-layer std {std(trained_grid, 'tanh', medium):.1e} vs Glorot "
        f"{std(trained_grid, 'tanh', 'Glorot'):.1e}) "
        f"and trains to val accuracy {acc['tanh', medium]:.3f} tanh / {acc['relu', medium]:.3f} ReLU, against Glorot "
        f"{acc['tanh', 'Glorot']:.3f} / {acc['relu', 'Glorot']:.3f} and He {acc['tanh', 'He']:.3f} / "
        f"{acc['relu', 'He']:.3f} (each at its own tuned learning rate)."
    )


if __name__ == "__main__":
    main()
