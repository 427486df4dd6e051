r"""Question 2: how do ten optimizers move through a narrow valley and round a bend?

The lecture says that plain gradient descent zig-zags across a narrow valley,
that momentum damps the zig-zag (the steep components of successive gradients
cancel in the average, the shallow ones add up), and that RMSprop and Adam
balance the step sizes of the coordinates. Two classic two-parameter surfaces
test this:

- ``quadratic``: the ill-conditioned bowl :math:`f = \tfrac12 (x^2 + 100 y^2)`
  (condition number 100), minimum at the origin, start :math:`(-10, 1)`;
  target loss :math:`10^{-6}`.
- ``rosenbrock``: :math:`f = (1 - x)^2 + 100 (y - x^2)^2`, minimum at
  :math:`(1, 1)`, the classic start :math:`(-1.2, 1)`; target loss
  :math:`10^{-4}`.

Every optimizer gets its own learning rate, found with the same budget: a grid
of 24 log-spaced rates over five decades, :math:`10^{-4}` to 10 (AdaGrad
:math:`10^{-2}` to :math:`10^3`, Adadelta :math:`10^{-3}` to :math:`10^2`,
whose steps scale differently), keeping the rate that reaches the target loss
in the fewest steps (ties and misses: the lower final loss). A run reaches the
target at the step after which its loss stays at or below it up to the cap;
one that dips below and bounces out again counts from its last entry. The
whole grid for one optimizer (every surface x rate x start) is one
``jax.jit(jax.vmap(...))`` of a ``lax.scan`` over steps: the learning rate is
an array, not a constant.

Both problems are deterministic: the same start gives the same numbers on
every run. For a spread, each trial is repeated from ``--seeds`` randomly
perturbed starts (normal, sd ``Surface.start_jitter`` per coordinate) and the
table reports mean ± sd of their steps to the target at the tuned rate.

Oscillation is measured three ways: the number of sign changes of the steep
coordinate's step (:math:`\Delta y` on the quadratic), the distance travelled
along it (:math:`\sum |\Delta y| / |y_0|`), both over the first 100 steps,
and the path length divided by the straight distance from the start to the
end of the run. GD, momentum and Nesterov share one learning-rate grid, so the
second table compares them at the same rates, plus one off-grid rate, 95% of
GD's stability limit on the quadratic, where GD's zig-zag lasts (the lecture's
picture). Momentum and Nesterov use the lecture's averaged form,
:math:`v \leftarrow \beta v + (1-\beta) g` (``jaxdl.optim.momentum`` and
``nesterov(form="ewa")``, :math:`\beta = 0.9`): at equal learning rates their
steady-state step equals gradient descent's, so the comparison is fair.

Other code can reuse the surfaces::

    from experiments.optimizer_surfaces import SURFACES
    surface = SURFACES["rosenbrock"]
    surface.loss(jnp.array(surface.start))

Run ``python -m experiments.optimizer_surfaces`` (``--quick`` for a check in
seconds, ``--help`` for the flags). Writes ``optimizer_surfaces.png``
(trajectories over contours), ``optimizer_surfaces_oscillation.png``,
``optimizer_surfaces.{md,json}`` and ``optimizer_surfaces_oscillation.{md,json}``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import common
from jaxdl import optim, sweep

NAME = "optimizer_surfaces"

# ---------------------------------------------------------------------------
# Surfaces


class Surface(NamedTuple):
    """A two-parameter test problem.

    Attributes:
      name: short name, the key in :data:`SURFACES`.
      loss: ``params -> scalar`` for ``params`` of shape ``(2,)``; pure and
        jittable.
      minimum: the minimiser :math:`(x^*, y^*)`; the minimum value is 0.
      start: the starting point of every unperturbed run.
      target_loss: a run is done when its loss first drops to this value.
      max_steps: step cap; a run that has not reached the target by then
        counts as not reached.
      start_jitter: standard deviation of the random start perturbations used
        for the spread over seeds.
      steep_axis: the coordinate with the largest curvature (its step's sign
        changes measure oscillation), or None where no axis is steepest
        throughout (Rosenbrock's valley bends).
      view: ``((x_low, x_high), (y_low, y_high))``, the window plotted.
    """

    name: str
    loss: Callable[[jax.Array], jax.Array]
    minimum: tuple[float, float]
    start: tuple[float, float]
    target_loss: float
    max_steps: int
    start_jitter: float
    steep_axis: int | None
    view: tuple[tuple[float, float], tuple[float, float]]


CONDITION_NUMBER = 100.0


def quadratic(params: jax.Array) -> jax.Array:
    r""":math:`\tfrac12 (x^2 + 100\, y^2)`: curvatures 1 and 100."""
    return 0.5 * (params[0] ** 2 + CONDITION_NUMBER * params[1] ** 2)


def rosenbrock(params: jax.Array) -> jax.Array:
    r""":math:`(1 - x)^2 + 100 (y - x^2)^2`, Rosenbrock's banana valley."""
    return (1 - params[0]) ** 2 + 100 * (params[1] - params[0] ** 2) ** 2


SURFACES: dict[str, Surface] = {
    "quadratic": Surface(
        name="quadratic",
        loss=quadratic,
        minimum=(0.0, 0.0),
        start=(-10.0, 1.0),
        target_loss=1e-6,
        max_steps=2000,
        start_jitter=0.1,
        steep_axis=1,
        view=((-11.0, 2.0), (-1.6, 1.6)),
    ),
    "rosenbrock": Surface(
        name="rosenbrock",
        loss=rosenbrock,
        minimum=(1.0, 1.0),
        start=(-1.2, 1.0),
        target_loss=1e-4,
        max_steps=20000,
        start_jitter=0.05,
        steep_axis=None,
        view=((-2.0, 2.0), (-1.0, 3.0)),
    ),
}

# ---------------------------------------------------------------------------
# Optimizers


class Contender(NamedTuple):
    """An optimizer in the comparison.

    Attributes:
      label: name shown in tables and figures.
      build: ``learning_rate -> GradientTransformation``; the rate may be a
        tracer.
      rates: ``(low, high)`` of the log-spaced learning-rate grid. Every
        contender gets the same number of rates over five decades, placed
        where its good rates lie on these surfaces.
    """

    label: str
    build: Callable[[jax.Array], optax.GradientTransformation]
    rates: tuple[float, float]


MOMENTUM = 0.9
RATES = (1e-4, 10.0)

CONTENDERS: dict[str, Contender] = {
    "gd": Contender("gradient descent", lambda lr: optim.sgd(lr), RATES),
    "momentum": Contender("momentum", lambda lr: optim.momentum(lr, MOMENTUM), RATES),
    "nesterov": Contender("nesterov", lambda lr: optim.nesterov(lr, MOMENTUM, form="ewa"), RATES),
    "rmsprop": Contender("rmsprop", lambda lr: optim.rmsprop(lr), RATES),
    "adam": Contender("adam", lambda lr: optim.adam(lr), RATES),
    "nadam": Contender("nadam", lambda lr: optim.nadam(lr), RATES),
    "amsgrad": Contender("amsgrad", lambda lr: optim.amsgrad(lr), RATES),
    "adamax": Contender("adamax", lambda lr: optim.adamax(lr), RATES),
    "adagrad": Contender("adagrad", lambda lr: optim.adagrad(lr), (1e-2, 1e3)),
    "adadelta": Contender("adadelta", lambda lr: optim.adadelta(lr), (1e-3, 1e2)),
}

# The three that share a grid and are compared at equal learning rates.
SAME_RATE = ("gd", "momentum", "nesterov")
QUICK_CONTENDERS = ("gd", "momentum", "nesterov", "adam")
OSCILLATION_WINDOW = 100  # steps over which the steep coordinate's oscillation is measured
# Off the grid, for the lecture's picture: 95% of GD's stability limit 2 / curvature on the
# quadratic, where GD's y-step overshoots by 90% every step and the zig-zag lasts.
ZIGZAG_RATE = 0.95 * 2 / CONDITION_NUMBER


# ---------------------------------------------------------------------------
# Running


def trial_runner(build: Callable, surfaces: Sequence[Surface], steps: int) -> Callable:
    """One jitted, vmapped program that runs a batch of trials of one optimizer.

    Returns ``run(learning_rates, starts, surface_indices) -> (path, losses)``
    for a batch of ``n`` trials: ``path[i, t]`` are the parameters and
    ``losses[i, t]`` the loss after ``t + 1`` steps. The surface is chosen by
    a traced index, so every surface, rate and start compiles once.
    """
    losses = [surface.loss for surface in surfaces]

    def objective(params, surface_index):
        return jax.lax.switch(surface_index, losses, params)

    def run(learning_rate, start, surface_index):
        optimizer = build(learning_rate)

        def step(carry, _):
            params, state = carry
            grads = jax.grad(objective)(params, surface_index)
            updates, state = optimizer.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            return (params, state), (params, objective(params, surface_index))

        _, (path, loss) = jax.lax.scan(step, (start, optimizer.init(start)), None, length=steps)
        return path, loss

    return jax.jit(jax.vmap(run))


def perturbed_starts(surface: Surface, num_seeds: int) -> np.ndarray:
    """The start, then ``num_seeds`` starts perturbed with keys 0, 1, ...; shape ``(1 + n, 2)``."""
    start = jnp.asarray(surface.start, jnp.float32)
    jitter = [
        start + surface.start_jitter * jax.random.normal(jax.random.key(seed), (2,))
        for seed in range(num_seeds)
    ]
    return np.asarray(jnp.stack([start, *jitter]))


def run_grid(contender: Contender, surfaces: Sequence[Surface], rates: np.ndarray,
             starts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every surface x rate x start of one contender in one compiled call.

    Returns ``path`` of shape ``(surfaces, rates, starts, steps, 2)`` and
    ``losses`` of shape ``(surfaces, rates, starts, steps)``; steps run to the
    largest cap and each surface is read up to its own.
    """
    steps = max(surface.max_steps for surface in surfaces)
    num_starts = len(starts[0])
    surface_index = np.repeat(np.arange(len(surfaces)), len(rates) * num_starts)
    rate = np.tile(np.repeat(rates, num_starts), len(surfaces))
    start = np.concatenate([np.tile(s, (len(rates), 1)) for s in starts])
    run = trial_runner(contender.build, surfaces, steps)
    path, losses = run(
        jnp.asarray(rate, jnp.float32), jnp.asarray(start, jnp.float32), jnp.asarray(surface_index)
    )
    shape = (len(surfaces), len(rates), num_starts, steps)
    return np.asarray(path).reshape(*shape, 2), np.asarray(losses).reshape(shape)


# ---------------------------------------------------------------------------
# Measures


def steps_to_target(losses: np.ndarray, target: float) -> np.ndarray:
    """Steps until the loss reaches ``target`` and stays there (last axis is time); -1 if it never does.

    A run that touches the target and bounces out again (a constant-rate
    adaptive method circling the minimum) only counts from its last entry;
    a run above the target at the cap has not reached it.
    """
    above = ~(losses <= target)  # NaN counts as above
    steps = losses.shape[-1]
    last_above = steps - 1 - above[..., ::-1].argmax(axis=-1)
    settled = np.where(above.any(axis=-1), last_above + 2, 1)
    return np.where(above[..., -1], -1, settled)


def first_hit(losses: np.ndarray, target: float) -> np.ndarray:
    """Steps until the loss first touches ``target``, staying or not; -1 if it never does."""
    hit = losses <= target
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1) + 1, -1)


def final_loss(losses: np.ndarray) -> np.ndarray:
    """The last loss, with NaN (a diverged run) read as infinity."""
    last = losses[..., -1].astype(np.float64)
    return np.where(np.isfinite(last), last, np.inf)


def best_rate_index(steps: np.ndarray, final: np.ndarray) -> int:
    """The rate with the fewest steps to the target; ties and misses go to the lower final loss."""
    steps_key = np.where(steps > 0, steps, np.iinfo(np.int64).max)
    return int(np.lexsort((final, steps_key))[0])


def step_deltas(start: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Per-step parameter changes :math:`\\theta_t - \\theta_{t-1}`, shape ``(steps, 2)``."""
    return np.diff(np.concatenate([start[None], path]), axis=0)


def sign_changes(deltas: np.ndarray, axis: int) -> int:
    """How often the step along ``axis`` reverses direction."""
    signs = np.sign(deltas[:, axis])
    return int(np.sum(signs[1:] * signs[:-1] < 0))


def path_ratio(deltas: np.ndarray) -> float:
    """Path length divided by the straight distance from its first to its last point (1: a straight line)."""
    deltas = deltas.astype(np.float64)
    length = float(np.sum(np.linalg.norm(deltas, axis=1)))
    return length / float(np.linalg.norm(deltas.sum(axis=0)))


def steep_travel(deltas: np.ndarray, start: np.ndarray, minimum: Sequence[float], axis: int) -> float:
    """Distance travelled along ``axis`` in units of the start's offset from the minimum on that axis."""
    travel = float(np.sum(np.abs(deltas[:, axis].astype(np.float64))))
    return travel / abs(float(start[axis]) - minimum[axis])


def run_length(steps: int, cap: int) -> int:
    """Steps to analyse: until the target, or the whole capped run."""
    return steps if steps > 0 else cap


def run_measures(surface: Surface, start: np.ndarray, path: np.ndarray, losses: np.ndarray) -> dict:
    """Steps to the target, final loss and oscillation measures of one run (``path`` up to the cap).

    ``sign_changes_window`` and ``steep_travel_window`` cover the first
    :data:`OSCILLATION_WINDOW` steps; ``path_ratio`` the run until the target
    (or the cap). Oscillation measures are None for a run that diverged.
    """
    steps = int(steps_to_target(losses, surface.target_loss))
    deltas = step_deltas(start, path[:run_length(steps, surface.max_steps)])
    finite = bool(np.all(np.isfinite(deltas)))
    window = deltas[:OSCILLATION_WINDOW]
    steep = surface.steep_axis is not None and finite
    return {
        "steps": steps,
        "final_loss": float(final_loss(losses)),
        "sign_changes_window": sign_changes(window, surface.steep_axis) if steep else None,
        "steep_travel_window": (steep_travel(window, start, surface.minimum, surface.steep_axis)
                                if steep else None),
        "path_ratio": path_ratio(deltas) if finite else None,
    }


# ---------------------------------------------------------------------------
# The experiment


def analyse(contender: Contender, surfaces: Sequence[Surface], rates: np.ndarray,
            starts: Sequence[np.ndarray], path: np.ndarray, losses: np.ndarray) -> dict:
    """Tuned rate, steps, losses and oscillation measures of one contender on every surface."""
    result = {"label": contender.label, "rates": rates.tolist(), "surfaces": {}}
    for s, surface in enumerate(surfaces):
        cap = surface.max_steps
        loss = losses[s, :, :, :cap]
        steps = steps_to_target(loss, surface.target_loss)  # (rates, starts)
        final = final_loss(loss)
        best = best_rate_index(steps[:, 0], final[:, 0])
        length = run_length(int(steps[best, 0]), cap)
        deltas = step_deltas(starts[s][0], path[s, best, 0, :length])
        flips = sign_changes(deltas, surface.steep_axis) if surface.steep_axis is not None else None
        per_rate = [
            {"learning_rate": float(rates[r]),
             **run_measures(surface, starts[s][0], path[s, r, 0, :cap], loss[r, 0])}
            for r in range(len(rates))
        ]
        result["surfaces"][surface.name] = {
            "best_index": best,
            "learning_rate": float(rates[best]),
            "at_grid_edge": best in (0, len(rates) - 1),
            "steps": int(steps[best, 0]),
            "first_hit": int(first_hit(loss[best, 0], surface.target_loss)),
            "seed_steps": [int(v) for v in steps[best, 1:]],
            "final_loss": float(final[best, 0]),
            "sign_changes": flips,
            "sign_change_rate": None if flips is None else flips / max(length - 1, 1),
            "path_ratio": path_ratio(deltas),
            "path": path[s, best, 0, :length],
            "losses": loss[best, 0],
            "per_rate": per_rate,
        }
    return result


def _steps_text(steps: int, cap: int) -> str:
    return str(steps) if steps > 0 else f"> {cap}"


def _seed_text(seed_steps: Sequence[int], cap: int) -> str:
    reached = [float(v) for v in seed_steps if v > 0]
    if not reached:
        return f"> {cap} (all)"
    text = common.format_mean(reached, digits=1)
    missed = len(seed_steps) - len(reached)
    return text if not missed else f"{text}, {missed} > {cap}"


def table_rows(results: dict, surfaces: Sequence[Surface]) -> list[dict]:
    rows = []
    for name, result in results.items():
        row = {"optimizer": result["label"]}
        for surface in surfaces:
            r, cap = result["surfaces"][surface.name], surface.max_steps
            prefix = {"quadratic": "quad", "rosenbrock": "rosen"}.get(surface.name, surface.name)
            edge = " (edge)" if r["at_grid_edge"] else ""
            row[f"{prefix} lr"] = f"{r['learning_rate']:.3g}{edge}"
            row[f"{prefix} steps"] = _steps_text(r["steps"], cap)
            row[f"{prefix} steps, {len(r['seed_steps'])} starts"] = _seed_text(r["seed_steps"], cap)
            row[f"{prefix} final loss"] = f"{r['final_loss']:.2e}"
            if surface.steep_axis is not None:
                row[f"{prefix} y-step sign changes"] = (
                    f"{r['sign_changes']} ({r['sign_change_rate']:.2f}/step)")
            row[f"{prefix} path/dist"] = round(r["path_ratio"], 2)
        rows.append(row)
    return rows


def oscillation_rows(results: dict, surface: Surface, zigzag: dict) -> list[dict]:
    """GD, momentum and Nesterov at the same learning rates: every grid rate where one of them
    does not diverge, then the off-grid zig-zag rate."""
    names = [n for n in SAME_RATE if n in results]
    per_rate = {n: results[n]["surfaces"][surface.name]["per_rate"] for n in names}
    entries = [(f"{entry['learning_rate']:.3g}", [per_rate[n][i] for n in names])
               for i, entry in enumerate(per_rate[names[0]])]
    if zigzag:
        entries.append((f"{ZIGZAG_RATE:.3g} (off grid: 95% of GD's limit)", [zigzag[n] for n in names]))
    rows = []
    for label, cells in entries:
        if all(c["path_ratio"] is None for c in cells):
            continue
        row = {"learning rate": label}
        for key, column in (("sign_changes_window", "sign changes"), ("steep_travel_window", "y travel")):
            for n, c in zip(names, cells):
                value = c[key]
                row[f"{n} {column}"] = "diverged" if value is None else (
                    round(value, 2) if isinstance(value, float) else value)
        for n, c in zip(names, cells):
            row[f"{n} steps"] = _steps_text(c["steps"], surface.max_steps)
        rows.append(row)
    return rows


def _ranked(results: dict, surface: Surface) -> list[str]:
    entry = lambda n: results[n]["surfaces"][surface.name]
    return sorted(results, key=lambda n: (entry(n)["steps"] <= 0, entry(n)["steps"], entry(n)["final_loss"]))


def _stalled(losses: np.ndarray) -> bool:
    """Whether the loss at the end is no lower than half of the loss halfway (a floor, not slow progress)."""
    half, last = float(losses[len(losses) // 2 - 1]), float(losses[-1])
    return math.isfinite(half) and (not math.isfinite(last) or last >= 0.5 * half)


def main_finding(results: dict, surfaces: Sequence[Surface], num_seeds: int) -> str:
    parts = []
    for surface in surfaces:
        entry = lambda n: results[n]["surfaces"][surface.name]
        ranked = _ranked(results, surface)
        reached = [n for n in ranked if entry(n)["steps"] > 0]
        missed = [f"{results[n]['label']} (best final loss {entry(n)['final_loss']:.1e})"
                  for n in ranked if n not in reached]
        order = ", ".join(f"{results[n]['label']} {entry(n)['steps']}" for n in reached)
        text = (f"{surface.name.capitalize()} (target {surface.target_loss:g}, cap {surface.max_steps}), "
                f"steps at each optimizer's tuned rate: {order or 'none reached the target'}")
        if missed:
            text += f"; not reached at any rate: {', '.join(missed)}"
            stalled = [results[n]["label"] for n in ranked if n not in reached
                       and _stalled(entry(n)["losses"])]
            if stalled:
                text += (f" ({', '.join(stalled)}: loss no lower at the cap than at half of it, a floor "
                         "that a constant rate does not get below)")
        bounced = [f"{results[n]['label']} {entry(n)['first_hit']}" for n in reached
                   if 0 < entry(n)["first_hit"] < 0.9 * entry(n)["steps"]]
        if bounced:
            text += f"; first touch of the target well before settling: {', '.join(bounced)}"
        parts.append(text + ".")
    fragile = []
    for surface in surfaces:
        for n in results:
            r = results[n]["surfaces"][surface.name]
            missed = sum(v <= 0 for v in r["seed_steps"])
            reached = [v for v in r["seed_steps"] if v > 0]
            if r["steps"] > 0 and (missed or (reached and np.mean(reached) > 2 * r["steps"])):
                detail = (f"{missed} of {len(r['seed_steps'])} miss the cap" if missed
                          else "mean steps more than double")
                fragile.append(f"{results[n]['label']} on {surface.name} ({detail})")
    if fragile:
        parts.append("Tuned on the exact start, some rates are lucky; from the perturbed starts: "
                     + "; ".join(fragile) + ".")
    edges = [f"{results[n]['label']} ({s.name})" for n in results for s in surfaces
             if results[n]["surfaces"][s.name]["at_grid_edge"]]
    if edges:
        parts.append(f"Tuned rate at the end of its grid: {', '.join(edges)}.")
    parts.append(
        "The quadratic's valley lies along the axes, which favours the per-coordinate methods (RMSprop, "
        "Adam and relatives, AdaGrad): they rescale x and y separately. At a huge rate AdaGrad's first "
        "step is about lr along each axis; the gradients it then sees fill its accumulator so that "
        "lr / sqrt(G) is close to 1 / curvature, i.e. Newton's step.")
    parts.append(
        f"Both problems are deterministic (same start, same numbers); the spread is over "
        f"{num_seeds} randomly perturbed starts at the tuned rate.")
    return " ".join(parts)


def _span(values: Sequence[float]) -> str:
    return f"{values[0]:.3g}" if len(values) == 1 else f"{min(values):.3g} to {max(values):.3g}"


def _compare(at: dict, key: str, digits: int = 0) -> str:
    return ", ".join(f"{name} {at[name][key]:.{digits}f}" for name in SAME_RATE)


def oscillation_finding(results: dict, surfaces: Sequence[Surface], zigzag: dict) -> str:
    if not all(n in results for n in SAME_RATE):
        return "GD, momentum and Nesterov were not all run."
    quad = surfaces[0]
    gd = results["gd"]["surfaces"][quad.name]
    window = OSCILLATION_WINDOW
    text = (f"Measured on the {quad.name} (curvature {CONDITION_NUMBER:g} along y: GD's y-step overshoots "
            f"whenever lr > {1 / CONDITION_NUMBER:g}) over the first {window} steps: sign changes of the "
            f"y-step, and y travel = sum |dy| / |y0|.")
    for label, rate, at in (
        ("At GD's tuned rate", gd["learning_rate"],
         {n: results[n]["surfaces"][quad.name]["per_rate"][gd["best_index"]] for n in SAME_RATE}),
        ("Near GD's stability limit", ZIGZAG_RATE, zigzag),
    ):
        if not at or any(at[n]["steep_travel_window"] is None for n in SAME_RATE):
            continue
        steps = ", ".join(f"{n} {_steps_text(at[n]['steps'], quad.max_steps)}" for n in SAME_RATE)
        fewer = at["momentum"]["sign_changes_window"] < at["gd"]["sign_changes_window"]
        shorter = at["momentum"]["steep_travel_window"] < at["gd"]["steep_travel_window"]
        verdict = ("momentum damps the zig-zag: fewer reversals and less travel across the valley"
                   if fewer and shorter else
                   "momentum reverses less often but travels further across the valley: it trades GD's "
                   "fast, quickly shrinking zig-zag for a slower, wider swing" if fewer else
                   "momentum does not reduce the reversals here")
        text += (f" {label} ({rate:.3g}): sign changes {_compare(at, 'sign_changes_window')}; "
                 f"y travel {_compare(at, 'steep_travel_window', 2)}; steps {steps}: {verdict}.")
    damped, added = [], []
    momentum_rates = results["momentum"]["surfaces"][quad.name]["per_rate"]
    for gd_entry, momentum_entry in zip(gd["per_rate"], momentum_rates):
        g, m = gd_entry["sign_changes_window"], momentum_entry["sign_changes_window"]
        if g is not None and m is not None and m != g:
            (damped if m < g else added).append((gd_entry["learning_rate"], m))
    if added:
        text += (f" At the smaller grid rates {_span([r for r, _ in added])} GD's y never reverses while "
                 f"momentum's swings through the valley floor {min(m for _, m in added)} to "
                 f"{max(m for _, m in added)} times: momentum damps an oscillation that is there and adds "
                 f"a slow one where there was none.")
    if len(surfaces) > 1:
        rosen = surfaces[1]
        gd_rosen = results["gd"]["surfaces"][rosen.name]
        at = {n: results[n]["surfaces"][rosen.name]["per_rate"][gd_rosen["best_index"]] for n in SAME_RATE}
        ratio = lambda n: "diverged" if at[n]["path_ratio"] is None else f"{at[n]['path_ratio']:.2f}"
        text += (
            f" On {rosen.name} at GD's tuned rate {gd_rosen['learning_rate']:.3g}: path/distance "
            f"{ratio('gd')} (GD), {ratio('momentum')} (momentum), {ratio('nesterov')} (Nesterov); steps "
            f"{_steps_text(at['gd']['steps'], rosen.max_steps)}, "
            f"{_steps_text(at['momentum']['steps'], rosen.max_steps)}, "
            f"{_steps_text(at['nesterov']['steps'], rosen.max_steps)}.")
    return text


# ---------------------------------------------------------------------------
# Figures


def contour_grid(surface: Surface, points: int = 200):
    """``(x, y, loss)`` on a grid over ``surface.view``, in NumPy (the losses work on any array)."""
    (x_low, x_high), (y_low, y_high) = surface.view
    x, y = np.meshgrid(np.linspace(x_low, x_high, points), np.linspace(y_low, y_high, points))
    return x, y, np.asarray(surface.loss(np.stack([x, y])))


def _draw_surface(ax, surface: Surface, grid):
    x, y, z = grid
    levels = np.geomspace(max(z.min(), 1e-3), z.max(), 12)
    # Without antialiasing the PNG stays small: grey ramps along 20 panels of lines compress badly.
    ax.contour(x, y, z, levels=levels, colors="0.78", linewidths=0.6, antialiased=False)
    ax.plot(*surface.minimum, marker="*", color="k", markersize=9, zorder=5)
    ax.set_xlim(*surface.view[0])
    ax.set_ylim(*surface.view[1])


def _thin(points: np.ndarray, most: int = 1500) -> np.ndarray:
    """Every point of the first 200, then geometrically sparser ones (long runs crawl at the end)."""
    if len(points) <= most:
        return points
    tail = np.geomspace(200, len(points) - 1, most - 200).astype(int)
    return points[np.unique(np.concatenate([np.arange(200), tail, [len(points) - 1]]))]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_trajectories(path: str, results: dict, surfaces: Sequence[Surface], starts: Sequence[np.ndarray]):
    plt = _pyplot()
    names = list(results)
    columns = min(5, len(names))
    rows_per_surface = math.ceil(len(names) / columns)
    rows = rows_per_surface * len(surfaces)
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns, 2.6 * rows + 0.6), squeeze=False)
    for s, surface in enumerate(surfaces):
        grid = contour_grid(surface)
        for i, name in enumerate(names):
            ax = axes[s * rows_per_surface + i // columns, i % columns]
            r = results[name]["surfaces"][surface.name]
            _draw_surface(ax, surface, grid)
            trace = _thin(np.concatenate([starts[s][0][None], r["path"]]))
            dots = dict(marker=".", markersize=2) if len(trace) <= 300 else {}
            ax.plot(trace[:, 0], trace[:, 1], "-", color="C3", linewidth=0.7, **dots)
            ax.plot(*starts[s][0], "o", color="C0", markersize=4, zorder=6)
            steps = _steps_text(r["steps"], surface.max_steps)
            ax.set_title(f"{results[name]['label']}: lr {r['learning_rate']:.2g}, {steps} steps", fontsize=8)
            ax.tick_params(labelsize=7)
        for i in range(len(names), rows_per_surface * columns):
            axes[s * rows_per_surface + i // columns, i % columns].axis("off")
        axes[s * rows_per_surface, 0].set_ylabel(f"{surface.name}: y", fontsize=9)
    fig.suptitle("Each optimizer at its tuned learning rate, over loss contours "
                 "(start: blue dot, minimum: star; path until the target or the cap)", fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.04, top=1 - 0.7 / (2.6 * rows + 0.6),
                        wspace=0.22, hspace=0.38)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def plot_oscillation(path: str, results: dict, surfaces: Sequence[Surface], starts: Sequence[np.ndarray],
                     same_rate_paths: dict):
    """GD, momentum and Nesterov at equal rates (top), loss curves at the tuned rates (bottom).

    ``same_rate_paths[label][name]`` is the quadratic path of contender
    ``name`` at the equal rate called ``label``.
    """
    plt = _pyplot()
    quad = surfaces[0]
    grid = contour_grid(quad)
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    shown = 2 * OSCILLATION_WINDOW
    for column, (label, paths) in enumerate(same_rate_paths.items()):
        ax = axes[0, column]
        _draw_surface(ax, quad, grid)
        for i, (name, trace) in enumerate(paths.items()):
            trace = np.concatenate([starts[0][0][None], trace[:shown]])
            ax.plot(trace[:, 0], trace[:, 1], "-", marker=".", markersize=2, linewidth=0.8,
                    color=f"C{i}", label=results[name]["label"])
        ax.set_title(f"{quad.name}, first {shown} steps at lr {label}", fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
    for row, (label, paths) in enumerate(same_rate_paths.items()):
        ax = axes[row, 2]
        for i, (name, trace) in enumerate(paths.items()):
            ax.plot(np.arange(1, OSCILLATION_WINDOW + 1), trace[:OSCILLATION_WINDOW, 1], "-", marker=".",
                    markersize=2, linewidth=0.8, color=f"C{i}", label=results[name]["label"])
        ax.axhline(0, color="k", linewidth=0.5)
        ax.set_xlabel("step")
        ax.set_ylabel("y, the steep coordinate")
        ax.set_ylim(-1.1, 1.1)
        ax.set_title(f"y over the first {OSCILLATION_WINDOW} steps at lr {label}", fontsize=9)
        ax.legend(fontsize=8)
    for ax, surface in zip(axes[1], surfaces):
        for i, (name, result) in enumerate(results.items()):
            curve = result["surfaces"][surface.name]["losses"].astype(np.float64)
            curve = np.where(np.isfinite(curve), np.maximum(curve, 1e-30), np.nan)
            ax.plot(np.arange(1, len(curve) + 1), curve, linewidth=0.9, color=f"C{i % 10}",
                    label=result["label"])
        ax.axhline(surface.target_loss, color="k", linestyle=":", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(max(surface.target_loss * 1e-4, 1e-12), None)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"{surface.name}: loss at each optimizer's tuned lr (dotted: target)", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="a few seconds")
    p.add_argument("--budget", type=int, help="learning rates per optimizer (default 24, or 8 with --quick)")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    budget = args.budget or (8 if args.quick else 24)
    names = QUICK_CONTENDERS if args.quick else tuple(CONTENDERS)
    surfaces = list(SURFACES.values())
    if args.quick:
        surfaces = [s._replace(max_steps=min(s.max_steps, cap)) for s, cap in zip(surfaces, (600, 3000))]
    starts = [perturbed_starts(surface, num_seeds) for surface in surfaces]

    began = time.perf_counter()
    results, zigzag = {}, {}
    tuned_paths, zigzag_paths = {}, {}
    quad = surfaces[0]
    for name in names:
        contender = CONTENDERS[name]
        rates = np.asarray(sweep.loggrid(*contender.rates, budget).values(), np.float64)
        # The zig-zag rate rides along in the same compiled call; it takes no part in tuning.
        extra = [ZIGZAG_RATE] if name in SAME_RATE else []
        path, losses = run_grid(contender, surfaces, np.concatenate([rates, extra]), starts)
        results[name] = analyse(contender, surfaces, rates, starts,
                                path[:, :budget], losses[:, :budget])
        if extra:
            cap = quad.max_steps
            zigzag[name] = run_measures(quad, starts[0][0], path[0, -1, 0, :cap], losses[0, -1, 0, :cap])
            zigzag_paths[name] = path[0, -1, 0, : 2 * OSCILLATION_WINDOW]
            gd_best = results[SAME_RATE[0]]["surfaces"][quad.name]["best_index"]
            tuned_paths[name] = path[0, gd_best, 0, : 2 * OSCILLATION_WINDOW]
        print(f"{name}: {time.perf_counter() - began:.1f}s", flush=True)

    plot_trajectories(os.path.join(out, f"{NAME}.png"), results, surfaces, starts)
    gd_rate = results[SAME_RATE[0]]["surfaces"][quad.name]["learning_rate"]
    same_rate_paths = {f"{gd_rate:.3g} (GD's tuned)": tuned_paths,
                       f"{ZIGZAG_RATE:.3g} (95% of GD's limit)": zigzag_paths}
    plot_oscillation(os.path.join(out, f"{NAME}_oscillation.png"), results, surfaces, starts, same_rate_paths)

    settings = {
        "quick": args.quick,
        "learning_rates_per_optimizer": budget,
        "perturbed_starts": num_seeds,
        "momentum": MOMENTUM,
        "momentum_form": "averaged (ewa): v = b v + (1 - b) g, for momentum and nesterov",
        "selection": ("fewest steps to the target loss (reached and kept) from the unperturbed start; "
                      "ties and misses: lower final loss"),
        "oscillation_window": OSCILLATION_WINDOW,
        "surfaces": {s.name: {"minimum": s.minimum, "start": s.start, "target_loss": s.target_loss,
                              "max_steps": s.max_steps, "start_jitter": s.start_jitter} for s in surfaces},
        "rate_ranges": {n: CONTENDERS[n].rates for n in names},
        "seconds": round(time.perf_counter() - began, 1),
    }
    runs = {
        name: {
            "label": r["label"],
            **{s: {k: v for k, v in entry.items() if k not in ("path", "losses")}
               for s, entry in r["surfaces"].items()},
        }
        for name, r in results.items()
    }
    paths = common.write_results(
        out, NAME,
        title="Optimizers on an ill-conditioned quadratic and the Rosenbrock function",
        finding=main_finding(results, surfaces, num_seeds),
        rows=table_rows(results, surfaces),
        extra={"runs": runs},
        settings=settings,
    )
    oscillation = common.write_results(
        out, f"{NAME}_oscillation",
        title="Does momentum damp oscillation? GD, momentum and Nesterov at equal learning rates",
        finding=oscillation_finding(results, surfaces, zigzag),
        rows=oscillation_rows(results, quad, zigzag),
        extra={"zigzag_rate": ZIGZAG_RATE, "zigzag": zigzag},
        settings={**settings, "measure": f"over the first {OSCILLATION_WINDOW} steps: sign changes "
                                          "of the y-step, and y travel = sum |dy| / |y0|"},
    )
    return {"results": results, "paths": paths, "oscillation": oscillation, "out": out}


if __name__ == "__main__":
    main()
