"""tensorflow.python.ops.resources (TF 1.15): the registry of a graph's resources
and the op that initialises them.

    init = tf.group(tf.global_variables_initializer(),
                    resources.initialize_resources(resources.shared_resources()))

A resource is state that is not a variable, created by running an op: in kiln
it lives on the host (a Python object, such as a tensor_forest forest) and its
`create` op is a host op that (re)builds it. As in TensorFlow, a resource is
registered in the graph's "resources" collection (shared) or
"local_resources" (local), and running the initializer again resets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ...frontend import group, no_op
from ...frontend.graph import Operation, Tensor, get_default_graph

RESOURCES = "resources"  # tf.GraphKeys.RESOURCES
LOCAL_RESOURCES = "local_resources"  # tf.GraphKeys.LOCAL_RESOURCES


class Resource(NamedTuple):
    """A registered resource: its handle, the op that creates it and a bool
    tensor that says whether it exists (TF's _Resource tuple)."""

    handle: Any
    create: Operation
    is_initialized: Tensor


def register_resource(
    handle: Any, create_op: Operation, is_initialized_op: Tensor, is_shared: bool = True
) -> None:
    """Add a resource to the graph's shared (or local) resources."""
    key = RESOURCES if is_shared else LOCAL_RESOURCES
    get_default_graph().add_to_collection(key, Resource(handle, create_op, is_initialized_op))


def shared_resources() -> list[Resource]:
    """The graph's shared resources."""
    return get_default_graph().get_collection(RESOURCES)


def local_resources() -> list[Resource]:
    """The graph's local resources."""
    return get_default_graph().get_collection(LOCAL_RESOURCES)


def initialize_resources(resource_list: Sequence[Resource], name: str = "init") -> Operation:
    """One op that runs every resource's create op (a no-op for an empty list)."""
    if not resource_list:
        return no_op(name=name)
    return group(*[r.create for r in resource_list], name=name)


__all__ = [
    "Resource",
    "initialize_resources",
    "local_resources",
    "register_resource",
    "shared_resources",
]
