"""Packing A and B into the tile layouts of the AMX micro-kernel, and cut-tile write-back.

Every packed tile is full (16 rows x 64 bytes): rows of A past M, k values past K and
columns of B past N are zeros, which add nothing to an integer dot product, so the one tile
configuration of tiles.py serves every fringe and only ``write_edge`` knows the real sizes.

A tile product is so fast (16 x 16 x 64 multiply-adds per instruction) that packing is a
large share of the time: written as plain numba loops over the 'A'-layout operands (bands
of threads are views) the copies ran at 0.3 GB/s, slower than the products. The full
64-byte rows are therefore moved by two small intrinsics that emit the vector moves
directly: ``copy64`` (one tile row of A) and ``interleave4`` (four rows of 16 B values into
one 64-byte VNNI row). Only cut rows and columns take the scalar loops.

These functions take MR, NR and the padded depth as arguments: they are compiled once per
dtype (numba's disk cache) and shared by every generated kernel.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from .geometry import TILE_K

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _byte_ptr(context, builder, arrtype, arr, off):
    data = context.make_array(arrtype)(context, builder, arr).data
    return builder.gep(builder.bitcast(data, _I8.as_pointer()), [off])


@intrinsic
def copy64(typingctx, dst, dst_off, src, src_off):
    """``copy64(dst, dst_off, src, src_off)``: 64 bytes from byte offset src_off to dst_off."""
    sig = types.void(dst, dst_off, src, src_off)

    def codegen(context, builder, signature, args):
        st = signature.args
        d_off = context.cast(builder, args[1], st[1], types.int64)
        s_off = context.cast(builder, args[3], st[3], types.int64)
        vec = ir.VectorType(_I8, 64).as_pointer()
        s = builder.bitcast(_byte_ptr(context, builder, st[2], args[2], s_off), vec)
        d = builder.bitcast(_byte_ptr(context, builder, st[0], args[0], d_off), vec)
        builder.store(builder.load(s, align=1), d, align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def interleave4(typingctx, dst, dst_off, src, src_off, ld):
    """``interleave4(dst, dst_off, src, src_off, ld)``: one 64-byte VNNI row.

    Reads 16 bytes from each of the four rows at byte offsets ``src_off + q*ld`` (q = 0..3)
    and writes ``r0[j], r1[j], r2[j], r3[j]`` for j = 0..15 at ``dst_off``: two byte
    interleaves and one 16-bit interleave (vpunpck / vpermt2 on x86).
    """
    sig = types.void(dst, dst_off, src, src_off, ld)

    def codegen(context, builder, signature, args):
        st = signature.args
        d_off = context.cast(builder, args[1], st[1], types.int64)
        s_off = context.cast(builder, args[3], st[3], types.int64)
        ld_v = context.cast(builder, args[4], st[4], types.int64)
        v16 = ir.VectorType(_I8, 16)
        rows = []
        for q in range(4):
            off = builder.add(s_off, builder.mul(ld_v, ir.Constant(_I64, q)))
            p = builder.bitcast(_byte_ptr(context, builder, st[2], args[2], off), v16.as_pointer())
            rows.append(builder.load(p, align=1))
        zip16 = ir.Constant(ir.VectorType(_I32, 32), [x for j in range(16) for x in (j, j + 16)])
        t01 = builder.bitcast(builder.shuffle_vector(rows[0], rows[1], zip16), ir.VectorType(_I16, 16))
        t23 = builder.bitcast(builder.shuffle_vector(rows[2], rows[3], zip16), ir.VectorType(_I16, 16))
        out = builder.bitcast(builder.shuffle_vector(t01, t23, zip16), ir.VectorType(_I8, 64))
        d = builder.bitcast(_byte_ptr(context, builder, st[0], args[0], d_off),
                            ir.VectorType(_I8, 64).as_pointer())
        builder.store(out, d, align=1)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def aligned_empty(n, like):
    """An uninitialised 1-D buffer of ``n`` elements of ``like``'s dtype on a 64-byte boundary.

    A tile row is 64 bytes: in a buffer numpy aligns only to 16 bytes, each row of each
    tile load straddles two cache lines, and the micro-kernel ran 2-4x slower (measured:
    1x2 tiles 1000 against 3650 GOP/s on packed operands in L2).
    """
    raw = np.empty(n + 64, dtype=like.dtype)
    off = (-raw.ctypes.data) % 64 // raw.itemsize
    return raw[off:off + n]


@njit(cache=True, nogil=True)
def pack_a(A, ic, pc, mc, kc, Ap, MR, kcp):
    """A[ic:ic+mc, pc:pc+kc] -> MR-row slivers of 64-byte tile rows.

    Sliver s starts at ``s*MR*kcp``; inside it, step ``g`` (k values 64g..64g+63), row i,
    k value kk is at ``g*MR*64 + i*64 + kk``, so the A tile of rows 16t..16t+15 of step g is
    1 KiB of consecutive bytes. ``kcp`` is kc rounded up to a multiple of 64. A's rows must
    have unit stride.
    """
    lda = A.strides[0]
    full = kc // TILE_K
    for s in range((mc + MR - 1) // MR):
        base = s * MR * kcp
        mr = min(MR, mc - s * MR)
        for i in range(mr):
            r = ic + s * MR + i
            for g in range(full):
                copy64(Ap, base + g * MR * TILE_K + i * TILE_K, A, r * lda + pc + g * TILE_K)
            if full * TILE_K < kcp:
                out = base + full * MR * TILE_K + i * TILE_K
                n = kc - full * TILE_K
                for kk in range(n):
                    Ap[out + kk] = A[r, pc + full * TILE_K + kk]
                for kk in range(n, TILE_K):
                    Ap[out + kk] = 0
        for i in range(mr, MR):
            for g in range(kcp // TILE_K):
                out = base + g * MR * TILE_K + i * TILE_K
                for kk in range(TILE_K):
                    Ap[out + kk] = 0


@njit(cache=True, nogil=True)
def pack_b(B, pc, jc, kc, nc, Bp, NR, kcp):
    """B[pc:pc+kc, jc:jc+nc] -> NR-column slivers in the VNNI layout (k in groups of 4).

    Sliver s starts at ``s*NR*kcp``; inside it, k value k of column j is at
    ``(k//4)*NR*4 + j*4 + k%4``: one 4-k group of the sliver is NR*4 consecutive bytes, the
    row a B tile row holds (16 columns x 4 k values). B's rows must have unit stride.
    """
    ldb = B.strides[0]
    ns = (nc + NR - 1) // NR
    whole = nc // 16 * 16       # columns in whole 16-column chunks (never across slivers)
    for g in range(kcp // 4):
        k = 4 * g
        row = g * NR * 4
        first = 0
        if k + 4 <= kc:
            # One pass over the full width: the sliver and column advance by counting, no
            # division, and every 64 output bytes are one interleave4.
            src = (pc + k) * ldb + jc
            s = 0
            jj = 0
            for j in range(0, whole, 16):
                interleave4(Bp, s * NR * kcp + row + 4 * jj, B, src + j, ldb)
                jj += 16
                if jj == NR:
                    jj = 0
                    s += 1
            first = whole
        # What is left: cut columns, the zero columns up to the last sliver's end, and the
        # zero-padded k values of the last group.
        for j in range(first, ns * NR):
            s = j // NR
            out = s * NR * kcp + row + 4 * (j - s * NR)
            for q in range(4):
                if j < nc and k + q < kc:
                    Bp[out + q] = B[pc + k + q, jc + j]
                else:
                    Bp[out + q] = 0


@njit(cache=True, nogil=True)
def write_edge(tile, C, i0, j0, mr, nr, acc, NR):
    """Write (acc 0) or add (acc 1) the valid mr x nr corner of a full tile (rows NR apart)."""
    for i in range(mr):
        for j in range(nr):
            if acc:
                C[i0 + i, j0 + j] += tile[i * NR + j]
            else:
                C[i0 + i, j0 + j] = tile[i * NR + j]
