r"""Question 3: how much do beta and bias correction change an exponentially weighted average?

The lecture smooths daily temperatures with :math:`v_t = \beta v_{t-1} + (1 -
\beta)\theta_t`: :math:`\beta = 0.5` follows the data closely (about 2 days),
0.9 averages about 10 days and 0.98 about 50, smoother but later. Started
from :math:`v_0 = 0`, the average begins near zero; dividing by :math:`1 -
\beta^t` (bias correction) makes it follow the data from the first day.

The data are ten years of daily temperatures in degrees Fahrenheit: a
seasonal sine (coldest on 15 January) plus independent Gaussian noise, drawn
from fixed keys (one per seed); the figure shows the first year. Ten years
rather than one because the lag of a slow sine is hard to pin down in noise.
Each series is smoothed with every beta, with and without correction, by
:func:`jaxdl.averages.smooth` under one ``jax.vmap`` over seeds and betas.
Measured per beta, over ``--seeds`` noise draws (mean ± sd):

- the lag: the shift (in days, refined between whole days by a parabola
  through the peak) that maximises the correlation between the corrected
  average and the noiseless signal, after a warm-up of five windows.
  It is compared with the window :math:`1/(1-\beta)`, with the mean age of
  the EWA's weights :math:`\beta/(1-\beta)` (the lag for slowly varying
  signals), and with the exact delay of a 365-day sine through the filter,
  :math:`\arctan(\beta \sin\omega / (1 - \beta\cos\omega))/\omega`,
  :math:`\omega = 2\pi/365`;
- the error against the noiseless signal (RMSE) over the first
  :math:`1/(1-\beta)` days, with and without correction, and after the
  warm-up.

Run ``python -m experiments.ewa`` (``--quick`` for a check in seconds,
``--help`` for the flags). Writes ``ewa.png``, ``ewa.md`` and ``ewa.json``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from experiments import common
from jaxdl.averages import effective_window, smooth

NAME = "ewa"
BETAS = (0.5, 0.9, 0.98)
DAYS_PER_YEAR = 365
YEARS = 10
MEAN_TEMPERATURE = 55.0  # degrees Fahrenheit
SEASONAL_AMPLITUDE = 20.0
COLDEST_DAY = 15
NOISE_SD = 6.0
WARMUP_WINDOWS = 5  # the lag and the settled RMSE skip the first 5 / (1 - beta) days
COLOURS = {0.5: "goldenrod", 0.9: "red", 0.98: "green"}  # the lecture's yellow, red and green


def seasonal_temperature(days: int) -> np.ndarray:
    """The noiseless signal for days 1, 2, ..., ``days``: coldest on day 15, period 365 days."""
    day = np.arange(1, days + 1)
    phase = 2 * np.pi * (day - COLDEST_DAY) / DAYS_PER_YEAR
    return (MEAN_TEMPERATURE - SEASONAL_AMPLITUDE * np.cos(phase)).astype(np.float32)


def noisy_temperatures(seed: int, days: int) -> np.ndarray:
    """The signal plus Gaussian noise (sd :data:`NOISE_SD`) drawn from ``jax.random.key(seed)``."""
    noise = NOISE_SD * jax.random.normal(jax.random.key(seed), (days,), jnp.float32)
    return seasonal_temperature(days) + np.asarray(noise)


@jax.jit
def smooth_all(series: jax.Array, betas: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Corrected and uncorrected averages of every series (rows) with every beta.

    Returns two arrays of shape ``(series, betas, days)``; ``betas`` is traced,
    so one compilation serves every beta.
    """

    def both(one_series, beta):
        return smooth(one_series, beta, True), smooth(one_series, beta, False)

    per_beta = jax.vmap(both, in_axes=(None, 0))
    return jax.vmap(per_beta, in_axes=(0, None))(series, betas)


def theoretical_lag(beta: float) -> float:
    r"""Mean age of the EWA's weights, :math:`\sum_k k (1-\beta)\beta^k = \beta / (1 - \beta)`."""
    return beta / (1 - beta)


