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
    sys.stdout.write(str(module))
    if args.stats:
        print(report, file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Interpret a function on .npy inputs; print the results or save them."""
    module = _read_module(args.file)
    inputs = []
    for p in args.input:
        try:
            inputs.append(np.load(p, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise KilnError(f"cannot load input {p}: {e}") from None
    results = interpret(module, args.func, *inputs)
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


def cmd_demo(args: argparse.Namespace) -> int:
    """Train a small classifier whose step is an IR function (embedded data)."""
    from .examples.demo import main
    return main(args.steps)


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
    p.set_defaults(run=cmd_opt)
    p = sub.add_parser("run", help="interpret a function on .npy inputs",
                       description=cmd_run.__doc__)
    p.add_argument("file", help="a .kiln text file")
    p.add_argument("--func", required=True, help="the function to run (without @)")
    p.add_argument("--input", action="append", default=[], help="an input .npy file, in order")
    p.add_argument("--output-dir", help="save results as resultN.npy here instead of printing")
    p.set_defaults(run=cmd_run)
    p = sub.add_parser("demo", help="train a small model end to end (no downloads)",
                       description=cmd_demo.__doc__)
    p.add_argument("--steps", type=int, default=200, help="training steps")
    p.set_defaults(run=cmd_demo)
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
