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
    NR the vector lanes times as many vectors as n fills (at most 4), MR the most rows the
    register file holds (accumulators MR * NR / lanes, leaving room for the B vectors)
    preferring a divisor of m, one cache block per product (MC, KC, NC cover it) and
    neither operand packed: the whole product is in L1 or L2, so packing would only copy.
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
    vl = lanes(vec_bits, dtype)
    nv = max(1, min(4, -(-n // vl)))
    budget = max(1, (registers - nv - 1) // nv)       # accumulator rows that fit
    budget = min(budget, 16)                           # MR row pointers also need registers
    mr = min(budget, max(m, 1))
    for d in range(mr, 0, -1):
        # A divisor of m at least half the budget avoids an edge tile per product.
        if m % d == 0 and 2 * d >= mr:
            mr = d
            break
    nr = nv * vl
    # One block per product: the blocks are the bounds that keep a long thin product's blocks
    # sane, whatever the product's size. A block larger than the product costs nothing (the
    # loops stop at its edge, and with neither operand packed no buffer grows with it), and
    # every distinct set of blocks is a kernel to compile (2-3 s), so all small products with
    # the same tile share one kernel: the GEMMs of a network's layers, attention at several
    # sequence lengths.
    mc = max(1, 1024 // mr) * mr
    nc = max(1, 4096 // nr) * nr
    return KernelParams(MR=mr, NR=nr, MC=mc, KC=512, NC=nc, vec_bits=vec_bits,
                        unroll=1 if k <= 32 else 4, prefetch=0, parallel="m",
                        pack_a=False, pack_b=False).validate(dtype)


def default_params_for(m: int, n: int, k: int, batch: int, dtype: str, threads: int) -> KernelParams:
    """``params_for`` with no tuning lookup: :func:`stack_params`."""
    return stack_params(m, n, k, dtype, threads)
