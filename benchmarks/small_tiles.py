"""Register tiles for small products, each kernel's driver against numpy, interleaved.

    python benchmarks/small_tiles.py 128 6x16 4x16 2x32 [--batch 1] [--packed] [--rounds 11]

SIZE is m = n = k, or M,N,K; each TILE (MRxNR) runs as the untuned small-product kernel
would (one block, A and B read in place, float32); ``--packed`` adds the ISA seed (both
operands packed), ``+ua`` or ``+ub`` after a tile name with blocks (``6x16:96:256:4080+ua``,
MR x NR:MC:KC:NC) that configuration with A or B read in place (both: ``+ua+ub``). With ``--batch B`` a stack of B products runs the
stacked driver against numpy's stacked ``@``. The 2-D drivers are called from a compiled
loop, so no Python runs between calls: the figures are the kernels', not ``matmul``'s. Every
kernel is checked against a float64 product first.
"""

from __future__ import annotations

# As the command line does, before numpy loads (docs/performance.md section 17).
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import time


def parse(spec: str, k: int):
    from gemmtune.kernels.params import KernelParams

    spec, *in_place = spec.split("+")
    if set(in_place) - {"ua", "ub"}:
        raise SystemExit(f"unknown suffix in {spec}+{'+'.join(in_place)}: expected +ua and/or +ub")
    tile, *blocks = spec.split(":")
    mr, nr = (int(x) for x in tile.split("x"))
    if blocks:
        mc, kc, nc = (int(x) for x in blocks)
        return KernelParams(MR=mr, NR=nr, MC=mc, KC=kc, NC=nc, parallel="m",
                            pack_a="ua" not in in_place, pack_b="ub" not in in_place)
    # The untuned small-product form (small.stack_params): one block, nothing packed.
    return KernelParams(MR=mr, NR=nr, MC=64 * mr, KC=512, NC=(4096 // nr) * nr,
                        unroll=1 if k <= 32 else 4, parallel="m", pack_a=False, pack_b=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("size", help="m = n = k, or M,N,K")
    ap.add_argument("tiles", nargs="+", help="MRxNR, or MRxNR:MC:KC:NC[+ua][+ub]")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--packed", action="store_true", help="also the ISA seed, both operands packed")
    ap.add_argument("--rounds", type=int, default=11)
    args = ap.parse_args()

    import numpy as np
    from numba import njit
    from threadpoolctl import threadpool_limits

    from gemmtune.defaults import default_params
    from gemmtune.kernels.batched import BatchedKernel
    from gemmtune.kernels.gemm import compile_kernel
    from gemmtune.measure import iqr

    m, n, k = ((int(args.size),) * 3 if "," not in args.size
               else tuple(int(x) for x in args.size.split(",")))
    b = args.batch
    rng = np.random.default_rng(0)
    A = rng.standard_normal((b, m, k)).astype("float32")
    B = rng.standard_normal((b, k, n)).astype("float32")
    C = np.empty((b, m, n), "float32")
    ref = np.matmul(A.astype(np.float64), B)
    idx = np.arange(b, dtype=np.int64)
    configs = {t: parse(t, k) for t in args.tiles}
    if args.packed:
        seed = default_params("float32").replace(parallel="m")
        configs[f"packed seed {seed.MR}x{seed.NR}"] = seed
    # Enough calls per sample for about 20 ms of numpy's work.
    reps = max(1, int(1e7 / (b * m * n * k)))
    # Each entry runs ``calls`` products: the 2-D drivers inside one compiled loop.
    def numpy_calls(calls: int) -> None:
        for _ in range(calls):
            np.matmul(A, B, out=C) if b > 1 else np.matmul(A[0], B[0], out=C[0])

    fns = {"numpy": numpy_calls}
    for name, p in configs.items():
        if b > 1:
            kern = BatchedKernel(p, "float32")
            kern.compile()
            def stack_calls(calls: int, kern=kern) -> None:
                for _ in range(calls):
                    kern(A, B, C, idx, idx, 1.0, 0.0, 1)

            fns[name] = stack_calls
        else:
            kern = compile_kernel(p, "float32")
            kern.compile()
            gemm = kern.module.gemm

            @njit
            def loop(A2, B2, C2, calls, gemm=gemm):
                for _ in range(calls):
                    gemm(A2, B2, C2, 1.0, 0.0, 1)

            fns[name] = lambda calls, loop=loop: loop(A[0], B[0], C[0], calls)
        C[...] = np.nan
        fns[name](1)
        err = float(np.abs(C - ref).max())
        assert err <= 1e-4 * k * float(np.abs(ref).max() + 1), f"{name}: error {err}"
    with threadpool_limits(1, user_api="blas"):
        samples = {name: [] for name in fns}
        for f in fns.values():
            f(1)
        for _ in range(args.rounds):
            for name, f in fns.items():
                t0 = time.perf_counter()
                f(reps)
                samples[name].append((time.perf_counter() - t0) / reps)
    flops = 2.0 * b * m * n * k
    base = np.median([flops / t / 1e9 for t in samples["numpy"]])
    what = f"{b} x {m}x{n}x{k}" if b > 1 else f"{m}x{n}x{k}"
    print(f"{what} float32, 1 thread, {args.rounds} interleaved rounds of {reps} calls")
    for name, ts in samples.items():
        g = [flops / t / 1e9 for t in ts]
        med = float(np.median(g))
        print(f"  {name:28s} {med:7.1f} GFLOP/s (IQR {iqr(g):4.1f})  {med / base:5.2f}x numpy")


if __name__ == "__main__":
    main()
