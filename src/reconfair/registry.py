"""One registry per component kind: name -> factory, plus ``module:attr`` plug-ins.

Factories take explicit keyword parameters (no ``**kwargs`` that swallow
typos); :meth:`Registry.create` checks the given parameters against the
factory's signature and names the offending one.

Examples
--------
>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def make_square(*, side: float = 1.0):
...     return side * side
>>> shapes.create("square", side=3.0)
9.0
>>> shapes.create("square", sid=3.0)
Traceback (most recent call last):
...
ValueError: shape 'square' got unknown parameter 'sid'; allowed parameters: side
>>> shapes.create("circle")
Traceback (most recent call last):
...
ValueError: unknown shape 'circle'; expected one of: square, or a plug-in named as 'package.module:attribute'
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any


class Registry:
    """Maps names to factories for one kind of component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``factory`` under ``name``."""

        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorate

    def names(self) -> tuple[str, ...]:
        """Registered names, sorted."""
        return tuple(sorted(self._factories))

    def __contains__(self, name: str) -> bool:
        return name in self._factories or ":" in name

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered as ``name``, or imported from ``package.module:attr``."""
        if name in self._factories:
            return self._factories[name]
        if ":" in name:
            return import_attribute(name, self.kind)
        raise ValueError(
            f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}, "
            "or a plug-in named as 'package.module:attribute'"
        )

    def parameters(self, name: str) -> tuple[str, ...]:
        """Names of the keyword parameters the factory accepts."""
        signature = inspect.signature(self.get(name))
        return tuple(
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        )

    def create(self, name: str, /, **params: Any) -> Any:
        """Call the factory for ``name`` with ``params``, checking each parameter."""
        factory = self.get(name)
        signature = inspect.signature(factory)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        if not accepts_any:
            allowed = self.parameters(name)
            for key in params:
                if key not in allowed:
                    raise ValueError(
                        f"{self.kind} {name!r} got unknown parameter {key!r}; "
                        f"allowed parameters: {', '.join(allowed) or '(none)'}"
                    )
        return factory(**params)


def import_attribute(spec: str, kind: str) -> Callable[..., Any]:
    """The attribute named by ``"package.module:attribute"``; errors name the ``kind`` of plug-in.

    >>> import_attribute("math:sqrt", "function")(9.0)
    3.0
    >>> import_attribute("math:nope", "function")
    Traceback (most recent call last):
    ...
    ValueError: function plug-in 'math:nope': module 'math' has no attribute 'nope'
    """
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{kind} plug-in {spec!r}: cannot import module {module_name!r} ({error})") from error
    try:
        return getattr(module, attribute)
    except AttributeError as error:
        raise ValueError(
            f"{kind} plug-in {spec!r}: module {module_name!r} has no attribute {attribute!r}"
        ) from error
