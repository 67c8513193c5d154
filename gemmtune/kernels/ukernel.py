"""The MR x NR register micro-kernel, emitted as LLVM IR.

Written in plain numba, LLVM decides which loop to vectorise and whether the accumulator
tile stays in registers, and small changes of formulation move it across cliffs (see
docs/performance.md). Here the tile is emitted directly: MR * NR / VL vector accumulators
are SSA values (phi nodes) of the k loop, so there is nothing for LLVM to spill unless the
tile does not fit the register file, and every FMA is an explicit ``llvm.fma`` on vectors
of VL lanes. This is the role an assembly micro-kernel plays in BLIS: the framework (loops,
packing) stays in numba, the inner kernel is written at the machine's level.

No fast-math flags are set on any instruction, so NaN and Inf propagate as IEEE says.
"""

from __future__ import annotations

from functools import lru_cache

from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

from .params import ITEMSIZE
from .llvm_ir import I32 as _I32
from .llvm_ir import I64 as _I64
from .llvm_ir import counted_loop, declare, float_type, splat, vector_fma


@lru_cache(maxsize=None)
def make_ukernel(mr: int, nr: int, vl: int, dtype: str, unroll: int = 1, prefetch: int = 0,
                 a_packed: bool = True, b_packed: bool = True):
    """Return a numba intrinsic ``ukernel(kc, A, a_off, lda, B, b_off, ldb, C, c_off, ldc, alpha, beta)``.

    It computes ``C[i, j] = alpha * sum_p a(i, p) * b(p, j) + beta * C[i, j]`` for the full
    MR x NR tile at element offset ``c_off`` of C's buffer, rows ``ldc`` elements apart and
    unit stride along j. When ``beta == 0`` C is not read, so NaN already in C does not
    survive (BLAS semantics). The operands are read from element offsets of their buffers:

    - packed A (an MR-row sliver): a(i, p) at ``a_off + p*MR + i``; unpacked A (row-major):
      a(i, p) at ``a_off + i*lda + p``;
    - packed B (an NR-column sliver): b(p, j) at ``b_off + p*NR + j``; unpacked B (row-major):
      b(p, j) at ``b_off + p*ldb + j``.
    Packed strides are compile-time constants (LLVM folds them into addressing modes); ``lda``
    and ``ldb`` are read only for unpacked operands.

    Args:
        mr: rows of the register tile (MR).
        nr: columns of the register tile (NR), a multiple of ``vl``.
        vl: lanes per vector (8 for 256-bit float32, 16 for 512-bit float32, ...).
        dtype: "float32" or "float64".
        unroll: how many k steps one iteration of the emitted k loop performs.
        prefetch: distance in k steps at which A is prefetched; 0 is off.
        a_packed, b_packed: whether A and B come packed (see above).
    """
    if nr % vl:
        raise ValueError(f"NR={nr} is not a multiple of the vector length {vl}.")
    nv = nr // vl
    flt = float_type(dtype)
    vec = ir.VectorType(flt, vl)
    esize = ITEMSIZE[dtype]

    def k_step(builder, fma, prefetch_fn, a_rows, bp, ldb, p, accs):
        # One rank-1 update of the tile: NR/VL vector loads of B, MR broadcasts of A.
        # a_rows: for packed A one base pointer; for unpacked A one pointer per row.
        bbase = builder.mul(p, ir.Constant(_I64, nr) if b_packed else ldb)
        bvec = []
        for jv in range(nv):
            ptr = builder.gep(bp, [builder.add(bbase, ir.Constant(_I64, jv * vl))], source_etype=flt)
            bvec.append(builder.load(builder.bitcast(ptr, vec.as_pointer()), align=esize))
        abase = builder.mul(p, ir.Constant(_I64, mr)) if a_packed else p
        if prefetch_fn is not None:
            ahead = builder.add(abase, ir.Constant(_I64, prefetch * (mr if a_packed else 1)))
            pf = builder.gep(a_rows[0], [ahead], source_etype=flt)
            builder.call(prefetch_fn, [builder.bitcast(pf, ir.IntType(8).as_pointer()),
                                       ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        out = list(accs)
        for i in range(mr):
            if a_packed:
                aptr = builder.gep(a_rows[0], [builder.add(abase, ir.Constant(_I64, i))], source_etype=flt)
            else:
                aptr = builder.gep(a_rows[i], [abase], source_etype=flt)
            a = splat(builder, builder.load(aptr), vec)
            for jv in range(nv):
                out[i * nv + jv] = builder.call(fma, [a, bvec[jv], out[i * nv + jv]])
        return out

    @intrinsic
    def ukernel(typingctx, kc, ap, a_off, lda, bp, b_off, ldb, c, c_off, ldc, alpha, beta):
        sig = types.void(kc, ap, a_off, lda, bp, b_off, ldb, c, c_off, ldc, alpha, beta)

        def codegen(context, builder, signature, args):
            st = signature.args
            as_i64 = [context.cast(builder, args[i], st[i], types.int64) for i in (0, 2, 3, 5, 6, 8, 9)]
            kc_v, a_off_v, lda_v, b_off_v, ldb_v, c_off_v, ldc_v = as_i64
            nb_flt = getattr(types, dtype)
            alpha_v = context.cast(builder, args[10], st[10], nb_flt)
            beta_v = context.cast(builder, args[11], st[11], nb_flt)
            ap_d = context.make_array(st[1])(context, builder, args[1]).data
            bp_d = context.make_array(st[4])(context, builder, args[4]).data
            c_d = context.make_array(st[7])(context, builder, args[7]).data
            ap_p = builder.gep(ap_d, [a_off_v], source_etype=flt)
            if a_packed:
                a_rows = [ap_p]
            else:
                a_rows = [builder.gep(ap_p, [builder.mul(ir.Constant(_I64, i), lda_v)], source_etype=flt)
                          for i in range(mr)]
            bp_p = builder.gep(bp_d, [b_off_v], source_etype=flt)
            c_p = builder.gep(c_d, [c_off_v], source_etype=flt)

            fma = vector_fma(builder, vec)
            i8p = ir.IntType(8).as_pointer()
            prefetch_decl = declare(builder, "llvm.prefetch.p0", ir.VoidType(), [i8p, _I32, _I32, _I32])
            prefetch_fn = prefetch_decl if prefetch else None

            # Prefetch the C tile for writing before the k loop, as BLIS's kernels do: its MR
            # rows lie ldc apart, each in a cache line of its own that is usually in L3 or
            # memory, and waiting for them after the loop costs as much as the loop itself.
            for i in range(mr):
                row = builder.gep(c_p, [builder.mul(ir.Constant(_I64, i), ldc_v)], source_etype=flt)
                for off in sorted({0, nr - 1}):
                    ptr = builder.gep(row, [ir.Constant(_I64, off)], source_etype=flt)
                    builder.call(prefetch_decl, [builder.bitcast(ptr, i8p), ir.Constant(_I32, 1),
                                                 ir.Constant(_I32, 3), ir.Constant(_I32, 1)])

            zero = ir.Constant(vec, None)
            accs = [zero] * (mr * nv)
            u = max(1, unroll)
            if u > 1:
                # Main loop: u k-steps per iteration; then a one-step loop for kc % u.
                main_stop = builder.mul(builder.sdiv(kc_v, ir.Constant(_I64, u)), ir.Constant(_I64, u))

                def body_u(p, a):
                    for s in range(u):
                        a = k_step(builder, fma, prefetch_fn, a_rows, bp_p, ldb_v,
                                   builder.add(p, ir.Constant(_I64, s)), a)
                    return a

                accs, p_end = counted_loop(builder, "uk.main", ir.Constant(_I64, 0), main_stop, u, accs, body_u)
            else:
                p_end = ir.Constant(_I64, 0)
            accs, _ = counted_loop(builder, "uk.rest", p_end, kc_v, 1, accs,
                                lambda p, a: k_step(builder, fma, prefetch_fn, a_rows, bp_p, ldb_v, p, a))

            alpha_s = splat(builder, alpha_v, vec)
            beta_s = splat(builder, beta_v, vec)
            is_zero = builder.fcmp_ordered("==", beta_v, ir.Constant(flt, 0.0))

            def c_ptr(i, jv):
                off = builder.add(builder.mul(ir.Constant(_I64, i), ldc_v), ir.Constant(_I64, jv * vl))
                return builder.bitcast(builder.gep(c_p, [off], source_etype=flt), vec.as_pointer())

            with builder.if_else(is_zero) as (then, otherwise):
                with then:
                    for i in range(mr):
                        for jv in range(nv):
                            builder.store(builder.fmul(alpha_s, accs[i * nv + jv]), c_ptr(i, jv), align=esize)
                with otherwise:
                    for i in range(mr):
                        for jv in range(nv):
                            ptr = c_ptr(i, jv)
                            old = builder.load(ptr, align=esize)
                            ab = builder.fmul(alpha_s, accs[i * nv + jv])
                            builder.store(builder.call(fma, [beta_s, old, ab]), ptr, align=esize)
            return context.get_dummy_value()

        return sig, codegen

    return ukernel
