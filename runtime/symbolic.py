"""The integers of a function's layout as polynomials in its symbolic dims.

The shape logic lives in Python (type rules, each kernel's `bind`). `fit` runs it
at sample values of the symbolic dims and fits each integer (every kernel's
run-time ints, the outer extents, the buffer sizes, the output shapes) as a
multilinear polynomial with integer coefficients in the dims (exact: 2^k corner
points of a unit box), then checks the fit at other points. Two kinds of integer
are not one polynomial and are fitted piecewise: a batched kernel's stride is 0
along an axis of extent 1 (the broadcast rule), so where some dims are exactly 1
the integer takes another polynomial, fitted on that face of the box
(`Piecewise`); and a buffer the planner reuses for several values is the max of
their sizes (`Max`). Anything else (a dim divided, a branch on a size) is a
CompileError asking for static shapes.

Two users: AOT compiles the fit into its C glue (runtime/aot.py), and the
in-process runtime evaluates it for each new set of argument shapes instead of
computing a layout (`SymbolicLayout` below, runtime/cpu.py).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..ir import CompileError, KilnError
from .shapes import concrete_shapes

if TYPE_CHECKING:
    from .cpu import CpuProgram

BASE = 3  # the fit's corner points: each dim at BASE or BASE + 1
CHECK_VALUES = (1, 7, 33, 1000, 0)


@dataclass(frozen=True)
class Param:
    """One int64 argument of the C entry: a named symbol, or one `?` dim of an argument."""

    name: str
    where: list[tuple[int, int]]  # (argument, axis) positions it sizes


Poly = dict[tuple[int, ...], int]  # monomial (sorted param indices) -> coefficient


@dataclass(frozen=True)
class Piecewise:
    """An integer that takes another polynomial where some dims are exactly 1:
    a batched kernel's stride is 0 along an axis of extent 1 (the broadcast
    rule), so at N = 1 it is not the polynomial that fits N >= 2. `pieces` maps
    the set of params equal to 1 to the polynomial there; every other point
    takes `general`."""

    pieces: tuple[tuple[frozenset, Poly], ...]
    general: Poly


@dataclass(frozen=True)
class Max:
    """The largest of some sizes: a buffer that holds several values (the
    planner reuses it) must fit each, and which one is largest can change with
    the dims, so the glue takes the max at run time."""

    terms: tuple


Size = Poly | Piecewise | Max


def params_of(program: CpuProgram) -> list[Param]:
    named: dict[str, list] = {}
    params: list[Param] = []
    for j, arg in enumerate(program.func.args):
        for axis, d in enumerate(arg.type.shape):
            if isinstance(d, int):
                continue
            if d.anonymous:
                params.append(Param(c_name(f"{arg.name or f'arg{j}'}_dim{axis}"), [(j, axis)]))
            elif d.name in named:
                named[d.name].append((j, axis))
            else:
                named[d.name] = [(j, axis)]
                params.append(Param(d.name, named[d.name]))
    if len({p.name for p in params}) != len(params):
        raise CompileError(
            f"@{program.name}: two symbolic dims share the C name {[p.name for p in params]}"
        )
    return params


def flatten(program: CpuProgram, arg_shapes) -> dict[tuple, int]:
    """Every integer of a call's layout by key; a buffer's size as the sizes of
    the values it holds (("value", buffer, k)), which `fit` turns into a Max."""
    layout = program.layout(arg_shapes)
    flat: dict[tuple, int] = {}
    for i, (dims, outer, elements) in enumerate(zip(layout.dims, layout.outer, layout.elements)):
        flat.update({("dims", i, j): d for j, d in enumerate(dims)})
        flat[("outer", i)] = outer
        flat[("elements", i)] = elements
    flat.update({("extra", k): n for k, n in enumerate(layout.extras)})  # control flow
    held = _value_sizes(program, arg_shapes)
    for b, n in layout.sizes.items():
        flat[("size", b)] = n
        flat.update({("value", b, k): m for k, m in enumerate(held.get(b, [n]))})
    for i, shape in enumerate(layout.result_shapes):
        flat.update({("result", i, a): n for a, n in enumerate(shape)})
    return flat


def _value_sizes(program: CpuProgram, arg_shapes) -> dict[int, list[int]]:
    """The bytes of each value a planned buffer holds, in a fixed order (the
    values `CpuProgram.layout` takes the max of)."""
    shapes = concrete_shapes(program.func, arg_shapes)
    held: dict[int, list[int]] = {}
    skip = program.tree.pointers
    scratch = [(v, b) for b, v in program.tree.scratch.items()]
    for v, b in [*program.buffer_of.items(), *scratch]:
        if b < program.n_args or b in program.constants or b in skip or v not in shapes:
            continue
        nbytes = int(np.prod(shapes[v], dtype=np.int64)) * v.type.dtype.numpy.itemsize
        held.setdefault(b, []).append(nbytes)
    return held


@dataclass
class Fit:
    """Every integer of the layout as a Size (a polynomial, piecewise at dims
    equal to 1, or a max of those) in the params."""

    params: list[Param]
    polys: dict[tuple, Size]
    min_dim: int  # 0, or 1 when a zero-sized dim does not fit the plan


def _newton(corners: dict[tuple, dict], key, free: list[int]) -> Poly:
    """The multilinear polynomial through `key`'s values at the corners (each
    free param at BASE or BASE + 1, the others at 1: constant factors)."""
    poly: Poly = {}
    m = len(free)
    for subset in itertools.product((0, 1), repeat=m):
        # the Newton coefficient of prod_{i in subset} (p_i - BASE) ...
        c = sum(
            (-1) ** (sum(subset) - sum(t)) * corners[t][key]
            for t in itertools.product((0, 1), repeat=m)
            if all(a <= b for a, b in zip(t, subset))
        )
        if c:  # ... expanded into monomials
            chosen = [free[i] for i in range(m) if subset[i]]
            for r in range(len(chosen) + 1):
                for mono in itertools.combinations(chosen, r):
                    term = c * (-BASE) ** (len(chosen) - r)
                    poly[mono] = poly.get(mono, 0) + term
    return {mono: c for mono, c in poly.items() if c}


def fit(program: CpuProgram) -> Fit:
    """Fit the layout's integers in the symbolic dims (see the module doc)."""
    params = params_of(program)
    k = len(params)
    if k > 8:
        raise CompileError(f"@{program.name} has {k} symbolic dims; AOT handles at most 8")
    names = ", ".join(p.name for p in params)

    def sample(values) -> dict[tuple, int]:
        shapes = [list(a.type.shape) for a in program.func.args]
        for p, v in zip(params, values):
            for j, axis in p.where:
                shapes[j][axis] = v
        return flatten(program, [tuple(s) for s in shapes])

    def corners(pinned: frozenset) -> dict[tuple, dict]:
        free = [i for i in range(k) if i not in pinned]
        out = {}
        for bits in itertools.product((0, 1), repeat=len(free)):
            point = [1] * k
            for i, b in zip(free, bits):
                point[i] = BASE + b
            out[bits] = sample(point)
        return out

    try:
        general = corners(frozenset())
    except KilnError as e:
        raise CompileError(
            f"@{program.name}: the symbolic dims ({names}) cannot vary independently "
            f"({e}); give dims that must agree one symbol name (N)"
        ) from None
    keys = general[(0,) * k].keys()
    polys: dict[tuple, Size] = {x: _newton(general, x, list(range(k))) for x in keys}
    pieces: dict[tuple, dict[frozenset, Poly]] = {x: {} for x in keys}

    def ones(point) -> frozenset:
        return frozenset(i for i, v in enumerate(point) if v == 1)

    def add_piece(pinned: frozenset) -> bool:
        """Fit every integer again with the dims in `pinned` at 1."""
        try:
            at = corners(pinned)
        except KilnError:
            return False
        if at[next(iter(at))].keys() != keys:
            return False
        free = [i for i in range(k) if i not in pinned]
        points = {bits: [1] * k for bits in at}
        for bits, point in points.items():
            for i, b in zip(free, bits):
                point[i] = BASE + b
        for x in keys:  # a piece only where the general polynomial is wrong
            if any(evaluate(polys[x], points[bits]) != at[bits][x] for bits in at):
                pieces[x][pinned] = _newton(at, x, free)
        return True

    def agrees(point) -> bool:
        try:
            real = sample(point)
        except KilnError:
            return False
        got = _sizes(polys, pieces)
        return real.keys() == keys and all(evaluate(got[x], point) == real[x] for x in keys)

    min_dim = 0
    rng = np.random.default_rng(0)
    points = [tuple(int(v) for v in rng.choice(CHECK_VALUES, size=k)) for _ in range(6)]
    points += [(v,) * k for v in CHECK_VALUES]
    if k <= 4:  # every pattern of dims at 1, the others at larger values
        for pinned in itertools.product((0, 1), repeat=k):
            others = rng.choice([v for v in CHECK_VALUES if v > 1], size=k)
            points.append(tuple(1 if b else int(v) for b, v in zip(pinned, others)))
    fitted: set[frozenset] = set()
    for point in dict.fromkeys(points):
        ok = agrees(point)
        at_one = ones(point)
        if not ok and at_one and 0 not in point and at_one not in fitted:
            fitted.add(at_one)
            ok = add_piece(at_one) and agrees(point)
        if not ok and 0 in point:
            min_dim = 1
        elif not ok:
            raise CompileError(
                f"@{program.name}: its kernels' sizes are not polynomials in the symbolic "
                f"dims ({names}) at {point}, nor piecewise at dims of 1; compile it with "
                "static shapes"
            )
    sizes = _sizes(polys, pieces)
    return Fit(params, {x: n for x, n in sizes.items() if x[0] != "value"}, min_dim)


