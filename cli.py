"""The `kiln` command: one tool, a sub-command per job (like mlir-opt and friends)."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from .ir import KilnError, interpret, parse, print_module
from .ir.errors import diagnostic

STDIN = "-"  # a file argument of "-" reads standard input; "-o -" writes standard output


class _Source:
    """The IR text the command read, for diagnostics that point into it."""

    name: str | None = None
    text: str | None = None


def _read_text(path: str) -> str:
    if path == STDIN:
        _Source.name, _Source.text = "<stdin>", sys.stdin.read()
        return _Source.text
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or "not a text file"
        raise KilnError(f"cannot read {path}: {reason}") from None
    _Source.name, _Source.text = path, text
    return text


def _read_module(path: str):
    """A .kiln text file (or standard input), or an ONNX model (.onnx: imported)."""
    if path != STDIN and path.lower().endswith(".onnx"):
        from .onnx import import_model

        _Source.name, _Source.text = path, None
        return import_model(path)
    return parse(_read_text(path))


def _write_output(path: str | None, text: str) -> None:
    """`text` to the file `path` (replaced if it exists), or stdout for None or "-"."""
    if path in (None, STDIN):
        sys.stdout.write(text)
        return
    if Path(path).is_dir():
        raise KilnError(f"cannot write {path}: it is a directory")
    try:
        Path(path).write_text(text)
    except OSError as e:
        raise KilnError(f"cannot write {path}: {e.strerror}") from None


def cmd_opt(args: argparse.Namespace) -> int:
    """Parse and verify a module, run a pass pipeline over it, print the result."""
    from .passes import PassManager

    module = _read_module(args.file)
    print_after = (
        "all"
        if args.print_ir_after_all
        else [name.strip() for name in (args.print_ir_after or "").split(",") if name.strip()]
    )
    manager = PassManager(
        args.pass_pipeline or args.passes or "",
        verify_each=not args.no_verify,
        print_after=print_after,
        out=sys.stdout,
    )
    report = manager.run(module)
    if (args.print_ir_after_all or args.print_ir_after) and args.output in (None, STDIN):
        sys.stdout.write("// ----- result -----\n")
    if args.emit:
        from .runtime.listing import emit

        text = io.StringIO()
        emit(module, args.emit, text)
        _write_output(args.output, text.getvalue())
    else:
        _write_output(args.output, print_module(module, args.large_constants))
    if args.stats:
        from .runtime.listing import fallbacks

        print(report, file=sys.stderr)
        for line in fallbacks(module):
            print(f"fallback: {line}", file=sys.stderr)
    return 0


def _load_inputs(paths: list[str]) -> list[np.ndarray]:
    inputs = []
    for p in paths:
        try:
            inputs.append(np.load(p, allow_pickle=False))
        except (OSError, ValueError, EOFError) as e:
            raise KilnError(f"cannot load input {p}: {e}") from None
    return inputs


def _function_name(module, func: str | None) -> str:
    if func:
        module[func]  # a clear error naming the functions there are
        return func
    names = [f.name for f in module]
    if len(names) != 1:
        raise KilnError(
            f"the module has {len(names)} functions "
            f"({', '.join('@' + n for n in names)}): choose one with --func"
        )
    return names[0]


def cmd_run(args: argparse.Namespace) -> int:
    """Run a function on .npy inputs, in the reference interpreter (the default) or
    compiled for the CPU (--backend cpu); print the results or save them."""
    module = _read_module(args.file)
    func = _function_name(module, args.func)
    inputs = _load_inputs(args.input)
    if args.backend == "interpreter":
        results = interpret(module, func, *inputs)
    else:
        from .runtime.executable import Executable

        results = Executable(module, func, args.backend)(*inputs)
    for i, r in enumerate(results):
        if args.output_dir:
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            np.save(out / f"result{i}.npy", r)
            print(f"result {i}: {r.dtype} {r.shape} -> {out / f'result{i}.npy'}")
        else:
            print(f"result {i}: {r.dtype} {r.shape}")
            print(np.array2string(r, threshold=200))
    return 0


def checkpoint_module(prefix: str, fetches: list[str], feeds: list[str], name: str):
    """A Saver checkpoint's fetches as a module, the variables frozen (see
    kiln.frontend.export.checkpoint_module). Returns (module, inputs, outputs)."""
    from .frontend.export import checkpoint_module as from_checkpoint

    module, inputs, outputs = from_checkpoint(prefix, fetches, feeds, name, freeze=True)
    return module, inputs, outputs


def _model_module(args: argparse.Namespace):
    """The model `kiln compile` and `kiln tune` read: a checkpoint (its prefix, its
    .meta or its directory; --fetch/--feed choose the tensors) or a .kiln / ONNX
    file. Returns (module, func, name, input_names, output_names)."""
    from .runtime import aot

    model = args.model
    prefix = model[:-5] if model.endswith(".meta") else model
    if model != STDIN and Path(prefix).is_dir():
        from .frontend.saver import latest_checkpoint

        prefix = latest_checkpoint(prefix) or prefix
    if Path(prefix + ".meta").exists():
        name = args.name or "model"
        func = aot.c_name(name)
        module, input_names, output_names = checkpoint_module(prefix, args.fetch, args.feed, func)
        return module, func, name, input_names, output_names
    if args.fetch or args.feed:
        raise KilnError(
            f"--fetch/--feed choose tensors of a checkpoint, and {model} has "
            f"no {Path(prefix).name}.meta beside it"
        )
    module = _read_module(model)
    func = _function_name(module, args.func)
    return module, func, args.name or func, None, None


def cmd_compile(args: argparse.Namespace) -> int:
    """Compile a model ahead of time into OUTDIR: a shared library (weights inside, or
    beside it with --weights file), a C header and a JSON manifest. Needs a C
    compiler (cc, gcc or clang; $CC) to link."""
    from .passes import DEFAULT_PIPELINE, run_pipeline
    from .runtime import aot

    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise KilnError(
            f"-o {args.output}: it is a file; give a directory (OUTDIR) for the "
            "library, header and manifest"
        )
    module, func, name, input_names, output_names = _model_module(args)
    run_pipeline(module, DEFAULT_PIPELINE)
    built = aot.build(
        module,
        func,
        args.output,
        name=name,
        weights=args.weights,
        threads=not args.no_threads,
        input_names=input_names,
        output_names=output_names,
    )
    for path in (built.library, built.header, built.manifest):
        print(path)
    times = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in built.seconds.items())
    print(f"compiled @{func}: {times}", file=sys.stderr)
    return 0


def _parse_dims(items: list[str]) -> dict[str, int]:
    """--dim NAME=SIZE options as a dict."""
    dims = {}
    for item in items:
        key, _, value = item.partition("=")
        if not value.isdigit():
            raise KilnError(f"--dim {item}: expected NAME=SIZE, e.g. N=64 or ?=64")
        dims[key] = int(value)
    return dims


def _shapes(types, dims: dict[str, int]) -> list[list[int]]:
    """The shapes of arguments of these types, symbolic dims sized by `dims`."""
    shapes = []
    for t in types:
        shape = []
        for d in t.shape:
            if isinstance(d, int):
                shape.append(d)
            elif d.name in dims:
                shape.append(dims[d.name])
            else:
                raise KilnError(f"give the size of the symbolic dim {d} with --dim {d.name}=SIZE")
        shapes.append(shape)
    return shapes


def _random_inputs(types, dims: dict[str, int]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = []
    for t, shape in zip(types, _shapes(types, dims)):
        inputs.append(
            rng.standard_normal(shape).astype(t.dtype.numpy)
            if t.dtype.is_float
            else np.zeros(shape, t.dtype.numpy)
        )
    return inputs


def cmd_bench(args: argparse.Namespace) -> int:
    """Time a function of a .kiln module (compiled for the CPU, or interpreted) or a
    library made by `kiln compile` (give its OUTDIR): the median of --repeat calls
    after --warmup calls, on .npy inputs or random ones of the argument types."""
    import time

    dims = _parse_dims(args.dim)
    inputs = _load_inputs(args.input)
    if args.model != STDIN and Path(args.model).is_dir():
        from .ir.types import TensorType
        from .runtime.aot import load

        run = load(args.model)
        what = f"{run.name} (library in {args.model})"
        types = [
            TensorType(x["dtype"], [d if isinstance(d, int) else "?" for d in x["shape"]])
            for x in run.inputs
        ]
        if not inputs:  # a library's dims have C names: ask by those
            for x in run.inputs:
                for d in x["shape"]:
                    if isinstance(d, str) and d not in dims:
                        raise KilnError(f"give the size of the dim {d} with --dim {d}=SIZE")
            types = [
                t.with_shape([d if isinstance(d, int) else dims[d] for d in x["shape"]])
                for t, x in zip(types, run.inputs)
            ]
            inputs = _random_inputs(types, {})
    else:
        from .runtime.executable import Executable

        module = _read_module(args.model)
        func = _function_name(module, args.func)
        arg_types = module[func].arg_types
        run = Executable(module, func, args.backend)
        what = f"@{func} ({run.backend})"
        if not inputs:
            inputs = _random_inputs(arg_types, dims)
    if args.repeat < 1 or args.warmup < 0:
        raise KilnError("--repeat must be at least 1 and --warmup at least 0")
    for _ in range(args.warmup):
        run(*inputs)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        run(*inputs)
        times.append(time.perf_counter() - start)
    from .runtime.profile import spread, spread_text

    median, p10, p90 = (t * 1e3 for t in spread(times))
    print(
        f"{what}: median {median:.4f} ms (p10-p90 {p10:.4f}-{p90:.4f} ms, min "
        f"{min(times) * 1e3:.4f}, max {max(times) * 1e3:.4f}) over {args.repeat} calls after "
        f"{args.warmup} warm-up calls"
    )
    for line in spread_text(times).split("\n")[1:]:  # the warning of a wide spread
        print(f"kiln bench: {line}", file=sys.stderr)
    if args.profile:
        if getattr(run, "backend", None) != "cpu":
            raise KilnError(
                "--profile times the kernels of a .kiln function on the cpu "
                "backend (not an interpreted function or a library)"
            )
        from .runtime.profile import profile

        print(profile(run, *inputs, repeat=args.repeat, warmup=args.warmup).table())
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Tune the schedule of every GEMM of a model (a .kiln file, an ONNX model or a
    checkpoint) on this machine within --budget seconds: candidates around the
    analytic default, each checked against numpy and timed; the winners go into
    the tuning database (KILN_TUNE_DB, else gemm_tuning.json in kiln's cache
    directory), which later compiles of the same kernels read. --report prints
    the stored default and tuned times (of MODEL's GEMMs, or all) instead."""
    from .passes import DEFAULT_PIPELINE, run_pipeline
    from .runtime.cpu import CpuProgram
    from .runtime.tune import report, stored_results, tune_program

    program = None
    if args.model is not None:
        module, func, *_ = _model_module(args)
        run_pipeline(module, DEFAULT_PIPELINE)
        program = CpuProgram(module, func)
    if args.report:
        from .benchmarks.gemm import peak_gflops

        rows = stored_results(program)
        if not rows:
            print("kiln tune: no tuned GEMMs stored for this CPU", file=sys.stderr)
            return 0
        print(report(rows, peak_gflops()))
        return 0
    if program is None:
        raise KilnError("give a MODEL to tune (or --report to show what is stored)")
    if args.budget <= 0:
        raise KilnError(f"--budget {args.budget}: give a positive number of seconds")
    dims = _parse_dims(args.dim)
    symbolic = any(not isinstance(d, int) for a in program.func.args for d in a.type.shape)
    shapes = _shapes([a.type for a in program.func.args], dims) if symbolic and dims else None
    results = tune_program(program, args.budget, shapes)
    if not results:
        print(
            f"kiln tune: @{program.name} has no float GEMM of static extents "
            "(give symbolic dims a size with --dim)",
            file=sys.stderr,
        )
    for r in results:
        print(
            f"{r.signature.key}: {r.default_s * 1e3:.4f} -> {r.tuned_s * 1e3:.4f} ms "
            f"({r.speedup:.2f}x; {r.tried} schedules, {r.rejected} wrong, "
            f"{r.seconds:.1f} s) {r.best.tag}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train a small classifier whose step is an IR function (embedded data)."""
    from .examples.demo import main

    return main(args.steps)


def cmd_viz(args: argparse.Namespace) -> int:
    """Draw a graph (a saved .meta graph) or a .kiln module after --passes (fused
    groups as clusters) as SVG or PNG (PNG needs Graphviz)."""
    from .viz import render

    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise KilnError(f"-o {args.output}: the picture's name must end in .svg or .png")
    if args.file != STDIN and args.file.endswith(".meta"):
        from .frontend.graph import Graph
        from .frontend.saver import import_meta_graph

        if args.passes:
            raise KilnError("--passes applies to a .kiln module, not a saved graph")
        with Graph().as_default() as graph:
            import_meta_graph(args.file)
        data = render(graph, fmt, engine=args.engine)
    else:
        data = render(
            _read_module(args.file),
            fmt,
            passes=args.passes or None,
            engine=args.engine,
            func=args.func,
        )
    if out.is_dir():
        raise KilnError(f"cannot write {out}: it is a directory")
    try:
        out.write_bytes(data)
    except OSError as e:
        raise KilnError(f"cannot write {out}: {e.strerror}") from None
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a saved model as a .kiln IR file: the tensors --fetch names, computed from
    --feed (default: the placeholders they need), in a Saver checkpoint (PREFIX.meta
    and PREFIX.npz; the variables frozen to their saved values unless --no-freeze or
    the fetches update them) or a saved graph (.meta alone: the variables are
    arguments). `-o model.onnx` writes an ONNX model instead (kiln.onnx.export).
    From Python: kl.export_ir (Sessions, kl.function, Keras models)."""
    from .frontend.export import checkpoint_module

    model = args.model
    if model.endswith(".meta") and not Path(model[:-5] + ".npz").exists():
        freeze = False  # a graph without saved values
    else:
        freeze = None if not args.no_freeze else False
    module, inputs, outputs = checkpoint_module(
        model, args.fetch, args.feed, args.name or "main", freeze=freeze
    )
    if args.output not in (None, STDIN) and args.output.endswith(".onnx"):
        from .onnx.export import export as export_onnx  # -o model.onnx: an ONNX model

        export_onnx(module, path=args.output, name=args.name or "main")
    else:
        _write_output(args.output, str(module))
    func = module[args.name or "main"]
    if args.output not in (None, STDIN):
        print(
            f"wrote {args.output}: @{func.name} ({', '.join(inputs) or 'no inputs'}) -> "
            f"{', '.join(outputs)}",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="kiln",
        description="kiln: a deep-learning compiler",
        epilog="A FILE of '-' is standard input; '-o -' is standard output. Exit status: "
        "0 success, 1 an error in the input or the work, 2 a usage error.",
    )
    parser.add_argument("--version", action="version", version=f"kiln {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "opt", help="run passes over a .kiln module and print it", description=cmd_opt.__doc__
    )
    p.add_argument("file", help="a .kiln text file or an ONNX model (.onnx), or - for stdin")
    p.add_argument(
        "--passes",
        "-p",
        default="",
        help='a pipeline, e.g. "decompose,canonicalize,fold,cse,dce,fuse,plan" '
        "(options in braces: fold{max_elements=64}); none: just verify",
    )
    p.add_argument(
        "--pass-pipeline", metavar="PIPELINE", help="the same as --passes (mlir-opt's name)"
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the result here (default, or -: standard output)",
    )
    p.add_argument(
        "--print-ir-after-all", action="store_true", help="print the IR after every pass"
    )
    p.add_argument(
        "--print-ir-after",
        metavar="PASSES",
        help="print the IR after these passes (comma-separated names)",
    )
    p.add_argument(
        "--stats", action="store_true", help="print each pass's time and statistics to stderr"
    )
    p.add_argument(
        "--no-verify", action="store_true", help="do not run the verifier after each pass"
    )
    p.add_argument(
        "--emit",
        choices=("kernel", "llvm", "asm", "triton"),
        help="print every kernel (its form, LLVM IR, host assembly or Triton "
        "source) instead of the module; runs the default pipeline first "
        "when the module is not planned yet",
    )
    p.add_argument(
        "--large-constants",
        choices=("resources", "elide", "inline"),
        default="resources",
        help="constants of more than 32 elements: by reference with their bytes in "
        "a resource section at the end (default), by reference only (to read; "
        "does not parse back), or inline",
    )
    p.set_defaults(run=cmd_opt)
    p = sub.add_parser(
        "run", help="interpret a function on .npy inputs", description=cmd_run.__doc__
    )
    p.add_argument("file", help="a .kiln text file or an ONNX model (.onnx), or - for stdin")
    p.add_argument(
        "--func", help="the function to run (without @); needed when the module has several"
    )
    p.add_argument("--input", action="append", default=[], help="an input .npy file, in order")
    p.add_argument("--output-dir", help="save results as resultN.npy here instead of printing")
    p.add_argument(
        "--backend",
        choices=["interpreter", "cpu", "gpu", "auto"],
        default="interpreter",
        help="the reference interpreter (default), the CPU backend, the GPU "
        "backend (Triton; the CPU, with a warning, without a GPU), or the "
        "CPU backend falling back to the interpreter",
    )
    p.set_defaults(run=cmd_run)
    p = sub.add_parser(
        "compile",
        help="compile a model ahead of time to a .so, .h and .json",
        description=cmd_compile.__doc__,
    )
    p.add_argument(
        "model",
        help="a .kiln file (- for standard input), an ONNX model (.onnx), or a Saver checkpoint "
        "prefix (dir/model-7, with dir/model-7.meta and .npz) or its "
        "directory",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTDIR",
        help="where the library, header and manifest go",
    )
    p.add_argument("--func", help="the .kiln function to compile (needed when it has several)")
    p.add_argument(
        "--fetch",
        action="append",
        default=[],
        metavar="NAME",
        help="checkpoint: a tensor the library computes (op name or name:0); repeat",
    )
    p.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="NAME",
        help="checkpoint: a tensor the library takes as input, in order; default: "
        "the placeholders the fetches need",
    )
    p.add_argument(
        "--name",
        help="the C name of the entry and the files (default: the "
        "function's name, or 'model' for a checkpoint)",
    )
    p.add_argument(
        "--weights",
        choices=["embed", "file"],
        default="embed",
        help="embed the weights in the library (default) or write NAME.weights "
        "beside it, read by NAME_load_weights()",
    )
    p.add_argument(
        "--no-threads",
        action="store_true",
        help="run every kernel on one thread: the library needs no libgomp",
    )
    p.set_defaults(run=cmd_compile)
    p = sub.add_parser(
        "tune",
        help="tune the GEMM schedules of a model on this machine",
        description=cmd_tune.__doc__,
    )
    p.add_argument(
        "model",
        nargs="?",
        help="a .kiln file (- for standard input), an ONNX model (.onnx), or a Saver checkpoint "
        "prefix or its directory",
    )
    p.add_argument("--func", help="the .kiln function to tune (needed when it has several)")
    p.add_argument(
        "--fetch",
        action="append",
        default=[],
        metavar="NAME",
        help="checkpoint: a tensor the model computes; repeat",
    )
    p.add_argument(
        "--feed", action="append", default=[], metavar="NAME", help="checkpoint: an input tensor"
    )
    p.add_argument("--name", help="checkpoint: the function's name (default: model)")
    p.add_argument(
        "--budget", type=float, default=60.0, help="seconds of search in all (default 60)"
    )
    p.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=SIZE",
        help="the size a symbolic dim is tuned at (N=256; ?=256 for ?); the schedule found "
        "serves every size of that dim",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="print the stored default vs tuned times and GFLOP/s against the measured peak",
    )
    p.set_defaults(run=cmd_tune)
    p = sub.add_parser(
        "bench", help="time a function or a compiled library", description=cmd_bench.__doc__
    )
    p.add_argument(
        "model",
        help="a .kiln file (- for standard input), an ONNX model (.onnx), or an OUTDIR made "
        "by `kiln compile`",
    )
    p.add_argument("--func", help="the function to time (needed when the module has several)")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        help="an input .npy file, in order (default: random inputs)",
    )
    p.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=SIZE",
        help="a symbolic dim's size for random inputs (N=64; ?=64 for ?)",
    )
    p.add_argument(
        "--backend",
        choices=["cpu", "interpreter", "auto"],
        default="cpu",
        help="for a .kiln file: how to run it (default: cpu)",
    )
    p.add_argument("--repeat", type=int, default=20, help="timed calls (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="then time every kernel: ms, bytes, FLOPs, GB/s and GFLOP/s against "
        "the machine's measured ceilings",
    )
    p.set_defaults(run=cmd_bench)
    p = sub.add_parser(
        "demo", help="train a small model end to end (no downloads)", description=cmd_demo.__doc__
    )
    p.add_argument("--steps", type=int, default=200, help="training steps")
    p.set_defaults(run=cmd_demo)
    p = sub.add_parser(
        "viz", help="draw a graph or the IR after passes as SVG or PNG", description=cmd_viz.__doc__
    )
    p.add_argument(
        "file", help="a .kiln module (- for standard input), an ONNX model or a saved graph (.meta)"
    )
    p.add_argument("--passes", "-p", default="", help="run this pipeline first (.kiln only)")
    p.add_argument("--func", help="draw only this function (default: all)")
    p.add_argument(
        "--engine",
        choices=["auto", "graphviz", "python"],
        default="auto",
        help="layout: Graphviz when installed (auto), or the pure-Python one",
    )
    p.add_argument("-o", "--output", required=True, help="the picture: out.svg or out.png")
    p.set_defaults(run=cmd_viz)
    p = sub.add_parser(
        "export",
        help="write a checkpoint's or saved graph's tensors as a .kiln file",
        description=cmd_export.__doc__,
    )
    p.add_argument(
        "model",
        help="a Saver checkpoint prefix (dir/model-7), its directory, or a saved graph (.meta)",
    )
    p.add_argument(
        "--fetch",
        action="append",
        default=[],
        metavar="NAME",
        required=True,
        help="a tensor (op name or name:0) or op to compute; repeat",
    )
    p.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="NAME",
        help="a tensor the function takes, in order; default: the placeholders the fetches need",
    )
    p.add_argument("--name", help="the IR function's name (default: main)")
    p.add_argument(
        "--no-freeze",
        action="store_true",
        help="keep the variables as arguments instead of constants",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="the .kiln file (default, or -: standard output)"
    )
    p.set_defaults(run=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `kiln` command. Returns the exit status: 0 success, 1 error, 2 usage."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help and --version (0), a usage error (2)
        return e.code if isinstance(e.code, int) else 2
    _Source.name = _Source.text = None
    try:
        return args.run(args)
    except KilnError as e:
        print(_message(args.command, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kiln {args.command}: interrupted", file=sys.stderr)
        return 1


def _message(command: str, error: KilnError) -> str:
    """`FILE:LINE:COL: error: ...` with the line and a caret for an error in the IR
    text the command read; `kiln CMD: error: ...` for any other."""
    if error.line is not None and _Source.name is not None:
        return diagnostic(error, _Source.name, _Source.text)
    return f"kiln {command}: error: {error}"


if __name__ == "__main__":
    raise SystemExit(main())
