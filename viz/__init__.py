"""Pictures of graphs and IR: `kl.viz(graph_or_module)` and `kiln viz`.

    svg = kl.viz(sess.graph)                      # an SVG object; Jupyter shows it inline
    svg = kl.viz(module, passes="decompose,fuse") # the IR after passes: fused groups as clusters
    svg.save("step.svg")

Ops are nodes, dataflow is edges (control dependencies dashed), kiln.fused
groups are clusters holding their body ops; a kl.Graph's name scopes are
clusters too. The layout comes from Graphviz (`dot`, through the `graphviz`
Python package) when the `dot` binary is installed, else from a pure-Python
layered layout (layout.py) that writes the SVG itself. PNG needs Graphviz.
"""

import sys
import types

from .draw import SVG, graphviz_available, render, viz
from .model import Picture, picture

__all__ = ["SVG", "Picture", "graphviz_available", "picture", "render", "viz"]


class _CallableModule(types.ModuleType):
    """`kl.viz(...)` whichever `kiln.viz` is: kiln imports this package on first
    use (kiln/__init__.py), and an `import kiln.viz` before that sets the package,
    not the function, as `kiln.viz`; the package then calls `viz` itself."""

    def __call__(self, *args, **kwargs):
        return viz(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
