"""Passes: every IR-to-IR transform, run by name from a pipeline string.

from kiln.passes import run_pipeline
report = run_pipeline(module, "decompose,canonicalize,fold,cse,dce,fuse,plan")
print(report)          # per-pass time and statistics
"""

from . import (  # noqa: F401  (register the passes)
    autodiff,
    canonicalize,
    cse,
    dce,
    decompose,
    fold,
    fuse,
    licm,
    plan,
    scan_hoist,
    split,
)
from .manager import (
    DEFAULT_PIPELINE,
    PASSES,
    PassManager,
    PipelineReport,
    parse_pipeline,
    register_pass,
    run_pipeline,
)
from .rewrite import Patterns, Rewriter, apply_patterns, constant_array, defining_op, splat_value

__all__ = [
    "DEFAULT_PIPELINE",
    "PASSES",
    "PassManager",
    "Patterns",
    "PipelineReport",
    "Rewriter",
    "apply_patterns",
    "constant_array",
    "defining_op",
    "parse_pipeline",
    "register_pass",
    "run_pipeline",
    "splat_value",
]
