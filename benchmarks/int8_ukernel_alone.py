"""GOP/s of the integer micro-kernels alone, operands in L1, against the float32 FMA micro-kernel.

    python benchmarks/int8_ukernel_alone.py [KC]

Times, in interleaved rounds, each integer tile (vnni512, vnni256, avx2 where the CPU has
them) and the float32 14x32 zmm (or 6x16 ymm without AVX-512) micro-kernel of
gemmtune/kernels/ukernel.py on the same KC, and prints the medians with their min-max. The
ratio of an integer tile to the float32 one is the ceiling of int8 GEMM over float32 GEMM.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit

from gemmtune.int8 import available_isas
from gemmtune.int8.ukernel import make_ukernel
from gemmtune.kernels.ukernel import make_ukernel as make_float_ukernel

TILES = [(14, 32, "vnni512"), (8, 48, "vnni512"), (6, 64, "vnni512"), (8, 24, "vnni256"),
         (6, 16, "vnni256"), (6, 16, "avx2"), (8, 24, "avx2")]


def int_runner(mr: int, nr: int, isa: str, kc: int):
    uk = make_ukernel(isa, mr, nr, 2, False)
    grp = 4 if isa.startswith("vnni") else 2

    @njit
    def run(kg, Ap, Bp, C, reps, z):
        for _ in range(reps):
            uk(kg, Ap, 0, Bp, 0, C, 0, nr, 0, 0, z, z, 0, z, z, 0)

    Ap = np.ones(kc * mr, np.uint8 if grp == 4 else np.int16)
    Bp = np.ones(kc * nr, np.int8 if grp == 4 else np.int16)
    C = np.zeros((mr, nr), np.int32)
    z = np.zeros(64, np.int32)
    run(kc // grp, Ap, Bp, C, 1, z)
    assert (C == kc).all()
    return (lambda reps: run(kc // grp, Ap, Bp, C, reps, z)), 2 * mr * nr * kc


def float_runner(kc: int, wide: bool):
    mr, nr, vl = (14, 32, 16) if wide else (6, 16, 8)
    uk = make_float_ukernel(mr, nr, vl, "float32", 4)

    @njit
    def run(Ap, Bp, C, reps):
        for _ in range(reps):
            uk(kc, Ap, 0, 0, Bp, 0, 0, C, 0, nr, 1.0, 0.0)

    Ap, Bp, C = np.ones(kc * mr, np.float32), np.ones(kc * nr, np.float32), np.zeros((mr, nr), np.float32)
    run(Ap, Bp, C, 1)
    return (lambda reps: run(Ap, Bp, C, reps)), 2 * mr * nr * kc, f"float32 {mr}x{nr}"


def main() -> None:
    kc = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    isas = available_isas()
    runs, names = [], []
    for mr, nr, isa in TILES:
        if isa in isas:
            runs.append(int_runner(mr, nr, isa, kc))
            names.append(f"{isa} {mr}x{nr}")
    f, ops, name = float_runner(kc, "vnni512" in isas)
    runs.append((f, ops))
    names.append(name)
    reps = 20000
    rates: list[list[float]] = [[] for _ in runs]
    for _ in range(7):
        for i, (fn, ops) in enumerate(runs):
            t = time.perf_counter()
            fn(reps)
            rates[i].append(ops * reps / (time.perf_counter() - t) / 1e9)
    ref = np.median(rates[-1])
    for n, r in zip(names, rates):
        print(f"{n:18s} {np.median(r):7.0f} G(FL)OP/s [{min(r):.0f}-{max(r):.0f}]  x{np.median(r) / ref:.2f}")


if __name__ == "__main__":
    main()
