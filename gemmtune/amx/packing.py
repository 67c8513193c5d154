"""Packing A and B into the tile layouts of the AMX micro-kernel, and cut-tile write-back.

Every packed tile is full (16 rows x 64 bytes): rows of A past M, k values past K and
columns of B past N are zeros, which add nothing to an integer dot product, so the one tile
configuration of tiles.py serves every fringe and only ``write_edge`` knows the real sizes.

These loops take MR, NR and the padded depth as arguments: they are compiled once per
dtype (numba's disk cache) and shared by every generated kernel.
"""

from __future__ import annotations

from numba import njit

TILE_K = 64


@njit(cache=True, nogil=True)
def pack_a(A, ic, pc, mc, kc, Ap, MR, kcp):
    """A[ic:ic+mc, pc:pc+kc] -> MR-row slivers of 64-byte tile rows.

    Sliver s starts at ``s*MR*kcp``; inside it, step ``g`` (k values 64g..64g+63), row i,
    k value kk is at ``g*MR*64 + i*64 + kk``, so the A tile of rows 16t..16t+15 of step g is
    1 KiB of consecutive bytes. ``kcp`` is kc rounded up to a multiple of 64.
    """
    steps = kcp // TILE_K
    for s in range((mc + MR - 1) // MR):
        base = s * MR * kcp
        mr = min(MR, mc - s * MR)
        for i in range(mr):
            row = A[ic + s * MR + i]
            for g in range(steps):
                out = base + g * MR * TILE_K + i * TILE_K
                k0 = pc + g * TILE_K
                n = min(TILE_K, kc - g * TILE_K)
                if n == TILE_K:
                    for kk in range(TILE_K):
                        Ap[out + kk] = row[k0 + kk]
                else:
                    for kk in range(n):
                        Ap[out + kk] = row[k0 + kk]
                    for kk in range(n, TILE_K):
                        Ap[out + kk] = 0
        for i in range(mr, MR):
            for g in range(steps):
                out = base + g * MR * TILE_K + i * TILE_K
                for kk in range(TILE_K):
                    Ap[out + kk] = 0


@njit(cache=True, nogil=True)
def pack_b(B, pc, jc, kc, nc, Bp, NR, kcp):
    """B[pc:pc+kc, jc:jc+nc] -> NR-column slivers in the VNNI layout (k in groups of 4).

    Sliver s starts at ``s*NR*kcp``; inside it, k value k of column j is at
    ``(k//4)*NR*4 + j*4 + k%4``: one 4-k group of the sliver is NR*4 consecutive bytes, the
    row a B tile row holds (16 columns x 4 k values). Rows of B are read contiguously.
    """
    ns = (nc + NR - 1) // NR
    for g in range(kcp // 4):
        k = 4 * g
        full_k = k + 4 <= kc
        for s in range(ns):
            out = s * NR * kcp + g * NR * 4
            j0 = jc + s * NR
            nr = min(NR, nc - s * NR)
            if full_k and nr == NR:
                r0 = B[pc + k, j0:j0 + NR]
                r1 = B[pc + k + 1, j0:j0 + NR]
                r2 = B[pc + k + 2, j0:j0 + NR]
                r3 = B[pc + k + 3, j0:j0 + NR]
                for j in range(NR):
                    Bp[out + 4 * j] = r0[j]
                    Bp[out + 4 * j + 1] = r1[j]
                    Bp[out + 4 * j + 2] = r2[j]
                    Bp[out + 4 * j + 3] = r3[j]
            else:
                for j in range(NR):
                    for q in range(4):
                        if j < nr and k + q < kc:
                            Bp[out + 4 * j + q] = B[pc + k + q, j0 + j]
                        else:
                            Bp[out + 4 * j + q] = 0


@njit(cache=True, nogil=True)
def write_edge(tile, C, i0, j0, mr, nr, acc, NR):
    """Write (acc 0) or add (acc 1) the valid mr x nr corner of a full tile (rows NR apart)."""
    for i in range(mr):
        for j in range(nr):
            if acc:
                C[i0 + i, j0 + j] += tile[i * NR + j]
            else:
                C[i0 + i, j0 + j] = tile[i * NR + j]
