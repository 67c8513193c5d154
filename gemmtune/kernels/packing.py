"""Packing of A into slivers, and the write-back of cut tiles.

These loops need no compile-time constants to be fast, so they take MR and NR as arguments:
they are compiled once per machine (numba's disk cache) and shared by every generated
kernel, instead of costing each new kernel about a second of compile time. Packing B stays
generated (template.py): its copy of NR contiguous elements is 2-3x faster when NR is a
constant LLVM can unroll into vector moves.
"""

from __future__ import annotations

from numba import njit

# Only "contract" is allowed (alpha*t + beta*c may become an FMA): the default fastmath set
# would let LLVM assume there is no NaN or Inf, and numpy propagates both.
FLAGS = {"contract"}


@njit(cache=True, fastmath=FLAGS, nogil=True)
def pack_a(A, ic, pc, mc, kc, Ap, MR):
    """A[ic:ic+mc, pc:pc+kc] -> MR-row slivers: sliver s at Ap[s*kc*MR:], (p, i) at p*MR+i.

    Rows past mc are zero, so the micro-kernel always runs a full MR x NR tile. Each row of A
    is read contiguously; the strided writes stay inside one sliver, which is in L1.
    """
    for s in range((mc + MR - 1) // MR):
        base = s * kc * MR
        mr = min(MR, mc - s * MR)
        for i in range(mr):
            row = A[ic + s * MR + i, pc:pc + kc]
            for p in range(kc):
                Ap[base + p * MR + i] = row[p]
        for i in range(mr, MR):
            for p in range(kc):
                Ap[base + p * MR + i] = 0


@njit(cache=True, fastmath=FLAGS, nogil=True)
def write_edge(tile, C, i0, j0, mr, nr, alpha, beta, NR):
    """Write the valid mr x nr corner of a full tile (rows NR apart) computed into a buffer."""
    for i in range(mr):
        for j in range(nr):
            v = alpha * tile[i * NR + j]
            if beta == 0:
                C[i0 + i, j0 + j] = v
            else:
                C[i0 + i, j0 + j] = v + beta * C[i0 + i, j0 + j]
