"""GFLOP/s of the MR x NR micro-kernel alone, its operands in L1: the ceiling of a kernel family.

    python benchmarks/ukernel_alone.py MR NR LANES UNROLL [float32|float64]

e.g. `6 16 8 4` is the 6x16 float32 tile on 256-bit vectors with the k loop unrolled 4x.
It also prints the FMA count and vector register class of the compiled loop.
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
from numba import njit

from gemmtune.kernels.ukernel import make_ukernel


def main() -> None:
    mr, nr, vl, unroll = (int(x) for x in sys.argv[1:5])
    dtype = sys.argv[5] if len(sys.argv) > 5 else "float32"
    uk = make_ukernel(mr, nr, vl, dtype, unroll)

    @njit
    def run(kc, Ap, Bp, C, reps):
        for _ in range(reps):
            uk(kc, Ap, 0, 0, Bp, 0, 0, C, 0, nr, 1.0, 0.0)

    kc = 128
    rng = np.random.default_rng(0)
    Ap = rng.random(kc * mr).astype(dtype)
    Bp = rng.random(kc * nr).astype(dtype)
    C = np.full((mr, nr), np.nan, dtype=dtype)
    run(kc, Ap, Bp, C, 1)
    ref = Ap.reshape(kc, mr).T.astype(np.float64) @ Bp.reshape(kc, nr).astype(np.float64)
    reps = 200_000
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        run(kc, Ap, Bp, C, reps)
        best = max(best, 2 * mr * nr * kc * reps / (time.perf_counter() - t0) / 1e9)
    asm = "\n".join(run.inspect_asm().values())
    fmas = re.findall(r"vfmadd\w+\s+%?([xyz]mm)", asm)
    print(f"{mr}x{nr} {dtype}, {vl} lanes, unroll {unroll}, kc {kc}: {best:.1f} GFLOP/s (best of 5), "
          f"max error {np.abs(C - ref).max():.2g}, FMAs {len(fmas)} on {sorted(set(fmas))}")


if __name__ == "__main__":
    main()
