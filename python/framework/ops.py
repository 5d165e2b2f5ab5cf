"""tensorflow.python.framework.ops: graphs, tensors and scopes (kiln's frontend)."""

from ...frontend import (  # noqa: F401
    Graph,
    GraphKeys,
    Operation,
    Tensor,
    add_to_collection,
    control_dependencies,
    convert_to_tensor,
    device,
    get_collection,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
