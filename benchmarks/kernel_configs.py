"""GFLOP/s of a few kernel parameter sets next to numpy's, on one shape and thread count.

    python benchmarks/kernel_configs.py [--size 2048 | --shape M,N,K] [--dtype float32]
                                        [--threads 1] [--set tiles|in-place]

``--set tiles`` (the default) compares register tiles and KC; ``--set in-place`` the ISA seed
with both operands packed against B read in place, threads splitting C's rows ("m") or
columns ("n"), as an untuned product of few rows runs, and against A read in place, as one
of few columns runs (kernels/model.py: untuned_in_place).

numpy and every kernel run interleaved in rounds (numpy, k1, k2, ..., numpy, k1, ...), so a
slow period of the machine hits all of them alike; medians and the spread (IQR) are printed.
"""

from __future__ import annotations

# As the command line does, before numpy loads: OpenBLAS's idle threads would otherwise spin
# for about 0.1 s after each numpy call on the cores gemmtune's threads need next
# (docs/performance.md section 17), and every 2-thread round would be lost to it.
import gemmtune  # noqa: E402,F401  (import gemmtune sets it; imports neither numpy nor numba)

import argparse
import time

import numpy as np

CONFIGS = {
    "seed avx2 6x16": dict(MR=6, NR=16, MC=96, KC=256, NC=4080),
    "6x16 kc128": dict(MR=6, NR=16, MC=96, KC=128, NC=4080),
    "4x24 kc256": dict(MR=4, NR=24, MC=96, KC=256, NC=4080),
    "8x8 kc256": dict(MR=8, NR=8, MC=96, KC=256, NC=4096),
    "12x8 kc384": dict(MR=12, NR=8, MC=144, KC=384, NC=4096),
    "6x16 parallel jr": dict(MR=6, NR=16, MC=96, KC=256, NC=4080, parallel="jr"),
}
# The ISA seed of this machine and dtype, packed or with one operand read in place.
IN_PLACE = {
    "seed (ic)": dict(),
    "seed, bands m": dict(parallel="m"),
    "B in place, m": dict(parallel="m", pack_b=False),
    "B in place, n": dict(parallel="n", pack_b=False),
    "A in place, m": dict(parallel="m", pack_a=False),
}
CONFIGS_F64 = {
    "seed avx2 6x8": dict(MR=6, NR=8, MC=72, KC=256, NC=4080),
    "4x12 kc256": dict(MR=4, NR=12, MC=96, KC=256, NC=4080),
    "6x8 kc128": dict(MR=6, NR=8, MC=72, KC=128, NC=4080),
    "8x4 kc256": dict(MR=8, NR=4, MC=96, KC=256, NC=4096),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--shape", default=None, help="M,N,K instead of --size")
    ap.add_argument("--set", choices=["tiles", "in-place"], default="tiles")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()

    import numba
    from threadpoolctl import threadpool_info, threadpool_limits

    from gemmtune.kernels.gemm import compile_kernel
    from gemmtune.kernels.params import KernelParams
    from gemmtune.kernels.reference import verify_kernel
    from gemmtune.paths import cache_dir

    dt = args.dtype
    m, n, k_ = ((args.size,) * 3 if args.shape is None
                else tuple(int(x) for x in args.shape.split(",")))
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, k_)).astype(dt)
    B = rng.standard_normal((k_, n)).astype(dt)
    C = np.empty((m, n), dt)
    fns = {}
    if args.set == "in-place":
        from gemmtune.defaults import default_params

        seed = default_params(dt)
        configs = {name: seed.replace(**{"parallel": "ic", **changes}) for name, changes in IN_PLACE.items()}
    else:
        configs = {name: KernelParams(**fields)
                   for name, fields in (CONFIGS if dt == "float32" else CONFIGS_F64).items()}
    for name, params in configs.items():
        k = compile_kernel(params, dt, cache_dir(args.cache_dir))
        t0 = time.perf_counter()
        k.compile()
        v = verify_kernel(k, 257, 263, 269, dt, threads=args.threads)
        print(f"{name:18s} compiled/loaded in {time.perf_counter() - t0:.1f}s, check {v.status} ({v.residual:.2f})")
        fns[name] = (lambda k=k: k(A, B, C, threads=args.threads))
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    with threadpool_limits(args.threads, user_api="blas"):
        numba.set_num_threads(args.threads)
        fns = {"numpy": lambda: np.matmul(A, B, out=C), **fns}
        for f in fns.values():  # warm-up
            f()
        samples: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for name, f in fns.items():
                t0 = time.perf_counter()
                f()
                samples[name].append(time.perf_counter() - t0)
    flop = 2.0 * m * n * k_
    base = np.median([flop / t / 1e9 for t in samples["numpy"]])
    print(f"\n{m}x{n}x{k_} {dt}, {args.threads} thread(s), {args.rounds} interleaved rounds; numpy BLAS: "
          + ", ".join(f"{b['internal_api']} {b['version']} {b.get('architecture')}" for b in blas))
    print(f"{'kernel':18s} {'GFLOP/s':>8s} {'IQR':>6s} {'% numpy':>8s}")
    for name, ts in samples.items():
        g = np.array([flop / t / 1e9 for t in ts])
        q1, med, q3 = np.percentile(g, [25, 50, 75])
        print(f"{name:18s} {med:8.1f} {q3 - q1:6.1f} {100 * med / base:7.0f}%")


if __name__ == "__main__":
    main()
