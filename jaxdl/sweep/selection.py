"""Satisficing selection: one metric to optimise, constraints to satisfy.

Lecture 003's rule for choosing among models: optimise one metric, and
require every other to be merely good enough. Among classifiers A (90 %,
80 ms), B (92 %, 95 ms) and C (95 %, 1,500 ms), "maximise accuracy subject to
a running time of at most 100 ms" picks B, although C is the most accurate.
In jaxdl that reads::

    max val_accuracy where latency_ms <= 100 and params <= 50000

The direction word (``max``/``min``) is optional; without it the metric's
direction comes from the metric table (:func:`jaxdl.metrics.maximize`). A
constraint is ``NAME OP NUMBER`` with ``OP`` one of ``<=``, ``<``, ``>=``,
``>``; ``NAME`` is a validation or training metric of the records
(``val_loss``, ``train_accuracy`` ...) or a number every record carries:
``params`` (trainable parameters), ``latency_ms`` and ``latency_ms_256``
(forward-pass milliseconds at batch 1 and 256, measured on the device that
ran the sweep), ``wall_time``, ``epochs_run``. Test metrics are held out:
neither the metric nor a constraint may name one.

A configuration's value of a constraint is its mean over the seeds that did
not diverge, as its score is. Configurations that meet every constraint are
ranked by the metric; the others follow, closest first, where the distance
is the sum of each constraint's excess relative to its bound.

>>> selection = parse("max val_accuracy where latency_ms <= 100 and params <= 5e4")
>>> selection.metric, selection.maximize, [str(c) for c in selection.constraints]
('val_accuracy', True, ['latency_ms <= 100', 'params <= 50000'])
"""

from __future__ import annotations

import math
import operator
import re
from typing import Any, Callable, Mapping, NamedTuple, Sequence

__all__ = ["Constraint", "Selection", "known_names", "parse", "parse_constraint", "record_value"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*(\S+)\s*$")
_HEAD = re.compile(r"^\s*(?:(max|min|maximize|minimize)\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*$")


class Constraint(NamedTuple):
    """``name op bound``: a quantity that must be good enough."""

    name: str
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the constraint (NaN never does)."""
        return math.isfinite(value) and OPERATORS[self.op](value, self.bound)

    def excess(self, value: float) -> float:
        """How far ``value`` is from satisfying it, relative to the bound: 0 when it holds, inf for NaN."""
        if not math.isfinite(value):
            return math.inf
        if self.holds(value):
            return 0.0
        return abs(value - self.bound) / max(abs(self.bound), 1e-12)

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"


class Selection(NamedTuple):
    """One metric to optimise (``maximize`` ``None``: its table direction) and constraints to satisfy."""

    metric: str
    maximize: bool | None = None
    constraints: tuple[Constraint, ...] = ()

    def __str__(self) -> str:
        head = self.metric if self.maximize is None else f"{'max' if self.maximize else 'min'} {self.metric}"
        if not self.constraints:
            return head
        return head + " where " + " and ".join(map(str, self.constraints))


def _held_out(name: str, where: str) -> None:
    if name.startswith("test_"):
        raise ValueError(f"{where} names {name!r}: test metrics are held out and never select")


def parse(text: str | Selection) -> Selection:
    """A :class:`Selection` from ``"[max|min] METRIC [where NAME OP NUMBER [and ...]]"``.

    Raises:
      ValueError: one line saying what part cannot be read.
    """
    if isinstance(text, Selection):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a selection is '[max|min] METRIC [where NAME OP NUMBER and ...]', got {text!r}")
    head, *rest = re.split(r"\s+where(?:\s+|$)", text.strip(), maxsplit=1)
    match = _HEAD.match(head)
    if match is None:
        raise ValueError(f"selection {text!r}: {head!r} is not '[max|min] METRIC'")
    word, metric = match.groups()
    _held_out(metric, f"selection {text!r}")
    maximize = None if word is None else word.startswith("max")
    if rest and not rest[0].strip():
        raise ValueError(f"selection {text!r}: 'where' needs at least one constraint")
    constraints = []
    for part in re.split(r"\s+and\s+", rest[0].strip()) if rest else ():
        constraints.append(parse_constraint(part, f"selection {text!r}"))
    return Selection(metric, maximize, tuple(constraints))


def parse_constraint(text: str | Constraint, where: str = "constraint") -> Constraint:
    """A :class:`Constraint` from ``"NAME OP NUMBER"`` (``"latency_ms <= 100"``); one-line ``ValueError`` otherwise."""
    if isinstance(text, Constraint):
        return text
    found = _CONSTRAINT.match(str(text))
    if found is None:
        raise ValueError(f"{where}: constraint {str(text).strip()!r} is not 'NAME OP NUMBER' "
                         f"with OP one of {', '.join(OPERATORS)}")
    name, op, number = found.groups()
    _held_out(name, where)
    try:
        bound = float(number)
    except ValueError:
        raise ValueError(f"{where}: bound {number!r} of {name} is not a number") from None
    if not math.isfinite(bound):
        raise ValueError(f"{where}: bound of {name} must be finite, got {number}")
    return Constraint(name, op, bound)


def record_value(record: Mapping[str, Any], name: str, which: str = "final") -> float:
    """``record[which][name]`` for a metric, else the record's own number ``record[name]``; NaN if diverged or missing."""
    if record.get("status") != "ok":
        return math.nan
    value = record[which].get(name) if name in record[which] else record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def known_names(records: Sequence[Mapping[str, Any]], which: str = "final") -> list[str]:
    """The names a constraint may use for these records: non-test metrics, then the records' own numbers."""
    metrics = sorted({n for r in records for n in r[which] if not n.startswith("test_")})
    own = sorted({n for r in records for n, v in r.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)} - {"id", "seed", "stage", "parent"})
    return metrics + [n for n in own if n not in metrics]


def check_known(constraints: Sequence[Constraint], known: Sequence[str], holder: str = "the records") -> None:
    """A one-line ``ValueError`` for the first constraint naming a quantity outside ``known`` (with a suggestion)."""
    from jaxdl import registry

    for constraint in constraints:
        if constraint.name not in known:
            raise ValueError(f"constraint {constraint} names {constraint.name!r}, which {holder}"
                             f"{registry.did_you_mean(constraint.name, known)}")


def infeasible(constraints: Sequence[Any], closest: Mapping[str, Any], where: str = "") -> str:
    """The message for no configuration meeting ``constraints``: the closest one's trials and what it misses."""
    return (f"{where}no configuration meets {' and '.join(map(str, constraints))}; the closest "
            f"(trials {closest['trial_ids']}) has {'; '.join(closest['violations'])}")
