"""The float GEMM family's own starting points: the BLIS analytical model and skinny variants.

The model (Low, Igual, Smith, Quintana-Orti, ACM TOMS 43(2), 2016) derives the register tile
and cache blocksizes from this machine's vector width, register count and cache geometry.
For skinny shapes the variants read the big operand in place. ``gemmtune/search/starts.py``
puts these after the transfer points and before the ISA default.
"""

from __future__ import annotations

import math
from typing import Any

from .params import ITEMSIZE, MAX_MR, MAX_NC, KernelParams, lanes, normalize_dtype

# FMA latency in cycles and FMA issue per cycle: Haswell to Zen 3 and Skylake-X are all
# 4-5 cycles and 2 per cycle; the model only needs them to bound the tile from below.
L_FMA, N_FMA = 4, 2
# Cache geometry to assume when a level cannot be read.
DEFAULT_CACHES = {1: {"size": 32 << 10, "ways": 8, "line": 64, "sets": 64},
                  2: {"size": 512 << 10, "ways": 8, "line": 64, "sets": 1024},
                  3: {"size": 8 << 20, "ways": 16, "line": 64, "sets": 8192}}
# Bounds on what a cache reading may mean. A hypervisor can report a 480 MiB L3; a model
# that believed it would pick an NC far past any useful size.
MAX_CACHE = {1: 256 << 10, 2: 8 << 20, 3: 64 << 20}
MAX_MODEL_NC = 8192