def _sizes(polys: dict[tuple, Poly], pieces: dict[tuple, dict]) -> dict[tuple, Size]:
    """The fitted integers, each buffer's size the max of its values' sizes."""
    sizes = {x: _piecewise(polys[x], pieces[x]) for x in polys}
    for x in polys:
        if x[0] == "size":
            held = {repr(n): n for y, n in sizes.items() if y[:2] == ("value", x[1])}
            if len(held) > 1:
                sizes[x] = Max(tuple(held.values()))
    return sizes


def _piecewise(general: Poly, pieces: dict[frozenset, Poly]) -> Size:
    if not pieces:
        return general
    ordered = sorted(pieces.items(), key=lambda item: sorted(item[0]))
    return Piecewise(tuple(ordered), general)


def evaluate(size: Size, values) -> int:
    if isinstance(size, Max):
        return max(evaluate(t, values) for t in size.terms)
    if isinstance(size, Piecewise):
        at_one = frozenset(i for i, v in enumerate(values) if v == 1)
        size = dict(size.pieces).get(at_one, size.general)
    return sum(
        c * int(np.prod([values[i] for i in mono], dtype=object)) for mono, c in size.items()
    )


def constant(size: Size) -> int | None:
    """The size's value when it does not depend on the dims, else None."""
    if isinstance(size, dict) and set(size) <= {()}:
        return size.get((), 0)
    return None