def sine_delay(beta: float, period: float = DAYS_PER_YEAR) -> float:
    r"""Delay (days) of a sine of ``period`` days through the EWA: its phase lag over its frequency."""
    omega = 2 * math.pi / period
    return math.atan2(beta * math.sin(omega), 1 - beta * math.cos(omega)) / omega


def correlation_by_shift(smoothed: np.ndarray, clean: np.ndarray, start: int, max_shift: int) -> np.ndarray:
    """Correlation of ``smoothed[t]`` with ``clean[t - k]`` over ``t >= start``, for k = 0..max_shift."""
    target = smoothed[start:].astype(np.float64)
    days = len(smoothed)
    return np.array([np.corrcoef(target, clean[start - k: days - k].astype(np.float64))[0, 1]
                     for k in range(max_shift + 1)])


def peak_shift(correlation: np.ndarray) -> float:
    """The shift of the maximum, refined by a parabola through it and its two neighbours."""
    best = int(np.argmax(correlation))
    if 0 < best < len(correlation) - 1:
        left, middle, right = correlation[best - 1: best + 2]
        curvature = left - 2 * middle + right
        if curvature < 0:
            return best + 0.5 * (left - right) / curvature
    return float(best)


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    difference = estimate.astype(np.float64) - truth.astype(np.float64)
    return float(np.sqrt(np.mean(difference**2)))


def measure(betas: Sequence[float], corrected: np.ndarray, uncorrected: np.ndarray,
            clean: np.ndarray) -> dict:
    """Lags, correlation curves and errors per beta; arrays are ``(seeds, betas, days)``."""
    out = {}
    for b, beta in enumerate(betas):
        window = float(effective_window(beta))
        first = round(window)
        max_shift = math.ceil(3 * window) + 5
        start = max(math.ceil(WARMUP_WINDOWS * window), max_shift)
        curves = np.stack([correlation_by_shift(c[b], clean, start, max_shift) for c in corrected])
        out[beta] = {
            "window": window,
            "first_days": first,
            "warmup_days": start,
            "lags": [peak_shift(curve) for curve in curves],
            "correlation": curves.mean(axis=0),
            "rmse_first_corrected": [rmse(c[b, :first], clean[:first]) for c in corrected],
            "rmse_first_uncorrected": [rmse(u[b, :first], clean[:first]) for u in uncorrected],
            "rmse_settled": [rmse(c[b, start:], clean[start:]) for c in corrected],
        }
    return out


def first_day_check(betas: Sequence[float], data: np.ndarray, corrected: np.ndarray,
                    uncorrected: np.ndarray) -> dict:
    """Day 1 of seed 0: the data point, and the corrected and uncorrected averages for each beta."""
    theta = float(data[0])
    return {
        "data": theta,
        "corrected": {str(beta): float(corrected[b, 0]) for b, beta in enumerate(betas)},
        "uncorrected": {str(beta): float(uncorrected[b, 0]) for b, beta in enumerate(betas)},
        "expected_uncorrected": {str(beta): (1 - beta) * theta for beta in betas},
        "corrected_relative_error": {
            str(beta): abs(float(corrected[b, 0]) - theta) / abs(theta) for b, beta in enumerate(betas)
        },
    }