def register_tile(vec_lanes: int, vector_registers: int, max_vecs: int = 8) -> tuple[int, int]:
    """(MR, B vectors) of the register tile the model picks.

    Candidates keep MR * nv accumulators, nv B vectors and one A broadcast in the register
    file, and have at least L_fma * N_fma accumulators so the FMA pipelines never wait on a
    result (MR * NR >= N_vec * L_fma * N_fma). Among those the tile with the most FMAs per
    load (MR * nv / (MR + nv)) wins, then the one with more accumulators.
    """
    best: tuple[float, int, int, int] | None = None
    for nv in range(1, max_vecs + 1):
        mr = min(MAX_MR, (vector_registers - 1 - nv) // nv)
        if mr < 1 or mr * nv < L_FMA * N_FMA:
            continue
        rank = (mr * nv / (mr + nv), mr * nv, -nv, mr)
        if best is None or rank > best:
            best = rank
    if best is None:  # a tiny register file: take the largest tile that fits
        return max(1, (vector_registers - 2)), 1
    return best[3], -best[2]


def _geometry(fp: dict | None, level: int) -> dict[str, int]:
    g: dict[str, Any] | None = None
    try:
        from ..fingerprint import cache_level

        g = cache_level(fp, level)
    except Exception:  # an unreadable machine falls back to typical geometry
        g = None
    if not g or g.get("size", 0) > MAX_CACHE[level] or g.get("ways", 0) < 2:
        return dict(DEFAULT_CACHES[level])
    return {k: int(g[k]) for k in ("size", "ways", "line", "sets")}


def analytical_params(dtype: str, *, vec_bits: int, vector_registers: int,
                      caches: dict[int, dict[str, int]]) -> KernelParams:
    """The BLIS analytical model's blocksizes.

    Args:
        dtype: "float32" or "float64".
        vec_bits: vector register width.
        vector_registers: vector registers in the file.
        caches: level -> {"ways", "sets", "line"} for levels 1, 2 and 3.
    """
    dtype = normalize_dtype(dtype)
    s = ITEMSIZE[dtype]
    n_vec = lanes(vec_bits, dtype)
    mr, nv = register_tile(n_vec, vector_registers)
    nr = nv * n_vec
    l1, l2, l3 = caches[1], caches[2], caches[3]
    # KC: the B micro-panel (KC x NR) stays in L1 with one way left for C; A's sliver takes
    # C_Ar ways.
    c_ar = max(1, math.floor((l1["ways"] - 1) / (1 + nr / mr)))
    kc = max(16, c_ar * l1["sets"] * l1["line"] // (mr * s))
    # MC: the packed A block (MC x KC) fills L2 less two ways (one for B's sliver, one for C).
    mc = max(mr, (max(1, l2["ways"] - 2) * l2["sets"] * l2["line"] // (kc * s)) // mr * mr)
    # NC: the packed B block (KC x NC) in L3, same rule one level up.
    nc = (max(1, l3["ways"] - 2) * l3["sets"] * l3["line"] // (kc * s)) // nr * nr
    nc = max(nr, min(nc, MAX_MODEL_NC // nr * nr, MAX_NC // nr * nr))
    return KernelParams(MR=mr, NR=nr, MC=mc, KC=kc, NC=nc, vec_bits=vec_bits, unroll=4,
                        prefetch=0, parallel="ic")


def model_params(dtype: str, fp: dict | None = None) -> KernelParams:
    """The analytical model for this machine (or the fingerprint ``fp``)."""
    from .. import fingerprint as fpmod
    from ..search.space import machine_vectors

    widths, nvr = machine_vectors(fpmod, fp)
    # The model is written for the widest vector; a searched narrower width gets its seed
    # from the ISA configuration.
    return analytical_params(dtype, vec_bits=max(widths), vector_registers=nvr,
                             caches={lvl: _geometry(fp, lvl) for lvl in (1, 2, 3)})


# A side of C at most this many register tiles long, and at most 1/SKINNY_RATIO of each
# other dimension, makes the product skinny: the other operand is read about once, so packing
# it costs a full extra pass over the biggest matrix.
SKINNY_TILES = 4
SKINNY_RATIO = 8


def skinny_params(base: list[KernelParams], problem: Any) -> list[tuple[KernelParams, str]]:
    """Variants of the other seeds for skinny shapes: the big operand read in place.

    With M small (a few MR-row slivers), B is used by few slivers and packing it doubles the
    traffic on the largest matrix; with N small, the same holds for A. Threads then split
    the long side of C (a band each), so each thread streams its own part of the big operand.
    """
    m, n, k = problem.m, problem.n, problem.k
    out = []
    for params in base:
        if m <= SKINNY_TILES * params.MR and SKINNY_RATIO * m <= min(n, k):
            out.append((params.replace(pack_b=False, parallel="n" if problem.threads > 1 else "m"),
                        "skinny-m"))
        if n <= SKINNY_TILES * params.NR and SKINNY_RATIO * n <= min(m, k):
            out.append((params.replace(pack_a=False, parallel="m"), "skinny-n"))
    return out


# A packed element of B is used by M rows of A, one of A by N columns of B. With M (or N) at
# most this, packing is a large share of the product. One thread, the seed's blocks
# (results/f792378412a0/small_tiles-*-ub.txt): 64 x 3136 x 576 (a ResNet-50 3x3 layer's
# forward GEMM) 0.66x numpy packed, 0.89x with B read in place; 128 x 784 x 1152 0.83x ->
# 0.87x; 256 x 196 x 2304 with A in place 0.79x -> 0.88x; but 256 x 3136 x 64 0.98x -> 0.93x.
# So these are starting points the search measures; `untuned_in_place` makes the clear
# cases the default (docs/performance.md section 21).
IN_PLACE_MAX_USES = 256
# Up to this many rows the seed with B read in place is the untuned default: 32-128 rows ran
# at 86-106% of numpy on 1 thread and 88-117% on 2, against 59-83% and 49-59% for the packed
# seed as matmul ran it (its serial twin on 1 thread, its prange driver on 2); at 256 rows it
# lost on 1 thread, 80% against 91% (kernel_configs-in-place-*.txt).
FEW_ROWS = 128
# Up to this many columns the seed with A read in place is the untuned default: 49-384 columns
# ran at 84-99% of numpy on 1 thread against 62-94% packed, 79-96% on 2 against 56-90%
# (results/f792378412a0/kernel_configs-in-place-*-ua.txt).
FEW_COLUMNS = 256
# B's rows read in place map to the same L1 sets when they are a multiple of the L1's way
# size apart (64 sets x 64 B lines): then every k step of a sliver evicts the last.
L1_WAY_BYTES = 4096


def in_place_params(seed: KernelParams, problem: Any) -> list[tuple[KernelParams, str]]:
    """The seed with the operand whose packed elements few rows or columns use read in place.

    Threads split C's rows ("m"): each reads all of B in place and packs only its own rows of
    A (row and column bands ran alike on 2 threads, 88-117% of numpy at 32-128 rows).
    """
    m, n = problem.m, problem.n
    item = ITEMSIZE[problem.dtype]
    out = []
    if m <= IN_PLACE_MAX_USES and seed.pack_b and not _aliased(n * item):
        out.append((seed.replace(pack_b=False, parallel="m"), "B in place"))
    # A's MR rows in place are MR streams, not a sliver of KC rows: they do not alias (1024 x
    # 49 x 1024, rows 4 KiB apart, ran at 84% of numpy in place against 62% packed).
    if n <= IN_PLACE_MAX_USES and seed.pack_a:
        out.append((seed.replace(pack_a=False, parallel="m"), "A in place"))
    return out


def _aliased(row_bytes: int) -> bool:
    """Rows this far apart share L1 sets: a sliver read in place evicts itself (64 x 4096 x
    1024 with B in place ran at 48% of numpy against 66-69% packed)."""
    return row_bytes % L1_WAY_BYTES == 0


def untuned_in_place(seed: KernelParams, problem: Any) -> KernelParams:
    """The untuned configuration of a 2-D product: ``seed``, or the seed with one operand read
    in place, threads splitting C's rows.

    - Few rows of A (more than a skinny product's few tiles, at most FEW_ROWS): B in place.
      The packed seed spends most of such a product packing B, and its prange driver ("ic")
      gives a product of one MC block to one thread: 64 x 3136 x 576 ran at 49% of numpy on
      2 threads, 93% with B in place on row bands.
    - Else few columns of B (at most FEW_COLUMNS): A in place. 512 x 49 x 4608 (a ResNet-50
      layer-4 GEMM) ran at 62% of numpy packed and 93% with A in place on 1 thread, 56% and
      84% on 2 (docs/performance.md section 21).
    """
    m, n = problem.m, problem.n
    if SKINNY_TILES * seed.MR < m <= FEW_ROWS and seed.pack_b:
        if not _aliased(n * ITEMSIZE[problem.dtype]) and n >= SKINNY_TILES * seed.NR:
            return seed.replace(pack_b=False, parallel="m")
        return seed
    if n <= FEW_COLUMNS and seed.pack_a:
        return seed.replace(pack_a=False, parallel="m")
    return seed
