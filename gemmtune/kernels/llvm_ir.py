"""The LLVM IR building blocks every emitted kernel uses (micro-kernels, the peak loop).

Values carried around a loop are SSA phi nodes, never memory, so LLVM has nothing to spill
unless they do not fit the register file: that is how a register tile stays in registers.
"""

from __future__ import annotations

from typing import Callable, Sequence

from llvmlite import ir

I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


_FLOATS = {"float32": (ir.FloatType, 4), "float64": (ir.DoubleType, 8)}


def float_type(dtype: str) -> ir.Type:
    """The LLVM type of a float dtype's elements ("float32" -> float, "float64" -> double)."""
    return _FLOATS[dtype][0]()


def splat(builder: ir.IRBuilder, scalar: ir.Value, vec: ir.VectorType) -> ir.Value:
    """``scalar`` broadcast to every lane of a ``vec`` (insertelement + shufflevector)."""
    lanes = vec.count
    v = builder.insert_element(ir.Constant(vec, ir.Undefined), scalar, ir.Constant(I32, 0))
    return builder.shuffle_vector(v, ir.Constant(vec, ir.Undefined),
                                  ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def declare(builder: ir.IRBuilder, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
    """The function ``name`` of this module (an LLVM intrinsic, usually), declared once."""
    from numba.core import cgutils

    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, list(args)), name)


def vector_fma(builder: ir.IRBuilder, vec: ir.VectorType) -> ir.Function:
    """``llvm.fma`` on ``vec``: one fused multiply-add per lane, no fast-math flags."""
    bits = 32 if isinstance(vec.element, ir.FloatType) else 64
    return declare(builder, f"llvm.fma.v{vec.count}f{bits}", vec, [vec, vec, vec])


def counted_loop(builder: ir.IRBuilder, name: str, start: ir.Value, stop: ir.Value, step: int,
                 carried: Sequence[ir.Value],
                 body: Callable[[ir.Value, list[ir.Value]], list[ir.Value]]) -> tuple[list[ir.Value], ir.Value]:
    """``for p in range(start, stop, step): carried = body(p, carried)`` as a phi loop.

    The loop is skipped when ``start >= stop``. Returns the carried values after the loop
    and the first ``p`` it did not run (``start`` when it ran no iteration), so a remainder
    loop can continue from there.
    """
    pre = builder.block
    loop = builder.append_basic_block(name)
    done = builder.append_basic_block(name + ".done")
    builder.cbranch(builder.icmp_signed("<", start, stop), loop, done)
    builder.position_at_end(loop)
    p = builder.phi(I64)
    p.add_incoming(start, pre)
    phis = []
    for value in carried:
        ph = builder.phi(value.type)
        ph.add_incoming(value, pre)
        phis.append(ph)
    new = body(p, phis)
    p_next = builder.add(p, ir.Constant(I64, step))
    end = builder.block
    p.add_incoming(p_next, end)
    for ph, v in zip(phis, new):
        ph.add_incoming(v, end)
    builder.cbranch(builder.icmp_signed("<", p_next, stop), loop, done)
    builder.position_at_end(done)
    merged = []
    for value, v in zip(carried, new):
        ph = builder.phi(value.type)
        ph.add_incoming(value, pre)
        ph.add_incoming(v, end)
        merged.append(ph)
    p_out = builder.phi(I64)
    p_out.add_incoming(start, pre)
    p_out.add_incoming(p_next, end)
    return merged, p_out
