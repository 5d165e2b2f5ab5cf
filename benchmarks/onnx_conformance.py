"""onnx's node conformance cases run through kiln.onnx.backend.

    python -m kiln.benchmarks.onnx_conformance            # all 1,884 cases (~a few minutes)
    python -m kiln.benchmarks.onnx_conformance --core     # the core op set only
    python -m kiln.benchmarks.onnx_conformance --ops Conv,Gemm --failures

Each case of `onnx.backend.test.case.node.collect_testcases(None)` (a model and
its stored inputs and outputs) is imported, compiled with backend="auto" and
run; outputs are compared with the case's rtol/atol as onnx's runner does.
The outputs of a case whose graph draws random numbers (RANDOM_OPS: their stored
outputs are one draw of numpy's generator, which no other generator reproduces)
are compared on shape and dtype, and a Bernoulli's on its support {0, 1}; a
Dropout in training mode with a ratio above 0 on each output being 0 or the
input scaled by 1/(1 - ratio), consistently with its mask.
Prints the pass count of all cases and of the core op set (the ops CNNs,
transformers and RNNs use), the failures grouped by cause (exception class and
the first words of its message) and per op.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
import warnings

import numpy as np

# the core op set of issue 20: what CNNs, transformers and RNNs use
CORE_OPS = frozenset(
    """Conv ConvTranspose Gemm MatMul
    Add Sub Mul Div Pow Neg Abs Sqrt Exp Log Reciprocal Sign Max Min Sum Mean Clip Erf
    Relu LeakyRelu PRelu Elu Selu Sigmoid HardSigmoid HardSwish Tanh Softplus Softsign Gelu
    Equal Less Greater LessOrEqual GreaterOrEqual And Or Not Xor
    ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceSumSquare ArgMax ArgMin
    MaxPool AveragePool GlobalAveragePool GlobalMaxPool
    BatchNormalization LayerNormalization InstanceNormalization
    Resize Gather GatherElements GatherND ScatterElements ScatterND
    Slice Pad Concat Split Reshape Transpose Expand Tile Squeeze Unsqueeze Flatten
    Softmax LogSoftmax Cast Where TopK Einsum
    If Loop Scan LSTM GRU RNN""".split()
)


# ops whose outputs are random draws (their conformance is shape, dtype, support)
RANDOM_OPS = frozenset(
    "Bernoulli RandomUniform RandomNormal RandomUniformLike RandomNormalLike Multinomial".split()
)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


_SNAKE: dict[str, str] | None = None


def case_op(case) -> str:
    """The op type a node case tests: the op whose snake_case name begins the case's
    name (test_reduce_sum_... -> ReduceSum; an _expanded case counts for its op),
    else the first node of its graph that is not a Constant."""
    global _SNAKE
    if _SNAKE is None:
        from onnx import defs

        _SNAKE = {_snake(s.name): s.name for s in defs.get_all_schemas_with_history()}
    name = case.name[len("test_") :]
    best = ""
    for snake in _SNAKE:
        if (name == snake or name.startswith(snake + "_")) and len(snake) > len(best):
            best = snake
    if best:
        return _SNAKE[best]
    nodes = [n for n in case.model.graph.node if n.op_type != "Constant"] or list(
        case.model.graph.node
    )
    return nodes[0].op_type if nodes else "?"


def collect():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return collect_testcases(None)


def _array(x):
    """A numpy array of a stored input or output (some cases store TensorProtos)."""
    from onnx import TensorProto, numpy_helper

    if isinstance(x, TensorProto):
        x = numpy_helper.to_array(x)
    x = np.asarray(x)
    if x.dtype.name == "bfloat16":
        x = x.astype(np.float32)
    return x


def _fed(x):
    """A stored input as fed: an array, a list of them (a sequence) or None."""
    if x is None:
        return None
    if isinstance(x, list):
        return [_array(v) for v in x]
    return _array(x)


def _raw_dtype_name(x) -> str:
    from onnx import TensorProto, helper

    if isinstance(x, TensorProto):
        return np.dtype(helper.tensor_dtype_to_np_dtype(x.data_type)).name
    return np.asarray(x).dtype.name


def _close(expected, got, rtol: float, atol: float) -> str | None:
    """None when `got` matches `expected` as onnx's runner checks it, else why not
    (a bfloat16 output with rtol at least two bfloat16 ulps, 2^-6, as the runner).
    A sequence output is a list compared entry by entry; an empty optional is None."""
    if expected is None or got is None:
        return None if expected is None and got is None else "optional presence differs"
    if isinstance(expected, list) or isinstance(got, list):
        if not (isinstance(expected, list) and isinstance(got, list)):
            return "sequence vs tensor"
        if len(expected) != len(got):
            return f"sequence length {len(got)} != {len(expected)}"
        for e, g in zip(expected, got):
            why = _close(e, g, rtol, atol)
            if why:
                return why
        return None
    if _raw_dtype_name(expected) == "bfloat16":
        rtol = max(rtol, 2**-6)
    expected, got = _array(expected), np.asarray(got)
    if expected.dtype == object or got.dtype == object:
        return "object outputs"
    if expected.shape != got.shape:
        return f"shape {got.shape} != {expected.shape}"
    if expected.dtype.kind == "V":  # float8, float4, int4, int2 (ml_dtypes): exact
        if got.dtype != expected.dtype:
            return f"dtype {got.dtype} != {expected.dtype}"
        e32, g32 = expected.astype(np.float32), got.astype(np.float32)
        return None if np.array_equal(e32, g32, equal_nan=True) else "values differ"
    if expected.dtype.kind in "fc":
        if got.dtype.kind not in "fc":
            return f"dtype {got.dtype} != {expected.dtype}"
        ok = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        return None if ok.all() else f"values differ ({int((~ok).sum())} of {ok.size})"
    if not np.array_equal(expected, got.astype(expected.dtype, copy=False)):
        return "values differ"
    return None


def _random_ops(case) -> set[str]:
    """The random ops a case draws with (its own op counts: an _expanded Bernoulli)."""
    ops = {n.op_type for n in case.model.graph.node} & RANDOM_OPS
    return ops | ({case_op(case)} & RANDOM_OPS) if ops else ops


def _drawn_alike(expected, got, ops: set[str]) -> str | None:
    """None when a random draw `got` has the stored draw's shape and dtype (and,
    from a Bernoulli, only zeros and ones), else why not."""
    expected, got = _array(expected), np.asarray(got)
    if expected.shape != got.shape:
        return f"shape {got.shape} != {expected.shape}"
    if expected.dtype != got.dtype:
        return f"dtype {got.dtype} != {expected.dtype}"
    if "Bernoulli" in ops and not np.isin(got, (0, 1)).all():
        return "values outside {0, 1}"
    return None


def _training_dropout(case, inputs) -> float | None:
    """The ratio of a one-node Dropout case run in training mode with a ratio
    above 0 (its outputs then are a random draw), else None."""
    nodes = list(case.model.graph.node)
    if len(nodes) != 1 or nodes[0].op_type != "Dropout" or len(inputs) < 3:
        return None
    ratio, training = float(_array(inputs[1])), bool(_array(inputs[2]))
    return ratio if training and ratio > 0 else None


def _dropped_alike(x, ratio: float, expected: list, got: list) -> str | None:
    """None when `got` (y, and a mask if asked for) is a dropout of x: each entry
    0 or x / (1 - ratio), the mask true exactly where it is kept, else why not."""
    x = _array(x)
    for e, g in zip(expected, got):
        e, g = _array(e), np.asarray(g)
        if e.shape != g.shape or e.dtype != g.dtype:
            return f"shape/dtype {g.shape} {g.dtype} != {e.shape} {e.dtype}"
    y = np.asarray(got[0])
    kept = np.isclose(y, x / (1 - ratio), rtol=1e-5, atol=1e-6)
    if not (kept | (y == 0)).all():
        return "values neither dropped nor scaled"
    if len(got) > 1 and not np.array_equal(np.asarray(got[1]), kept | ((x == 0) & got[1])):
        return "mask differs from the kept entries"
    return None


def run_case(case, backend: str = "auto") -> tuple[bool, str]:
    """(passed, cause): cause is '' on a pass, else 'ExceptionClass: first words'."""
    from kiln.onnx.backend import KilnRep

    random_ops = _random_ops(case)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = KilnRep(case.model, backend=backend)
            for inputs, outputs in case.data_sets:
                got = rep.run([_fed(x) for x in inputs])
                if len(got) != len(outputs):
                    return False, f"Mismatch: {len(got)} outputs, expected {len(outputs)}"
                ratio = _training_dropout(case, inputs)
                if ratio is not None:
                    why = _dropped_alike(inputs[0], ratio, list(outputs), list(got))
                    if why:
                        return False, f"Mismatch: {why}"
                    continue
                for e, g in zip(outputs, got):
                    if random_ops:
                        why = _drawn_alike(e, g, random_ops)
                    else:
                        why = _close(e, g, case.rtol, case.atol)
                    if why:
                        return False, f"Mismatch: {why.split(' (')[0]}"
    except Exception as e:  # a failure to report, whatever it is
        return False, f"{type(e).__name__}: {_first_words(str(e))}"
    return True, ""


def _first_words(message: str, n: int = 9) -> str:
    message = re.sub(r"node '[^']*' \(([A-Za-z]+), opset \d+\)", r"(\1)", message)
    message = re.sub(r"\d+", "N", message)
    return " ".join(message.split()[:n])


def run(cases, backend: str = "auto", progress: bool = False) -> list[dict]:
    rows = []
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        ok, cause = run_case(case, backend)
        rows.append(
            dict(
                name=case.name,
                op=case_op(case),
                ok=ok,
                cause=cause,
                seconds=time.perf_counter() - t0,
            )
        )
        if progress and i % 100 == 99:
            print(f"  {i + 1}/{len(cases)}", file=sys.stderr, flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    core = [r for r in rows if r["op"] in CORE_OPS]
    return {
        "all": (sum(r["ok"] for r in rows), len(rows)),
        "core": (sum(r["ok"] for r in core), len(core)),
    }


def report(rows: list[dict], failures: bool = False, out=sys.stdout) -> None:
    s = summary(rows)
    for key in ("all", "core"):
        passed, total = s[key]
        print(f"{key:>5}: {passed}/{total} passed ({100 * passed / max(total, 1):.1f}%)", file=out)
    causes = collections.Counter(r["cause"] for r in rows if not r["ok"])
    print("\nfailures by cause:", file=out)
    for cause, n in causes.most_common(40):
        print(f"  {n:5d}  {cause}", file=out)
    per_op: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in rows:
        per_op[r["op"]][0] += r["ok"]
        per_op[r["op"]][1] += 1
    print("\nper op (passed/total, * = core):", file=out)
    for op_type in sorted(per_op):
        p, t = per_op[op_type]
        mark = "*" if op_type in CORE_OPS else " "
        print(f"  {mark} {op_type:28s} {p:3d}/{t:<3d}", file=out)
    if failures:
        print("\nfailing cases:", file=out)
        for r in rows:
            if not r["ok"]:
                print(f"  {r['name']}: {r['cause']}", file=out)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--core", action="store_true", help="only the core op set")
    parser.add_argument("--ops", default="", help="comma-separated op types to run")
    parser.add_argument("--backend", default="auto", help="kiln.compile backend (auto)")
    parser.add_argument("--failures", action="store_true", help="list every failing case")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    cases = collect()
    print(f"{len(cases)} cases collected in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.core:
        cases = [c for c in cases if case_op(c) in CORE_OPS]
    if args.ops:
        wanted = set(args.ops.split(","))
        cases = [c for c in cases if case_op(c) in wanted]
    rows = run(cases, args.backend, progress=True)
    report(rows, args.failures)
    return {"rows": rows, **summary(rows)}


if __name__ == "__main__":
    main()
