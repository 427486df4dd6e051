"""Sweep configurations in TOML: a ``[space]``, a ``[sweep]`` and an optional ``[data]`` table.

The ``[sweep]`` table takes the settings every sweep has (:data:`COMMON_SETTINGS`)
and those of its strategy (``Strategy.settings`` of
:mod:`jaxdl.sweep.strategies`); a setting another strategy takes is an error,
so every setting that is accepted is honoured. Every problem is reported at
once, naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from typing import Any

from jaxdl.sweep import selection, strategies
from jaxdl.sweep.distributions import Choice, _is_int, _is_number, choice, distribution_from_spec
from jaxdl.sweep.space import Space, _optional_keys, _raise_problems
from jaxdl.sweep.strategies import Setting
from jaxdl.train import _freeze

__all__ = ["COMMON_SETTINGS", "DATA_KEYS", "sweep_keys", "load_config"]


def _seed_check(value: Any) -> str | None:
    return None if _is_int(value) and 0 <= value < 2**63 else f"must be an integer in [0, 2**63), got {value!r}"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {value!r}"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _count(value: Any) -> str | None:
    return None if _is_int(value) and value >= 1 else f"must be a positive integer, got {value!r}"


def _selection(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string such as 'max val_accuracy where latency_ms <= 100', got {value!r}"
    try:
        selection.parse(value)
    except ValueError as error:
        return str(error)
    return None


COMMON_SETTINGS: dict[str, Setting] = {
    "strategy": Setting("random", _string, "the search strategy"),
    "seeds": Setting(1, _count, "trials per configuration"),
    "seed": Setting(0, _seed_check, "seed of the strategy's draws"),
    "metric": Setting(None, _string, "validation metric to select by"),
    "maximize": Setting(None, _boolean, "whether a larger metric is better (default: the metric's direction)"),
    "select": Setting(None, _selection, "the metric and satisficing constraints, "
                                        "'[max|min] METRIC where NAME OP NUMBER and ...' (instead of metric)"),
    "chunk_size": Setting(None, _count, "trials per compiled call"),
    "keep": Setting(1, _count, "best configurations that keep their weights"),
}
"""Settings of every ``[sweep]`` table, whatever the strategy."""

DATA_KEYS: tuple[str, ...] = ("file", "target", "task")
"""Keys a ``[data]`` table may hold: a ``.npz`` or ``.csv`` file (relative to the TOML file), its target column, the task."""

_TOP_LEVEL = ("import", "space", "sweep", "data")


def sweep_keys() -> frozenset[str]:
    """Every key some ``[sweep]`` table may hold: the common settings and every registered strategy's."""
    keys = set(COMMON_SETTINGS)
    for name in strategies.strategy_names():
        keys |= set(strategies.get(name).settings)
    return frozenset(keys)


def _settings(sweep: dict) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The problems of a ``[sweep]`` table, and its settings with the strategy's defaults filled in."""
    problems = []
    name = sweep.get("strategy", "random")
    known = strategies.strategy_names()
    if name not in known:
        from jaxdl import registry

        problems.append(("sweep.strategy", f"unknown strategy {name!r}{registry.did_you_mean(name, known)}"))
        own = {}
    else:
        own = strategies.get(name).settings
    allowed = {**COMMON_SETTINGS, **own}
    every = sweep_keys()
    for key in sorted(sweep):
        if key not in allowed:
            if key in every:
                takers = sorted(n for n in known if key in strategies.get(n).settings)
                message = f"not a setting of strategy {name!r} (it is one of {', '.join(takers)})"
            else:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                message = "unknown setting" + (f"; did you mean {close[0]!r}?" if close else "")
            problems.append((f"sweep.{key}", message))
            continue
        message = allowed[key].check(sweep[key])
        if message:
            problems.append((f"sweep.{key}", message))
    if "select" in sweep and ("metric" in sweep or "maximize" in sweep):
        problems.append(("sweep.select", "give select or metric/maximize, not both (select names the metric)"))
    for key, setting in own.items():
        if setting.required and key not in sweep:
            problems.append((f"sweep.{key}", f"required by strategy {name!r}"))
    settings = {"strategy": name, "seed": 0}
    settings.update({k: s.default for k, s in own.items() if not s.required})
    settings.update({k: v for k, v in sweep.items() if k != "seeds"})
    return problems, settings


