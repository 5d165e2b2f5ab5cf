"""tf.summary.trace_on / trace_export / trace_off: the graphs of the
tf.functions a program calls, written for TensorBoard's Graphs tab.

trace_on starts recording (function.py's TRACES) the graph of every kl.function
called; trace_export writes them to the default writer at `step`, one graph
event per recorded function graph, and stops. There is no
profiler: `profiler=True` and `profiler_outdir` are accepted and write
nothing (kiln's timings are `KILN_DEBUG`'s and `kiln bench`'s).
"""

from __future__ import annotations

from typing import Any

from .function import start_recording, stop_recording
from .summary import KilnError, _default_writer

__all__ = ["trace_export", "trace_off", "trace_on"]


def trace_on(graph: bool = True, profiler: bool = False, profiler_outdir: Any = None) -> None:
    """Record the graph of each kl.function called from now on."""
    if graph:
        start_recording()
    else:
        stop_recording()


def trace_off() -> None:
    """Stop recording and drop what was recorded."""
    stop_recording()


def trace_export(name: str, step: Any = None, profiler_outdir: Any = None) -> None:
    """Write the recorded graphs to the default summary writer and stop."""
    graphs = stop_recording()
    default = _default_writer()
    if default is None:
        return  # as TensorFlow: no default writer, nothing written
    writer, default_step = default
    step = default_step if step is None else step
    if step is None:
        raise KilnError(f"trace_export {name!r}: no step given (pass step=)")
    for g in graphs:
        writer.add_graph(g, global_step=step)
