"""GOP/s of the AMX micro-kernel alone, on packed operands that stay in L1/L2.

    python benchmarks/amx_ukernel.py [--tiles 1x1,2x1,1x2,2x2,...] [--unroll 1] [--kc 512]
        [--slivers 4] [--misalign 0,16] [--rounds 40]

Every tile shape runs the same work: ``--slivers`` A slivers (MR x KC, MR = 16 TM) against
one B sliver (KC x NR, NR = 16 TN), C overwritten. ``--misalign`` moves both packed buffers
that many bytes off a 64-byte boundary (numpy itself aligns to 16), which is how the
cost of tile rows straddling cache lines was found (docs/amx.md). Figures are in thread CPU
time (``time.thread_time``: a machine shared with other processes does not charge their
time slices to this one); the median and best of ``--rounds`` interleaved samples.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from gemmtune.amx import amx_available
from gemmtune.amx.tiles import make_amx_ukernel, tile_config, tile_release


def aligned(n: int, dtype, misalign: int) -> np.ndarray:
    raw = np.ones(n + 128, dtype)
    off = (-raw.ctypes.data) % 64 + misalign
    return raw[off:off + n]


def runner(tm: int, tn: int, unroll: int, kc: int):
    uk = make_amx_ukernel(tm, tn, "u8s8", unroll)
    mr, nr = 16 * tm, 16 * tn

    @njit(nogil=True)
    def run(ap, bp, c, reps, slivers):
        tile_config()
        for _ in range(reps):
            for s in range(slivers):
                uk(kc // 64, ap, s * mr * kc, bp, 0, c, s * mr * nr, nr, 0)
        tile_release()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiles", default="1x1,2x1,1x2,2x2,3x1,1x4,4x1")
    ap.add_argument("--unroll", type=int, default=1)
    ap.add_argument("--kc", type=int, default=512)
    ap.add_argument("--slivers", type=int, default=4)
    ap.add_argument("--misalign", default="0,16")
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    ok, why = amx_available()
    if not ok:
        raise SystemExit(f"AMX cannot run here: {why}")
    cases = []
    for mis in (int(m) for m in args.misalign.split(",")):
        for shape in args.tiles.split(","):
            tm, tn = (int(x) for x in shape.split("x"))
            mr, nr = 16 * tm, 16 * tn
            run = runner(tm, tn, args.unroll, args.kc)
            a = aligned(args.slivers * mr * args.kc, np.uint8, mis)
            b = aligned(nr * args.kc, np.int8, mis)
            c = np.zeros((args.slivers * mr, nr), np.int32)
            ops = 2 * args.slivers * mr * nr * args.kc
            reps = max(1, int(3e9 // ops))
            run(a, b, c, 1, args.slivers)
            cases.append((f"{shape} u{args.unroll} misalign {mis}", run, (a, b, c, reps, args.slivers), ops * reps))
    gops: list[list[float]] = [[] for _ in cases]
    for _ in range(args.rounds):
        for i, (_, run, fargs, ops) in enumerate(cases):
            t0 = time.thread_time()
            run(*fargs)
            gops[i].append(ops / (time.thread_time() - t0) / 1e9)
    for (name, *_), g in zip(cases, gops):
        print(f"{name:24s} median {np.median(g):6.0f}  best {max(g):6.0f} GOP/s")


if __name__ == "__main__":
    main()
