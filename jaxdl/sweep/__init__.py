"""Vmapped hyperparameter sweeps.

One module per job: :mod:`~jaxdl.sweep.distributions` (what values are
drawn from), :mod:`~jaxdl.sweep.space` (the space and its validation),
:mod:`~jaxdl.sweep.plans` (trials, plans, static groups, chunks),
:mod:`~jaxdl.sweep.strategies` (how trials are proposed, stage by stage),
:mod:`~jaxdl.sweep.config` (TOML), :mod:`~jaxdl.sweep.engine` (the compiled
population runs), :mod:`~jaxdl.sweep.store` (the run directory) and
:mod:`~jaxdl.sweep.report` (tables and figures).
"""

from jaxdl.sweep.config import load_config
from jaxdl.sweep.distributions import (MAX_TRIALS, choice, distribution_from_spec, grid, int_uniform, loggrid,
                                       loguniform, uniform)
from jaxdl.sweep.engine import (
    MODES,
    SweepResult,
    auto_chunk_size,
    auto_mode,
    default_parts,
    estimate_trial_bytes,
    group_config,
    population_program,
    run_in_parts,
    run_sweep,
    slice_length,
)
from jaxdl.sweep.plans import Chunk, Group, Plan, Trial, chunk_group, grid_plan, plan_chunks, random_plan
from jaxdl.sweep.space import Space, validate
from jaxdl.sweep.store import PlanMismatchError, RunStore, summarize
from jaxdl.sweep.strategies import (REQUIRED, Setting, Stage, Strategy, build_plan, halving_plan, halving_rungs,
                                    rank_trials, strategy_names, successive_halving)

__all__ = [
    "MAX_TRIALS",
    "MODES",
    "REQUIRED",
    "Chunk",
    "Group",
    "Plan",
    "PlanMismatchError",
    "RunStore",
    "Setting",
    "Space",
    "Stage",
    "Strategy",
    "SweepResult",
    "Trial",
    "auto_chunk_size",
    "auto_mode",
    "build_plan",
    "choice",
    "chunk_group",
    "default_parts",
    "distribution_from_spec",
    "estimate_trial_bytes",
    "grid",
    "grid_plan",
    "group_config",
    "halving_plan",
    "halving_rungs",
    "int_uniform",
    "load_config",
    "loggrid",
    "loguniform",
    "plan_chunks",
    "population_program",
    "random_plan",
    "rank_trials",
    "run_in_parts",
    "run_sweep",
    "slice_length",
    "strategy_names",
    "successive_halving",
    "summarize",
    "uniform",
    "validate",
]