def _space_value(key: str, raw: Any) -> Any:
    """One ``[space]`` entry: a table is a distribution, anything else a fixed value."""
    optional = _optional_keys()
    if isinstance(raw, dict):
        spec = distribution_from_spec(raw)
        if key in optional and isinstance(spec, Choice):
            return choice(*(None if v == "none" else v for v in spec.values()))
        return spec
    if key in optional and raw == "none":
        return None
    return _freeze(raw)


def load_config(
    path: str | os.PathLike,
    static_keys: frozenset[str] | None = None,
    dynamic_keys: frozenset[str] | None = None,
) -> tuple[Space, dict[str, Any]]:
    """Read a sweep configuration from TOML: a ``[space]`` and a ``[sweep]`` table.

    Example::

        [space]
        activation = {choice = ["relu", "elu"]}
        hidden = {choice = [[64], [128, 64]]}
        learning_rate = {loguniform = [1e-4, 1e-1]}
        dropout_rate = {uniform = [0.0, 0.5]}
        batch_norm = {choice = ["none", "before"]}   # "none" is None
        epochs = 20

        [sweep]
        strategy = "random"      # any of jaxdl.sweep.strategy_names()
        num_samples = 32
        seeds = 2
        seed = 0

    Returns:
      ``(space, settings)``: ``settings`` is the ``[sweep]`` table without
      ``seeds`` (which the space holds), with ``strategy`` defaulting to
      ``"random"``, ``seed`` to 0 and the strategy's other settings to their
      defaults (:data:`Strategy.settings <jaxdl.sweep.strategies.Strategy.settings>`).
      Pass both to :func:`~jaxdl.sweep.strategies.build_plan`.

    Raises:
      ValueError: malformed TOML or any bad entry; the message names the
        file and the key (all of them, at once, for the ``[space]`` checks).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    unknown_tables = sorted(set(document) - set(_TOP_LEVEL))
    if unknown_tables:
        raise ValueError(f"{path}: unknown top-level key(s) {unknown_tables}; expected {', '.join(_TOP_LEVEL)}")
    imports = document.get("import", [])
    if isinstance(imports, str):
        imports = [imports]
    if not (isinstance(imports, list) and all(isinstance(i, str) for i in imports)):
        raise ValueError(f"{path}: import must be a list of module names or .py files, got {imports!r}")
    from jaxdl import registry

    # User code registers its pieces before anything below is validated.
    registry.load_plugins(imports, base=os.path.dirname(os.path.abspath(path)))
    data = document.get("data", {})
    if not isinstance(data, dict) or set(data) - set(DATA_KEYS):
        extra = sorted(set(data) - set(DATA_KEYS)) if isinstance(data, dict) else data
        raise ValueError(f"{path}: [data] takes {', '.join(DATA_KEYS)}; got {extra!r}")
    if "file" in data:
        data = {**data, "file": os.path.join(os.path.dirname(os.path.abspath(path)), data["file"])}
    if not isinstance(document.get("space"), dict):
        raise ValueError(f"{path}: needs a [space] table mapping names to values or distributions")
    sweep = document.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ValueError(f"{path}: 'sweep' must be a table")

    problems, settings = _settings(sweep)
    params, when = {}, {}
    for key, raw in document["space"].items():
        if key == "when":
            if not (isinstance(raw, dict) and all(isinstance(t, dict) and all(isinstance(v, dict) for v in t.values())
                                                  for t in raw.values())):
                problems.append(("space.when", "write conditional tables as [space.when.<static key>.<value>]"))
                continue
            for static, tables in raw.items():
                for value, table in tables.items():
                    for name, entry in table.items():
                        try:
                            when.setdefault(static, {}).setdefault(value, {})[name] = _space_value(name, entry)
                        except (ValueError, TypeError) as error:
                            problems.append((f"space.when.{static}.{value}.{name}", str(error)))
            continue
        try:
            params[key] = _space_value(key, raw)
        except (ValueError, TypeError) as error:
            problems.append((f"space.{key}", str(error)))
    if problems:
        _raise_problems(problems, f"config {path}")
    try:
        space = Space(params, seeds=sweep.get("seeds", 1), static_keys=static_keys, dynamic_keys=dynamic_keys,
                      when=when)
    except ValueError as error:
        raise ValueError(f"{path}: [space]: {error}") from None
    if data:
        settings["data"] = data
    return space, settings
