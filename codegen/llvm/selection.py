"""The native kernel of kiln.top_k: the k largest of each row, largest first.

Each row keeps its best k so far in the result buffers, sorted: an element
that beats the last kept one (or any, while fewer than k are kept) is moved
in from the end, past every kept one it beats (an insertion sort cut at k),
so a row costs O(n k) compares at worst and O(n) when few elements qualify,
which is the common case of a small k. "Beats" is "greater than", with NaN
below every number, so ties and NaNs keep their index order, as the
reference's stable sort does. The rows split across threads.
"""

from __future__ import annotations

from llvmlite import ir

from ...ir import Operation
from .frame import Frame, assemble, const, element_type
from .native import NativeKernel, native
from .scalar import I64

BOOL = ir.IntType(1)


def _beats(f: Frame, a: ir.Value, b: ir.Value, is_float: bool) -> ir.Value:
    """Whether a ranks before b: a > b, where a NaN ranks after every number."""
    if not is_float:
        return f.b.icmp_signed(">", a, b)
    greater = f.b.fcmp_ordered(">", a, b)
    b_nan, a_nan = f.b.fcmp_unordered("uno", b, b), f.b.fcmp_unordered("uno", a, a)
    return f.b.or_(greater, f.b.and_(b_nan, f.b.not_(a_nan)))


@native("kiln.top_k")
def top_k(op: Operation, name: str) -> NativeKernel:
    dtype, index_dtype = op.x.type.dtype, op.index_dtype
    t, ti = element_type(op, dtype), element_type(op, index_dtype)
    f = Frame(name, ["x", "values", "indices"], ["N", "K"])
    b, (n, k) = f.b, f.dims
    kept = f.slot(I64, "kept")
    at = f.slot(I64, "at")
    moving = f.slot(BOOL, "moving")
    with f.loop(f.begin, f.end, "row") as row:
        src, dst = f.mul(row, n), f.mul(row, k)
        b.store(const(0), kept)
        with f.loop(const(0), n, "i") as i:
            v = f.load(0, f.add(src, i), t)
            count = b.load(kept, typ=I64)
            room = b.icmp_signed("<", count, k)
            last = b.sub(k, const(1))
            safe_last = f.scalars.intrinsic("llvm.smax", [last, const(0)])
            beats_last = b.and_(
                b.icmp_signed(">", k, const(0)),
                _beats(f, v, f.load(1, f.add(dst, safe_last), t), dtype.is_float),
            )
            with b.if_then(b.or_(room, beats_last)):
                start = b.select(room, count, last)  # the slot it enters at
                b.store(b.select(room, b.add(count, const(1)), count), kept)
                b.store(start, at)
                b.store(ir.Constant(BOOL, 1), moving)
                with f.loop(const(0), start, "s") as s:
                    here = b.sub(start, s)
                    before = f.load(1, f.add(dst, b.sub(here, const(1))), t)
                    shift = b.and_(b.load(moving, typ=BOOL), _beats(f, v, before, dtype.is_float))
                    with b.if_else(shift) as (move, stop):
                        with move:
                            prev = f.add(dst, b.sub(here, const(1)))
                            f.store(before, 1, f.add(dst, here))
                            f.store(f.load(2, prev, ti), 2, f.add(dst, here))
                            b.store(b.sub(here, const(1)), at)
                        with stop:
                            b.store(ir.Constant(BOOL, 0), moving)
                place = f.add(dst, b.load(at, typ=I64))
                f.store(v, 1, place)
                f.store(b.trunc(i, ti) if ti.width < 64 else i, 2, place)

    def bind(operands, results):
        shape = operands[0]
        rows = 1
        for d in shape[:-1]:
            rows *= d
        return [shape[-1], op.k], rows

    return assemble(op, f, bind, "per row, an insertion sort of the best k")
