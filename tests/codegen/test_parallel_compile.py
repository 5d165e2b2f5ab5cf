"""Kernel objects compile side by side on threads (jit.compile_object calls LLVM
past llvmlite's process-wide lock): the same bytes as one thread alone, errors
still kiln's."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from llvmlite import ir

from kiln.codegen.kernel import CompileError
from kiln.codegen.llvm import jit


def _axpy_module(scale: float) -> str:
    """A loop y[i] += scale * x[i]: enough for the vectoriser to work on."""
    f32, i64 = ir.FloatType(), ir.IntType(64)
    module = ir.Module(name=f"axpy_{scale}")
    ptr = f32.as_pointer()
    function = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, i64]), "axpy")
    x, y, n = function.args
    entry, loop, done = (function.append_basic_block(b) for b in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, i64(0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    px, py = b.gep(x, [i]), b.gep(y, [i])
    b.store(b.fadd(b.load(py), b.fmul(b.load(px), f32(scale))), py)
    step = b.add(i, i64(1))
    i.add_incoming(step, loop)
    b.cbranch(b.icmp_signed("<", step, n), loop, done)
    b.position_at_end(done)
    b.ret_void()
    return jit.host_text(module)


def test_threads_compile_the_same_objects_as_one_thread():
    texts = [_axpy_module(float(k) + 0.5) for k in range(12)]
    alone = [jit.compile_object(t, f"m{k}") for k, t in enumerate(texts)]
    with ThreadPoolExecutor(3) as pool:
        side_by_side = list(pool.map(jit.compile_object, texts, [f"m{k}" for k in range(12)]))
    assert side_by_side == alone
    assert len(set(alone)) == len(alone)  # each module's constant is in its object


def test_a_module_llvm_rejects_is_a_compile_error():
    with pytest.raises(CompileError, match="'broken'"):
        jit.compile_object("define void @f() { ret i32 0 }", "broken")
    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(CompileError, match="'broken'"):
            pool.submit(jit.compile_object, "not llvm at all", "broken").result()
