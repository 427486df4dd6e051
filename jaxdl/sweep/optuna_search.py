"""Bayesian batch search through Optuna: ask a batch, train it as vmapped programs, tell, repeat.

``strategy = "optuna"`` (``pip install 'jaxdl[optuna]'``) asks Optuna's
sampler for ``batch`` configurations, trains them as one stage (grouped by
their static values, each group one compiled, vmapped program), tells Optuna
each configuration's mean ``final.<metric>`` over its seeds (a configuration
whose every seed diverged is told as failed), and asks again until
``num_samples`` configurations have been tried. The samplers are Optuna's
(``"tpe"``: :class:`optuna.samplers.TPESampler` with its constant liar, so a
batch spreads out; ``"cmaes"``, ``"random"``, ``"qmc"``); jaxdl writes none.

The study lives in Optuna's ``RDBStorage`` as ``optuna.db`` (SQLite) in the
run directory, so a killed sweep rerun with the same command resumes the
study. Each batch's sampler is seeded from the plan's seed and the batch's
index, and a batch asked only in part when the run was killed is marked
failed and asked again, so a resumed run asks, trains and tells exactly what
an uninterrupted one would (TPE, random and QMC: their draws depend only on
the finished trials and the seed).

Search-space mapping (define-by-run, so ``when`` tables become Optuna's
conditional parameters): ``choice``/``grid``/``loggrid`` are categorical
(tuples, such as widths, by their JSON text), ``uniform`` and
``loguniform`` are floats on ``[low, high)`` (log-scaled for the latter),
``int_uniform`` is an integer on ``[low, high]``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any, Mapping

import numpy as np

from jaxdl.sweep.distributions import Choice, Distribution, IntUniform, LogUniform, Uniform
from jaxdl.sweep.plans import Plan, Trial
from jaxdl.sweep.space import Space, _jsonable, _when_key, validate
from jaxdl.sweep.strategies import REQUIRED, Setting, Stage, Strategy, _positive_int, _register, _stage_seed

__all__ = ["SAMPLERS", "OptunaSearch", "require_optuna"]

SAMPLERS = ("tpe", "cmaes", "random", "qmc")
STUDY_FILE = "optuna.db"
_CONFIGURATION = "jaxdl_configuration"  # user attribute: the configuration number a trial stands for
_DISCARDED = "jaxdl_discarded"


def require_optuna():
    """The ``optuna`` module, or an ``ImportError`` that names the extra to install."""
    try:
        import optuna
    except ImportError:
        raise ImportError("strategy 'optuna' needs Optuna: pip install 'jaxdl[optuna]'") from None
    return optuna


def _sampler_name(value: Any) -> str | None:
    return None if value in SAMPLERS else f"must be one of {', '.join(SAMPLERS)}, got {value!r}"


def _encode(value: Any) -> Any:
    """A choice as Optuna can store it: None, bool, int, float and str as they are, others as JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(_jsonable(value))


def _suggest(trial, name: str, spec: Any) -> Any:
    """``trial.suggest_*`` for one entry of the space (a fixed value is returned as it is)."""
    if not isinstance(spec, Distribution):
        return spec
    if isinstance(spec, Choice) or spec.enumerable:
        options = list(spec.values())
        chosen = trial.suggest_categorical(name, [_encode(v) for v in options])
        return options[[_encode(v) for v in options].index(chosen)]
    if isinstance(spec, IntUniform):
        return int(trial.suggest_int(name, spec.low, spec.high))
    if isinstance(spec, (Uniform, LogUniform)):
        high = float(np.nextafter(spec.high, spec.low))  # the space's ranges exclude their upper end
        return float(trial.suggest_float(name, spec.low, high, log=isinstance(spec, LogUniform)))
    raise TypeError(f"{name}: Optuna cannot sample {type(spec).__name__}")


def _configuration(trial, space: Space) -> dict[str, Any]:
    """One configuration drawn through an Optuna trial, conditional entries after the keys they depend on."""
    config = {name: _suggest(trial, name, spec) for name, spec in space.params.items()}
    for key, tables in space.when.items():
        for name, spec in tables.get(_when_key(config[key]), {}).items():
            config[name] = _suggest(trial, name, spec)
    return dict(sorted(config.items()))


