"""Packing moves written as LLVM IR: the VNNI interleave of B and the word copy of A.

Packing is O(MK + KN) against the product's O(MNK), but at VNNI speed a scalar numba loop
(about 1 GB/s: one byte, one bounds-checked index per iteration) costs as much as the
product itself at 1024^3. These intrinsics move whole vectors: B's G rows of NR values are
loaded as G vectors and interleaved by one shuffle into the (g, j, t) layout, and A's k
groups move as 32-bit words. Offsets are element offsets into the arrays' buffers; the
callers (the generated drivers) keep them in bounds.
"""

from __future__ import annotations

from functools import lru_cache

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _ptr(context, builder, arr_type, arr, off, elem):
    data = context.make_array(arr_type)(context, builder, arr).data
    return builder.gep(data, [off], source_etype=elem)


@lru_cache(maxsize=None)
def make_interleave(nr: int, group: int, widen: bool, signed: bool):
    """``interleave(dst, dst_off, src, src_off, ld, bias, zb, zb_off)``: G rows -> (j, t) order.

    Reads ``group`` rows of ``nr`` bytes at ``src_off + t*ld`` of ``src`` and writes
    ``dst[dst_off + j*group + t] = value(t, j)``:

    - ``widen`` False (VNNI): value = byte + bias (wrapping; bias is 0 or +-128, which flips
      the byte's top bit: uint8 <-> int8 shift), written as bytes;
    - ``widen`` True (vpmaddwd): value = byte sign- (``signed``) or zero-extended to int16,
      minus the zero point ``zb[zb_off + j]``, written as int16.

    Without ``widen``, ``acc[acc_off + j]`` (int32) also loses the column's sum of values.
    """
    vin = ir.VectorType(_I8, nr)
    out_elem = _I16 if widen else _I8
    vrow = ir.VectorType(out_elem, nr)
    # Interleave: output lane j*group + t comes from row t, lane j of the concatenation.
    mask = [t * nr + j for j in range(nr) for t in range(group)]

    @intrinsic
    def interleave(typingctx, dst, dst_off, src, src_off, ld, bias, zb, zb_off, acc, acc_off):
        sig = types.void(dst, dst_off, src, src_off, ld, bias, zb, zb_off, acc, acc_off)

        def codegen(context, builder, signature, args):
            st = signature.args
            i64 = {i: context.cast(builder, args[i], st[i], types.int64) for i in (1, 3, 4, 5, 7, 9)}
            src_p = _ptr(context, builder, st[2], args[2], i64[3], _I8)
            rows = []
            if widen:
                zp = _ptr(context, builder, st[6], args[6], i64[7], _I32)
                z = builder.load(builder.bitcast(zp, ir.VectorType(_I32, nr).as_pointer()), align=4)
                z16 = builder.trunc(z, vrow)
            else:
                b8 = builder.trunc(i64[5], _I8)
                bias_v = builder.shuffle_vector(
                    builder.insert_element(ir.Constant(vin, ir.Undefined), b8, ir.Constant(_I32, 0)),
                    ir.Constant(vin, ir.Undefined), ir.Constant(ir.VectorType(_I32, nr), [0] * nr))
            for t in range(group):
                p = builder.gep(src_p, [builder.mul(i64[4], ir.Constant(_I64, t))], source_etype=_I8)
                v = builder.load(builder.bitcast(p, vin.as_pointer()), align=1)
                if widen:
                    v = builder.sext(v, vrow) if signed else builder.zext(v, vrow)
                    v = builder.sub(v, z16)
                else:
                    v = builder.add(v, bias_v)
                rows.append(v)
            if not widen:
                # The column sums of the packed (signed) bytes, for the VNNI compensation.
                v32 = ir.VectorType(_I32, nr)
                total = builder.sext(rows[0], v32)
                for v in rows[1:]:
                    total = builder.add(total, builder.sext(v, v32))
                ap = builder.bitcast(_ptr(context, builder, st[8], args[8], i64[9], _I32), v32.as_pointer())
                builder.store(builder.sub(builder.load(ap, align=4), total), ap, align=4)
            # Concatenate the rows pairwise, then one shuffle into the interleaved order.
            while len(rows) > 1:
                n = rows[0].type.count
                cat = list(range(2 * n))
                rows = [builder.shuffle_vector(rows[i], rows[i + 1], ir.Constant(ir.VectorType(_I32, 2 * n), cat))
                        for i in range(0, len(rows), 2)]
            allrows = rows[0]
            out = builder.shuffle_vector(allrows, ir.Constant(allrows.type, ir.Undefined),
                                         ir.Constant(ir.VectorType(_I32, nr * group), mask))
            dp = _ptr(context, builder, st[0], args[0], i64[1], out_elem)
            builder.store(out, builder.bitcast(dp, out.type.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return interleave


@intrinsic
def copy_words(typingctx, dst, dst_off, dst_step, src, src_off, n, bias):
    """``n`` 4-byte words from ``src`` bytes at ``src_off`` to ``dst`` at ``dst_off + q*dst_step``.

    Every byte gets ``bias`` added (wrapping: 128 turns int8 into the uint8 of x + 128).
    Returns the sum of the written bytes as unsigned values (the row sum of packed A).
    """
    sig = types.int64(dst, dst_off, dst_step, src, src_off, n, bias)

    def codegen(context, builder, signature, args):
        st = signature.args
        i64 = {i: context.cast(builder, args[i], st[i], types.int64) for i in (1, 2, 4, 5, 6)}
        b = builder.trunc(i64[6], _I8)
        b32 = builder.mul(builder.zext(b, _I32), ir.Constant(_I32, 0x01010101))
        src_p = _ptr(context, builder, st[3], args[3], i64[4], _I8)
        dst_p = _ptr(context, builder, st[0], args[0], i64[1], _I8)
        pre = builder.block
        loop = builder.append_basic_block("cw.loop")
        done = builder.append_basic_block("cw.done")
        builder.cbranch(builder.icmp_signed(">", i64[5], ir.Constant(_I64, 0)), loop, done)
        builder.position_at_end(loop)
        q = builder.phi(_I64)
        q.add_incoming(ir.Constant(_I64, 0), pre)
        tot = builder.phi(_I64)
        tot.add_incoming(ir.Constant(_I64, 0), pre)
        sp = builder.gep(src_p, [builder.mul(q, ir.Constant(_I64, 4))], source_etype=_I8)
        w = builder.load(builder.bitcast(sp, _I32.as_pointer()), align=1)
        # A per-byte add without carries between bytes: add the low 7 bits, xor the top bits.
        lo = builder.add(builder.and_(w, ir.Constant(_I32, 0x7F7F7F7F)),
                         builder.and_(b32, ir.Constant(_I32, 0x7F7F7F7F)))
        w = builder.xor(lo, builder.and_(builder.xor(w, b32), ir.Constant(_I32, 0x80808080)))
        dp = builder.gep(dst_p, [builder.mul(q, i64[2])], source_etype=_I8)
        builder.store(w, builder.bitcast(dp, _I32.as_pointer()), align=1)
        # Byte sum of the word: pairs of bytes in 16-bit halves, then the halves.
        pairs = builder.add(builder.and_(w, ir.Constant(_I32, 0x00FF00FF)),
                            builder.and_(builder.lshr(w, ir.Constant(_I32, 8)), ir.Constant(_I32, 0x00FF00FF)))
        wsum = builder.add(builder.and_(pairs, ir.Constant(_I32, 0xFFFF)), builder.lshr(pairs, ir.Constant(_I32, 16)))
        tot_next = builder.add(tot, builder.zext(wsum, _I64))
        q_next = builder.add(q, ir.Constant(_I64, 1))
        end = builder.block
        q.add_incoming(q_next, end)
        tot.add_incoming(tot_next, end)
        builder.cbranch(builder.icmp_signed("<", q_next, i64[5]), loop, done)
        builder.position_at_end(done)
        result = builder.phi(_I64)
        result.add_incoming(ir.Constant(_I64, 0), pre)
        result.add_incoming(tot_next, end)
        return result

    return sig, codegen


@lru_cache(maxsize=None)
def make_transpose_words(mr: int, chunk: int = 16):
    """``transpose(dst, dst_off, src, src_off, ld, bias, sums, sums_off, add_sums)``: A's VNNI sliver.

    Reads ``chunk`` 4-byte k groups from each of ``mr`` rows of ``src`` (bytes at
    ``src_off + i*ld``) and writes them group-major, ``dst`` word ``g*mr + i`` = row i's group
    g: ``chunk`` groups of a packed A sliver in one pass. ``bias`` (0 or 128) is added to
    every byte (for +-128 that is a flip of the top bit). With ``add_sums`` != 0,
    ``sums[sums_off + i]`` (int32) gains the sum of row i's written bytes as unsigned values.
    """
    vbytes = ir.VectorType(_I8, 4 * chunk)
    vwords = ir.VectorType(_I32, chunk)
    mask = [i * chunk + g for g in range(chunk) for i in range(mr)]

    @intrinsic
    def transpose(typingctx, dst, dst_off, src, src_off, ld, bias, sums, sums_off, add_sums):
        sig = types.void(dst, dst_off, src, src_off, ld, bias, sums, sums_off, add_sums)

        def codegen(context, builder, signature, args):
            st = signature.args
            i64 = {i: context.cast(builder, args[i], st[i], types.int64) for i in (1, 3, 4, 5, 7, 8)}
            src_p = _ptr(context, builder, st[2], args[2], i64[3], _I8)
            b8 = builder.trunc(i64[5], _I8)
            flip = builder.shuffle_vector(
                builder.insert_element(ir.Constant(vbytes, ir.Undefined), b8, ir.Constant(_I32, 0)),
                ir.Constant(vbytes, ir.Undefined), ir.Constant(ir.VectorType(_I32, 4 * chunk), [0] * (4 * chunk)))
            rows = []
            for i in range(mr):
                p = builder.gep(src_p, [builder.mul(i64[4], ir.Constant(_I64, i))], source_etype=_I8)
                rows.append(builder.xor(builder.load(builder.bitcast(p, vbytes.as_pointer()), align=1), flip))
            with builder.if_then(builder.icmp_signed("!=", i64[8], ir.Constant(_I64, 0))):
                sp = _ptr(context, builder, st[6], args[6], i64[7], _I32)
                v32 = ir.VectorType(_I32, 4 * chunk)
                for i, v in enumerate(rows):
                    reduce = cgutils.get_or_insert_function(
                        builder.module, ir.FunctionType(_I32, [v32]), f"llvm.vector.reduce.add.v{4 * chunk}i32")
                    total = builder.call(reduce, [builder.zext(v, v32)])
                    ptr = builder.gep(sp, [ir.Constant(_I64, i)], source_etype=_I32)
                    builder.store(builder.add(builder.load(ptr), total), ptr)
            words = [builder.bitcast(v, vwords) for v in rows]
            # Concatenate pairwise; pad to a power of two with undefined rows, so row i
            # always starts at lane i*chunk of the concatenation.
            while len(words) & (len(words) - 1):
                words.append(ir.Constant(vwords, ir.Undefined))
            while len(words) > 1:
                n = words[0].type.count
                words = [builder.shuffle_vector(words[i], words[i + 1],
                                                ir.Constant(ir.VectorType(_I32, 2 * n), list(range(2 * n))))
                         for i in range(0, len(words), 2)]
            allw = words[0]
            out = builder.shuffle_vector(allw, ir.Constant(allw.type, ir.Undefined),
                                         ir.Constant(ir.VectorType(_I32, mr * chunk), mask))
            dp = _ptr(context, builder, st[0], args[0], i64[1], _I8)
            builder.store(out, builder.bitcast(dp, out.type.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return transpose


def _concat_rows(builder, rows):
    """The rows (vectors of one type) back to back; row i starts at lane i * row length."""
    rows = list(rows)
    while len(rows) & (len(rows) - 1):
        rows.append(ir.Constant(rows[0].type, ir.Undefined))
    while len(rows) > 1:
        n = rows[0].type.count
        rows = [builder.shuffle_vector(rows[i], rows[i + 1],
                                       ir.Constant(ir.VectorType(_I32, 2 * n), list(range(2 * n))))
                for i in range(0, len(rows), 2)]
    return rows[0]


@lru_cache(maxsize=None)
def make_transpose_pairs(mr: int, signed: bool, chunk: int = 16):
    """``transpose(dst, dst_off, src, src_off, ld, za, za_off)``: A's vpmaddwd sliver.

    Reads ``2*chunk`` bytes (``chunk`` k pairs) from each of ``mr`` rows of ``src`` at
    ``src_off + i*ld``, widens them to int16 (sign- or zero-extended), subtracts the row's
    zero point ``za[za_off + i]`` and writes the pairs group-major: int16 pair ``g*mr + i``
    of ``dst`` (from element ``dst_off``) is row i's pair g.
    """
    vbytes = ir.VectorType(_I8, 2 * chunk)
    v16 = ir.VectorType(_I16, 2 * chunk)
    vwords = ir.VectorType(_I32, chunk)
    mask = [i * chunk + g for g in range(chunk) for i in range(mr)]

    @intrinsic
    def transpose(typingctx, dst, dst_off, src, src_off, ld, za, za_off):
        sig = types.void(dst, dst_off, src, src_off, ld, za, za_off)

        def codegen(context, builder, signature, args):
            st = signature.args
            i64 = {i: context.cast(builder, args[i], st[i], types.int64) for i in (1, 3, 4, 6)}
            src_p = _ptr(context, builder, st[2], args[2], i64[3], _I8)
            za_p = _ptr(context, builder, st[5], args[5], i64[6], _I32)
            words = []
            for i in range(mr):
                p = builder.gep(src_p, [builder.mul(i64[4], ir.Constant(_I64, i))], source_etype=_I8)
                v = builder.load(builder.bitcast(p, vbytes.as_pointer()), align=1)
                v = builder.sext(v, v16) if signed else builder.zext(v, v16)
                z = builder.trunc(builder.load(builder.gep(za_p, [ir.Constant(_I64, i)], source_etype=_I32)), _I16)
                zs = builder.shuffle_vector(builder.insert_element(ir.Constant(v16, ir.Undefined), z,
                                                                   ir.Constant(_I32, 0)),
                                            ir.Constant(v16, ir.Undefined),
                                            ir.Constant(ir.VectorType(_I32, 2 * chunk), [0] * (2 * chunk)))
                words.append(builder.bitcast(builder.sub(v, zs), vwords))
            allw = _concat_rows(builder, words)
            out = builder.shuffle_vector(allw, ir.Constant(allw.type, ir.Undefined),
                                         ir.Constant(ir.VectorType(_I32, mr * chunk), mask))
            dp = _ptr(context, builder, st[0], args[0], i64[1], _I16)
            builder.store(out, builder.bitcast(dp, out.type.as_pointer()), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return transpose
