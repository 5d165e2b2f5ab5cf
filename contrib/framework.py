"""tf.contrib.framework: `arg_scope` (default arguments for layer functions inside a
`with`), `add_arg_scope` (what makes a function take them), and the global-step and
variable helpers TF-1.x programs import from here.

    with arg_scope([fully_connected], activation_fn=tf.nn.relu, normalizer_fn=batch_norm):
        h = fully_connected(x, 256, scope="h1")      # relu and batch_norm by default

Arguments given in the call win over the scope's; inner scopes win over outer ones, as in
TensorFlow. The functions of kiln.contrib.layers take arg scopes.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..frontend.graph import GraphError
from ..frontend.local import local_variables
from ..frontend.train import get_global_step, get_or_create_global_step
from ..frontend.variables import global_variables

__all__ = [
    "add_arg_scope",
    "arg_scope",
    "current_arg_scope",
    "get_global_step",
    "get_local_variables",
    "get_or_create_global_step",
    "get_variables",
    "has_arg_scope",
]

_scopes = threading.local()


def _stack() -> list[dict[Any, dict[str, Any]]]:
    if not hasattr(_scopes, "stack"):
        _scopes.stack = [{}]
    return _scopes.stack


def _key(fn: Any) -> Any:
    return getattr(fn, "_key_op", fn)


def current_arg_scope() -> dict[Any, dict[str, Any]]:
    return _stack()[-1]


def has_arg_scope(fn: Any) -> bool:
    return getattr(fn, "_key_op", None) is not None


@contextlib.contextmanager
def arg_scope(list_ops_or_scope: Any, **kwargs: Any) -> Iterator[dict]:
    """Default `kwargs` for every function in `list_ops_or_scope` (functions made with
    add_arg_scope) inside the block; or, given a scope dict a former arg_scope yielded,
    that scope again."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise GraphError("arg_scope: a saved scope takes no keyword arguments")
        scope = list_ops_or_scope
    else:
        if not isinstance(list_ops_or_scope, (list, tuple)):
            raise GraphError(
                "arg_scope: expected a list or tuple of functions or a saved scope, "
                f"got {type(list_ops_or_scope).__name__}"
            )
        scope = dict(current_arg_scope())
        for fn in list_ops_or_scope:
            if not has_arg_scope(fn):
                raise GraphError(
                    f"arg_scope: {getattr(fn, '__name__', fn)} does not take an arg_scope "
                    "(decorate it with add_arg_scope)"
                )
            scope[_key(fn)] = {**scope.get(_key(fn), {}), **kwargs}
    _stack().append(scope)
    try:
        yield scope
    finally:
        _stack().pop()


def add_arg_scope(fn: Callable) -> Callable:
    """`fn` taking the arguments an enclosing arg_scope gives it (its own win)."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        defaults = current_arg_scope().get(_key(wrapped))
        if defaults:
            kwargs = {**defaults, **kwargs}
        return fn(*args, **kwargs)

    wrapped._key_op = wrapped  # type: ignore[attr-defined]
    return wrapped


def get_variables(scope: str | None = None, suffix: str | None = None, **_: Any) -> list:
    """The global variables in `scope` (get_collection's match) ending with `suffix`."""
    return _ending(global_variables(scope), suffix)


def get_local_variables(scope: str | None = None, suffix: str | None = None) -> list:
    return _ending(local_variables(scope), suffix)


def _ending(variables: Sequence[Any], suffix: str | None) -> list:
    return [v for v in variables if suffix is None or v.op.name.endswith(suffix)]
