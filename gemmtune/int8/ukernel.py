"""The MR x NR integer register micro-kernels, emitted as LLVM IR.

As in the float family (gemmtune/kernels/ukernel.py), the accumulator tile is MR * NR / L
vectors of L int32 lanes held in phi nodes of the k loop, and every multiply-accumulate is
an explicit x86 intrinsic, so LLVM has no loop to vectorise and no cliff to fall over.

Per k group g (k values 4g..4g+3 for VNNI, 2g..2g+1 for vpmaddwd) the packed operands are

- A sliver: MR rows x G values at ``g*MR*G``, row i's G values together; one 32-bit word
  per row, broadcast to every lane;
- B sliver: NR columns x G values at ``g*NR*G``, column j's G values together (the VNNI
  layout, FBGEMM's ROW_INTERLEAVE = 4): one vector load gives L columns x G values.

vnni512 / vnni256: ``vpdpbusd acc, a_u8, b_s8`` adds, in every 32-bit lane, the four
products of A's unsigned bytes with B's signed bytes (wrapping, not saturating).
avx2: A and B are packed as int16 (sign- or zero-extended, zero points already
subtracted) and ``vpmaddwd`` adds the two int16 x int16 products of each lane; its result
cannot saturate (2 * 255 * 255 < 2**31), unlike ``vpmaddubsw`` which saturates at int16.

After the last k block the VNNI kernels add the compensation (int8/template.py)
``rowA[i] * colA[j] + rowB[i] * colB[j]`` before storing; C is read only when
``accumulate`` is set. All arithmetic wraps modulo 2**32, which is exact whenever the true
result fits in int32 (pairs.max_k).
"""

from __future__ import annotations

from functools import lru_cache

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

from ..kernels.llvm_ir import counted_loop, splat
from .isa import GENERATED_ISAS, k_group, lanes

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _const(v: int) -> ir.Constant:
    return ir.Constant(_I64, v)


