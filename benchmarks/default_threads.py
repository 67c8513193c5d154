"""Per-call cost of matmul's default thread count (gemmtune/threads.py).

    python benchmarks/default_threads.py [--size 16] [--rounds 15] [--calls 2000]

In one process, interleaved rounds of: ``default_threads()`` against ``usable_cores()``
(the default before it followed NUMBA_NUM_THREADS and the BLAS's limit), and
``matmul(A, B)`` against ``matmul(A, B, threads=1)`` under ``threadpool_limits(1)`` (both run
one thread, so their difference is choosing the default). Prints the median per call and
the spread (min-max of the rounds' medians) in microseconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def per_call(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--cache-dir", default=None, help="default: a new temporary directory")
    args = ap.parse_args()

    import numpy as np
    from threadpoolctl import threadpool_limits

    import gemmtune
    from gemmtune.fingerprint import usable_cores
    from gemmtune.threads import default_threads

    root = args.cache_dir or tempfile.mkdtemp(prefix="gemmtune-threads-")
    A = np.ones((args.size, args.size), dtype=np.float32)
    B = np.ones((args.size, args.size), dtype=np.float32)
    cases = {
        "usable_cores() (before)": usable_cores,
        "default_threads() (now)": default_threads,
        "matmul(A, B, threads=1)": lambda: gemmtune.matmul(A, B, threads=1, cache_dir=root),
        "matmul(A, B) (default)": lambda: gemmtune.matmul(A, B, cache_dir=root),
    }
    with threadpool_limits(1, user_api="blas"):
        for fn in cases.values():   # compile, find the BLAS
            fn()
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                calls = args.calls if "matmul" not in name else max(1, args.calls // 10)
                samples[name].append(per_call(fn, calls))
        inside = default_threads()
    print(f"{args.rounds} interleaved rounds, {args.size}^3 float32 for matmul, numpy's BLAS "
          f"limited to 1 thread (default_threads() = {inside} inside the limit, "
          f"{default_threads()} outside)")
    for name, values in samples.items():
        print(f"{name:28s} median {statistics.median(values):8.2f} us per call "
              f"(rounds {min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