def c_name(text: str) -> str:
    """`text` as a C identifier (what is not a letter, digit or _ becomes _)."""
    name = re.sub(r"\W", "_", text)
    return name if name and not name[0].isdigit() else f"_{name}"


# ------------------------------------------------------------------ evaluated per call


class SymbolicLayout:
    """A function's layout integers as polynomials in its symbolic dims (`fit`: exact
    on the 2^k corners of a unit box, checked at other points), evaluated per call,
    so a new set of argument shapes costs a few products, not a layout (concrete
    shapes and each kernel's bind: about a millisecond).

    `values(arg_shapes)` gives every integer at once, keyed as the fit's keys, or
    None where the polynomials are not to be trusted there: a dim below the fit's
    `min_dim` (a zero-sized dim the fit did not hold for), an integer that would not
    fit int64, or a negative size; the caller then computes the layout itself."""

    LIMIT = 1 << 62  # no evaluated integer may reach this (int64 arithmetic)

    def __init__(self, shape_fit):
        self.fit = shape_fit
        # plain polynomials go through one matrix product; the few piecewise sizes
        # (strides at dims of 1) and maxima (reused buffers) are evaluated one by one
        polys = {k: p for k, p in shape_fit.polys.items() if isinstance(p, dict)}
        self.others = {k: p for k, p in shape_fit.polys.items() if k not in polys}
        self.keys = list(polys)
        self.monomials = sorted({m for p in polys.values() for m in p}, key=len)
        index = {m: i for i, m in enumerate(self.monomials)}
        coefficients = np.zeros((len(self.keys), len(self.monomials)), np.int64)
        for row, key in enumerate(self.keys):
            for m, c in polys[key].items():
                coefficients[row, index[m]] = c
        self.coefficients = coefficients
        # sizes, extents and shapes are never negative (a run-time int may be)
        self.counts = np.array([k[0] != "dims" for k in self.keys], bool)
        self.all_keys = self.keys + list(self.others)
        self.scale = int(np.abs(coefficients).sum(axis=1).max(initial=0))
        # how many run-time ints each step has, and how many control-flow extras
        self.dims_count: dict[int, int] = {}
        for k in self.all_keys:
            if k[0] == "dims":
                self.dims_count[k[1]] = max(self.dims_count.get(k[1], 0), k[2] + 1)
        self.dims_count = _Counts(self.dims_count)
        self.n_extras = sum(k[0] == "extra" for k in self.all_keys)
        # where each param's value is read: its first (argument, axis)
        self.where = [p.where[0] for p in shape_fit.params]

    def values(self, arg_shapes) -> dict[tuple, int] | None:
        point = [int(arg_shapes[j][axis]) for j, axis in self.where]
        if any(v < self.fit.min_dim for v in point):
            return None
        monos = [math.prod(point[i] for i in m) for m in self.monomials]
        if max(monos, default=0) * max(self.scale, 1) >= self.LIMIT:
            return None  # the int64 products below could overflow: compute it exactly
        ints = self.coefficients @ np.array(monos, np.int64)
        if ints.size and (ints[self.counts] < 0).any():
            return None
        values = dict(zip(self.keys, ints.tolist()))
        if self.others:
            for k, size in self.others.items():
                n = evaluate(size, point)
                if abs(n) >= self.LIMIT or (n < 0 and k[0] != "dims"):
                    return None
                values[k] = n
        return values


class _Counts(dict):
    """Step -> its number of run-time ints (0 for a step that has none)."""

    def __missing__(self, step: int) -> int:
        return 0