@lru_cache(maxsize=None)
def make_ukernel(isa: str, mr: int, nr: int, unroll: int = 1, corr: bool = False):
    """Return a numba intrinsic computing one MR x NR tile of C from packed slivers.

    Signature: ``ukernel(kg, Ap, a_off, Bp, b_off, C, c_off, ldc, accumulate, last,
    rowA, rowB, r_off, colA, colB, col_off)``:

    - ``kg`` k groups of the packed A sliver at element ``a_off`` of ``Ap`` and of the B
      sliver at ``b_off`` of ``Bp`` (layouts above);
    - the tile at element ``c_off`` of C's int32 buffer, rows ``ldc`` apart;
    - ``accumulate`` != 0: add to C instead of overwriting it;
    - ``last`` != 0 (with ``corr``): add ``rowA[r_off+i] * colA[col_off+j] +
      rowB[r_off+i] * colB[col_off+j]`` to element (i, j).

    Args:
        isa: "vnni512", "vnni256" or "avx2" (never compiled unless the CPU has it:
            int8/isa.py decides, int8/build.py checks).
        mr, nr: the register tile; nr is a multiple of the ISA's int32 lanes.
        unroll: k groups per iteration of the main k loop.
        corr: emit the compensation epilogue.
    """
    if isa not in GENERATED_ISAS or isa == "generic":
        raise ValueError(f"no LLVM micro-kernel for isa {isa!r}.")
    vl = lanes(isa)
    if nr % vl:
        raise ValueError(f"NR={nr} is not a multiple of the {vl} lanes of {isa}.")
    nv = nr // vl
    grp = k_group(isa)
    acc_t = ir.VectorType(_I32, vl)
    if isa == "avx2":
        elem = _I16
        opnd_t = ir.VectorType(_I16, 2 * vl)
        fn_name = "llvm.x86.avx2.pmadd.wd"
    else:
        elem = _I8
        opnd_t = ir.VectorType(_I8, 4 * vl)
        fn_name = "llvm.x86.avx512.vpdpbusd.512" if vl == 16 else "llvm.x86.avx512.vpdpbusd.256"

    def k_step(builder, fn, ap, bp, g, accs):
        # One k group: NV vector loads of B, MR 32-bit broadcasts of A, MR*NV dot products.
        bbase = builder.mul(g, _const(nr * grp))
        bvec = []
        for jv in range(nv):
            ptr = builder.gep(bp, [builder.add(bbase, _const(jv * vl * grp))], source_etype=elem)
            bvec.append(builder.load(builder.bitcast(ptr, opnd_t.as_pointer()), align=1))
        abase = builder.mul(g, _const(mr * grp))
        out = list(accs)
        for i in range(mr):
            ptr = builder.gep(ap, [builder.add(abase, _const(i * grp))], source_etype=elem)
            word = builder.load(builder.bitcast(ptr, _I32.as_pointer()), align=1)
            a = builder.bitcast(splat(builder, word, acc_t), opnd_t)
            for jv in range(nv):
                k = i * nv + jv
                if isa == "avx2":
                    out[k] = builder.add(out[k], builder.call(fn, [a, bvec[jv]]))
                else:
                    out[k] = builder.call(fn, [out[k], a, bvec[jv]])
        return out

    @intrinsic
    def ukernel(typingctx, kg, ap, a_off, bp, b_off, c, c_off, ldc, accumulate, last,
                row_a, row_b, r_off, col_a, col_b, col_off):
        sig = types.void(kg, ap, a_off, bp, b_off, c, c_off, ldc, accumulate, last,
                         row_a, row_b, r_off, col_a, col_b, col_off)

        def codegen(context, builder, signature, args):
            st = signature.args
            ints = {i: context.cast(builder, args[i], st[i], types.int64)
                    for i in (0, 2, 4, 6, 7, 8, 9, 12, 15)}

            def data(i):
                return context.make_array(st[i])(context, builder, args[i]).data

            ap_p = builder.gep(data(1), [ints[2]], source_etype=elem)
            bp_p = builder.gep(data(3), [ints[4]], source_etype=elem)
            c_p = builder.gep(data(5), [ints[6]], source_etype=_I32)
            ldc_v = ints[7]

            module = builder.module
            if isa == "avx2":
                fn = cgutils.get_or_insert_function(module, ir.FunctionType(acc_t, [opnd_t, opnd_t]), fn_name)
            else:
                fn = cgutils.get_or_insert_function(
                    module, ir.FunctionType(acc_t, [acc_t, opnd_t, opnd_t]), fn_name)
            i8p = _I8.as_pointer()
            prefetch = cgutils.get_or_insert_function(
                module, ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32]), "llvm.prefetch.p0")
            # Prefetch the C tile for writing before the k loop (as BLIS kernels do): its MR
            # rows lie ldc apart, each in its own cache line, usually far from L1.
            for i in range(mr):
                row = builder.gep(c_p, [builder.mul(_const(i), ldc_v)], source_etype=_I32)
                for off in sorted({0, nr - 1}):
                    ptr = builder.gep(row, [_const(off)], source_etype=_I32)
                    builder.call(prefetch, [builder.bitcast(ptr, i8p), ir.Constant(_I32, 1),
                                            ir.Constant(_I32, 3), ir.Constant(_I32, 1)])

            kg_v = ints[0]
            accs = [ir.Constant(acc_t, None)] * (mr * nv)
            u = max(1, unroll)
            if u > 1:
                main_stop = builder.mul(builder.sdiv(kg_v, _const(u)), _const(u))

                def body_u(g, a):
                    for s in range(u):
                        a = k_step(builder, fn, ap_p, bp_p, builder.add(g, _const(s)), a)
                    return a

                accs, g_end = counted_loop(builder, "uk.main", _const(0), main_stop, u, accs, body_u)
            else:
                g_end = _const(0)
            accs, _ = counted_loop(builder, "uk.rest", g_end, kg_v, 1, accs,
                                lambda g, a: k_step(builder, fn, ap_p, bp_p, g, a))

            if corr:
                # The compensation, after the last k block only (int8/template.py).
                pre = builder.block
                add_bb = builder.append_basic_block("uk.corr")
                join_bb = builder.append_basic_block("uk.corr.done")
                builder.cbranch(builder.icmp_signed("!=", ints[9], _const(0)), add_bb, join_bb)
                builder.position_at_end(add_bb)
                ra_p = builder.gep(data(10), [ints[12]], source_etype=_I32)
                rb_p = builder.gep(data(11), [ints[12]], source_etype=_I32)
                ca_p = builder.gep(data(13), [ints[15]], source_etype=_I32)
                cb_p = builder.gep(data(14), [ints[15]], source_etype=_I32)

                def vload(p, off):
                    ptr = builder.gep(p, [_const(off)], source_etype=_I32)
                    return builder.load(builder.bitcast(ptr, acc_t.as_pointer()), align=4)

                ca = [vload(ca_p, jv * vl) for jv in range(nv)]
                cb = [vload(cb_p, jv * vl) for jv in range(nv)]
                fixed = list(accs)
                for i in range(mr):
                    ra = splat(builder, builder.load(builder.gep(ra_p, [_const(i)], source_etype=_I32)), acc_t)
                    rb = splat(builder, builder.load(builder.gep(rb_p, [_const(i)], source_etype=_I32)), acc_t)
                    for jv in range(nv):
                        k = i * nv + jv
                        t = builder.add(builder.mul(ra, ca[jv]), builder.mul(rb, cb[jv]))
                        fixed[k] = builder.add(fixed[k], t)
                add_end = builder.block
                builder.branch(join_bb)
                builder.position_at_end(join_bb)
                merged = []
                for a0, a1 in zip(accs, fixed):
                    ph = builder.phi(acc_t)
                    ph.add_incoming(a0, pre)
                    ph.add_incoming(a1, add_end)
                    merged.append(ph)
                accs = merged

            def c_ptr(i, jv):
                off = builder.add(builder.mul(_const(i), ldc_v), _const(jv * vl))
                return builder.bitcast(builder.gep(c_p, [off], source_etype=_I32), acc_t.as_pointer())

            with builder.if_else(builder.icmp_signed("!=", ints[8], _const(0))) as (then, otherwise):
                with then:
                    for i in range(mr):
                        for jv in range(nv):
                            ptr = c_ptr(i, jv)
                            old = builder.load(ptr, align=4)
                            builder.store(builder.add(old, accs[i * nv + jv]), ptr, align=4)
                with otherwise:
                    for i in range(mr):
                        for jv in range(nv):
                            builder.store(accs[i * nv + jv], c_ptr(i, jv), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return ukernel
