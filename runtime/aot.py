"""Ahead-of-time compilation: a planned function -> a shared library, a C header, a manifest.

    build(module, "model", "out/")      # out/model.so, out/model.h, out/model.json
    run = load("out/")                  # a checked Python callable over the library
    probs, = run(x)

What goes into the library (runtime/cpu.py's `CpuProgram` makes the pieces):

- the kernels and `kiln_run`, the entry that calls them, as one LLVM module,
  optimised and emitted as a position-independent object (llvmlite
  `emit_object`), its symbols hidden;
- glue written in C (`<name>_glue.c`, kept in OUTDIR for reading): the public
  entry checks the symbolic dims, computes every kernel's run-time ints, the
  outer extents, the buffer sizes and the output shapes, allocates one scratch
  arena, calls `kiln_run`, copies results and returns an error code;
- the weights (the function's constants) as one blob, embedded with `.incbin`
  or written beside the library (`--weights file`);
- no BLAS: the matmul and conv kernels carry kiln's generated GEMM
  (codegen/llvm/gemm_kernel.py) in their LLVM IR, as they do in process, so
  the library is as fast as kiln's JIT and depends on nothing but libgomp
  (`KILN_GEMM=blas`, which calls scipy's BLAS, is refused: a shipped library
  cannot reach it).

The symbolic dims: runtime/symbolic.py fits every integer of the layout as a
polynomial in them (piecewise where dims are 1, a max for a reused buffer), and
the glue evaluates those polynomials in C (`c_expr`). The link uses the
system C compiler (`cc`, or `$CC`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np

from ..codegen import arguments
from ..codegen.kernel import Fault
from ..codegen.llvm import jit
from ..codegen.llvm.gemm import link_gemms, uses_blas
from ..codegen.llvm.gemm_kernel import PARALLEL_FLOPS
from ..ir import CompileError, DType, ExecutionError, KilnError, Module, debug
from . import listing, parallel
from .cpu import CpuProgram
from .symbolic import Fit, Max, Param, Piecewise, Size, c_name, constant, fit

FORMAT = "kiln-aot-1"
MAX_DIM = 2**31 - 1  # BLAS takes 32-bit ints; the glue rejects larger dims
ALIGN = 64
OK, BAD_DIMS, NO_MEMORY, NO_WEIGHTS, NULL_BUFFER = 0, 1, 2, 3, 4
MAX_BYTES = 2**62  # no buffer, nor the scratch of a call, may need more (else KILN_ERR_DIMS)
# what the library's <name>_contract() digest covers: kiln.load checks the
# manifest's copy of these against the library it opens
CONTRACT = ("format", "name", "dims", "inputs", "outputs", "weights", "weights_bytes", "steps")
C_TYPES = {
    "f32": "float",
    "f64": "double",
    "i8": "int8_t",
    "i16": "int16_t",
    "i32": "int32_t",
    "i64": "int64_t",
    "u8": "uint8_t",
    "u16": "uint16_t",
    "u32": "uint32_t",
    "u64": "uint64_t",
    "bool": "uint8_t",
}


def c_expr(size: Size, params: list[Param]) -> str:
    """The size as a C int64 expression (also how the manifest shows a dim)."""
    if isinstance(size, Max):
        terms = [c_expr(t, params) for t in size.terms]
        out = terms[-1]
        for t in reversed(terms[:-1]):
            out = f"KILN_MAX({t}, {out})"
        return out
    if isinstance(size, Piecewise):
        out = c_expr(size.general, params)
        for pinned, poly in reversed(size.pieces):
            test = " && ".join(
                f"{p.name} {'==' if i in pinned else '!='} 1" for i, p in enumerate(params)
            )
            out = f"(({test}) ? ({c_expr(poly, params)}) : {out})"
        return out
    if not size:
        return "0"
    terms = []
    for mono, c in sorted(size.items()):
        factors = [params[i].name for i in mono]
        if c != 1 or not factors:
            factors.insert(0, str(c) if c >= 0 else f"({c})")
        terms.append("*".join(factors))
    return " + ".join(terms)


# ------------------------------------------------------------------ building


@dataclass
class Build:
    """What `build` wrote."""

    library: Path
    header: Path
    manifest: Path
    seconds: dict[str, float]


def build(
    module: Module,
    func: str,
    outdir: str | os.PathLike,
    *,
    name: str | None = None,
    weights: str = "embed",
    threads: bool = True,
    input_names=None,
    output_names=None,
) -> Build:
    """Compile `func` of a module (after the CPU pipeline: fuse, plan) into OUTDIR."""
    import time

    if weights not in ("embed", "file"):
        raise CompileError(f"weights must be 'embed' or 'file', not {weights!r}")
    if uses_blas():
        raise CompileError(
            "KILN_GEMM=blas: a shipped library cannot call scipy's BLAS; unset it to "
            "build with kiln's own GEMM"
        )
    t0 = time.perf_counter()
    cc = find_compiler()
    name = c_name(name or func)
    program = CpuProgram(module, func)
    shape_fit = fit(program)
    t_fit = time.perf_counter()
    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    blob, offsets = _weights_blob(program)
    start = time.perf_counter()
    obj = _emit_object(program)
    t_llvm = time.perf_counter()
    if debug.level() >= debug.KERNELS:
        listing.show_cpu_program(program, t_llvm - start, cached=False)
    inputs = _io(program, shape_fit, input_names, "input")
    outputs = _io(program, shape_fit, output_names, "output")
    (out / f"{name}_kernels.o").write_bytes(obj)
    glue = out / f"{name}_glue.c"
    header = out / f"{name}.h"
    header.write_text(_header(name, program, shape_fit, inputs, outputs, weights))
    weights_file = out / f"{name}.weights"
    library = out / f"{name}.so"
    contents = {
        "format": FORMAT,
        "name": name,
        "function": func,
        "library": library.name,
        "header": header.name,
        "dims": [
            {"name": p.name, "min": shape_fit.min_dim, "max": MAX_DIM} for p in shape_fit.params
        ],
        "inputs": inputs,
        "outputs": outputs,
        "weights": "embedded" if weights == "embed" else weights_file.name,
        "weights_bytes": len(blob),
        "threads": "openmp" if threads else "serial",
        "steps": [s.op.describe() for s in program.steps],
        "target": {"triple": llvm.get_process_triple(), "cpu": llvm.get_host_cpu_name()},
    }
    contract = contract_digest(contents)
    glue.write_text(
        _glue(name, program, shape_fit, inputs, outputs, offsets, weights, threads, contract)
    )
    sources = [str(glue), str(out / f"{name}_kernels.o")]
    if weights == "embed":
        (out / f"{name}_weights.bin").write_bytes(blob)
        asm = out / f"{name}_weights.S"
        asm.write_text(
            f"    .section .rodata\n    .balign {ALIGN}\n"
            f"    .globl kiln_{name}_weights\n    .hidden kiln_{name}_weights\n"
            f'kiln_{name}_weights:\n    .incbin "{name}_weights.bin"\n'
            f'    .section .note.GNU-stack,"",@progbits\n'
        )
        sources.append(str(asm))
        weights_file.unlink(missing_ok=True)
    else:
        weights_file.write_bytes(blob)
    command = [
        cc,
        "-shared",
        "-fPIC",
        "-O3",
        "-march=native",
        "-o",
        str(library),
        *sources,
        "-Wl,--no-undefined",
        "-pthread",
        "-lm",
        "-lc",
    ]
    if threads:
        command.insert(-2, "-lgomp")
    proc = subprocess.run(command, cwd=out, capture_output=True, text=True)
    (out / f"{name}_weights.bin").unlink(missing_ok=True)
    if proc.returncode:
        raise CompileError(
            f"linking {library} failed ({' '.join(command)}): "
            + " ".join(proc.stderr.split())[:2000]
        )
    manifest = out / f"{name}.json"
    manifest.write_text(json.dumps(contents, indent=2) + "\n")
    t_end = time.perf_counter()
    return Build(
        library,
        header,
        manifest,
        {"fit": t_fit - t0, "llvm": t_llvm - t_fit, "link": t_end - t_llvm},
    )


def find_compiler() -> str:
    """The C compiler that links the library: $CC, else cc, gcc or clang."""
    for candidate in [os.environ.get("CC"), "cc", "gcc", "clang"]:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise CompileError(
        "kiln compile needs a C compiler to link the library and none was "
        "found (looked for $CC, cc, gcc, clang): install gcc or clang"
    )


def _io(program: CpuProgram, shape_fit: Fit, names, kind: str) -> list[dict]:
    func = program.func
    if kind == "input":
        values = func.args
        default = [a.name or f"arg{j}" for j, a in enumerate(values)]
        shapes = []
        for j, a in enumerate(values):
            dims = list(a.type.shape)
            for p in shape_fit.params:
                for jj, axis in p.where:
                    if jj == j:
                        dims[axis] = p.name
            shapes.append(dims)
    else:
        values = func.body.terminator.operands
        default = [f"result{i}" for i in range(len(values))]
        shapes = [
            [
                c_expr(shape_fit.polys[("result", i, a)], shape_fit.params)
                if constant(shape_fit.polys[("result", i, a)]) is None
                else constant(shape_fit.polys[("result", i, a)])
                for a in range(v.type.rank)
            ]
            for i, v in enumerate(values)
        ]
    names = list(names) if names else default
    if len(names) != len(values):
        raise CompileError(f"{len(names)} {kind} names for {len(values)} {kind}s")
    ios = []
    for n, v, shape in zip(names, values, shapes):
        dtype = v.type.dtype.value
        if dtype not in C_TYPES:
            raise CompileError(
                f"@{program.name}: {kind} {n} has dtype {dtype}, which the C entry does not take"
            )
        c = c_name(n) if kind == "input" else c_name(f"out_{n}")
        ios.append({"name": n, "c_name": c, "dtype": dtype, "shape": shape})
    if len({x["c_name"] for x in ios}) != len(ios) or any(
        x["c_name"].startswith("k_") for x in ios
    ):
        raise CompileError(
            f"{kind} C names must differ and not start with k_: {[x['c_name'] for x in ios]}"
        )
    return ios


def _weights_blob(program: CpuProgram) -> tuple[bytes, dict[int, int]]:
    parts, offsets, at = [], {}, 0
    for b, array in program.constants.items():
        offsets[b] = at
        data = array.tobytes()
        pad = -len(data) % ALIGN
        parts.append(data + b"\0" * pad)
        at += len(data) + pad
    return b"".join(parts), offsets


def _emit_object(program: CpuProgram) -> bytes:
    """The kernels and kiln_run as one optimised PIC object, its symbols hidden."""
    with jit.llvm_lock:
        main = program.linked_module()
        link_gemms(main, parallel="kiln_gemm_parallel")  # the glue's: run-time threads
        for fn in main.functions:
            if not fn.is_declaration and fn.linkage not in (
                llvm.Linkage.internal,
                llvm.Linkage.private,
            ):
                fn.visibility = "hidden"
        jit.optimize(main)
        target = llvm.Target.from_default_triple()
        tm = target.create_target_machine(
            cpu=llvm.get_host_cpu_name(),
            features=llvm.get_host_cpu_features().flatten(),
            opt=3,
            reloc="pic",
            codemodel="default",
        )
        return tm.emit_object(main)


# ------------------------------------------------------------------ C text


def _signature(name: str, fit_: Fit, inputs, outputs) -> str:
    args = [f"const {C_TYPES[x['dtype']]} *{x['c_name']}" for x in inputs]
    args += [f"{C_TYPES[x['dtype']]} *{x['c_name']}" for x in outputs]
    args += [f"int64_t {p.name}" for p in fit_.params]
    return f"int {name}({', '.join(args) or 'void'})"


def _dims_args(fit_: Fit) -> str:
    return ", ".join(f"int64_t {p.name}" for p in fit_.params)


def _header(name, program, fit_: Fit, inputs, outputs, weights) -> str:
    guard = f"KILN_{name.upper()}_H"
    dims = ", ".join(p.name for p in fit_.params)
    lines = [
        f"/* {name}.h: generated by `kiln compile` from @{program.name}. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdint.h>",
        "",
        '#ifdef __cplusplus\nextern "C" {\n#endif',
        "",
        "/* Return codes of the entry point. */",
        "#ifndef KILN_OK",
        f"#define KILN_OK {OK}           /* success */",
        f"#define KILN_ERR_DIMS {BAD_DIMS}     /* a symbolic dim is out of range */",
        f"#define KILN_ERR_NOMEM {NO_MEMORY}    /* scratch memory could not be allocated */",
        f"#define KILN_ERR_WEIGHTS {NO_WEIGHTS}  /* weights not loaded (weights file) */",
        f"#define KILN_ERR_NULL {NULL_BUFFER}     /* an input or output pointer is NULL */",
        "/* A code >= 65536 is a kernel fault: code >> 16 is the kernel (1-based,",
        "   see <name>_error) and code & 0xffff the fault bits (1: integer division",
        "   by zero, 2: non-finite value cast to an integer, 4: negative integer",
        "   power, 8: index out of range, 256: out of memory). */",
        "#endif",
        "",
        "/*",
        f" * {_signature(name, fit_, inputs, outputs)};",
        " *",
        " * Runs the model on C-contiguous (row-major) arrays. Inputs:",
    ]
    for x in inputs:
        lines.append(
            f" *   {x['c_name']}: {x['dtype']}[{', '.join(map(str, x['shape']))}]  ({x['name']})"
        )
    lines.append(" * Outputs, allocated by the caller with the sizes below:")
    for x in outputs:
        lines.append(
            f" *   {x['c_name']}: {x['dtype']}[{', '.join(map(str, x['shape']))}]  ({x['name']})"
        )
    if fit_.params:
        lines.append(
            f" * Symbolic dims ({dims}): each in [{fit_.min_dim}, {MAX_DIM}], and no buffer"
        )
        lines.append(" * or scratch area they imply above 2^62 bytes, else KILN_ERR_DIMS.")
    lines += [
        " * Thread-safe: each calling thread has its own scratch memory, kept for its",
        " * next call (a fresh allocation's page faults cost as much as a large model's",
        " * kernels) and freed when the thread exits. Returns KILN_OK or an error code.",
        " */",
        _signature(name, fit_, inputs, outputs) + ";",
        "",
        "/* The shape of output `index` for these dims, written to `shape`;",
        "   returns its rank, or -1 for a bad index. */",
        f"int {name}_output_shape(int index{', ' if fit_.params else ''}"
        f"{_dims_args(fit_)}, int64_t *shape);",
        "",
        "/* A message for a return code (static storage). */",
        f"const char *{name}_error(int code);",
        "",
        "/* The threads a call splits its kernels over (the GEMMs too): set by",
        f"   {name}_set_num_threads(n), else $KILN_NUM_THREADS when the first call reads",
        "   it, else OpenMP's default ($OMP_NUM_THREADS, else the CPUs); 1 for a library",
        "   built with --no-threads. n < 1 goes back to the environment's count.",
        "   Small kernels run on one thread whatever the count, as in process. */",
        f"int {name}_num_threads(void);",
        f"void {name}_set_num_threads(int n);",
        "",
        "/* The SHA-256 (hex) of the manifest's contract: kiln.load compares it. */",
        f"const char *{name}_contract(void);",
        "",
    ]
    if weights == "file":
        lines += [
            "/* Load the weights file (OUTDIR/" + name + ".weights) once before the",
            "   first call; returns KILN_OK, or KILN_ERR_WEIGHTS when the file cannot be",
            "   read or has the wrong size. */",
            f"int {name}_load_weights(const char *path);",
            "",
        ]
    lines += ["#ifdef __cplusplus\n}\n#endif", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


SERIAL_OPENMP = r"""
/* Built without OpenMP (--no-threads): one thread runs every kernel. */
__attribute__((visibility("hidden"))) void GOMP_parallel(void (*fn)(void *), void *data,
                                                         unsigned n, unsigned flags) {
  (void)n; (void)flags; fn(data);
}
__attribute__((visibility("hidden"))) void kiln_gemm_parallel(void (*fn)(void *), void *data,
                                                              unsigned n, unsigned flags) {
  (void)n; (void)flags; fn(data);
}
__attribute__((visibility("hidden"))) int omp_get_num_threads(void) { return 1; }
__attribute__((visibility("hidden"))) int omp_get_thread_num(void) { return 0; }
static int kiln_num_threads(void) { return 1; }
static void kiln_set_num_threads(int n) { (void)n; }
static int kiln_threads(int threads, int64_t extent, int64_t elements, int64_t grain) {
  (void)threads; (void)extent; (void)elements; (void)grain; return 0;
}
"""

# The threads of a call, read at run time: a count set through <name>_set_num_threads,
# else $KILN_NUM_THREADS (as in process, runtime/parallel.py), else OpenMP's default
# ($OMP_NUM_THREADS, else the CPUs this process may run on). The environment is read
# on the first call (getenv is not safe against a concurrent setenv, so not every call).
OPENMP = r"""
extern int omp_get_max_threads(void);
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned n, unsigned flags);
#define KILN_MAX_THREADS 1024
static int kiln_threads_now; /* 0: not chosen yet */
static int kiln_num_threads(void) {
  int n = __atomic_load_n(&kiln_threads_now, __ATOMIC_RELAXED);
  if (n > 0) return n;
  const char *env = getenv("KILN_NUM_THREADS");
  char *end = 0;
  long asked = env ? strtol(env, &end, 10) : 0;
  if (env && end != env) /* as in process: at least 1 */
    n = asked < 1 ? 1 : (int)(asked < KILN_MAX_THREADS ? asked : KILN_MAX_THREADS);
  else
    n = omp_get_max_threads() < 1 ? 1 : omp_get_max_threads();
  int unset = 0; /* a count set meanwhile wins */
  __atomic_compare_exchange_n(&kiln_threads_now, &unset, n, 0, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
  return __atomic_load_n(&kiln_threads_now, __ATOMIC_RELAXED);
}
static void kiln_set_num_threads(int n) {
  __atomic_store_n(&kiln_threads_now, n < 1 ? 0 : n < KILN_MAX_THREADS ? n : KILN_MAX_THREADS,
                   __ATOMIC_RELAXED);
}
/* As runtime/parallel.py `threads_for`: split a kernel only when it has rows (in chunks of
   whole `grain`s) and enough work, over at most the call's threads. */
static int kiln_threads(int threads, int64_t extent, int64_t elements, int64_t grain) {
  int64_t pieces = (extent + grain - 1) / grain;
  if (pieces < 2 || elements < %d) return 0;
  return (int)(threads < pieces ? threads : pieces);
}
/* What the GEMMs' fork calls instead of GOMP_parallel (runtime/aot.py `_emit_object`):
   their team is the call's threads, not the count their schedule was rendered with. */
__attribute__((visibility("hidden"))) void kiln_gemm_parallel(void (*fn)(void *), void *data,
                                                              unsigned n, unsigned flags) {
  (void)n;
  GOMP_parallel(fn, data, (unsigned)kiln_num_threads(), flags);
}
"""


def contract_digest(manifest: dict) -> str:
    """The SHA-256 of the manifest's entries the library was built for."""
    contract = {k: manifest.get(k) for k in CONTRACT}
    return hashlib.sha256(json.dumps(contract, sort_keys=True).encode()).hexdigest()


def _size_checks(fit_: Fit, program: CpuProgram, inputs) -> list[str]:
    """C lines that reject dims whose sizes would overflow int64 arithmetic:
    every size, extent and element count is evaluated in long double first."""
    P = fit_.params
    wide = {p.name: f"(long double){p.name}" for p in P}

    def widen(expr: str) -> str:
        return re.sub(r"\b\w+\b", lambda m: wide.get(m.group(), m.group()), expr)

    exprs = [c_expr(poly, P) for poly in fit_.polys.values()]
    for x in inputs:  # the donated copies' bytes
        exprs.append("*".join(["8"] + [str(d) if isinstance(d, int) else d for d in x["shape"]]))
    lines = ["  long double k_sum = 0, k_v;"]
    for expr in dict.fromkeys(exprs):
        lines.append(
            f"  k_v = {widen(expr)}; if (k_v < 0 || k_v > {float(MAX_BYTES)!r}L) "
            "return KILN_ERR_DIMS; k_sum += k_v;"
        )
    lines.append(f"  if (k_sum > {float(MAX_BYTES)!r}L) return KILN_ERR_DIMS;")
    return lines


# Each calling thread's scratch arena, kept from call to call: a fresh malloc of
# a large arena is fresh pages, whose first-touch faults and zeroing cost as much
# as the kernels (MobileNetV2 at batch 16: 1.9x on one thread). Thread-local, so
# concurrent calls never share memory; a pthread key's destructor frees it.
ARENA = r"""
struct k_cached { unsigned char *p; size_t n; };
static pthread_key_t k_arena_key;
static pthread_once_t k_arena_once = PTHREAD_ONCE_INIT;
static void k_arena_drop(void *c) { free(((struct k_cached *)c)->p); free(c); }
static void k_arena_init(void) { pthread_key_create(&k_arena_key, k_arena_drop); }
/* this thread's arena of at least n bytes (0 if out of memory) */
static unsigned char *k_arena_get(size_t n) {
  pthread_once(&k_arena_once, k_arena_init);
  struct k_cached *a = pthread_getspecific(k_arena_key);
  if (!a) {
    a = calloc(1, sizeof *a);
    if (!a || pthread_setspecific(k_arena_key, a)) { free(a); return 0; }
  }
  if (a->n < n) {
    free(a->p);
    a->n = 0;
    if (!(a->p = malloc(n))) return 0;
    a->n = n;
  }
  return a->p;
}
"""


def _glue(
    name, program: CpuProgram, fit_: Fit, inputs, outputs, offsets, weights, threads, contract=""
) -> str:
    P = fit_.params

    def e(key) -> str:
        return f"(int64_t)({c_expr(fit_.polys[key], P)})"

    n_steps = len(program.steps)
    lines = [
        f"/* Generated by `kiln compile`: the C entry of the library (see {name}.h). */",
        "#include <pthread.h>",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        f'#include "{name}.h"',
        "",
        "extern int64_t kiln_run(void **buffers, int64_t **dims, const int64_t *outer,",
        "                        const int32_t *threads);",
        "#define KILN_MAX(a, b) ((a) > (b) ? (a) : (b))",
        ARENA,
        OPENMP % parallel.MIN_PARALLEL_ELEMENTS if threads else SERIAL_OPENMP,
    ]
    if weights == "embed":
        lines += [
            f"extern const unsigned char kiln_{name}_weights[];",
            f"#define WEIGHTS kiln_{name}_weights",
        ]
    else:
        size = sum(((a.nbytes + ALIGN - 1) // ALIGN) * ALIGN for a in program.constants.values())
        lines += [
            "static unsigned char *kiln_weights;",
            "#define WEIGHTS kiln_weights",
            f"int {name}_load_weights(const char *path) {{",
            '  FILE *f = fopen(path, "rb");',
            "  if (!f) return KILN_ERR_WEIGHTS;",
            f"  unsigned char *data = malloc({max(size, 1)});",
            f"  size_t got = data ? fread(data, 1, {size}, f) : 0;",
            "  int extra = fgetc(f) != EOF;",
            "  fclose(f);",
            f"  if (!data || got != {size} || extra) {{ free(data); return KILN_ERR_WEIGHTS; }}",
            "  unsigned char *old = kiln_weights;",
            "  kiln_weights = data;",
            "  free(old);",
            "  return KILN_OK;",
            "}",
        ]
    # messages
    steps = [json.dumps(s.op.describe()) for s in program.steps]
    lines += [
        "",
        f"static const char *const kiln_steps[] = {{{', '.join(steps) or '0'}}};",
        f"const char *{name}_error(int code) {{",
        '  if (code == KILN_OK) return "ok";',
        '  if (code == KILN_ERR_DIMS) return "a symbolic dim is out of range";',
        '  if (code == KILN_ERR_NOMEM) return "out of memory";',
        '  if (code == KILN_ERR_WEIGHTS) return "weights not loaded";',
        f"  if ((code >> 16) >= 1 && (code >> 16) <= {n_steps})",
        "    return kiln_steps[(code >> 16) - 1];",
        '  if (code == KILN_ERR_NULL) return "an input or output pointer is NULL";',
        '  return "unknown error code";',
        "}",
        f'const char *{name}_contract(void) {{ return "{contract}"; }}',
        f"int {name}_num_threads(void) {{ return kiln_num_threads(); }}",
        f"void {name}_set_num_threads(int n) {{ kiln_set_num_threads(n); }}",
    ]
    # dims: ranges, then the sizes they imply (no int64 overflow below)
    lines += [f"static int kiln_check_dims({_dims_args(fit_) or 'void'}) {{"]
    for p in P:
        lines.append(
            f"  if ({p.name} < {fit_.min_dim} || {p.name} > {MAX_DIM}) return KILN_ERR_DIMS;"
        )
    lines += _size_checks(fit_, program, inputs) if P else []
    lines += ["  return KILN_OK;", "}", ""]
    # output shapes
    comma = ", " if P else ""
    lines += [f"int {name}_output_shape(int index{comma}{_dims_args(fit_)}, int64_t *shape) {{"]
    names = ", ".join(p.name for p in P)
    lines.append(f"  if (!shape || kiln_check_dims({names}) != KILN_OK) return -1;")
    lines.append("  switch (index) {")
    for i, x in enumerate(outputs):
        rank = len(x["shape"])
        body = " ".join(f"shape[{a}] = {e(('result', i, a))};" for a in range(rank))
        lines.append(f"  case {i}: {body} return {rank};")
    lines += ["  default: return -1;", "  }", "}", ""]
    # the entry
    lines += [_signature(name, fit_, inputs, outputs) + " {"]
    for x in [*inputs, *outputs]:
        lines.append(f"  if (!{x['c_name']}) return KILN_ERR_NULL;")
    lines.append(f"  if (kiln_check_dims({names}) != KILN_OK) return KILN_ERR_DIMS;")
    if weights == "file" and program.constants:
        lines.append("  if (!WEIGHTS) return KILN_ERR_WEIGHTS;")
    lines.append(f"  int64_t *k_dims[{max(n_steps, 1)}];")
    n_extras = len(program.tree.extras)  # the control flow's sizes, after the extents
    lines.append(f"  int64_t k_outer[{max(n_steps + n_extras, 1)}];")
    for k in range(n_extras):
        lines.append(f"  k_outer[{n_steps + k}] = {e(('extra', k))};")
    lines.append(f"  int32_t k_threads[{max(n_steps, 1)}];")
    lines.append("  int k_nt = kiln_num_threads();")
    for i, step in enumerate(program.steps):
        n = len([k for k in fit_.polys if k[:2] == ("dims", i)])
        values = ", ".join(e(("dims", i, j)) for j in range(n)) or "0"
        lines.append(f"  int64_t k_dims{i}[] = {{{values}}};")
        lines.append(f"  k_dims[{i}] = k_dims{i};")
        lines.append(f"  k_outer[{i}] = {e(('outer', i))};")
        pool = f"kiln_threads(k_nt, k_outer[{i}], {e(('elements', i))}, {step.kernel.grain})"
        if program.splits_gemms(step):  # as CpuProgram.serial_gemms
            serial = (
                f"k_outer[{i}] > k_dims{i}[0] && "
                f"k_dims{i}[0] * k_dims{i}[1] * k_dims{i}[2] < {PARALLEL_FLOPS}"
            )
            lines.append(f"  k_threads[{i}] = ({serial}) ? {pool} : 0;")
        elif program.runs_blas(step):
            lines.append(f"  k_threads[{i}] = 0;  /* a GEMM: it splits its work itself */")
        else:
            lines.append(f"  k_threads[{i}] = {pool};")
    n_buf = max(program.n_buffers, 1)
    lines.append(f"  void *k_buffers[{n_buf}] = {{0}};")
    for j, x in enumerate(inputs):
        lines.append(f"  k_buffers[{j}] = (void *){x['c_name']};")
    for b, offset in offsets.items():
        lines.append(f"  k_buffers[{b}] = (void *)(WEIGHTS + {offset});")
    # outputs that the kernels can write directly
    returned = [program.buffer_of[v] for v in program.func.body.terminator.operands]
    out_bytes = []
    for i, x in enumerate(outputs):
        item = np.dtype(program.func.body.terminator.operands[i].type.dtype.numpy).itemsize
        rank = len(x["shape"])
        out_bytes.append("*".join([str(item)] + [e(("result", i, a)) for a in range(rank)]))
    direct: dict[int, int] = {}
    for i, b in enumerate(returned):
        if b >= program.n_args and b not in program.constants and b not in direct:
            direct[b] = i
    scratch = sorted(k[1] for k in fit_.polys if k[0] == "size")
    lines.append("  int64_t k_total = 0;")
    lines.append(f"  int64_t k_at[{n_buf}] = {{0}};")
    for b in scratch:
        size = e(("size", b))
        cond = f"{size} > (int64_t)({out_bytes[direct[b]]})" if b in direct else "1"
        lines.append(
            f"  if ({cond}) {{ k_at[{b}] = k_total + 1; "
            f"k_total += ({size} + {ALIGN - 1}) / {ALIGN} * {ALIGN}; }}"
        )
        if b in direct:
            lines.append(f"  else k_buffers[{b}] = {outputs[direct[b]]['c_name']};")
    donated = sorted({j for j in program.aliases if j >= 0})
    for j in donated:  # a variable updated in place: work on a copy, never the caller's input
        x = inputs[j]
        item = np.dtype(program.func.args[j].type.dtype.numpy).itemsize
        nbytes = "*".join([str(item)] + [str(d) if isinstance(d, int) else d for d in x["shape"]])
        lines.append(
            f"  int64_t k_copy{j} = k_total; k_total += ({nbytes} + {ALIGN - 1}) / "
            f"{ALIGN} * {ALIGN};"
        )
    lines += [
        "  unsigned char *k_arena = k_arena_get((size_t)k_total + " + str(ALIGN) + ");",
        "  if (!k_arena) return KILN_ERR_NOMEM;",
        f"  unsigned char *k_base = k_arena + (-(uintptr_t)k_arena & {ALIGN - 1});",
        f"  for (int k_b = 0; k_b < {n_buf}; k_b++)",
        "    if (k_at[k_b]) k_buffers[k_b] = k_base + k_at[k_b] - 1;",
    ]
    for j in donated:
        x = inputs[j]
        item = np.dtype(program.func.args[j].type.dtype.numpy).itemsize
        nbytes = "*".join([str(item)] + [str(d) if isinstance(d, int) else d for d in x["shape"]])
        lines.append(f"  memcpy(k_base + k_copy{j}, {x['c_name']}, {nbytes});")
        lines.append(f"  k_buffers[{j}] = k_base + k_copy{j};")
    lines.append("  int64_t k_code = kiln_run(k_buffers, k_dims, k_outer, k_threads);")
    lines.append("  if (k_code == 0) {")
    for i, (x, b) in enumerate(zip(outputs, returned)):
        lines.append(
            f"    if (k_buffers[{b}] != (void *){x['c_name']}) "
            f"memcpy({x['c_name']}, k_buffers[{b}], {out_bytes[i]});"
        )
    lines += [
        "  }",
        "  if (k_code) return (int)(((k_code >> 32) << 16) | (k_code & 0xffff));",
        "  return KILN_OK;",
        "}",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ loading


class Library:
    """A compiled library loaded with ctypes: call it with numpy arrays, as the
    Python runtime's executables (arguments checked against the manifest)."""

    def __init__(self, outdir: str | os.PathLike):
        out = Path(outdir)
        manifests = sorted(out.glob("*.json")) if out.is_dir() else []
        manifests = [m for m in manifests if _is_manifest(m)]
        if len(manifests) != 1:
            raise KilnError(
                f"{outdir}: expected a directory made by `kiln compile` holding "
                f"one manifest, found {len(manifests)}"
            )
        path = manifests[0]
        self.manifest = m = _checked_manifest(path)
        self.name = m["name"]
        library = out / m["library"]
        if m.get("threads") == "openmp":  # libgomp reads its spin once, when it loads:
            parallel.bounded_spin()  # the in-process runtime's bounded one, unless set
        try:
            self._lib = ctypes.CDLL(str(library.resolve()))
        except OSError as e:
            raise KilnError(f"cannot load {library}: {e}") from None
        try:
            signed = getattr(self._lib, f"{self.name}_contract")
        except AttributeError:
            raise KilnError(f"{library} has no {self.name}_contract: not a kiln library") from None
        signed.restype = ctypes.c_char_p
        if signed() != contract_digest(m).encode():
            raise KilnError(
                f"{path} does not describe {library}: its inputs, outputs, dims, weights "
                "or steps differ from what the library was built with"
            )
        self.inputs, self.outputs, self.dims = m["inputs"], m["outputs"], m["dims"]
        self.signature = arguments.Signature(
            self.name,
            [
                arguments.Param(
                    f"{self.name} input {x['name']} ({x['dtype']}[{_dims(x)}])",
                    DType(x["dtype"]),
                    tuple(x["shape"]),
                )
                for x in self.inputs
            ],
            noun="inputs",
        )
        n = len(self.inputs) + len(self.outputs)
        self._entry = getattr(self._lib, self.name)
        self._entry.restype = ctypes.c_int
        self._entry.argtypes = [ctypes.c_void_p] * n + [ctypes.c_int64] * len(self.dims)
        self._shape = getattr(self._lib, f"{self.name}_output_shape")
        self._shape.restype = ctypes.c_int
        self._shape.argtypes = (
            [ctypes.c_int] + [ctypes.c_int64] * len(self.dims) + [ctypes.c_void_p]
        )
        self._num_threads = getattr(self._lib, f"{self.name}_num_threads", None)
        self._set_num_threads = getattr(self._lib, f"{self.name}_set_num_threads", None)
        if self._set_num_threads is not None:
            self._set_num_threads.argtypes, self._set_num_threads.restype = [ctypes.c_int], None
        if m["weights"] != "embedded":
            load_weights = getattr(self._lib, f"{self.name}_load_weights")
            load_weights.argtypes = [ctypes.c_char_p]
            if load_weights(str(out / m["weights"]).encode()) != OK:
                raise KilnError(f"cannot load the weights {out / m['weights']}")

    @property
    def num_threads(self) -> int:
        """The threads a call splits its kernels over (the library's
        `<name>_num_threads`: set below, else $KILN_NUM_THREADS, else OpenMP's)."""
        return self._num_threads() if self._num_threads else 1

    @num_threads.setter
    def num_threads(self, n: int) -> None:
        """Set the library's thread count for the calls after (all threads'); n < 1
        goes back to the environment's."""
        if self._set_num_threads is None:
            raise KilnError(f"{self.name}: a library without a thread count to set")
        self._set_num_threads(int(n))

    def __call__(self, *args) -> list[np.ndarray]:
        arrays, bound = self.signature.check(args)
        for d in self.dims:
            n = bound[d["name"]]
            if not d["min"] <= n <= d["max"]:
                raise ExecutionError(
                    f"{self.name}: dim {d['name']} = {n} is outside [{d['min']}, {d['max']}]"
                )
        dims = [bound[d["name"]] for d in self.dims]
        results = []
        for i, x in enumerate(self.outputs):
            shape = (ctypes.c_int64 * max(1, len(x["shape"])))()
            rank = self._shape(i, *dims, shape)
            if rank != len(x["shape"]):
                raise ExecutionError(
                    f"{self.name}: dims {dict(zip((d['name'] for d in self.dims), dims))} "
                    f"need buffers above {MAX_BYTES} bytes (the sizes would overflow)"
                )
            results.append(np.empty(tuple(shape[:rank]), _numpy_dtype(x["dtype"])))
        code = self._entry(
            *[a.ctypes.data for a in arrays], *[r.ctypes.data for r in results], *dims
        )
        if code:
            raise ExecutionError(self._describe(code))
        return results

    def _describe(self, code: int) -> str:
        if code >> 16:
            step = self.manifest["steps"][(code >> 16) - 1]
            return f"{step}: {Fault(code & 0xFFFF).describe()}"
        messages = {
            BAD_DIMS: "a symbolic dim is out of range",
            NO_MEMORY: "out of memory",
            NO_WEIGHTS: "the weights are not loaded",
        }
        return f"{self.name}: {messages.get(code, f'error code {code}')}"


_DIM = {"name": str, "min": int, "max": int}
_IO = {"name": str, "c_name": str, "dtype": str, "shape": list}


def _checked_manifest(path: Path) -> dict:
    """The manifest at `path`, checked against its schema: the keys and their
    types, dtypes kiln knows, dims in the documented range, and a library that
    is a file name in the manifest's own directory."""

    def fail(what: str) -> KilnError:
        return KilnError(f"{path}: not a valid kiln library manifest: {what}")

    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise fail(str(e)) from None
    top = {"name": str, "library": str, "dims": list, "inputs": list, "outputs": list}
    top |= {"weights": str, "weights_bytes": int, "steps": list}
    if not isinstance(m, dict):
        raise fail("not a JSON object")
    for key, kind in top.items():
        if not isinstance(m.get(key), kind):
            raise fail(f"{key!r} is missing or not a {kind.__name__}")
    for key, items, schema in [
        ("dims", m["dims"], _DIM),
        ("inputs", m["inputs"], _IO),
        ("outputs", m["outputs"], _IO),
    ]:
        for i, x in enumerate(items):
            if not isinstance(x, dict) or any(
                not isinstance(x.get(k), t) for k, t in schema.items()
            ):
                raise fail(f"{key}[{i}] needs {', '.join(schema)}")
    for d in m["dims"]:
        if not 0 <= d["min"] <= d["max"] <= MAX_DIM:
            raise fail(
                f"dim {d['name']!r} range [{d['min']}, {d['max']}] is not within [0, {MAX_DIM}]"
            )
    names = {d["name"] for d in m["dims"]}
    for x in [*m["inputs"], *m["outputs"]]:
        if x["dtype"] not in C_TYPES:
            raise fail(f"{x['name']!r} has dtype {x['dtype']!r}")
        for d in x["shape"]:
            if not (isinstance(d, str) and d in names) and not (
                isinstance(d, int) and 0 <= d <= MAX_DIM
            ):
                raise fail(f"{x['name']!r} has dim {d!r}")
    if Path(m["library"]).name != m["library"] or m["library"] in ("", ".", ".."):
        raise fail(f"library {m['library']!r} is not a file in {path.parent}")
    if m["weights"] != "embedded" and Path(m["weights"]).name != m["weights"]:
        raise fail(f"weights {m['weights']!r} is not a file in {path.parent}")
    if not re.fullmatch(r"[A-Za-z_]\w*", m["name"]):
        raise fail(f"name {m['name']!r} is not a C identifier")
    return m


def _dims(x: dict) -> str:
    return ", ".join(map(str, x["shape"]))


def _is_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _numpy_dtype(name: str) -> np.dtype:
    return np.dtype(
        {
            "f32": np.float32,
            "f64": np.float64,
            "i8": np.int8,
            "i16": np.int16,
            "i32": np.int32,
            "i64": np.int64,
            "u8": np.uint8,
            "u16": np.uint16,
            "u32": np.uint32,
            "u64": np.uint64,
            "bool": np.bool_,
        }[name]
    )


def load(outdir: str | os.PathLike) -> Library:
    """Load a library made by `kiln compile` (its manifest says how to call it)."""
    return Library(outdir)