def finding(betas: Sequence[float], measured: dict, check: dict, num_seeds: int) -> str:
    lag = {beta: common.mean_spread(measured[beta]["lags"])[0] for beta in betas}
    lags = ", ".join(f"{beta}: {lag[beta]:.1f}" for beta in betas)
    theory = ", ".join(f"{theoretical_lag(beta):.0f}" for beta in betas)
    windows = ", ".join(f"{effective_window(beta):.0f}" for beta in betas)
    sines = ", ".join(f"{sine_delay(beta):.1f}" for beta in betas)
    off = [beta for beta in betas
           if abs(lag[beta] - sine_delay(beta)) < abs(lag[beta] - theoretical_lag(beta)) - 1]
    text = (f"Measured lag in days (mean over {num_seeds} noise seeds) {lags}; beta/(1-beta) gives {theory}, "
            f"the window 1/(1-beta) {windows}, the delay of a 365-day sine through the filter {sines}.")
    if off:
        text += (f" For beta {', '.join(str(b) for b in off)} the lag is clearly below beta/(1-beta) and "
                 f"matches the sine's delay: beta/(1-beta) is the lag of a signal that changes slowly "
                 f"over the window, and a 1/(1-beta)-day window is not short against a season "
                 f"({DAYS_PER_YEAR / (2 * math.pi):.0f} days per radian).")
    worst = max(betas)
    rmse_c = common.mean_spread(measured[worst]["rmse_first_corrected"])[0]
    rmse_u = common.mean_spread(measured[worst]["rmse_first_uncorrected"])[0]
    error = max(check["corrected_relative_error"].values())
    text += (f" Bias correction: over the first {measured[worst]['first_days']} days of beta {worst} the "
             f"error against the clean signal is {rmse_u:.1f} F uncorrected (it starts at "
             f"{check['uncorrected'][str(worst)]:.2f} F from a first reading of {check['data']:.2f} F) and "
             f"{rmse_c:.1f} F corrected; the corrected v_1 equals the first reading "
             + ("exactly" if error == 0 else f"to float32 rounding (relative error up to {error:.1e})")
             + ".")
    settled = {beta: common.mean_spread(measured[beta]["rmse_settled"])[0] for beta in betas}
    best = min(settled, key=settled.get)
    text += (" After the warm-up the error is " + ", ".join(f"{settled[b]:.2f}" for b in betas)
             + f" F for beta {', '.join(str(b) for b in betas)}: beta {best} balances noise and lag best "
             "here.")
    return text


