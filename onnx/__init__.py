"""ONNX import: `kiln.onnx.import_model(path_or_model) -> ir.Module`.

    import kiln
    module = kiln.onnx.import_model("resnet50.onnx")   # one function: @main
    run = kiln.compile(module)

Needs the `onnx` package (`pip install kiln[onnx]`) for its protos, checker and
shape inference. `kiln.onnx.export(sess, fetches, feeds, path)` writes a kiln
graph, Keras model or IR module the other way, as an ONNX model.
`kiln.onnx.backend` is onnx's Backend interface over kiln, so onnx's own
conformance tests run against kiln.
"""

if __name__ == "onnx":  # pragma: no cover
    # The repository root is the package `kiln`, so `python -m pytest` run from it puts
    # this directory on sys.path as a top-level `onnx` that hides the real one. Load the
    # real package instead and let the importing statement get that.
    import importlib as _importlib
    import os as _os
    import sys as _sys

    _root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _saved = list(_sys.path)
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _root]
    del _sys.modules["onnx"]
    try:
        _sys.modules["onnx"] = _importlib.import_module("onnx")
    finally:
        _sys.path[:] = _saved
else:
    from .export import export
    from .importer import import_model

    __all__ = ["export", "import_model"]
