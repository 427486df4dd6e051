"""One mechanism that names every pluggable piece of a run.

Models, activations, optimizers, schedules, losses and metrics are looked up
by name in a :class:`Registry`. jaxdl's built-ins register themselves here
exactly as user code does, so a piece a researcher registers is as good as a
built-in: a TOML file can name it, a sweep can choose it, and records store
its name (never the function object)::

    >>> import optax, jaxdl
    >>> @jaxdl.register_optimizer("sign_sgd_example")
    ... def sign_sgd(learning_rate, decay=0.0):
    ...     return optax.chain(optax.scale_by_sign(), optax.scale(-learning_rate))
    >>> jaxdl.registry.OPTIMIZERS.get("sign_sgd_example") is sign_sgd
    True
    >>> jaxdl.registry.OPTIMIZERS.name_of(sign_sgd)
    'sign_sgd_example'

A second registration under a taken name is an error unless
``replace=True``. Each entry may carry metadata (``info``): a metric's
direction (``maximize``), an activation's matching initializer (``init``),
an optimizer's or schedule's bounds on its hyperparameters (``bounds``).

:func:`load_plugins` imports user code (a module name or a ``.py`` file)
so that its registrations run before anything is validated; the command
line's ``--import`` and a TOML file's ``import = [...]`` use it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from typing import Any, Callable, Iterable, Iterator, Mapping

__all__ = [
    "Registry",
    "MODELS",
    "ACTIVATIONS",
    "OPTIMIZERS",
    "SCHEDULES",
    "LOSSES",
    "METRICS",
    "STRATEGIES",
    "register_model",
    "register_activation",
    "register_optimizer",
    "register_schedule",
    "register_loss",
    "register_metric",
    "register_strategy",
    "load_plugins",
    "did_you_mean",
]


def did_you_mean(name: Any, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'? known: a, b, c"``: the closest candidate, if any, and all of them."""
    candidates = sorted(candidates)
    close = difflib.get_close_matches(str(name), candidates, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return hint + (f"{';' if not close else ''} known: {', '.join(candidates)}" if candidates else "")


class Registry:
    """Names mapped to objects (factories, functions) of one kind, with metadata.

    Args:
      kind: what the entries are (``"optimizer"``); used in error messages.
      case_insensitive: look names up lower-cased (optimizers, as ``optim.get`` always did).
      required: metadata every registration must give (a metric's ``maximize``).
    """

    def __init__(self, kind: str, *, case_insensitive: bool = False, required: tuple[str, ...] = ()):
        self.kind = kind
        self._case_insensitive = case_insensitive
        self._required = required
        self._objects: dict[str, Any] = {}
        self._info: dict[str, dict] = {}

    def _key(self, name: str) -> str:
        return name.lower() if self._case_insensitive else name

    def register(self, name: str | Callable | None = None, obj: Any = None, *, replace: bool = False,
                 **info: Any) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        ``register("lion", lion)``, ``@register("lion")`` and ``@register`` (the
        function's ``__name__``) all work. Returns ``obj``, so a decorated
        function stays what it was.

        Raises:
          ValueError: the name is taken (pass ``replace=True`` to replace it),
            is not a non-empty string, or required metadata is missing.
        """
        if callable(name) and not isinstance(name, str) and obj is None:
            return self.register(getattr(name, "__name__", None), name, replace=replace, **info)
        if obj is None:
            return lambda target: self.register(name, target, replace=replace, **info)
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string without surrounding spaces, got {name!r}")
        missing = [key for key in self._required if key not in info]
        if missing:
            raise ValueError(f"registering {self.kind} {name!r} needs {', '.join(missing)}=...")
        key = self._key(name)
        if key in self._objects and not replace and self._objects[key] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to replace it")
        self._objects[key] = obj
        self._info[key] = dict(info)
        return obj

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and notebooks that redefine a piece)."""
        key = self._key(name)
        self._objects.pop(key, None)
        self._info.pop(key, None)

    def get(self, name: str) -> Any:
        """The object registered as ``name``.

        Raises:
          ValueError: unknown name, with the closest known one ("did you mean").
        """
        if not isinstance(name, str):
            raise ValueError(f"a {self.kind} is given by its registered name, got {name!r}")
        try:
            return self._objects[self._key(name)]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}") from None

    def info(self, name: str) -> Mapping[str, Any]:
        """The metadata ``name`` was registered with."""
        self.get(name)
        return self._info[self._key(name)]

    def name_of(self, obj: Any) -> str | None:
        """The name ``obj`` is registered under (the first, for aliases), or ``None``."""
        for name, registered in self._objects.items():
            if registered is obj:
                return name
        return None

    def resolve(self, identifier: str | Any) -> str:
        """The registered name of ``identifier``: a name (checked) or a registered object.

        Raises:
          ValueError: an unknown name, or an object that was never registered
            (records store names, so it must be; register it first).
        """
        if isinstance(identifier, str):
            self.get(identifier)
            return self._key(identifier)
        name = self.name_of(identifier)
        if name is None:
            what = getattr(identifier, "__name__", repr(identifier))
            raise ValueError(
                f"{self.kind} {what} is not registered; register it first, e.g. "
                f"jaxdl.register_{self.kind}({what!r}, {what}), so that records can name it"
            )
        return name

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted."""
        return tuple(sorted(self._objects))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._objects

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._objects)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"


MODELS = Registry("model")
"""Model factories ``factory(input_shape, out_features, *, activation, rngs, **static) -> nnx.Module``."""
ACTIVATIONS = Registry("activation")
"""Elementwise activations ``f(x) -> y``; ``info["init"]`` names the matching kernel initializer."""
OPTIMIZERS = Registry("optimizer", case_insensitive=True)
"""Optimizer factories ``factory(learning_rate, **hyperparameters) -> optax.GradientTransformation``."""
SCHEDULES = Registry("schedule")
"""Schedule factories ``factory(init_value, **arguments) -> (step -> value)``."""
LOSSES = Registry("loss")
"""Per-example losses ``loss(outputs, targets) -> (m,)``; ``info["task"]`` says for which task."""
METRICS = Registry("metric", required=("maximize",))
"""Metrics ``metric(outputs, targets) -> scalar``; ``info["maximize"]`` is the direction."""
STRATEGIES = Registry("strategy")
"""Search strategies: subclasses of :class:`jaxdl.sweep.strategies.Strategy` (registered when it is imported)."""

register_model = MODELS.register
register_activation = ACTIVATIONS.register
register_optimizer = OPTIMIZERS.register
register_schedule = SCHEDULES.register
register_loss = LOSSES.register
register_metric = METRICS.register
register_strategy = STRATEGIES.register


def _import_file(path: str) -> None:
    name = "jaxdl_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"--import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise ValueError(f"--import {path}: importing it failed: {type(error).__name__}: {error}") from error


_IMPORTED: set[str] = set()


def load_plugins(items: Iterable[str], base: str | os.PathLike | None = None) -> None:
    """Import user code so that its registrations run: module names or ``.py`` files.

    Args:
      items: ``"pkg.mod"`` or ``"path/to/file.py"`` entries.
      base: folder that relative file paths are relative to (a TOML file's
        folder); default, the current directory.

    A file already imported by this function is not imported again, so a
    config and a command line naming the same file register once.

    Raises:
      ValueError: a missing file, or code that fails to import (the message
        names the entry and the error).
    """
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"import entries are module names or .py files, got {item!r}")
        if item.endswith(".py") or os.sep in item or "/" in item:
            path = item if base is None or os.path.isabs(item) else os.path.join(os.fspath(base), item)
            path = os.path.abspath(path)
            if path in _IMPORTED:
                continue
            if not os.path.isfile(path):
                raise ValueError(f"--import {item}: no such file ({path})")
            _import_file(path)
            _IMPORTED.add(path)
            continue
        try:
            importlib.import_module(item)
        except Exception as error:
            raise ValueError(f"--import {item}: importing it failed: {type(error).__name__}: {error}") from error