@_register
class OptunaSearch(Strategy):
    """Batches of configurations asked from an Optuna sampler, each batch one stage (see the module docstring)."""

    name = "optuna"
    settings = {
        "num_samples": Setting(REQUIRED, _positive_int, "configurations to try in all"),
        "batch": Setting(8, _positive_int, "configurations asked, trained and told together"),
        "sampler": Setting("tpe", _sampler_name, f"the Optuna sampler: {', '.join(SAMPLERS)}"),
    }

    def __init__(self, plan, metric="val_accuracy", maximize=True, directory=None):
        super().__init__(plan, metric, maximize, directory)
        require_optuna()
        info = plan.info
        self.space = Space.from_spec(info["space"])
        self.total, self.batch, self.sampler = info["num_samples"], info["batch"], info["sampler"]
        self.seed = int(info["seed"])
        self.study = None

    @classmethod
    def make_plan(cls, space, settings, known=None):
        require_optuna()
        validate(space, known)
        info = {"strategy": cls.name, "num_samples": settings["num_samples"], "batch": settings["batch"],
                "sampler": settings["sampler"], "seed": settings["seed"], "space": space.to_spec()}
        return Plan((), info)

    # -- the study ----------------------------------------------------------

    def _make_sampler(self, batch: int):
        optuna = require_optuna()
        seed = int(_stage_seed(self.seed, batch, self.name).integers(2**31))
        if self.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        if self.sampler == "cmaes":
            try:
                return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
            except ImportError:
                raise ImportError("sampler 'cmaes' needs the cmaes package: pip install 'jaxdl[optuna]'") from None
        if self.sampler == "qmc":  # one scrambled sequence for the whole study: its seed must not change
            return optuna.samplers.QMCSampler(seed=self.seed % 2**31, scramble=True, warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
        return optuna.samplers.RandomSampler(seed=seed)

    def _open(self, batch: int):
        optuna = require_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.study is None:
            if self.directory is None:
                storage = optuna.storages.InMemoryStorage()
            else:
                storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.join(self.directory, STUDY_FILE)}")
            self.study = optuna.create_study(storage=storage, study_name="jaxdl", load_if_exists=True,
                                             direction="maximize" if self.maximize else "minimize")
        self.study.sampler = self._make_sampler(batch)
        return self.study

    def _asked(self) -> dict[int, Any]:
        """The study's live trials by configuration number (discarded ones left out)."""
        return {t.user_attrs[_CONFIGURATION]: t for t in self.study.get_trials(deepcopy=False)
                if _CONFIGURATION in t.user_attrs and not t.user_attrs.get(_DISCARDED)}

    # -- stages ---------------------------------------------------------------

    def _stage(self, index: int) -> Stage:
        optuna = require_optuna()
        study = self._open(index)
        numbers = range(index * self.batch, min((index + 1) * self.batch, self.total))
        asked = self._asked()
        if not all(n in asked for n in numbers):
            # Asked in part when the run stopped: ask the whole batch again, as an uninterrupted run did.
            for n in numbers:
                if n in asked:
                    study._storage.set_trial_user_attr(asked[n]._trial_id, _DISCARDED, True)
                    study.tell(asked[n].number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            asked = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                for n in numbers:
                    trial = study.ask()
                    trial.set_user_attr(_CONFIGURATION, n)
                    _configuration(trial, self.space)
            asked = self._asked()
        trials = []
        for n in numbers:
            config = _configuration(optuna.trial.FixedTrial(asked[n].params), self.space)
            static = {k: v for k, v in config.items() if self.space.is_static(k)}
            dynamic = {k: float(v) for k, v in config.items() if not self.space.is_static(k)}
            trials += [Trial(n * self.space.seeds + s, static, dynamic, s) for s in range(self.space.seeds)]
        return Stage(index, Plan(tuple(trials), self.plan.info), prefix=f"s{index}-",
                     info={"optuna_trials": [asked[n].number for n in numbers], "sampler": self.sampler})

    def first(self) -> Stage:
        return self._stage(0)

    def next(self, stage, records):
        optuna = require_optuna()
        study = self._open(stage.index)
        asked = self._asked()
        mine = {r["id"]: r for r in records if r.get("stage", 0) == stage.index}
        seeds = self.space.seeds
        for n in sorted({i // seeds for i in mine}):
            trial = asked[n]
            if trial.state != optuna.trial.TrialState.RUNNING:
                continue  # told before the run stopped
            scores = [self.score(mine[n * seeds + s]) for s in range(seeds) if n * seeds + s in mine]
            finite = [v for v in scores if math.isfinite(v)]
            if finite:
                study.tell(trial.number, float(np.mean(finite)))
            else:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        if (stage.index + 1) * self.batch >= self.total:
            return None
        return self._stage(stage.index + 1)

    def close(self) -> None:
        if self.study is not None and hasattr(self.study._storage, "engine"):
            self.study._storage.engine.dispose()
        self.study = None

    def best(self) -> Mapping[str, Any] | None:
        """Optuna's best trial of the study as ``{"number", "value", "params"}`` (``None`` before any is told)."""
        study = self._open(0)
        try:
            trial = study.best_trial
        except ValueError:
            return None
        return {"number": trial.number, "value": trial.value, "params": trial.params}
