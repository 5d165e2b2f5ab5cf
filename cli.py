"""The `kiln` command: one tool, a sub-command per job (like mlir-opt and friends)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .ir import KilnError, interpret, parse


def _read_module(path: str):
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise KilnError(f"cannot read {path}: {e.strerror}") from None
    return parse(text)


def cmd_opt(args: argparse.Namespace) -> int:
    """Parse and verify a module, run a pass pipeline over it, print the result."""
    from .passes import PassManager

    module = _read_module(args.file)
    print_after = "all" if args.print_ir_after_all else [
        name.strip() for name in (args.print_ir_after or "").split(",") if name.strip()]
    manager = PassManager(args.passes or "", verify_each=not args.no_verify,
                          print_after=print_after, out=sys.stdout)
    report = manager.run(module)
    if args.print_ir_after_all or args.print_ir_after:
        sys.stdout.write("// ----- result -----\n")
    if args.emit:
        from .runtime.listing import emit

        emit(module, args.emit, sys.stdout)
    else:
        sys.stdout.write(str(module))
    if args.stats:
        print(report, file=sys.stderr)
    return 0


def _load_inputs(paths: list[str]) -> list[np.ndarray]:
    inputs = []
    for p in paths:
        try:
            inputs.append(np.load(p, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise KilnError(f"cannot load input {p}: {e}") from None
    return inputs


def _function_name(module, func: str | None) -> str:
    if func:
        module[func]  # a clear error naming the functions there are
        return func
    names = [f.name for f in module]
    if len(names) != 1:
        raise KilnError(f"the module has {len(names)} functions "
                        f"({', '.join('@' + n for n in names)}): choose one with --func")
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
    """A module whose function @name computes `fetches` from `feeds` in a Saver
    checkpoint's graph (its .meta), the variables frozen to their saved values.
    Returns (module, input names, output names)."""
    from .frontend.graph import Graph
    from .frontend.lowering import lower, needed_ops
    from .frontend.saver import import_meta_graph
    from .ir import Builder, Module
    from .passes.autodiff import inline

    if not fetches:
        raise KilnError("a checkpoint needs --fetch NAME (a tensor the library computes)")
    meta, values = Path(prefix + ".meta"), Path(prefix + ".npz")
    for path in (meta, values):
        if not path.exists():
            raise KilnError(f"cannot read checkpoint {prefix}: {path} does not exist")
    with Graph().as_default() as g:
        import_meta_graph(str(meta))
        fetched = [g.get_tensor_by_name(n if ":" in n else n + ":0") for n in fetches]
        if feeds:
            fed = [g.get_tensor_by_name(n if ":" in n else n + ":0") for n in feeds]
        else:  # the placeholders the fetches need
            needed = needed_ops(fetched, set())
            fed = [op.outputs[0] for op in g.get_operations()
                   if op in needed and op.type == "Placeholder"]
        lowered = lower(g, fetched, {t: None for t in fed}, name="frozen")
    if lowered.writes:
        raise KilnError(f"fetching {', '.join(fetches)} updates variables "
                        f"({', '.join(v.name for v in lowered.writes)}): compile an inference "
                        "fetch, not a training step")
    with np.load(values, allow_pickle=False) as saved:
        missing = [v.name for v in lowered.reads if v.name not in saved.files]
        if missing:
            raise KilnError(f"checkpoint {prefix} has no variable {missing[0]!r}")
        weights = [saved[v.name] for v in lowered.reads]
    frozen = lowered.module["frozen"]
    module = Module()
    n_fed = len(lowered.feeds)
    func = module.add_function(name, frozen.arg_types[:n_fed],
                               [a.name for a in frozen.args[:n_fed]])
    b = Builder.at_end(func.body)
    constants = [b.constant(w, dtype=a.type.dtype)
                 for w, a in zip(weights, frozen.args[n_fed:])]
    b.ret(*inline(b, frozen, list(func.args) + constants))
    return module, [t.name for t in lowered.feeds], [t.name for t in fetched]


def cmd_compile(args: argparse.Namespace) -> int:
    """Compile a model ahead of time into OUTDIR: a shared library (weights inside, or
    beside it with --weights file), a C header and a JSON manifest. Needs a C
    compiler (cc, gcc or clang; $CC) to link."""
    from .passes import DEFAULT_PIPELINE, run_pipeline
    from .runtime import aot

    model = args.model
    prefix = model[:-5] if model.endswith(".meta") else model
    if Path(prefix).is_dir():
        from .frontend.saver import latest_checkpoint
        prefix = latest_checkpoint(prefix) or prefix
    if Path(prefix + ".meta").exists():
        name = args.name or "model"
        func = aot.c_name(name)
        module, input_names, output_names = checkpoint_module(prefix, args.fetch, args.feed,
                                                              func)
    else:
        if args.fetch or args.feed:
            raise KilnError(f"--fetch/--feed choose tensors of a checkpoint, and {model} has "
                            f"no {Path(prefix).name}.meta beside it")
        module = _read_module(model)
        func = _function_name(module, args.func)
        name, input_names, output_names = args.name or func, None, None
    run_pipeline(module, DEFAULT_PIPELINE)
    built = aot.build(module, func, args.output, name=name, weights=args.weights,
                      threads=not args.no_threads, input_names=input_names,
                      output_names=output_names)
    for path in (built.library, built.header, built.manifest):
        print(path)
    times = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in built.seconds.items())
    print(f"compiled @{func}: {times}", file=sys.stderr)
    return 0


def _random_inputs(types, dims: dict[str, int]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    inputs = []
    for t in types:
        shape = []
        for d in t.shape:
            if isinstance(d, int):
                shape.append(d)
            elif d.name in dims:
                shape.append(dims[d.name])
            else:
                raise KilnError(f"give the size of the symbolic dim {d} with --dim "
                                f"{d.name}=SIZE")
        inputs.append(rng.standard_normal(shape).astype(t.dtype.numpy) if t.dtype.is_float
                      else np.zeros(shape, t.dtype.numpy))
    return inputs


def cmd_bench(args: argparse.Namespace) -> int:
    """Time a function of a .kiln module (compiled for the CPU, or interpreted) or a
    library made by `kiln compile` (give its OUTDIR): the median of --repeat calls
    after --warmup calls, on .npy inputs or random ones of the argument types."""
    import time

    dims = {}
    for item in args.dim:
        key, _, value = item.partition("=")
        if not value.isdigit():
            raise KilnError(f"--dim {item}: expected NAME=SIZE, e.g. N=64 or ?=64")
        dims[key] = int(value)
    inputs = _load_inputs(args.input)
    if Path(args.model).is_dir():
        from .ir.types import TensorType
        from .runtime.aot import load

        run = load(args.model)
        what = f"{run.name} (library in {args.model})"
        types = [TensorType(x["dtype"], [d if isinstance(d, int) else "?" for d in x["shape"]])
                 for x in run.inputs]
        if not inputs:  # a library's dims have C names: ask by those
            for x in run.inputs:
                for d in x["shape"]:
                    if isinstance(d, str) and d not in dims:
                        raise KilnError(f"give the size of the dim {d} with --dim {d}=SIZE")
            types = [t.with_shape([d if isinstance(d, int) else dims[d] for d in x["shape"]])
                     for t, x in zip(types, run.inputs)]
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
    ms = np.array(times) * 1000
    print(f"{what}: median {np.median(ms):.4f} ms (min {ms.min():.4f}, max {ms.max():.4f}) "
          f"over {args.repeat} calls after {args.warmup} warm-up calls")
    if args.profile:
        if getattr(run, "backend", None) != "cpu":
            raise KilnError("--profile times the kernels of a .kiln function on the cpu "
                            "backend (not an interpreted function or a library)")
        from .runtime.profile import profile

        print(profile(run, *inputs, repeat=args.repeat, warmup=args.warmup).table())
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
    if args.file.endswith(".meta"):
        from .frontend.graph import Graph
        from .frontend.saver import import_meta_graph

        if args.passes:
            raise KilnError("--passes applies to a .kiln module, not a saved graph")
        with Graph().as_default() as graph:
            import_meta_graph(args.file)
        data = render(graph, fmt, engine=args.engine)
    else:
        data = render(_read_module(args.file), fmt, passes=args.passes or None,
                      engine=args.engine, func=args.func)
    try:
        out.write_bytes(data)
    except OSError as e:
        raise KilnError(f"cannot write {out}: {e.strerror}") from None
    print(f"wrote {out} ({len(data)} bytes)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiln", description="kiln: a deep-learning compiler")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("opt", help="run passes over a .kiln module and print it",
                       description=cmd_opt.__doc__)
    p.add_argument("file", help="a .kiln text file")
    p.add_argument("--passes", "-p", default="",
                   help='a pipeline, e.g. "decompose,canonicalize,fold,cse,dce,fuse,plan" '
                        "(options in braces: fold{max_elements=64}); none: just verify")
    p.add_argument("--print-ir-after-all", action="store_true",
                   help="print the IR after every pass")
    p.add_argument("--print-ir-after", metavar="PASSES",
                   help="print the IR after these passes (comma-separated names)")
    p.add_argument("--stats", action="store_true",
                   help="print each pass's time and statistics to stderr")
    p.add_argument("--no-verify", action="store_true",
                   help="do not run the verifier after each pass")
    p.add_argument("--emit", choices=("kernel", "llvm", "asm", "triton"),
                   help="print every kernel (its form, LLVM IR, host assembly or Triton "
                        "source) instead of the module; runs the default pipeline first "
                        "when the module is not planned yet")
    p.set_defaults(run=cmd_opt)
    p = sub.add_parser("run", help="interpret a function on .npy inputs",
                       description=cmd_run.__doc__)
    p.add_argument("file", help="a .kiln text file")
    p.add_argument("--func", help="the function to run (without @); needed when the module "
                   "has several")
    p.add_argument("--input", action="append", default=[], help="an input .npy file, in order")
    p.add_argument("--output-dir", help="save results as resultN.npy here instead of printing")
    p.add_argument("--backend", choices=["interpreter", "cpu", "auto"], default="interpreter",
                   help="the reference interpreter (default), the CPU backend, or the CPU "
                        "backend falling back to the interpreter")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("compile", help="compile a model ahead of time to a .so, .h and .json",
                       description=cmd_compile.__doc__)
    p.add_argument("model", help="a .kiln file, or a Saver checkpoint prefix (dir/model-7, "
                                 "with dir/model-7.meta and .npz) or its directory")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="where the library, header and manifest go")
    p.add_argument("--func", help="the .kiln function to compile (needed when it has several)")
    p.add_argument("--fetch", action="append", default=[], metavar="NAME",
                   help="checkpoint: a tensor the library computes (op name or name:0); repeat")
    p.add_argument("--feed", action="append", default=[], metavar="NAME",
                   help="checkpoint: a tensor the library takes as input, in order; default: "
                        "the placeholders the fetches need")
    p.add_argument("--name", help="the C name of the entry and the files (default: the "
                                  "function's name, or 'model' for a checkpoint)")
    p.add_argument("--weights", choices=["embed", "file"], default="embed",
                   help="embed the weights in the library (default) or write NAME.weights "
                        "beside it, read by NAME_load_weights()")
    p.add_argument("--no-threads", action="store_true",
                   help="run every kernel on one thread: the library needs no libgomp")
    p.set_defaults(run=cmd_compile)
    p = sub.add_parser("bench", help="time a function or a compiled library",
                       description=cmd_bench.__doc__)
    p.add_argument("model", help="a .kiln file, or an OUTDIR made by `kiln compile`")
    p.add_argument("--func", help="the function to time (needed when the module has several)")
    p.add_argument("--input", action="append", default=[],
                   help="an input .npy file, in order (default: random inputs)")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                   help="a symbolic dim's size for random inputs (N=64; ?=64 for ?)")
    p.add_argument("--backend", choices=["cpu", "interpreter", "auto"], default="cpu",
                   help="for a .kiln file: how to run it (default: cpu)")
    p.add_argument("--repeat", type=int, default=20, help="timed calls (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    p.add_argument("--profile", action="store_true",
                   help="then time every kernel: ms, bytes, FLOPs, GB/s and GFLOP/s against "
                        "the machine's measured ceilings")
    p.set_defaults(run=cmd_bench)
    p = sub.add_parser("demo", help="train a small model end to end (no downloads)",
                       description=cmd_demo.__doc__)
    p.add_argument("--steps", type=int, default=200, help="training steps")
    p.set_defaults(run=cmd_demo)
    p = sub.add_parser("viz", help="draw a graph or the IR after passes as SVG or PNG",
                       description=cmd_viz.__doc__)
    p.add_argument("file", help="a .kiln module or a saved graph (.meta)")
    p.add_argument("--passes", "-p", default="", help="run this pipeline first (.kiln only)")
    p.add_argument("--func", help="draw only this function (default: all)")
    p.add_argument("--engine", choices=["auto", "graphviz", "python"], default="auto",
                   help="layout: Graphviz when installed (auto), or the pure-Python one")
    p.add_argument("-o", "--output", required=True, help="the picture: out.svg or out.png")
    p.set_defaults(run=cmd_viz)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KilnError as e:
        print(f"kiln {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
