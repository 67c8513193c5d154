"""Does ``gemmtune bench``'s tuned figure match what a user's loop gets?

    python benchmarks/bench_vs_loop.py [--size 512] [--dtype float32] [--threads 1] [--repeats 5]

Alternates, ``--repeats`` times: bench's tuned column for the shape (``bench.run.compare``:
``gemmtune.matmul`` timed right after a numpy call), and the loop users write (numpy's
``@``, then ``gemmtune.matmul``, each gemmtune call timed). Prints both medians and their
ratio; on a quiet machine it should be within 10% of 1. Uses the tunings of the cache dir
given (the default one otherwise): tune the shape first.
"""

from __future__ import annotations

import argparse
import statistics
import time


def loop_gflops(n: int, dtype: str, threads: int, root, calls: int, rounds: int = 5) -> float:
    import numpy as np

    import gemmtune
    from gemmtune.measure import pinned_threads

    rng = np.random.default_rng(1)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C1, C2 = np.empty((n, n), dtype), np.empty((n, n), dtype)
    gemmtune.matmul(A, B, out=C2, threads=threads, cache_dir=root)
    per_round = []
    with pinned_threads(threads):
        for _ in range(rounds):
            took = 0.0
            for _ in range(calls):
                np.matmul(A, B, out=C1)
                t0 = time.perf_counter()
                gemmtune.matmul(A, B, out=C2, threads=threads, cache_dir=root)
                took += time.perf_counter() - t0
            per_round.append(2.0 * n**3 * calls / took / 1e9)
    return statistics.median(per_round)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()

    from gemmtune.bench.run import Workload, compare
    from gemmtune.paths import cache_dir

    root = cache_dir(args.cache_dir)
    n = args.size
    calls = max(3, int(2e9 / (2 * n**3)))  # about 2 GFLOP per round
    bench, loop = [], []
    for _ in range(args.repeats):
        row = compare(Workload(str(n), n, n, n), args.dtype, args.threads, root, rounds=5)
        fig = row["tuned"] or row["default"]
        bench.append(fig["gflops"])
        loop.append(loop_gflops(n, args.dtype, args.threads, root, calls))
    b, l = statistics.median(bench), statistics.median(loop)
    print(f"{n}^3 {args.dtype}, {args.threads} thread(s), {args.repeats} alternations: "
          f"bench {b:.1f} GFLOP/s (range {min(bench):.1f}-{max(bench):.1f}), "
          f"loop {l:.1f} (range {min(loop):.1f}-{max(loop):.1f}); bench / loop = {b / l:.3f}")


if __name__ == "__main__":
    main()
