"""Parameters for small products when nothing is tuned for them.

The ISA seeds (``configs/defaults/``) are made for large products: a 14 x 32 tile with
168-row A blocks would make a 16^3 product all edge tiles, and packing would only copy a
product that fits in L1 or L2. A product of at most ``SMALL_FLOPS`` flops instead runs a tile
and one block cut to it, neither operand packed (``stack_params``): the default of stacked
products (``gemmtune/stacks.py``) and of small 2-D ones (``families/float_gemm.py``).
"""

from __future__ import annotations

from functools import lru_cache

from .kernels.params import KernelParams, lanes, normalize_dtype

SMALL_FLOPS = 2 * 128 ** 3   # products up to this many flops run unpacked, one block each


def stack_params(m: int, n: int, k: int, dtype: str, threads: int = 1,
                 vec_bits: int | None = None, registers: int | None = None) -> KernelParams:
    """Parameters for a stack of (m x k) @ (k x n) products when nothing is tuned for it.

    The 2-D seeds are made for large products (a 14 x 32 tile, 168-row A blocks): a 16^3
    product would be all edge tiles. For a small product the tile is cut to the product:
    NR a multiple of the vector lanes (at most 4 vectors) and MR the rows the register
    file holds beside it, the pair a cost model ranks fastest (``_tiles``); one cache block
    per product (MC, KC and NC at least cover it) and neither operand packed: the whole
    product is in L1 or L2, so packing would only copy.
    Larger products take the ISA family's seed.

    Args:
        m, n, k: each product's sizes.
        dtype: "float32" or "float64".
        threads: the threads it will run on. The driver is the serial one ("m") for any
            count: more threads run its batch ranges on the thread pool, so one compiled
            kernel serves every thread count, and on a shared machine it degraded far less
            than the prange driver ("ic"), whose threads wait for each other at every call
            (docs/stacks.md).
        vec_bits, registers: the vector width and register count (default: this machine's).
    """
    dtype = normalize_dtype(dtype)
    if vec_bits is None or registers is None:
        bits, regs = _machine_vectors()
        vec_bits = bits if vec_bits is None else vec_bits
        registers = regs if registers is None else registers
    return _stack_params(m, n, k, dtype, threads, vec_bits, registers)


@lru_cache(maxsize=None)
def _machine_vectors() -> tuple[int, int]:
    """This machine's vector width and register count (read once: a lookup costs ~100 us)."""
    from .fingerprint import vector_bits, vector_registers

    return vector_bits(), vector_registers()


@lru_cache(maxsize=4096)
def _stack_params(m: int, n: int, k: int, dtype: str, threads: int, vec_bits: int,
                  registers: int) -> KernelParams:
    if 2 * m * n * k > SMALL_FLOPS:
        from .defaults import default_params

        return default_params(dtype)
    return _tiles(m, n, k, dtype, vec_bits, registers)[0]


def small_tiles(m: int, n: int, k: int, dtype: str) -> list[KernelParams]:
    """The unpacked tiles cut to an (m x k) @ (k x n) product, best-scored first: the search's
    starting points for a small product (:func:`stack_params` runs the first untuned)."""
    bits, regs = _machine_vectors()
    return _tiles(m, n, k, normalize_dtype(dtype), bits, regs)


# A rough cost model of the unpacked kernel, in cycles (two FMA pipes, two loads a cycle):
# a tile's k loop costs k * max(MR * NV, MR + NV) / 2, every tile a fixed _TILE (prefetching
# and storing the C tile, the call), and a tile cut by the product's edge _EDGE more plus a
# scalar write-back of its MR * NR elements (the cut sliver is also packed). _EDGE is set
# where the model's order matches what was measured on Zen 3 (below): 180 to 300 does.
_TILE, _EDGE = 100, 250


@lru_cache(maxsize=4096)
def _tiles(m: int, n: int, k: int, dtype: str, vec_bits: int, registers: int) -> list[KernelParams]:
    """The tiles cut to an (m x k) @ (k x n) product, the fastest by the cost model first.

    Every width of 1 to 4 vectors, with the most rows the register file holds beside it
    (accumulators MR * NV, the NV vectors of B and one broadcast of A) and the largest
    divisor of m at least half of that. Measured on Zen 3: at 64^3 4 x 16 first (a stack
    of 256 such products: 6 x 16 0.85x of it, 4 x 24 0.66x); at 128^3 and 256^3 6 x 16
    (1.15x and 1.33x of 4 x 16). 2 x 32 is the model's tie with 4 x 16 but ran 128^3 at 0.64x
    of 6 x 16 (its 32-column sliver of B crowds L1), so ties go to the narrower tile
    (docs/performance.md section 20).
    """
    vl = lanes(vec_bits, dtype)
    scored = []
    for nv in range(1, max(1, min(4, -(-n // vl))) + 1):
        budget = max(1, (registers - nv - 1) // nv)   # accumulator rows that fit
        budget = min(budget, 16)                       # MR row pointers also need registers
        full = min(budget, max(m, 1))
        mr = full
        for d in range(full, 0, -1):
            if m % d == 0 and 2 * d >= full:
                mr = d
                break
        nr = nv * vl
        for rows in dict.fromkeys((full, mr)):
            tile = k * max(rows * nv, rows + nv) / 2 + _TILE
            edge = tile + _EDGE + 2 * rows * nr
            full_m, cut_m = divmod(m, rows)
            full_n, cut_n = divmod(n, nr)
            tiles_m, tiles_n = full_m + (cut_m > 0), full_n + (cut_n > 0)
            cycles = full_m * full_n * tile + (tiles_m * tiles_n - full_m * full_n) * edge
            scored.append((round(cycles), nv, rows))
    scored.sort()
    out = []
    for _, nv, rows in scored:
        nr = nv * vl
        # One block per product: the blocks are the bounds that keep a long thin
        # product's blocks sane (MC 64 tiles, KC 512, NC 4096 columns), whatever the
        # product's size. A block larger than the product costs nothing (the loops stop at
        # its edge, and with neither operand packed no buffer grows with it), and every
        # distinct set of blocks is a kernel to compile (2-3 s), so all small products with
        # the same tile share one kernel: the GEMMs of a network's layers, attention at
        # several sequence lengths. The bounds are points of the search space, so a
        # search's starting point for a small product is this very kernel.
        out.append(KernelParams(MR=rows, NR=nr, MC=64 * rows, KC=512,
                                NC=max(1, 4096 // nr) * nr, vec_bits=vec_bits,
                                unroll=1 if k <= 32 else 4, prefetch=0, parallel="m",
                                pack_a=False, pack_b=False).validate(dtype))
    return out


def default_params_for(m: int, n: int, k: int, batch: int, dtype: str, threads: int) -> KernelParams:
    """``params_for`` with no tuning lookup: :func:`stack_params`."""
    return stack_params(m, n, k, dtype, threads)
