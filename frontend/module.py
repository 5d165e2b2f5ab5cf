"""tf.Module: TensorFlow 2's base class for objects that own variables.

    class Dense(kl.Module):
        def __init__(self, n, name=None):
            super().__init__(name=name)
            self.w = kl.Variable(kl.zeros([3, n]), name="w")

        @kl.Module.with_name_scope
        def __call__(self, x):
            return kl.matmul(x, self.w)

As in TensorFlow, `variables`, `trainable_variables`, `non_trainable_variables`
and `submodules` are found by walking the object's attributes (sorted by name;
lists, tuples and dicts inside them too), an attribute's own leaves before the
submodules' (depth-first below them), each object once. The constructor does not
run inside the module's name scope (TF 2 neither); `name_scope` re-enters the
scope the constructor opened.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from .graph import name_scope
from .variables import Variable

_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


def camel_to_snake(name: str) -> str:
    """TensorFlow's default module name: "SampleLayer" -> "sample_layer"."""
    return _CAMEL.sub(r"_\1", name).lower()


def _leaves(value: Any) -> Iterator[Any]:
    """The leaves of nested lists, tuples and dicts (sorted keys), as tf.nest walks them."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


class Module:
    """tf.Module: a name, its name scope, and the variables and submodules its
    attributes hold."""

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = camel_to_snake(type(self).__name__)
        elif not _VALID_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid module name. Module names must be valid Python "
                "identifiers (e.g. a valid class name)."
            )
        self._name = name
        with name_scope(name) as scope:
            self._scope_name = scope

    @property
    def name(self) -> str:
        """The name given to the constructor (or the class's name in snake case)."""
        return self._name

    @property
    def name_scope(self) -> Any:
        """A context manager re-entering this module's name scope."""
        return name_scope(self._scope_name)

    @property
    def variables(self) -> tuple:
        """Every variable this module and its submodules hold."""
        return tuple(self._flatten(predicate=lambda v: isinstance(v, Variable)))

    @property
    def trainable_variables(self) -> tuple:
        """The variables made with trainable=True."""
        return tuple(v for v in self.variables if v.trainable)

    @property
    def non_trainable_variables(self) -> tuple:
        """The variables made with trainable=False."""
        return tuple(v for v in self.variables if not v.trainable)

    @property
    def submodules(self) -> tuple:
        """The modules this one holds, and theirs (not itself)."""
        return tuple(self._flatten(predicate=lambda v: isinstance(v, Module)))

    def _flatten(
        self, recursive: bool = True, predicate: Callable[[Any], bool] | None = None
    ) -> Iterator[Any]:
        """The values in this module's attributes (and, recursive, its submodules')
        for which `predicate` holds, in TensorFlow's order, each once."""
        return _walk(self, recursive, predicate or (lambda v: True), {id(self)})

    @classmethod
    def with_name_scope(cls, method: Callable) -> Callable:
        """Decorate a method to run inside the module's name scope."""

        @functools.wraps(method)
        def method_with_name_scope(self, *args: Any, **kwargs: Any) -> Any:
            with self.name_scope:
                return method(self, *args, **kwargs)

        return method_with_name_scope


def _walk(module: Module, recursive: bool, predicate: Callable, seen: set) -> Iterator[Any]:
    submodules = []
    attrs = vars(module)
    for key in sorted(attrs):
        for leaf in _leaves(attrs[key]):
            if id(leaf) in seen:
                continue
            seen.add(id(leaf))
            if predicate(leaf):
                yield leaf
            if recursive and isinstance(leaf, Module):
                submodules.append(leaf)
    for sub in submodules:
        yield from _walk(sub, recursive, predicate, seen)
