"""render: a pointwise or reduction `Kernel` (codegen/kernel.py) -> Triton source.

The same kernel form the LLVM renderer reads, laid out for a GPU:

- **pointwise**: the (collapsed) domain flattened; each program takes a
  block of `BLOCK` consecutive elements with a mask for the ragged end. A
  buffer whose map covers every axis is addressed by the flat index itself
  (coalesced, no division); one whose map covers a suffix of the axes by the
  flat index modulo that suffix's size; others by the per-axis indices.
- **reduction**: the domain's kept axes flattened into *rows*, its reduced
  axes into a *reduced extent*. Each program takes `BLOCK_R` rows as a
  `[BLOCK_R, 1]` column of indices and the reduced extent as `[1, BLOCK_K]`
  (row values are `[BLOCK_R, 1]` tensors, element values
  `[BLOCK_R, BLOCK_K]`). When the reduced extent is static and at most
  `WHOLE_ROW_LIMIT`, a whole row is one block and each `Sweep` is straight
  code (softmax is one kernel that reads its row three times, from L1/L2);
  otherwise every sweep loops over the reduced extent in blocks of
  `BLOCK_K`, folding into `[BLOCK_R, BLOCK_K]` accumulators that are reduced
  after the loop.

Faults (integer division by zero, ...) are ORed into the kernel's `fault`
word, only where the mask holds. Scalar functions without a `tl` primitive
(expm1, tanh, pow, ...) come from `tlmath.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ...ir.dtypes import DType
from ..arguments import bind as bind_arguments
from ..arguments import stand_in
from ..kernel import (
    CompileError,
    Compute,
    Const,
    Extent,
    Fault,
    Index,
    Instr,
    Kernel,
    Load,
    Map,
    Size,
    Store,
    Sweep,
)
from .program import HEADER, Launch, Shape, TritonKernel, next_power_of_2, tl_dtype

WHOLE_ROW_LIMIT = 8192  # reduced elements a program holds as one block
POINTWISE_BLOCKS = (1024, 2048, 512, 4096)  # the first is the untuned choice
TILE = 4096  # elements per [BLOCK_R, BLOCK_K] tile of a reduction

_COMPARE = {
    "equal": "==",
    "not_equal": "!=",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
}


def render(kernel: Kernel) -> TritonKernel:
    """The Triton kernel of a pointwise or reduction `kernel`."""
    if kernel.kind == "pointwise" or not kernel.reduced_axes:
        emitter: _Emitter = _Pointwise(kernel)
    else:
        emitter = _Reduction(kernel)
    return emitter.build()


def size_expr(size: Size, base: int = 0) -> str:
    """An extent as Triton code: a literal, or a product of the int arguments
    (the kernel's dim j is argument i{base + j})."""
    parts = [f"i{base + j}" for j in size.dims] + (
        [str(size.static)] if size.static != 1 or not size.dims else []
    )
    return " * ".join(parts) if len(parts) == 1 else "(" + " * ".join(parts) + ")"


def product(sizes: Sequence[Size]) -> Size:
    static, dims = 1, []
    for s in sizes:
        static *= s.static
        dims += s.dims
    return Size(static, tuple(dims))


class _Emitter:
    """Shared by both layouts: instructions -> lines of Triton code."""

    dim_base = 0  # the kernel's dim j is the int argument i{dim_base + j}

    def __init__(self, kernel: Kernel, depth: int = 1):
        self.k = kernel
        self.lines: list[str] = []
        self.depth = depth
        self.dtypes: dict[int, DType] = {}
        self.faults = False
        self.sizes = [self.size(a.size) for a in kernel.domain]

    def size(self, size: Size) -> str:
        return size_expr(size, self.dim_base)

    def buffer(self, param: int) -> str:
        """The pointer argument of kernel parameter `param`."""
        return f"p{param}"

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def signature(self, constexprs: Sequence[str]) -> str:
        params = [f"p{i}" for i in range(len(self.k.params))]
        ints = [f"i{j}" for j in range(len(self.k.dims))]
        names = params + ints + ["fault"] + [f"{c}: tl.constexpr" for c in constexprs]
        keep = ", ".join(repr(n) for n in ints)
        return f"@triton.jit(do_not_specialize=[{keep}])\ndef {self.k.name}({', '.join(names)}):"

    def widen_ints(self) -> None:
        for j in range(self.dim_base, self.dim_base + len(self.k.dims)):
            self.line(f"i{j} = i{j}.to(tl.int64)")

    def offset(self, m: Map, index: list[str], level_zero: str) -> str:
        """The element offset of a buffer with map `m`, from per-axis indices."""
        terms = []
        for a, on in enumerate(m):
            if not on:
                continue
            later = [self.k.domain[b].size for b in range(a + 1, len(m)) if m[b]]
            stride = self.size(product(later)) if later else "1"
            terms.append(index[a] if stride == "1" else f"{index[a]} * {stride}")
        return " + ".join(terms) if terms else level_zero

    def instr(self, x: Instr, mask: str, offsets) -> None:
        """One instruction; `offsets(map)` gives the offset expression of a map."""
        if isinstance(x, Load):
            p = self.k.params[x.param]
            off = offsets(x.map)
            ptr = self.buffer(x.param)
            if p.output:  # a value an earlier sweep stored here (codegen/lower.py's stash):
                self.line("tl.debug_barrier()")  # the program's other threads wrote it
            if off == "0":
                self.line(f"v{x.id} = tl.load({ptr})")
            else:
                self.line(
                    f"v{x.id} = tl.load({ptr} + ({off}), "
                    f"mask={self.mask_for(x.map, mask)}, other=0)"
                )
            self.dtypes[x.id] = p.dtype
        elif isinstance(x, Store):
            off = offsets(x.map, store=True)
            self.line(f"tl.store({self.buffer(x.param)} + ({off}), v{x.value}, mask={mask})")
        elif isinstance(x, Index):
            off = offsets(x.map)
            self.line(
                f"v{x.id} = tl.full([], 0, {tl_dtype(x.dtype)})"
                if off == "0"
                else f"v{x.id} = ({off}).to({tl_dtype(x.dtype)})"
            )
            self.dtypes[x.id] = x.dtype
        elif isinstance(x, Extent):
            self.line(
                f"v{x.id} = ({self.extent()} + tl.zeros([], tl.int64)).to({tl_dtype(x.dtype)})"
            )
            self.dtypes[x.id] = x.dtype
        elif isinstance(x, Const):
            self.line(f"v{x.id} = tl.full([], {_literal(x.value, x.dtype)}, {tl_dtype(x.dtype)})")
            self.dtypes[x.id] = x.dtype
        elif isinstance(x, Compute):
            self.line(f"v{x.id} = {self.compute(x, mask)}")
            self.dtypes[x.id] = x.dtype
        else:
            raise CompileError(f"kernel @{self.k.name}: cannot render {x!r}")

    def mask_for(self, m: Map, mask: str) -> str:
        return mask

    def extent(self) -> str:
        raise NotImplementedError

    def fault(self, cond: str, mask: str, bit: Fault) -> None:
        self.faults = True
        self.line(f"flt = flt | (tlmath.flag({cond}, {mask}) * {int(bit)})")

    def compute(self, x: Compute, mask: str) -> str:
        args = [f"v{a}" for a in x.args]
        src = self.dtypes[x.args[0]] if x.args else x.dtype
        render = INSTRUCTIONS.get(x.op)
        code = render(self, args, src, x.dtype, mask) if render else None
        if code is None:
            raise CompileError(f"kernel @{self.k.name}: the Triton backend has no {x.op} for {src}")
        return code

    def cast(self, a: str, src: DType, dst: DType, mask: str) -> str:
        """numpy's astype: to bool is `!= 0` (NaN is true), float -> int truncates
        and a non-finite value is a fault."""
        if src == dst:
            return a
        if dst.is_bool:
            return f"({a} != 0)"
        if src.is_float and not dst.is_float:
            finite = f"(tl.abs({a}) < float('inf'))"
            self.fault(f"({finite} == 0)", mask, Fault.NONFINITE_TO_INT)
            return f"tl.where({finite}, {a}, 0.0).to({tl_dtype(dst)})"
        return f"{a}.to({tl_dtype(dst)})"

    def source(self, constexprs: Sequence[str], body: list[str]) -> str:
        head = [self.signature(constexprs)]
        return HEADER + "\n\n" + "\n".join(head + body) + "\n"

    def finish_faults(self) -> None:
        if self.faults:
            self.line("if flt != 0:")
            self.line("    tl.atomic_or(fault, flt)")

    def bind_dims(self, in_shapes: Sequence[Shape]):
        dtypes = [p.dtype.numpy for p in self.k.inputs]
        return bind_arguments(self.k, [stand_in(tuple(s), d) for s, d in zip(in_shapes, dtypes)])

    def blocks_over(self, size, block: str, configs):
        """A bind launching one program per `config[block]` of `size` (a Size)."""

        def bind(in_shapes, out_shapes, config=None):
            dims = self.bind_dims(in_shapes).dims
            config = config or configs(in_shapes, out_shapes)[0]
            return Launch((math.ceil(size.value(dims) / config[block]),), dims, config)

        return bind

    def kernel(self, source: str, bind, configs) -> TritonKernel:
        return TritonKernel(
            self.k.name,
            source,
            bind,
            configs,
            tuple(p.dtype for p in self.k.params),
            len(self.k.dims),
            str(self.k),
        )


def _literal(value, dtype: DType) -> str:
    if dtype.is_bool:
        return "1" if value else "0"
    if dtype.is_float:
        v = float(value)
        if math.isnan(v) or math.isinf(v):
            return f"float('{v}')"
        return repr(v)
    return str(int(value))


# ------------------------------------------------------------------ pointwise


class _Pointwise(_Emitter):
    def build(self) -> TritonKernel:
        k = self.k
        self.line("flt = tl.zeros([], tl.int32)")
        self.widen_ints()
        total = self.size(product([a.size for a in k.domain])) if k.domain else "1"
        self.line("offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)")
        self.line(f"mask = offs < {total}")
        self.emit_body()
        self.finish_faults()
        source = self.source(["BLOCK"], self.lines)
        n_total = product([a.size for a in k.domain])

        def configs(in_shapes, out_shapes):
            n = n_total.value(self.bind_dims(in_shapes).dims)
            blocks = [b for b in POINTWISE_BLOCKS if b <= max(next_power_of_2(n), 128)] or [128]
            return [{"BLOCK": b, "num_warps": 4 if b <= 1024 else 8} for b in blocks]

        return self.kernel(source, self.blocks_over(n_total, "BLOCK", configs), configs)

    def emit_body(self) -> None:
        """The kernel's instructions over the elements `offs` (flat positions in
        the domain, any tensor shape) where `mask` holds."""
        self.index = self.unravel("offs")
        for x in self.k.body:
            if isinstance(x, Sweep):
                self.single_sweep(x)
            else:
                self.instr(x, "mask", self.offsets)

    def single_sweep(self, s: Sweep) -> None:
        """A reduction whose reduced axes all have size 1 (collapsed away): each
        row holds one element, so each fold is that element (argmax: index 0)."""
        for x in s.body:
            self.instr(x, "mask", self.offsets)
        for red in s.reductions:
            dt = tl_dtype(red.dtype)
            if red.kind in ("argmax", "argmin"):
                self.line(f"v{red.id} = (offs * 0).to({dt})")
            else:
                self.line(f"v{red.id} = v{red.value}.to({dt})")
            self.dtypes[red.id] = red.dtype

    def unravel(self, flat: str) -> list[str]:
        """Per-axis index expressions of the flat index (emitted only if used)."""
        k = self.k
        maps = k.maps()
        n = len(k.domain)
        needed = any(not (all(m) or _is_suffix(m)) for m in maps)
        names = [flat] * n
        if n > 1 and needed:
            rest = flat
            for a in range(n - 1, 0, -1):
                self.line(f"x{a} = {rest} % {self.sizes[a]}")
                names[a] = f"x{a}"
                self.line(f"r{a} = {rest} // {self.sizes[a]}")
                rest = f"r{a}"
            names[0] = rest
        return names

    def offsets(self, m: Map, store: bool = False) -> str:
        if all(m):
            return "offs"
        if not any(m):
            return "offs * 0" if store else "0"
        if _is_suffix(m):
            first = m.index(True)
            return f"offs % {self.size(product([a.size for a in self.k.domain[first:]]))}"
        return self.offset(m, self.index, "0")

    def extent(self) -> str:
        return "1"


def _is_suffix(m: Map) -> bool:
    """False...False True...True (a trailing block of axes)."""
    if True not in m:
        return False
    first = m.index(True)
    return all(m[first:])


# ------------------------------------------------------------------ reduction


class _Reduction(_Emitter):
    def build(self) -> TritonKernel:
        k = self.k
        self.rows = [a for a in range(len(k.domain)) if not k.domain[a].reduced]
        self.red = [a for a in range(len(k.domain)) if k.domain[a].reduced]
        rows_size = product([k.domain[a].size for a in self.rows])
        red_size = product([k.domain[a].size for a in self.red])
        self.red_size = red_size
        self.whole = not red_size.dims and red_size.static <= WHOLE_ROW_LIMIT
        self.line("flt = tl.zeros([], tl.int32)")
        self.widen_ints()
        self.line(
            "r = tl.program_id(0).to(tl.int64) * BLOCK_R + "
            "tl.arange(0, BLOCK_R).to(tl.int64)[:, None]"
        )
        self.line(f"rmask = r < {self.size(rows_size)}")
        self.line("zr = r * 0")
        self.index: list[str] = ["0"] * len(k.domain)
        self.split("r", self.rows, "y")
        for x in k.body:
            if isinstance(x, Sweep):
                self.sweep(x)
            else:
                self.instr(x, "rmask", self.row_offsets)
        self.finish_faults()
        source = self.source(["BLOCK_R", "BLOCK_K"], self.lines)
        whole_k = next_power_of_2(red_size.static) if self.whole else None

        def configs(in_shapes, out_shapes):
            dims = self.bind_dims(in_shapes).dims
            n_rows, n_red = rows_size.value(dims), red_size.value(dims)
            out = []
            ks = (
                [whole_k]
                if whole_k
                else [b for b in (1024, 2048, 512) if b <= max(next_power_of_2(n_red), 64)] or [64]
            )
            for bk in ks:
                for tile in (TILE, 2 * TILE, TILE // 2):
                    br = min(max(1, tile // bk), next_power_of_2(n_rows))
                    warps = 4 if br * bk <= 2048 else 8
                    c = {"BLOCK_R": br, "BLOCK_K": bk, "num_warps": warps}
                    if c not in out:
                        out.append(c)
            return out

        return self.kernel(source, self.blocks_over(rows_size, "BLOCK_R", configs), configs)

    def split(self, flat: str, axes: list[int], prefix: str) -> None:
        """Per-axis indices of the flattened axes `axes` (emitted code)."""
        rest = flat
        for pos in range(len(axes) - 1, 0, -1):
            a = axes[pos]
            self.line(f"{prefix}{a} = {rest} % {self.sizes[a]}")
            self.line(f"{prefix}q{a} = {rest} // {self.sizes[a]}")
            self.index[a] = f"{prefix}{a}"
            rest = f"{prefix}q{a}"
        if axes:
            self.index[axes[0]] = rest

    def row_offsets(self, m: Map, store: bool = False) -> str:
        off = self.offset(m, self.index, "0")
        return f"zr + {off}" if store or not any(m[a] for a in self.rows) and off != "0" else off

    def elem_offsets(self, m: Map, store: bool = False) -> str:
        off = self.offset(m, self.index, "0")
        return f"zrk + {off}" if store else off

    def mask_for(self, m: Map, mask: str) -> str:
        rows = any(m[a] for a in self.rows)
        red = any(m[a] for a in self.red)
        if mask == "rmask" or (rows and not red):
            return "rmask"
        if red and not rows:
            return "kmask"
        return "mask"

    def extent(self) -> str:
        return self.size(self.red_size)

    def sweep(self, s: Sweep) -> None:
        accs = []
        for red in s.reductions:
            dt = tl_dtype(red.dtype) if red.index is None else "tl.int64"
            init = _identity(red.kind, red.dtype)
            self.line(f"a{red.id} = tl.full([BLOCK_R, BLOCK_K], {init}, {dt})")
            if red.kind in ("argmax", "argmin"):
                self.line(
                    f"a{red.id}v = tl.full([BLOCK_R, BLOCK_K], "
                    f"{_identity(red.kind[3:], self.value_dtype(s, red.value))}, "
                    f"{tl_dtype(self.value_dtype(s, red.value))})"
                )
            accs.append(red)
        if self.whole:
            self.line("k = tl.arange(0, BLOCK_K).to(tl.int64)[None, :]")
            self.body_of(s)
        else:
            self.line(f"for k0 in range(0, {self.size(self.red_size)}, BLOCK_K):")
            self.depth += 1
            self.line("k = k0 + tl.arange(0, BLOCK_K).to(tl.int64)[None, :]")
            self.body_of(s)
            self.depth -= 1
        for red in accs:
            a = f"a{red.id}"
            dt = tl_dtype(red.dtype)
            if red.kind == "sum":
                self.line(f"v{red.id} = tl.sum({a}, axis=1, keep_dims=True).to({dt})")
            elif red.kind == "prod":
                self.line(f"v{red.id} = tl.reduce({a}, 1, tlmath.mul, keep_dims=True)")
            elif red.kind in ("max", "min"):
                if red.dtype.is_float:
                    fn = f"tlmath.{red.kind}_nan"
                    self.line(f"v{red.id} = tl.reduce({a}, 1, {fn}, keep_dims=True)")
                else:
                    self.line(f"v{red.id} = tl.{red.kind}({a}, axis=1, keep_dims=True)")
            else:
                self.line(
                    f"_, v{red.id} = tl.reduce(({a}v, {a}), 1, "
                    f"tlmath.{red.kind}_combine, keep_dims=True)"
                )
                self.line(f"v{red.id} = v{red.id}.to({dt})")
            self.dtypes[red.id] = red.dtype

    def value_dtype(self, s: Sweep, value: int) -> DType:
        for x in s.body:
            if getattr(x, "id", None) == value:
                return x.dtype
        return self.dtypes[value]

    def body_of(self, s: Sweep) -> None:
        self.line(f"kmask = k < {self.size(self.red_size)}")
        self.line("mask = rmask & kmask")
        self.line("zrk = zr + k * 0")
        saved = list(self.index)
        self.split("k", self.red, "z")
        for x in s.body:
            self.instr(x, "mask", self.elem_offsets)
        for red in s.reductions:
            a, v = f"a{red.id}", f"v{red.value}"
            dt = tl_dtype(red.dtype)
            if red.kind == "sum":
                self.line(f"{a} = {a} + tl.where(mask, {v}, 0).to({dt})")
            elif red.kind == "prod":
                self.line(f"{a} = {a} * tl.where(mask, {v}, 1).to({dt})")
            elif red.kind in ("max", "min"):
                vdt = self.dtypes[red.value]
                ident = _identity(red.kind, vdt)
                if red.dtype.is_float:
                    self.line(f"{a} = tlmath.{red.kind}_nan({a}, tl.where(mask, {v}, {ident}))")
                else:
                    fn = "maximum" if red.kind == "max" else "minimum"
                    self.line(f"{a} = tl.{fn}({a}, tl.where(mask, {v}, {ident}))")
            else:  # argmax / argmin: keep (value, index) per lane, first index wins
                vdt = self.dtypes[red.value]
                ident = _identity(red.kind[3:], vdt)
                self.line(
                    f"{a}v, {a} = tlmath.{red.kind}_combine({a}v, {a}, "
                    f"tl.where(mask, {v}, {ident}), "
                    f"tl.where(mask, v{red.index}, 2**62).to(tl.int64))"
                )
        self.index = saved


def _identity(kind: str, dtype: DType) -> str:
    if kind == "sum":
        return "0"
    if kind == "prod":
        return "1"
    if kind in ("argmax", "argmin"):
        return str(2**62)
    if dtype.is_float:
        return "float('-inf')" if kind == "max" else "float('inf')"
    if dtype.is_bool:
        return "0" if kind == "max" else "1"
    bits = dtype.itemsize * 8
    if dtype.is_unsigned:
        return "0" if kind == "max" else str((1 << bits) - 1)
    return str(-(1 << (bits - 1))) if kind == "max" else str((1 << (bits - 1)) - 1)


# ------------------------------------------------------------------ the registry
# Every scalar instruction of ir/scalar.py this renderer implements: name ->
# render(emitter, operand names, operand dtype, result dtype, mask), giving the
# Triton expression, or None for an operand dtype it has no form for.
# `_Emitter.compute` dispatches through it, and tests/ir/test_coverage.py
# reads it. Functions without a `tl` primitive come from tlmath.py.

Render = Callable[["_Emitter", list, DType, DType, str], "str | None"]


def _float_only(template: str) -> Render:
    """A float function: `template` formatted with the operand and the result dtype."""
    return lambda e, a, src, dst, mask: (
        template.format(*a, dt=tl_dtype(dst)) if src.is_float else None
    )


def _any_dtype(template: str) -> Render:
    return lambda e, a, src, dst, mask: template.format(*a, dt=tl_dtype(dst))


def _arithmetic(symbol: str, bool_symbol: str | None) -> Render:
    """+, - or *: on bools, | or & (numpy's bool arithmetic)."""

    def render(e, a, src, dst, mask):
        return f"({a[0]} {bool_symbol if src.is_bool and bool_symbol else symbol} {a[1]})"

    return render


def _extreme(name: str) -> Render:
    """max or min: NaN wins on floats; on bools, | or &."""

    def render(e, a, src, dst, mask):
        if src.is_bool:
            return f"({a[0]} {'|' if name == 'max' else '&'} {a[1]})"
        if src.is_float:
            return f"tlmath.{name}_nan({a[0]}, {a[1]})"
        return f"tl.{'maximum' if name == 'max' else 'minimum'}({a[0]}, {a[1]})"

    return render


def _div(e, a, src, dst, mask):
    if src.is_float:
        return f"({a[0]} / {a[1]})"
    e.fault(f"{a[1]} == 0", mask, Fault.INT_DIVISION_BY_ZERO)
    return f"tlmath.div_int({a[0]}, {a[1]})"


def _pow(e, a, src, dst, mask):
    if src.is_float:
        return f"tlmath.pow_float({a[0]}, {a[1]})"
    e.fault(f"{a[1]} < 0", mask, Fault.NEGATIVE_INT_POWER)
    return f"tlmath.pow_int({a[0]}, {a[1]})"


def _compare(op: str) -> Render:
    return lambda e, a, src, dst, mask: f"({a[0]} {_COMPARE[op]} {a[1]})"


INSTRUCTIONS: dict[str, Render] = {
    "add": _arithmetic("+", "|"),
    "sub": _arithmetic("-", None),
    "mul": _arithmetic("*", "&"),
    "div": _div,
    "pow": _pow,
    "max": _extreme("max"),
    "min": _extreme("min"),
    "neg": _any_dtype("-{0}"),
    "abs": _any_dtype("tl.abs({0})"),
    "sign": lambda e, a, src, dst, mask: (
        f"tlmath.sign_{'float' if src.is_float else 'int'}({a[0]})"
    ),
    "exp": _float_only("tl.exp({0})"),
    "expm1": _float_only("tlmath.expm1({0})"),
    "log": _float_only("tl.log({0})"),
    "sqrt": _float_only("tl.sqrt({0})"),
    "rsqrt": _float_only("(1.0 / tl.sqrt({0})).to({dt})"),
    "tanh": _float_only("tlmath.tanh({0})"),
    "sigmoid": _float_only("tlmath.sigmoid({0})"),
    "erf": _float_only("tl.erf({0})"),
    "sin": _float_only("tl.sin({0})"),
    "cos": _float_only("tl.cos({0})"),
    **{op: _compare(op) for op in _COMPARE},
    "logical_and": _any_dtype("({0} & {1})"),
    "logical_or": _any_dtype("({0} | {1})"),
    "logical_not": _any_dtype("({0} == 0)"),
    "select": _any_dtype("tl.where({0}, {1}, {2})"),
    "cast": lambda e, a, src, dst, mask: e.cast(a[0], src, dst, mask),
}