def plot(path: str, betas: Sequence[float], data: np.ndarray, clean: np.ndarray, corrected: np.ndarray,
         uncorrected: np.ndarray, measured: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(14, 9))
    top = fig.add_subplot(2, 1, 1)
    left, right = fig.add_subplot(2, 2, 3), fig.add_subplot(2, 2, 4)
    year = np.arange(1, DAYS_PER_YEAR + 1)
    top.plot(year, data[:DAYS_PER_YEAR], ".", color="tab:blue", markersize=3, alpha=0.6,
             label="daily temperature")
    top.plot(year, clean[:DAYS_PER_YEAR], "--", color="k", linewidth=0.8, label="noiseless signal")
    for b, beta in enumerate(betas):
        top.plot(year, corrected[b, :DAYS_PER_YEAR], color=COLOURS.get(beta, f"C{b}"), linewidth=1.4,
                 label=f"beta {beta} (about {effective_window(beta):.0f} days), corrected")
    top.plot(year, uncorrected[-1, :DAYS_PER_YEAR], color="darkviolet", linewidth=1.4,
             label=f"beta {betas[-1]}, uncorrected")
    top.set_xlabel("day of the year")
    top.set_ylabel("temperature (F)")
    top.set_title("Exponentially weighted averages of a noisy daily series (first year of seed 0)")
    top.legend(fontsize=8, ncol=2, loc="upper left")

    shown = 60
    days = np.arange(1, shown + 1)
    left.plot(days, data[:shown], ".", color="tab:blue", markersize=4, alpha=0.6, label="data")
    left.plot(days, clean[:shown], "--", color="k", linewidth=0.8)
    for b, beta in enumerate(betas):
        colour = COLOURS.get(beta, f"C{b}")
        left.plot(days, corrected[b, :shown], color=colour, linewidth=1.4, label=f"beta {beta} corrected")
        left.plot(days, uncorrected[b, :shown], ":", color=colour, linewidth=1.4,
                  label=f"beta {beta} uncorrected")
    left.set_xlabel("day")
    left.set_ylabel("temperature (F)")
    left.set_title(f"The first {shown} days: without correction the average starts near 0")
    left.legend(fontsize=7, ncol=2)

    for b, beta in enumerate(betas):
        colour = COLOURS.get(beta, f"C{b}")
        m = measured[beta]
        curve = m["correlation"]
        right.plot(np.arange(len(curve)), curve, color=colour, linewidth=1.2, label=f"beta {beta}")
        lag = common.mean_spread(m["lags"])[0]
        right.axvline(lag, color=colour, linewidth=0.8)
        right.axvline(theoretical_lag(beta), color=colour, linestyle="--", linewidth=0.8)
        right.axvline(sine_delay(beta), color=colour, linestyle=":", linewidth=1.0)
    right.set_ylim(0.8, 1.0)
    right.set_xlim(0, 2 * effective_window(max(betas)))
    right.set_xlabel("shift k (days)")
    right.set_ylabel("corr(average[t], signal[t - k])")
    right.set_title("Lag: peak of the correlation (solid), beta/(1-beta) (dashed), sine delay (dotted)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict:
    p = common.parser(NAME, __doc__.split("\n\n")[0].strip(), quick="a few seconds")
    args = p.parse_args(argv)
    out = common.output_dir(args, NAME)
    num_seeds = common.seeds(args)
    began = time.perf_counter()

    days = YEARS * DAYS_PER_YEAR
    clean = seasonal_temperature(days)
    data = np.stack([noisy_temperatures(seed, days) for seed in range(num_seeds)])
    averages = smooth_all(jnp.asarray(data), jnp.asarray(BETAS, jnp.float32))
    corrected, uncorrected = (np.asarray(a) for a in averages)
    measured = measure(BETAS, corrected, uncorrected, clean)
    check = first_day_check(BETAS, data[0], corrected[0], uncorrected[0])
    plot(os.path.join(out, f"{NAME}.png"), BETAS, data[0], clean, corrected[0], uncorrected[0], measured)

    rows = []
    for beta in BETAS:
        m = measured[beta]
        rows.append({
            "beta": beta,
            "window 1/(1-beta)": round(m["window"], 1),
            "measured lag (days)": common.format_mean(m["lags"], digits=2),
            "beta/(1-beta)": round(theoretical_lag(beta), 2),
            "365-day sine delay": round(sine_delay(beta), 2),
            "RMSE first window, corrected": common.format_mean(m["rmse_first_corrected"], digits=2),
            "RMSE first window, uncorrected": common.format_mean(m["rmse_first_uncorrected"], digits=2),
            "RMSE after warm-up": common.format_mean(m["rmse_settled"], digits=2),
        })
    settings = {
        "quick": args.quick,
        "seeds": num_seeds,
        "days": days,
        "signal": (f"{MEAN_TEMPERATURE} - {SEASONAL_AMPLITUDE} cos(2 pi (day - {COLDEST_DAY}) / "
                   f"{DAYS_PER_YEAR}) F"),
        "noise_sd": NOISE_SD,
        "betas": BETAS,
        "first_window_days": {str(b): measured[b]["first_days"] for b in BETAS},
        "warmup_days": {str(b): measured[b]["warmup_days"] for b in BETAS},
        "lag": "shift maximising the correlation of the corrected average with the noiseless signal",
        "seconds": round(time.perf_counter() - began, 1),
    }
    extra = {
        "first_day": check,
        "per_seed": {str(b): {k: v for k, v in measured[b].items() if k != "correlation"} for b in BETAS},
        "correlation_by_shift": {str(b): measured[b]["correlation"] for b in BETAS},
    }
    paths = common.write_results(
        out, NAME,
        title="Exponentially weighted averages: lag and bias correction",
        finding=finding(BETAS, measured, check, num_seeds),
        rows=rows,
        extra=extra,
        settings=settings,
    )
    return {"measured": measured, "first_day": check, "paths": paths, "out": out}


if __name__ == "__main__":
    main()
